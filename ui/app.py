"""The browser chat: `build_app(assistant)` makes the Gradio Blocks, `serve(assistant, ...)` runs it.

Top bar: the collection selector (new and delete, with confirmation); the chat, the Documents tab and
uploads work on the selected collection (ui/collections.py; the given assistant's collection is the
default). Chat tab: streamed answers whose [n] markers open the cited passage in the document viewer
(ui/viewer.py: the PDF page with the quote marked, or the text scrolled to it) and bring that answer's
source cards back; follow-ups use the conversation; per-session settings (top-k, answer mode); chats are
kept in the browser (ui/chats.py: listed, reopened with their sources, renamed, deleted, restored on
reload). Documents tab: upload (several files, drag and drop) with progress, the document list,
delete. Evaluation tab (ui/evaluation.py). API (for `gradio_client`): "ask", "ingest", "documents",
"delete" (each with an optional collection, default the app's) and "collections"; the UI's own events
are private. Uses only `rag`'s and `eval`'s public APIs. Left out: accounts and per-user collections
(auth is one shared login list; everyone sees the same collections; chats are per browser).
"""

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
from rag_cited.ui import chats, render, viewer
from rag_cited.ui.collections import Collections
from rag_cited.ui.collections import choices as collection_choices
from rag_cited.ui.evaluation import evaluation_tab
from rag_cited.ui.theme import CSS, HEAD, SOURCES_JS, theme
from rag_cited.ui.uploads import file_for_source, ingest_uploads

log = logging.getLogger("ui")
CONCURRENCY = 8  # simultaneous chats; the engine is thread-safe and each question takes ~0.3 s of CPU
PRIVATE = "private"  # UI events stay out of the API (the frontend still calls them)
SUPPORTED_HINT = ".txt, .md, .html, .pdf, .docx"  # for the hint only: the engine decides, and says why not
MAX_EXAMPLES = 4
FOOTER_LINKS = ["api"]  # not Gradio's "settings": the page has one Settings, the answer settings

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
        kwargs.setdefault("footer_links", FOOTER_LINKS)
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
            "citations": [{"id": c.id, "source": c.source, "page": c.page, "start": c.start, "end": c.end,
                           "score": c.score} for c in answer.citations],
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
    summary = (f"{render.plural(ok, 'file')} in the index ({render.plural(report.chunks_written, 'passage')} "
               f"written, {report.seconds:.1f} s)" + (f"; {len(report.skipped)} rejected" if report.skipped else ""))
    return f"<div><b>{summary}</b><ul>{''.join(lines)}</ul></div>"


def engine_call(fn, *args, **kwargs):
    """`fn(...)` with the engine's errors shown to the user as one line."""
    try:
        return fn(*args, **kwargs)
    except RagError as e:
        raise gr.Error(str(e)) from e


# -- the page's parts ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CollectionBar:
    """The collection selector at the top, and its create and delete-confirmation rows."""

    select: gr.Dropdown
    new: gr.Button
    delete: gr.Button
    create_row: gr.Row
    name: gr.Textbox
    create: gr.Button
    create_cancel: gr.Button
    confirm_row: gr.Row
    confirm_text: gr.HTML
    confirm: gr.Button
    confirm_cancel: gr.Button


@dataclass(frozen=True)
class ChatTab:
    """The Chat tab's components that events read or write."""

    chatbot: gr.Chatbot
    question: gr.Textbox
    ask: gr.Button
    new_chat: gr.Button
    chat_list: gr.Dropdown
    title: gr.Textbox
    rename: gr.Button
    delete: gr.Button
    confirm_row: gr.Row
    confirm: gr.Button
    confirm_cancel: gr.Button
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
class Session:
    """Per-browser state: the open chat's answers and id, the saved chats (server copy and the browser's), and
    a hidden marker the page load fills in once the saved chats are restored (`#session-ready`, for tests)."""

    turns: gr.State
    chat_id: gr.State
    chats: gr.State
    store: gr.BrowserState
    ready: gr.HTML


