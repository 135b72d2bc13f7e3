"""PDF → the text of its pages (pypdf), pages separated by a blank line; scanned pages read by OCR (tesseract).

`load_pdf` returns `PdfText`: (text, title) like every loader, plus `pages` (page i+1 starts at text offset
pages[i]; an empty page starts where the next page's text would) and `ocr_pages` (1-based). A page whose text
layer has fewer than `OCR_MIN_CHARS` visible characters and that shows an image covering at least
`OCR_MIN_IMAGE_SHARE` of it is a scan: it is rendered with pypdfium2 at `OCR_DPI` and read by tesseract, and
its OCR text stands in for the page's (near-empty) text layer. Pages with a text layer are extracted exactly as
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

An encrypted PDF is opened only when it has an empty user password (permissions-only encryption, common
in exported reports); otherwise it is rejected with a reason. Corrupt files are rejected with pypdf's
error. Left out: OCR languages other than English, OCR of images inside pages that have a text layer
(figures, stamped signatures), deskewing and layout analysis beyond tesseract's, layout (columns, tables).
Without tesseract installed a scanned PDF is rejected with the apt-get line that fixes it, and
partly scanned PDFs keep their text pages only.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

from rag.errors import IngestError
from rag.loaders.text import TITLE_MAX, first_line_title

OCR_MIN_CHARS = 16  # fewer visible characters than this on a page = no real text layer (a scanner's page stamp)
OCR_MIN_IMAGE_SHARE = 0.3  # ...and an image covers at least this share of the page: a scan, not a blank page
OCR_DPI = 300  # tesseract's recommended resolution; 200-300 dpi read the test page perfectly (see above)
OCR_MAX_PIXELS = 40_000_000  # larger pages (posters, A0 plans) are rendered at a lower dpi to fit this
OCR_PAGE_TIMEOUT_S = 120.0  # one page; the parse budget (parse_timeout) bounds the whole file anyway
OCR_INSTALL = "apt-get install tesseract-ocr tesseract-ocr-eng"


class PdfText(tuple):
    """(text, title), as every loader returns, with `pages` (page start offsets) and `ocr_pages` (1-based)."""

    pages: tuple[int, ...]
    ocr_pages: tuple[int, ...]

    def __new__(cls, text: str, title: str, pages: tuple[int, ...] = (), ocr_pages: tuple[int, ...] = ()):
        self = super().__new__(cls, (text, title))
        self.pages, self.ocr_pages = tuple(pages), tuple(ocr_pages)
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
        pages = [_normalise(page.extract_text() or "").strip() for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except IngestError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, AttributeError, IndexError, AssertionError,
            NotImplementedError, ZeroDivisionError, RecursionError, EOFError) as e:
        raise IngestError(f"{name}: corrupt or unreadable PDF ({type(e).__name__}: {e}); re-export it") from e
    ocr = {i: t for i, t in _ocr(data, [i for i, p in enumerate(pages) if _sparse(p)]).items() if t}
    for i, page_text in ocr.items():
        pages[i] = page_text
    text, starts = join_pages(pages)
    if not text.strip():
        hint = "" if shutil.which("tesseract") else f"; OCR needs tesseract: {OCR_INSTALL}"
        raise IngestError(f"{name}: the PDF has no extractable text (no text layer and no text found by OCR){hint}")
    title = (_normalise(str(meta_title)).strip() or first_line_title(text))[:TITLE_MAX]
    return PdfText(text, title, starts, tuple(sorted(i + 1 for i in ocr)))


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
