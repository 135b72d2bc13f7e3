"""`Assistant`: builds the parts (store, embedder, retriever, answerers) and runs a question through them.

This is the public entry point for the command line, the web app, the HTTP APIs, the eval harness and
anyone embedding the engine. It owns one Chroma client, one embedder, one retriever and one answerer
per mode, created on first use and shared by threads (concurrent chats). `stream` yields typed events
(`TextDelta`, `Notice`, then `Final` with the Answer and its timings); `ask` is the same, finished.
Left out: multi-user separation of indexes (use one `collection` or `data_dir` per user).
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from rag.answering import Draft, Evidence, ExtractiveAnswerer
from rag.answering.extractive import candidates
from rag.chunking import CHUNKER_VERSION, STRUCTURE_VERSION
from rag.embeddings import Embedder, OnnxMiniLM, as_embedder
from rag.errors import ConfigError, InputError, LLMError
from rag.hashing import sha256_file
from rag.ingest import Progress, ingest
from rag.retrieval import HybridRetriever
from rag.settings import Settings
from rag.store import DocRecord, Store
from rag.types import (
    Answer,
    Citation,
    DocumentInfo,
    Final,
    IngestReport,
    Notice,
    PageImage,
    RetrievedChunk,
    StreamEvent,
    TextDelta,
)


def seeds_path() -> Path:
    """The default corpus: inside the installed package, or the repository's seeds/ in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "seeds", here.parent / "seeds"):
        if candidate.is_dir() and any(candidate.iterdir()):
            return candidate
    raise InputError("the seed corpus is missing from this installation; reinstall the package")


class Timings(dict):
    """Milliseconds per stage, recorded in one place: `with timings.stage("embed"): ...`."""

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self[f"{name}_ms"] = round(self.get(f"{name}_ms", 0.0) + (time.perf_counter() - t) * 1000, 2)


