"""The web app in a real browser (Debian's chromium driven by Playwright): chat, sources, the viewer from an
[n] of any answer, upload, delete, one Settings, and no sideways scrolling at phone width on any tab.

Skipped locally when chromium or Playwright is missing; a failure in CI (env CI set), where it must run.
Screenshots go to test-artifacts/ (git-ignored) for a human look.
"""

from __future__ import annotations

import re

import pytest

from rag import Assistant

from .ui_helpers import (
    PHONE,
    ask,
    browser_page,
    chromium_browser,
    horizontal_overflow,
    launched,
    open_tab,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SEED_Q = "Which villages did Azerbaijan attack on December 12?"
PROMISE_Q = "What did Ilham Aliyev promise?"


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as b:
        yield b


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder, browser):
    from rag_cited.ui.app import build_app

    assistant = Assistant(data_dir=tmp_path_factory.mktemp("ui-browser"), embed_model=embedder)
    assistant.ensure_seeded()
    with launched(build_app(assistant)) as url:
        yield assistant, url


@pytest.fixture
def page(browser, served):
    with browser_page(browser, served[1]) as page:
        yield page


def set_slider(page, elem: str, value: str) -> None:
    """Drag a slider to `value`; the accordion that holds it may still be mounting, so retry until it shows it."""
    from playwright.sync_api import expect

    for _ in range(10):
        page.locator(f"{elem} input[type=range]").fill(value)
        try:
            expect(page.locator(f"{elem} input[type=number]")).to_have_value(value, timeout=2_000)
            return
        except AssertionError:
            continue
    expect(page.locator(f"{elem} input[type=number]")).to_have_value(value)


RECORD_STREAM = """() => {
  window.__states = [];
  new MutationObserver(() => {
    const bots = document.querySelectorAll('#chatbot [data-testid=bot]');
    const text = bots.length ? bots[bots.length - 1].innerText : '';
    if (window.__states[window.__states.length - 1] !== text) window.__states.push(text);
  }).observe(document.querySelector('#chatbot'), {subtree: true, childList: true, characterData: true});
}"""


def close_viewer(page) -> None:
    from playwright.sync_api import expect

    page.locator("#viewer-close").click()
    expect(page.locator("#viewer")).to_be_hidden()


def test_chat_streams_answer_with_linked_highlighted_sources(page, served):
    from playwright.sync_api import expect

    assistant, _ = served
    expect(page.locator("#corpus-stats")).to_contain_text("1 document")
    expected = assistant.ask(SEED_Q)
    page.evaluate(RECORD_STREAM)
    reply = ask(page, SEED_Q)
    expect(reply).to_contain_text("Khtsaberd")
    expect(reply).to_contain_text("Khin Taher")
    states = page.evaluate("window.__states")
    assert any(s and "Khtsaberd" not in s for s in states[:-1]), f"the answer was not streamed: {states}"

    marks = page.locator("#sources mark")
    expect(marks).to_have_count(len(expected.citations))
    for i, c in enumerate(expected.citations):
        assert marks.nth(i).text_content() == c.quote
        assert assistant.document_text(c.source)[c.start:c.end] == c.quote
        card = page.locator(f"#src-0-{c.id}")
        expect(card).to_contain_text(c.title)
        expect(card).to_contain_text(c.source)

    link = reply.locator('a[href="#src-0-1"]')
    expect(link).to_have_text("1")
    link.click()
    expect(page.locator("#src-0-1")).to_have_class(re.compile(r"\bflash\b"))
    assert len(page.context.pages) == 1, "a citation link must not open a new tab"
    expect(page.locator("#viewer")).to_be_visible()  # the [n] opens the passage in its document
    expect(page.locator("#viewer-mark")).to_have_text(expected.citations[0].quote)
    expect(page.locator("#viewer-mark")).to_be_in_viewport()
    close_viewer(page)

    page.locator("#details-box").get_by_text("Retrieval details").click()
    expect(page.locator("#details")).to_contain_text("total_ms")
    shot(page, "chat-with-sources-desktop")

    follow_up = ask(page, "Who held them?")  # answerable only with the conversation
    expect(follow_up).to_contain_text("Armenian militia")
    expect(page.locator("#src-1-1")).to_be_visible()
    page.locator("#chatbot [data-testid='bot']").first.click()  # an earlier answer brings back its sources
    expect(page.locator("#src-0-1")).to_be_visible()

    page.locator("#settings").get_by_text("Settings").click()
    footer = page.locator("#sources .src-foot")
    for attempt in range(3):
        # On a loaded CI machine one run asked with top-k 5 although the slider showed 2: the Settings accordion
        # can mount its slider anew after it was set. Set it again and ask again; the answer must then use it.
        set_slider(page, "#top-k", "2")
        ask(page, PROMISE_Q if attempt == 0 else f"Once more: {PROMISE_Q}")  # returns once its own footer is in
        if "2 passages searched" in footer.inner_text() or attempt == 2:
            break
    expect(footer).to_contain_text("2 passages searched")

    page.locator("#new-chat").click()
    expect(page.locator("#chatbot [data-testid='bot']")).to_have_count(0)


