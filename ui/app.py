"""The browser chat: `build_app(assistant)` makes the Gradio Blocks, `serve(assistant, ...)` runs it.

Chat tab: streamed answers whose [n] markers link to numbered source cards (the quote highlighted
in its passage), retrieval details on demand, follow-ups that use the conversation, per-session
settings (top-k, answer mode). Documents tab: upload (several files, drag and drop) with progress,
the document list, delete. Evaluation tab (ui/evaluation.py): run the question suite or load the
last run; metrics and the HTML report. API (for `gradio_client`): "ask", "ingest", "documents",
"delete"; the UI's own events are private. Uses only `rag`'s and `eval`'s public APIs. Left out:
per-user indexes and accounts (auth is one shared login list; everyone sees the same documents)."""

from __future__ import annotations

import html
import ipaddress
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from rag import Answer, Assistant, ConfigError, RagError
from rag.types import Final, TextDelta, conversation
from rag_cited.ui import render
from rag_cited.ui.evaluation import evaluation_tab
from rag_cited.ui.theme import CSS, HEAD, theme
from rag_cited.ui.uploads import file_for_source, ingest_uploads

log = logging.getLogger("ui")
CONCURRENCY = 8  # simultaneous chats; the engine is thread-safe and each question takes ~0.3 s of CPU
PRIVATE = "private"  # UI events stay out of the API (the frontend still calls them)
SUPPORTED_HINT = ".txt, .md, .html, .pdf, .docx"  # for the hint only: the engine decides, and says why not
MAX_EXAMPLES = 4

# Example questions for the bundled seed corpus, keyed by the document's sha256 (questions, never answers).
SEED_QUESTIONS = {
    "3c240155eff833dc0bf6b28a0256e941fcb6dfb21f4af1496c0475ce55cae666": [
        "Which villages did Azerbaijan attack on December 12?",
        "What did Ilham Aliyev promise?",
        "How many soldiers were killed, according to Baku?",
    ],
}


class ChatApp(gr.Blocks):
    """`gr.Blocks` that launches with this app's theme, CSS, script and upload limit unless told otherwise."""

    def __init__(self, *, upload_max_mb: int, **kwargs):
        kwargs.setdefault("analytics_enabled", False)  # offline by design: no calls home
        super().__init__(**kwargs)
        self.upload_max_mb = upload_max_mb

    def launch(self, *args, **kwargs):
        kwargs.setdefault("theme", theme())
        kwargs.setdefault("css", CSS)
        kwargs.setdefault("head", HEAD)
        kwargs.setdefault("max_file_size", f"{self.upload_max_mb}mb")
        kwargs.setdefault("footer_links", ["api", "settings"])
        kwargs.setdefault("show_error", True)
        return super().launch(*args, **kwargs)


# -- helpers over the engine -----------------------------------------------------------------------
def answer_modes(assistant: Assistant) -> list[str]:
    """Extractive always; "llm" only when an endpoint is configured."""
    return ["extractive", "llm"] if assistant.settings.llm_base_url else ["extractive"]


def example_questions(assistant: Assistant) -> list[str]:
    """Questions to try: curated ones for the seed corpus, otherwise built from the newest documents' titles."""
    docs = assistant.documents()
    out: list[str] = []
    for d in docs:
        out += SEED_QUESTIONS.get(d.sha256, [])
    for d in sorted(docs, key=lambda d: d.ingested_at, reverse=True):
        if d.sha256 in SEED_QUESTIONS:
            continue
        title = " ".join((d.title or Path(d.source).stem).split())
        title = title if len(title) <= 70 else title[:67].rsplit(" ", 1)[0] + "…"
        out.append(f"What does “{title}” say?")
    return list(dict.fromkeys(out))[:MAX_EXAMPLES]


def chat_messages(turns: list[Answer]) -> list[dict]:
    msgs: list[dict] = []
    for i, a in enumerate(turns):
        msgs += [{"role": "user", "content": render.md_escape(a.question)},
                 {"role": "assistant", "content": render.answer_message(a, i)}]
    return msgs


