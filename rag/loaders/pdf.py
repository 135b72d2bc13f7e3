"""PDF → the text of its pages (pypdf), pages separated by a blank line; scanned pages read by OCR (tesseract).

`load_pdf` returns `PdfText`: (text, title) like every loader, plus `pages` (page i+1 starts at text offset
pages[i]; an empty page starts where the next page's text would), `ocr_pages` (1-based) and `headings` (below).
A page whose text layer has fewer than `OCR_MIN_CHARS` visible characters and that shows an image covering at
least `OCR_MIN_IMAGE_SHARE` of it is a scan: it is rendered with pypdfium2 at `OCR_DPI` and read by tesseract,
and its OCR text stands in for the page's (near-empty) text layer. Pages with a text layer are extracted exactly as
before OCR existed (the eval corpora pin evidence strings to that text).

Why tesseract (Debian's `tesseract-ocr` + `tesseract-ocr-eng`, run as a subprocess) and not rapidocr-onnxruntime
(PyPI, PP-OCRv4 models in the wheel): measured on a US-letter page of 8 known English sentences (12 pt
Helvetica, scanned at 200 dpi), 2 cores. tesseract 5.3, one thread per page: character error rate 0.000 at
108, 200 and 300 dpi, 1.3 s (200 dpi) / 1.9 s (300 dpi) per page, 50-66 MB resident, in its own process.
rapidocr-onnxruntime 1.4.4: CER 0.085-0.24 (it dropped a whole line and ran words together:
"ThelighthousekeeperAdaMarsh…"), 6.4-14 s per page, 420-790 MB resident inside the parse worker. tesseract's
own OpenMP threading is a trap on 2 cores (8.9-11 s per page: threads spin against each other), so each call
gets OMP_THREAD_LIMIT=1 and pages are OCRed `os.cpu_count()` at a time instead.

Budget: OCR runs inside the parse worker (`rag.budget`), so a scanned PDF must fit parse_timeout (60 s: about
50 pages at ~1 s per page on 2 cores) and parse_memory_mb (1024 MB covers it: rendering one 300 dpi letter page
is 8 MB of grey pixels; tesseract inherits the address-space limit and stays under 100 MB per page).

Headings come from fonts, read in the same `extract_text` call that gives a page its text (a `visitor_text`
sees each text run with its font and size; loading the 17 eval/corpora/pdfmanuals files takes 5-7% longer).
The body size is the effective size (font size x the text and current matrices' scale) that carries the most
characters. A heading is a line of at most `MAX_HEADING_CHARS` with a letter, not a page number, either set
`HEADING_SIZE_RATIO` larger than the body, or wholly bold (not monospaced) at body size or a little larger,
short, not ending like a sentence, not starting like code or an option, and not in a block of bold lines
(code). Lines that are headings on most pages are running heads, not headings. Levels rank the distinct
heading sizes, largest first. Each heading is placed at the next whole line of its page's text that equals it
(else dropped), so the text stays exactly what pypdf's plain `extract_text` gives. OCR'd pages and pages
without font information have no headings; any failure while reading fonts only drops that page's headings.

An encrypted PDF is opened only when it has an empty user password (permissions-only encryption, common
in exported reports); otherwise it is rejected with a reason. Corrupt files are rejected with pypdf's
error. Left out: OCR languages other than English, OCR of images inside pages that have a text layer
(figures, stamped signatures), deskewing and layout analysis beyond tesseract's, layout (columns, tables),
headings of scanned pages, tagged-PDF structure trees and outlines (bookmarks) as a source of headings, and
headings told apart only by font family or colour at one size (they share a level).
Without tesseract installed a scanned PDF is rejected with the apt-get line that fixes it, and
partly scanned PDFs keep their text pages only.
"""

from __future__ import annotations

import bisect
import io
import math
import os
import re
import shutil
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby

from rag.errors import IngestError
from rag.loaders.structure import MAX_HEADING_CHARS, Heading
from rag.loaders.text import TITLE_MAX, first_line_title

