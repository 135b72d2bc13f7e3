"""Scale benchmark: questions, ingest, updates and memory at 10k-100k chunks, the model's cost taken out.

    .venv/bin/python bench/scale.py --chunks 10000 50000              # sizes in chunks; ~1.5 and ~6 min here
    .venv/bin/python bench/scale.py --chunks 100000 --tmp /dev/shm    # ~12 min; temp dirs on tmpfs (RAM)
    .venv/bin/python bench/scale.py --index-only 100000 200000        # the BM25 index alone, no Chroma (~1 min)
    .venv/bin/python bench/scale.py --model                           # the real model on its own (MiniLM, 2 cores)

Per size, in its own temp dir (deleted afterwards unless --keep):
 1. a corpus is synthesised (seed 13, so the same files every run; a smaller corpus is a prefix of a larger one):
    sentences of ~25k English words drawn with Zipf-like frequencies (`vocabulary`), with made-up names and
    numbers sprinkled in (what BM25 is for), 20-50 chunks per document;
 2. it is ingested by `rag` in a fresh process with `BenchEmbedding` (below; a real llama-index BaseEmbedding:
    a signed hashed bag of words, 384 dimensions like MiniLM) through the public `embed_model` hook;
 3. the BM25 index is built again from Chroma in a fresh process (the snapshot the ingest saved moved aside),
    and the previous bm25s full rebuild (what rag/retrieval.py did on every generation change before issue 13)
    is timed on the same index;
 4. cold questions: each in a new process (see `COLD` below for the exact definition);
 5. a serving process (the app's situation) answers warm questions, repeated and novel, then one document is
    changed and the folder re-ingested by another process, and the server's next question catches up.
Numbers go to stdout (and merged into --out FILE); bench/RESULTS.md "Scale" records them.
Left out: the model inside these numbers (see --model), the LLM answer mode, and Chroma server mode.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding

REPO = Path(__file__).resolve().parent.parent
SEED = 13  # corpus and questions; any fixed value makes runs comparable
DIM = 384  # MiniLM's dimension, so Chroma's vector index has the real size
ZIPF_S = 1.07  # word-rank exponent; ~1 is typical of English text
NAME_RATE, NUMBER_RATE = 0.03, 0.03  # share of words replaced by a document's rare names / by numbers
CHUNKS_PER_DOC = (20, 50)
WORDS_PER_CHUNK = 100  # calibrated: ~100 words of this text make one 160-token chunk with 32 overlap
COLD = ("cold = the wall time of the first Assistant.ask() in a new Python process, after what every front end "
        "does before its first question (`rag ask`, `rag chat`, `rag serve`: imports, Assistant(), status(), which "
        "opens Chroma). It loads Chroma's vector index and the BM25 snapshot, reads the chunks it needs and answers. "
        "The data dir's files are in the OS page cache (just written). Start-up is reported apart.")
N_REPEATED, N_NOVEL, N_COLD, N_AFTER = 20, 40, 5, 20  # questions per kind


class BenchEmbedding(BaseEmbedding):
    """A signed hashed bag of words (crc32 per word, cached): costs ~nothing, so the numbers are rag's own."""

    dim: int = DIM

    @classmethod
    def class_name(cls) -> str:
        return "BenchEmbedding"

    def _vec(self, text: str) -> list[float]:
        v = np.zeros(self.dim, np.float32)
        for w in re.findall(r"\w+", text.lower()):
            h = zlib.crc32(w.encode())
            v[h % self.dim] += 1.0 if h & 0x80000000 else -1.0
        return v.tolist()

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vec(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vec(text)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vec(query)


def embed_model() -> BenchEmbedding:
    return BenchEmbedding(model_name=f"hash-{DIM}", embed_batch_size=256)


def rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(round(q * (len(values) - 1))))], 1)


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50": round(statistics.median(values), 1), "p95": pct(values, 0.95),
            "max": round(max(values), 1)}


