"""Saved chats (ui/chats.py): the stored value and its bounds, and in a real browser (Debian's chromium via
Playwright) a chat that survives a reload, past chats listed, reopened with their sources, renamed, deleted."""

from __future__ import annotations

import json
import re

import pytest

from rag import Answer, Assistant, Citation, RetrievedChunk
from rag_cited.ui import chats

from .ui_helpers import PHONE, ask, browser_page, choose, chromium_browser, launched, shot, wait_ready

SEED_Q = "Which villages did Azerbaijan attack on December 12?"
PROMISE_Q = "What did Ilham Aliyev promise?"


def answer(question: str, n_retrieved: int = 2, text: str = "Ada lit it. [1]") -> Answer:
    cite = Citation(id=1, source="notes/a.txt", title="A", quote="Ada lit it.", start=0, end=11, score=0.9,
                    page=3, heading_path=["Lamps"])
    retrieved = [RetrievedChunk(id=f"c{i}", source="notes/a.txt", title="A", sha256="s", start=0, end=11,
                                text="Ada lit it. " * 50, score=0.5, rank=i) for i in range(n_retrieved)]
    return Answer(question=question, text=text, citations=[cite], abstained=False, retrieved=retrieved)


# -- the stored value ---------------------------------------------------------------------------------------------
def test_a_saved_answer_keeps_its_citations_and_drops_the_retrieved_texts():
    a = answer("Who lit the lamp?")
    store = chats.put(chats.empty(), "c1", "documents", [a])
    saved = store["chats"][0]
    assert store["current"] == "c1" and saved["title"] == "Who lit the lamp?" and saved["collection"] == "documents"
    assert all(r["text"] == "" for r in saved["turns"][0]["retrieved"])
    back = chats.answers(json.loads(json.dumps(saved)))[0]  # as it comes back from the browser
    assert back.citations == a.citations and back.text == a.text and len(back.retrieved) == 2
    assert back.citations[0].page == 3 and back.citations[0].heading_path == ["Lamps"]


def test_put_updates_a_chat_in_place_and_puts_it_first():
    store = chats.put(chats.empty(), "c1", "documents", [answer("First?")])
    store = chats.put(store, "c2", "other", [answer("Second?")])
    assert [c["id"] for c in store["chats"]] == ["c2", "c1"]
    store = chats.rename(store, "c1", "  My   chat ")
    store = chats.put(store, "c1", "documents", [answer("First?"), answer("Then?")])
    first = store["chats"][0]
    assert (first["id"], first["title"], len(first["turns"]), store["current"]) == ("c1", "My chat", 2, "c1")
    assert chats.choices(store) == [("My chat · documents · 2 answers", "c1"), ("Second? · other · 1 answer", "c2")]


def test_remove_and_set_current():
    store = chats.put(chats.put(chats.empty(), "c1", "d", [answer("A?")]), "c2", "d", [answer("B?")])
    store = chats.remove(store, "c2")
    assert [c["id"] for c in store["chats"]] == ["c1"] and store["current"] is None
    assert chats.set_current(store, "c1")["current"] == "c1" and chats.set_current(store, "gone")["current"] is None


@pytest.mark.parametrize("raw", [None, "x", [], {"v": 99, "chats": []}, {"v": 1, "chats": "no"}])
def test_load_refuses_what_is_not_a_store(raw):
    assert chats.load(raw) == chats.empty()


def test_load_drops_malformed_chats_and_turns():
    good = chats.put(chats.empty(), "c1", "documents", [answer("A?")])
    raw = {**good, "chats": [*good["chats"], {"id": 5}, "junk", {"id": "c9", "title": "t", "collection": "d",
                                                                 "turns": [{"question": "no text"}]}]}
    loaded = chats.load(raw)
    assert [c["id"] for c in loaded["chats"]] == ["c1", "c9"] and loaded["current"] == "c1"
    assert chats.answers(chats.find(loaded, "c9")) == []  # the turn does not parse: left out, not trusted
    assert chats.load({**raw, "current": "nowhere"})["current"] is None


