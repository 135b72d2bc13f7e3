"""PDF headings from font sizes and bold lines (`rag.loaders.pdf`): real PDFs drawn here with reportlab, read by
the real loader; the text must stay exactly what pypdf's plain `extract_text` gives."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DictionaryObject, NameObject
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

from rag.loaders import load_file
from rag.loaders.pdf import BOLD_BLOCK_LINES, _FontRuns, _locate, _normalise, join_pages, load_pdf
from rag.loaders.structure import MAX_HEADING_CHARS, sections

TITLE = "Harbour Light Station Report"
FOOTER = "Harbour Trust internal report"
BODY = [
    "The lighthouse keeper Ada Marsh lit the lamp on 14 March 1887 and kept the log.",
    "Her logbook records a storm that lasted three days and sank two ships.",
    "The harbour master ordered the breakwater rebuilt in granite after the storm.",
]
# (text, font, size) per line: a 20 pt title, a 14 pt bold section, a 12 pt sub-section, 10 pt body
PAGE_ONE = [(TITLE, "Helvetica-Bold", 20), ("1 Introduction", "Helvetica-Bold", 14),
            *[(b, "Helvetica", 10) for b in BODY], ("1.1 The lamp", "Helvetica", 12),
            *[(b, "Helvetica", 10) for b in BODY]]
PAGE_TWO = [("2 Storms", "Helvetica-Bold", 14), *[(b, "Helvetica", 10) for b in BODY],
            ("Wind and tide", "Helvetica-Bold", 10), *[(b, "Helvetica", 10) for b in BODY],
            ("2.1 The breakwater", "Helvetica", 12), *[(b, "Helvetica", 10) for b in BODY]]


def make_pdf(pages: list[list[tuple[str, str, float]]], *, footer: str = FOOTER) -> bytes:
    """One page per list of (text, font, size) lines, with a bold running footer and a page number on each."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=letter)
    c.setTitle(TITLE)
    for n, lines in enumerate(pages, 1):
        y = 720.0
        for text, font, size in lines:
            c.setFont(font, size)
            c.drawString(72, y, text)
            y -= size * 1.6
        c.setFont("Helvetica-Bold", 14)  # large and bold, like a heading: only repetition gives it away
        c.drawString(72, 40, footer)
        c.setFont("Helvetica", 10)
        c.drawString(500, 40, f"Page {n}")
        c.showPage()
    c.save()
    return buf.getvalue()


def plain_text(data: bytes) -> str:
    """What the loader gave before headings: each page's plain `extract_text`, joined."""
    pages = [_normalise(p.extract_text() or "").strip() for p in PdfReader(io.BytesIO(data)).pages]
    return join_pages(pages)[0]


def found(result) -> list[tuple[str, int]]:
    return [(result[0][start:end], level) for start, end, level in result.headings]


@pytest.fixture(scope="module")
def report() -> bytes:
    return make_pdf([PAGE_ONE, PAGE_TWO])


def test_headings_by_size_and_bold_with_levels(report):
    result = load_pdf(report, "report.pdf")
    assert found(result) == [(TITLE, 1), ("1 Introduction", 2), ("1.1 The lamp", 3),
                             ("2 Storms", 2), ("Wind and tide", 4), ("2.1 The breakwater", 3)]


def test_footer_page_numbers_and_body_are_not_headings(report):
    result = load_pdf(report, "report.pdf")
    names = {text for text, _ in found(result)}
    assert FOOTER in result[0] and "Page 2" in result[0]
    assert FOOTER not in names and not any(n.startswith("Page") for n in names)
    assert not names & set(BODY)


def test_headings_are_sorted_single_lines_that_sections_accept(report):
    result = load_pdf(report, "report.pdf")
    text, heads = result[0], result.headings
    assert list(heads) == sorted(heads)
    assert all(a[1] <= b[0] for a, b in zip(heads, heads[1:]))
    for start, end, _ in heads:
        assert "\n" not in text[start:end] and text[start:end] == text[start:end].strip()
        assert start == 0 or text[start - 1] == "\n"  # a whole line
        assert len(text[start:end]) <= MAX_HEADING_CHARS
    assert len(sections(text, heads)) == len(heads)


def test_text_pages_and_title_unchanged(report):
    result = load_pdf(report, "report.pdf")
    assert result[0] == plain_text(report)
    assert result.pages[0] == 0 and result[0][result.pages[1]:].startswith("2 Storms")
    assert result[1] == TITLE and result.ocr_pages == ()


