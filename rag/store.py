"""Chroma storage: chunks (vectors + text + flat metadata) and a registry of documents and their texts.

Embedded `PersistentClient` under `data_dir/chroma` by default, `HttpClient` when `chroma_host` is set.
The chunk collection uses cosine space and records the index fingerprint (embedding model, chunker
settings, storage schema); a mismatch is refused. Writes are upserts in batches no larger than
`get_max_batch_size()`.

Exact at every instant: a document *version* is its sha256. Chunk ids and stored texts are keyed by
it, and a registry record ("pointer") names each document's current version. An update writes the new
text, then the new chunks, then moves the pointer, then deletes the old version; a delete removes the
pointer first. Readers use only chunks of current versions, and every chunk's offsets index into the
text of its own version, so a `kill -9` at any point leaves nothing inexact (leftovers are cleaned by
the next write, which finds the "pending" marker the interrupted one left). Several documents are written
in one commit, step by step for all of them (markers, texts, chunks, pointers, removals): ~7 round trips a
group instead of 6 a document; old versions are deleted by id (the pointer names them) unless a marker says
an interrupted writer may have left others.

Many processes, one index: writers serialise on `ingest.lock` (the holder's pid is written into it, so
a waiting process can say who it waits for). Each commit takes `index.lock` exclusively and bumps a
generation; readers hold it shared and reopen their client when the generation moved (Chroma's
embedded client keeps its vector index in memory and would otherwise serve stale or missing ids). In
server mode the generation lives in the collection metadata and only in-memory indexes follow it.
Left out: cross-process write serialisation in server mode (the server orders calls; writes are
idempotent per version), multi-tenant databases and auth for the Chroma server.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import IndexMismatchError, RagError, StoreError
from rag.settings import Settings
from rag.types import ChunkMeta

SCHEMA = "2"  # storage layout; part of the fingerprint (1 = v0.1: unversioned texts)
_FP_KEYS = ("rag_embed_model", "rag_chunker", "rag_schema")
_REGISTRY_VEC = [1.0]  # the registry stores text, not vectors; Chroma wants one anyway
_GEN_KEY = "rag_generation"
log = logging.getLogger("rag")


@dataclass(frozen=True)
class DocRecord:
    """The registry's record of one document's current version."""

    source: str
    sha256: str
    title: str = ""
    chunks: int = 0
    chars: int = 0
    ingested_at: str = ""
    path: str = ""
    root: str = ""
    pages: tuple[int, ...] = ()  # paged formats: page i+1 starts at text offset pages[i]
    ocr_pages: tuple[int, ...] = ()  # 1-based pages whose text came from OCR

    def meta(self) -> dict[str, Any]:
        """Flat Chroma metadata; page starts and OCR pages as compact JSON strings."""
        return {"kind": "doc", "source": self.source, "sha256": self.sha256, "title": self.title,
                "chunks": self.chunks, "chars": self.chars, "ingested_at": self.ingested_at, "path": self.path,
                "root": self.root, "pages": _ints_json(self.pages), "ocr_pages": _ints_json(self.ocr_pages)}

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> DocRecord:
        """The record `meta()` wrote (records written before pages existed have none)."""
        fields = {k: v for k, v in meta.items() if k in cls.__dataclass_fields__}
        for key in ("pages", "ocr_pages"):
            fields[key] = tuple(json.loads(fields.get(key) or "[]"))
        return cls(**fields)


@dataclass(frozen=True)
class DocWrite:
    """One document version to store: its record, extracted text, and its chunks (ids, vectors, texts, metadata)."""

    record: DocRecord
    text: str
    ids: Sequence[str]
    embeddings: Sequence[Sequence[float]]
    texts: Sequence[str]
    metas: Sequence[ChunkMeta]


def _ints_json(values: Sequence[int]) -> str:
    return json.dumps(list(values), separators=(",", ":"))


def _doc_id(source: str) -> str:
    return f"d:{source}"


def _text_id(source: str, sha: str) -> str:
    return f"t:{sha}:{source}"


def _pending_id(source: str) -> str:
    return f"p:{source}"


def chunk_id(source: str, sha: str, index: int) -> str:
    """Deterministic per (document, version, position): a new version never overwrites the old one's chunks."""
    return f"{hashlib.sha1(source.encode()).hexdigest()[:16]}-{sha[:12]}-{index:05d}"