@dataclass(frozen=True)
class Ui:
    header: gr.HTML
    bar: CollectionBar
    chat: ChatTab
    docs: DocumentsTab
    viewer: viewer.Viewer
    session: Session


@dataclass(frozen=True)
class Context:
    """What the events share: the collections and the answer modes."""

    collections: Collections
    mode: str
    modes: list[str]


@dataclass(frozen=True)
class Corpus:
    """What the page shows about one collection: header, documents table, delete choices, examples."""

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


# -- views: what events return (dicts of component → update) --------------------------------------
def corpus_view(ui: Ui, ctx: Context, name: str, c: Corpus | None = None) -> dict:
    """Header, documents table, delete choices, example questions and the selector after `name` changed."""
    c = c or corpus(ctx.collections.get(name), ctx.mode)
    return {ui.header: c.header, ui.docs.table: c.table, ui.docs.to_delete: gr.update(choices=c.choices, value=None),
            ui.chat.chatbot: gr.update(examples=c.examples or None),
            ui.bar.select: gr.update(choices=collection_choices(ctx.collections.infos()), value=name)}


def chat_view(ui: Ui, ctx: Context, name: str, answers: list[Answer]) -> dict:
    """Collection `name` with a chat of `answers` open: the corpus, messages, the last answer's sources."""
    assistant = ctx.collections.get(name)
    c = corpus(assistant, ctx.mode)
    last = answers[-1] if answers else None
    return {**corpus_view(ui, ctx, name, c),
            ui.chat.chatbot: gr.update(value=chat_messages(answers), examples=c.examples or None),
            ui.chat.sources: render.sources_panel(last, len(answers) - 1, assistant.document_text,
                                                  documents=c.documents),
            ui.chat.retrieval: details(last) if last else None, ui.session.turns: answers,
            ui.viewer.box: gr.update(visible=False)}


def session_view(ui: Ui, store: dict, chat_id: str) -> dict:
    """The saved chats (both copies), the open chat's id, the chat list and the rename field."""
    chat = chats.find(store, chat_id)
    return {ui.session.chats: store, ui.session.store: store, ui.session.chat_id: chat_id,
            ui.chat.chat_list: gr.update(choices=chats.choices(store), value=chat_id if chat else None),
            ui.chat.title: chat["title"] if chat else ""}


def fresh_chat(ui: Ui, ctx: Context, store: dict, name: str) -> dict:
    """A new, empty chat in collection `name` (the previous one stays saved)."""
    return {**chat_view(ui, ctx, name, []), **session_view(ui, chats.set_current(store, None), chats.new_id()),
            ui.chat.question: ""}


def view_outputs(ui: Ui) -> list:
    """Every component the views above write."""
    return [ui.header, ui.docs.table, ui.docs.to_delete, ui.bar.select, ui.chat.chatbot, ui.chat.sources,
            ui.chat.retrieval, ui.chat.question, ui.chat.chat_list, ui.chat.title, ui.viewer.box,
            ui.session.turns, ui.session.chats, ui.session.store, ui.session.chat_id]