class Assistant:
    """Ask questions over your documents and get answers built from exact, cited sentences.

    >>> a = Assistant(data_dir="index"); a.ingest(["seeds/"]); a.ask("What did Ilham Aliyev promise?").text
    """

    def __init__(self, settings: Settings | None = None, *, embed_model=None, llm=None, **overrides):
        """`embed_model`: an `Embedder` or any llama-index `BaseEmbedding` (default: the local MiniLM);
        `llm`: a llama-index LLM (default: the OpenAI-compatible endpoint in settings, when set)."""
        if settings is None:
            settings = Settings(**overrides)
        elif overrides:
            settings = settings.model_copy(update=overrides)
        self.settings = settings
        self._embedder: Embedder | None = as_embedder(embed_model) if embed_model is not None else None
        self._llm = llm
        self._store: Store | None = None
        self._retriever: HybridRetriever | None = None
        self._answerers: dict[str, object] = {}
        self._init_lock = threading.RLock()

    # -- collaborators, created on first use ---------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            with self._init_lock:
                if self._embedder is None:
                    self._embedder = OnnxMiniLM(cache_dir=self.settings.data_dir / "models",
                                                threads=self.settings.embed_threads,
                                                embed_batch_size=self.settings.embed_batch_size)
        return self._embedder

    def fingerprint(self) -> dict[str, str]:
        s = self.settings
        return {"rag_embed_model": self.embedder.fingerprint,
                "rag_chunker": f"{CHUNKER_VERSION}+{STRUCTURE_VERSION}/size={s.chunk_size}/overlap={s.chunk_overlap}"}

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
            from rag.answering.llm import make_llm

            if not self.settings.llm_base_url:
                raise ConfigError("answer mode 'llm' needs an endpoint: set RAG_LLM_BASE_URL (and RAG_LLM_MODEL)")
            self._llm = make_llm(self.settings)
        return self._llm

    @property
    def retriever(self) -> HybridRetriever:
        if self._retriever is None:
            with self._init_lock:
                if self._retriever is None:
                    self._retriever = HybridRetriever(self.store, self.embedder, self.settings)
        return self._retriever

    def answerer(self, mode: str):
        """The answerer for `mode` ("extractive" or "llm"), each given its collaborators."""
        with self._init_lock:
            if mode not in self._answerers:
                if mode == "llm":
                    from rag.answering import LLMAnswerer

                    self._answerers[mode] = LLMAnswerer(self.llm, self.embedder, self.settings)
                elif mode == "extractive":
                    self._answerers[mode] = ExtractiveAnswerer(self.embedder, self.settings)
                else:
                    raise InputError(f"unknown answer mode '{mode}': use extractive or llm")
            return self._answerers[mode]

    # -- documents -----------------------------------------------------------------------------
    def ingest(self, paths: Sequence[str | Path], *, rebuild: bool = False, prune: bool = True,
               progress: Progress | None = None) -> IngestReport:
        """Add or update files/folders; unchanged files cost nothing; see `rag.ingest`."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        if rebuild:
            with self.store.writing():
                self.store.reset()
        report = ingest(paths, self.store, self.embedder, self.settings, prune=prune, progress=progress)
        self.retriever.invalidate()
        return report

    def ensure_seeded(self, progress: Progress | None = None) -> IngestReport | None:
        """Ingest the seed corpus when the index is empty; None when there was something already."""
        with self.store.reading():
            self.store.check_fingerprint()
            if self.store.count_documents() > 0:
                return None
        return self.ingest([seeds_path()], progress=progress)

    def documents(self) -> list[DocumentInfo]:
        with self.store.reading():
            records = self.store.registry()
        return [DocumentInfo(source=r.source, title=r.title, chunks=r.chunks, chars=r.chars, sha256=r.sha256,
                             ingested_at=r.ingested_at, path=r.path, pages=len(r.pages))
                for _, r in sorted(records.items())]

    def delete(self, source: str) -> bool:
        """Remove a document and its chunks; False when it was not indexed."""
        with self.store.writing():
            removed = self.store.delete_document(source)
        self.retriever.invalidate()
        return removed

    def document_text(self, source: str, sha256: str | None = None) -> str:
        """The extracted text that citation offsets index into (the current version, or version `sha256`)."""
        with self.store.reading():
            text = self.store.document_text(source, sha256)
        if text is None:
            what = f"version {sha256[:12]} of '{source}'" if sha256 else f"document '{source}'"
            raise InputError(f"no {what} in the index; see `rag status --docs` for what is there")
        return text

    def page_image(self, source: str, page: int, quote: str | None = None) -> PageImage:
        """Page `page` (1-based) of PDF document `source` as a PNG, with the pixel boxes of `quote` on it
        (`rag.pages.render_page`); read from the file the document was ingested from."""
        from rag.pages import render_page

        with self.store.reading():
            rec = self.store.registry().get(source)
        if rec is None:
            raise InputError(f"no document '{source}' in the index; see `rag status --docs` for what is there")
        path = Path(rec.path)
        if path.suffix.lower() != ".pdf":
            raise InputError(f"'{source}' is not a PDF: page images exist for PDF documents only")
        try:
            st = path.stat()
            same = _file_sha(str(path), st.st_mtime_ns, st.st_size) == rec.sha256
        except OSError:
            raise InputError(f"the file of '{source}' is gone ({path.name} was moved or deleted); "
                             "ingest it again from where it is now") from None
        if not same:
            raise InputError(f"the file of '{source}' changed since it was ingested; ingest it again")
        return render_page(path, page, quote=quote)

    def status(self) -> dict:
        s = self.store
        with s.reading():
            return {"data_dir": str(self.settings.data_dir), "chroma": s.location,
                    "collection": self.settings.collection, "documents": s.count_documents(),
                    "chunks": s.count_chunks(), "fingerprint": s.stored_fingerprint(),
                    "settings_fingerprint": s.fingerprint, "answer_mode": self.settings.effective_mode()}

    # -- questions -----------------------------------------------------------------------------
    def ask(self, question: str, history: list[dict] | None = None, *, top_k: int | None = None,
            mode: str | None = None) -> Answer:
        """Answer `question` (history: earlier turns as [{"role": "user"|"assistant", "content": …}])."""
        for event in self.stream(question, history, top_k=top_k, mode=mode):
            if isinstance(event, Final):
                return event.answer
        raise AssertionError("the stream ends with a Final event")

    def search(self, query: str, top_k: int | None = None) -> list[RetrievedChunk]:
        """The retrieved passages for `query`, best first (hybrid retrieval, no answering)."""
        query = (query or "").strip()
        if not query:
            raise InputError("empty query: type what to search for")
        with self.store.reading():
            self.store.check_fingerprint()
            return [h.retrieved() for h in self.retriever.retrieve(query, top_k or self.settings.top_k)]

    def stream(self, question: str, history: list[dict] | None = None, *, top_k: int | None = None,
               mode: str | None = None) -> Iterator[StreamEvent]:
        """Yield `TextDelta`s as the answer is produced, `Notice`s, then `Final(answer)`."""
        question = (question or "").strip()
        if not question:
            raise InputError("empty question: type a question about your documents")
        timings = Timings()
        with timings.stage("total"):
            answerer = self.answerer(mode or self.settings.effective_mode())
            notice = None
            with timings.stage("condense"):
                try:
                    query = answerer.condense(question, history)
                except LLMError as e:
                    notice = _fallback_notice(e)
                    answerer, query = self.answerer("extractive"), self.answerer("extractive").condense(question, history)
            if notice:
                yield Notice(notice)
            evidence = self._evidence(query, top_k, timings)
            try:
                with timings.stage("answer"):
                    draft: Draft = yield from answerer.answer(question, query, evidence)
            except LLMError as e:
                notice = _fallback_notice(e)
                yield Notice(notice)
                yield TextDelta("\n\n")
                answerer = self.answerer("extractive")
                with timings.stage("answer"):
                    draft = yield from answerer.answer(question, query, evidence)
        yield Final(Answer(question=question, text=draft.text, citations=self._paged(draft.citations),
                           abstained=draft.abstained,
                           timings_ms=dict(timings), mode=answerer.mode, support=draft.support,
                           notice="; ".join(n for n in (notice, draft.notice) if n) or None,
                           retrieved=[h.retrieved() for h in evidence.hits]))

    def _paged(self, citations: list[Citation]) -> list[Citation]:
        """Each citation of a paged document with its page (of the quote's start) and whether OCR read it."""
        if not citations:
            return citations
        with self.store.reading():
            records = self.store.registry()  # cached per index generation: no Chroma call per answer
        return [_with_page(c, records.get(c.source)) for c in citations]

    def evidence(self, question: str, history: list[dict] | None = None, *,
                 top_k: int | None = None) -> tuple[str, Evidence]:
        """The extractive answerer's retrieval query for this turn and what retrieval found (for diagnostics and
        for fitting the ranker: eval/fit_ranker.py)."""
        query = self.answerer("extractive").condense(question, history)
        return query, self._evidence(query, top_k, Timings())

    def _evidence(self, query: str, top_k: int | None, timings: Timings) -> Evidence:
        """Retrieval and the candidate sentences, read from one consistent index."""
        with self.store.reading():
            self.store.check_fingerprint()
            with timings.stage("embed"):
                qvec = self.embedder.embed([query])[0]
            with timings.stage("retrieve"):
                hits = self.retriever.retrieve(query, top_k or self.settings.top_k, query_vector=qvec)
                sentences = candidates(hits, self.store.document_text)
            return Evidence(hits, sentences, qvec, self.retriever.bm25(refresh=False).idf)

    # -- llama-index ---------------------------------------------------------------------------
    def as_retriever(self):
        from rag.llama import AssistantRetriever

        return AssistantRetriever(self)

    def as_query_engine(self):
        """A llama-index `BaseQueryEngine`; its Response carries source_nodes and `metadata["citations"]`."""
        from rag.llama import AssistantQueryEngine

        return AssistantQueryEngine(self)


@functools.lru_cache(maxsize=64)
def _file_sha(path: str, mtime_ns: int, size: int) -> str:
    """sha256 of a file, cached while its modification time and size stay the same."""
    return sha256_file(Path(path))


def _with_page(c: Citation, rec: DocRecord | None) -> Citation:
    if rec is None or not rec.pages or (c.sha256 and c.sha256 != rec.sha256):
        return c
    page = max(1, bisect.bisect_right(rec.pages, c.start))
    return c.model_copy(update={"page": page, "ocr": page in rec.ocr_pages})


def _fallback_notice(e: LLMError) -> str:
    return f"LLM unavailable ({e}); showing the extractive answer instead."
