"""The MCP server (`rag mcp`): the engine as tools and resources for agents, built on the official `mcp` SDK.

Tools (each returns structured content with an output schema, and the same as readable text):
    ask(question, top_k?, collection?)  the answer with [n] markers and its citations (n, source, title, quote,
                                        start, end, sha256, page, heading_path, ocr, score), `abstained`, `notice`
    search(query, top_k?, collection?)  retrieved passages, best first (source, sha256, start, end, text), with
                                        fused, vector and BM25 scores and ranks
    list_documents(collection?)         source, title, sha256, chars, chunks, pages
    get_passage(source, start?, end?, sha256?, collection?)   the exact text at [start, end): checks a quote
    list_collections()                  the collections: name, documents, chunks
`collection` names another collection (workspace) of the same data dir or Chroma server (`rag collections`
lists them); without it, the server's own (`--collection`, RAG_COLLECTION).
Resources: every document of the server's own collection as `doc://<source>` (its extracted text, the text
citation offsets index into), listed by resources/list and read through the `doc://{+source}` template.

Transports: stdio (the default; stdout is the protocol, so everything else goes to stderr) or streamable
HTTP at http://HOST:PORT/mcp (127.0.0.1 unless told otherwise; with RAG_API_KEY or logins set it asks for
them like /v1 does: `Authorization: Bearer …`). An empty index gets the seed corpus first.
Left out: prompts, sampling, ingest and delete over MCP (agents read; people curate), resource subscriptions.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Annotated
from urllib.parse import quote

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp_types import CallToolResult, Resource, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from rag import Answer, Assistant, RagError, Settings
from rag.collections import AssistantPool, list_collections
from rag.types import CollectionInfo, RetrievedChunk
from rag_cited.ui.openai_api import (
    Access,
    ApiError,
    CitedQuote,
    ServerThread,
    bind_socket,
    document_passage,
    engine_error,
)

log = logging.getLogger("ui.mcp")
SCHEME = "doc://"
DEFAULT_PORT = 7861  # next to the web app's 7860 (Chroma's server takes 8000, the SDK's default)
INSTRUCTIONS = ("Answers come only from the indexed documents. Every citation is exact: get_passage(source, start, "
                "end) returns its quote character for character, and doc://<source> is the whole text.")
TopK = Annotated[int | None, Field(ge=1, le=50, description="Passages to search (default: RAG_TOP_K)")]
CollectionName = Annotated[str | None, Field(description="Collection (workspace) to use; default: the server's own")]
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


# -- structured results ------------------------------------------------------------------------------
class AskResult(BaseModel):
    question: str
    answer: str = Field(description="The answer; each sentence ends with [n] markers naming its citations")
    citations: list[CitedQuote]
    abstained: bool = Field(description="True when the documents do not answer (citations: the closest passages)")
    notice: str | None = None
    mode: str


class SearchResult(BaseModel):
    query: str
    passages: list[RetrievedChunk] = Field(description="Best first; text == document_text(source)[start:end]")


class DocumentEntry(BaseModel):
    source: str
    title: str
    sha256: str
    chars: int
    chunks: int
    pages: int = Field(0, description="Pages, for PDFs (0 otherwise)")
    uri: str = Field(description="The document as an MCP resource (the server's own collection only)")


class DocumentList(BaseModel):
    documents: list[DocumentEntry]


class CollectionList(BaseModel):
    collections: list[CollectionInfo] = Field(description="The server's own collection is `default`")
    default: str


class PassageText(BaseModel):
    source: str
    sha256: str
    start: int
    end: int
    text: str


def doc_uri(source: str) -> str:
    return SCHEME + quote(source, safe="/")


def answer_text(answer: Answer) -> str:
    """The answer for a model to read: the text with [n], then each citation with its place in the document."""
    lines = [answer.text] + ([answer.notice] if answer.notice else [])
    if answer.citations:
        lines.append("\nClosest passages:" if answer.abstained else "\nSources:")
        lines += [f'[{c.id}] {c.title} — {c.source} (chars {c.start}-{c.end}): "{c.quote}"' for c in answer.citations]
    return "\n".join(lines)


# -- the server ----------------------------------------------------------------------------------------
class RagMCP(MCPServer):
    """MCPServer whose resource list is the index's current documents (they change while it runs)."""

    def __init__(self, assistant: Assistant, **kwargs):
        super().__init__(**kwargs)
        self.assistant = assistant

    async def list_resources(self) -> list[Resource]:
        import anyio

        docs = await anyio.to_thread.run_sync(self.assistant.documents)
        return [Resource(uri=doc_uri(d.source), name=d.source, title=d.title or d.source, mime_type="text/plain",
                         size=d.chars, description=f"sha256 {d.sha256}" if d.sha256 else None) for d in docs]


def build_server(assistant: Assistant) -> RagMCP:
    server = RagMCP(assistant, name="rag-cited", title="Cited answers from your documents", version="0.1.0",
                    instructions=INSTRUCTIONS, log_level="WARNING")
    _add_tools(server, assistant)

    @server.resource(SCHEME + "{+source}", name="document", mime_type="text/plain",
                     description="An indexed document's extracted text (citation offsets index into it)")
    def read_document(source: str) -> str:
        try:
            return assistant.document_text(source)
        except RagError as e:
            raise ResourceNotFoundError(f"no document {source!r} in the index (list_documents names them)") from e

    return server


