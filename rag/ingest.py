"""Sync files into the store: hash, skip unchanged, (re)chunk and embed changed ones, prune vanished ones.

A folder is walked recursively; each document's `source` is "<folder name>/<path inside it>" (a single
file: its name). A file whose sha256 matches the registry is not read further and nothing is embedded
for it. New chunks are written (upserts with deterministic ids) before stale ones are deleted, so an
interrupted ingest never loses what was stored. A file that vanished from an ingested folder is removed
unless `prune=False`. Bad files are reported in `IngestReport.skipped` and the rest goes on.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path

from rag.chunking import chunk_text, count_tokens
from rag.embeddings import OnnxMiniLM
from rag.errors import IngestError
from rag.loaders import iter_files, load_file
from rag.settings import Settings
from rag.store import Store, encode_spans
from rag.types import Chunk, Document, IngestReport, Skipped

Progress = Callable[[str, int, int], None]  # (message, done, total)
EMBED_GROUP = 256  # chunks embedded and written per step: bounds memory and makes progress visible


def chunk_id(source: str, index: int) -> str:
    return f"{hashlib.sha1(source.encode()).hexdigest()[:16]}-{index:05d}"


def _targets(paths: Iterable[str | Path], report: IngestReport) -> list[tuple[Path, str, str]]:
    """(file, source, root) for every file under the given paths; missing paths are reported."""
    out: list[tuple[Path, str, str]] = []
    for raw in paths:
        p = Path(raw).expanduser()
        if not p.exists():
            report.skipped.append(Skipped(source=str(raw), reason=f"{raw}: no such file or folder"))
            continue
        if p.is_file():
            out.append((p, p.name, ""))
            continue
        root = p.resolve()
        for f in iter_files(root):
            out.append((f, f"{root.name}/{f.relative_to(root).as_posix()}", str(root)))
    return out


def _chunk_metadata(doc: Document, chunk: Chunk) -> dict:
    return {"source": doc.source, "title": doc.title, "doc_sha": doc.sha256, "chunk_index": chunk.index,
            "start": chunk.start, "end": chunk.end, "sentences": encode_spans(chunk.sentences),
            "tokens": count_tokens(chunk.text)}


def ingest(paths: Iterable[str | Path], store: Store, embedder: OnnxMiniLM, settings: Settings, *,
           prune: bool = True, progress: Progress | None = None) -> IngestReport:
    t0 = time.perf_counter()
    report = IngestReport()
    store.check_fingerprint()
    registry = store.documents()
    targets = _targets(paths, report)
    pending: list[tuple[Document, list[Chunk]]] = []
    seen: set[str] = set()
    for i, (path, source, root) in enumerate(targets):
        if progress:
            progress(f"reading {source}", i, len(targets))
        if source in seen:
            continue
        seen.add(source)
        try:
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as e:
            report.skipped.append(Skipped(source=source, reason=f"{source}: cannot read ({e.strerror or e})"))
            continue
        if registry.get(source, {}).get("sha256") == sha:
            report.unchanged.append(source)
            continue
        try:
            doc = load_file(path, source, root)
        except IngestError as e:
            report.skipped.append(Skipped(source=source, reason=str(e)))
            continue
        chunks = chunk_text(doc.text, settings.chunk_size, settings.chunk_overlap, fits=embedder.fits)
        pending.append((doc, chunks))

    total = sum(len(c) for _, c in pending)
    done = 0
    with store.write_lock():
        group: list[tuple[Document, list[Chunk]]] = []
        group_size = 0
        for item in pending + [None]:  # a None flushes the last group
            if item is not None:
                group.append(item)
                group_size += len(item[1])
                if group_size < EMBED_GROUP:
                    continue
            if not group:
                break
            texts = [c.text for _, chunks in group for c in chunks]
            vectors = embedder.embed(texts)
            report.texts_embedded += len(texts)
            row = 0
            for doc, chunks in group:
                ids = [chunk_id(doc.source, c.index) for c in chunks]
                store.upsert_chunks(ids, vectors[row:row + len(chunks)], [c.text for c in chunks],
                                    [_chunk_metadata(doc, c) for c in chunks])
                row += len(chunks)
                stale = set(store.chunk_ids_for(doc.source)) - set(ids)
                if stale:
                    store.chunks.delete(ids=sorted(stale))
                store.put_document(doc.source, doc.text, {
                    "title": doc.title, "sha256": doc.sha256, "chunks": len(chunks), "chars": len(doc.text),
                    "ingested_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "path": doc.path, "root": doc.root})
                (report.updated if doc.source in registry else report.added).append(doc.source)
                report.chunks_written += len(chunks)
                done += len(chunks)
                if progress:
                    progress(f"embedded {doc.source}", done, total)
            group, group_size = [], 0
        if prune:
            roots = {root for _, _, root in targets if root}
            for source, meta in registry.items():
                if meta.get("root") in roots and source not in seen:
                    store.delete_source(source)
                    report.removed.append(source)
    report.seconds = time.perf_counter() - t0
    return report
