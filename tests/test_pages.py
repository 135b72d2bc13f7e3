"""PDF pages: page starts in the loader, page numbers on citations, and page images whose boxes lie where
reportlab drew the quoted sentence (PDFs made here with reportlab; real Chroma, real model)."""

from __future__ import annotations

import pytest
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

from rag import Assistant, InputError
from rag.loaders import load_file
from rag.loaders.pdf import join_pages
from rag.pages import _find, _norm, merge_lines, render_page

from .conftest import assert_exact

WIDTH, HEIGHT = letter  # 612 x 792 points
PAGE_ONE = [
    "The lighthouse keeper Ada Marsh lit the lamp on 14 March 1887.",
    "Her logbook records a storm that lasted three days and sank two ships.",
    "The harbour master ordered the break-",
    "water to be rebuilt in granite after the storm.",
]
PAGE_TWO = [
    "The station received an electric lamp and a steam foghorn in 1902.",
    "The last keeper left the island when the light was automated in 1961.",
]
X, TOP, LEADING, FONT_SIZE = 72, 700, 20, 12  # where each line's baseline is: TOP - i * LEADING points


def make_pdf(path, pages, *, last_line_of=None):
    """One page per list of lines; `last_line_of` adds a sentence that starts at the bottom of page 1."""
    c = canvas.Canvas(str(path), pagesize=letter)
    for n, lines in enumerate(pages):
        c.setFont("Helvetica", FONT_SIZE)
        if n == 1 and last_line_of:  # drawn first: the text reads on from page 1
            c.drawString(X, 740, last_line_of[1])
        for i, line in enumerate(lines):
            c.drawString(X, TOP - i * LEADING, line)
        if n == 0 and last_line_of:
            c.drawString(X, 60, last_line_of[0])
        c.showPage()
    c.save()
    return path


@pytest.fixture(scope="module")
def pdf(tmp_path_factory):
    return make_pdf(tmp_path_factory.mktemp("pdf") / "harbour.pdf", [PAGE_ONE, PAGE_TWO],
                    last_line_of=("The keepers' wages were paid by the", "harbour trust until the station closed."))


def expected_box(line: int, page_line_top: float = TOP, scale: float = 1.5):
    """Pixel rows of line `line` (baseline at page_line_top - line*LEADING): from ascender to descender."""
    baseline = (HEIGHT - (page_line_top - line * LEADING)) * scale
    return baseline - FONT_SIZE * scale, baseline + 0.3 * FONT_SIZE * scale


def test_join_pages_and_page_starts():
    assert join_pages(["one", "", "three"]) == ("one\n\nthree", (0, 5, 5))
    assert join_pages(["", "two"]) == ("two", (0, 0))
    assert join_pages([]) == ("", ())


def test_loader_fills_page_starts(pdf):
    doc = load_file(pdf, "harbour.pdf")
    assert len(doc.pages) == 2 and doc.pages[0] == 0 and doc.ocr_pages == ()
    assert doc.text[doc.pages[1]:].startswith("harbour trust until") and doc.text[doc.pages[1] - 2:][:2] == "\n\n"
    assert "electric lamp" not in doc.text[:doc.pages[1]] and "Ada Marsh" in doc.text[:doc.pages[1]]


def test_matching_ignores_spacing_hyphens_and_ligatures():
    assert _norm("ﬁ") == "fi" and _norm(" - ") == "" and _norm("A") == "a"
    hay = "".join(map(_norm, "the break-\nwater was rebuilt"))
    assert _find(hay, "".join(map(_norm, "breakwater  was"))) is not None
    assert _find("endofthepagetextgoeshere", "goeshereandonto") == (16, 24)  # prefix that ends the page
    assert _find("ontothenextpageitgoes", "textgoesontothenext") == (0, 11)  # suffix that starts the page
    assert merge_lines([(0, 0, 5, 10), (5, 1, 9, 10), (0, 12, 4, 22)]) == [(0, 0, 9, 10), (0, 12, 4, 22)]


