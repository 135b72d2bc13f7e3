"""The Chroma store: fingerprints, batching, and two processes writing one embedded directory."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag import Assistant, IndexMismatchError


def test_fingerprint_is_recorded_and_checked(tmp_path, embedder):
    a = Assistant(data_dir=tmp_path, embed_model=embedder)
    a.store.check_fingerprint()  # an empty index adopts the current settings
    assert a.store.stored_fingerprint() == a.store.fingerprint == {**a.fingerprint(), "rag_schema": "2"}
    assert a.store.chunks.configuration["hnsw"]["space"] == "cosine"
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_text("Some text.")
    a.ingest([tmp_path / "d"])
    other = Assistant(data_dir=tmp_path, embed_model=embedder, chunk_overlap=0)
    with pytest.raises(IndexMismatchError, match="rag ingest PATH --rebuild"):
        other.store.check_fingerprint()


def test_metadata_is_flat_and_chunks_carry_offsets(tmp_path, embedder):
    a = Assistant(data_dir=tmp_path, embed_model=embedder)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_text("First sentence here. Second one follows.\n\nA new paragraph.")
    a.ingest([tmp_path / "d"])
    with a.store.reading():
        ids, texts, metas = a.store.all_chunks()
    text = a.document_text("d/x.txt")
    raw = a.store.chunks.get(include=["metadatas"])["metadatas"]
    assert raw and all(isinstance(v, (str, int, float, bool)) for m in raw for v in m.values())
    for t, m in zip(texts, metas):
        assert text[m.start:m.end] == t and m.doc_sha == a.documents()[0].sha256


@pytest.mark.slow
def test_two_processes_ingesting_one_directory_at_once(tmp_path):
    for name, colour in (("a", "blue"), ("b", "green")):
        (tmp_path / name).mkdir()
        for i in range(25):
            (tmp_path / name / f"{name}{i}.txt").write_text(
                f"File {name}{i} says the codeword {name}{i}x is {colour}. Filler about harbours number {i}.")
    env = {**os.environ, "RAG_DATA_DIR": str(tmp_path / "data")}
    rag = str(Path(sys.executable).parent / "rag")
    procs = [subprocess.Popen([rag, "ingest", str(tmp_path / n), "--json"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for n in ("a", "b")]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    a = Assistant(data_dir=tmp_path / "data")
    assert a.store.count_chunks() == 50 and len(a.documents()) == 50
    for n in ("a", "b"):  # both processes' vectors are searchable: a chunk's own text finds it first
        text = a.document_text(f"{n}/{n}7.txt")
        assert a.search(text, top_k=1)[0].source == f"{n}/{n}7.txt"


def test_write_lock_excludes_other_processes(tmp_path):
    import fcntl

    code = ("import sys; from rag.settings import Settings; from rag.store import Store\n"
            f"s = Store(Settings(data_dir={str(tmp_path)!r}), {{}})\n"
            "with s.writing():\n    print('locked', flush=True); sys.stdin.readline()\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with open(tmp_path / "ingest.lock", "a+") as f:
            with pytest.raises(BlockingIOError):
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            holder.stdin.write("\n")
            holder.stdin.flush()
            assert holder.wait(timeout=60) == 0
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free once the writer is done
    finally:
        holder.kill()
