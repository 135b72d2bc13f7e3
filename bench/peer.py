"""Peer comparison (issue 13): one corpus through rag and through LlamaIndex's defaults, same model, one run.

    flock /tmp/bench.lock .venv/bin/python bench/peer.py [--rounds 3] [--out bench/peer.json]

Both sides get the same embedding model object type, `rag.embeddings.OnnxMiniLM` (all-MiniLM-L6-v2 int8 ONNX,
already a llama-index `BaseEmbedding`; its folded graph is cached once before any timing), batch 8, and
embedded Chroma in a fresh temp dir per round.
  rag:        `Assistant.ingest([corpus])`, what `rag ingest` runs; questions through `Assistant.search` (hybrid,
              top 5) and `Assistant.ask` (extractive answer).
  LlamaIndex: `SimpleDirectoryReader(corpus).load_data()` + `VectorStoreIndex.from_documents` over a
              `ChromaVectorStore`; everything else its defaults (SentenceSplitter 1024/200 tokens, retriever top 2).
Rounds alternate which side goes first; every timing carries the 1-minute load average.
Measured: ingest wall time and the ratio, chunks, word-pieces of the embedded texts that fall inside the model's
256 window, how much of each corpus's text lies inside some embedded window, warm retrieval latency (second pass
over the suite), and whether the top passage holds an expected fact of the suite.
Left out: LlamaIndex's query engine (its default needs an LLM; retrieval is what both sides share), its
optional file readers (llama-index-readers-file has no .txt/.md/.html reader in the default map anyway).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import yaml
from pydantic import PrivateAttr

from rag import Assistant
from rag.embeddings import MAX_WORDPIECES, OnnxMiniLM

REPO = Path(__file__).resolve().parent.parent


class RecordingMiniLM(OnnxMiniLM):
    """The shipped model, remembering the texts it embeds (their word-pieces are counted after the timing)."""

    _seen: list = PrivateAttr(default_factory=list)

    def embed(self, texts):
        self._seen.extend(texts)
        return super().embed(texts)

    def take(self) -> list[str]:
        seen, self._seen = self._seen, []
        return seen


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def window_share(model: OnnxMiniLM, texts: list[str]) -> dict:
    """Word-pieces of the embedded texts ([CLS]/[SEP] included) and the share the model reads (≤ 256 each)."""
    counts = [model.count_wordpieces(t) for t in texts]
    inside = sum(min(n, MAX_WORDPIECES) for n in counts)
    return {"texts": len(texts), "wordpieces": sum(counts), "wordpieces_read": inside,
            "inside_window": round(inside / max(1, sum(counts)), 3),
            "texts_truncated": sum(n > MAX_WORDPIECES for n in counts),
            "wordpieces_p50": int(statistics.median(counts)) if counts else 0}


def union_share(spans: dict[str, list[tuple[int, int]]], lengths: dict[str, int]) -> float:
    """Fraction of all documents' characters inside at least one span."""
    covered = 0
    for ranges in spans.values():
        end_so_far = 0
        for s, e in sorted(ranges):
            s = max(s, end_so_far)
            if e > s:
                covered += e - s
                end_so_far = e
    return round(covered / max(1, sum(lengths.values())), 3)


def questions(path: Path) -> tuple[list[str], list[dict]]:
    cases = yaml.safe_load(path.read_text())["cases"]
    facts = [c for c in cases if c.get("answerable", True) and c.get("expected")]
    return [c["question"] for c in cases], facts


def quality(top: dict[str, list[tuple[str, str]]], facts: list[dict]) -> dict:
    """top: question → [(source file name, passage text)] best first. Fact and gold-source rates at rank 1."""
    from rag_cited.eval.metrics import fact_present

    fact1 = factk = gold1 = 0
    for case in facts:
        hits = top[case["question"]]
        has = [any(fact_present(group, text) for group in case["expected"]) for _, text in hits]
        fact1 += bool(has and has[0])
        factk += any(has)
        gold1 += bool(hits and hits[0][0] == Path(case["source"]).name)
    n = len(facts)
    return {"questions": n, "top1_has_fact": round(fact1 / n, 3), "topk_has_fact": round(factk / n, 3),
            "top1_gold_source": round(gold1 / n, 3),
            "top1_chars_mean": round(statistics.mean(len(top[c["question"]][0][1]) for c in facts if top[c["question"]]))}


def timed_passes(fn, qs: list[str]) -> tuple[dict, dict]:
    """Ask every question twice (cold, warm); return (warm p50/p95 ms with load, last answer per question)."""
    out: dict = {}
    for _ in ("cold", "warm"):
        ms = []
        for q in qs:
            t = time.perf_counter()
            out[q] = fn(q)
            ms.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": round(statistics.median(ms), 1), "p95_ms": round(pct(ms, 0.95), 1), "load1": load1()}, out


def run_rag(corpus: Path, qs: list[str], facts: list[dict], cache: Path) -> dict:
    """rag's ingest and questions in a fresh temp dir (embedded Chroma)."""
    with tempfile.TemporaryDirectory() as tmp:
        model = RecordingMiniLM(cache_dir=cache, embed_batch_size=8)
        model.embed(["warm up"])
        model.take()
        a = Assistant(data_dir=tmp, embed_model=model)
        load_before, t = load1(), time.perf_counter()
        report = a.ingest([corpus])
        ingest_s, load_after = time.perf_counter() - t, load1()
        embedded = model.take()
        _, _, metas = a.store.all_chunks()
        spans: dict[str, list[tuple[int, int]]] = {}
        for m in metas:  # every chunk fits the window (texts_truncated says so), so its whole span is read
            spans.setdefault(m.source, []).append((m.start, m.end))
        lengths = {s: len(a.document_text(s)) for s in spans}
        search, top = timed_passes(lambda q: [(Path(h.source).name, h.text) for h in a.search(q)], qs)
        ask, _ = timed_passes(a.ask, qs)
        return {"ingest_s": round(ingest_s, 2), "load1": [load_before, load_after],
                "documents": len(report.added), "chunks": report.chunks_written,
                "window": window_share(model, embedded), "text_inside_window": union_share(spans, lengths),
                "retrieve_warm": search, "ask_warm": ask, "quality": quality(top, facts)}


