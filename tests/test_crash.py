"""kill -9 at many points of an update, a prune and a delete: every citation stays exact before any re-ingest.

The writer is a separate process on an embedded Chroma directory, with a cost-free embedding model
(tests/hashing_embedding.py, through the public `embed_model` hook) so that its time goes to parsing and
the version-keyed Chroma writes, where the kills must land. Each kill comes at a different fraction of
a measured full run after the writer says it is ready; the checks run in this process, on the same
directory, before anything re-ingests. A second test does the same with the real `rag` command.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag import Assistant

from .conftest import assert_exact
from .hashing_embedding import HashingEmbedding

RAG = str(Path(sys.executable).parent / "rag")
QUESTIONS = ["What colour is the harbour crane in file 3?", "Which pier does the ferry of file 7 use?",
             "Who inspected the lighthouse?"]


def _write_corpus(folder: Path, version: int, files: int = 40) -> None:
    folder.mkdir(exist_ok=True)
    for i in range(files):
        sentences = [f"File {i} version {version} notes that the harbour crane is painted colour {version * 7 + i}.",
                     f"The ferry of file {i} uses pier {version + i} on every weekday in version {version}.",
                     f"The lighthouse was inspected by keeper number {version}{i} during the spring survey.",
                     *(f"Paragraph {p} of file {i}, version {version}, lists cargo crates counted at {p * version}."
                       for p in range(30))]
        # edits move sentences around, so old offsets point at other text in the new version
        body = "\n\n".join(sentences[version % 5:] + sentences[:version % 5])
        (folder / f"f{i:02d}.txt").write_text(body + "\n")


def _env(data: Path) -> dict:
    return {**os.environ, "RAG_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}


def _check_exact(a: Assistant) -> int:
    """Every chunk a reader can use indexes into its document's current text; answers cite exactly."""
    with a.store.reading():
        ids, texts, metas = a.store.all_chunks()
        for t, m in zip(texts, metas):
            assert a.store.document_text(m.source)[m.start:m.end] == t, m
    for q in QUESTIONS:
        assert_exact(a, a.ask(q))
    return len(ids)


def _writer(data: Path, op: str, arg: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "tests.hashing_embedding", str(data), op, arg],
                            cwd=Path(__file__).resolve().parent.parent, env=_env(data), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def _run_killed(proc: subprocess.Popen, delay: float) -> bool:
    """SIGKILL `proc` `delay` s after it said ready; True when it was still writing then."""
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True


@pytest.mark.slow
def test_kill_during_update_prune_and_delete_leaves_every_citation_exact(tmp_path):
    data, folder = tmp_path / "data", tmp_path / "notes"
    _write_corpus(folder, 1)
    proc = _writer(data, "ingest", str(folder))
    full = float(proc.stdout.readline().split()[1])  # "done <seconds>": the length of a whole write
    assert proc.wait() == 0
    a = Assistant(data_dir=data, embed_model=HashingEmbedding(model_name="hashing-256"))
    assert _check_exact(a) > 0
    killed, trials = 0, 16
    for trial in range(trials):
        _write_corpus(folder, trial + 2)  # every file changes: an update of each
        (folder / f"f{trial:02d}.txt").unlink()  # and a prune in the same run
        killed += _run_killed(_writer(data, "ingest", str(folder)), full * (trial + 0.5) / trials)
        _check_exact(a)  # before any re-ingest
        killed += _run_killed(_writer(data, "delete", f"notes/f{(trial + 20) % 40:02d}.txt"), 0.002 * trial)
        _check_exact(a)
    assert killed >= trials, f"only {killed} runs were killed mid-way; the kill points missed the writes"
    report = a.ingest([folder])  # and the next ingest finishes the job
    assert not report.skipped
    with a.store.reading():
        assert a.store.docs.get(where={"kind": "pending"})["ids"] == []
        assert {d.source for d in a.documents()} == {f"notes/{p.name}" for p in folder.iterdir()}
    _check_exact(a)


@pytest.mark.slow
def test_kill_of_the_rag_command_mid_update(tmp_path, embedder):
    data, folder = tmp_path / "data", tmp_path / "notes"
    _write_corpus(folder, 1, files=8)
    env = _env(data)
    t0 = time.monotonic()
    subprocess.run([RAG, "ingest", str(folder)], env=env, check=True, capture_output=True)
    full = time.monotonic() - t0
    a = Assistant(data_dir=data, embed_model=embedder)
    for trial in range(4):
        _write_corpus(folder, trial + 2, files=8)
        proc = subprocess.Popen([RAG, "ingest", str(folder)], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        _run_killed(proc, full * (0.5 + trial / 8))
        _check_exact(a)
