"""Server mode against a real `chroma run` started by the test."""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag import Assistant

from .conftest import SEEDS, assert_exact


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = _free_port()
    proc = subprocess.Popen([chroma, "run", "--path", str(tmp_path_factory.mktemp("chroma-server")),
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import chromadb

    deadline = time.monotonic() + 60
    while True:  # poll the heartbeat: the server is ready when it answers
        try:
            chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
            break
        except Exception:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("chroma server did not start")
            time.sleep(0.2)
    yield port
    proc.terminate()
    proc.wait(timeout=30)


@pytest.mark.slow
def test_ingest_and_ask_through_a_chroma_server(tmp_path, embedder, chroma_server):
    a = Assistant(data_dir=tmp_path / "local", chroma_host="127.0.0.1", chroma_port=chroma_server, embed_model=embedder)
    report = a.ingest([SEEDS])
    assert report.added == ["seeds/000_9ca311f619442424.txt"]
    assert not (tmp_path / "local" / "chroma").exists()
    ans = a.ask("Which villages did Azerbaijan attack on December 12?")
    assert "Khtsaberd" in ans.text
    assert_exact(a, ans)
    # a second client (another process would be the same) sees the index and rebuilds BM25 from the server
    b = Assistant(data_dir=tmp_path / "other", chroma_host="127.0.0.1", chroma_port=chroma_server, embed_model=embedder)
    hits = b.retriever.retrieve("Khin Taher", k=2)
    assert hits[0].bm25_rank is not None and "Khin Taher" in hits[0].text
    assert b.ingest([SEEDS]).unchanged == ["seeds/000_9ca311f619442424.txt"]


def test_unreachable_server_gives_a_clear_error(tmp_path):
    from rag import StoreError

    with pytest.raises(StoreError, match="RAG_CHROMA_HOST"):
        Assistant(data_dir=tmp_path, chroma_host="127.0.0.1", chroma_port=_free_port()).status()


@pytest.mark.slow
def test_losing_the_chroma_server_mid_ingest_is_one_line(tmp_path):
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = _free_port()
    server = subprocess.Popen([chroma, "run", "--path", str(tmp_path / "srv"), "--host", "127.0.0.1", "--port",
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import chromadb

    deadline = time.monotonic() + 60
    while True:  # poll the heartbeat: the server is ready when it answers
        try:
            chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
            break
        except Exception:
            assert time.monotonic() < deadline and server.poll() is None, "chroma server did not start"
            time.sleep(0.2)
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(300):
        (docs / f"d{i:03d}.txt").write_text(f"Document {i} talks about harbour number {i} and its {i % 7} cranes.")
    env = {**__import__("os").environ, "RAG_DATA_DIR": str(tmp_path / "data"), "RAG_CHROMA_HOST": "127.0.0.1",
           "RAG_CHROMA_PORT": str(port), "HF_HUB_OFFLINE": "1"}
    rag = str(Path(sys.executable).parent / "rag")
    ingest = subprocess.Popen([rag, "ingest", str(docs)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        while True:  # kill the server once the ingest has written something
            try:
                if chromadb.HttpClient(host="127.0.0.1", port=port).get_collection("documents").count() > 0:
                    break
            except Exception:
                pass
            assert ingest.poll() is None, "the ingest finished before the server could be killed"
            time.sleep(0.05)
        server.kill()
        out, err = ingest.communicate(timeout=300)
    finally:
        server.kill()
        ingest.kill()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert ingest.returncode == 1 and len(lines) == 1, err
    assert lines[0].startswith("rag: error: Chroma at http://127.0.0.1") and "Traceback" not in err
