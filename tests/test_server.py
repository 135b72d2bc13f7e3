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