OCR_MIN_CHARS = 16  # fewer visible characters than this on a page = no real text layer (a scanner's page stamp)
OCR_MIN_IMAGE_SHARE = 0.3  # ...and an image covers at least this share of the page: a scan, not a blank page
OCR_DPI = 300  # tesseract's recommended resolution; 200-300 dpi read the test page perfectly (see above)
OCR_MAX_PIXELS = 40_000_000  # larger pages (posters, A0 plans) are rendered at a lower dpi to fit this
OCR_PAGE_TIMEOUT_S = 120.0  # one page; the parse budget (parse_timeout) bounds the whole file anyway
OCR_INSTALL = "apt-get install tesseract-ocr tesseract-ocr-eng"
HEADING_SIZE_RATIO = 1.15  # a line this much larger than the body is a heading (groff's 10.95 pt on 10 is not)
BOLD_HEADING_WORDS = 8  # a wholly bold line at body size is a heading up to this many words (as text_headings)
# ...unless it is one of BOLD_BLOCK_LINES bold lines of one size in a row: a code sample (find(1)'s examples run
# 4-5 lines; wget(1)'s "Basic Startup Options" / "-V" / "--version" is 3)
BOLD_BLOCK_LINES = 4
MAX_LEVEL = 6  # heading sizes past the sixth largest share level 6, as HTML stops at h6

Run = tuple[str, float, bool]  # a text run: its text, effective font size (points), bold (`_heading_bold`)
_TEXT_OPERATOR = re.compile(rb"T[jJ]|Do|['\"]")  # pypdf's test for content that can show text (or a superset)
_BOLD = re.compile(r"bold|black|heavy", re.I)  # in a font's BaseFont: "/Times-Bold", "/ABCDEF+Arial,Bold"
_MONOSPACE = re.compile(r"courier|mono|consol|code", re.I)  # "/Courier-Bold", "DejaVuSansMono"
_ROMAN = r"(?=[ivxlcdm])m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"
# a page number, also with letters: "Page 3 of 9", "iv"
_PAGE_NUMBER = re.compile(rf"(?i)(?:page\s*)?(?:[0-9]+|{_ROMAN})(?:\s*(?:/|of)\s*[0-9]+)?")
_SENTENCE_ENDS = (".", ",", ";", ":")
# A bold line starting so is no heading: "$ find . -perm 664" is a code sample, "--mirror" an option (most
# option lines of a man page mix fonts, "-w, --word-regexp": the wholly bold ones would split its list unevenly)
_NOT_HEADING_STARTS = ("-", "$", "#", ">", "%", "\\", "|", "[", "{", "<")


class PdfText(tuple):
    """(text, title), as every loader returns, with `pages` (page start offsets), `ocr_pages` (1-based) and
    `headings` ((start, end, level) of heading lines in the text, as `structure.Heading`)."""

    pages: tuple[int, ...]
    ocr_pages: tuple[int, ...]
    headings: tuple[Heading, ...]

    def __new__(cls, text: str, title: str, pages: tuple[int, ...] = (), ocr_pages: tuple[int, ...] = (),
                headings: tuple[Heading, ...] = ()):
        self = super().__new__(cls, (text, title))
        self.pages, self.ocr_pages, self.headings = tuple(pages), tuple(ocr_pages), tuple(headings)
        return self


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def _open(data: bytes, name: str):
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except Exception:  # noqa: BLE001 — pypdf raises several types (DependencyError, PdfReadError, NotImplementedError)
            opened = 0
        if not opened:
            raise IngestError(f"{name}: the PDF is encrypted with a password; save an unencrypted copy")
    return reader


def join_pages(pages: list[str]) -> tuple[str, tuple[int, ...]]:
    """The document text (non-empty pages joined by a blank line) and each page's start offset in it.

    >>> join_pages(["one", "", "three"])
    ('one\\n\\nthree', (0, 5, 5))
    """
    text, starts = "", []
    for page in pages:
        starts.append(len(text) + 2 if text else 0)
        if page:
            text = f"{text}\n\n{page}" if text else page
    return text, tuple(starts)


