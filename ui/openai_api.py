"""The OpenAI-compatible chat API and the remote citation check: `openai_app(assistant, ...)`, mounted at /v1.

    GET  /v1/models                       one model per collection and answer mode:
                                          "rag-cited:<collection>[:extractive|:llm]" (the app's collection first)
    GET  /v1/models/{model}               one of them
    POST /v1/chat/completions             streamed (SSE) or not, answered from the model's collection; the
                                          answer's [n] markers in the content and a top-level `citations` list (n,
                                          source, title, quote, start, end, sha256, page, heading_path, ocr, score),
                                          `abstained` and `notice` beside it
    GET  /v1/documents[?collection=]      the indexed documents: source, title, sha256, chars, chunks, pages
    GET  /v1/documents/{source}?start=&end=[&sha256=][&collection=]   {"source", "sha256", "start", "end", "text"}

Anyone holding a citation can check it here: `text == quote` for the citation's source, start and end.
Access: when the app has logins or an API key, every request carries `Authorization: Bearer <api key>`,
`Authorization: Bearer user:password` (a login, for clients that only send bearer keys) or HTTP Basic with a
login; otherwise 401. With neither configured (a local app) the API is open, like the app itself. Errors
use OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, never a traceback or a server path.

Also here, shared with the MCP server's HTTP mode: `Access` (the credential check), `bind_socket` and
`ServerThread` (uvicorn in a thread on a socket bound by the caller, so a taken port is an OSError there).

Left out: tools and function calling, n > 1, logprobs, token usage (the default answerer writes no tokens), image
or audio input, the legacy completions and embeddings endpoints, CORS (clients call from their servers).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from rag import (
    Answer,
    Assistant,
    Citation,
    ConfigError,
    IndexMismatchError,
    InputError,
    LLMError,
    RagError,
    StoreError,
)
from rag.collections import AssistantPool
from rag.types import Final, TextDelta

log = logging.getLogger("ui.openai_api")
MODEL_PREFIX = "rag-cited"
# engine errors → HTTP status; anything else a RagError says is a server-side problem
_STATUS = {InputError: 400, ConfigError: 400, IndexMismatchError: 409, StoreError: 503, LLMError: 503}


# -- errors in OpenAI's shape ------------------------------------------------------------------------
class ApiError(Exception):
    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Bearer realm="rag-cited"'} if self.status == 401 else None
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


def engine_error(e: RagError, assistant: Assistant) -> ApiError:
    """A RagError as an API error: its one-line message, the data directory's path replaced."""
    status = next((s for t, s in _STATUS.items() if isinstance(e, t)), 500)
    message = str(e).replace(str(assistant.settings.data_dir), "<data dir>")
    return ApiError(status, message, kind="invalid_request_error" if status < 500 else "server_error")


def _install_error_handlers(app: FastAPI, assistant: Assistant) -> None:
    async def api_error(_: Request, e: ApiError) -> JSONResponse:
        return e.response()

    async def invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        err = e.errors()[0]
        if err.get("type") == "json_invalid":
            return ApiError(400, "the request body is not valid JSON").response()
        loc = [str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path")]
        if not loc and err.get("loc", ())[:1] == ("body",):
            return ApiError(400, "the request body must be a JSON object (OpenAI's chat request)").response()
        param = ".".join(loc) or None
        message = f"{param}: {err.get('msg', 'invalid value')}" if param else str(err.get("msg", "invalid request body"))
        return ApiError(400, message, param=param).response()

    async def http_error(request: Request, e: HTTPException) -> JSONResponse:
        message = (f"Invalid URL ({request.method} {request.url.path})" if e.status_code in (404, 405)
                   else str(e.detail))
        return ApiError(e.status_code, message, code="unknown_url" if e.status_code == 404 else None).response()

    async def rag_error(_: Request, e: RagError) -> JSONResponse:
        return engine_error(e, assistant).response()

    async def bug(_: Request, e: Exception) -> JSONResponse:  # the traceback goes to the server's log only
        return ApiError(500, "internal error (the server's log has the details)", kind="server_error").response()

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RagError, rag_error)
    app.add_exception_handler(Exception, bug)


# -- access --------------------------------------------------------------------------------------------
def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


