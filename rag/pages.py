"""PDF pages as images, with the boxes of a quoted passage on them: what a viewer shows beside a citation.

`render_page(pdf_path, page, scale=1.5, quote=None)` renders one page with pypdfium2 (PNG, `scale` pixels per
PDF point: 1.5 = 108 dpi) and, given a quote, returns the pixel boxes (x0, y0, x1, y1; origin top left) of the
quote's characters on that page, merged into one box per line. The quote comes from the document text that
pypdf extracted (or tesseract read), whose spacing and hyphenation differ from pdfium's page text, so it is
located with both sides reduced to their visible characters: NFKC-normalised, case-folded, whitespace and
hyphens (including soft and pdfium's generated ones) dropped. A quote that runs on past the end of the page
matches by its longest prefix that ends the page (and on the next page by its longest suffix that starts it),
so each page shows its own part. Scanned pages (no text layer) are read again by tesseract for word boxes,
which costs about a second; the text it returns is the one ingest stored, so the quote matches.

Left out: a quote that occurs twice on a page is boxed where it first occurs; text drawn in another order than
it reads (columns pypdf and pdfium order differently) may not be found — the image is returned without boxes.
"""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path

from rag.errors import InputError
from rag.loaders.pdf import OCR_MIN_CHARS
from rag.types import PageImage

Box = tuple[float, float, float, float]
_SKIP = frozenset("-\u00ad\u2010\u2011\x02\ufffe")  # hyphens (pdfium marks generated ones as \x02 or \ufffe)
MIN_PARTIAL = 8  # a quote crossing a page break matches by a prefix/suffix at least this long (visible chars)
MAX_SCALE = 8.0


def _norm(ch: str) -> str:
    """One character as it is matched: its NFKC case-folded form without whitespace or hyphens ('' for none)."""
    return "".join(c for c in unicodedata.normalize("NFKC", ch).casefold() if not c.isspace() and c not in _SKIP)


def _find(haystack: str, needle: str) -> tuple[int, int] | None:
    """[start, end) of `needle` in `haystack`, else of its longest prefix that ends `haystack` or its longest
    suffix that starts it (a quote crossing a page break); None when neither is found.

    >>> _find("the end of page one", "page one and two"), _find("and two more", "page one and two"), _find("x", "y")
    ((11, 19), (0, 7), None)
    """
    if not needle:
        return None
    at = haystack.find(needle)
    if at >= 0:
        return at, at + len(needle)
    for k in range(min(len(needle), len(haystack)) - 1, MIN_PARTIAL - 1, -1):
        if haystack.endswith(needle[:k]):
            return len(haystack) - k, len(haystack)
        if haystack.startswith(needle[-k:]):
            return 0, k
    return None


def merge_lines(boxes: list[Box]) -> list[Box]:
    """Consecutive character boxes merged into one box per line (a box whose vertical middle is outside the
    current line's span starts a new line).

    >>> merge_lines([(0, 0, 5, 10), (5, 1, 9, 10), (0, 12, 4, 22)])
    [(0, 0, 9, 10), (0, 12, 4, 22)]
    """
    lines: list[list[float]] = []
    for x0, y0, x1, y1 in boxes:
        line = lines[-1] if lines else None
        if line is not None and line[1] <= (y0 + y1) / 2 <= line[3]:
            line[:] = [min(line[0], x0), min(line[1], y0), max(line[2], x1), max(line[3], y1)]
        else:
            lines.append([x0, y0, x1, y1])
    return [tuple(line) for line in lines]


def _text_layer(textpage) -> tuple[str, list[int]]:
    """The page's visible characters as matched, and the pdfium character index each one came from."""
    import pypdfium2.raw as pdfium_c

    chars, owners = [], []
    for i in range(textpage.count_chars()):
        for c in _norm(chr(pdfium_c.FPDFText_GetUnicode(textpage, i) or 0x20)):
            chars.append(c)
            owners.append(i)
    return "".join(chars), owners


def _text_layer_boxes(textpage, layer: tuple[str, list[int]], posconv, quote: str) -> list[Box]:
    chars, owners = layer
    span = _find(chars, _norm(quote))
    if span is None:
        return []
    boxes = []
    for i in sorted(set(owners[span[0]:span[1]])):
        left, bottom, right, top = textpage.get_charbox(i, loose=True)
        (ax, ay), (bx, by) = posconv.to_bitmap(left, top), posconv.to_bitmap(right, bottom)
        boxes.append((float(min(ax, bx)), float(min(ay, by)), float(max(ax, bx)), float(max(ay, by))))
    return merge_lines(boxes)


def _ocr_boxes(page, scale: float, quote: str) -> list[Box]:
    """Boxes of the quote on a scanned page: tesseract's words and their boxes, scaled to the rendered image."""
    from rag.loaders.pdf import render_for_ocr, tesseract

    png, ocr_scale = render_for_ocr(page)
    chars: list[str] = []
    owners: list[Box] = []
    for row in tesseract(png, tsv=True).splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
            continue
        x, y, w, h = (int(v) * scale / ocr_scale for v in cols[6:10])
        for c in _norm(cols[11]):
            chars.append(c)
            owners.append((x, y, x + w, y + h))
    span = _find("".join(chars), _norm(quote))
    if span is None:
        return []
    return merge_lines(list(dict.fromkeys(owners[span[0]:span[1]])))


def render_page(pdf_path: str | Path, page: int, *, scale: float = 1.5, quote: str | None = None) -> PageImage:
    """Page `page` (1-based) of the PDF as a PNG, and the boxes of `quote` on it (see the module docstring)."""
    import pypdfium2 as pdfium

    if not 0 < scale <= MAX_SCALE:
        raise InputError(f"scale must be in (0, {MAX_SCALE:g}], not {scale}")
    try:
        pdf = pdfium.PdfDocument(str(pdf_path))
    except (pdfium.PdfiumError, OSError) as e:
        raise InputError(f"{Path(pdf_path).name}: cannot open the PDF ({e})") from e
    try:
        if not 1 <= page <= len(pdf):
            raise InputError(f"page {page} is out of range: the PDF has {len(pdf)} page(s)")
        pdf_page = pdf[page - 1]
        bitmap = pdf_page.render(scale=scale)
        image = bitmap.to_pil()
        boxes: list[Box] = []
        if quote and quote.strip():
            textpage = pdf_page.get_textpage()
            layer = _text_layer(textpage)
            if len(layer[0]) >= OCR_MIN_CHARS:
                boxes = _text_layer_boxes(textpage, layer, bitmap.get_posconv(pdf_page), quote)
            else:  # a scanned page: its text in the index came from OCR
                boxes = _ocr_boxes(pdf_page, scale, quote)
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        return PageImage(png=buf.getvalue(), width=image.width, height=image.height, boxes=boxes)
    finally:
        pdf.close()