# -- the app ---------------------------------------------------------------------------------------
def build_app(assistant: Assistant, *, server_paths: bool = True) -> gr.Blocks:
    """The whole web app for `assistant` (queue set up; call `.launch(...)` on it, or use `serve`).

    The assistant's collection is the default one; the others get their own assistants (ui/collections.py).
    server_paths=False: the Evaluation tab runs only the bundled suites (for apps reachable by others).
    """
    settings = assistant.settings
    modes = answer_modes(assistant)
    default_mode = settings.effective_mode() if settings.effective_mode() in modes else "extractive"
    ctx = Context(Collections(assistant), default_mode, modes)

    with ChatApp(upload_max_mb=settings.upload_max_mb, title="Cited — answers from your documents") as demo:
        now = corpus(assistant, default_mode)
        header = gr.HTML(now.header, elem_id="header", js_on_load=None)
        bar = collection_bar(ctx)
        with gr.Tabs():
            chat = chat_tab(assistant, now, modes, default_mode)
            documents = documents_tab(settings.upload_max_mb, now)
            evaluation_tab(assistant, server_paths=server_paths)  # ui/evaluation.py: run the question suite, metrics, report
        view = viewer.components()
        session = Session(gr.State([]), gr.State(""), gr.State(chats.empty()),
                          gr.BrowserState(chats.empty(), storage_key=chats.storage_key(settings.data_dir),
                                          secret=chats.storage_secret(settings.data_dir)),
                          gr.HTML(visible="hidden", elem_id="session", js_on_load=None))
        ui = Ui(header, bar, chat, documents, view, session)

        # API-only endpoints (hidden components carry the file upload through gradio_client)
        api_files = gr.File(file_count="multiple", visible=False)
        api_collection = gr.Textbox(visible=False)
        api_report = gr.JSON(visible=False)
        api_trigger = gr.Button(visible=False)

        received = received_as_upload(demo)
        demo.load(lambda raw: restore(ui, ctx, raw), session.store, view_outputs(ui) + [session.ready],
                  api_visibility=PRIVATE, show_progress="hidden")
        chat_events(ui, ctx)
        history_events(ui, ctx)
        collection_events(ui, ctx)
        documents_events(ui, ctx, received)
        citation_events(ui, ctx)
        viewer.events(view, ctx.collections.get)
        api_events(ctx, received, api_files, api_collection, api_report, api_trigger)

    demo.queue(default_concurrency_limit=CONCURRENCY)
    return demo


def collection_bar(ctx: Context) -> CollectionBar:
    """The collection selector with "New collection" and "Delete collection" (each behind a second step)."""
    with gr.Row(elem_id="collection-bar", equal_height=False):
        select = gr.Dropdown(collection_choices(ctx.collections.infos()), value=ctx.collections.default_name,
                             label="Collection", elem_id="collection",
                             scale=3, min_width=180)
        new = gr.Button("New collection", size="sm", elem_id="collection-new", scale=0, min_width=120)
        delete = gr.Button("Delete collection", size="sm", variant="stop", elem_id="collection-delete", scale=0,
                           min_width=120)
    with gr.Row(visible=False, elem_id="collection-create-row", equal_height=False) as create_row:
        name = gr.Textbox(label="New collection name", placeholder="e.g. contracts-2024", elem_id="collection-name",
                          scale=3, min_width=180, info="3 to 512 letters, digits, dots, dashes or underscores.")
        create = gr.Button("Create", variant="primary", size="sm", elem_id="collection-create", scale=0, min_width=90)
        create_cancel = gr.Button("Cancel", size="sm", elem_id="collection-create-cancel", scale=0, min_width=90)
    with gr.Row(visible=False, elem_id="collection-confirm-row", equal_height=True) as confirm_row:
        confirm_text = gr.HTML(elem_id="collection-confirm-text", js_on_load=None)
        confirm = gr.Button("Delete it", variant="stop", size="sm", elem_id="collection-delete-yes", scale=0,
                            min_width=90)
        confirm_cancel = gr.Button("Cancel", size="sm", elem_id="collection-delete-cancel", scale=0, min_width=90)
    return CollectionBar(select, new, delete, create_row, name, create, create_cancel, confirm_row, confirm_text,
                         confirm, confirm_cancel)