def _engine(assistant: Assistant, call):
    """Run an engine call; its errors become ToolErrors the model can read (one line, no server paths)."""
    try:
        return call()
    except ApiError as e:
        raise ToolError(e.message) from None
    except RagError as e:
        raise ToolError(engine_error(e, assistant).message) from None


def _add_tools(server: RagMCP, assistant: Assistant) -> None:
    pool = AssistantPool(assistant)

    def use(collection: str | None) -> Assistant:
        return _engine(assistant, lambda: pool.get(collection))

    @server.tool(annotations=READ_ONLY)
    def ask(question: str, top_k: TopK = None, collection: CollectionName = None) -> Annotated[CallToolResult, AskResult]:
        """Answer a question from the indexed documents, sentence by sentence, each with exact citations."""
        a = _engine(assistant, lambda: use(collection).ask(question, top_k=top_k))
        result = AskResult(question=a.question, answer=a.text, citations=[CitedQuote.of(c) for c in a.citations],
                           abstained=a.abstained, notice=a.notice, mode=a.mode)
        return CallToolResult(content=[TextContent(type="text", text=answer_text(a))],
                              structured_content=result.model_dump(mode="json"))

    @server.tool(annotations=READ_ONLY)
    def search(query: str, top_k: TopK = None, collection: CollectionName = None) -> SearchResult:
        """Find the passages most related to a query (hybrid vector + BM25 retrieval), without answering."""
        return SearchResult(query=query, passages=_engine(assistant, lambda: use(collection).search(query, top_k)))

    @server.tool(annotations=READ_ONLY)
    def list_documents(collection: CollectionName = None) -> DocumentList:
        """The indexed documents: source (the name other tools take), title, sha256, length, chunks, pages."""
        docs = _engine(assistant, lambda: use(collection).documents())
        return DocumentList(documents=[DocumentEntry(source=d.source, title=d.title, sha256=d.sha256, chars=d.chars,
                                                     chunks=d.chunks, pages=d.pages, uri=doc_uri(d.source))
                                       for d in docs])

    @server.tool(name="list_collections", annotations=READ_ONLY)
    def collections() -> CollectionList:
        """The collections (workspaces) of documents: name (what the other tools' `collection` takes), documents,
        chunks."""
        found = _engine(assistant, lambda: list_collections(assistant.settings))
        return CollectionList(collections=found, default=pool.default)

    @server.tool(annotations=READ_ONLY)
    def get_passage(source: str, start: int | None = None, end: int | None = None,
                    sha256: str | None = None, collection: CollectionName = None) -> PassageText:
        """The exact text of a document between two character offsets (a citation's start and end give its
        quote back, character for character); sha256 picks a document version."""
        return PassageText(**_engine(assistant, lambda: document_passage(use(collection), source, start, end, sha256)))


# -- running -------------------------------------------------------------------------------------------
def seed(assistant: Assistant) -> None:
    """Ingest the seed corpus into an empty index; progress on stderr (stdout may be the protocol)."""
    with contextlib.redirect_stdout(sys.stderr):
        if assistant.status()["documents"] == 0:
            print("The index is empty: adding the seed corpus…", file=sys.stderr, flush=True)
            report = assistant.ensure_seeded()
            if report is not None:
                print(f"Seed corpus: {report.summary()}", file=sys.stderr, flush=True)


def run(settings: Settings, *, http: bool = False, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> int:
    """Serve until the client disconnects (stdio) or Ctrl-C (HTTP). A taken port raises OSError."""
    _log_to_stderr()
    assistant = Assistant(settings)
    sock = bind_socket(host, port) if http else None  # a taken port fails before the seeding
    try:
        seed(assistant)
        server = build_server(assistant)
        if sock is None:
            server.run("stdio")
            return 0
        _serve_http(server, settings, sock, host)
    finally:
        if sock is not None:
            sock.close()
    return 0


def _log_to_stderr() -> None:
    """Warnings and errors on stderr, one line each; set before the SDK's own setup (which then does nothing),
    so libraries' debug records never reach a handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("rag mcp: %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])


def _serve_http(server: RagMCP, settings: Settings, sock, host: str) -> None:
    from rag_cited.ui.app import is_loopback, parse_auth  # the web app's rules for logins and exposure

    access = Access(tuple(parse_auth(settings.auth) or ()),
                    settings.api_key.get_secret_value() if settings.api_key else None)
    if access.open and not is_loopback(host):
        log.warning("MCP over HTTP on %s without RAG_API_KEY or logins: anyone who can reach it can read the "
                    "documents", host)
    app = _guarded(server.streamable_http_app(host=host), access)
    http_server = ServerThread(app, sock)
    http_server.start()
    bare = host.strip("[]")
    print(f"MCP server (streamable HTTP): http://{f'[{bare}]' if ':' in bare else bare}:"
          f"{sock.getsockname()[1]}/mcp", file=sys.stderr, flush=True)
    try:
        http_server.wait()
    except KeyboardInterrupt:
        print("Stopping the MCP server…", file=sys.stderr, flush=True)
    finally:
        http_server.close()


def _guarded(app, access: Access):
    """The ASGI app behind the credential check of ui/openai_api.py (401 in OpenAI's error shape)."""
    if access.open:
        return app

    async def guard(scope, receive, send):
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or ())
            authorization = headers.get(b"authorization", b"").decode("latin-1")
            if not access.allows(authorization):
                error = ApiError(401, "Missing or wrong credentials: send Authorization: Bearer <RAG_API_KEY>",
                                 code="invalid_api_key")
                await error.response()(scope, receive, send)
                return
        await app(scope, receive, send)

    return guard