def _guard(what: str):
    """Turn Chroma's and the network's exceptions into one-line `StoreError`s."""
    def wrap(fn):
        @functools.wraps(fn)
        def inner(self, *args, **kwargs):
            try:
                return fn(self, *args, **kwargs)
            except RagError:
                raise
            except Exception as e:  # chromadb, httpx and the Rust bindings raise many types
                first = (str(e).strip().splitlines() or [""])[0][:200]
                hint = ("is the Chroma server running? (RAG_CHROMA_HOST/RAG_CHROMA_PORT)" if self.settings.chroma_host
                        else "check RAG_DATA_DIR")
                raise StoreError(f"Chroma at {self.location} failed while {what} ({type(e).__name__}: {first}); "
                                 f"{hint}") from None
        return inner
    return wrap


class Store:
    def __init__(self, settings: Settings, fingerprint: dict[str, str]):
        self.settings = settings
        self.fingerprint = {**fingerprint, "rag_schema": SCHEMA}
        self.embedded = not settings.chroma_host
        self.location = (str(settings.data_dir / "chroma") if self.embedded
                         else f"http://{settings.chroma_host}:{settings.chroma_port}")
        self._reopen_lock = threading.Lock()
        self._cache: dict[str, Any] = {}  # generation-keyed read caches (registry)
        self._open()
        self._seen_gen = self.generation()

    @_guard("connecting")
    def _open(self) -> None:
        import chromadb

        chroma_settings = chromadb.Settings(anonymized_telemetry=False, allow_reset=False)
        if self.embedded:
            path = self.settings.data_dir / "chroma"
            path.mkdir(parents=True, exist_ok=True)
            self.client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        else:
            self.client = chromadb.HttpClient(host=self.settings.chroma_host, port=self.settings.chroma_port,
                                              settings=chroma_settings)
            self.client.heartbeat()
        self.max_batch = int(self.client.get_max_batch_size())
        self._chunks = self._docs = None

    def _reopen(self) -> None:
        """A fresh embedded client: drops Chroma's per-path cached system so its in-memory index is reloaded."""
        from chromadb.api.shared_system_client import SharedSystemClient

        with SharedSystemClient._refcount_lock:
            SharedSystemClient._identifier_to_system.pop(self.client._identifier, None)
            SharedSystemClient._identifier_to_refcount.pop(self.client._identifier, None)
        self._open()

    # -- collections ---------------------------------------------------------------------------
    @property
    def chunks(self):
        if self._chunks is None:
            self._chunks = self.client.get_or_create_collection(
                self.settings.collection, embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}}, metadata=dict(self.fingerprint))
        return self._chunks

    @property
    def docs(self):
        if self._docs is None:
            self._docs = self.client.get_or_create_collection(f"{self.settings.collection}__docs", embedding_function=None)
        return self._docs

    @_guard("reading the fingerprint")
    def stored_fingerprint(self) -> dict[str, str]:
        meta = self.chunks.metadata or {}
        return {k: str(meta.get(k, "")) for k in _FP_KEYS}

    def check_fingerprint(self) -> None:
        """Refuse to read or write an index built with other settings (empty indexes adopt ours)."""
        stored = self.stored_fingerprint()
        if stored == self.fingerprint:
            return
        if self.count_chunks() == 0 and self.count_documents() == 0:
            self._set_collection_meta()
            return
        diff = ", ".join(f"{k}: index has '{stored[k] or '(none)'}', settings say '{self.fingerprint[k]}'"
                         for k in _FP_KEYS if stored[k] != self.fingerprint[k])
        raise IndexMismatchError(f"the index at {self.location} (collection '{self.settings.collection}') was built "
                                 f"with other settings ({diff}); re-ingest with `rag ingest PATH --rebuild`, "
                                 "or change the settings back")

    def _set_collection_meta(self, generation: str | None = None) -> None:
        meta = dict(self.fingerprint)
        if generation:
            meta[_GEN_KEY] = generation
        self.chunks.modify(metadata=meta)

    # -- generations, locks --------------------------------------------------------------------
    def _path(self, name: str) -> Path:
        return Path(self.settings.data_dir) / name

    @property
    def seen_generation(self) -> str:
        """The generation this process last read or wrote (what its in-memory indexes should follow)."""
        return self._seen_gen

    @_guard("reading the index generation")
    def generation(self) -> str:
        """Changes with every committed write, by any process."""
        if self.embedded:
            try:
                return self._path("chroma/generation").read_text()
            except FileNotFoundError:
                return ""
        _ = self.chunks  # created on first use; a fresh handle below reads the server's current metadata
        return str((self.client.get_collection(self.settings.collection).metadata or {}).get(_GEN_KEY, ""))

    def _bump_generation(self) -> None:
        gen = uuid.uuid4().hex
        if self.embedded:
            tmp = self._path(f"chroma/generation.{os.getpid()}")
            tmp.write_text(gen)
            os.replace(tmp, self._path("chroma/generation"))
        else:
            self._set_collection_meta(gen)
        self._seen_gen = gen

    @contextlib.contextmanager
    def _flock(self, name: str, mode: int) -> Iterator[None]:
        with open(self._path(name), "a+") as f:  # a new open file per use: flock then excludes threads too
            fcntl.flock(f, mode)
            yield

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Hold the index steady for a read, reopening first if another process committed since we looked."""
        if not self.embedded:
            self._refresh_server_generation()
            yield
            return
        while True:
            with self._flock("index.lock", fcntl.LOCK_SH):
                if self.generation() == self._seen_gen:
                    yield
                    return
            with self._flock("index.lock", fcntl.LOCK_EX), self._reopen_lock:
                gen = self.generation()
                if gen != self._seen_gen:
                    self._reopen()
                    self._seen_gen = gen

    def _refresh_server_generation(self) -> None:
        gen = self.generation()
        if gen != self._seen_gen:
            self._seen_gen = gen
            self._chunks = self._docs = None

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """One writer at a time across processes (a long hold: a whole ingest); cleans what a killed one left.

        A writer that has to wait says so (logger "rag", warning) with the holder's pid.
        """
        if not self.embedded:
            yield
            return
        with open(self._path("ingest.lock"), "a+") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip() or "unknown"
                log.warning("waiting for the index write lock (%s), held by pid %s", self._path("ingest.lock"), holder)
                fcntl.flock(f, fcntl.LOCK_EX)
            f.seek(0)
            f.truncate()
            f.write(str(os.getpid()))
            f.flush()
            try:
                self.repair()
                yield
            finally:
                f.seek(0)
                f.truncate()
                fcntl.flock(f, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def commit(self) -> Iterator[None]:
        """Exclusive for the Chroma writes themselves; readers see all of it or none of it."""
        if not self.embedded:
            yield
            self._bump_generation()
            return
        with self._flock("index.lock", fcntl.LOCK_EX), self._reopen_lock:
            if self.generation() != self._seen_gen:
                self._reopen()
            yield
            self._bump_generation()

    # -- writes (inside writing(); each public one commits) ------------------------------------
    def _batched(self, n: int) -> Iterator[slice]:
        for i in range(0, n, self.max_batch):
            yield slice(i, i + self.max_batch)

    @_guard("writing documents")
    def write_documents(self, docs: Sequence[DocWrite]) -> None:
        """Several documents in one commit and a few round trips, in the order that keeps every reader exact:
        pending markers for all, then their texts, their chunks, their pointers, the old versions' removal, and
        last the markers. A kill at any step leaves markers that the next writer's `repair` acts on."""
        sources = [d.record.source for d in docs]
        if len(set(sources)) != len(sources):
            raise ValueError("write_documents: each source at most once per call")
        if not docs:
            return
        with self.commit():
            had_pending, previous = self._write_state(sources)
            self._upsert_docs([_pending_id(s) for s in sources], [""] * len(docs),
                              [{"kind": "pending", "source": s} for s in sources])
            self._upsert_docs([_text_id(d.record.source, d.record.sha256) for d in docs], [d.text for d in docs],
                              [{"kind": "text", "source": d.record.source, "sha256": d.record.sha256} for d in docs])
            ids = [i for d in docs for i in d.ids]
            vectors = [list(map(float, e)) for d in docs for e in d.embeddings]
            texts = [t for d in docs for t in d.texts]
            metas = [encode_meta(m) for d in docs for m in d.metas]
            for s in self._batched(len(ids)):
                self.chunks.upsert(ids=ids[s], embeddings=vectors[s], documents=texts[s], metadatas=metas[s])
            self._upsert_docs([_doc_id(s) for s in sources], [""] * len(docs), [d.record.meta() for d in docs])
            self._drop_previous(docs, had_pending, previous)

    def write_document(self, record: DocRecord, text: str, ids: Sequence[str], embeddings: Sequence[Sequence[float]],
                       texts: Sequence[str], metas: Sequence[ChunkMeta]) -> None:
        """One document (see `write_documents`)."""
        self.write_documents([DocWrite(record, text, ids, embeddings, texts, metas)])

    def _upsert_docs(self, ids: list[str], documents: list[str], metas: list[dict[str, Any]]) -> None:
        for s in self._batched(len(ids)):
            self.docs.upsert(ids=ids[s], embeddings=[_REGISTRY_VEC] * len(ids[s]), documents=documents[s],
                             metadatas=metas[s])

    def _write_state(self, sources: list[str]) -> tuple[set[str], dict[str, DocRecord]]:
        """(sources with a pending marker, source → current record) by primary key: one read for the group."""
        got = self.docs.get(ids=[_pending_id(s) for s in sources] + [_doc_id(s) for s in sources],
                            include=["metadatas"])
        pending = {m["source"] for i, m in zip(got["ids"], got["metadatas"]) if m and i.startswith("p:")}
        records = {m["source"]: DocRecord.from_meta(m) for i, m in zip(got["ids"], got["metadatas"])
                   if m and i.startswith("d:")}
        return pending, records

    def _drop_previous(self, docs: Sequence[DocWrite], had_pending: set[str], previous: dict[str, DocRecord]) -> None:
        """Delete each document's old version, then the markers. Without a marker before this write, a source
        holds exactly its pointer's version (every write sets the marker first and clears it last), so the old
        chunks and text are deleted by id; with one (an interrupted writer's leftovers), by metadata scan."""
        chunk_ids: list[str] = []
        text_ids: list[str] = []
        for d in docs:
            src, sha = d.record.source, d.record.sha256
            old = previous.get(src)
            if src in had_pending or (old is not None and old.sha256 != sha and not old.chunks):
                self._drop_other_versions(src, sha, marker=False)
            elif old is not None and old.sha256 != sha:
                chunk_ids += [chunk_id(src, old.sha256, i) for i in range(old.chunks)]
                text_ids.append(_text_id(src, old.sha256))
        for s in self._batched(len(chunk_ids)):
            self.chunks.delete(ids=chunk_ids[s])
        if text_ids:
            self.docs.delete(ids=text_ids)
        self.docs.delete(ids=[_pending_id(d.record.source) for d in docs])

    @_guard("deleting a document")
    def delete_document(self, source: str) -> bool:
        """Pointer first (readers stop using it at once), then chunks and texts; False when not indexed."""
        with self.commit():
            had_pending, previous = self._write_state([source])
            rec = previous.get(source)
            if rec is None:
                return False
            self.docs.upsert(ids=[_pending_id(source)], embeddings=[_REGISTRY_VEC], documents=[""],
                             metadatas=[{"kind": "pending", "source": source}])
            self.docs.delete(ids=[_doc_id(source)])
            if source in had_pending or not rec.chunks:
                self._drop_other_versions(source, None)
                return True
            for s in self._batched(rec.chunks):  # the only version stored (see `_drop_previous`): by id
                self.chunks.delete(ids=[chunk_id(source, rec.sha256, i) for i in range(rec.chunks)[s]])
            self.docs.delete(ids=[_text_id(source, rec.sha256)])
            self.docs.delete(ids=[_pending_id(source)])
            return True

    def _drop_other_versions(self, source: str, keep: str | None, marker: bool = True) -> None:
        """Delete the source's chunks and texts of every version but `keep`, then (`marker`) its pending marker."""
        where: dict = {"source": source} if keep is None else {"$and": [{"source": source}, {"doc_sha": {"$ne": keep}}]}
        self.chunks.delete(where=where)
        texts = self.docs.get(where={"$and": [{"kind": "text"}, {"source": source}]}, include=["metadatas"])
        stale = [i for i, m in zip(texts["ids"], texts["metadatas"]) if keep is None or (m or {}).get("sha256") != keep]
        if stale:
            self.docs.delete(ids=stale)
        if marker:
            self.docs.delete(ids=[_pending_id(source)])

    @_guard("cleaning up after an interrupted write")
    def repair(self) -> list[str]:
        """Finish what an interrupted (killed) writer left: keep each pending source's current version only."""
        pending = self.docs.get(where={"kind": "pending"}, include=["metadatas"])
        sources = [(m or {}).get("source", "") for m in pending["metadatas"]]
        if not sources:
            return []
        current = self.registry()
        with self.commit():
            for source in sources:
                rec = current.get(source)
                self._drop_other_versions(source, rec.sha256 if rec else None)
        return sources

    @_guard("dropping the index")
    def reset(self) -> None:
        """Drop both collections (for --rebuild)."""
        with self.commit():
            for name in (self.settings.collection, f"{self.settings.collection}__docs"):
                with contextlib.suppress(Exception):  # absent already
                    self.client.delete_collection(name)
            self._chunks = self._docs = None

    # -- reads ---------------------------------------------------------------------------------
    @_guard("reading the document registry")
    def registry(self) -> dict[str, DocRecord]:
        """source → its current version's record (cached per generation)."""
        gen = self._seen_gen
        cached = self._cache.get("registry")
        if cached and cached[0] == gen:
            return cached[1]
        got = self.docs.get(where={"kind": "doc"}, include=["metadatas"])
        out = {m["source"]: DocRecord.from_meta(m) for m in got["metadatas"] if m}
        self._cache["registry"] = (gen, out)
        return out

    def current_sha(self, source: str) -> str | None:
        rec = self.registry().get(source)
        return rec.sha256 if rec else None

    @_guard("reading a document")
    def document_text(self, source: str, sha256: str | None = None) -> str | None:
        """The extracted text of `source` (its current version, or the version `sha256` while it is stored)."""
        sha = sha256 or self.current_sha(source)
        if not sha:
            return None
        got = self.docs.get(ids=[_text_id(source, sha)], include=["documents"])
        return got["documents"][0] if got["ids"] else None

    @_guard("counting")
    def count_chunks(self) -> int:
        return self.chunks.count()

    def count_documents(self) -> int:
        return len(self.registry())

    def _is_current(self, meta: ChunkMeta) -> bool:
        return self.current_sha(meta.source) == meta.doc_sha

    @_guard("reading chunks")
    def chunk_ids_for(self, source: str) -> list[str]:
        return self.chunks.get(where={"source": source}, include=[])["ids"]

    @_guard("reading chunks")
    def all_chunks(self) -> tuple[list[str], list[str], list[ChunkMeta]]:
        """Every current chunk's id, text and metadata (paged, for the BM25 index)."""
        total = self.chunks.count()
        ids: list[str] = []
        texts: list[str] = []
        metas: list[ChunkMeta] = []
        for offset in range(0, total, self.max_batch):
            got = self.chunks.get(include=["documents", "metadatas"], limit=self.max_batch, offset=offset)
            for i, t, raw in zip(got["ids"], got["documents"], got["metadatas"]):
                m = decode_meta(raw)
                if self._is_current(m):
                    ids.append(i)
                    texts.append(t)
                    metas.append(m)
        return ids, texts, metas

    @_guard("reading chunks")
    def chunks_of(self, source: str, sha: str) -> tuple[list[str], list[str], list[ChunkMeta]]:
        """One document version's chunks (id, text, metadata) in chunk order: what an incremental BM25 index and
        BM25-only hits read, one document at a time. By their deterministic ids when the registry knows how many
        there are (a primary-key read, ~2 ms at 50k chunks), else by metadata filter (~15 ms there, growing)."""
        include = ["documents", "metadatas"]
        rec = self.registry().get(source)
        got = None
        if rec is not None and rec.sha256 == sha and rec.chunks:
            got = self.chunks.get(ids=[chunk_id(source, sha, i) for i in range(rec.chunks)], include=include)
        if got is None or len(got["ids"]) != (rec.chunks if rec else 0):
            got = self.chunks.get(where={"$and": [{"source": source}, {"doc_sha": sha}]}, include=include)
        rows = sorted((r for r in zip(got["ids"], got["documents"], map(decode_meta, got["metadatas"]))
                       if r[2].doc_sha == sha and r[2].source == source), key=lambda r: r[2].chunk_index)
        return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]

    @_guard("searching")
    def query(self, embedding: Sequence[float], k: int) -> list[tuple[str, str, ChunkMeta, float]]:
        """(id, text, metadata, cosine similarity) of current chunks, best first."""
        n = self.chunks.count()
        if n == 0:
            return []
        got = self.chunks.query(query_embeddings=[list(map(float, embedding))], n_results=min(k, n),
                                include=["documents", "metadatas", "distances"])
        rows = [(i, t, decode_meta(m), 1.0 - d) for i, t, m, d in
                zip(got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0])]
        return [r for r in rows if self._is_current(r[2])]

    @_guard("reading vectors")
    def get_embeddings(self, ids: Sequence[str]) -> dict[str, list[float]]:
        got = self.chunks.get(ids=list(ids), include=["embeddings"])
        return dict(zip(got["ids"], got["embeddings"]))


def encode_meta(meta: ChunkMeta) -> dict[str, Any]:
    """Flat Chroma metadata (str/int only; sentence spans as compact JSON)."""
    return {"source": meta.source, "title": meta.title, "doc_sha": meta.doc_sha, "chunk_index": meta.chunk_index,
            "start": meta.start, "end": meta.end, "tokens": meta.tokens,
            "sentences": json.dumps([list(s) for s in meta.sentences], separators=(",", ":")),
            "heading_path": json.dumps(list(meta.heading_path), ensure_ascii=False)}


def decode_meta(raw: dict[str, Any] | None) -> ChunkMeta:
    raw = raw or {}
    return ChunkMeta(source=str(raw.get("source", "")), title=str(raw.get("title", "")),
                     doc_sha=str(raw.get("doc_sha", "")), chunk_index=int(raw.get("chunk_index", 0)),
                     start=int(raw.get("start", 0)), end=int(raw.get("end", 0)), tokens=int(raw.get("tokens", 0)),
                     sentences=tuple(tuple(s) for s in json.loads(raw.get("sentences") or "[]")),
                     heading_path=tuple(json.loads(raw.get("heading_path") or "[]")))