def test_boxes_lie_where_the_sentence_was_drawn(pdf):
    image = render_page(pdf, 1, quote=PAGE_ONE[1])
    assert (image.width, image.height) == (918, 1188) and image.png.startswith(b"\x89PNG")
    assert len(image.boxes) == 1
    x0, y0, x1, y1 = image.boxes[0]
    top, bottom = expected_box(1)
    assert abs(x0 - X * 1.5) < 3 and x1 > x0 + 300 and x1 < WIDTH * 1.5
    assert top - 4 <= y0 and y1 <= bottom + 4, (image.boxes, top, bottom)


def test_hyphenated_quote_across_lines_gets_a_box_per_line(pdf):
    doc = load_file(pdf, "harbour.pdf")
    start = doc.text.index("The harbour master")
    quote = doc.text[start:doc.text.index("granite", start) + len("granite")]
    image = render_page(pdf, 1, quote=quote, scale=2.0)
    assert len(image.boxes) == 2
    (a_top, a_bottom), (b_top, b_bottom) = expected_box(2, scale=2.0), expected_box(3, scale=2.0)
    assert a_top - 4 <= image.boxes[0][1] and image.boxes[0][3] <= a_bottom + 4
    assert b_top - 4 <= image.boxes[1][1] and image.boxes[1][3] <= b_bottom + 4


def test_quote_across_a_page_break_boxes_each_page_its_part(pdf):
    quote = "The keepers' wages were paid by the harbour trust until the station closed."
    first = render_page(pdf, 1, quote=quote)
    assert len(first.boxes) == 1 and first.boxes[0][1] > (HEIGHT - 80) * 1.5  # the bottom line of page 1
    second = render_page(pdf, 2, quote=quote)
    assert len(second.boxes) == 1 and second.boxes[0][3] < (HEIGHT - 700) * 1.5  # the top line of page 2
    assert render_page(pdf, 2, quote="not on this page at all, nowhere").boxes == []


def test_render_page_refuses_bad_input(pdf, tmp_path):
    with pytest.raises(InputError, match="out of range"):
        render_page(pdf, 3)
    with pytest.raises(InputError, match="scale"):
        render_page(pdf, 1, scale=0)
    (tmp_path / "fake.pdf").write_text("not a pdf")
    with pytest.raises(InputError, match="cannot open"):
        render_page(tmp_path / "fake.pdf", 1)


def test_citations_carry_pages_and_page_images(tmp_path, pdf, embedder):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "harbour.pdf").write_bytes(pdf.read_bytes())
    (folder / "note.txt").write_text("The museum opens at nine.\n")
    a = Assistant(data_dir=tmp_path / "data", embed_model=embedder)
    a.ingest([folder])
    docs = {d.source: d for d in a.documents()}
    assert docs["docs/harbour.pdf"].pages == 2 and docs["docs/note.txt"].pages == 0
    answer = a.ask("When was the light automated?")
    assert not answer.abstained and answer.citations
    assert_exact(a, answer)
    cited = next(c for c in answer.citations if "automated" in c.quote)
    assert cited.source == "docs/harbour.pdf" and cited.page == 2 and cited.ocr is False
    image = a.page_image(cited.source, cited.page, cited.quote)
    top, bottom = expected_box(1)
    assert len(image.boxes) == 1 and top - 4 <= image.boxes[0][1] and image.boxes[0][3] <= bottom + 4
    on_one = a.ask("Who lit the lamp in 1887?")
    assert any(c.page == 1 for c in on_one.citations if c.source == "docs/harbour.pdf")
    assert all(c.page is None for c in a.ask("When does the museum open?").citations if c.source == "docs/note.txt")

    with pytest.raises(InputError, match="not a PDF"):
        a.page_image("docs/note.txt", 1)
    with pytest.raises(InputError, match="no document"):
        a.page_image("docs/missing.pdf", 1)
    (folder / "harbour.pdf").write_bytes(pdf.read_bytes() + b"\n% changed\n")
    with pytest.raises(InputError, match="changed since"):
        a.page_image("docs/harbour.pdf", 1)
    (folder / "harbour.pdf").unlink()
    with pytest.raises(InputError, match="gone"):
        a.page_image("docs/harbour.pdf", 1)
