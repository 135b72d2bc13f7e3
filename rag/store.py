"""Chroma storage: a chunk collection (vectors + text + flat metadata) and a document registry.

Embedded `PersistentClient` under `data_dir/chroma` by default, `HttpClient` when `chroma_host` is set.
The chunk collection uses cosine space and records the index fingerprint (embedding model + chunker
settings) in its metadata; a mismatch is refused. The registry collection (`<name>__docs`) keeps one
record per document with its full extracted text, so citations can be checked and the BM25 index
rebuilt from Chroma alone (server mode included). Writes are upserts in batches no larger than
`get_max_batch_size()`. Writes to an embedded directory hold an exclusive file lock (Chroma is
thread-safe, not process-safe). Left out: multi-tenant databases and auth for the Chroma server.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.errors import IndexMismatchError, StoreError
from rag.settings import Settings

_FP_KEYS = ("rag_embed_model", "rag_chunker")
_REGISTRY_VEC = [1.0]  # the registry stores text, not vectors; Chroma wants one anyway


class Store:
    def __init__(self, settings: Settings, fingerprint: dict[str, str]):
        import chromadb

        self.settings = settings
        self.fingerprint = fingerprint
        chroma_settings = chromadb.Settings(anonymized_telemetry=False, allow_reset=False)
        try:
            if settings.chroma_host:
                self.client = chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port,
                                                  settings=chroma_settings)
                self.client.heartbeat()
                self.location = f"http://{settings.chroma_host}:{settings.chroma_port}"
            else:
                path = settings.data_dir / "chroma"
                path.mkdir(parents=True, exist_ok=True)
                self.client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
                self.location = str(path)
        except StoreError:
            raise
        except Exception as e:
            where = f"{settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host else str(settings.data_dir)
            raise StoreError(f"cannot open Chroma at {where} ({type(e).__name__}: {e}); "
                             "check RAG_CHROMA_HOST/RAG_CHROMA_PORT or RAG_DATA_DIR") from e
        self.max_batch = int(self.client.get_max_batch_size())
        self._chunks = None
        self._docs = None

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

    def stored_fingerprint(self) -> dict[str, str]:
        meta = self.chunks.metadata or {}
        return {k: str(meta.get(k, "")) for k in _FP_KEYS}

    def check_fingerprint(self) -> None:
        """Refuse to read or write an index built with other settings (empty indexes adopt ours)."""
        stored = self.stored_fingerprint()
        if stored == self.fingerprint:
            return
        if self.chunks.count() == 0 and self.docs.count() == 0:
            self.chunks.modify(metadata=dict(self.fingerprint))
            return
        diff = ", ".join(f"{k}: index has '{stored[k]}', settings say '{self.fingerprint[k]}'"
                         for k in _FP_KEYS if stored[k] != self.fingerprint[k])
        raise IndexMismatchError(f"the index at {self.location} (collection '{self.settings.collection}') was built "
                                 f"with other settings ({diff}); re-ingest with `rag ingest PATH --rebuild`, "
                                 "or change the settings back")

    def reset(self) -> None:
        """Drop both collections (for --rebuild)."""
        for name in (self.settings.collection, f"{self.settings.collection}__docs"):
            with contextlib.suppress(Exception):
                self.client.delete_collection(name)
        self._chunks = self._docs = None

    # -- locking -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def write_lock(self) -> Iterator[None]:
        """Exclusive across processes for an embedded directory; server mode relies on the server."""
        if self.settings.chroma_host:
            yield
            return
        lock_path = Path(self.settings.data_dir) / "write.lock"
        with open(lock_path, "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    # -- writes --------------------------------------------------------------------------------
    def _batched(self, n: int) -> Iterator[slice]:
        for i in range(0, n, self.max_batch):
            yield slice(i, i + self.max_batch)

    def upsert_chunks(self, ids: Sequence[str], embeddings: Sequence[Sequence[float]], texts: Sequence[str],
                      metadatas: Sequence[dict[str, Any]]) -> None:
        for s in self._batched(len(ids)):
            self.chunks.upsert(ids=list(ids[s]), embeddings=[list(map(float, e)) for e in embeddings[s]],
                               documents=list(texts[s]), metadatas=list(metadatas[s]))

    def put_document(self, source: str, text: str, meta: dict[str, Any]) -> None:
        self.docs.upsert(ids=[source], embeddings=[_REGISTRY_VEC], documents=[text], metadatas=[{**meta, "source": source}])

    def delete_source(self, source: str) -> int:
        """Remove a document's chunks and its registry record; returns chunks removed."""
        got = self.chunks.get(where={"source": source}, include=[])
        ids = got["ids"]
        for s in self._batched(len(ids)):
            self.chunks.delete(ids=ids[s])
        self.docs.delete(ids=[source])
        return len(ids)

    def chunk_ids_for(self, source: str) -> list[str]:
        return self.chunks.get(where={"source": source}, include=[])["ids"]

    # -- reads ---------------------------------------------------------------------------------
    def documents(self) -> dict[str, dict[str, Any]]:
        """source → registry metadata, for every document."""
        got = self.docs.get(include=["metadatas"])
        return {i: m or {} for i, m in zip(got["ids"], got["metadatas"])}

    def document_text(self, source: str) -> str | None:
        got = self.docs.get(ids=[source], include=["documents"])
        return got["documents"][0] if got["ids"] else None

    def all_chunks(self) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        """Every chunk's id, text and metadata (paged, for the BM25 index)."""
        total = self.chunks.count()
        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict[str, Any]] = []
        for offset in range(0, total, self.max_batch):
            got = self.chunks.get(include=["documents", "metadatas"], limit=self.max_batch, offset=offset)
            ids += got["ids"]
            texts += got["documents"]
            metas += got["metadatas"]
        return ids, texts, metas

    def query(self, embedding: Sequence[float], k: int, where: dict | None = None) -> list[tuple[str, str, dict, float]]:
        """(id, text, metadata, cosine similarity), best first."""
        n = self.chunks.count()
        if n == 0:
            return []
        got = self.chunks.query(query_embeddings=[list(map(float, embedding))], n_results=min(k, n), where=where,
                                include=["documents", "metadatas", "distances"])
        return [(i, t, m, 1.0 - d) for i, t, m, d in
                zip(got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0])]

    def get_chunks(self, ids: Sequence[str]) -> dict[str, tuple[str, dict]]:
        if not ids:
            return {}
        got = self.chunks.get(ids=list(ids), include=["documents", "metadatas"])
        return {i: (t, m) for i, t, m in zip(got["ids"], got["documents"], got["metadatas"])}

    def get_embeddings(self, ids: Sequence[str]) -> dict[str, list[float]]:
        got = self.chunks.get(ids=list(ids), include=["embeddings"])
        return dict(zip(got["ids"], got["embeddings"]))

    def version(self) -> tuple:
        """Changes whenever any process ingests or deletes (used to refresh in-memory indexes)."""
        docs = self.documents()
        return self.chunks.count(), tuple(sorted((s, m.get("sha256", ""), m.get("ingested_at", "")) for s, m in docs.items()))


def encode_spans(spans: Sequence[tuple[int, int]]) -> str:
    return json.dumps([list(s) for s in spans], separators=(",", ":"))


def decode_spans(value: str) -> list[tuple[int, int]]:
    return [tuple(s) for s in json.loads(value or "[]")]