def test_citation_in_an_older_answer_opens_that_answers_source(page, served):
    """[n] in an answer above the newest one: its own sources come back in the panel and the viewer shows its
    quote (the panel only held the newest answer's cards, so the link used to lead nowhere)."""
    from playwright.sync_api import expect

    assistant, _ = served
    first = assistant.ask(SEED_Q)
    ask(page, SEED_Q)
    ask(page, PROMISE_Q)
    expect(page.locator("#src-1-1")).to_be_visible()
    expect(page.locator("#src-0-1")).to_have_count(0)

    page.locator("#chatbot [data-testid='bot']").first.locator('a[href="#src-0-1"]').click()
    expect(page.locator("#viewer")).to_be_visible()
    expect(page.locator("#viewer-mark")).to_have_text(first.citations[0].quote)
    expect(page.locator("#viewer-body .viewer-title")).to_have_text(first.citations[0].title)
    close_viewer(page)
    expect(page.locator("#src-0-1")).to_be_visible()  # the panel shows the older answer's sources again
    expect(page.locator("#sources .src-foot")).to_contain_text(SEED_Q)

    page.locator("#src-0-1").click()  # a source card opens the viewer too
    expect(page.locator("#viewer-mark")).to_have_text(first.citations[0].quote)
    page.keyboard.press("Escape")
    expect(page.locator("#viewer")).to_be_hidden()


def test_unanswerable_question_is_honest(page):
    from playwright.sync_api import expect

    reply = ask(page, "What is the boiling point of liquid nitrogen?")
    expect(reply).to_contain_text("don't say")
    expect(page.locator("#sources .src-head")).to_contain_text("No answer in the documents")


def test_one_settings_and_counts_in_words(page):
    """The footer's Gradio "Settings" link is gone (the page had two "Settings"); counts are pluralised."""
    from playwright.sync_api import expect

    expect(page.get_by_text(re.compile(r"^\s*Settings\s*$"))).to_have_count(1)
    expect(page.locator("footer")).not_to_contain_text("Settings")
    expect(page.locator("#corpus-stats")).to_contain_text("1 document")
    expect(page.locator("#corpus-stats")).not_to_contain_text("1 documents")


def test_phone_width_stacks_chat_and_sources(page, served):
    from playwright.sync_api import expect

    page.set_viewport_size(PHONE)
    page.get_by_role("button", name=re.compile("What did Ilham Aliyev promise")).click()  # an example question
    expect(page.locator("#sources .src-foot")).to_contain_text(PROMISE_Q)
    expect(page.locator("#sources mark").first).to_contain_text("iron fist")
    chat, sources = page.locator("#chatbot").bounding_box(), page.locator("#sources").bounding_box()
    assert sources["y"] >= chat["y"] + chat["height"], "on a phone the sources panel goes below the chat"
    assert sources["width"] > 300
    shot(page, "chat-phone")