# -- the corpus --------------------------------------------------------------------------------------
def vocabulary() -> list[str]:
    """~27k English words: those of the bundled corpora by their frequency there (tags stripped), then the rest of
    tiktoken cl100k_base's whole-word tokens (ships with llama-index, offline) in merge order, a rough frequency
    order, for the long tail."""
    from rag.chunking import tiktoken_encoding

    counts: dict[str, int] = {}
    for f in sorted((REPO / "eval/corpora/pydocs").rglob("*")) + sorted((REPO / "seeds").rglob("*")):
        if f.is_file():
            text = re.sub(r"<[^>]*>|&\w+;", " ", f.read_text(errors="replace"))
            for w in re.findall(r"[a-z]{2,}", text.lower()):
                counts[w] = counts.get(w, 0) + 1
    words = sorted(counts, key=lambda w: (-counts[w], w))
    enc = tiktoken_encoding()
    for i in range(enc.n_vocab):
        try:
            s = enc.decode_single_token_bytes(i).decode()
        except (KeyError, UnicodeDecodeError):
            continue
        if s.startswith(" ") and len(s) > 3 and s[1:].isascii() and s[1:].isalpha() and s[1:].islower():
            words.append(s[1:])
    return list(dict.fromkeys(words))


SYLLABLES = "vex moor quill thar zor ath dell brek ost ul mar kin tav rho sel gard nim ora pex lun cass trev".split()


def make_name(rng: np.random.Generator) -> str:
    return "".join(rng.choice(SYLLABLES, size=int(rng.integers(2, 4)))).capitalize()


def document(i: int, vocab: list[str], p: np.ndarray) -> tuple[str, list[str]]:
    """Document i (its own seeded RNG, so it is the same in every corpus size): text and its rare names."""
    rng = np.random.default_rng([SEED, i])
    names = [make_name(rng) for _ in range(5)]
    n_words = int(rng.integers(*CHUNKS_PER_DOC, endpoint=True)) * WORDS_PER_CHUNK
    words = list(np.asarray(vocab)[rng.choice(len(vocab), size=n_words, p=p)])
    for j in np.flatnonzero(rng.random(n_words) < NAME_RATE + NUMBER_RATE).tolist():
        words[j] = (names[int(rng.integers(5))] if rng.random() < NAME_RATE / (NAME_RATE + NUMBER_RATE)
                    else str(int(rng.choice([rng.integers(1900, 2040), rng.integers(1, 100000)]))))
    out, pos, para = [f"{names[0]} {vocab[int(rng.integers(50, 500))]} report {i}", ""], 0, []
    while pos < n_words:
        n = int(rng.integers(8, 26))
        sentence = " ".join(words[pos:pos + n])
        para.append(sentence[0].upper() + sentence[1:] + ".")
        pos += n
        if len(para) >= int(rng.integers(3, 7)):
            out += [" ".join(para), ""]
            para = []
    out.append(" ".join(para))
    return "\n".join(out).strip() + "\n", names


def write_corpus(folder: Path, chunks: int) -> list[tuple[str, list[str]]]:
    """Documents until ~`chunks` chunks (expected 35 per document); returns (file name, names) per document."""
    vocab = vocabulary()
    p = 1.0 / np.arange(1, len(vocab) + 1) ** ZIPF_S
    p /= p.sum()
    folder.mkdir(parents=True)
    docs = []
    for i in range(max(1, round(chunks / (sum(CHUNKS_PER_DOC) / 2)))):
        text, names = document(i, vocab, p)
        name = f"r{i:06d}.txt"
        (folder / name).write_text(text)
        docs.append((name, names))
    return docs


def questions(folder: Path, docs: list[tuple[str, list[str]]], n: int, salt: int) -> list[str]:
    """Questions about one document each: one of its rare names or numbers plus content words of one sentence."""
    rng = np.random.default_rng([SEED, 1_000_000 + salt])
    out = []
    while len(out) < n:
        name, _ = docs[int(rng.integers(len(docs)))]
        sents = re.split(r"(?<=\.)\s+", (folder / name).read_text())
        sent = sents[int(rng.integers(1, len(sents)))]
        words = re.findall(r"\w+", sent)[1:]  # not the capitalised first word
        rare = [w for w in words if w[0].isupper() or w.isdigit()]
        common = [w for w in words if len(w) >= 5 and w.islower()]
        if rare and len(common) >= 2:
            picked = [rare[int(rng.integers(len(rare)))]] + list(rng.choice(common, size=2, replace=False))
            out.append(f"What does the report say about {' '.join(picked)}?")
    return out


