"""The OpenAI-compatible API (`rag serve` → /v1) through the official `openai` client, over real HTTP, on a
real seeded index; the Gradio app still answers on the same port."""

from __future__ import annotations

import base64
import re
from urllib.parse import quote

import httpx
import openai
import pytest
from gradio_client import Client
from openai import OpenAI

from rag import Assistant
from rag_cited.ui.app import serve

from .conftest import SEED_SOURCE, SEEDS
from .openai_stub import ScriptedOpenAI, source_number
from .ui_helpers import chromium_browser, free_port

QUESTION = "Which villages did Azerbaijan attack on December 12?"
MODEL = "rag-cited:documents"
CITATION_FIELDS = {"n", "source", "title", "quote", "start", "end", "sha256", "page", "heading_path", "ocr",
                   "score"}


@pytest.fixture(scope="module")
def assistant(tmp_path_factory, embedder) -> Assistant:
    a = Assistant(data_dir=tmp_path_factory.mktemp("openai-api"), embed_model=embedder)
    a.ingest([SEEDS])
    return a


@pytest.fixture(scope="module")
def url(assistant):
    app = serve(assistant, port=free_port(), block=False)
    try:
        yield app.local_url.rstrip("/")
    finally:
        app.close()


@pytest.fixture(scope="module")
def client(url) -> OpenAI:
    return OpenAI(base_url=f"{url}/v1", api_key="unused-for-a-local-app", max_retries=0)


def check_citations(assistant: Assistant, url: str, citations: list[dict]) -> None:
    """Every quote is exact: in the engine, and through the remote verification endpoint."""
    assert citations
    documents = {d["source"]: d for d in httpx.get(f"{url}/v1/documents").json()["data"]}
    for c in citations:
        assert set(c) == CITATION_FIELDS, c
        assert assistant.document_text(c["source"])[c["start"]:c["end"]] == c["quote"], c
        r = httpx.get(f"{url}/v1/documents/{quote(c['source'])}", params={"start": c["start"], "end": c["end"]})
        assert r.status_code == 200, r.text
        assert r.json()["text"] == c["quote"] and r.json()["sha256"] == c["sha256"] == documents[c["source"]]["sha256"]


def test_models_lists_one_model_per_answer_mode(client):
    models = client.models.list().data
    assert [m.id for m in models] == [MODEL, f"{MODEL}:extractive"]  # no :llm without RAG_LLM_BASE_URL
    assert all(m.owned_by == "rag-cited" and m.object == "model" for m in models)
    assert client.models.retrieve(f"{MODEL}:extractive").id == f"{MODEL}:extractive"


def test_chat_completion_carries_exact_citations(client, assistant, url):
    resp = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": QUESTION}])
    text = resp.choices[0].message.content
    assert "Khtsaberd" in text and "Khin Taher" in text and "[1]" in text
    assert resp.choices[0].finish_reason == "stop" and resp.object == "chat.completion"
    extra = resp.model_extra
    assert extra["abstained"] is False and extra["notice"] is None
    assert {f"[{c['n']}]" for c in extra["citations"]} <= set(re.findall(r"\[\d+\]", text))
    check_citations(assistant, url, extra["citations"])


def test_streamed_completion_ends_with_the_citations(client, assistant, url):
    stream = client.chat.completions.create(model=f"{MODEL}:extractive", stream=True,
                                            messages=[{"role": "user", "content": QUESTION}])
    chunks = list(stream)
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks)
    assert len(chunks) >= 3 and chunks[0].choices[0].delta.role == "assistant"
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert all(ch.choices[0].finish_reason is None and "citations" not in (ch.model_extra or {}) for ch in chunks[:-1])
    plain = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": QUESTION}])
    assert text == plain.choices[0].message.content
    check_citations(assistant, url, last.model_extra["citations"])


