"""`rag mcp` as a real child process, driven by the official MCP SDK's clients: stdio (the default) and
streamable HTTP. The child seeds its empty index; every citation is checked against the seed file itself."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import anyio
import httpx
import httpx2
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from .conftest import REPO, SEED_SOURCE
from .ui_helpers import free_port

QUESTION = "Which villages did Azerbaijan attack on December 12?"
TOOLS = {"ask", "search", "list_documents", "get_passage"}
CHILD_ENV = {"HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "PYTHONUNBUFFERED": "1"}


def seed_text() -> str:
    """The seed file as the engine reads a .txt: UTF-8, newlines normalised."""
    return (REPO / SEED_SOURCE).read_text(encoding="utf-8").replace("\r\n", "\n").replace("\r", "\n")


async def check_session(session: ClientSession) -> None:
    """Tools, structured answers, exact citations, passages and resources, through one MCP session."""
    await session.initialize()
    tools = {t.name: t for t in (await session.list_tools()).tools}
    assert TOOLS <= set(tools) and tools["ask"].output_schema["properties"]["citations"]

    text = seed_text()
    docs = (await session.call_tool("list_documents", {})).structured_content["documents"]
    assert [d["source"] for d in docs] == [SEED_SOURCE] and docs[0]["chars"] == len(text)
    sha = docs[0]["sha256"]

    result = await session.call_tool("ask", {"question": QUESTION})
    assert not result.is_error, result.content
    answer = result.structured_content
    assert "Khtsaberd" in answer["answer"] and not answer["abstained"] and answer["citations"]
    assert "Khtsaberd" in result.content[0].text and "Sources:" in result.content[0].text
    for c in answer["citations"]:
        assert c["source"] == SEED_SOURCE and text[c["start"]:c["end"]] == c["quote"] and c["sha256"] == sha
        passage = await session.call_tool("get_passage", {"source": c["source"], "start": c["start"], "end": c["end"]})
        assert passage.structured_content["text"] == c["quote"]

    found = await session.call_tool("search", {"query": "Russian military presence", "top_k": 3})
    assert not found.is_error, found.content
    passages = found.structured_content["passages"]
    assert len(passages) == 3 and passages[0]["score"] >= passages[-1]["score"]
    for p in passages:
        assert text[p["start"]:p["end"]] == p["text"] and p["sha256"] == sha

    resources = (await session.list_resources()).resources
    assert [r.uri for r in resources] == [docs[0]["uri"]] == [f"doc://{SEED_SOURCE}"]
    read = await session.read_resource(resources[0].uri)
    assert read.contents[0].text == text


async def check_errors(session: ClientSession) -> None:
    missing = await session.call_tool("get_passage", {"source": "nowhere.txt", "start": 0, "end": 5})
    assert missing.is_error and "nowhere.txt" in missing.content[0].text
    bad_range = await session.call_tool("get_passage", {"source": SEED_SOURCE, "start": 5, "end": 2})
    assert bad_range.is_error and "start <= end" in bad_range.content[0].text
    empty = await session.call_tool("ask", {"question": "  "})
    assert empty.is_error and "empty question" in empty.content[0].text
    assert "Traceback" not in missing.content[0].text + empty.content[0].text


def test_stdio_server(tmp_path):
    errlog = tmp_path / "stderr.txt"
    params = StdioServerParameters(command=sys.executable, args=["-m", "rag_cited.cli", "mcp", "--data-dir", str(tmp_path)],
                                   env=CHILD_ENV, cwd=str(REPO))

    async def main():
        with errlog.open("w") as err:
            async with stdio_client(params, errlog=err) as (read, write), ClientSession(read, write) as session:
                await check_session(session)
                await check_errors(session)

    anyio.run(main)
    log = errlog.read_text()
    assert "seed corpus" in log and "Traceback" not in log  # progress went to stderr; stdout stayed the protocol


def test_tools_take_a_collection(tmp_path, embedder):
    """A second collection in the server's data dir: ask, search, list_documents and get_passage reach it by name;
    list_collections names both; an unknown collection is a readable tool error."""
    from rag import Assistant

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "archive.txt").write_text("The keeper of the town archive is Miriam Hale.\n")
    Assistant(data_dir=tmp_path, collection="notes", embed_model=embedder).ingest([tmp_path / "notes"])
    params = StdioServerParameters(command=sys.executable, args=["-m", "rag_cited.cli", "mcp", "--data-dir", str(tmp_path)],
                                   env=CHILD_ENV, cwd=str(REPO))

    async def main():
        with (tmp_path / "stderr.txt").open("w") as err:
            async with stdio_client(params, errlog=err) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                listed = (await session.call_tool("list_collections", {})).structured_content
                assert [c["name"] for c in listed["collections"]] == ["documents", "notes"]
                assert listed["default"] == "documents"
                docs = (await session.call_tool("list_documents", {"collection": "notes"})).structured_content
                assert [d["source"] for d in docs["documents"]] == ["notes/archive.txt"]
                question = {"question": "Who is the keeper of the town archive?"}
                answer = (await session.call_tool("ask", {**question, "collection": "notes"})).structured_content
                assert "Miriam Hale" in answer["answer"] and answer["citations"][0]["ocr"] is False
                c = answer["citations"][0]
                passage = await session.call_tool("get_passage", {"source": c["source"], "start": c["start"],
                                                                  "end": c["end"], "collection": "notes"})
                assert passage.structured_content["text"] == c["quote"]
                found = await session.call_tool("search", {"query": "archive keeper", "collection": "notes"})
                assert found.structured_content["passages"][0]["source"] == "notes/archive.txt"
                default = (await session.call_tool("ask", question)).structured_content
                assert "Miriam Hale" not in default["answer"]  # the seed collection knows nothing of her
                missing = await session.call_tool("ask", {**question, "collection": "nowhere"})
                assert missing.is_error and "no collection 'nowhere'" in missing.content[0].text

    anyio.run(main)


def start_http_server(tmp_path: Path, port: int, env: dict) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "rag_cited.cli", "mcp", "--http", "--port", str(port),
                             "--data-dir", str(tmp_path)], cwd=REPO, env={**os.environ, **CHILD_ENV, **env},
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:  # the server says where it listens once it accepts connections
        if "streamable HTTP" in line:
            return proc
    proc.kill()
    raise AssertionError(f"rag mcp --http did not start (exit {proc.wait()})")


def test_streamable_http_server_with_api_key(tmp_path):
    port = free_port()
    proc = start_http_server(tmp_path, port, {"RAG_API_KEY": "k-mcp"})
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        refused = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"

        async def main():
            async with httpx2.AsyncClient(headers={"Authorization": "Bearer k-mcp"}, timeout=60) as http, \
                    streamable_http_client(url, http_client=http) as (read, write), \
                    ClientSession(read, write) as session:
                await check_session(session)

        anyio.run(main)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_http_port_taken_is_one_line(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        r = subprocess.run([sys.executable, "-m", "rag_cited.cli", "mcp", "--http", "--port", str(s.getsockname()[1]),
                            "--data-dir", str(tmp_path)], cwd=REPO, env={**os.environ, **CHILD_ENV},
                           capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "pick another --port" in r.stderr and "Traceback" not in r.stderr