def chat_tab(assistant: Assistant, now: Corpus, modes: list[str], default_mode: str) -> ChatTab:
    """The Chat tab: chat list, conversation, question box, settings, and the sources panel beside them."""
    settings = assistant.settings
    with gr.Tab("Chat", id="chat"):
        with gr.Row(elem_id="chat-row", equal_height=False):
            with gr.Column(scale=3, min_width=300):
                with gr.Row(elem_id="chat-bar", equal_height=False):
                    chat_list = gr.Dropdown([], value=None, label="Your chats",
                                            elem_id="chat-list", scale=4, min_width=160)
                    new_chat = gr.Button("New chat", size="sm", variant="secondary", elem_id="new-chat", scale=0,
                                         min_width=100)
                chatbot = gr.Chatbot(
                    elem_id="chatbot", show_label=False, height=520, layout="bubble",
                    buttons=["copy", "copy_all"], feedback_options=None, sanitize_html=True,
                    examples=now.examples or None,
                    latex_delimiters=[], placeholder=(
                        "**Ask anything about your documents.**<br>Answers quote the documents "
                        "sentence by sentence; click a number to see the passage in its document."))
                with gr.Row(equal_height=True):
                    question = gr.Textbox(placeholder="Ask about your documents…", show_label=False,
                                          elem_id="question", scale=8, lines=1, max_lines=4, autofocus=True,
                                          container=False)
                    ask = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ask-btn")
                with gr.Accordion("Settings", open=False, elem_id="settings"):
                    top_k = gr.Slider(1, 20, value=settings.top_k, step=1, label="Passages searched (top-k)",
                                      elem_id="top-k", info="More passages: better recall, slower answers.")
                    mode = gr.Radio(modes, value=default_mode, label="Answer mode", info=(
                        "extractive: exact sentences from the documents" + (
                            "; llm: written by the configured model, then checked against the sources"
                            if "llm" in modes else " (set RAG_LLM_BASE_URL to enable LLM answers)")))
                manage = manage_chat()
            with gr.Column(scale=2, min_width=280):
                sources = gr.HTML(render.sources_panel(None, 0, assistant.document_text, documents=now.documents),
                                  elem_id="sources", container=True, padding=True, js_on_load=SOURCES_JS)
                with gr.Accordion("Retrieval details", open=False, elem_id="details-box"):
                    retrieval = gr.JSON(elem_id="details", show_label=False)
    return ChatTab(chatbot, question, ask, new_chat, chat_list, *manage, top_k, mode, sources, retrieval)


def manage_chat() -> tuple:
    """Rename or delete the open chat: (title, rename, delete, confirm row, confirm, cancel)."""
    with gr.Accordion("Rename or delete this chat", open=False, elem_id="chat-manage"):
        with gr.Row(equal_height=True):
            title = gr.Textbox(label="Chat name", elem_id="chat-title", scale=3, min_width=160,
                               placeholder="Ask a question first")
            rename = gr.Button("Rename", size="sm", elem_id="chat-rename", scale=0, min_width=90)
        delete = gr.Button("Delete this chat", size="sm", variant="stop", elem_id="chat-delete")
        with gr.Row(visible=False, elem_id="chat-confirm-row", equal_height=True) as confirm_row:
            gr.HTML("<b>Delete this chat from this browser?</b> Its answers cannot be brought back.", js_on_load=None)
            confirm = gr.Button("Delete it", variant="stop", size="sm", elem_id="chat-delete-yes", scale=0,
                                min_width=90)
            cancel = gr.Button("Cancel", size="sm", elem_id="chat-delete-cancel", scale=0, min_width=90)
    return title, rename, delete, confirm_row, confirm, cancel