def test_no_sideways_scrolling_at_phone_width_on_any_tab(browser, served, tmp_path):
    """At 390 px every tab fits the window (the Documents tab was 762 px wide: its table and Delete cut off),
    with a document of long unbroken names in the table."""
    from playwright.sync_api import expect

    assistant, url = served
    folder = tmp_path / "reports"
    folder.mkdir()
    name = "quarterly_maintenance_report_for_the_northern_breakwater_and_its_lighthouse_2024.txt"
    (folder / name).write_text("Quarterly_maintenance_report_for_the_northern_breakwater_and_its_lighthouse\n\n"
                               "The northern breakwater was inspected in March.\n", encoding="utf-8")
    assistant.ingest([folder])
    try:
        for viewport, label in ((PHONE, "phone"), (None, "desktop")):
            with browser_page(browser, url, viewport) as page:
                for tab, button in (("Chat", "#ask-btn"), ("Documents", "#delete-btn"), ("Evaluation", "#eval-run")):
                    open_tab(page, tab)
                    expect(page.locator(button)).to_be_visible()
                    if tab == "Documents":
                        expect(page.locator("#documents")).to_contain_text(name)
                    if viewport:
                        assert horizontal_overflow(page) == 0, f"the {tab} tab scrolls sideways at 390 px"
                        box = page.locator(button).bounding_box()
                        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], f"{button} is cut off"
                    shot(page, f"tab-{tab.lower()}-{label}")
    finally:
        assistant.delete(f"reports/{name}")


def test_upload_ask_delete(page, served, tmp_path):
    from playwright.sync_api import expect

    assistant, _ = served
    fact = tmp_path / "zorvath.txt"
    fact.write_text("Lighthouses of Zorvath\n\nThe Zorvathian lighthouse was painted teal in 1987.\n", encoding="utf-8")
    evil = tmp_path / "evil.html.txt"
    evil.write_text('The Quorlish ferry <img src=x onerror="alert(1)"> sails at noon <script>alert(2)</script>.\n',
                    encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")

    open_tab(page, "Documents")
    page.locator("#upload input[type=file]").set_input_files([str(fact), str(evil), str(empty)])
    report = page.locator("#upload-report")
    expect(report).to_contain_text("uploads/zorvath.txt added")
    expect(report).to_contain_text("uploads/evil.html.txt added")
    expect(report).to_contain_text("empty.txt: empty file")
    expect(page.locator("#documents")).to_contain_text("uploads/zorvath.txt")
    expect(page.locator("#corpus-stats")).to_contain_text("3 documents")
    shot(page, "documents-after-upload")

    open_tab(page, "Chat")
    reply = ask(page, "What colour was the Zorvathian lighthouse painted?")
    expect(reply).to_contain_text("teal")
    expect(page.locator("#sources")).to_contain_text("uploads/zorvath.txt")

    reply = ask(page, "When does the Quorlish ferry sail?")
    expect(reply).to_contain_text('<img src=x onerror="alert(1)">')  # shown as text, not run
    expect(page.locator("#sources mark").first).to_contain_text("<script>alert(2)</script>")
    assert page.locator("#sources img, #chatbot [data-testid='bot'] img, #sources script").count() == 0
    page.locator("#chatbot [data-testid='bot']").last.locator('a[href^="#src-"]').first.click()
    expect(page.locator("#viewer-mark")).to_contain_text("<script>alert(2)</script>")  # the viewer escapes too
    assert page.locator("#viewer-body img, #viewer-body script").count() == 0
    close_viewer(page)

    open_tab(page, "Documents")
    page.locator("#delete-source input").click()
    page.get_by_role("option", name="uploads/zorvath.txt").click()  # substring of "<title> — <source>"
    page.locator("#delete-btn").click()
    expect(page.locator("#delete-report")).to_contain_text("Removed uploads/zorvath.txt")
    expect(page.locator("#documents")).not_to_contain_text("uploads/zorvath.txt")
    expect(page.locator("#corpus-stats")).to_contain_text("2 documents")
    assert "uploads/zorvath.txt" not in {d.source for d in assistant.documents()}

    open_tab(page, "Chat")
    ask(page, "What colour was the Zorvathian lighthouse painted?")
    expect(page.locator("#sources")).not_to_contain_text("uploads/zorvath.txt")