@dataclass(frozen=True)
class Access:
    """Who may call: the app's logins and/or an API key. Neither set: open (a local app)."""

    logins: tuple[tuple[str, str], ...] = ()
    api_key: str | None = None

    @property
    def open(self) -> bool:
        return not self.logins and not self.api_key

    def allows(self, authorization: str | None) -> bool:
        """`Bearer <api key>`, `Bearer user:password` or `Basic base64(user:password)` (constant-time compares)."""
        if self.open:
            return True
        scheme, _, credential = (authorization or "").strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() == "basic":
            try:
                return self._login(base64.b64decode(credential, validate=True).decode("utf-8"))
            except (binascii.Error, UnicodeDecodeError):
                return False
        if scheme.lower() != "bearer" or not credential:
            return False
        key_ok = self.api_key is not None and _same(credential, self.api_key)
        return self._login(credential) or key_ok

    def _login(self, credential: str) -> bool:
        user, sep, password = credential.partition(":")
        found = False
        for u, p in self.logins:  # every pair is compared, so the time does not say which user exists
            found |= _same(user, u) & _same(password, p) & bool(sep)
        return found


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket for uvicorn; raises OSError here (not in the server's thread) when the port is taken."""
    host = host.strip("[]")
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart reuses TIME_WAIT, never a listener
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


class ServerThread(uvicorn.Server):
    """uvicorn serving `app` on a bound socket in a daemon thread: `start()` returns once it accepts connections
    (no sleeps: an event set when uvicorn's startup has run), `close()` stops it."""

    def __init__(self, app, sock: socket.socket, *, log_level: str = "warning"):
        super().__init__(uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=5))
        self.sock = sock
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="rag-http", daemon=True)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        finally:
            self.ready.set()

    def _run(self) -> None:
        try:
            self.run(sockets=[self.sock])  # uvicorn's sys.exit on a failed startup ends only this thread
        finally:
            self.ready.set()
            self.sock.close()

    def start(self) -> None:
        self.thread.start()
        self.ready.wait()
        if not self.started:
            raise RagError("the HTTP server did not start (see the messages above)")

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C raises KeyboardInterrupt here)."""
        self.thread.join()

    def close(self) -> None:
        self.should_exit = True
        self.thread.join(timeout=15)


# -- request and response shapes -----------------------------------------------------------------------
class ContentPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str
    text: str | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text for p in self.content if p.type == "text" and p.text)
        return self.content or ""


class ChatRequest(BaseModel):
    """OpenAI's chat request; fields this API does not use (temperature, max_tokens, …) are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")
    model: str
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    top_k: int | None = Field(None, ge=1, le=50, description="Extension: passages searched (default: RAG_TOP_K)")


class CitedQuote(BaseModel):
    """A citation as the API and the MCP server publish it: document `source` (version `sha256`) has `quote`
    at [start, end), which GET /v1/documents/{source}?start=&end= (or MCP get_passage) shows."""

    n: int = Field(description="The n of [n] in the answer")
    source: str
    title: str
    quote: str
    start: int
    end: int
    sha256: str = Field(description="sha256 of the document version the offsets index into ('' if unknown)")
    page: int | None = Field(None, description="1-based page, for paged formats (PDF)")
    heading_path: list[str] = Field(default_factory=list, description="Headings above the quote, outermost first")
    ocr: bool = Field(False, description="The quote was read by OCR from a scanned page: check it on the page image")
    score: float

    @classmethod
    def of(cls, c: Citation) -> CitedQuote:
        return cls(n=c.id, source=c.source, title=c.title, quote=c.quote, start=c.start, end=c.end, sha256=c.sha256,
                   page=c.page, heading_path=list(c.heading_path), ocr=c.ocr, score=c.score)


def answer_fields(answer: Answer) -> dict:
    """The fields beside `choices`: what makes the answer checkable."""
    return {"citations": [CitedQuote.of(c).model_dump() for c in answer.citations], "abstained": answer.abstained,
            "notice": answer.notice}


def model_ids(pool: AssistantPool) -> list[str]:
    """Every model: per collection, the configured default mode, extractive, and llm when an endpoint is set."""
    modes = ["", ":extractive"] + ([":llm"] if pool.base.settings.llm_base_url else [])
    return [f"{MODEL_PREFIX}:{name}{mode}" for name in pool.names() for mode in modes]


