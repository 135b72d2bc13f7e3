"""Which files a folder holds: a sorted walk that never loops, never opens a file, and says why it skips.

`iter_files` yields `(path, None)` for every regular, non-hidden file below a folder (depth first, names
sorted) and `(path, reason)` for what it will not read: symbolic-link loops, dangling links, links that
leave the folder (unless `follow_links`), fifos/sockets/devices (opening a fifo would block forever),
folders it cannot list, and names that are not valid UTF-8 (they cannot be shown or stored as a source).
A linked folder is walked once: a folder already walked (found by device and inode) is reported, not
walked again. Paths are yielded as seen from the root (not resolved), so `path.relative_to(root)` holds.
Left out: .gitignore-style exclusions; hidden files and folders (dot names) are skipped silently.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

_FOLLOW_HINT = "pass --follow-symlinks (RAG_FOLLOW_SYMLINKS=true) to include it"
_KINDS = ((stat.S_ISFIFO, "a named pipe (fifo)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"))


def not_regular_reason(mode: int) -> str:
    kind = next((name for test, name in _KINDS if test(mode)), "not a file or folder")
    return f"not a regular file ({kind}); only regular files are read"


def _link_error(e: OSError) -> str:
    if e.errno == errno.ELOOP:
        return "symbolic link loop"
    if e.errno in (errno.ENOENT, errno.ENOTDIR):
        return "dangling symbolic link (target missing)"
    return f"cannot follow symbolic link ({e.strerror or e})"


def iter_files(root: Path, *, follow_links: bool = False) -> Iterator[tuple[Path, str | None]]:
    """Every non-hidden file below `root` as (path, None), or (path, reason) when it is skipped.

    A file given as `root` is yielded itself. Symbolic links are followed when their target resolves
    inside `root` (or always with `follow_links`), and never into a loop.
    """
    root = Path(root)
    try:
        st = os.stat(root)
    except OSError as e:
        yield root, (_link_error(e) if os.path.islink(root) else f"cannot read ({e.strerror or e})")
        return
    if not stat.S_ISDIR(st.st_mode):
        yield root, None if stat.S_ISREG(st.st_mode) else not_regular_reason(st.st_mode)
        return
    yield from _Walk(root, follow_links).run(st)


class _Walk:
    def __init__(self, root: Path, follow_links: bool):
        self.root = root
        self.real_root = Path(os.path.realpath(root))
        self.follow_links = follow_links
        self.walked: dict[tuple[int, int], Path] = {}  # (device, inode) of each folder walked → its path
        self.open: set[tuple[int, int]] = set()  # folders on the current descent (a link to one is a loop)

    def run(self, st: os.stat_result) -> Iterator[tuple[Path, str | None]]:
        """Depth first with an explicit stack of sorted listings: no recursion, sorted like sorted(rglob)."""
        stack: list[tuple[tuple[int, int], Iterator[os.DirEntry]]] = []
        listing = self._enter(self.root, st)
        if isinstance(listing, str):
            yield self.root, listing
            return
        stack.append(listing)
        while stack:
            key, entries = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                self.open.discard(key)
                continue
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            verdict = self._classify(entry, path)
            if isinstance(verdict, os.stat_result):  # a folder to walk
                listing = self._enter(path, verdict)
                if isinstance(listing, str):
                    yield path, listing
                else:
                    stack.append(listing)
            else:
                yield path, verdict

    def _enter(self, path: Path, st: os.stat_result) -> tuple[tuple[int, int], Iterator[os.DirEntry]] | str:
        key = (st.st_dev, st.st_ino)
        if key in self.open:
            return "symbolic link loop (points back to a folder above it)"
        if key in self.walked:
            return f"folder already ingested as {self.walked[key].relative_to(self.root).as_posix() or '.'}"
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            return f"cannot list folder ({e.strerror or e})"
        self.walked[key] = path
        self.open.add(key)
        return key, iter(entries)

    def _classify(self, entry: os.DirEntry, path: Path) -> os.stat_result | str | None:
        """None = read it; a stat result = a folder to walk; a string = why it is skipped."""
        try:
            entry.name.encode("utf-8")
        except UnicodeEncodeError:
            return "file name is not valid UTF-8; rename it"
        is_link = entry.is_symlink()
        try:
            st = os.stat(path)
        except OSError as e:
            return _link_error(e) if is_link else f"cannot read ({e.strerror or e})"
        is_dir = stat.S_ISDIR(st.st_mode)
        if is_link and not self.follow_links:
            target = Path(os.path.realpath(path))
            if not target.is_relative_to(self.real_root):
                what = "folder" if is_dir else "file"
                return f"symbolic link to a {what} outside the ingested folder ({target}); {_FOLLOW_HINT}"
        if is_dir:
            return st
        return None if stat.S_ISREG(st.st_mode) else not_regular_reason(st.st_mode)
