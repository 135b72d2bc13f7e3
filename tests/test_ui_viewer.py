"""The document viewer (ui/viewer.py) in a real browser (Debian's chromium via Playwright): a PDF citation opens
its page with the quote's own boxes marked where reportlab drew it, page by page; a Markdown citation opens the
text scrolled to the quote under its heading path; an OCR citation says so. Plus the viewer's HTML alone."""

from __future__ import annotations

import shutil

import pytest

from rag import Assistant, Citation
from rag_cited.ui import render, viewer

from .ui_helpers import (
    PHONE,
    ask,
    browser_page,
    chromium_browser,
    highlight_fractions,
    horizontal_overflow,
    launched,
    need,
    overlap,
    shot,
    write_pdf,
    write_scanned_pdf,
)

HARBOUR = [
    ["Harbour report", "The harbour of Velmora opened to ships in 1843.", "Fishing boats use the northern quay."],
    ["Lighthouse", "The Velmora lighthouse keeper is Ada Marsh.", "Its lamp was electrified in 1931 after a storm."],
    ["Ferries", "The ferry to Ostrel leaves at noon every Tuesday.", "Tickets are sold at the harbour office."],
]
LAMP_Q = "When was the Velmora lighthouse lamp electrified?"
LAMP_LINE = "Its lamp was electrified in 1931 after a storm."
OIL_Q = "How long does the Brastovan oil lamp burn?"
OIL_FACT = "The Brastovan oil lamp burns whale oil for nine hours."
IMG_LOADED = """() => { const i = document.querySelector('#viewer-body .viewer-page img');
                       return i && i.complete && i.naturalWidth > 0; }"""


def guide() -> str:
    """A long Markdown guide: the fact sits under "Lamps › Oil lamps", far below the top."""
    chores = "\n\n".join(f"Chore {i}: sweep the gallery, log the weather at {i % 12 + 1} o'clock and check the "
                         f"shutters on floor {i % 5 + 1}." for i in range(60))
    return (f"# Keeper's guide\n\n## Daily chores\n\n{chores}\n\n## Lamps\n\n### Oil lamps\n\n{OIL_FACT} "
            "Keepers trim the wick at dusk.\n\n### Electric lamps\n\nElectric lamps need a spare fuse.\n")


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as b:
        yield b


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder, browser):
    from rag_cited.ui.app import build_app

    docs = tmp_path_factory.mktemp("docs") / "keepers"
    docs.mkdir()
    drawn = write_pdf(docs / "harbour.pdf", HARBOUR, title="Harbour report")
    (docs / "guide.md").write_text(guide(), encoding="utf-8")
    assistant = Assistant(data_dir=tmp_path_factory.mktemp("ui-viewer"), embed_model=embedder)
    report = assistant.ingest([docs])
    assert sorted(report.added) == ["keepers/guide.md", "keepers/harbour.pdf"], report
    with launched(build_app(assistant)) as url:
        yield assistant, url, drawn


def citation_with(answer, text: str) -> Citation:
    return next(c for c in answer.citations if text in c.quote)


