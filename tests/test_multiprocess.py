"""One index, many processes: two `rag serve` on one embedded data dir while `rag ingest` and `rag delete`
write into it, and app processes sharing one `chroma run` server (as on separate hosts: each its own data dir,
one used through the web app's API, the other through the OpenAI-compatible API with the official client).

Every answer during the writes must succeed with exact citations (checked against the files themselves),
and afterwards every server must answer from the new documents without a restart.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file

from rag import Assistant

from .conftest import SEEDS
from .test_server import chroma_server  # noqa: F401  (fixture: a real `chroma run`)
from .ui_helpers import free_port

RAG = str(Path(sys.executable).parent / "rag")
SEED_Q = ("Which villages did Azerbaijan attack on December 12?", "Khtsaberd")


def _env(data: Path, **extra) -> dict:
    return {**os.environ, "RAG_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
            "GRADIO_ANALYTICS_ENABLED": "False", **extra}


def _write_notes(folder: Path, n: int = 20) -> None:
    folder.mkdir(exist_ok=True)
    for i in range(n):
        (folder / f"f{i:02d}.txt").write_text(
            f"Logbook {i}: the secret codeword of station {i} is zephyr{i}x.\n\n"
            f"Station {i} sits at kilometre {i * 13} of the coastal railway and opened in {1900 + i}.\n")


def _serve(data: Path, env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([RAG, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:  # poll until the server answers
        if proc.poll() is not None:
            pytest.fail(f"rag serve exited: {proc.stderr.read()[-2000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    proc.kill()
    pytest.fail("rag serve did not come up")


def _file_text(source: str, notes: Path) -> str:
    folder, name = source.split("/", 1)
    base = SEEDS if folder == "seeds" else notes if folder == notes.name else None
    assert base is not None, source
    return (base / name).read_text(encoding="utf-8")


def _ask_exact(client: Client, question: str, notes: Path) -> dict:
    ans = client.predict(question, [], api_name="/ask")
    for c in ans["citations"]:
        assert _file_text(c["source"], notes)[c["start"]:c["end"]] == c["quote"], c
    return ans


@pytest.mark.slow
def test_servers_keep_answering_while_the_cli_writes_their_data_dir(tmp_path):
    data, notes = tmp_path / "data", tmp_path / "notes"
    _write_notes(notes)
    env = _env(data)
    servers = [_serve(data, env) for _ in range(2)]
    clients = [Client(url, verbose=False) for _, url in servers]
    try:
        writer = subprocess.Popen([RAG, "ingest", str(notes)], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        asked = 0
        while writer.poll() is None or asked < 4:  # questions while the other process writes
            for client in clients:
                assert SEED_Q[1] in _ask_exact(client, SEED_Q[0], notes)["text"]
                asked += 1
        assert writer.wait() == 0, writer.stderr.read()
        for client in clients:  # the new documents, without a restart
            assert "zephyr17x" in _ask_exact(client, "What is the secret codeword of station 17?", notes)["text"]
        assert subprocess.run([RAG, "delete", "notes/f17.txt"], env=env).returncode == 0
        for client in clients:
            assert "notes/f17.txt" not in {d["source"] for d in client.predict(api_name="/documents")}
        # a write through one server is seen by the other
        up = tmp_path / "harbour.txt"
        up.write_text("The harbour master of Port Elin is called Ottoline Varga.")
        assert clients[0].predict([handle_file(str(up))], api_name="/ingest")["added"] == ["uploads/harbour.txt"]
        ans = clients[1].predict("Who is the harbour master of Port Elin?", [], api_name="/ask")
        assert "Ottoline Varga" in ans["text"]
    finally:
        for client in clients:
            client.close()
        for proc, _ in servers:
            proc.terminate()
            proc.wait(timeout=30)


def _stderr_until(proc: subprocess.Popen, needle: str, timeout: float) -> str:
    """What proc writes to stderr until `needle` appears, it exits, or `timeout` passes (never blocks past it)."""
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stderr, selectors.EVENT_READ)
    out, deadline = "", time.monotonic() + timeout
    while needle not in out and time.monotonic() < deadline:
        if sel.select(timeout=max(0.0, deadline - time.monotonic())):
            line = proc.stderr.readline()
            if not line:
                break
            out += line
    return out


@pytest.mark.slow
def test_a_waiting_writer_names_the_lock_holder(tmp_path):
    data = tmp_path / "data"
    code = ("import sys; from rag.settings import Settings; from rag.store import Store\n"
            f"s = Store(Settings(data_dir={str(data)!r}), {{}})\n"
            "with s.writing():\n    print('locked', flush=True); sys.stdin.readline()\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env=_env(data))
    try:
        assert holder.stdout.readline().strip() == "locked"
        (tmp_path / "d").mkdir()
        (tmp_path / "d" / "x.txt").write_text("Some text about lighthouses.")
        waiter = subprocess.Popen([RAG, "ingest", str(tmp_path / "d")], env=_env(data), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        said = _stderr_until(waiter, f"held by pid {holder.pid}", timeout=120)  # it says so while it waits
        assert f"held by pid {holder.pid}" in said, said
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert waiter.wait(timeout=120) == 0
    finally:
        holder.kill()


@pytest.mark.slow
def test_two_app_processes_share_one_chroma_server(tmp_path, embedder, chroma_server):  # noqa: F811
    notes = tmp_path / "notes"
    _write_notes(notes, 5)
    env = _env(tmp_path / "web", RAG_CHROMA_HOST="127.0.0.1", RAG_CHROMA_PORT=str(chroma_server),
               RAG_COLLECTION="shared")
    proc, url = _serve(tmp_path / "web", env)
    client = Client(url, verbose=False)
    try:
        other = Assistant(data_dir=tmp_path / "api", chroma_host="127.0.0.1", chroma_port=chroma_server,
                          collection="shared", embed_model=embedder)
        assert other.ingest([notes]).added  # the second app process writes
        ans = _ask_exact(client, "What is the secret codeword of station 3?", notes)
        assert "zephyr3x" in ans["text"]
        lexical = [h for h in ans["retrieved"] if h["bm25_rank"] is not None]
        assert any(h["source"] == "notes/f03.txt" for h in lexical)  # BM25 followed the other process's write
        assert other.delete("notes/f03.txt")
        assert "notes/f03.txt" not in {h["source"] for h in
                                       client.predict("station 3 codeword", [], api_name="/ask")["retrieved"]}
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_an_upload_to_one_app_is_cited_by_another_through_the_openai_api(tmp_path, chroma_server):  # noqa: F811
    """docs/DEPLOY.md's layout: app processes with their own data dirs (no shared files), one Chroma server."""
    from openai import OpenAI

    shared = {"RAG_CHROMA_HOST": "127.0.0.1", "RAG_CHROMA_PORT": str(chroma_server), "RAG_COLLECTION": "deploy",
              "RAG_API_KEY": "k-deploy"}
    apps = []
    try:
        for host in ("host-a", "host-b"):  # one after the other: the first seeds the empty collection
            apps.append(_serve(tmp_path / host, _env(tmp_path / host, **shared)))
        web = Client(apps[0][1], verbose=False)
        up = tmp_path / "harbour.txt"
        up.write_text("Port Elin has one lighthouse.\n\nThe harbour master of Port Elin is called Ottoline Varga.\n")
        assert web.predict([handle_file(str(up))], api_name="/ingest")["added"] == ["uploads/harbour.txt"]
        web.close()
        api = OpenAI(base_url=f"{apps[1][1]}v1", api_key="k-deploy", max_retries=0)
        resp = api.chat.completions.create(model="rag-cited:deploy", messages=[
            {"role": "user", "content": "Who is the harbour master of Port Elin?"}])
        assert "Ottoline Varga" in resp.choices[0].message.content
        cited = [c for c in resp.model_extra["citations"] if c["source"] == "uploads/harbour.txt"]
        assert cited and any("Ottoline Varga" in c["quote"] for c in cited)
        for c in cited:  # exact against the file itself and through the other app's verification endpoint
            assert up.read_text()[c["start"]:c["end"]] == c["quote"]
            got = httpx.get(f"{apps[1][1]}v1/documents/{c['source']}", params={"start": c["start"], "end": c["end"]},
                            headers={"Authorization": "Bearer k-deploy"}).json()
            assert got["text"] == c["quote"]
    finally:
        for proc, _ in apps:
            proc.terminate()
            proc.wait(timeout=30)