def test_bounds_on_chats_turns_and_size(monkeypatch):
    store = chats.empty()
    for i in range(chats.MAX_CHATS + 5):
        store = chats.put(store, f"c{i}", "d", [answer(f"Q{i}?")])
    store = chats.put(chats.set_current(store, "c0"), "c0", "d", [answer("Q0?")])  # the oldest, reopened
    assert len(store["chats"]) == chats.MAX_CHATS and store["chats"][0]["id"] == "c0"

    long_chat = [answer(f"Q{i}?") for i in range(chats.MAX_TURNS + 7)]
    assert len(chats.put(chats.empty(), "x", "d", long_chat)["chats"][0]["turns"]) == chats.MAX_TURNS

    monkeypatch.setattr(chats, "MAX_CHARS", 20_000)
    store = chats.empty()
    for i in range(30):
        store = chats.put(store, f"c{i}", "d", [answer(f"Q{i}?", text="Ada lit it. [1] " * 40)])
    assert len(json.dumps(store["chats"])) <= 20_000
    assert store["chats"][0]["id"] == "c29" and "c0" not in {c["id"] for c in store["chats"]}  # oldest go first
    big = chats.put(chats.empty(), "big", "d", [answer(f"Q{i}?", text="x " * 2000) for i in range(20)])
    assert 0 < len(big["chats"][0]["turns"]) < 20 and big["chats"][0]["turns"][-1]["question"] == "Q19?"


def test_storage_key_and_secret_are_per_data_folder(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert chats.storage_key(a) != chats.storage_key(b) and chats.storage_key(a) == chats.storage_key(a)
    secret = chats.storage_secret(a)
    assert len(secret) >= 16 and chats.storage_secret(a) == secret != chats.storage_secret(b)


# -- in the browser -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as b:
        yield b


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder, browser):
    from rag_cited.ui.app import build_app

    assistant = Assistant(data_dir=tmp_path_factory.mktemp("ui-chats"), embed_model=embedder)
    assistant.ensure_seeded()
    with launched(build_app(assistant)) as url:
        yield assistant, url


def bots(page):
    return page.locator("#chatbot [data-testid='bot']")


@pytest.mark.browser
@pytest.mark.slow
def test_a_chat_survives_a_reload_and_past_chats_reopen_with_their_sources(browser, served):
    from playwright.sync_api import expect

    assistant, url = served
    first = assistant.ask(SEED_Q)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    with browser_page(browser, url, context=context) as page:
        ask(page, SEED_Q)
        ask(page, "Who held them?")
        page.reload()  # the open chat comes back from this browser's storage, with its sources
        wait_ready(page)
        expect(bots(page)).to_have_count(2)
        expect(bots(page).first).to_contain_text("Khtsaberd")
        expect(page.locator("#src-1-1")).to_be_visible()
        expect(page.locator("#sources .src-foot")).to_contain_text("Who held them?")
        expect(page.locator("#chat-list input")).to_have_value(re.compile(r"^Which villages.* · 2 answers$"))
        shot(page, "chat-restored-after-reload-desktop")

        page.locator("#new-chat").click()  # a new chat; the old one stays in the list
        expect(bots(page)).to_have_count(0)
        ask(page, PROMISE_Q)
        expect(page.locator("#chat-list input")).to_have_value(re.compile(r"^What did Ilham Aliyev promise"))

        choose(page, "chat-list", re.compile(r"^Which villages"))  # reopen the first chat
        expect(bots(page)).to_have_count(2)
        expect(page.locator("#src-1-1")).to_be_visible()
        bots(page).first.locator('a[href="#src-0-1"]').click()  # its first answer's source, from the saved answer
        expect(page.locator("#viewer-mark")).to_have_text(first.citations[0].quote)
        page.locator("#viewer-close").click()
        expect(page.locator("#viewer")).to_be_hidden()

        page.locator("#chat-manage").get_by_text("Rename or delete this chat").click()
        page.locator("#chat-title textarea").fill("Villages attacked")
        page.locator("#chat-rename").click()
        expect(page.locator("#chat-list input")).to_have_value("Villages attacked · documents · 2 answers")
        page.reload()
        wait_ready(page)
        expect(page.locator("#chat-list input")).to_have_value("Villages attacked · documents · 2 answers")
        expect(bots(page)).to_have_count(2)

        page.set_viewport_size(PHONE)
        expect(page.locator("#src-1-1")).to_be_visible()
        shot(page, "chat-reopened-phone")
        page.locator("#chat-list input").click()
        expect(page.get_by_role("option")).to_have_count(2)
        page.keyboard.press("Escape")

        page.locator("#chat-manage").get_by_text("Rename or delete this chat").click()
        page.locator("#chat-delete").click()
        expect(page.locator("#chat-confirm-row")).to_be_visible()
        page.locator("#chat-delete-yes").click()
        expect(bots(page)).to_have_count(0)
        page.locator("#chat-list input").click()
        expect(page.get_by_role("option")).to_have_count(1)
        expect(page.get_by_role("option")).to_contain_text("What did Ilham Aliyev promise?")
    context.close()