def load_pdf(data: bytes, name: str) -> PdfText:
    from pypdf.errors import PyPdfError

    try:
        reader = _open(data, name)
        extracted = [_extract(page) for page in reader.pages]
        pages, runs = [page_text for page_text, _ in extracted], [page_runs for _, page_runs in extracted]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except IngestError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, AttributeError, IndexError, AssertionError,
            NotImplementedError, ZeroDivisionError, RecursionError, EOFError) as e:
        raise IngestError(f"{name}: corrupt or unreadable PDF ({type(e).__name__}: {e}); re-export it") from e
    ocr = {i: t for i, t in _ocr(data, [i for i, p in enumerate(pages) if _sparse(p)]).items() if t}
    for i, page_text in ocr.items():
        pages[i], runs[i] = page_text, None
    text, starts = join_pages(pages)
    if not text.strip():
        hint = "" if shutil.which("tesseract") else f"; OCR needs tesseract: {OCR_INSTALL}"
        raise IngestError(f"{name}: the PDF has no extractable text (no text layer and no text found by OCR){hint}")
    title = (_normalise(str(meta_title)).strip() or first_line_title(text))[:TITLE_MAX]
    return PdfText(text, title, starts, tuple(sorted(i + 1 for i in ocr)), _safe_headings(pages, runs, starts))


def _extract(page) -> tuple[str, list[Run] | None]:
    """The page's text, exactly as plain `extract_text` gives it, and its text runs (None: no font info)."""
    if not _may_have_text(page):
        return _normalise(page.extract_text() or "").strip(), None
    visitor = _FontRuns()
    try:
        raw = page.extract_text(visitor_text=visitor)
    except Exception:  # noqa: BLE001 — reading fonts must never fail a page: read it as before, without them
        return _normalise(page.extract_text() or "").strip(), None
    return _normalise(raw or "").strip(), visitor.runs if visitor.ok else None


def _may_have_text(page) -> bool:
    """False when no content stream of the page holds a text operator (Tj TJ ' " or a form's Do).

    pypdf skips parsing such a page unless a visitor is given; with one it parses every operator (8x slower
    on a page of 100,000 lines), so a page without text is read without the visitor.
    """
    from pypdf.generic import ArrayObject, StreamObject

    try:
        contents = page.get("/Contents")
        contents = contents.get_object() if contents is not None else None
        parts = [c.get_object() for c in contents] if isinstance(contents, ArrayObject) else [contents]
        return any(_TEXT_OPERATOR.search(c.get_data()) for c in parts if isinstance(c, StreamObject))
    except Exception:  # noqa: BLE001 — pypdf's own reading of the page reports what is wrong with it
        return False


class _FontRuns:
    """A `visitor_text` for pypdf: each text run with its effective font size and whether its font is bold."""

    def __init__(self) -> None:
        self.runs: list[Run] = []
        self.ok = True
        self._bold: dict[int, bool] = {}

    def __call__(self, text: str, cm: list[float], tm: list[float], font, size: float) -> None:
        if not text or not self.ok:
            return
        if font is None and text.strip():  # shown in a font the page does not have: no font info to trust
            self.ok, self.runs = False, []
            return
        try:  # the size scaled by the text and current matrices (their vertical scale, as pypdf measures it)
            scale = math.hypot(tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3])
            if id(font) not in self._bold:
                self._bold[id(font)] = _heading_bold(font)
            self.runs.append((_normalise(text), round(float(size) * scale, 1), self._bold[id(font)]))
        except Exception:  # noqa: BLE001 — a broken font dict or matrix drops this page's headings, not its text
            self.ok, self.runs = False, []


def _heading_bold(font) -> bool:
    """The font is bold and not monospaced (a bold monospaced line is a command or an option, not a heading)."""
    name = str(font.get("/BaseFont", "")) if font else ""
    return bool(_BOLD.search(name)) and not _MONOSPACE.search(name)


