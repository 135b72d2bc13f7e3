"""Files → `Document`s: txt, md, html/htm, pdf, docx.

Each loader returns the *extracted text* that every citation offset indexes into, a title, and the
sha256 of the file's bytes. Text is normalised only in ways a reader cannot see (newlines to "\n",
HTML whitespace folded); Markdown is kept as written so quotes match the file. Left out: OCR of
scanned PDFs, legacy .doc, encodings other than UTF-8 (such files are skipped with a reason).
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from rag.errors import IngestError
from rag.types import Document

MAX_BYTES = 200 * 1024 * 1024
_TITLE_MAX = 200

_HTML_DROP = ["script", "style", "noscript", "template", "svg", "iframe", "form", "button", "nav", "aside",
              "header", "footer", "select", "canvas", "object"]
_HTML_DROP_ROLES = {"navigation", "search", "banner", "contentinfo", "complementary", "menu", "menubar", "dialog"}
_HTML_DROP_CLASSES = {"sidebar", "sphinxsidebar", "navbar", "nav", "navigation", "breadcrumb", "breadcrumbs",
                      "headerlink", "related", "toc", "skip-link", "skiplink", "cookie-banner", "edit-this-page",
                      "footer", "site-footer", "site-header", "md-sidebar", "md-header", "md-footer", "wy-nav-side",
                      "rst-versions", "visually-hidden", "sr-only"}
_HTML_BLOCKS = {"p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol",
                "dl", "dt", "dd", "table", "tr", "blockquote", "pre", "figure", "figcaption", "hr", "address",
                "details", "summary", "caption", "body", "td", "th"}


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _first_line_title(text: str) -> str:
    for line in text.split("\n"):
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:_TITLE_MAX]
    return ""


def _decode(data: bytes, name: str) -> str:
    if b"\x00" in data[:8192]:
        raise IngestError(f"{name}: looks binary (NUL bytes), not text; remove it or give it the right extension")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise IngestError(f"{name}: not valid UTF-8 (byte {e.start}); re-save it as UTF-8") from e


def load_text(data: bytes, name: str) -> tuple[str, str]:
    text = _normalise_newlines(_decode(data, name))
    return text, _first_line_title(text)


def load_markdown(data: bytes, name: str) -> tuple[str, str]:
    text = _normalise_newlines(_decode(data, name))
    heading = re.search(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, flags=re.M)
    return text, (heading.group(1).strip()[:_TITLE_MAX] if heading else _first_line_title(text))


def _is_boilerplate(tag) -> bool:
    """Navigation, search, banners, permalinks and the like, as documentation generators mark them."""
    if tag.attrs is None:
        return False
    if tag.get("role") in _HTML_DROP_ROLES or tag.get("aria-hidden") == "true" or tag.has_attr("hidden"):
        return True
    return any(c.lower() in _HTML_DROP_CLASSES for c in tag.get("class") or ())


def load_html(data: bytes, name: str) -> tuple[str, str]:
    from bs4 import BeautifulSoup, NavigableString

    if b"\x00" in data[:8192]:
        raise IngestError(f"{name}: looks binary (NUL bytes), not HTML")
    soup = BeautifulSoup(data, "lxml")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(_HTML_DROP):
        tag.decompose()
    for tag in soup.find_all(_is_boilerplate):
        tag.decompose()
    root = (soup.find("main") or soup.find(attrs={"role": "main"}) or soup.find("article") or soup.body or soup)
    if not title:
        h1 = root.find("h1")
        title = h1.get_text(" ", strip=True) if h1 else ""
    for br in root.find_all("br"):
        br.replace_with(NavigableString("\n"))
    for pre in root.find_all("pre"):  # keep code layout: protect its newlines from folding
        pre.replace_with(NavigableString("\x00" + pre.get_text().strip("\n").replace("\n", "\x01") + "\x00"))
    for tag in root.find_all(_HTML_BLOCKS):
        tag.insert_before(NavigableString("\x00"))
        tag.insert_after(NavigableString("\x00"))
    raw = root.get_text()
    blocks = []
    for block in raw.split("\x00"):
        lines = [re.sub(r"[ \t\f\v\u00a0]+", " ", line).strip() for line in block.split("\n")]
        block = " ".join(line for line in lines if line)
        if block:
            blocks.append(block.replace("\x01", "\n"))
    text = "\n\n".join(blocks)
    return text, (title or _first_line_title(text))[:_TITLE_MAX]


def load_pdf(data: bytes, name: str) -> tuple[str, str]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise IngestError(f"{name}: the PDF is encrypted; save an unencrypted copy")
        pages = [_normalise_newlines(page.extract_text() or "").strip() for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except IngestError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, AttributeError) as e:
        raise IngestError(f"{name}: corrupt or unreadable PDF ({type(e).__name__}: {e}); re-export it") from e
    text = "\n\n".join(p for p in pages if p)
    if not text.strip():
        raise IngestError(f"{name}: the PDF has no extractable text (scanned images?); run OCR first")
    return text, (str(meta_title).strip() or _first_line_title(text))[:_TITLE_MAX]


def load_docx(data: bytes, name: str) -> tuple[str, str]:
    import zipfile

    import docx

    try:
        d = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as e:
        raise IngestError(f"{name}: corrupt or not a .docx file ({type(e).__name__}); re-save it from Word") from e
    paragraphs: list[str] = []
    heading = ""
    for p in d.paragraphs:
        t = p.text.strip()
        if not t:
            continue
        if not heading and p.style is not None and (p.style.name or "").lower().startswith(("heading", "title")):
            heading = t
        paragraphs.append(t)
    for table in d.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells if c.text.strip()]
            if cells:
                paragraphs.append(" | ".join(dict.fromkeys(cells)))
    text = "\n\n".join(paragraphs)
    title = (d.core_properties.title or "").strip() or heading or _first_line_title(text)
    return text, title[:_TITLE_MAX]


LOADERS: dict[str, Callable[[bytes, str], tuple[str, str]]] = {
    ".txt": load_text, ".text": load_text,
    ".md": load_markdown, ".markdown": load_markdown,
    ".html": load_html, ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
}
SUPPORTED = tuple(sorted(LOADERS))


def load_file(path: Path, source: str, root: str = "") -> Document:
    """Read one file; raise `IngestError` with a reason a user can act on."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise IngestError(f"{source}: unsupported type '{path.suffix or '(none)'}' (supported: {', '.join(SUPPORTED)})")
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise IngestError(f"{source}: {size / 2**20:.0f} MiB is larger than the {MAX_BYTES // 2**20} MiB limit")
        data = path.read_bytes()
    except OSError as e:
        raise IngestError(f"{source}: cannot read ({e.strerror or e})") from e
    if not data.strip():
        raise IngestError(f"{source}: empty file")
    text, title = loader(data, source)
    if not text.strip():
        raise IngestError(f"{source}: no text found")
    return Document(source=source, title=title or Path(source).name, text=text,
                    sha256=hashlib.sha256(data).hexdigest(), path=str(path.resolve()), root=root)


def iter_files(path: Path) -> Iterator[Path]:
    """A file, or every non-hidden file below a folder, in a stable order."""
    if path.is_file():
        yield path
        return
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path)
        if any(part.startswith(".") for part in rel.parts) or not p.is_file():
            continue
        yield p
