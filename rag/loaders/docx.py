"""Word .docx → paragraphs and table rows (python-docx), after checking the zip is not a bomb.

Before anything is decompressed, the zip's directory is checked: at most `MAX_MEMBERS` parts, at most
`MAX_UNCOMPRESSED` bytes in total, and no part over `RATIO_FLOOR` bytes that expands more than
`MAX_RATIO` times (Word's own XML compresses 5-20×; a bomb 100-1000×). Python's zipfile never inflates a
part past its declared size (it stops and fails the CRC), so the declared sizes are a real bound. XML
errors from lxml — including its 10 MB "huge text node" limit — become an `IngestError`.
Paragraphs in Word's Title/Heading N styles are reported as headings.
Left out: legacy .doc, headers/footers/footnotes/comments, text boxes, embedded objects.
"""

from __future__ import annotations

import io
import re
import zipfile

from rag.errors import IngestError
from rag.loaders.structure import Extracted
from rag.loaders.text import TITLE_MAX, first_line_title

MAX_MEMBERS = 10_000
MAX_UNCOMPRESSED = 200 * 2**20  # a 500-page report with images is ~30 MB uncompressed
MAX_RATIO = 100
RATIO_FLOOR = 10 * 2**20  # small parts may compress extremely well (repeated styles); only big ones count


def check_zip(data: bytes, name: str) -> None:
    """Reject a zip whose parts would inflate beyond the limits, without inflating anything."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as e:
        raise IngestError(f"{name}: corrupt or not a .docx file ({type(e).__name__}); re-save it from Word") from e
    if len(infos) > MAX_MEMBERS:
        raise IngestError(f"{name}: the .docx has {len(infos):,} parts (limit {MAX_MEMBERS:,}); not a Word document?")
    total = sum(i.file_size for i in infos)
    if total > MAX_UNCOMPRESSED:
        raise IngestError(f"{name}: the .docx would decompress to {total / 2**20:,.0f} MB (limit "
                          f"{MAX_UNCOMPRESSED // 2**20} MB); a zip bomb, or split the document")
    for i in infos:
        ratio = i.file_size / max(i.compress_size, 1)
        if i.file_size > RATIO_FLOOR and ratio > MAX_RATIO:
            raise IngestError(f"{name}: part {i.filename!r} expands {ratio:,.0f}× to {i.file_size / 2**20:,.0f} MB "
                              f"(limit {MAX_RATIO}× for parts over {RATIO_FLOOR // 2**20} MB); looks like a zip bomb")


def _heading_level(p) -> int:
    """1-9 for Word's "Title"/"Heading N" styles, else 0."""
    name = ((p.style.name if p.style is not None else "") or "").lower()
    if name == "title":
        return 1
    m = re.match(r"heading\s*(\d)", name)
    return int(m.group(1)) if m else 0


def _paragraphs(d) -> tuple[list[str], str, list[int]]:
    """Paragraph texts, the first heading's text, and each paragraph's heading level (0: body text)."""
    paragraphs: list[str] = []
    levels: list[int] = []
    heading = ""
    for p in d.paragraphs:
        t = p.text.strip()
        if not t:
            continue
        level = _heading_level(p)
        if not heading and level:
            heading = t
        paragraphs.append(t)
        levels.append(level)
    for table in d.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells if c.text.strip()]
            if cells:
                paragraphs.append(" | ".join(dict.fromkeys(cells)))
                levels.append(0)
    return paragraphs, heading, levels


def load_docx(data: bytes, name: str) -> Extracted:
    import docx
    from lxml import etree

    check_zip(data, name)
    try:
        d = docx.Document(io.BytesIO(data))
        paragraphs, heading, levels = _paragraphs(d)
        title = (d.core_properties.title or "").strip()
    except etree.XMLSyntaxError as e:
        huge = any(w in str(e).lower() for w in ("huge", "too long"))
        hint = "a text run over lxml's 10 MB limit; split it" if huge else "re-save it from Word"
        raise IngestError(f"{name}: the .docx has malformed XML ({e}); {hint}") from e
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, AttributeError, IndexError, EOFError,
            NotImplementedError, etree.LxmlError) as e:
        raise IngestError(f"{name}: corrupt or not a .docx file ({type(e).__name__}: {e}); re-save it from Word") from e
    paragraphs = [p.replace("\x00", "") for p in paragraphs]
    text = "\n\n".join(paragraphs)
    headings, pos = [], 0
    for p, level in zip(paragraphs, levels):
        if level:
            headings.append((pos, pos + len(p), level))
        pos += len(p) + 2
    return Extracted(text, (title or heading or first_line_title(text)).replace("\x00", "")[:TITLE_MAX],
                     tuple(headings))
