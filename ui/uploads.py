"""Uploaded files → `<data_dir>/uploads/<safe name>` → `Assistant.ingest`, with a report about those files only.

The uploads folder is ingested as a whole, so every upload's source is "uploads/<name>" and a file
removed from the folder leaves the index. A name is reduced to its last path component and to
[A-Za-z0-9._-] (no traversal, no hidden files, no shell surprises). A new upload with the name of an
indexed one replaces it; if the new file is rejected the previous one is put back. Rejected files
(too large, unsupported, empty, corrupt, over a parse budget) are reported with a reason and removed
from the folder; the others still go in; leftovers of an interrupted batch are cleared by the next one.
Only files the web server received as uploads are accepted (`received`): a path to any other file on
the server is refused. Each collection has its own uploads folder (`uploads_dir`). Left out: per-user upload
folders (a collection is shared by everyone on a server).
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import unicodedata
from collections.abc import Callable
from pathlib import Path, PurePosixPath, PureWindowsPath

from rag import Assistant, IngestReport, InputError, Settings, Skipped

UPLOADS = "uploads"
DEFAULT_COLLECTION = Settings.model_fields["collection"].default
MAX_NAME = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_lock = threading.Lock()  # one upload batch at a time: they share the folder and its prune


def safe_name(name: str) -> str:
    """A harmless file name keeping the extension: "../../etc/pass wd.TXT" → "pass_wd.TXT"."""
    base = PureWindowsPath(PurePosixPath(str(name).replace("\x00", "")).name).name
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    base = _UNSAFE.sub("_", base).strip("._-") or "upload"
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    ext = ext[:16]
    stem = (stem.strip("._-") or "upload")[: MAX_NAME - len(ext) - 1]
    return f"{stem}.{ext}" if ext else stem


def uploads_dir(assistant: Assistant) -> Path:
    """`<data_dir>/uploads` for the default collection ("documents"), `<data_dir>/collections/<name>/uploads`
    for another; either way the folder is named "uploads", so every upload's source is "uploads/<name>"."""
    settings = assistant.settings
    if settings.collection == DEFAULT_COLLECTION:
        return Path(settings.data_dir) / UPLOADS
    return Path(settings.data_dir) / "collections" / settings.collection / UPLOADS


def source_of(name: str) -> str:
    return f"{UPLOADS}/{name}"


def file_for_source(assistant: Assistant, source: str) -> Path | None:
    """The uploaded file behind an "uploads/<name>" source, or None for anything else."""
    if not source.startswith(f"{UPLOADS}/"):
        return None
    folder = uploads_dir(assistant).resolve()
    path = (folder / source[len(UPLOADS) + 1:]).resolve()
    return path if path.parent == folder else None


def ingest_uploads(assistant: Assistant, files: list[tuple[str, str]], progress=None, *,
                   received: Callable[[Path], bool] | None = None) -> IngestReport:
    """Copy (temp path, original name) pairs into the uploads folder and ingest them.

    `received(path)` says whether the web server received that file as an upload; when given, any other
    path (a file elsewhere on the server) refuses the whole request. The returned report lists only these
    files.
    """
    if received is not None:
        foreign = [name or Path(tmp).name for tmp, name in files if not received(Path(tmp))]
        if foreign:
            raise InputError(f"refused {', '.join(foreign)}: only files uploaded to this app in the request can be "
                             "added; send the file's contents as an upload")
    folder = uploads_dir(assistant)
    folder.mkdir(parents=True, exist_ok=True)
    with _lock:
        _tidy(assistant, folder)
        staged, backups, pre_skipped = _stage(files, folder, assistant.settings.upload_max_mb)
        try:
            # no pruning: app hosts on one Chroma server may each have an uploads folder at the same path, and a
            # prune would remove the other hosts' uploads (docs/DEPLOY.md); uploads leave the index by `delete`
            report = assistant.ingest([folder], progress=progress, prune=False) if staged else IngestReport()
        except BaseException:
            for source, backup in backups.items():
                os.replace(backup, folder / source.split("/", 1)[1])
            raise
        _settle(report, staged, backups, folder)
    return _own_report(report, staged, pre_skipped)


def _tidy(assistant: Assistant, folder: Path) -> None:
    """Leftovers of an interrupted batch: put back replaced files, drop files the index does not hold."""
    for backup in folder.glob(".*.previous"):
        os.replace(backup, folder / backup.name[1:-len(".previous")])
    indexed = {d.source for d in assistant.documents()}
    for f in folder.iterdir():
        if f.is_file() and source_of(f.name) not in indexed:
            f.unlink(missing_ok=True)


def _stage(files: list[tuple[str, str]], folder: Path, max_mb: int):
    """Copy the uploads in under safe names; (source → original name, source → backup, too-large skips)."""
    staged: dict[str, str] = {}
    backups: dict[str, Path] = {}
    skipped: list[Skipped] = []
    for tmp, original in files:
        name = safe_name(original or Path(tmp).name)
        stem, ext = os.path.splitext(name)
        n = 2
        while source_of(name) in staged:  # two different files of the same name in one batch
            name, n = f"{stem}-{n}{ext}", n + 1
        source = source_of(name)
        try:
            size = os.path.getsize(tmp)
        except OSError as e:
            skipped.append(Skipped(source=source, reason=f"{original}: cannot read the upload ({e.strerror or e})"))
            continue
        if size > max_mb * 2**20:
            skipped.append(Skipped(source=source, reason=(
                f"{original}: {size / 2**20:.1f} MB is larger than the {max_mb} MB upload limit (setting "
                "upload_max_mb, RAG_UPLOAD_MAX_MB)")))
            continue
        target = folder / name
        if target.exists():
            backups[source] = folder / f".{name}.previous"
            os.replace(target, backups[source])
        shutil.copyfile(tmp, target)
        staged[source] = original
    return staged, backups, skipped


def _settle(report: IngestReport, staged: dict[str, str], backups: dict[str, Path], folder: Path) -> None:
    """A rejected upload is not kept (the version it replaced comes back); an accepted one drops its backup."""
    rejected = {s.source for s in report.skipped}
    for source in staged:
        target, backup = folder / source.split("/", 1)[1], backups.get(source)
        if source in rejected:
            target.unlink(missing_ok=True)
            if backup:
                os.replace(backup, target)  # the previously indexed file stays
        elif backup:
            backup.unlink(missing_ok=True)


def _own_report(report: IngestReport, staged: dict[str, str], pre_skipped: list[Skipped]) -> IngestReport:
    renamed = {s: o for s, o in staged.items() if PurePosixPath(s).name != o}
    skipped = pre_skipped + [
        Skipped(source=s.source, reason=s.reason + (f" (uploaded as {renamed[s.source]})" if s.source in renamed else ""))
        for s in report.skipped if s.source in staged]
    ours = set(staged)
    return report.model_copy(update={
        "added": [s for s in report.added if s in ours], "updated": [s for s in report.updated if s in ours],
        "unchanged": [s for s in report.unchanged if s in ours], "skipped": skipped})
