"""Sync files into the store: hash, skip unchanged, (re)chunk and embed changed ones, prune vanished ones.

A folder is walked recursively; each document's `source` is "<folder name>/<path inside it>" (a single
file: its name). A file whose sha256 matches the registry is not read further and nothing is embedded
for it. Every other file is parsed in a worker process under a time and memory budget
(`rag.budget.ParsePool`), so no file can hang or exhaust the ingest. Documents stream through in groups
of about `EMBED_GROUP` chunks, overlapped (`_Pipeline`): while the model embeds one group on a thread, the
group before is written to Chroma on another and the caller's thread parses and chunks the next; at most
`IN_FLIGHT` groups are in between, so memory stays flat however large the folder. A group's documents are
written in one commit (`Store.write_documents`), version-keyed: exact citations at every instant, and an
interrupted ingest loses nothing that was stored. A file that vanished from an ingested folder is
removed unless `prune=False`. Bad files are reported in `IngestReport.skipped` and the rest goes on.
Left out: parsing several files in parallel (the embedder already uses every core).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from rag.budget import ParsePool
from rag.chunking import chunk_text, count_tokens
from rag.errors import IngestError
from rag.hashing import sha256_file
from rag.loaders import iter_files
from rag.settings import Settings
from rag.store import DocRecord, DocWrite, Store, chunk_id
from rag.types import Chunk, ChunkMeta, Document, IngestReport, Skipped

Progress = Callable[[str, int, int], None]  # (message, done, total)
EMBED_GROUP = 256  # chunks embedded and written per step: bounds memory and makes progress visible
# Groups between chunking and stored: one being embedded, one being written. The model is the bottleneck
# (a group's write takes a fraction of a second, its embedding ~5 s: 874 pydocs chunks embed in ~16 s on 2
# cores, bench/RESULTS.md), so more only adds memory.
IN_FLIGHT = 2
# The first group is small so the model starts early: reading and chunking pydocs' 874 chunks takes ~1.3 s
# (cProfile, cost-free embedder), so a first group of 256 would leave the model idle ~0.4 s; 32 chunks still
# fill four batches of 8. (bench/bench_ingest.py without it: 0.84-0.90 at load ~1.9; with it 0.95-0.96 at
# load 4-5; the machine was never quiet for both, see bench/RESULTS.md.)
FIRST_GROUP = 32
# A group that reaches GROUP_CHARS of document text (the hostile folder's 30-60 MB texts) is embedded and
# written alone on the caller's thread, after everything in flight is stored, as before the overlap. Ordinary
# groups hold far less (256 pydocs chunks ≈ 0.2 M characters), so they never take this path.
GROUP_CHARS = 4_000_000


def _targets(paths: Iterable[str | Path], report: IngestReport, follow_links: bool) -> list[tuple[Path, str, str]]:
    """(file, source, root) for every file under the given paths; missing paths and bad links are reported."""
    out: list[tuple[Path, str, str]] = []
    for raw in paths:
        p = Path(raw).expanduser()
        if not p.exists():
            what = "a dangling symbolic link" if p.is_symlink() else "no such file or folder"
            report.skipped.append(Skipped(source=str(raw), reason=f"{raw}: {what}"))
            continue
        if p.is_file():
            out.append((p, p.name, ""))
            continue
        root = p.resolve()
        for f, reason in iter_files(root, follow_links=follow_links):
            source = f"{root.name}/{f.relative_to(root).as_posix()}"
            if reason:
                report.skipped.append(Skipped(source=source, reason=f"{source}: {reason}"))
            else:
                out.append((f, source, str(root)))
    return out


def _chunk_meta(doc: Document, chunk: Chunk) -> ChunkMeta:
    return ChunkMeta(source=doc.source, title=doc.title, doc_sha=doc.sha256, chunk_index=chunk.index,
                     start=chunk.start, end=chunk.end, sentences=chunk.sentences, tokens=count_tokens(chunk.text),
                     heading_path=chunk.heading_path)


def embed_text(doc: Document, chunk: Chunk, fits) -> str:
    """What is embedded for a chunk: its heading path, then its text (the cited text stays the chunk's alone).
    Without room in the model's window, the chunk alone. The title is not added: in a one-document corpus it
    pulls every chunk toward the same point (seed suite hit@1 0.81 → 0.76 when it was); BM25 indexes it."""
    head = " › ".join(p for p in chunk.heading_path if p)
    if not head:
        return chunk.text
    framed = f"{head}\n{chunk.text}"
    return framed if fits(framed) else chunk.text


def _changed(targets, registry: dict[str, DocRecord], report: IngestReport, pool: ParsePool, settings: Settings,
             fits, progress: Progress | None) -> Iterator[tuple[Document, list[Chunk]]]:
    """Parse and chunk each new or changed file, one at a time; unchanged and bad ones go into the report."""
    seen: set[str] = set()
    for i, (path, source, root) in enumerate(targets):
        if source in seen:
            continue
        seen.add(source)
        if progress:
            progress(f"reading {source}", i, len(targets))
        try:
            sha = sha256_file(path)
        except OSError as e:
            report.skipped.append(Skipped(source=source, reason=f"{source}: cannot read ({e.strerror or e})"))
            continue
        if source in registry and registry[source].sha256 == sha:
            report.unchanged.append(source)
            continue
        try:
            doc = pool.load(path, source, root)
        except IngestError as e:
            report.skipped.append(Skipped(source=source, reason=str(e)))
            continue
        yield doc, chunk_text(doc.text, settings.chunk_size, settings.chunk_overlap, fits=fits, sections=doc.sections)


@dataclass
class _Group:
    """Documents embedded and written together, with the texts the model embeds for their chunks."""

    docs: list[tuple[Document, list[Chunk]]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    chars: int = 0  # of the documents' texts


@dataclass
class _Stage:
    group: _Group
    vectors: Future
    write: Future | None = None


class _Pipeline:
    """Embeds one group on a thread while the group before is written on another and the caller reads the next.

    Bounded: at most `IN_FLIGHT` groups between chunking and stored, plus the one being filled. Every callback
    and report update runs on the caller's thread; an error of either thread is raised there, at the next
    `add` or `finish`. Writes run one at a time, in order, and never outlive the pipeline (`close` waits).
    """

    def __init__(self, store: Store, embedder, written: Callable[[_Group], None]):
        self.store, self.embedder, self.written = store, embedder, written
        self._embedding = ThreadPoolExecutor(1, thread_name_prefix="rag-embed")
        self._writing = ThreadPoolExecutor(1, thread_name_prefix="rag-write")
        self._stages: deque[_Stage] = deque()
        self._group = _Group()
        self._started = False  # a group was submitted (the first one is FIRST_GROUP chunks)

    def add(self, doc: Document, chunks: list[Chunk]) -> None:
        self._group.docs.append((doc, chunks))
        self._group.texts += [embed_text(doc, c, self.embedder.fits) for c in chunks]
        self._group.chars += len(doc.text)
        if self._group.chars >= GROUP_CHARS:  # huge text: alone and on this thread, as before the overlap
            self._inline()
        elif len(self._group.texts) >= (EMBED_GROUP if self._started else min(FIRST_GROUP, EMBED_GROUP)):
            self._submit()
        self._advance()

    def _inline(self) -> None:
        """Store everything in flight, then embed and write the current group here, so at most one huge text is
        held at a time, by construction. (The hostile folder's peak, its own VmHWM: 1,257 MB through the threads,
        1,132-1,260 MB this way; the 1,557 MB once seen in CI was the test's ru_maxrss counting the pytest
        session it was spawned from, see tests/test_hostile.py.)"""
        while self._stages:
            self._wait()
        group, self._group = self._group, _Group()
        self._started = True
        _write_group(self.store, group, self.embedder.embed(group.texts))
        self.written(group)

    def finish(self) -> None:
        """Embed and write what is left; return when all of it is stored."""
        self._submit()
        while self._stages:
            self._wait()

    def close(self) -> None:
        """Stop: queued work is dropped; a write under way completes (the writer lock must outlive it)."""
        self._writing.shutdown(wait=True, cancel_futures=True)
        self._embedding.shutdown(wait=False, cancel_futures=True)  # an embedding under way touches no store

    def _submit(self) -> None:
        while len(self._stages) >= IN_FLIGHT:
            self._wait()
        group, self._group = self._group, _Group()
        self._started = True
        if group.docs:
            self._stages.append(_Stage(group, self._embedding.submit(self.embedder.embed, group.texts)))

    def _advance(self) -> None:
        """Hand groups whose vectors are ready to the writer (in order); report the ones stored."""
        for st in self._stages:
            if st.write is None:
                if not st.vectors.done():
                    break
                st.write = self._writing.submit(_write_group, self.store, st.group, st.vectors.result())
        while self._stages and self._stages[0].write is not None and self._stages[0].write.done():
            st = self._stages.popleft()
            st.write.result()
            self.written(st.group)

    def _wait(self) -> None:
        self._advance()
        busy = [st.write or st.vectors for st in self._stages]
        if busy:
            wait(busy, return_when=FIRST_COMPLETED)
            self._advance()


def _write_group(store: Store, group: _Group, vectors) -> None:
    writes, row = [], 0
    for doc, chunks in group.docs:
        record = DocRecord(source=doc.source, sha256=doc.sha256, title=doc.title, chunks=len(chunks),
                           chars=len(doc.text), ingested_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                           path=doc.path, root=doc.root, pages=doc.pages, ocr_pages=doc.ocr_pages)
        writes.append(DocWrite(record, doc.text, [chunk_id(doc.source, doc.sha256, c.index) for c in chunks],
                               vectors[row:row + len(chunks)], [c.text for c in chunks],
                               [_chunk_meta(doc, c) for c in chunks]))
        row += len(chunks)
    store.write_documents(writes)


def ingest(paths: Iterable[str | Path], store: Store, embedder, settings: Settings, *, prune: bool = True,
           progress: Progress | None = None) -> IngestReport:
    """Add, update and prune (one writer at a time across processes: see `Store.writing`)."""
    t0 = time.perf_counter()
    report = IngestReport()
    with store.writing():
        with store.reading():
            store.check_fingerprint()
            registry = store.registry()
        targets = _targets(paths, report, settings.follow_symlinks)

        def written(group: _Group) -> None:
            report.texts_embedded += len(group.texts)
            for doc, chunks in group.docs:
                (report.updated if doc.source in registry else report.added).append(doc.source)
                if doc.ocr_pages:
                    report.ocr_pages[doc.source] = list(doc.ocr_pages)
                report.chunks_written += len(chunks)
                if progress:
                    progress(f"embedded {doc.source}", len(report.added) + len(report.updated), len(targets))

        pipeline = _Pipeline(store, embedder, written)
        try:
            with ParsePool(settings.parse_timeout, settings.parse_memory_mb) as pool:
                for doc, chunks in _changed(targets, registry, report, pool, settings, embedder.fits, progress):
                    pipeline.add(doc, chunks)
            pipeline.finish()
        finally:
            pipeline.close()
        if prune:
            _prune(store, registry, targets, report)
    report.seconds = time.perf_counter() - t0
    return report


def _prune(store: Store, registry: dict[str, DocRecord], targets, report: IngestReport) -> None:
    """Remove documents of the ingested folders whose files are gone (a file that is there but bad stays)."""
    roots = {root for _, _, root in targets if root}
    present = {source for _, source, _ in targets} | {s.source for s in report.skipped}
    for source, rec in registry.items():
        if rec.root in roots and source not in present and store.delete_document(source):
            report.removed.append(source)