def resolve_model(pool: AssistantPool, model: str) -> tuple[Assistant, str | None]:
    """(the collection's Assistant, answer mode or None for the default) of a model id; 404 for an unknown one."""
    prefix, _, rest = model.partition(":")
    name, _, mode = rest.partition(":")
    llm_ok = bool(pool.base.settings.llm_base_url)
    if prefix != MODEL_PREFIX or mode not in ("", "extractive", "llm") or (mode == "llm" and not llm_ok):
        raise _unknown_model(model)
    try:
        return pool.get(name), mode or None
    except InputError:
        raise _unknown_model(model) from None


def _collection(pool: AssistantPool, name: str | None) -> Assistant:
    """The Assistant of collection `name` (the app's own when None); 404 in OpenAI's shape for an unknown one."""
    try:
        return pool.get(name)
    except InputError as e:
        raise ApiError(404, str(e), param="collection", code="collection_not_found") from None


def conversation(messages: list[Message]) -> tuple[str, list[dict]]:
    """(question, history): the last user message, and the user/assistant turns before it."""
    turns = [(m.role, m.text().strip()) for m in messages if m.role in ("user", "assistant")]
    last = max((i for i, (role, _) in enumerate(turns) if role == "user"), default=None)
    if last is None or not turns[last][1]:
        raise ApiError(400, "messages must end with a user message that has text (the question)", param="messages")
    return turns[last][1], [{"role": r, "content": t} for r, t in turns[:last] if t]


# -- the engine's stream: the one place that reads its events -------------------------------------------
def answer_events(assistant: Assistant, question: str, history: list[dict], *, top_k: int | None,
                  mode: str | None) -> Iterator[TextDelta | Final]:
    """Text deltas, then the final answer (a Notice's text comes again as the answer's `notice`)."""
    for event in assistant.stream(question, history, top_k=top_k, mode=mode):
        if isinstance(event, (TextDelta, Final)):
            yield event


def final_answer(events: Iterator[TextDelta | Final]) -> Answer:
    answer = None
    for event in events:
        if isinstance(event, Final):
            answer = event.answer
    assert answer is not None, "the engine's stream ends with Final"
    return answer


# -- the app -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Reply:
    """One completion's identity: OpenAI repeats it in every chunk."""

    id: str
    model: str
    created: int

    def completion(self, answer: Answer) -> dict:
        return {"id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
                "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                             "message": {"role": "assistant", "content": answer.text, "refusal": None}}],
                **answer_fields(answer)}

    def chunk(self, delta: dict, finish: str | None = None, **extra) -> str:
        body = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def sse(reply: _Reply, first: TextDelta | Final, events: Iterator[TextDelta | Final], *, live: bool,
        assistant: Assistant) -> Iterator[str]:
    """Chunks: the role, the text, then a last one with finish_reason "stop" and the citations; then [DONE].

    live=False (llm mode) holds the model's tokens back: the verifier may drop sentences and renumber the
    citations, and what the client receives must be the text the citations belong to."""
    yield reply.chunk({"role": "assistant", "content": ""})
    sent, answer = "", None
    try:
        for event in _chain(first, events):
            if isinstance(event, Final):
                answer = event.answer
            elif live:
                sent += event.text
                yield reply.chunk({"content": event.text})
    except RagError as e:
        yield f"data: {json.dumps(engine_error(e, assistant).body())}\n\n"
        return
    assert answer is not None
    if answer.text != sent:
        rest = answer.text[len(sent):] if answer.text.startswith(sent) else "\n\n" + answer.text
        yield reply.chunk({"content": rest})
    yield reply.chunk({}, "stop", **answer_fields(answer))
    yield "data: [DONE]\n\n"


def _chain(first: TextDelta | Final, events: Iterator[TextDelta | Final]) -> Iterator[TextDelta | Final]:
    yield first
    yield from events