def _safe_headings(pages: list[str], runs: list[list[Run] | None], starts: tuple[int, ...]) \
        -> tuple[Heading, ...]:
    """`font_headings`, or none when finding them fails (headings must never fail an ingest)."""
    try:
        return font_headings(pages, runs, starts)
    except Exception:  # noqa: BLE001 — heading detection must never fail an ingest
        return ()


def font_headings(pages: list[str], runs: list[list[Run] | None], starts: tuple[int, ...]) \
        -> tuple[Heading, ...]:
    """Heading lines of the document from its pages' text runs: (start, end, level) in the joined text."""
    body = _body_size(runs)
    if body is None:
        return ()
    found = [_page_headings(_lines(page_runs), body) if page_runs else [] for page_runs in runs]
    running = _running(found, sum(page_runs is not None for page_runs in runs))
    found = [[(t, size) for t, size in page if t.casefold() not in running] for page in found]
    sizes = sorted({size for page in found for _, size in page}, reverse=True)
    levels = {size: min(i + 1, MAX_LEVEL) for i, size in enumerate(sizes)}  # bold at body size: the deepest
    out: list[Heading] = []
    for page_text, page_start, page_found in zip(pages, starts, found):
        out += [(page_start + a, page_start + b, levels[size]) for a, b, size in _locate(page_text, page_found)]
    return tuple(out)


def _lines(runs: list[Run]) -> list[tuple[str, float, bool]]:
    """The page's lines as the runs spell them: (text, smallest size of its visible runs, all of them bold)."""
    out: list[tuple[str, float, bool]] = []
    parts: list[str] = []
    sizes: list[float] = []
    bold = True
    for text, size, is_bold in runs:
        for k, piece in enumerate(text.split("\n")):
            if k:
                out.append(("".join(parts).strip(), min(sizes, default=0.0), bold))
                parts, sizes, bold = [], [], True
            parts.append(piece)
            if piece.strip():
                sizes.append(size)
                bold = bold and is_bold
    out.append(("".join(parts).strip(), min(sizes, default=0.0), bold))
    return [line for line in out if line[0]]


def _body_size(runs: list[list[Run] | None]) -> float | None:
    """The font size that carries the most visible characters of the document."""
    chars: Counter[float] = Counter()
    for page_runs in runs:
        for text, size, _ in page_runs or ():
            chars[size] += len(text) - sum(c.isspace() for c in text)
    best = chars.most_common(1)
    return best[0][0] if best and best[0][0] > 0 else None


def _page_headings(lines: list[tuple[str, float, bool]], body: float) -> list[tuple[str, float]]:
    """The page's heading lines (text, size); `BOLD_BLOCK_LINES` bold lines of one size in a row are code."""
    bold = [size if b and body <= size < HEADING_SIZE_RATIO * body else None for _, size, b in lines]
    in_block = [False] * len(lines)
    for key, group in groupby(range(len(lines)), key=bold.__getitem__):
        members = list(group)
        for k in members if key is not None and len(members) >= BOLD_BLOCK_LINES else ():
            in_block[k] = True
    return [(text, size) for (text, size, _), b, block in zip(lines, bold, in_block)
            if _is_heading(text, size, b is not None and not block, body)]


def _is_heading(text: str, size: float, bold: bool, body: float) -> bool:
    """A short line with a letter, not a page number, set clearly larger than the body or wholly bold."""
    if len(text) > MAX_HEADING_CHARS or not any(c.isalpha() for c in text) or _PAGE_NUMBER.fullmatch(text):
        return False
    if size >= HEADING_SIZE_RATIO * body:
        return True
    return bold and len(text.split()) <= BOLD_HEADING_WORDS and not text.endswith(_SENTENCE_ENDS) \
        and not text.startswith(_NOT_HEADING_STARTS)


def _running(found: list[list[tuple[str, float]]], pages: int) -> set[str]:
    """Heading lines found on most pages (more than half of those with font info, at least 2): running heads."""
    pages_with = Counter(t for page in found for t in {t.casefold() for t, _ in page})
    return {t for t, n in pages_with.items() if n >= 2 and 2 * n > pages}


