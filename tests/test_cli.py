import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import SEEDS

RAG = str(Path(sys.executable).parent / "rag")


def rag(*args, data_dir, stdin=None, cwd=None):
    env = {**os.environ, "RAG_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.run([RAG, *args], capture_output=True, text=True, env=env, input=stdin, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cli-data")


def test_ask_on_empty_index_seeds_first_and_prints_json(data_dir, tmp_path):
    r = rag("ask", "Which villages did Azerbaijan attack on December 12?", "--json", data_dir=data_dir, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "ingesting the seed corpus" in r.stderr
    answer = json.loads(r.stdout)
    assert {"question", "text", "citations", "abstained", "timings_ms"} <= set(answer)
    assert "Khtsaberd" in answer["text"] and "Khin Taher" in answer["text"] and answer["abstained"] is False
    text = (SEEDS / "000_9ca311f619442424.txt").read_text()
    for c in answer["citations"]:
        assert text[c["start"]:c["end"]] == c["quote"]
    assert list(tmp_path.iterdir()) == []  # nothing written to the working directory


def test_ask_human_output_lists_sources(data_dir):
    r = rag("ask", "What did Ilham Aliyev promise?", data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    assert "iron fist" in r.stdout and "Sources" in r.stdout and "seeds/000_9ca311f619442424.txt" in r.stdout


def test_unanswerable_abstains(data_dir):
    r = rag("ask", "Who is the Prime Minister of Armenia?", "--json", data_dir=data_dir)
    assert json.loads(r.stdout)["abstained"] is True


def test_ingest_twice_reports_unchanged_and_status(data_dir):
    r = rag("ingest", str(SEEDS), "--json", data_dir=data_dir)
    report = json.loads(r.stdout)
    assert report["unchanged"] == ["seeds/000_9ca311f619442424.txt"] and report["texts_embedded"] == 0
    st = json.loads(rag("status", "--json", data_dir=data_dir).stdout)
    assert st["documents"] == 1 and st["chunks"] > 0 and st["fingerprint"] == st["settings_fingerprint"]


def test_chat_answers_follow_ups(data_dir):
    r = rag("chat", data_dir=data_dir, stdin="Who is the President of Azerbaijan?\nWhat did he promise?\n/quit\n")
    assert r.returncode == 0, r.stderr
    assert "Ilham Aliyev" in r.stdout and "iron fist" in r.stdout


@pytest.mark.parametrize("args,message,code", [
    (("ask", ""), "empty question", 1),
    (("ingest", "/no/such/folder"), "no such file or folder", 1),
    (("ask", "q", "--top-k", "0"), "top_k", 2),
    (("frobnicate",), "invalid choice", 2),
    (("ask", "q", "--bogus"), "unrecognized arguments", 2),
])
def test_bad_input_gets_one_line_and_no_traceback(tmp_path, args, message, code):
    r = rag(*args, data_dir=tmp_path / "d")
    assert r.returncode == code
    assert message in r.stderr + r.stdout
    assert "Traceback" not in r.stderr


def test_doctor_checks_everything(data_dir):
    r = rag("doctor", data_dir=data_dir)
    assert r.returncode == 0, r.stdout
    for name in ("model files", "embedding", "tiktoken", "sentence splitter", "chroma"):
        assert f"ok   {name}" in r.stdout


def test_doctor_reports_an_unreachable_llm(data_dir):
    env_url = "http://127.0.0.1:9/v1"  # discard port: nothing listens
    r = subprocess.run([RAG, "doctor"], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "RAG_DATA_DIR": str(data_dir), "RAG_LLM_BASE_URL": env_url, "COLUMNS": "200"})
    assert r.returncode == 1 and "FAIL llm endpoint" in r.stdout and "unreachable" in r.stdout


def test_serve_on_a_taken_port_says_so(data_dir):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        r = rag("serve", "--port", str(s.getsockname()[1]), data_dir=data_dir)
    assert r.returncode == 1 and "pick another --port" in r.stderr and "Traceback" not in r.stderr
