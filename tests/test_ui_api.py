"""The web app through its Gradio API (gradio_client), on a real seeded index, launched once per module."""

from __future__ import annotations

import html
import re
from concurrent.futures import ThreadPoolExecutor

import gradio as gr
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError, AuthenticationError

from rag import Answer, Assistant, ConfigError
from rag_cited.ui import render
from rag_cited.ui.app import build_app, is_loopback, parse_auth, serve
from rag_cited.ui.uploads import ingest_uploads, safe_name

from .ui_helpers import SEED_FACTS, free_port, launched

ANSWER_FIELDS = set(Answer.model_fields)


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder):
    assistant = Assistant(data_dir=tmp_path_factory.mktemp("ui-api"), embed_model=embedder)
    assistant.ensure_seeded()
    with launched(build_app(assistant)) as url:
        client = Client(url, verbose=False)
        yield assistant, client
        client.close()


def ask(client: Client, question: str, history=None) -> dict:
    return client.predict(question, history, api_name="/ask")


def assert_exact(assistant: Assistant, result: dict) -> None:
    assert result["citations"], result
    for c in result["citations"]:
        assert assistant.document_text(c["source"])[c["start"]:c["end"]] == c["quote"], c


def test_api_has_stable_names_and_hides_ui_events(served):
    _, client = served
    api = client.view_api(return_format="dict", print_info=False)
    assert set(api["named_endpoints"]) == {"/ask", "/ingest", "/documents", "/delete", "/collections"}
    assert not api["unnamed_endpoints"]


def test_ask_seed_question_cites_exact_quotes(served):
    assistant, client = served
    result = ask(client, "Which villages did Azerbaijan attack on December 12?")
    assert set(result) == ANSWER_FIELDS
    assert "Khtsaberd" in result["text"] and "Khin Taher" in result["text"]
    assert not result["abstained"] and "[1]" in result["text"]
    assert_exact(assistant, result)
    assert result["retrieved"] and result["timings_ms"]["total_ms"] > 0


def test_follow_up_uses_history(served):
    _, client = served
    first = ask(client, "Which villages did Azerbaijan attack on December 12?")
    history = [{"role": "user", "content": first["question"]}, {"role": "assistant", "content": first["text"]}]
    assert "Armenian militia" not in ask(client, "Who held them?")["text"]  # alone, the question is unanswerable
    assert "Armenian militia" in ask(client, "Who held them?", history)["text"]


def test_bad_history_is_a_clear_error(served):
    _, client = served
    with pytest.raises(AppError, match="role"):
        ask(client, "What did he promise?", [{"speaker": "me"}])


def test_unanswerable_question_abstains_with_closest_passages(served):
    assistant, client = served
    result = ask(client, "What is the boiling point of liquid nitrogen?")
    assert result["abstained"]
    assert "don't say" in result["text"]
    for c in result["citations"]:
        assert assistant.document_text(c["source"])[c["start"]:c["end"]] == c["quote"]


def test_upload_ask_delete(served, tmp_path):
    assistant, client = served
    fact = tmp_path / "zorvath notes.txt"
    fact.write_text("Lighthouses of Zorvath\n\nThe Zorvathian lighthouse was painted teal in 1987.\n", encoding="utf-8")
    report = client.predict([handle_file(str(fact))], api_name="/ingest")
    source = "uploads/zorvath_notes.txt"
    assert report["added"] == [source] and not report["skipped"], report
    assert (assistant.settings.data_dir / "uploads" / "zorvath_notes.txt").is_file()
    assert source in {d["source"] for d in client.predict(api_name="/documents")}

    result = ask(client, "What colour was the Zorvathian lighthouse painted?")
    assert "teal" in result["text"]
    assert any(c["source"] == source for c in result["citations"])
    assert_exact(assistant, result)

    assert client.predict(source, api_name="/delete") is True
    assert source not in {d["source"] for d in client.predict(api_name="/documents")}
    assert not (assistant.settings.data_dir / "uploads" / "zorvath_notes.txt").exists()
    after = ask(client, "What colour was the Zorvathian lighthouse painted?")
    assert all(c["source"] != source for c in after["citations"])
    assert "teal" not in after["text"]
    assert client.predict(source, api_name="/delete") is False


