"""Files → `Document`s: txt, md, html/htm, pdf, docx, and text files of any other name.

Each loader returns the *extracted text* that every citation offset indexes into, and a title; the
Document carries the sha256 of the file's bytes. Text is normalised only in ways a reader cannot see
(newlines to "\\n", NUL characters removed, HTML whitespace folded); Markdown is kept as written so quotes
match the file. A file with another extension, or none (README, LICENSE), is read when its content is
text (`rag.loaders.text`); known binary formats (.xlsx, .png …) are refused by name without reading.
Every failure is an `IngestError` naming the file and what to do: parsers' own exceptions are converted.
Each loader is built to stay linear on hostile input (`tests/test_hostile.py`); `rag.budget.ParsePool`
adds a hard time and memory limit around `load_file` for what remains.

Scanned PDF pages are read by OCR (`rag.loaders.pdf`).
Left out: legacy .doc/.xls/.ppt, spreadsheets and slides, archives.
Modules: text (encodings, .txt/.md), html, pdf, docx, files (`iter_files`: which files a folder holds).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

from rag.errors import IngestError
from rag.loaders import structure
from rag.loaders.docx import load_docx
from rag.loaders.files import iter_files, not_regular_reason
from rag.loaders.html import load_html
from rag.loaders.pdf import load_pdf
from rag.loaders.text import binary_kind, load_markdown, load_text
from rag.types import Document

__all__ = ["LOADERS", "MAX_BYTES", "SUPPORTED", "iter_files", "load_file"]

MAX_BYTES = 200 * 1024 * 1024

# each returns (text, title), or a NamedTuple starting with them (structure.Extracted, pdf's PdfText)
LOADERS: dict[str, Callable[[bytes, str], tuple]] = {
    ".txt": load_text, ".text": load_text,
    ".md": load_markdown, ".markdown": load_markdown,
    ".html": load_html, ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
}
SUPPORTED = tuple(sorted(LOADERS))
# Formats refused by name (their bytes are not text, or not text we can extract).
_BINARY_EXTENSIONS = frozenset(
    ".xlsx .xlsm .xls .pptx .ppt .doc .odt .ods .odp .epub .rtf .pages .key .numbers "
    ".png .jpg .jpeg .gif .bmp .tif .tiff .webp .ico .heic .psd .svgz "
    ".zip .gz .tgz .bz2 .xz .7z .rar .tar .zst .jar .whl .apk .dmg .iso "
    ".exe .dll .so .dylib .o .a .bin .class .pyc .pyo .wasm "
    ".mp3 .mp4 .wav .flac .ogg .avi .mov .mkv .webm .m4a "
    ".ttf .otf .woff .woff2 .sqlite .db .parquet .npy .npz .pkl .pickle .onnx .pt .safetensors".split())


def _supported_text() -> str:
    return f"supported: {', '.join(SUPPORTED)}, and text files of any other name"


def _read(path: Path, source: str) -> bytes:
    """The file's bytes; never blocks on a fifo (opened non-blocking, then checked to be a regular file)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise IngestError(f"{source}: cannot read ({e.strerror or e})") from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise IngestError(f"{source}: {not_regular_reason(st.st_mode)}")
        if st.st_size > MAX_BYTES:
            raise IngestError(f"{source}: {st.st_size / 2**20:.0f} MiB is larger than the "
                              f"{MAX_BYTES // 2**20} MiB limit")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(st.st_size + 1)  # read(n) reserves n bytes up front: ask for what is there
            if len(data) > st.st_size:  # it grew while we read
                data += f.read(MAX_BYTES + 1 - len(data))
    except OSError as e:
        raise IngestError(f"{source}: cannot read ({e.strerror or e})") from e
    finally:
        os.close(fd)
    if len(data) > MAX_BYTES:
        raise IngestError(f"{source}: larger than the {MAX_BYTES // 2**20} MiB limit")
    return data


def _load_by_content(data: bytes, source: str, suffix: str) -> tuple:
    kind = binary_kind(data)
    if kind:
        what = f"type '{suffix}'" if suffix else "file without an extension"
        raise IngestError(f"{source}: looks binary ({kind}), an unsupported {what}; {_supported_text()}")
    return load_text(data, source)


def _parse(data: bytes, source: str, suffix: str) -> tuple:
    loader = LOADERS.get(suffix)
    try:
        return loader(data, source) if loader else _load_by_content(data, source, suffix)
    except IngestError:
        raise
    except (MemoryError, RecursionError) as e:
        what = "ran out of memory" if isinstance(e, MemoryError) else "is nested too deeply"
        raise IngestError(f"{source}: {what} while parsing; split the file or raise parse_memory_mb") from e
    except Exception as e:  # noqa: BLE001 — a parser bug on hostile input must skip one file, not stop the folder
        raise IngestError(f"{source}: could not be parsed ({type(e).__name__}: {str(e)[:200]}); re-save it "
                          "or report the file") from e


def _headings(result, text: str, suffix: str) -> tuple[structure.Heading, ...]:
    """The loader's own headings (HTML and docx markup, PDF font sizes: `PdfText.headings`), else those
    Markdown or plain text spell out; none for a PDF whose loader reports none."""
    given = getattr(result, "headings", None)
    if given is not None:
        return tuple(given)
    if suffix in (".md", ".markdown"):
        return structure.markdown_headings(text)
    if suffix in (".pdf",):
        return ()
    return structure.text_headings(text)


def load_file(path: Path, source: str, root: str = "") -> Document:
    """Read one file; raise `IngestError` (message starts with "{source}: ") with a reason a user can act on."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in _BINARY_EXTENSIONS:
        raise IngestError(f"{source}: unsupported type '{path.suffix}' ({_supported_text()})")
    try:
        data = _read(path, source)
        if not data.strip():
            raise IngestError(f"{source}: empty file" + (" (only whitespace)" if data else ""))
        parsed = _parse(data, source, suffix)
        text, title = parsed[0], parsed[1]
        if not text.strip():
            raise IngestError(f"{source}: no text found")
        return Document(source=source, title=title or Path(source).name, text=text,
                        sha256=hashlib.sha256(data).hexdigest(), path=str(path.resolve()), root=root,
                        sections=structure.sections(text, _headings(parsed, text, suffix)),
                        pages=tuple(getattr(parsed, "pages", ()) or ()),
                        ocr_pages=tuple(getattr(parsed, "ocr_pages", ()) or ()))
    except MemoryError as e:
        raise IngestError(f"{source}: ran out of memory while reading; split the file or raise parse_memory_mb") from e