@pytest.mark.browser
@pytest.mark.slow
def test_pdf_citation_opens_its_page_with_the_quote_marked_where_it_was_drawn(browser, served):
    from playwright.sync_api import expect

    assistant, url, drawn = served
    cite = citation_with(assistant.ask(LAMP_Q), "electrified")
    assert cite.page == 2 and cite.source == "keepers/harbour.pdf"
    line = next(d for d in drawn if d.text == LAMP_LINE)
    neighbour = next(d for d in drawn if d.text == "The Velmora lighthouse keeper is Ada Marsh.")
    with browser_page(browser, url) as page:
        reply = ask(page, LAMP_Q)
        expect(page.locator(f"#src-0-{cite.id} .src-page")).to_have_text("p. 2")
        reply.locator(f'a[href="#src-0-{cite.id}"]').click()
        expect(page.locator("#viewer")).to_be_visible()
        expect(page.locator("#viewer-page-no")).to_have_text("page 2 of 3")
        expect(page.locator("#viewer-body .viewer-quote")).to_have_text(cite.quote)
        page.wait_for_function(IMG_LOADED)
        expect(page.locator("#viewer-body .viewer-hl")).to_have_count(1)  # one line, one box
        box = highlight_fractions(page)[0]
        assert overlap(box, line.fractions()) > 0.5, (box, line.fractions())  # on the quote, where it was drawn
        assert overlap(box, neighbour.fractions()) == 0, "the box covers the sentence above the quote"
        expect(page.locator("#viewer-body .viewer-hl")).to_be_in_viewport()
        expect(page.locator("#viewer-prev")).to_be_enabled()
        shot(page, "viewer-pdf-desktop", full_page=False)

        page.locator("#viewer-next").click()
        expect(page.locator("#viewer-page-no")).to_have_text("page 3 of 3")
        expect(page.locator("#viewer-body .viewer-cited")).to_contain_text("quote on page 2")
        expect(page.locator("#viewer-body .viewer-hl")).to_have_count(0)
        expect(page.locator("#viewer-next")).to_be_disabled()
        page.locator("#viewer-prev").click()
        expect(page.locator("#viewer-page-no")).to_have_text("page 2 of 3")
        page.locator("#viewer-prev").click()  # (a click while the last one is pending is dropped: wait for it)
        expect(page.locator("#viewer-page-no")).to_have_text("page 1 of 3")
        expect(page.locator("#viewer-prev")).to_be_disabled()
        page.locator("#viewer-next").click()
        expect(page.locator("#viewer-page-no")).to_have_text("page 2 of 3")
        expect(page.locator("#viewer-body .viewer-hl")).to_have_count(1)

        page.set_viewport_size(PHONE)  # the page scales down, the boxes with it
        page.wait_for_function(IMG_LOADED)
        assert overlap(highlight_fractions(page)[0], line.fractions()) > 0.5
        assert horizontal_overflow(page) == 0
        shot(page, "viewer-pdf-phone", full_page=False)
        page.locator("#viewer-close").click()
        expect(page.locator("#viewer")).to_be_hidden()


@pytest.mark.browser
@pytest.mark.slow
def test_text_citation_opens_the_document_scrolled_to_the_quote_under_its_headings(browser, served):
    from playwright.sync_api import expect

    assistant, url, _ = served
    cite = citation_with(assistant.ask(OIL_Q), "Brastovan")
    assert cite.page is None
    path = " › ".join(cite.heading_path)  # the engine's heading path (Markdown headings), shown as it is
    with browser_page(browser, url) as page:
        ask(page, OIL_Q)
        card = page.locator(f"#src-0-{cite.id}")
        if path:
            expect(card.locator(".src-path")).to_have_text(path)
        else:
            expect(card.locator(".src-path")).to_have_count(0)
        card.click()  # the card opens the viewer, like its [n]
        expect(page.locator("#viewer-body .viewer-title")).to_have_text(cite.title)
        if path:
            expect(page.locator("#viewer-body .viewer-path")).to_have_text(path)
        expect(page.locator("#viewer-mark")).to_have_text(cite.quote)
        expect(page.locator("#viewer-body .viewer-text")).to_contain_text("Chore 0: sweep the gallery")
        expect(page.locator("#viewer-mark")).to_be_in_viewport()  # scrolled down to the quote
        expect(page.locator("#viewer-prev")).to_be_hidden()  # no pages in a text document
        assert page.evaluate("document.querySelector('#viewer-body .viewer-text').scrollTop") > 0
        shot(page, "viewer-text-desktop", full_page=False)
        page.set_viewport_size(PHONE)
        expect(page.locator("#viewer-mark")).to_be_in_viewport()
        assert horizontal_overflow(page) == 0
        shot(page, "viewer-text-phone", full_page=False)