def documents_tab(upload_max_mb: int, now: Corpus) -> DocumentsTab:
    """The Documents tab: upload on the left, the indexed documents and delete on the right."""
    with gr.Tab("Documents", id="documents"):
        with gr.Row(equal_height=False, elem_id="documents-row"):
            with gr.Column(scale=2, min_width=280):
                gr.Markdown("### Add documents")
                upload = gr.File(label="Drop files here or click to browse", show_label=False,
                                 file_count="multiple", elem_id="upload", height=160)
                gr.Markdown(f"Supported: {SUPPORTED_HINT}; up to {upload_max_mb} MB each. Files go into the "
                            "selected collection; a file with the same name replaces the older one.",
                            elem_classes=["hint"])
                upload_report = gr.HTML(elem_id="upload-report", js_on_load=None)
            with gr.Column(scale=3, min_width=280):
                gr.Markdown("### Indexed documents")
                table = gr.HTML(now.table, elem_id="documents", js_on_load=None)
                with gr.Row(equal_height=False, elem_id="delete-row"):
                    to_delete = gr.Dropdown(label="Remove a document", choices=now.choices, value=None,
                                            elem_id="delete-source", scale=4, min_width=180)
                    delete = gr.Button("Delete", variant="stop", elem_id="delete-btn", scale=1, min_width=90)
                delete_report = gr.HTML(elem_id="delete-report", js_on_load=None)
    return DocumentsTab(upload, upload_report, table, to_delete, delete, delete_report)


# -- events ----------------------------------------------------------------------------------------
def restore(ui: Ui, ctx: Context, raw) -> dict:
    """On page load: the browser's saved chats, and the chat that was open (in its collection) when it exists."""
    store = chats.load(raw)
    chat = chats.find(store, store["current"])
    if chat is None or chat["collection"] not in ctx.collections.names():
        view = fresh_chat(ui, ctx, store, ctx.collections.default_name)
    else:
        view = {**chat_view(ui, ctx, chat["collection"], chats.answers(chat)), **session_view(ui, store, chat["id"])}
    view.pop(ui.chat.question, None)  # the user may have typed a question while the page loaded
    return {**view, ui.session.ready: f'<span id="session-ready" data-chats="{len(store["chats"])}"></span>'}


def chat_events(ui: Ui, ctx: Context) -> None:
    """Ask (streamed, and saved with the chat), pick an example, show an earlier turn's sources."""
    chat, session = ui.chat, ui.session

    def respond(message: str, past: list[Answer], k: float, chosen_mode: str, name: str, store: dict, chat_id: str):
        """Settings come in with the event (per session, and never behind a pending change event). The finished
        answer is saved with the chat in the same update that shows it (a reload right after keeps it)."""
        q = (message or "").strip()
        if not q:
            raise gr.Error("Type a question first.")
        assistant = engine_call(ctx.collections.get, name)
        turn = len(past)
        msgs = chat_messages(past) + [{"role": "user", "content": render.md_escape(q)},
                                      {"role": "assistant", "content": "…"}]
        yield {chat.chatbot: msgs, chat.question: "", chat.sources: render.pending_panel(q)}
        text, answer = "", None
        try:
            for event in assistant.stream(q, conversation(past), top_k=int(k), mode=chosen_mode):
                if isinstance(event, Final):
                    answer = event.answer
                elif isinstance(event, TextDelta):  # notices arrive with the final answer
                    text += event.text
                    msgs[-1]["content"] = render.md_escape(text) + " ▍"
                    yield {chat.chatbot: msgs}
        except RagError as e:
            raise gr.Error(str(e)) from e
        assert answer is not None
        msgs[-1]["content"] = render.answer_message(answer, turn)
        chat_id = chat_id or chats.new_id()
        yield {chat.chatbot: msgs, chat.sources: render.sources_panel(answer, turn, assistant.document_text),
               chat.retrieval: details(answer), session.turns: past + [answer],
               **session_view(ui, chats.put(store, chat_id, name, past + [answer]), chat_id)}

    chat_in = [chat.question, session.turns, chat.top_k, chat.mode, ui.bar.select, session.chats, session.chat_id]
    chat_out = [chat.chatbot, chat.question, chat.sources, chat.retrieval, session.turns, session.chats,
                session.store, session.chat_id, chat.chat_list, chat.title]
    gr.on([chat.question.submit, chat.ask.click], respond, chat_in, chat_out, api_visibility=PRIVATE)

    def pick_example(evt: gr.SelectData) -> str:
        return evt.value["text"]

    chat.chatbot.example_select(pick_example, None, chat.question, api_visibility=PRIVATE,
                                queue=False, show_progress="hidden").then(
        respond, chat_in, chat_out, api_visibility=PRIVATE)

    def show_turn(past: list[Answer], name: str, evt: gr.SelectData):
        index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        turn = int(index) // 2 if index is not None else -1
        if not 0 <= turn < len(past):
            return {}
        document_text = engine_call(ctx.collections.get, name).document_text
        return {chat.sources: render.sources_panel(past[turn], turn, document_text), chat.retrieval: details(past[turn])}

    chat.chatbot.select(show_turn, [session.turns, ui.bar.select], [chat.sources, chat.retrieval],
                        api_visibility=PRIVATE, show_progress="hidden")