def _locate(page_text: str, found: list[tuple[str, float]]) -> list[tuple[int, int, float]]:
    """(start, end, size) of each found line where the page text has it as a whole line, in order.

    >>> _locate("Intro\\nbody text\\n  Usage ", [("Intro", 14.0), ("Missing", 12.0), ("Usage", 12.0)])
    [(0, 5, 14.0), (18, 23, 12.0)]
    """
    if not found:
        return []
    index: dict[str, list[int]] = {}
    pos = 0
    for line in page_text.split("\n"):
        if line.strip():
            index.setdefault(line.strip(), []).append(pos + len(line) - len(line.lstrip()))
        pos += len(line) + 1
    out: list[tuple[int, int, float]] = []
    cursor = 0
    for text, size in found:
        at = index.get(text, [])
        k = bisect.bisect_left(at, cursor)
        if k < len(at):
            out.append((at[k], at[k] + len(text), size))
            cursor = at[k] + len(text)
    return out


def _sparse(page_text: str) -> bool:
    return sum(not c.isspace() for c in page_text) < OCR_MIN_CHARS


def _ocr(data: bytes, candidates: list[int]) -> dict[int, str]:
    """Page index → OCR text for the candidate pages that are scans (empty when tesseract is missing)."""
    if not candidates or not shutil.which("tesseract"):
        return {}
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        return {}  # pypdf read it, pdfium cannot: keep the text layer
    out: dict[int, str] = {}
    try:
        scans = [i for i in candidates if i < len(pdf) and _image_share(pdf[i]) >= OCR_MIN_IMAGE_SHARE]
        workers = max(1, min(len(scans), os.cpu_count() or 1))
        with ThreadPoolExecutor(workers) as pool:
            for batch in (scans[k:k + workers] for k in range(0, len(scans), workers)):
                images = [render_for_ocr(pdf[i])[0] for i in batch]  # pdfium is not thread-safe: render here
                out.update(zip(batch, pool.map(tesseract, images)))
    except pdfium.PdfiumError:
        pass  # a page pdfium cannot render keeps its text layer; pages read so far are kept
    finally:
        pdf.close()
    return out


def _image_share(page) -> float:
    """The largest share of the page (its crop box) that one image object covers (0 when there is none)."""
    import pypdfium2.raw as pdfium_c

    x0, y0, x1, y1 = page.get_cropbox()
    if x1 <= x0 or y1 <= y0:
        return 0.0
    best = 0.0
    for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,)):
        left, bottom, right, top = obj.get_bounds()
        area = max(0.0, min(right, x1) - max(left, x0)) * max(0.0, min(top, y1) - max(bottom, y0))
        best = max(best, area / ((x1 - x0) * (y1 - y0)))
    return best


def render_for_ocr(page) -> tuple[bytes, float]:
    """A pypdfium2 page as a grey PNG at `OCR_DPI` (less for huge pages), and the scale used (pixels per point)."""
    width, height = page.get_size()
    scale = min(OCR_DPI / 72, (OCR_MAX_PIXELS / max(width * height, 1.0)) ** 0.5)
    image = page.render(scale=scale, grayscale=True).to_pil()
    buf = io.BytesIO()
    image.save(buf, format="PNG", dpi=(scale * 72, scale * 72))
    return buf.getvalue(), scale


def tesseract(png: bytes, *, tsv: bool = False) -> str:
    """What tesseract reads on the image (English): the text normalised like a text layer, or its TSV table of
    words and boxes (`tsv=True`); '' when tesseract is missing or fails."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(["tesseract", "stdin", "stdout", "-l", "eng", *(["tsv"] if tsv else [])], input=png,
                              capture_output=True, env=env, timeout=OCR_PAGE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    if done.returncode != 0:
        return ""
    text = done.stdout.decode("utf-8", "replace")
    return text if tsv else _normalise(text.replace("\x0c", "")).strip()
