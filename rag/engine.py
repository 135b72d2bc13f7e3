"""`Assistant`: wires loading, chunking, embedding, storage, retrieval and answering together.

This is the public entry point for the CLI, the web app, the eval harness and anyone embedding the
engine. It owns one Chroma client, one embedder and one retriever, created on first use and shared by
threads (the web app's concurrent chats). Left out: multi-user separation of indexes (use one
`collection` or `data_dir` per user).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from rag import answer as extractive
from rag.chunking import CHUNKER_VERSION
from rag.embeddings import OnnxMiniLM
from rag.errors import InputError, LLMError
from rag.ingest import Progress, ingest
from rag.retrieval import HybridRetriever
from rag.settings import Settings
from rag.store import Store
from rag.types import Answer, DocumentInfo, IngestReport

_VEC_CACHE_SIZE = 50_000


def seeds_path() -> Path:
    """The default corpus: inside the installed package, or the repository's seeds/ in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "seeds", here.parent / "seeds"):
        if candidate.is_dir() and any(candidate.iterdir()):
            return candidate
    raise InputError("the seed corpus is missing from this installation; reinstall the package")


class Assistant:
    """Ask questions over your documents and get answers built from exact, cited sentences.

    >>> a = Assistant(data_dir="index"); a.ingest(["seeds/"]); a.ask("What did Ilham Aliyev promise?").text
    """

    def __init__(self, settings: Settings | None = None, *, embed_model: OnnxMiniLM | None = None, llm=None,
                 **overrides):
        if settings is None:
            settings = Settings(**overrides)
        elif overrides:
            settings = settings.model_copy(update=overrides)
        self.settings = settings
        self._embedder = embed_model
        self._llm = llm
        self._store: Store | None = None
        self._retriever: HybridRetriever | None = None
        self._init_lock = threading.RLock()
        self._cache_lock = threading.Lock()
        self._vec_cache: dict[str, np.ndarray] = {}

    # -- collaborators, created on first use ---------------------------------------------------
    @property
    def embedder(self) -> OnnxMiniLM:
        if self._embedder is None:
            with self._init_lock:
                if self._embedder is None:
                    self._embedder = OnnxMiniLM(cache_dir=self.settings.data_dir / "models",
                                                threads=self.settings.embed_threads,
                                                embed_batch_size=self.settings.embed_batch_size)
        return self._embedder

    def fingerprint(self) -> dict[str, str]:
        fp = getattr(self.embedder, "fingerprint", None) or self.embedder.model_name
        s = self.settings
        return {"rag_embed_model": fp, "rag_chunker": f"{CHUNKER_VERSION}/size={s.chunk_size}/overlap={s.chunk_overlap}"}

    @property
    def store(self) -> Store:
        if self._store is None:
            with self._init_lock:
                if self._store is None:
                    self._store = Store(self.settings, self.fingerprint())
        return self._store

    @property
    def llm(self):
        """The llama-index LLM for `answer_mode="llm"` (OpenAI-compatible endpoint from settings)."""
        if self._llm is None:
            from rag.errors import ConfigError
            from rag.llm import make_llm

            if not self.settings.llm_base_url:
                raise ConfigError("answer mode 'llm' needs an endpoint: set RAG_LLM_BASE_URL (and RAG_LLM_MODEL)")
            self._llm = make_llm(self.settings)
        return self._llm

    @property
    def retriever(self) -> HybridRetriever:
        if self._retriever is None:
            self._retriever = HybridRetriever(self.store, self.embedder, self.settings)
        return self._retriever

    # -- documents -----------------------------------------------------------------------------
    def ingest(self, paths: Sequence[str | Path], *, rebuild: bool = False, prune: bool = True,
               progress: Progress | None = None) -> IngestReport:
        """Add or update files/folders; unchanged files cost nothing; see `rag.ingest`."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        if rebuild:
            with self.store.write_lock():
                self.store.reset()
        report = ingest(paths, self.store, self.embedder, self.settings, prune=prune, progress=progress)
        self.retriever.invalidate()
        return report

    def ensure_seeded(self, progress: Progress | None = None) -> IngestReport | None:
        """Ingest the seed corpus when the index is empty; None when there was something already."""
        self.store.check_fingerprint()
        if self.store.docs.count() > 0:
            return None
        return self.ingest([seeds_path()], progress=progress)

    def documents(self) -> list[DocumentInfo]:
        docs = self.store.documents()
        return [DocumentInfo(source=s, title=m.get("title", ""), chunks=int(m.get("chunks", 0)),
                             chars=int(m.get("chars", 0)), sha256=m.get("sha256", ""),
                             ingested_at=m.get("ingested_at", ""), path=m.get("path", ""))
                for s, m in sorted(docs.items())]

    def delete(self, source: str) -> bool:
        """Remove a document and its chunks; False when it was not indexed."""
        with self.store.write_lock():
            if self.store.document_text(source) is None:
                return False
            self.store.delete_source(source)
        self.retriever.invalidate()
        return True

    def document_text(self, source: str) -> str:
        """The extracted text that citation offsets index into."""
        text = self.store.document_text(source)
        if text is None:
            raise InputError(f"no document '{source}' in the index; see `rag status` for what is there")
        return text

    def status(self) -> dict:
        s = self.store
        return {"data_dir": str(self.settings.data_dir), "chroma": s.location, "collection": self.settings.collection,
                "documents": s.docs.count(), "chunks": s.chunks.count(), "fingerprint": s.stored_fingerprint(),
                "settings_fingerprint": self.fingerprint(), "answer_mode": self.settings.effective_mode()}

    # -- questions -----------------------------------------------------------------------------
    def ask(self, question: str, history: list[dict] | None = None, *, top_k: int | None = None,
            mode: str | None = None) -> Answer:
        """Answer `question` (history: earlier turns as [{"role": "user"|"assistant", "content": …}])."""
        final = None
        for item in self.stream(question, history, top_k=top_k, mode=mode):
            if isinstance(item, Answer):
                final = item
        assert final is not None
        return final

    def stream(self, question: str, history: list[dict] | None = None, *, top_k: int | None = None,
               mode: str | None = None) -> Iterator[str | Answer]:
        """Yield text deltas as the answer is produced, then the final `Answer`."""
        question = (question or "").strip()
        if not question:
            raise InputError("empty question: type a question about your documents")
        mode = mode or self.settings.effective_mode()
        t0 = time.perf_counter()
        self.store.check_fingerprint()
        timings: dict[str, float] = {}
        notice = None
        query = extractive.condense(question, history)
        if mode == "llm" and history:
            from rag import llm as llm_answer

            t = time.perf_counter()
            try:
                query = llm_answer.condense(self, question, history)
            except LLMError as e:
                notice = f"LLM unavailable ({e}); showing the extractive answer instead."
                mode = "extractive"
            timings["condense_ms"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        qvec = self.embedder.embed([query])[0]
        timings["embed_ms"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        hits = self.retriever.retrieve(query, top_k or self.settings.top_k, query_vector=qvec)
        timings["retrieve_ms"] = (time.perf_counter() - t) * 1000
        if mode == "llm":
            from rag import llm as llm_answer

            try:
                t = time.perf_counter()
                result = None
                for item in llm_answer.answer(self, question, history, hits):
                    if isinstance(item, str):
                        yield item
                    else:
                        result = item
                timings["answer_ms"] = (time.perf_counter() - t) * 1000
                timings["total_ms"] = (time.perf_counter() - t0) * 1000
                text, citations, abstained, llm_notice = result
                yield Answer(question=question, text=text, citations=citations, abstained=abstained,
                             timings_ms={k: round(v, 2) for k, v in timings.items()}, mode="llm", notice=llm_notice,
                             retrieved=[h.as_dict() for h in hits])
                return
            except LLMError as e:
                notice = f"LLM unavailable ({e}); showing the extractive answer instead."
                yield "\n\n"
        t = time.perf_counter()
        text, citations, abstained, support = self._extract(question, query, hits, qvec)
        timings["answer_ms"] = (time.perf_counter() - t) * 1000
        timings["total_ms"] = (time.perf_counter() - t0) * 1000
        yield from _pieces(text)
        yield Answer(question=question, text=text, citations=citations, abstained=abstained,
                     timings_ms={k: round(v, 2) for k, v in timings.items()}, mode="extractive", notice=notice,
                     support=round(support, 4),
                     retrieved=[h.as_dict() for h in hits])

    def _extract(self, question: str, query: str, hits, qvec):
        """(text, citations, abstained, support) from the retrieved chunks' sentences."""
        sents = extractive.candidates(hits, self.store.document_text)
        if not sents:
            text, cites = extractive.abstain([])
            return text, cites, True, 0.0
        svecs = self._embed_cached([s.text for s in sents])
        if query != question:  # a follow-up: lean on this turn's words, keep some of the condensed query
            qvec = 0.7 * self.embedder.embed([question])[0] + 0.3 * qvec
            qvec /= max(float(np.linalg.norm(qvec)), 1e-12)
        extractive.score(question, query, sents, qvec, svecs, self.retriever.bm25(refresh=False).idf)
        support = extractive.support(sents, max((h.vector_score or 0.0) for h in hits))
        chosen = extractive.select(sents, self.settings.max_sentences)
        if support < self.settings.abstain_threshold:
            text, cites = extractive.abstain(chosen[:2])
            return text, cites, True, support
        text, cites = extractive.compose(question, extractive.with_context(chosen, sents))
        return text, cites, False, support

    def _embed_cached(self, texts: list[str]):
        """Sentence vectors, cached across questions (the same chunks come back often)."""
        with self._cache_lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vec_cache))
        if missing:
            vecs = self.embedder.embed(missing)
            with self._cache_lock:
                for t, v in zip(missing, vecs):
                    self._vec_cache[t] = v
                while len(self._vec_cache) > _VEC_CACHE_SIZE:
                    self._vec_cache.pop(next(iter(self._vec_cache)))
        with self._cache_lock:
            return np.stack([self._vec_cache[t] for t in texts])

    # -- llama-index ---------------------------------------------------------------------------
    def as_retriever(self):
        from rag.llama import AssistantRetriever

        return AssistantRetriever(self)

    def as_query_engine(self):
        """A llama-index `BaseQueryEngine`; its Response carries source_nodes and `metadata["citations"]`."""
        from rag.llama import AssistantQueryEngine

        return AssistantQueryEngine(self)


def _pieces(text: str) -> Iterator[str]:
    """Split text into word-sized deltas so UIs can render it progressively."""
    start = 0
    for i, ch in enumerate(text):
        if ch == " " and i - start >= 12:
            yield text[start:i + 1]
            start = i + 1
    if start < len(text):
        yield text[start:]