def test_follow_up_uses_the_earlier_messages(client):
    first = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": QUESTION}])
    alone = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Who held them?"}])
    follow = client.chat.completions.create(model=MODEL, messages=[
        {"role": "system", "content": "You are a helpful assistant."},  # ignored: answers come from the documents
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": [{"type": "text", "text": "Who held them?"}]}])
    assert "Armenian militia" not in alone.choices[0].message.content
    assert "Armenian militia" in follow.choices[0].message.content


@pytest.mark.parametrize("body, status, param, code", [
    ({"model": MODEL, "messages": []}, 400, "messages", None),
    ({"model": MODEL}, 400, "messages", None),
    ({"model": MODEL, "messages": [{"role": "system", "content": "only instructions"}]}, 400, "messages", None),
    ({"model": MODEL, "messages": [{"role": "robot", "content": "hi"}]}, 400, "messages.0.role", None),
    ({"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "top_k": 0}, 400, "top_k", None),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": QUESTION}]}, 404, "model", "model_not_found"),
])
def test_bad_requests_get_openai_error_shape(url, body, status, param, code):
    r = httpx.post(f"{url}/v1/chat/completions", json=body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["code"] == code
    assert "Traceback" not in r.text and "/tmp" not in r.text


def test_openai_client_raises_on_errors(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=MODEL, messages=[])
    assert e.value.status_code == 400 and e.value.body["param"] == "messages"
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="rag-cited:elsewhere", messages=[{"role": "user", "content": "hi"}])
    assert e.value.body["code"] == "model_not_found"


def test_unknown_url_and_passage_errors(url):
    assert httpx.get(f"{url}/v1/embeddings").json()["error"]["code"] == "unknown_url"
    r = httpx.get(f"{url}/v1/documents/nowhere/missing.txt")
    assert r.status_code == 404 and r.json()["error"]["code"] == "document_not_found"
    for params in ({"start": -1}, {"start": 10, "end": 5}, {"end": 10**9}, {"start": "x"}):
        r = httpx.get(f"{url}/v1/documents/{SEED_SOURCE}", params=params)
        assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error", (params, r.text)
    whole = httpx.get(f"{url}/v1/documents/{SEED_SOURCE}").json()
    assert whole["start"] == 0 and len(whole["text"]) == whole["end"] > 1000


def test_engine_errors_are_one_line_without_server_paths(tmp_path, embedder):
    from fastapi.testclient import TestClient

    from rag_cited.ui.openai_api import openai_app

    Assistant(data_dir=tmp_path, embed_model=embedder).ingest([SEEDS])
    changed = Assistant(data_dir=tmp_path, embed_model=embedder, chunk_size=100)  # the index no longer fits
    with TestClient(openai_app(changed)) as api:
        r = api.post("/chat/completions", json={"model": MODEL, "messages": [{"role": "user", "content": QUESTION}]})
    error = r.json()["error"]
    assert r.status_code == 409 and error["type"] == "invalid_request_error" and "--rebuild" in error["message"]
    assert str(tmp_path) not in r.text and "<data dir>" in error["message"] and "Traceback" not in r.text


def test_gradio_app_still_serves_at_the_root(url, assistant):
    page = httpx.get(f"{url}/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    gc = Client(f"{url}/", verbose=False)
    result = gc.predict(QUESTION, [], api_name="/ask")
    gc.close()
    assert "Khtsaberd" in result["text"]


def test_logins_and_api_key_guard_the_api(assistant):
    app = serve(assistant, port=free_port(), auth="ann:s3cret", api_key="k-123", block=False)
    base = app.local_url.rstrip("/")
    try:
        ask = {"model": MODEL, "messages": [{"role": "user", "content": QUESTION}]}
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer ann:wrong"},
                        {"Authorization": "Basic " + base64.b64encode(b"ann:nope").decode()}):
            r = httpx.post(f"{base}/v1/chat/completions", json=ask, headers=headers)
            assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key", headers
            assert "k-123" not in r.text and "s3cret" not in r.text
        assert httpx.get(f"{base}/v1/documents").status_code == 401
        with pytest.raises(openai.AuthenticationError):
            OpenAI(base_url=f"{base}/v1", api_key="wrong", max_retries=0).models.list()
        for key in ("k-123", "ann:s3cret"):  # the API key, or a login as the key
            resp = OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0).chat.completions.create(**ask)
            assert "Khtsaberd" in resp.choices[0].message.content
        basic = {"Authorization": "Basic " + base64.b64encode(b"ann:s3cret").decode()}
        assert httpx.get(f"{base}/v1/documents", headers=basic).json()["data"][0]["source"] == SEED_SOURCE
    finally:
        app.close()