def history_events(ui: Ui, ctx: Context) -> None:
    """New chat, reopen a saved chat, rename and delete the open one."""
    chat, session = ui.chat, ui.session

    def new_chat(store: dict, name: str):
        return fresh_chat(ui, ctx, store, name)

    gr.on([chat.new_chat.click, chat.chatbot.clear], new_chat, [session.chats, ui.bar.select], view_outputs(ui),
          api_visibility=PRIVATE, show_progress="hidden")

    def open_chat(store: dict, chat_id: str | None):
        saved = chats.find(store, chat_id)
        if saved is None:
            return {}
        name = saved["collection"]
        if name not in ctx.collections.names():
            gr.Warning(f"This chat's collection “{name}” was deleted: its sources show the saved quotes only, and new "
                       f"questions go to “{ctx.collections.default_name}”.")
            name = ctx.collections.default_name
        return {**chat_view(ui, ctx, name, chats.answers(saved)),
                **session_view(ui, chats.set_current(store, chat_id), chat_id), chat.question: ""}

    chat.chat_list.input(open_chat, [session.chats, chat.chat_list], view_outputs(ui), api_visibility=PRIVATE,
                         show_progress="hidden")

    def rename(store: dict, chat_id: str, title: str):
        if chats.find(store, chat_id) is None:
            raise gr.Error("Ask a question first: a chat is saved with its first answer.")
        if not (title or "").strip():
            raise gr.Error("Type the chat's new name first.")
        return session_view(ui, chats.rename(store, chat_id, title), chat_id)

    chat.rename.click(rename, [session.chats, session.chat_id, chat.title],
                      [session.chats, session.store, session.chat_id, chat.chat_list, chat.title],
                      api_visibility=PRIVATE, show_progress="hidden")

    def confirm_chat_delete(store: dict, chat_id: str):
        if chats.find(store, chat_id) is None:
            raise gr.Error("This chat is not saved yet: there is nothing to delete.")
        return gr.update(visible=True)

    chat.delete.click(confirm_chat_delete, [session.chats, session.chat_id], chat.confirm_row, api_visibility=PRIVATE,
                      show_progress="hidden")
    chat.confirm_cancel.click(lambda: gr.update(visible=False), None, chat.confirm_row, api_visibility=PRIVATE,
                              queue=False, show_progress="hidden")

    def delete_chat(store: dict, chat_id: str, name: str):
        return {**fresh_chat(ui, ctx, chats.remove(store, chat_id), name), chat.confirm_row: gr.update(visible=False)}

    chat.confirm.click(delete_chat, [session.chats, session.chat_id, ui.bar.select], view_outputs(ui) + [chat.confirm_row],
                       api_visibility=PRIVATE, show_progress="hidden")


