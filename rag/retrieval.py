"""Hybrid retrieval: vector search in Chroma + BM25 over the same chunks, fused by reciprocal rank.

The BM25 index (`rag.bm25.Bm25Index`, in memory) follows the store's generation incrementally: when this or
another process committed, the registry (source → current version) is diffed against what the index holds,
the chunks of removed or changed documents are dropped, and only new or changed documents' chunks are read
from Chroma (`Store.chunks_of`, by chunk id), so one updated document costs one document's work. The same
code path serves Chroma server mode. A process starts from the snapshot in the data dir
(`<data_dir>/bm25/<key>.npz`, saved in a background thread after every change) and catches up the same way;
with no snapshot, or when most chunks changed, it reads every document once (~0.1 ms a chunk, memory flat).
The writer catches up right after its ingest or delete (`invalidate`), so the first build and the snapshot
are paid at ingest time, not by the next question. Call `retrieve` inside `Store.reading()` so both indexes
see one generation. BM25-only hits read their text and metadata from their document version (cached).
Left out: metadata filters beyond a source list, and sharing one in-memory index between processes (each
catches up from the snapshot on its own).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.bm25 import Bm25Index, NewDoc
from rag.embeddings import Embedder
from rag.lexical import terms
from rag.settings import Settings
from rag.store import DocRecord, Store
from rag.types import ChunkMeta, RetrievedChunk

REBUILD_FRACTION = 0.5  # more changed chunks than this share of the corpus: build a fresh index instead of updating
#                         in place (which would leave most rows dead, to be compacted anyway)
HIT_CACHE_DOCS = 256  # document versions whose chunks are kept for BM25-only hits (~50 chunks each: a few MB)
BM25_TEXT = "title+headings+text"  # what each chunk's BM25 entry holds (part of the snapshot key)
log = logging.getLogger("rag")


@dataclass
class Hit:
    id: str
    text: str
    meta: ChunkMeta
    score: float = 0.0  # fused (RRF) score
    vector_score: float | None = None  # cosine similarity
    bm25_score: float | None = None
    vector_rank: int | None = None
    bm25_rank: int | None = None
    rank: int = 0

    def retrieved(self) -> RetrievedChunk:
        """The public, typed view of this hit (what `Answer.retrieved` and `Assistant.search` carry)."""
        m = self.meta
        return RetrievedChunk(id=self.id, source=m.source, title=m.title, sha256=m.doc_sha, start=m.start, end=m.end,
                              text=self.text, score=round(self.score, 5),
                              vector_score=None if self.vector_score is None else round(self.vector_score, 4),
                              bm25_score=None if self.bm25_score is None else round(self.bm25_score, 4),
                              vector_rank=self.vector_rank, bm25_rank=self.bm25_rank, rank=self.rank)


def _stamp(rec: DocRecord) -> str:
    """Changes whenever the document is written again (a new version, or the same one re-ingested after --rebuild)."""
    return f"{rec.sha256}|{rec.ingested_at}|{rec.chunks}|{rec.chars}"


class HybridRetriever:
    def __init__(self, store: Store, embedder: Embedder, settings: Settings):
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self._index: Bm25Index | None = None
        self._generation: str | None = None  # the store generation the index reflects
        self._lock = threading.Lock()
        self._hit_docs: OrderedDict[tuple[str, str], dict[str, tuple[str, ChunkMeta]]] = OrderedDict()
        self._hit_lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._saver: threading.Thread | None = None
        self._dirty = False
        self.last_sync: dict = {}  # what the last catch-up did: mode, seconds, documents and chunks read

    def invalidate(self) -> None:
        """After this process wrote (the engine calls it after ingest and delete): catch up now and save the index,
        so the next question here, or the first one in a new process, starts from a current snapshot. Nothing to
        do when this process holds no index and the snapshot already has the store's generation."""
        self._generation = None
        with self.store.reading():
            meta = Bm25Index.saved_meta(self.snapshot_path) if self._index is None else None
            if meta is None or meta.get("generation") != self.store.seen_generation:
                self.bm25()

    def bm25(self, refresh: bool = True) -> Bm25Index:
        """The BM25 index, caught up with the store; `refresh=False` skips the check (just done by `retrieve`)."""
        index = self._index
        if index is not None and (not refresh or self._generation == self.store.seen_generation):
            return index
        with self._lock:
            generation = self.store.seen_generation
            if self._index is None or self._generation != generation:
                self._sync(generation)
            return self._index

    @property
    def snapshot_path(self) -> Path:
        """Where this index is saved: one file per Chroma location, collection and index fingerprint."""
        key = json.dumps([self.store.location, self.settings.collection, self.store.fingerprint, BM25_TEXT],
                         sort_keys=True)
        return Path(self.settings.data_dir) / "bm25" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"

    def _sync(self, generation: str) -> None:
        """Diff the registry against the index; read only what changed (everything on a first build)."""
        t0 = time.perf_counter()
        mode = "incremental"
        if self._index is None:
            loaded = Bm25Index.load(self.snapshot_path)
            self._index, mode = (loaded[0], "snapshot") if loaded else (Bm25Index(), "full")
        index, registry = self._index, self.store.registry()
        held, fetched0 = index.stamps(), index.fetched_chunks
        want = {src: _stamp(rec) for src, rec in registry.items()}
        gone = [src for src, stamp in held.items() if want.get(src) != stamp]
        new = [src for src, stamp in want.items() if held.get(src) != stamp]
        todo = sum(registry[src].chunks for src in new)
        if new and (not len(index) or todo > REBUILD_FRACTION * sum(r.chunks for r in registry.values())):
            mode = "full"
            index.rebuild([self._read(registry[src]) for src in registry])
        elif gone or new:
            index.update(gone, [self._read(registry[src]) for src in new])
        self._generation = generation
        if gone or new:
            self._save_soon()
        self.last_sync = {"mode": mode, "seconds": round(time.perf_counter() - t0, 4), "removed": len(gone),
                          "added": len(new), "chunks_read": index.fetched_chunks - fetched0, "chunks": len(index)}
        log.debug("bm25 sync: %s", self.last_sync)

    def _read(self, rec: DocRecord) -> NewDoc:
        """One document version's chunks, tokenised: its title and heading path with each chunk's text (so "lzma"
        finds the lzma page's chunks, not bz2's, and a section's later chunks are found by its heading)."""
        ids, texts, metas = self.store.chunks_of(rec.source, rec.sha256)
        return NewDoc(rec.source, rec.sha256, _stamp(rec), ids,
                      [terms(f"{m.title} {' '.join(m.heading_path)} {t}") for t, m in zip(texts, metas)])

    # -- the snapshot on disk --------------------------------------------------------------------
    def _save_soon(self) -> None:
        """Save the index in a background thread (coalesced; not a daemon, so a short-lived process finishes it)."""
        with self._save_lock:
            self._dirty = True
            if self._saver is None:
                self._saver = threading.Thread(target=self._save_loop, name="rag-bm25-save")
                self._saver.start()

    def _save_loop(self) -> None:
        while True:
            with self._save_lock:
                if not self._dirty:
                    self._saver = None
                    return
                self._dirty = False
            generation = self._generation  # read before the state: never newer than what is saved
            try:
                self._index.save(self.snapshot_path, {"generation": generation})
            except OSError as e:  # a read-only or vanished data dir: keep serving from memory
                log.warning("could not save the BM25 index to %s (%s)", self.snapshot_path, e)

    def wait_saved(self) -> None:
        """Block until a pending snapshot save is written (tests, benchmarks)."""
        saver = self._saver
        if saver is not None:
            saver.join()

    # -- questions -------------------------------------------------------------------------------
    def _chunk(self, cid: str, source: str) -> tuple[str, ChunkMeta] | None:
        """Text and metadata of a BM25-only hit, from its document version's chunks (cached per version)."""
        doc = self._index.doc(source) if self._index is not None else None
        if doc is None:
            return None
        key = (source, doc.stamp)
        with self._hit_lock:
            chunks = self._hit_docs.get(key)
            if chunks is not None:
                self._hit_docs.move_to_end(key)
        if chunks is None:
            ids, texts, metas = self.store.chunks_of(source, doc.sha)
            chunks = {i: (t, m) for i, t, m in zip(ids, texts, metas)}
            with self._hit_lock:
                self._hit_docs[key] = chunks
                while len(self._hit_docs) > HIT_CACHE_DOCS:
                    self._hit_docs.popitem(last=False)
        return chunks.get(cid)

    def retrieve(self, query: str, k: int | None = None, query_vector: np.ndarray | None = None) -> list[Hit]:
        """Top-k chunks for `query`, best first."""
        k = k or self.settings.top_k
        n_cand = max(self.settings.candidates, k)
        qv = self.embedder.embed([query])[0] if query_vector is None else query_vector
        vector = {cid: (text, meta, sim, rank)
                  for rank, (cid, text, meta, sim) in enumerate(self.store.query(qv, n_cand), 1)}
        lexical: dict[str, tuple[float, int, str]] = {}
        q_terms = terms(query)
        if self.settings.hybrid and q_terms:
            lexical = {cid: (score, rank, source)
                       for rank, (cid, score, source) in enumerate(self.bm25().top(q_terms, n_cand), 1)}
        c = self.settings.rrf_k
        fused = {cid: 1.0 / (c + v[3]) for cid, v in vector.items()}
        for cid, (_, rank, _) in lexical.items():
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (c + rank)
        ranked: list[Hit] = []
        for cid in sorted(fused, key=lambda i: -fused[i]):  # stable: vector hits first on equal scores
            if cid in vector:
                text, meta, sim, vrank = vector[cid]
            else:
                got = self._chunk(cid, lexical[cid][2])
                if got is None:  # its document changed since the index was read (server mode)
                    continue
                (text, meta), sim, vrank = got, None, None
            score, brank, _ = lexical.get(cid, (None, None, None))
            ranked.append(Hit(cid, text, meta, score=fused[cid], vector_score=sim, bm25_score=score,
                              vector_rank=vrank, bm25_rank=brank, rank=len(ranked) + 1))
            if len(ranked) == k:
                break
        self._vector_scores(ranked, qv)
        return ranked

    def _vector_scores(self, ranked: list[Hit], qv: np.ndarray) -> None:
        """BM25-only hits: their cosine from the stored vectors."""
        missing = [h for h in ranked if h.vector_score is None]
        if missing:
            vecs = self.store.get_embeddings([h.id for h in missing])
            for h in missing:
                h.vector_score = float(np.asarray(vecs[h.id]) @ qv) if h.id in vecs else 0.0
