"""Hybrid retrieval: vector search in Chroma + BM25 (bm25s) over the same chunks, fused by reciprocal rank.

The BM25 index lives in memory and is rebuilt from Chroma whenever the store's generation changes
(this or another process ingested or deleted), so it never drifts from the vector index and works in
server mode. Call `retrieve` inside `Store.reading()` so both indexes see one generation. Rebuilding is a few hundred ms for ~10k chunks. Left out: persisting the BM25 index and
metadata filters beyond a source list.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import numpy as np

from rag.embeddings import Embedder
from rag.lexical import terms
from rag.settings import Settings
from rag.store import Store
from rag.types import ChunkMeta, RetrievedChunk


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


@dataclass
class _Bm25:
    version: str
    ids: list[str]
    texts: list[str]
    metas: list[ChunkMeta]
    model: object | None
    df: dict[str, int] = field(default_factory=dict)

    def idf(self, term: str) -> float:
        n = max(1, len(self.ids))
        return math.log(1 + (n - self.df.get(term, 0) + 0.5) / (self.df.get(term, 0) + 0.5))


class HybridRetriever:
    def __init__(self, store: Store, embedder: Embedder, settings: Settings):
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self._bm25: _Bm25 | None = None
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        self._bm25 = None

    def bm25(self, refresh: bool = True) -> _Bm25:
        """The BM25 index; `refresh=False` skips the store-version check (just done by `retrieve`)."""
        if not refresh and self._bm25 is not None:
            return self._bm25
        version = self.store.seen_generation
        with self._lock:
            if self._bm25 is None or self._bm25.version != version:
                self._bm25 = self._build(version)
            return self._bm25

    def _build(self, version: str) -> _Bm25:
        import bm25s

        ids, texts, metas = self.store.all_chunks()
        # every chunk is indexed with its document's title, so "lzma" finds the lzma page's chunks, not bz2's
        corpus = [terms(f"{m.title} {t}") for t, m in zip(texts, metas)]
        df: dict[str, int] = {}
        for toks in corpus:
            for tok in set(toks):
                df[tok] = df.get(tok, 0) + 1
        model = None
        if ids:
            model = bm25s.BM25()
            model.index([toks or ["\x00"] for toks in corpus], show_progress=False)
        return _Bm25(version, ids, texts, metas, model, df)

    def retrieve(self, query: str, k: int | None = None, query_vector: np.ndarray | None = None) -> list[Hit]:
        """Top-k chunks for `query`, best first."""
        k = k or self.settings.top_k
        n_cand = max(self.settings.candidates, k)
        qv = self.embedder.embed([query])[0] if query_vector is None else query_vector
        hits: dict[str, Hit] = {}
        for rank, (cid, text, meta, sim) in enumerate(self.store.query(qv, n_cand), 1):
            hits[cid] = Hit(cid, text, meta, vector_score=sim, vector_rank=rank)
        if self.settings.hybrid:
            index = self.bm25()
            q_terms = terms(query)
            if index.model is not None and q_terms:
                scores = index.model.get_scores(q_terms)
                top = np.argsort(-scores)[:n_cand]
                for rank, i in enumerate((i for i in top if scores[i] > 0), 1):
                    cid = index.ids[i]
                    hit = hits.get(cid) or Hit(cid, index.texts[i], index.metas[i])
                    hit.bm25_score, hit.bm25_rank = float(scores[i]), rank
                    hits[cid] = hit
        c = self.settings.rrf_k
        for h in hits.values():
            h.score = sum(1.0 / (c + r) for r in (h.vector_rank, h.bm25_rank) if r is not None)
        ranked = sorted(hits.values(), key=lambda h: -h.score)[:k]
        missing = [h for h in ranked if h.vector_score is None]
        if missing:  # BM25-only hits: their cosine from the stored vectors
            vecs = self.store.get_embeddings([h.id for h in missing])
            for h in missing:
                h.vector_score = float(np.asarray(vecs[h.id]) @ qv) if h.id in vecs else 0.0
        for r, h in enumerate(ranked, 1):
            h.rank = r
        return ranked