def collection_events(ui: Ui, ctx: Context) -> None:
    """Switch collection (a chat with answers stays saved and a new one starts), create one, delete one."""
    bar, session = ui.bar, ui.session

    def switch(name: str, past: list[Answer], store: dict, chat_id: str):
        engine_call(ctx.collections.get, name)
        if past:
            return fresh_chat(ui, ctx, store, name)
        return {**chat_view(ui, ctx, name, []), **session_view(ui, store, chat_id)}

    bar.select.input(switch, [bar.select, session.turns, session.chats, session.chat_id], view_outputs(ui),
                     api_visibility=PRIVATE, show_progress="hidden")

    hidden, shown = gr.update(visible=False), gr.update(visible=True)
    bar.new.click(lambda: (shown, hidden, ""), None, [bar.create_row, bar.confirm_row, bar.name],
                  api_visibility=PRIVATE, queue=False, show_progress="hidden")
    bar.create_cancel.click(lambda: hidden, None, bar.create_row, api_visibility=PRIVATE, queue=False,
                            show_progress="hidden")

    def create_collection(new_name: str, store: dict):
        name = engine_call(ctx.collections.create, new_name).settings.collection
        gr.Info(f"Collection “{name}” created: add documents to it in the Documents tab.", duration=5)
        return {**fresh_chat(ui, ctx, store, name), bar.create_row: hidden, bar.name: ""}

    gr.on([bar.create.click, bar.name.submit], create_collection, [bar.name, session.chats],
          view_outputs(ui) + [bar.create_row, bar.name], api_visibility=PRIVATE, show_progress="hidden")

    def confirm_collection_delete(name: str):
        if name == ctx.collections.default_name:
            raise gr.Error(f"“{name}” is this app's default collection and cannot be deleted here.")
        info = next((c for c in ctx.collections.infos() if c.name == name), None)
        if info is None:
            raise gr.Error(f"There is no collection “{name}”.")
        text = (f"<b>Delete the collection “{html.escape(name)}” and its {render.plural(info.documents, 'document')}?"
                "</b> This cannot be undone.")
        return shown, text, hidden

    bar.delete.click(confirm_collection_delete, bar.select, [bar.confirm_row, bar.confirm_text, bar.create_row],
                     api_visibility=PRIVATE, show_progress="hidden")
    bar.confirm_cancel.click(lambda: hidden, None, bar.confirm_row, api_visibility=PRIVATE, queue=False,
                             show_progress="hidden")

    def delete_collection(name: str, store: dict):
        engine_call(ctx.collections.delete, name)
        gr.Info(f"Collection “{name}” deleted.", duration=5)
        return {**fresh_chat(ui, ctx, store, ctx.collections.default_name), bar.confirm_row: hidden}

    bar.confirm.click(delete_collection, [bar.select, session.chats], view_outputs(ui) + [bar.confirm_row],
                      api_visibility=PRIVATE, show_progress="hidden")


def documents_events(ui: Ui, ctx: Context, received) -> None:
    """Upload and delete in the selected collection; each brings the header, table, choices and examples up to date."""
    docs = ui.docs
    corpus_out = [ui.header, docs.table, docs.to_delete, ui.chat.chatbot, ui.bar.select]

    def on_upload(paths: list[str] | None, name: str, progress=gr.Progress()):  # noqa: B008 (Gradio injects it by default value)
        if not paths:
            return {}
        assistant = engine_call(ctx.collections.get, name)
        progress(0.0, desc="Reading files")
        report = engine_call(ingest_uploads, assistant, [(p, Path(p).name) for p in paths], received=received,
                             progress=lambda msg, done, total: progress((done, max(total, 1)), desc=msg))
        return {docs.upload_report: upload_report_html(report), docs.upload: None, **corpus_view(ui, ctx, name)}

    docs.upload.upload(on_upload, [docs.upload, ui.bar.select], [docs.upload_report, docs.upload] + corpus_out,
                       api_visibility=PRIVATE, show_progress_on=[docs.upload_report, docs.upload])

    def on_delete(source: str | None, name: str):
        if not source:
            raise gr.Error("Choose a document to delete first.")
        removed = delete_source(engine_call(ctx.collections.get, name), source)
        msg = (f'<span class="ok">Removed <code>{html.escape(source)}</code>: its passages are no longer cited.</span>'
               if removed else f'<span class="bad">{html.escape(source)} was not in the index.</span>')
        return {docs.delete_report: msg, **corpus_view(ui, ctx, name)}

    docs.delete.click(on_delete, [docs.to_delete, ui.bar.select], [docs.delete_report] + corpus_out,
                      api_visibility=PRIVATE)