def visible_span(model: OnnxMiniLM, node) -> tuple[int, int]:
    """The node's character range (in its document) that the model reads: its embedded text is cut at 256 pieces."""
    from llama_index.core.schema import MetadataMode

    embed, content = node.get_content(MetadataMode.EMBED), node.get_content(MetadataMode.NONE)
    enc = model._tokenizer.encode(embed)
    seen = enc.offsets[MAX_WORDPIECES - 2][1] if len(enc.ids) > MAX_WORDPIECES else len(embed)
    shown = min(len(content), max(0, seen - embed.rfind(content)))
    return node.start_char_idx, node.start_char_idx + shown


def run_llamaindex(corpus: Path, qs: list[str], facts: list[dict], cache: Path) -> dict:
    """LlamaIndex's defaults (reader, splitter, retriever) over ChromaVectorStore with the same model."""
    import chromadb
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.vector_stores.chroma import ChromaVectorStore

    with tempfile.TemporaryDirectory() as tmp:
        model = RecordingMiniLM(cache_dir=cache, embed_batch_size=8)
        model.embed(["warm up"])
        model.take()
        load_before, t = load1(), time.perf_counter()
        docs = SimpleDirectoryReader(str(corpus)).load_data()
        client = chromadb.PersistentClient(path=tmp, settings=chromadb.Settings(anonymized_telemetry=False))
        collection = client.get_or_create_collection("peer", embedding_function=None)  # vectors come from the model
        storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
        index = VectorStoreIndex.from_documents(docs, storage_context=storage, embed_model=model)
        ingest_s, load_after = time.perf_counter() - t, load1()
        embedded = model.take()
        nodes = SentenceSplitter()(docs)  # the default transformation again, for the nodes' offsets
        assert len(nodes) == collection.count(), (len(nodes), collection.count())
        spans: dict[str, list[tuple[int, int]]] = {}
        for node in nodes:
            if node.start_char_idx is not None:
                spans.setdefault(node.ref_doc_id, []).append(visible_span(model, node))
        lengths = {d.doc_id: len(d.text) for d in docs}
        retriever = index.as_retriever()
        fn = lambda q: [(n.node.metadata.get("file_name", ""), n.node.get_content()) for n in retriever.retrieve(q)]  # noqa: E731
        search, top = timed_passes(fn, qs)
        return {"ingest_s": round(ingest_s, 2), "load1": [load_before, load_after],
                "documents": len(docs), "chunks": len(nodes), "nodes_without_offsets": sum(n.start_char_idx is None for n in nodes),
                "window": window_share(model, embedded), "text_inside_window": union_share(spans, lengths),
                "retrieve_warm": search, "quality": quality(top, facts)}


def summary(rounds: list[dict]) -> dict:
    """Best of the rounds (noise from other jobs only adds time) and the median of the per-round ingest ratios
    (rag's time over LlamaIndex's, both sides measured back to back)."""
    best = lambda side, f: min(f(r[side]) for r in rounds)  # noqa: E731
    ratios = [round(r["rag"]["ingest_s"] / r["llamaindex"]["ingest_s"], 2) for r in rounds]
    out = {"ingest_s_best": {s: best(s, lambda x: x["ingest_s"]) for s in ("rag", "llamaindex")},
           "ingest_ratio_per_round": ratios, "ingest_ratio_median": statistics.median(ratios),
           "wordpieces_read_per_s_best": {s: round(max(r[s]["window"]["wordpieces_read"] / r[s]["ingest_s"]
                                                       for r in rounds)) for s in ("rag", "llamaindex")},
           "load1_range": [min(v for r in rounds for x in r.values() for v in x["load1"]),
                           max(v for r in rounds for x in r.values() for v in x["load1"])]}
    for side, key in (("rag", "retrieve_warm"), ("llamaindex", "retrieve_warm"), ("rag", "ask_warm")):
        out[f"{side}_{key}_best"] = {q: best(side, lambda x, q=q, k=key: x[k][q]) for q in ("p50_ms", "p95_ms")}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default=str(REPO / "eval/corpora/pydocs"))
    p.add_argument("--questions", default=str(REPO / "eval/questions_pydocs.yaml"))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", default=str(REPO / "bench/peer.json"))
    args = p.parse_args()
    qs, facts = questions(Path(args.questions))
    rounds = []
    with tempfile.TemporaryDirectory() as cache:
        OnnxMiniLM(cache_dir=cache).embed(["fold the graph once, outside every timing"])
        for i in range(args.rounds):
            order = [("rag", run_rag), ("llamaindex", run_llamaindex)][:: 1 if i % 2 == 0 else -1]
            rounds.append({name: fn(Path(args.corpus), qs, facts, Path(cache)) for name, fn in order})
            print(json.dumps({"round": i + 1, **rounds[-1]}), flush=True)
    result = {"machine": {"cpus": os.cpu_count()}, "corpus": args.corpus, "questions": len(qs),
              "rounds": rounds, "summary": summary(rounds)}
    print(json.dumps(result["summary"], indent=2))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