@pytest.mark.browser
@pytest.mark.slow
def test_ocr_citation_is_marked_as_read_by_ocr(browser, tmp_path, embedder):
    from playwright.sync_api import expect

    from rag_cited.ui.app import build_app

    if not shutil.which("tesseract"):
        need("Debian's tesseract-ocr and tesseract-ocr-eng for OCR")
    folder = tmp_path / "scans"
    folder.mkdir()
    write_scanned_pdf(folder / "logbook.pdf", ["The keeper Ada Marsh lit the lamp on 14 March 1887.",
                                               "A storm lasted three days and sank two ships."])
    assistant = Assistant(data_dir=tmp_path / "data", embed_model=embedder)
    assert assistant.ingest([folder]).ocr_pages == {"scans/logbook.pdf": [1]}
    question = "When did Ada Marsh light the lamp?"
    cite = assistant.ask(question).citations[0]
    assert cite.ocr and cite.page == 1
    with launched(build_app(assistant)) as url, browser_page(browser, url) as page:
        ask(page, question)
        expect(page.locator(f"#src-0-{cite.id} .ocr-badge")).to_be_visible()
        page.locator(f"#src-0-{cite.id}").click()
        expect(page.locator("#viewer-body .ocr-badge")).to_have_text("text read by OCR")
        page.wait_for_function(IMG_LOADED)
        expect(page.locator("#viewer-body .viewer-hl").first).to_be_visible()
        shot(page, "viewer-ocr-desktop", full_page=False)


# -- the HTML alone -------------------------------------------------------------------------------------------------
def test_viewer_html_escapes_and_marks():
    c = Citation(id=2, source="a/<b>.md", title="<i>T</i>", quote="x <script>", start=4, end=14, score=0.5,
                 heading_path=["<h>", "Sub"], ocr=True)
    t = viewer.Target.of(c, "documents")
    out = viewer.text_html(t, "abc x <script> def")
    assert '<mark id="viewer-mark">x &lt;script&gt;</mark>' in out and "<script>" not in out.replace("&lt;", "")
    assert "&lt;h&gt; › Sub" in out and "text read by OCR" in out and "&lt;i&gt;T&lt;/i&gt;" in out
    moved = viewer.text_html(t, "new first line\nabc x <script> def")  # the document changed: found again
    assert '<mark id="viewer-mark">x &lt;script&gt;</mark>' in moved
    assert "not in the current version" in viewer.text_html(t, "nothing here")
    assert viewer.Target.from_state(t.to_state()) == t


def test_page_html_places_boxes_in_percent_of_the_image():
    class Image:
        png, width, height, boxes = b"\x89PNG", 200, 100, [(20.0, 10.0, 120.0, 30.0)]

    t = viewer.Target("documents", "a.pdf", "A", "q", 0, 1, 1, page=3, shown=3)
    out = viewer.page_html(t, Image(), 3, 5)
    assert "left:10.000%;top:10.000%;width:50.000%;height:20.000%" in out
    assert 'id="viewer-page-no">page 3 of 5<' in out and "data:image/png;base64," in out
    assert "quote on page 3" in viewer.page_html(t, Image(), 4, 5)


def test_source_card_shows_page_heading_path_and_ocr():
    c = Citation(id=1, source="a.pdf", title="A", quote="q", start=0, end=1, score=0.5, page=3,
                 heading_path=["Intro", "Scope"], ocr=True)
    card = render.source_card(c, 0, lambda s: "q")
    assert '<span class="src-page">p. 3</span>' in card and "Intro › Scope" in card and "OCR" in card
    assert 'data-turn="0" data-n="1"' in card
    changed = render.source_card(c, 0, lambda s: "z and more")  # a saved answer over a changed document
    assert "<mark>q</mark>" in changed
    plain = render.source_card(c.model_copy(update={"page": None, "heading_path": [], "ocr": False}), 0, lambda s: "q")
    assert "src-page" not in plain and "src-path" not in plain and "OCR" not in plain