def citation_events(ui: Ui, ctx: Context) -> None:
    """A click on an answer's [n] or on a source card (theme.SOURCES_JS sends turn and n): that answer's sources
    in the panel and citation n in the viewer. Works for any earlier answer of the chat."""
    chat, view = ui.chat, ui.viewer

    def open_citation(past: list[Answer], name: str, evt: gr.EventData):
        data = getattr(evt, "_data", None) or {}
        try:
            turn, n = int(data.get("turn", -1)), int(data.get("n", -1))
        except (TypeError, ValueError):
            return {}
        if not 0 <= turn < len(past):
            return {}
        answer = past[turn]
        citation = next((c for c in answer.citations if c.id == n), None)
        if citation is None:
            return {}
        assistant = engine_call(ctx.collections.get, name)
        return {chat.sources: render.sources_panel(answer, turn, assistant.document_text),
                chat.retrieval: details(answer),
                **viewer.shown(view, assistant, viewer.Target.of(citation, name))}

    chat.sources.click(open_citation, [ui.session.turns, ui.bar.select],
                       [chat.sources, chat.retrieval, view.box, view.body, view.state, view.prev, view.next],
                       api_visibility=PRIVATE, show_progress="hidden")


def api_events(ctx: Context, received, api_files: gr.File, api_collection: gr.Textbox, api_report: gr.JSON,
               api_trigger: gr.Button) -> None:
    """The named API for `gradio_client`: "ask", "ingest", "documents", "delete", "collections"."""
    get = ctx.collections.get

    def api_ask(question: str, history: list[dict] | None = None, top_k: int | None = None,
                mode: str | None = None, collection: str | None = None) -> dict:
        """Answer a question; history is earlier turns as [{"role", "content"}]. Returns the Answer as JSON."""
        if mode is not None and mode not in ctx.modes:
            raise gr.Error(f"mode must be one of {ctx.modes}")
        return engine_call(lambda: get(collection).ask(question, check_history(history), top_k=top_k,
                                                        mode=mode).model_dump())

    def api_ingest(paths: list[str] | None, collection: str | None = None) -> dict:
        """Add files (kept under uploads/) to a collection; returns the IngestReport for them as JSON."""
        return engine_call(lambda: ingest_uploads(get(collection), [(p, Path(p).name) for p in paths or []],
                                                  received=received).model_dump())

    def api_documents(collection: str | None = None) -> list[dict]:
        """The indexed documents (without server paths: gradio_client would take {"path": …} for a file)."""
        return [d.model_dump(exclude={"path"}) for d in engine_call(lambda: get(collection).documents())]

    def api_delete(source: str, collection: str | None = None) -> bool:
        """Remove a document (and its uploaded file); False when it was not indexed."""
        return delete_source(engine_call(get, collection), source)

    def api_collections() -> list[dict]:
        """The collections: name, documents, chunks (the first is the app's default)."""
        return [{"name": c.name, "documents": c.documents, "chunks": c.chunks}
                for c in engine_call(ctx.collections.infos)]

    gr.api(api_ask, api_name="ask")
    api_trigger.click(api_ingest, [api_files, api_collection], api_report, api_name="ingest")
    gr.api(api_documents, api_name="documents")
    gr.api(api_delete, api_name="delete")
    gr.api(api_collections, api_name="collections")


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
    return engine_call(assistant.delete, source)


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
                        footer_links=FOOTER_LINKS, show_error=True)
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
