"""Benchmarks: ingest throughput, question latency and memory on this machine (2 cores, no GPU).

    python bench/bench.py [--corpus eval/corpora/pydocs] [--questions eval/questions_pydocs.yaml] [--out bench/results.json]

Builds a fresh index in a temp dir (embedded Chroma), ingests the corpus, re-ingests it (must embed nothing),
asks every question of the suite twice (cold: sentence vectors not cached; warm), and reports wall times,
chunks/s, p50/p95 per stage and peak RSS. Numbers go to stdout and a JSON file; bench/RESULTS.md records them.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from rag import Assistant

REPO = Path(__file__).resolve().parent.parent


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--corpus", default=str(REPO / "eval/corpora/pydocs"))
    p.add_argument("--questions", default=str(REPO / "eval/questions_pydocs.yaml"))
    p.add_argument("--out", default=str(REPO / "bench/results.json"))
    args = p.parse_args()
    questions = [c["question"] for c in yaml.safe_load(Path(args.questions).read_text())["cases"]]
    with tempfile.TemporaryDirectory() as tmp:
        a = Assistant(data_dir=tmp)
        t = time.perf_counter()
        a.embedder.embed(["warm up"])
        load_s = time.perf_counter() - t
        t = time.perf_counter()
        report = a.ingest([args.corpus])
        ingest_s = time.perf_counter() - t
        t = time.perf_counter()
        again = a.ingest([args.corpus])
        reingest_s = time.perf_counter() - t
        runs = {}
        for label in ("cold", "warm"):
            stages: dict[str, list[float]] = {}
            for q in questions:
                for k, v in a.ask(q).timings_ms.items():
                    stages.setdefault(k, []).append(v)
            runs[label] = {k: {"p50": round(statistics.median(v), 1), "p95": round(pct(v, 0.95), 1)} for k, v in stages.items()}
    chars = sum(f.stat().st_size for f in Path(args.corpus).rglob("*") if f.is_file())
    result = {
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "corpus": {"path": str(Path(args.corpus).relative_to(REPO)) if Path(args.corpus).is_relative_to(REPO) else args.corpus,
                   "documents": len(report.added), "bytes": chars, "chunks": report.chunks_written},
        "model_load_s": round(load_s, 2),
        "ingest_s": round(ingest_s, 1),
        "ingest_chunks_per_s": round(report.chunks_written / ingest_s, 1),
        "reingest_unchanged_s": round(reingest_s, 2),
        "reingest_texts_embedded": again.texts_embedded,
        "questions": len(questions),
        "latency_ms": runs,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
    }
    print(json.dumps(result, indent=2))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