def test_rejected_uploads_are_named_and_the_rest_goes_in(served, tmp_path):
    assistant, client = served
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "notes.xlsx").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)  # a spreadsheet: not read
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (tmp_path / "quill.md").write_text("# Quill\n\nThe Brastovan quill museum opens at dawn on Tuesdays.\n",
                                       encoding="utf-8")
    files = [handle_file(str(tmp_path / n)) for n in ("empty.txt", "notes.xlsx", "broken.pdf", "quill.md")]
    report = client.predict(files, api_name="/ingest")
    assert report["added"] == ["uploads/quill.md"], report
    reasons = {s["source"]: s["reason"] for s in report["skipped"]}
    assert set(reasons) == {"uploads/empty.txt", "uploads/notes.xlsx", "uploads/broken.pdf"}
    assert "empty.txt" in reasons["uploads/empty.txt"] and "empty" in reasons["uploads/empty.txt"]
    assert "notes.xlsx" in reasons["uploads/notes.xlsx"] and "unsupported" in reasons["uploads/notes.xlsx"]
    assert "broken.pdf" in reasons["uploads/broken.pdf"]
    uploads = assistant.settings.data_dir / "uploads"
    assert sorted(p.name for p in uploads.iterdir() if not p.name.startswith(".")) == ["quill.md"]
    result = ask(client, "When does the Brastovan quill museum open?")
    assert "dawn" in result["text"]
    assert client.predict("uploads/quill.md", api_name="/delete") is True


def test_document_html_is_escaped_in_sources(served, tmp_path):
    assistant, client = served
    evil = tmp_path / "evil.txt"
    evil.write_text('Payload <script>alert("x")</script> and <img src=x onerror="alert(1)"> here.\n\n'
                    'The Quorlish <b>ferry</b> sails at noon from the old harbour on every weekday of the year, '
                    'weather permitting <img src=x onerror=alert(2)>.\n', encoding="utf-8")  # prose, not code
    assert client.predict([handle_file(str(evil))], api_name="/ingest")["added"] == ["uploads/evil.txt"]
    answer = Answer.model_validate(ask(client, "When does the Quorlish ferry sail?"))
    assert any(c.source == "uploads/evil.txt" for c in answer.citations)
    panel = render.sources_panel(answer, 0, assistant.document_text)
    assert "<img" not in panel and "<script" not in panel and "<b>ferry" not in panel
    assert html.escape("<img src=x onerror=alert(2)>") in panel
    message = render.answer_message(answer, 0)
    assert re.search(r"(?<!\\)<", message) is None, message  # every "<" escaped for Markdown
    assert client.predict("uploads/evil.txt", api_name="/delete") is True


def test_eight_concurrent_chats_each_get_their_own_answer(served):
    assistant, client = served
    with ThreadPoolExecutor(max_workers=len(SEED_FACTS)) as pool:
        results = list(pool.map(lambda qf: ask(client, qf[0]), SEED_FACTS))
    for (question, fact), result in zip(SEED_FACTS, results):
        assert result["question"] == question
        assert fact in result["text"], (question, result["text"])
        assert_exact(assistant, result)


# -- pieces that need no server ------------------------------------------------------------------
@pytest.mark.parametrize("name, expected", [
    ("report.txt", "report.txt"),
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\evil.md", "evil.md"),
    ("my notes (final).TXT", "my_notes_final.TXT"),
    (".hidden.txt", "hidden.txt"),
    ("résumé.pdf", "resume.pdf"),
    ("a/b/..", "upload"),
    ("", "upload"),
    ("x" * 300 + ".txt", "x" * 116 + ".txt"),  # 120 characters at most
])
def test_safe_name(name, expected):
    assert safe_name(name) == expected