def test_llm_mode_streams_only_the_verified_text(tmp_path, embedder):
    """In llm mode the model's raw tokens are held back: the client gets the text its citations belong to."""
    def script(messages):
        right = source_number(messages, "iron fist")
        return (f"Ilham Aliyev promised to crush the Armenians with an iron fist [{right}]. "
                f"He announced a new airport in Shusha opening in 2031 [{right}].")

    with ScriptedOpenAI() as llm:
        llm.script(script)
        a = Assistant(data_dir=tmp_path, embed_model=embedder, llm_base_url=llm.url, llm_model="test-model",
                      llm_timeout=10)
        a.ingest([SEEDS])
        app = serve(a, port=free_port(), block=False)
        try:
            client = OpenAI(base_url=f"{app.local_url}v1", api_key="local", max_retries=0)
            assert [m.id for m in client.models.list().data][-1] == f"{MODEL}:llm"
            chunks = list(client.chat.completions.create(model=f"{MODEL}:llm", stream=True, messages=[
                {"role": "user", "content": "What did Ilham Aliyev promise?"}]))
            check_citations(a, app.local_url.rstrip("/"), chunks[-1].model_extra["citations"])
        finally:
            app.close()
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks)
    assert "iron fist" in text and "airport" not in text and text.endswith("[1]")
    assert "removed" in chunks[-1].model_extra["notice"]


def test_one_model_per_collection_answers_from_it(tmp_path, embedder):
    """Two collections in one data dir: both listed as models, each answering from its own documents; documents
    and passages take ?collection=."""
    from fastapi import FastAPI

    from rag_cited.ui.openai_api import ServerThread, bind_socket, openai_app

    for name, keeper in (("harbour", "Tobias Quill"), ("garden", "Miriam Hale")):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.txt").write_text(f"The keeper of the town archive is {keeper}.\n")
    a = Assistant(data_dir=tmp_path / "data", embed_model=embedder, collection="harbour")
    a.ingest([tmp_path / "harbour"])
    Assistant(data_dir=tmp_path / "data", embed_model=embedder, collection="garden").ingest([tmp_path / "garden"])
    root = FastAPI()
    root.mount("/v1", openai_app(a))
    server = ServerThread(root, bind_socket("127.0.0.1", 0))
    base = f"http://127.0.0.1:{server.sock.getsockname()[1]}"
    server.start()
    try:
        client = OpenAI(base_url=f"{base}/v1", api_key="local", max_retries=0)
        assert [m.id for m in client.models.list().data] == [
            "rag-cited:harbour", "rag-cited:harbour:extractive", "rag-cited:garden", "rag-cited:garden:extractive"]
        ask = [{"role": "user", "content": "Who is the keeper of the town archive?"}]
        for model, keeper, other in (("rag-cited:harbour", "Tobias Quill", "Miriam"),
                                     ("rag-cited:garden:extractive", "Miriam Hale", "Tobias")):
            resp = client.chat.completions.create(model=model, messages=ask)
            text, citations = resp.choices[0].message.content, resp.model_extra["citations"]
            assert keeper in text and other not in text and resp.model == model
            collection = model.split(":")[1]
            for c in citations:
                r = httpx.get(f"{base}/v1/documents/{quote(c['source'])}",
                              params={"start": c["start"], "end": c["end"], "collection": collection})
                assert r.json()["text"] == c["quote"]
        garden_docs = httpx.get(f"{base}/v1/documents", params={"collection": "garden"}).json()["data"]
        assert [d["source"] for d in garden_docs] == ["garden/garden.txt"] and garden_docs[0]["pages"] == 0
        missing = httpx.get(f"{base}/v1/documents", params={"collection": "nowhere"})
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "collection_not_found"
        for bad in ("rag-cited:nowhere", "rag-cited:garden:llm", "rag-cited:garden:fast", "rag-cited:bad name"):
            with pytest.raises(openai.NotFoundError):
                client.chat.completions.create(model=bad, messages=ask)
        assert client.models.retrieve("rag-cited:garden").id == "rag-cited:garden"
    finally:
        server.close()


@pytest.mark.browser
@pytest.mark.slow
def test_served_page_works_in_a_browser(url):
    """The Gradio app mounted by serve() keeps its theme, CSS and script: answers, source cards, working [n] links."""
    from playwright.sync_api import expect

    with chromium_browser() as browser:
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.set_default_timeout(30_000)
        page.goto(f"{url}/")
        page.locator("#question textarea").fill(QUESTION)
        page.locator("#question textarea").press("Enter")
        reply = page.locator("#chatbot [data-testid='bot']").last
        expect(reply).to_contain_text("Khtsaberd", timeout=60_000)  # a cold first answer on a loaded CI machine
        expect(page.locator("#src-0-1")).to_contain_text(SEED_SOURCE, timeout=30_000)
        reply.locator('a[href="#src-0-1"]').click()
        expect(page.locator("#src-0-1")).to_have_class(re.compile(r"\bflash\b"), timeout=30_000)  # the script ran