# -- the children (each a fresh process) -------------------------------------------------------------
def child_ingest(data: str, corpus: str) -> dict:
    """`rag ingest` in a fresh process; its BM25 part is the catch-up `Assistant.ingest` ends with."""
    from rag import Assistant

    a = Assistant(data_dir=data, embed_model=embed_model())
    t = time.perf_counter()
    report = a.ingest([corpus])
    seconds = time.perf_counter() - t
    t = time.perf_counter()
    a.retriever.wait_saved()
    return {"seconds": round(seconds, 2), "chunks_written": report.chunks_written,
            "texts_embedded": report.texts_embedded, "added": len(report.added), "updated": len(report.updated),
            "unchanged": len(report.unchanged), "bm25": a.retriever.last_sync,
            "bm25_save_s": round(time.perf_counter() - t, 2), "rss_mb": rss_mb(),
            "rss_children_mb": rss_mb(resource.RUSAGE_CHILDREN)}


def child_build(data: str) -> dict:
    """A first BM25 build (the snapshot moved aside: what the first ingest pays), loading the snapshot, and
    reading one document's chunks."""
    from rag import Assistant
    from rag.bm25 import Bm25Index

    a = Assistant(data_dir=data, embed_model=embed_model())
    snap = a.retriever.snapshot_path
    t = time.perf_counter()
    loaded, _ = Bm25Index.load(snap)
    load_s = time.perf_counter() - t
    snap.rename(snap.with_suffix(".aside"))
    with a.store.reading():
        t = time.perf_counter()
        a.store.all_chunks()
        read_all = time.perf_counter() - t
        t = time.perf_counter()
        index = a.retriever.bm25()
        build = time.perf_counter() - t
        reg = sorted(a.store.registry().values(), key=lambda r: r.source)[::max(1, len(a.store.registry()) // 30)]
        t = time.perf_counter()
        n = sum(len(a.store.chunks_of(r.source, r.sha256)[0]) for r in reg)
        per_doc = (time.perf_counter() - t) / len(reg)
    a.retriever.wait_saved()
    snap.with_suffix(".aside").unlink()
    return {"chunks": len(index), "all_chunks_read_s": round(read_all, 2), "first_build_s": round(build, 2),
            "snapshot_load_s": round(load_s, 3), "snapshot_chunks": len(loaded),
            "chunks_of_ms": round(per_doc * 1000, 1), "chunks_per_doc_read": round(n / len(reg), 1),
            "snapshot_mb": round(snap.stat().st_size / 1e6, 1), "rss_mb": rss_mb()}


def child_legacy(data: str) -> dict:
    """The BM25 rebuild rag/retrieval.py ran before issue 13 on every generation change (copied from it)."""
    import bm25s

    from rag import Assistant
    from rag.lexical import terms

    a = Assistant(data_dir=data, embed_model=embed_model())
    with a.store.reading():
        t = time.perf_counter()
        ids, texts, metas = a.store.all_chunks()
        corpus = [terms(f"{m.title} {t}") for t, m in zip(texts, metas)]
        df: dict[str, int] = {}
        for toks in corpus:
            for tok in set(toks):
                df[tok] = df.get(tok, 0) + 1
        model = bm25s.BM25()
        model.index([toks or ["\x00"] for toks in corpus], show_progress=False)
        return {"legacy_rebuild_s": round(time.perf_counter() - t, 2), "rss_mb": rss_mb()}


def child_cold(data: str, question: str, spawned_at: float) -> dict:
    started = time.time() - spawned_at  # Python start-up and this script's imports (numpy, llama-index)
    t0 = time.perf_counter()
    from rag import Assistant

    a = Assistant(data_dir=data, embed_model=embed_model())
    imports = time.perf_counter() - t0
    t = time.perf_counter()
    a.status()
    status = time.perf_counter() - t
    t = time.perf_counter()
    ans = a.ask(question)
    first = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    a.ask(question + " again")
    return {"imports_s": round(imports, 2), "process_start_s": round(started, 2),
            "status_s": round(status, 2), "first_ms": round(first, 1),
            "second_ms": round((time.perf_counter() - t) * 1000, 1), "timings": ans.timings_ms,
            "bm25": a.retriever.last_sync, "rss_mb": rss_mb()}


def _ask_all(a, qs: list[str]) -> tuple[list[float], list[int]]:
    """Wall ms of each `ask`, and how many texts each one embedded (candidate sentences not cached yet)."""
    times, embedded = [], []
    for q in qs:
        n0, t = a.embedder.texts_embedded, time.perf_counter()
        a.ask(q)
        times.append((time.perf_counter() - t) * 1000)
        embedded.append(a.embedder.texts_embedded - n0)
    return times, embedded


def child_serve(data: str, qfile: str) -> dict:
    """The app's situation: one long-lived process; waits on stdin while another process updates a document."""
    from rag import Assistant

    qs = json.loads(Path(qfile).read_text())
    a = Assistant(data_dir=data, embed_model=embed_model())
    a.status()  # what the app does at start
    t = time.perf_counter()
    a.ask(qs["cold"][0])
    out: dict = {"first_ms": round((time.perf_counter() - t) * 1000, 1), "first_bm25": a.retriever.last_sync}
    first_pass, emb_first = _ask_all(a, qs["repeated"])
    again, _ = _ask_all(a, qs["repeated"])
    novel, emb_novel = _ask_all(a, qs["novel"])
    out |= {"warm_repeated_ms": summary(again), "warm_novel_ms": summary(novel),
            "first_sight_ms": summary(first_pass + novel),
            "texts_embedded_per_new_question": round(statistics.mean(emb_first + emb_novel), 1)}
    stages: dict[str, list[float]] = {}
    for q in qs["novel"][:10]:
        for k, v in a.ask(q + " please").timings_ms.items():
            stages.setdefault(k, []).append(v)
    out["novel_stages_p50_ms"] = {k: round(statistics.median(v), 1) for k, v in stages.items()}
    print("WAITING", flush=True)
    sys.stdin.readline()  # the driver changes one document and re-ingests the folder in another process
    t = time.perf_counter()
    ans = a.ask(qs["update"])
    out |= {"after_update_first_ms": round((time.perf_counter() - t) * 1000, 1), "after_update_bm25": a.retriever.last_sync,
            "after_update_found": any("Quillfeather" in c.quote for c in ans.citations)
            or any("Quillfeather" in r.text for r in ans.retrieved)}
    after, _ = _ask_all(a, qs["after"])
    out |= {"warm_after_update_ms": summary(after), "rss_mb": rss_mb()}
    a.retriever.wait_saved()
    return out


# -- the driver --------------------------------------------------------------------------------------
def run_child(*args: str, stdin=None) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False, input=stdin)
    if proc.returncode:
        raise SystemExit(f"child {args[0]} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def dir_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6, 1)


def change_one(folder: Path, docs: list[tuple[str, list[str]]]) -> str:
    """Rewrite the middle document with new sentences about "Quillfeather" (same length); returns its name."""
    name = docs[len(docs) // 2][0]
    f = folder / name
    text = f.read_text()
    f.write_text(text[:len(text) // 2] + "\n\nThe Quillfeather tariff was abolished in 2031 by the harbour board.\n\n"
                 + text[len(text) // 2:])
    return name


def serve_and_update(data: Path, corpus: Path, docs, qfile: Path) -> dict:
    proc = subprocess.Popen([sys.executable, __file__, "_serve", str(data), str(qfile)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if line.strip() != "WAITING":
        raise SystemExit(f"serve child failed: {line}")
    change_one(corpus, docs)
    t = time.perf_counter()
    update = run_child("_ingest", str(data), str(corpus))
    update["wall_s"] = round(time.perf_counter() - t, 2)
    out, _ = proc.communicate("go\n")
    return {"serve": json.loads(out.strip().splitlines()[-1]), "update_ingest": update}


def bench_size(chunks: int, keep: bool) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix=f"rag-scale-{chunks}-"))
    try:
        corpus, data = tmp / "corpus", tmp / "data"
        t = time.perf_counter()
        docs = write_corpus(corpus, chunks)
        synth_s = time.perf_counter() - t
        qs = {"repeated": questions(corpus, docs, N_REPEATED, 1), "novel": questions(corpus, docs, N_NOVEL, 2),
              "cold": questions(corpus, docs, N_COLD, 3), "after": questions(corpus, docs, N_AFTER, 4),
              "update": "What happened to the Quillfeather tariff in 2031?"}
        (tmp / "questions.json").write_text(json.dumps(qs))
        print(f"[{chunks}] corpus: {len(docs)} documents, {dir_mb(corpus)} MB ({synth_s:.0f} s)", flush=True)
        ingest = run_child("_ingest", str(data), str(corpus))
        ingest["chunks_per_s"] = round(ingest["chunks_written"] / ingest["seconds"], 1)
        print(f"[{chunks}] ingest: {ingest}", flush=True)
        disk = {"data_dir_mb": dir_mb(data), "chroma_mb": dir_mb(data / "chroma")}
        build = run_child("_build", str(data))
        print(f"[{chunks}] first build: {build}", flush=True)
        legacy = run_child("_legacy", str(data))
        print(f"[{chunks}] legacy bm25s rebuild: {legacy}", flush=True)
        load = {"before_cold": os.getloadavg()[0]}  # other jobs on the machine show here (2 cores: 2.0 is full)
        cold = [run_child("_cold", str(data), q, repr(time.time())) for q in qs["cold"]]
        load["before_serve"] = os.getloadavg()[0]
        print(f"[{chunks}] cold: {[c['first_ms'] for c in cold]}", flush=True)
        served = serve_and_update(data, corpus, docs, tmp / "questions.json")
        print(f"[{chunks}] serve: {served}", flush=True)
        disk["bm25_snapshot_mb"] = dir_mb(data / "bm25")
        load["after_serve"] = os.getloadavg()[0]
        return {"chunks": ingest["chunks_written"], "documents": len(docs), "corpus_mb": dir_mb(corpus),
                "ingest": ingest, "disk": disk, "first_build": build, "legacy": legacy,
                "cold": {"first_ms": summary([c["first_ms"] for c in cold]), "trials": cold, "definition": COLD},
                "load_average_1min": load, **served}
    finally:
        if keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def bench_index(chunks: int) -> dict:
    """The BM25 index alone, in this process (no Chroma): the corpus's documents cut into chunks of
    WORDS_PER_CHUNK words; build, snapshot save/load, one document's update, and scoring the bench questions."""
    from rag.bm25 import Bm25Index, NewDoc
    from rag.lexical import terms

    vocab = vocabulary()
    p = 1.0 / np.arange(1, len(vocab) + 1) ** ZIPF_S
    p /= p.sum()
    docs = []
    for i in range(max(1, round(chunks / (sum(CHUNKS_PER_DOC) / 2)))):
        text, _ = document(i, vocab, p / p.sum())
        title, words = text.split("\n", 1)[0], text.split()
        toks = [terms(f"{title} {' '.join(words[j:j + WORDS_PER_CHUNK])}") for j in range(0, len(words), WORDS_PER_CHUNK)]
        docs.append(NewDoc(f"r{i:06d}.txt", "v1", "v1", [f"r{i:06d}-{j:05d}" for j in range(len(toks))], toks))
    rss0, index = rss_mb(), Bm25Index()
    t = time.perf_counter()
    index.rebuild(docs)
    build = time.perf_counter() - t
    qs = [terms(f"What does the report say about {' '.join(d.tokens[1][:3])}") for d in docs[::max(1, len(docs) // 60)]]
    times = []
    for q in qs + qs:
        t = time.perf_counter()
        index.top(q, 20)
        times.append((time.perf_counter() - t) * 1000)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "i.npz"
        t = time.perf_counter()
        index.save(path)
        save = time.perf_counter() - t
        t = time.perf_counter()
        Bm25Index.load(path)
        load = time.perf_counter() - t
        size = path.stat().st_size
    d = docs[len(docs) // 2]
    t = time.perf_counter()
    index.update(add=[NewDoc(d.source, "v2", "v2", [i + "b" for i in d.ids], d.tokens)])
    update = time.perf_counter() - t
    s = index._s
    return {"chunks": len(index), "postings": int(len(s.rows)), "terms": s.n_terms, "build_s": round(build, 2),
            "top20_ms": summary(times[len(qs):]), "save_s": round(save, 3), "load_s": round(load, 3),
            "snapshot_mb": round(size / 1e6, 1), "update_one_doc_ms": round(update * 1000, 1),
            "rss_mb_index_and_tokens": round(rss_mb() - rss0, 1), **legacy_index([t for d in docs for t in d.tokens], qs)}


def legacy_index(tokens: list[list[str]], qs: list[list[str]]) -> dict:
    """The previous bm25s index on the same tokens: its build and its top-20 (get_scores + argsort of all rows)."""
    import bm25s

    t = time.perf_counter()
    model = bm25s.BM25()
    model.index([toks or ["\x00"] for toks in tokens], show_progress=False)
    build = time.perf_counter() - t
    times = []
    for q in qs + qs:
        t = time.perf_counter()
        scores = model.get_scores(q)
        top = np.argsort(-scores)[:20]
        _ = [i for i in top if scores[i] > 0]
        times.append((time.perf_counter() - t) * 1000)
    return {"legacy_build_s": round(build, 2), "legacy_top20_ms": summary(times[len(qs):])}


def bench_model() -> dict:
    """The real model alone: one question's candidate sentences and per-chunk cost at ingest."""
    from rag.embeddings import OnnxMiniLM

    vocab = vocabulary()
    p = 1.0 / np.arange(1, len(vocab) + 1) ** ZIPF_S
    text, _ = document(0, vocab, p / p.sum())
    sents = [s for s in re.split(r"(?<=\.)\s+", text) if s][:36]
    with tempfile.TemporaryDirectory() as tmp:
        e = OnnxMiniLM(cache_dir=tmp)
        e.embed(["warm up"])
        t = time.perf_counter()
        e.embed(["What does the report say about Vexmoor harbour fees?"])
        query_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        e.embed(sents)
        sents_ms = (time.perf_counter() - t) * 1000
        from rag.chunking import chunk_text

        chunks = [c.text for c in chunk_text(text)][:32]
        t = time.perf_counter()
        e.embed(chunks)
        per_chunk = (time.perf_counter() - t) / len(chunks)
    return {"query_ms": round(query_ms, 1), "sentences": len(sents), "sentences_ms": round(sents_ms, 1),
            "per_sentence_ms": round(sents_ms / len(sents), 2), "per_chunk_ms": round(per_chunk * 1000, 1),
            "chunks_per_s": round(1 / per_chunk, 1)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        kind, args = sys.argv[1], sys.argv[2:]
        fn = {"_ingest": child_ingest, "_build": child_build, "_legacy": child_legacy, "_serve": child_serve}.get(kind)
        result = child_cold(args[0], args[1], float(args[2])) if kind == "_cold" else fn(*args)
        print(json.dumps(result), flush=True)
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chunks", type=int, nargs="*", default=[], help="corpus sizes in chunks, e.g. 10000 50000")
    ap.add_argument("--model", action="store_true", help="also measure the real model on its own")
    ap.add_argument("--index-only", type=int, nargs="*", default=[], help="the BM25 index alone at these sizes")
    ap.add_argument("--tmp", help="where the temp dirs go (default: the system's temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dirs (corpus, data dir)")
    ap.add_argument("--out", help="a JSON file to merge the results into (default: only stdout)")
    args = ap.parse_args()
    out = Path(args.out) if args.out else None
    results = json.loads(out.read_text()) if out and out.exists() else {}
    results["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    if args.tmp:
        tempfile.tempdir = args.tmp
    for n in args.index_only:
        results.setdefault("index_only", {})[str(n)] = bench_index(n)
        print(f"index only, {n}: {results['index_only'][str(n)]}", flush=True)
    if args.model:
        results["model"] = bench_model()
        print(f"model: {results['model']}", flush=True)
    for n in args.chunks:
        t = time.perf_counter()
        results[str(n)] = bench_size(n, args.keep) | {"bench_wall_s": round(time.perf_counter() - t)}
        if out:
            out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