def openai_app(assistant: Assistant, *, logins: list[tuple[str, str]] | None = None,
               api_key: str | None = None) -> FastAPI:
    """The API as an ASGI app to mount at /v1 (its own error handlers and access check)."""
    access = Access(tuple(logins or ()), api_key or None)

    def check_access(request: Request) -> None:
        if not access.allows(request.headers.get("authorization")):
            raise ApiError(401, "Missing or wrong credentials: send Authorization: Bearer <RAG_API_KEY> "
                                "(or a login as Bearer user:password, or HTTP Basic)", code="invalid_api_key")

    app = FastAPI(title="rag-cited OpenAI-compatible API", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(check_access)])
    _install_error_handlers(app, assistant)
    started = int(time.time())
    pool = AssistantPool(assistant)
    _model_routes(app, pool, started)
    _chat_route(app, pool)
    _document_routes(app, pool)
    return app


def _model_routes(app: FastAPI, pool: AssistantPool, created: int) -> None:
    def card(model_id: str) -> dict:
        return {"id": model_id, "object": "model", "created": created, "owned_by": MODEL_PREFIX}

    @app.get("/models")
    def list_models() -> dict:
        return {"object": "list", "data": [card(m) for m in model_ids(pool)]}

    @app.get("/models/{model:path}")
    def get_model(model: str) -> dict:
        resolve_model(pool, model)
        return card(model)


def _unknown_model(model: str) -> ApiError:
    return ApiError(404, f"The model `{model}` does not exist; GET /v1/models lists the models",
                    param="model", code="model_not_found")


def _chat_route(app: FastAPI, pool: AssistantPool) -> None:
    @app.post("/chat/completions")
    async def chat_completions(body: ChatRequest):
        """Answer the last user message from the model's collection; earlier user/assistant messages are the
        history (follow-ups work).

        System and developer messages are ignored (the answer comes from the documents, not from
        instructions), and so are tool messages."""
        assistant, mode = await run_in_threadpool(resolve_model, pool, body.model)
        question, history = conversation(body.messages)
        reply = _Reply(f"chatcmpl-{uuid.uuid4().hex}", body.model, int(time.time()))
        events = answer_events(assistant, question, history, top_k=body.top_k, mode=mode)
        if not body.stream:
            return reply.completion(await run_in_threadpool(final_answer, events))
        first = await run_in_threadpool(next, events, None)  # engine errors still get an HTTP status
        assert first is not None
        live = (mode or assistant.settings.effective_mode()) != "llm"
        return StreamingResponse(sse(reply, first, events, live=live, assistant=assistant),
                                 media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def _document_routes(app: FastAPI, pool: AssistantPool) -> None:
    @app.get("/documents")
    def list_documents(collection: str | None = None) -> dict:
        docs = _collection(pool, collection).documents()
        return {"object": "list", "data": [{"source": d.source, "title": d.title, "sha256": d.sha256,
                                            "chars": d.chars, "chunks": d.chunks, "pages": d.pages} for d in docs]}

    @app.get("/documents/{source:path}")
    def passage(source: str, start: int | None = None, end: int | None = None, sha256: str | None = None,
                collection: str | None = None) -> dict:
        """The exact text of source[start:end] (whole text without a range), of version `sha256` if given."""
        return document_passage(_collection(pool, collection), source, start, end, sha256)


def document_passage(assistant: Assistant, source: str, start: int | None, end: int | None,
                     sha256: str | None = None) -> dict:
    """{"source", "sha256", "start", "end", "text"} with text == document_text(source)[start:end]."""
    current = next((d.sha256 for d in assistant.documents() if d.source == source), None)
    try:
        if sha256 is None and current is None:
            raise InputError("unknown source")
        text = assistant.document_text(source, sha256) if sha256 else assistant.document_text(source)
    except InputError:
        what = f"version {sha256[:12]} of {source!r}" if sha256 else repr(source)
        raise ApiError(404, f"no {what} in the index; GET /v1/documents lists the documents",
                       param="source", code="document_not_found") from None
    lo, hi = 0 if start is None else start, len(text) if end is None else end
    if not 0 <= lo <= hi <= len(text):
        raise ApiError(400, f"the range must satisfy 0 <= start <= end <= {len(text)} (the document's length)",
                       param="start" if not 0 <= lo <= len(text) else "end")
    return {"source": source, "sha256": sha256 or current or "", "start": lo, "end": hi, "text": text[lo:hi]}