def test_too_large_upload_is_rejected_by_name(tmp_path, embedder):
    assistant = Assistant(data_dir=tmp_path / "data", embed_model=embedder, upload_max_mb=1)
    big = tmp_path / "big.txt"
    big.write_bytes(b"word " * 300_000)
    report = ingest_uploads(assistant, [(str(big), "big.txt")])
    assert not report.added and [s.source for s in report.skipped] == ["uploads/big.txt"]
    assert "big.txt" in report.skipped[0].reason and "1 MB" in report.skipped[0].reason


def test_reupload_of_a_bad_version_keeps_the_good_one(tmp_path, embedder):
    assistant = Assistant(data_dir=tmp_path / "data", embed_model=embedder)
    good, bad = tmp_path / "good" / "doc.txt", tmp_path / "bad" / "doc.txt"
    good.parent.mkdir(), bad.parent.mkdir()
    good.write_text("The Velmor bridge is made of granite.\n", encoding="utf-8")
    bad.write_bytes(b"\xff\xfe\x00broken")
    assert ingest_uploads(assistant, [(str(good), "doc.txt")]).added == ["uploads/doc.txt"]
    report = ingest_uploads(assistant, [(str(bad), "doc.txt")])
    assert [s.source for s in report.skipped] == ["uploads/doc.txt"]
    assert "granite" in (assistant.settings.data_dir / "uploads" / "doc.txt").read_text(encoding="utf-8")
    assert [d.source for d in assistant.documents()] == ["uploads/doc.txt"]


@pytest.mark.parametrize("value, expected", [
    (None, None), ("", None), ("ann:s3cret:x", [("ann", "s3cret:x")]),
])
def test_parse_auth(value, expected):
    assert parse_auth(value) == expected


def test_parse_auth_file_and_errors(tmp_path):
    f = tmp_path / "users"
    f.write_text("# team\nann:one\n\nbob:two\n", encoding="utf-8")
    assert parse_auth(str(f)) == [("ann", "one"), ("bob", "two")]
    with pytest.raises(ConfigError, match="user:password"):
        parse_auth("no-colon")


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("localhost", True), ("::1", True), ("[::1]", True), ("0.0.0.0", False),
    ("192.168.1.20", False), ("example.org", False),
])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_serve_with_login(served):
    assistant, _ = served
    app = serve(assistant, port=free_port(), auth="ann:s3cret", block=False)
    try:
        with pytest.raises(AuthenticationError):
            Client(app.local_url, verbose=False)
        client = Client(app.local_url, auth=("ann", "s3cret"), verbose=False)
        assert "Khtsaberd" in ask(client, "Which villages did Azerbaijan attack on December 12?")["text"]
        client.close()
        # a shared app does not let its users point the evaluation at files on the server
        assert _component(app, "eval-questions").interactive is False
    finally:
        app.close()


def _component(app, elem_id: str):
    return next(b for b in app.blocks.values() if getattr(b, "elem_id", None) == elem_id)


def test_local_app_lets_the_owner_choose_the_eval_suite(served):
    assistant, _ = served
    assert _component(build_app(assistant), "eval-questions").interactive is not False


def test_empty_index_is_handled(tmp_path, embedder):
    assistant = Assistant(data_dir=tmp_path / "empty", embed_model=embedder)
    with launched(build_app(assistant)) as url:
        client = Client(url, verbose=False)
        assert client.predict(api_name="/documents") == []
        result = ask(client, "What is in here?")
        assert result["abstained"] and not result["citations"]
        client.close()
    assert "No documents are indexed yet" in render.sources_panel(None, 0, assistant.document_text, documents=0)


# -- uploads only: a path to a file on the server is refused, with and without a login --------------
def _raw_ingest(http, url: str, path) -> str:
    """Call /ingest over plain HTTP with a FileData naming `path`, as any client could; the event stream."""
    payload = {"data": [[{"path": str(path), "meta": {"_type": "gradio.FileData"}}], None]}  # files, collection
    r = http.post(f"{url}gradio_api/call/ingest", json=payload)
    if r.status_code != 200:
        return f"HTTP {r.status_code}"
    return http.get(f"{url}gradio_api/call/ingest/{r.json()['event_id']}", timeout=120).text


def _api_fn(app, name: str):
    return next(f.fn for f in app.fns.values() if f.api_name == name)