def details(answer: Answer) -> dict:
    """What the retrieval-details accordion shows for one answer."""
    return {"question": answer.question, "mode": answer.mode, "abstained": answer.abstained,
            "timings_ms": answer.timings_ms,
            "citations": [{"id": c.id, "source": c.source, "start": c.start, "end": c.end, "score": c.score}
                          for c in answer.citations],
            "retrieved": [r.model_dump(exclude={"text"}) for r in answer.retrieved]}


def check_history(history) -> list[dict] | None:
    """Validate an API caller's history: a list of {"role": "user"|"assistant", "content": str}."""
    if history in (None, "", []):
        return None
    if not isinstance(history, list):
        raise gr.Error("history must be a list of {role, content} messages")
    out = []
    for m in history:
        if not (isinstance(m, dict) and m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str)):
            raise gr.Error('history messages must look like {"role": "user"|"assistant", "content": "…"}')
        out.append({"role": m["role"], "content": m["content"]})
    return out


def upload_report_html(report) -> str:
    lines = []
    for verb, sources in (("added", report.added), ("updated", report.updated),
                          ("already indexed, unchanged", report.unchanged)):
        lines += [f'<li class="ok">✓ <code>{html.escape(s)}</code> {verb}</li>' for s in sources]
    lines += [f'<li class="bad">✗ rejected: {html.escape(s.reason)}</li>' for s in report.skipped]
    if not lines:
        return ""
    ok = len(report.added) + len(report.updated) + len(report.unchanged)
    summary = (f"{render.plural(ok, 'file')} in the index ({report.chunks_written} passages written, "
               f"{report.seconds:.1f} s)" + (f"; {len(report.skipped)} rejected" if report.skipped else ""))
    return f"<div><b>{summary}</b><ul>{''.join(lines)}</ul></div>"


# -- the app ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChatTab:
    """The Chat tab's components that events read or write."""

    chatbot: gr.Chatbot
    question: gr.Textbox
    ask: gr.Button
    new_chat: gr.Button
    top_k: gr.Slider
    mode: gr.Radio
    sources: gr.HTML
    retrieval: gr.JSON


@dataclass(frozen=True)
class DocumentsTab:
    """The Documents tab's components that events read or write."""

    upload: gr.File
    upload_report: gr.HTML
    table: gr.HTML
    to_delete: gr.Dropdown
    delete: gr.Button
    delete_report: gr.HTML


@dataclass(frozen=True)
class Corpus:
    """What the page shows about the current index: header, documents table, delete choices, examples."""

    header: str
    table: str
    choices: list[tuple[str, str]]
    examples: list[dict]
    documents: int


def corpus(assistant: Assistant, mode: str) -> Corpus:
    status, docs = assistant.status(), assistant.documents()
    return Corpus(render.header(status, mode), render.documents_table(docs),
                  [(f"{d.title} — {d.source}", d.source) for d in docs],
                  [{"text": q} for q in example_questions(assistant)], int(status["documents"]))


def corpus_updates(assistant: Assistant, mode: str) -> tuple:
    """Updates for (header, documents table, delete dropdown, chatbot examples) after the index changed."""
    c = corpus(assistant, mode)
    return c.header, c.table, gr.update(choices=c.choices, value=None), gr.update(examples=c.examples or None)


def build_app(assistant: Assistant, *, server_paths: bool = True) -> gr.Blocks:
    """The whole web app for `assistant` (queue set up; call `.launch(...)` on it, or use `serve`).

    server_paths=False: the Evaluation tab runs only the bundled suites (for apps reachable by others).
    """
    settings = assistant.settings
    modes = answer_modes(assistant)
    default_mode = settings.effective_mode() if settings.effective_mode() in modes else "extractive"

    with ChatApp(upload_max_mb=settings.upload_max_mb, title="Cited — answers from your documents") as demo:
        now = corpus(assistant, default_mode)
        header = gr.HTML(now.header, elem_id="header")
        turns = gr.State([])
        with gr.Tabs():
            chat = chat_tab(assistant, now, modes, default_mode)
            documents = documents_tab(settings.upload_max_mb, now)
            evaluation_tab(assistant, server_paths=server_paths)  # ui/evaluation.py: run the question suite, metrics, report

        # API-only endpoints (hidden components carry the file upload through gradio_client)
        api_files = gr.File(file_count="multiple", visible=False)
        api_report = gr.JSON(visible=False)
        api_trigger = gr.Button(visible=False)

        received = received_as_upload(demo)
        chat_events(assistant, chat, turns)
        documents_events(demo, assistant, default_mode, header, chat, documents, turns, received)
        api_events(assistant, modes, received, api_files, api_report, api_trigger)

    demo.queue(default_concurrency_limit=CONCURRENCY)
    return demo