def test_load_file_gives_sections_with_heading_paths(tmp_path, report):
    path = tmp_path / "report.pdf"
    path.write_bytes(report)
    doc = load_file(path, "report.pdf")
    paths = {s.heading_path for s in doc.sections}
    assert (TITLE, "1 Introduction", "1.1 The lamp") in paths
    assert (TITLE, "2 Storms", "Wind and tide") in paths
    assert (TITLE, "2 Storms", "2.1 The breakwater") in paths
    breakwater = doc.text.index("The harbour master", doc.text.index("2.1 The breakwater"))
    (holding,) = [s for s in doc.sections if s.start <= breakwater < s.end]
    assert holding.heading_path == (TITLE, "2 Storms", "2.1 The breakwater")


def test_bold_code_options_and_sentences_are_not_headings():
    bold = [("$ find . -name '*.c'", "Helvetica-Bold", 10), ("--mirror", "Helvetica-Bold", 10),
            ("Keep the lamp lit at all times.", "Helvetica-Bold", 10),
            ("A bold line of far too many words to be any kind of heading", "Helvetica-Bold", 10),
            ("Options", "Courier-Bold", 10)]  # bold monospace: a command, not a heading
    block = [(f"repo/project{i}/.git", "Helvetica-Bold", 10) for i in range(BOLD_BLOCK_LINES)]
    body = [(b, "Helvetica", 10) for b in BODY * 3]
    between = [line for b in bold for line in (b, *body[:1])]  # each bold line followed by body text
    page = [("Examples", "Helvetica-Bold", 14), *body, *between, *block, *body, ("Notes", "Helvetica-Bold", 10), *body]
    assert found(load_pdf(make_pdf([page], footer=""), "x.pdf")) == [("Examples", 1), ("Notes", 2)]


def test_page_with_a_missing_font_loads_without_headings():
    """Page 3 loses its body font (Helvetica) from its resources: pypdf reads that text as U+FFFD, the bold
    headings stay readable, but the page's font info is broken, so it gives no headings; its text loads."""
    page_three = [("3 Keepers", "Helvetica-Bold", 14), *[(b, "Helvetica", 10) for b in BODY],
                  ("Pay and leave", "Helvetica-Bold", 10), *[(b, "Helvetica", 10) for b in BODY]]
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([PAGE_ONE, PAGE_TWO, page_three]))))
    resources = writer.pages[2]["/Resources"]  # reportlab's pages share one font dict: page 3 gets its own
    kept = {NameObject(k): f for k, f in resources["/Font"].items() if f.get_object()["/BaseFont"] != "/Helvetica"}
    resources[NameObject("/Font")] = DictionaryObject(kept)
    buf = io.BytesIO()
    writer.write(buf)
    broken = buf.getvalue()
    result = load_pdf(broken, "broken.pdf")
    assert result[0] == plain_text(broken)
    assert result[0][result.pages[2]:].startswith("3 Keepers\n\ufffd") and "\nPay and leave\n" in result[0]
    assert found(result) == found(load_pdf(make_pdf([PAGE_ONE, PAGE_TWO, page_three]), "whole.pdf"))[:6]
    assert found(result)[-1] == ("2.1 The breakwater", 3)


def test_a_font_run_that_cannot_be_read_drops_the_page_not_the_text():
    runs = _FontRuns()
    runs("Title", [1, 0, 0, 1, 0, 0], [1, 0, 0, 1, 0, 0], DictionaryObject(), 20)
    assert runs.ok and runs.runs == [("Title", 20.0, False)]
    runs("Body", [1, 0, 0, 1, 0, 0], [1.0], DictionaryObject(), 10)  # a matrix too short: IndexError inside
    assert not runs.ok and runs.runs == []


def test_scaled_text_counts_its_effective_size():
    runs = _FontRuns()
    runs("Big", [2, 0, 0, 2, 0, 0], [1, 0, 0, 1.5, 0, 0], DictionaryObject(), 10)
    assert runs.runs == [("Big", 30.0, False)]


def test_locate_places_headings_on_whole_lines_in_order():
    page = "Intro\nSee Usage below\n  Usage \nUsage"
    assert _locate(page, [("Intro", 14.0), ("Missing", 12.0), ("Usage", 12.0), ("Usage", 12.0)]) == \
        [(0, 5, 14.0), (24, 29, 12.0), (31, 36, 12.0)]
