"""Ingest speed against the raw model on the same texts: the ratio raw_model_s / ingest_s, in one run.

    flock /tmp/bench.lock .venv/bin/python bench/bench_ingest.py [--corpus eval/corpora/pydocs ...] [--rounds 2]
    flock /tmp/bench.lock .venv/bin/python bench/bench_ingest.py --update 10000 [--tmp /dev/shm]

Per corpus: a fresh `Assistant` (embedded Chroma in a temp dir) ingests the folder with `RecordingMiniLM`, a
real `OnnxMiniLM` subclass that keeps the texts of each `embed` call; "raw" is then `OnnxMiniLM.embed` on
exactly those calls (same texts, same grouping, same batch size, same folded graph, one warm session). Runs
are interleaved (raw, ingest, raw, ingest, ...; each ingest into a new temp dir) so a load change by other
jobs hits both sides; the report gives each run, the medians, the median ratio and the 1-minute load average
at each run. Uses only rag's public API, so it runs on older commits too.

`--update N`: the app's upload path at N chunks. One long-lived `Assistant` ingests a synthetic corpus
(`bench/scale.py`'s, with its cost-free `BenchEmbedding`), then one file is changed and the folder ingested
again, `--repeats` times (a different edit each time); each update's wall time is everything but the model,
and the real model's time on that document's chunk texts (`OnnxMiniLM.embed`, timed apart) is added to it.
Left out: parse-only and Chroma-only timings (cProfile the ingest for those) and server-mode Chroma.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from pydantic import PrivateAttr
from scale import DIM, BenchEmbedding, change_one, write_corpus  # bench/scale.py, beside this file

from rag import Assistant
from rag.embeddings import OnnxMiniLM

REPO = Path(__file__).resolve().parent.parent


class RecordingMiniLM(OnnxMiniLM):
    """OnnxMiniLM that remembers the texts of every `embed` call (the bench replays them on the raw model)."""

    _recorded: list = PrivateAttr(default_factory=list)

    @property
    def calls(self) -> list[list[str]]:
        return self._recorded

    def embed(self, texts):
        self._recorded.append(list(texts))
        return super().embed(texts)


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def time_ingest(corpus: str, models: Path, batch: int) -> tuple[float, list[list[str]], int]:
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:  # a background BM25 save may still write
        model = RecordingMiniLM(cache_dir=models, embed_batch_size=batch)
        model.embed(["warm up"])  # session loaded before the clock starts, as for the raw side
        model.calls.clear()
        a = Assistant(data_dir=tmp, embed_model=model)
        t = time.perf_counter()
        report = a.ingest([corpus])
        return time.perf_counter() - t, model.calls, report.chunks_written


def time_raw(model: OnnxMiniLM, calls: list[list[str]]) -> float:
    t = time.perf_counter()
    for texts in calls:
        model.embed(texts)
    return time.perf_counter() - t


def bench(corpus: str, rounds: int, models: Path, batch: int) -> dict:
    raw_model = OnnxMiniLM(cache_dir=models, embed_batch_size=batch)
    raw_model.embed(["warm up"])
    _, calls, chunks = time_ingest(corpus, models, batch)  # untimed: learns the texts, warms the page cache
    runs = []
    for _ in range(rounds):
        raw = (load1(), time_raw(raw_model, calls))
        ing = (load1(), time_ingest(corpus, models, batch)[0])
        runs.append({"raw_s": round(raw[1], 2), "raw_load1": raw[0], "ingest_s": round(ing[1], 2),
                     "ingest_load1": ing[0], "ratio": round(raw[1] / ing[1], 3)})
        print(json.dumps(runs[-1]), flush=True)
    return {"corpus": corpus, "chunks": chunks, "texts": sum(map(len, calls)), "embed_calls": len(calls),
            "batch": batch, "runs": runs,
            "raw_s_median": round(statistics.median(r["raw_s"] for r in runs), 2),
            "ingest_s_median": round(statistics.median(r["ingest_s"] for r in runs), 2),
            "ratio_median": round(statistics.median(r["ratio"] for r in runs), 3)}


class RecordingBench(BenchEmbedding):
    """bench/scale.py's cost-free embedder, remembering the texts it was given (the update's texts)."""

    _recorded: list = PrivateAttr(default_factory=list)

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        self._recorded.extend(texts)
        return [self._vec(t) for t in texts]


def bench_update(chunks: int, repeats: int, models: Path, tmp_root: str | None) -> dict:
    with tempfile.TemporaryDirectory(dir=tmp_root, ignore_cleanup_errors=True) as tmp:
        corpus = Path(tmp) / "corpus"
        docs = write_corpus(corpus, chunks)
        model = RecordingBench(model_name=f"hash-{DIM}", embed_batch_size=256)
        a = Assistant(data_dir=Path(tmp) / "data", embed_model=model)
        t = time.perf_counter()
        first = a.ingest([corpus])
        out = {"chunks": first.chunks_written, "documents": len(docs), "ingest_s": round(time.perf_counter() - t, 1),
               "ingest_load1": load1(), "updates": []}
        a.ask("What happened to the harbour board?")  # a serving process has answered before
        minilm = OnnxMiniLM(cache_dir=models)
        minilm.embed(["warm up"])
        for _ in range(repeats):
            change_one(corpus, docs)
            model._recorded.clear()
            load, t = load1(), time.perf_counter()
            report = a.ingest([corpus])
            rest_s = time.perf_counter() - t
            texts = list(model._recorded)
            t = time.perf_counter()
            minilm.embed(texts)
            model_s = time.perf_counter() - t
            out["updates"].append({"updated": len(report.updated), "texts": len(texts), "rest_s": round(rest_s, 2),
                                   "model_s": round(model_s, 2), "total_s": round(rest_s + model_s, 2),
                                   "load1": load})
            print(json.dumps(out["updates"][-1]), flush=True)
        out["rest_s_median"] = round(statistics.median(u["rest_s"] for u in out["updates"]), 2)
        out["total_s_median"] = round(statistics.median(u["total_s"] for u in out["updates"]), 2)
        return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--corpus", nargs="+", default=[str(REPO / "eval/corpora/pydocs")])
    p.add_argument("--rounds", type=int, default=2, help="interleaved raw/ingest pairs per corpus")
    p.add_argument("--batch", type=int, default=8, help="texts per ONNX call (the default RAG_EMBED_BATCH_SIZE)")
    p.add_argument("--update", type=int, nargs="*", default=[], help="one-document updates at these sizes (chunks)")
    p.add_argument("--repeats", type=int, default=5, help="updates per size")
    p.add_argument("--tmp", help="where --update's temp dirs go (default: the system's temp dir)")
    p.add_argument("--out", default="", help="also write the results as JSON here")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as models:
        if args.update:
            results = [bench_update(n, args.repeats, Path(models), args.tmp) for n in args.update]
        else:
            results = [bench(c, args.rounds, Path(models), args.batch) for c in args.corpus]
    print(json.dumps(results, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