def chat_tab(assistant: Assistant, now: Corpus, modes: list[str], default_mode: str) -> ChatTab:
    """The Chat tab: conversation, question box, settings, and the sources panel beside them."""
    settings = assistant.settings
    with gr.Tab("Chat", id="chat"):
        with gr.Row(elem_id="chat-row", equal_height=False):
            with gr.Column(scale=3, min_width=340):
                chatbot = gr.Chatbot(
                    elem_id="chatbot", show_label=False, height=520, layout="bubble",
                    buttons=["copy", "copy_all"], feedback_options=None, sanitize_html=True,
                    examples=now.examples or None,
                    latex_delimiters=[], placeholder=(
                        "**Ask anything about your documents.**<br>Answers quote the documents "
                        "sentence by sentence; click a number to see the passage."))
                with gr.Row(equal_height=True):
                    question = gr.Textbox(placeholder="Ask about your documents…", show_label=False,
                                          elem_id="question", scale=8, lines=1, max_lines=4, autofocus=True,
                                          container=False)
                    ask = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ask-btn")
                with gr.Row():
                    new_chat = gr.Button("New chat", size="sm", variant="secondary", elem_id="new-chat")
                with gr.Accordion("Settings", open=False, elem_id="settings"):
                    top_k = gr.Slider(1, 20, value=settings.top_k, step=1, label="Passages searched (top-k)",
                                      elem_id="top-k",
                                      info="More passages: better recall, slower answers.")
                    mode = gr.Radio(modes, value=default_mode, label="Answer mode", info=(
                        "extractive: exact sentences from the documents" + (
                            "; llm: written by the configured model, then checked against the sources"
                            if "llm" in modes else " (set RAG_LLM_BASE_URL to enable LLM answers)")))
            with gr.Column(scale=2, min_width=300):
                sources = gr.HTML(render.sources_panel(None, 0, assistant.document_text, documents=now.documents),
                                  elem_id="sources", container=True, padding=True)
                with gr.Accordion("Retrieval details", open=False, elem_id="details-box"):
                    retrieval = gr.JSON(elem_id="details", show_label=False)
    return ChatTab(chatbot, question, ask, new_chat, top_k, mode, sources, retrieval)


