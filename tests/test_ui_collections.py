"""Collections in the web app (ui/collections.py): the selector, new and delete (with confirmation), the chat,
the Documents tab and uploads on the selected collection, each chat in its own collection; in a real browser
(Debian's chromium via Playwright), and the API's optional collection through gradio_client."""

from __future__ import annotations

import re

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from rag import Assistant, InputError
from rag.collections import list_collections
from rag_cited.ui.collections import Collections, check_name
from rag_cited.ui.uploads import uploads_dir

from .ui_helpers import PHONE, ask, browser_page, choose, chromium_browser, launched, open_tab, shot

TEAL_Q = "What colour was the Zorvathian lighthouse painted?"
ZORVATH = "Lighthouses of Zorvath\n\nThe Zorvathian lighthouse was painted teal in 1987.\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder):
    from rag_cited.ui.app import build_app

    assistant = Assistant(data_dir=tmp_path_factory.mktemp("ui-collections"), embed_model=embedder)
    assistant.ensure_seeded()
    with launched(build_app(assistant)) as url:
        yield assistant, url


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as b:
        yield b


def names(assistant: Assistant) -> list[str]:
    return [c.name for c in list_collections(assistant.settings)]


def test_names_and_the_default_collection(served):
    assistant, _ = served
    collections = Collections(assistant)
    for bad in ("", "a", "has space", "-dash", "x__docs", "eval-mine"):
        with pytest.raises(InputError):
            check_name(bad)
    assert check_name(" notes-2024 ") == "notes-2024"
    with pytest.raises(InputError, match="default collection"):
        collections.delete(assistant.settings.collection)
    with pytest.raises(InputError, match="no collection"):
        collections.get("never-made")
    assert collections.get(None) is assistant and collections.infos()[0].name == assistant.settings.collection


@pytest.mark.browser
@pytest.mark.slow
def test_switching_collections_changes_the_answers_documents_and_uploads(browser, served, tmp_path):
    from playwright.sync_api import expect

    assistant, url = served
    fact = tmp_path / "zorvath.txt"
    fact.write_text(ZORVATH, encoding="utf-8")
    bots = "#chatbot [data-testid='bot']"
    with browser_page(browser, url) as page:
        page.locator("#collection-new").click()
        page.locator("#collection-name textarea").fill("lighthouses")
        page.locator("#collection-create").click()
        expect(page.locator("#collection input")).to_have_value("lighthouses · 0 documents")
        expect(page.locator("#corpus-stats")).to_contain_text("0 documents")
        expect(page.locator("#collection-create-row")).to_be_hidden()

        open_tab(page, "Documents")
        page.locator("#upload input[type=file]").set_input_files([str(fact)])
        expect(page.locator("#upload-report")).to_contain_text("uploads/zorvath.txt added")
        expect(page.locator("#documents")).to_contain_text("uploads/zorvath.txt")
        expect(page.locator("#documents")).not_to_contain_text("seeds/")
        expect(page.locator("#collection input")).to_have_value("lighthouses · 1 document")
        lighthouses = assistant.settings.model_copy(update={"collection": "lighthouses"})
        assert (uploads_dir(Assistant(lighthouses)) / "zorvath.txt").is_file()
        assert not (uploads_dir(assistant) / "zorvath.txt").exists()

        open_tab(page, "Chat")
        expect(ask(page, TEAL_Q)).to_contain_text("teal")
        expect(page.locator("#sources")).to_contain_text("uploads/zorvath.txt")
        shot(page, "collections-lighthouses-desktop")

        choose(page, "collection", re.compile(r"^documents"))  # the same question, another collection
        expect(page.locator(bots)).to_have_count(0)  # a new chat: the lighthouses one stays saved
        expect(page.locator("#corpus-stats")).to_contain_text("1 document")
        expect(ask(page, TEAL_Q)).not_to_contain_text("teal")
        expect(page.locator("#sources .src-head")).to_contain_text("No answer in the documents")
        open_tab(page, "Documents")
        expect(page.locator("#documents")).to_contain_text("seeds/")
        expect(page.locator("#documents")).not_to_contain_text("zorvath")

        open_tab(page, "Chat")
        choose(page, "chat-list", re.compile(r"^What colour.* · lighthouses · "))  # a chat reopens in its collection
        expect(page.locator("#collection input")).to_have_value("lighthouses · 1 document")
        expect(page.locator(bots)).to_have_count(1)
        expect(page.locator(bots).first).to_contain_text("teal")
        expect(ask(page, "And in which year?")).to_contain_text("1987")  # asked in the lighthouses collection

        page.locator("#collection-delete").click()
        expect(page.locator("#collection-confirm-row")).to_contain_text("“lighthouses” and its 1 document")
        page.locator("#collection-delete-cancel").click()
        expect(page.locator("#collection-confirm-row")).to_be_hidden()
        assert "lighthouses" in names(assistant)
        page.set_viewport_size(PHONE)
        page.locator("#collection-delete").click()
        expect(page.locator("#collection-confirm-row")).to_be_visible()
        shot(page, "collections-delete-confirm-phone", full_page=False)
        page.locator("#collection-delete-yes").click()
        expect(page.locator("#collection input")).to_have_value("documents · 1 document")
        expect(page.locator(bots)).to_have_count(0)
        assert "lighthouses" not in names(assistant)
        assert not uploads_dir(Assistant(lighthouses)).exists()

        page.locator("#collection-delete").click()  # the default one stays
        expect(page.get_by_text(re.compile("default collection and cannot be deleted"))).to_be_visible()
        expect(page.locator("#collection-confirm-row")).to_be_hidden()


def test_the_api_takes_a_collection(served, tmp_path):
    assistant, url = served
    Collections(assistant).create("api-notes")
    fact = tmp_path / "zorvath.txt"
    fact.write_text(ZORVATH, encoding="utf-8")
    client = Client(url, verbose=False)
    try:
        report = client.predict([handle_file(str(fact))], "api-notes", api_name="/ingest")
        assert report["added"] == ["uploads/zorvath.txt"], report
        assert "teal" in client.predict(TEAL_Q, collection="api-notes", api_name="/ask")["text"]
        assert "teal" not in client.predict(TEAL_Q, api_name="/ask")["text"]  # the default collection
        docs = client.predict(collection="api-notes", api_name="/documents")
        assert [d["source"] for d in docs] == ["uploads/zorvath.txt"]
        listed = {c["name"]: c for c in client.predict(api_name="/collections")}
        assert listed["api-notes"]["documents"] == 1 and assistant.settings.collection in listed
        with pytest.raises(AppError, match="no collection"):
            client.predict(TEAL_Q, collection="nowhere", api_name="/ask")
        assert client.predict("uploads/zorvath.txt", collection="api-notes", api_name="/delete") is True
        assert client.predict(collection="api-notes", api_name="/documents") == []
    finally:
        client.close()