@pytest.mark.parametrize("login", [None, ("ann", "s3cret")])
def test_a_server_path_sent_to_ingest_is_refused(tmp_path, embedder, login):
    import httpx

    assistant = Assistant(data_dir=tmp_path / "idx", embed_model=embedder)
    secret = tmp_path / "secret.txt"
    secret.write_text("The vault code is 4417 and the vault is under the harbour office.")
    app = build_app(assistant)
    app.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
               auth=[login] if login else None)
    try:
        with httpx.Client(timeout=60) as http:
            if login:
                assert _raw_ingest(http, app.local_url, secret) == "HTTP 401"  # no login: nothing is read
                assert http.post(f"{app.local_url}login", data=dict(zip(("username", "password"), login))).is_success
            out = _raw_ingest(http, app.local_url, secret)
        assert "event: error" in out and "not uploaded" in out, out
        # the app's own check, for a path that got past Gradio's preprocessing
        with pytest.raises(gr.Error, match="only files uploaded to this app"):
            _api_fn(app, "ingest")([str(secret)])
    finally:
        app.close()
    assert assistant.documents() == []
    assert not (tmp_path / "idx" / "uploads" / "secret.txt").exists()


def test_a_rejected_upload_is_not_kept_and_leftovers_do_not_block_later_uploads(tmp_path, embedder):
    assistant = Assistant(data_dir=tmp_path / "idx", embed_model=embedder)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    report = ingest_uploads(assistant, [(str(bad), "bad.txt")])
    assert [s.source for s in report.skipped] == ["uploads/bad.txt"]
    assert not (tmp_path / "idx" / "uploads" / "bad.txt").exists()
    # a file left behind by an interrupted batch is cleared by the next one, which goes in
    (tmp_path / "idx" / "uploads" / "left.txt").write_bytes(bad.read_bytes())
    good = tmp_path / "good.txt"
    good.write_text("The ferry Aldebaran leaves pier 9 at 07:40.")
    report = ingest_uploads(assistant, [(str(good), "good.txt")])
    assert report.added == ["uploads/good.txt"] and not report.skipped
    assert sorted(p.name for p in (tmp_path / "idx" / "uploads").iterdir()) == ["good.txt"]


def test_counts_are_pluralised():
    from types import SimpleNamespace

    from rag_cited.ui.app import upload_report_html

    one = render.header({"documents": 1, "chunks": 1}, "extractive")
    assert "1 document<" in one and "1 passage<" in one
    many = render.header({"documents": 2, "chunks": 0}, "extractive")
    assert "2 documents" in many and "0 passages" in many
    report = SimpleNamespace(added=["uploads/a.txt"], updated=[], unchanged=[], skipped=[], chunks_written=1,
                             seconds=0.1)
    assert "1 file in the index (1 passage written" in upload_report_html(report)


def test_gradio_footer_has_no_second_settings(monkeypatch):
    from rag_cited.ui.app import FOOTER_LINKS, ChatApp

    assert "settings" not in FOOTER_LINKS
    seen = {}
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, *a, **k: seen.update(k))  # what ChatApp passes on
    ChatApp(upload_max_mb=1).launch()
    assert seen["footer_links"] == ["api"]


def test_an_upload_does_not_prune_documents_whose_files_another_host_holds(tmp_path, embedder):
    # Two app hosts on one Chroma server each have an uploads folder, possibly at the same path: the index holds
    # uploads whose files are in the *other* host's folder. Simulated on one index: the file leaves this folder.
    assistant = Assistant(data_dir=tmp_path / "idx", embed_model=embedder)
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("The ferry Aldebaran leaves pier 9 at 07:40.")
    second.write_text("The ferry Betelgeuse leaves pier 4 at 09:15.")
    ingest_uploads(assistant, [(str(first), "a.txt")])
    (tmp_path / "idx" / "uploads" / "a.txt").unlink()
    report = ingest_uploads(assistant, [(str(second), "b.txt")])
    assert report.added == ["uploads/b.txt"] and not report.removed
    assert {d.source for d in assistant.documents()} == {"uploads/a.txt", "uploads/b.txt"}