def documents_tab(upload_max_mb: int, now: Corpus) -> DocumentsTab:
    """The Documents tab: upload on the left, the indexed documents and delete on the right."""
    with gr.Tab("Documents", id="documents"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                gr.Markdown("### Add documents")
                upload = gr.File(label="Drop files here or click to browse", show_label=False,
                                 file_count="multiple", elem_id="upload", height=160)
                gr.Markdown(f"Supported: {SUPPORTED_HINT}; up to {upload_max_mb} MB each. "
                            "Files are copied into the index folder; a file with the same name replaces the "
                            "older one.", elem_classes=["hint"])
                upload_report = gr.HTML(elem_id="upload-report")
            with gr.Column(scale=3, min_width=320):
                gr.Markdown("### Indexed documents")
                table = gr.HTML(now.table, elem_id="documents")
                with gr.Row(equal_height=False, elem_id="delete-row"):
                    to_delete = gr.Dropdown(label="Remove a document", choices=now.choices, value=None,
                                            elem_id="delete-source",
                                            scale=4)
                    delete = gr.Button("Delete", variant="stop", elem_id="delete-btn", scale=1, min_width=100)
                delete_report = gr.HTML(elem_id="delete-report")
    return DocumentsTab(upload, upload_report, table, to_delete, delete, delete_report)


def chat_events(assistant: Assistant, chat: ChatTab, turns: gr.State) -> None:
    """Ask (streamed), pick an example, show an earlier turn's sources, start a new chat."""

    def respond(message: str, past: list[Answer], k: float, chosen_mode: str):
        """Settings come in with the event (per session, and never behind a pending change event)."""
        q = (message or "").strip()
        if not q:
            raise gr.Error("Type a question first.")
        turn = len(past)
        msgs = chat_messages(past) + [{"role": "user", "content": render.md_escape(q)},
                                      {"role": "assistant", "content": "…"}]
        yield msgs, "", render.pending_panel(q), gr.skip(), gr.skip()
        text, answer = "", None
        try:
            for event in assistant.stream(q, conversation(past), top_k=int(k), mode=chosen_mode):
                if isinstance(event, Final):
                    answer = event.answer
                elif isinstance(event, TextDelta):  # notices arrive with the final answer
                    text += event.text
                    msgs[-1]["content"] = render.md_escape(text) + " ▍"
                    yield msgs, gr.skip(), gr.skip(), gr.skip(), gr.skip()
        except RagError as e:
            raise gr.Error(str(e)) from e
        assert answer is not None
        msgs[-1]["content"] = render.answer_message(answer, turn)
        yield (msgs, gr.skip(), render.sources_panel(answer, turn, assistant.document_text), details(answer),
               past + [answer])

    chat_out = [chat.chatbot, chat.question, chat.sources, chat.retrieval, turns]
    chat_in = [chat.question, turns, chat.top_k, chat.mode]
    gr.on([chat.question.submit, chat.ask.click], respond, chat_in, chat_out, api_visibility=PRIVATE)

    def pick_example(evt: gr.SelectData) -> str:
        return evt.value["text"]

    chat.chatbot.example_select(pick_example, None, chat.question, api_visibility=PRIVATE,
                                queue=False, show_progress="hidden").then(
        respond, chat_in, chat_out, api_visibility=PRIVATE)

    def show_turn(past: list[Answer], evt: gr.SelectData):
        index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        turn = int(index) // 2 if index is not None else -1
        if not 0 <= turn < len(past):
            return gr.skip(), gr.skip()
        return render.sources_panel(past[turn], turn, assistant.document_text), details(past[turn])

    chat.chatbot.select(show_turn, turns, [chat.sources, chat.retrieval], api_visibility=PRIVATE,
                        show_progress="hidden")

    def reset():
        return [], [], "", render.sources_panel(None, 0, assistant.document_text), None

    gr.on([chat.new_chat.click, chat.chatbot.clear], reset, None,
          [chat.chatbot, turns, chat.question, chat.sources, chat.retrieval], api_visibility=PRIVATE, queue=False)


def documents_events(demo: gr.Blocks, assistant: Assistant, mode: str, header: gr.HTML, chat: ChatTab,
                     documents: DocumentsTab, turns: gr.State, received) -> None:
    """Refresh on page load, upload, delete; each brings the header, table, choices and examples up to date."""
    corpus_out = [header, documents.table, documents.to_delete, chat.chatbot]

    def refresh(past: list[Answer] | None = None):
        n_docs = assistant.status()["documents"]
        panel = render.sources_panel(None, 0, assistant.document_text, documents=n_docs)
        return *corpus_updates(assistant, mode), (panel if not past else gr.skip())

    demo.load(refresh, turns, corpus_out + [chat.sources], api_visibility=PRIVATE, show_progress="hidden")

    def on_upload(paths: list[str] | None, progress=gr.Progress()):  # noqa: B008 (Gradio injects it by default value)
        if not paths:
            return (gr.skip(),) * 6
        progress(0.0, desc="Reading files")
        try:
            report = ingest_uploads(assistant, [(p, Path(p).name) for p in paths], received=received,
                                    progress=lambda msg, done, total: progress((done, max(total, 1)), desc=msg))
        except RagError as e:
            raise gr.Error(str(e)) from e
        return upload_report_html(report), None, *corpus_updates(assistant, mode)

    documents.upload.upload(on_upload, documents.upload, [documents.upload_report, documents.upload] + corpus_out,
                            api_visibility=PRIVATE, show_progress_on=[documents.upload_report, documents.upload])

    def on_delete(source: str | None):
        if not source:
            raise gr.Error("Choose a document to delete first.")
        removed = delete_source(assistant, source)
        msg = (f'<span class="ok">Removed <code>{html.escape(source)}</code>: its passages are no longer cited.</span>'
               if removed else f'<span class="bad">{html.escape(source)} was not in the index.</span>')
        return msg, *corpus_updates(assistant, mode)

    documents.delete.click(on_delete, documents.to_delete, [documents.delete_report] + corpus_out,
                           api_visibility=PRIVATE)


def api_events(assistant: Assistant, modes: list[str], received, api_files: gr.File, api_report: gr.JSON,
               api_trigger: gr.Button) -> None:
    """The named API for `gradio_client`: "ask", "ingest", "documents", "delete"."""

    def api_ask(question: str, history: list[dict] | None = None, top_k: int | None = None,
                mode: str | None = None) -> dict:
        """Answer a question; history is earlier turns as [{"role", "content"}]. Returns the Answer as JSON."""
        if mode is not None and mode not in modes:
            raise gr.Error(f"mode must be one of {modes}")
        try:
            return assistant.ask(question, check_history(history), top_k=top_k, mode=mode).model_dump()
        except RagError as e:
            raise gr.Error(str(e)) from e

    def api_ingest(paths: list[str] | None) -> dict:
        """Add files (kept under uploads/); returns the IngestReport for them as JSON."""
        try:
            return ingest_uploads(assistant, [(p, Path(p).name) for p in paths or []],
                                  received=received).model_dump()
        except RagError as e:
            raise gr.Error(str(e)) from e

    def api_documents() -> list[dict]:
        """The indexed documents (without server paths: gradio_client would take {"path": …} for a file)."""
        return [d.model_dump(exclude={"path"}) for d in assistant.documents()]

    def api_delete(source: str) -> bool:
        """Remove a document (and its uploaded file); False when it was not indexed."""
        return delete_source(assistant, source)

    gr.api(api_ask, api_name="ask")
    api_trigger.click(api_ingest, api_files, api_report, api_name="ingest")
    gr.api(api_documents, api_name="documents")
    gr.api(api_delete, api_name="delete")


def received_as_upload(demo: gr.Blocks):
    """A check that a path is a file this server received through its upload route (and nothing else)."""
    from gradio.utils import get_upload_folder

    def received(path: Path) -> bool:
        folder, real = Path(get_upload_folder()).resolve(), Path(path).resolve()
        return (real.is_relative_to(folder) and real.is_file()
                and bool({str(path), str(real)} & set(demo.upload_file_set)))

    return received


def delete_source(assistant: Assistant, source: str) -> bool:
    """Remove a document from the index, and its file when it was uploaded (so it does not come back)."""
    path = file_for_source(assistant, source)
    if path is not None:
        path.unlink(missing_ok=True)
    try:
        return assistant.delete(source)
    except RagError as e:
        raise gr.Error(str(e)) from e


# -- serving ---------------------------------------------------------------------------------------
def parse_auth(auth: str | None) -> list[tuple[str, str]] | None:
    """None, "user:password", or a path to a file of user:password lines (blank lines and # comments skipped)."""
    if not auth:
        return None
    if os.path.isfile(auth):
        lines = [ln.strip() for ln in Path(auth).read_text(encoding="utf-8").splitlines()]
        pairs = [tuple(ln.split(":", 1)) for ln in lines if ln and not ln.startswith("#")]
        bad = [p for p in pairs if len(p) != 2 or not p[0] or not p[1]]
        if bad or not pairs:
            raise ConfigError(f"auth file {auth}: every line must be user:password")
        return pairs  # type: ignore[return-value]
    user, sep, password = auth.partition(":")
    if not (sep and user and password):
        raise ConfigError("auth must be user:password or the path of a file of such lines (setting auth / RAG_AUTH)")
    return [(user, password)]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(assistant: Assistant, host: str = "127.0.0.1", port: int = 7860, share: bool = False,
          auth: str | None = None, *, api_key: str | None = None, block: bool = True) -> gr.Blocks:
    """Run the web chat at "/" and the OpenAI-compatible API at "/v1" (ui/openai_api.py) on one port.

    Seeds an empty index first. Binds this machine only unless `host` says otherwise; a taken port raises
    OSError before anything starts. The API asks for `api_key` (default RAG_API_KEY) or one of the app's
    logins when either is set. block=False returns once the server accepts connections; `.close()` on the
    returned app stops it."""
    from rag_cited.ui.openai_api import ServerThread, bind_socket

    credentials = parse_auth(auth if auth is not None else assistant.settings.auth)
    secret = assistant.settings.api_key
    api_key = api_key or (secret.get_secret_value() if secret else None)
    if credentials is None and (share or not is_loopback(host)):
        log.warning("serving on %s without a login: anyone who can reach it can read and change the documents; "
                    "pass auth (user:password or a file of such lines)", "a public share link" if share else host)
    sock = bind_socket(host, port)
    try:
        _seed_for_serving(assistant)
        # typing server paths into the Evaluation tab reads files on this machine: only for a local, private app
        app = build_app(assistant, server_paths=credentials is None and not share and is_loopback(host))
        root, gradio_app = _mounted(app, assistant, credentials, api_key, host, sock.getsockname()[1])
        server = ServerThread(root, sock)
        server.start()
    except BaseException:
        sock.close()
        raise
    _running(app, server, gradio_app, host, sock.getsockname()[1])
    if share:
        _share_link(app)
    print(f"* Running on local URL:  {app.local_url}\n* OpenAI-compatible API: {app.local_url}v1", flush=True)
    if block:
        try:
            server.wait()
        except KeyboardInterrupt:
            print("Stopping the server…", file=sys.stderr, flush=True)
        finally:
            app.close(verbose=False)
    return app


def _seed_for_serving(assistant: Assistant) -> None:
    def progress(message: str, done: int, total: int) -> None:
        print(f"  [{done}/{total}] {message}", file=sys.stderr, flush=True)

    if assistant.status()["documents"] == 0:
        print("The index is empty: adding the seed corpus…", file=sys.stderr, flush=True)
        report = assistant.ensure_seeded(progress=progress)
        if report is not None:
            print(f"Seed corpus: {report.summary()}", file=sys.stderr, flush=True)


def _mounted(app: gr.Blocks, assistant: Assistant, credentials, api_key: str | None, host: str, port: int):
    """(the ASGI app: /v1 then the Gradio app at "/", the mounted Gradio App) with what ChatApp.launch sets."""
    from fastapi import FastAPI

    from rag_cited.ui.openai_api import openai_app

    root = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    root.mount("/v1", openai_app(assistant, logins=credentials, api_key=api_key))  # before "/", which takes all
    gr.mount_gradio_app(root, app, "/", server_name=host, server_port=port, auth=credentials,
                        auth_message="Log in to ask questions about these documents.",
                        theme=theme(), css=CSS, head=HEAD, max_file_size=f"{app.upload_max_mb}mb",
                        footer_links=["api", "settings"], show_error=True)
    return root, root.routes[-1].app


def _running(app: gr.Blocks, server, gradio_app, host: str, port: int) -> None:
    """What Blocks.launch records, so that `app.local_url` and `app.close()` work as for a launched app."""
    bare = host.strip("[]")
    url_host = "localhost" if bare in ("0.0.0.0", "::") else f"[{bare}]" if ":" in bare else bare
    app.server, app.server_name, app.server_port = server, host, port
    app.local_url = f"http://{url_host}:{port}/"
    app.local_api_url = f"{app.local_url}gradio_api/"
    app.app = gradio_app  # close() ends this app's event streams before stopping the server


def _share_link(app: gr.Blocks) -> None:
    """A Gradio share link to the local server (needs the internet); the app stays local when it fails."""
    from gradio import networking

    try:
        app.share_url = networking.setup_tunnel(app.server_name, app.server_port, app.share_token, None, None)
        app.share = True
        print(f"* Running on public URL: {app.share_url}", flush=True)
    except Exception as e:  # no internet, a blocked download: one line, the local app goes on
        print(f"Could not create a share link ({type(e).__name__}: {e}); serving locally only.",
              file=sys.stderr, flush=True)
