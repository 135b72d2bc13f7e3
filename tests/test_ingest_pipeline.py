"""The overlapped ingest (rag.ingest._Pipeline) and batched writes (Store.write_documents).

Small groups (`EMBED_GROUP` set low) make a dozen files several groups in flight at once; the cost-free
`HashingEmbedding` keeps the time on parsing and Chroma. Fakes are real llama-index `BaseEmbedding`
subclasses that fail on a marker word, in the model (embedding thread) or in its tokenizer (the reading side).
"""

from __future__ import annotations

import threading

import pytest
from pydantic import PrivateAttr

import rag.ingest
from rag import Assistant

from .hashing_embedding import HashingEmbedding

GROUP = 3  # chunks per group in these tests: 12 one-chunk files make 4 groups


@pytest.fixture(autouse=True)
def _small_groups(monkeypatch):
    monkeypatch.setattr(rag.ingest, "EMBED_GROUP", GROUP)


def _corpus(folder, n=12, version=1, bad=(), marker=None):
    folder.mkdir(exist_ok=True)
    for i in range(n):
        word = f" {marker}" if marker and i == n // 2 else ""
        (folder / f"f{i:02d}.txt").write_text(f"File {i} version {version} says the crane is colour {i * version}.{word}\n")
    for i in bad:
        (folder / f"f{i:02d}.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")


def _assert_exact_and_clean(a: Assistant) -> int:
    with a.store.reading():
        ids, texts, metas = a.store.all_chunks()
        for t, m in zip(texts, metas):
            assert a.store.document_text(m.source)[m.start:m.end] == t, m
        assert a.store.docs.get(where={"kind": "pending"})["ids"] == []
        assert a.store.chunks.count() == len(ids)  # no old version left behind
        texts_stored = a.store.docs.get(where={"kind": "text"}, include=[])["ids"]
        assert len(texts_stored) == a.store.count_documents()
    return len(ids)


class FailingEmbedding(HashingEmbedding):
    """Fails to embed any text containing `fail_on` (the model's own error, raised on the embedding thread)."""

    fail_on: str = "EXPLODE"

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        if any(self.fail_on in t for t in texts):
            raise RuntimeError("model failed")
        return [self._vec(t) for t in texts]


class _Tokenizer:
    def encode(self, text: str) -> list[int]:
        if "TOKFAIL" in text:
            raise ValueError("tokenizer failed")
        return list(range(len(text.split())))


class TokenizingEmbedding(HashingEmbedding):
    """Has a tokenizer (so `fits` calls it while chunking, on the reading side) that fails on "TOKFAIL"."""

    max_length: int = 256
    _tokenizer: object = PrivateAttr(default_factory=_Tokenizer)


def _ingest_in_thread(a: Assistant, folder) -> BaseException | None:
    """Run the ingest; a hang fails the test instead of stalling the suite."""
    box: list[BaseException | None] = [None]

    def run():
        try:
            a.ingest([folder])
        except BaseException as e:  # noqa: BLE001 (handed to the test)
            box[0] = e

    t = threading.Thread(target=run)
    t.start()
    t.join(120)
    assert not t.is_alive(), "the ingest hung"
    return box[0]


def test_a_bad_file_mid_group_is_reported_and_the_others_land(tmp_path):
    folder = tmp_path / "notes"
    _corpus(folder, bad=(4, 7))
    a = Assistant(data_dir=tmp_path / "idx", embed_model=HashingEmbedding(model_name="h"))
    report = a.ingest([folder])
    assert sorted(s.source for s in report.skipped) == ["notes/f04.txt", "notes/f07.txt"]
    assert report.added == [f"notes/f{i:02d}.txt" for i in range(12) if i not in (4, 7)]  # in folder order
    assert report.chunks_written == report.texts_embedded == 10
    assert _assert_exact_and_clean(a) == 10


def test_updating_many_documents_in_a_group_replaces_every_old_version(tmp_path):
    folder = tmp_path / "notes"
    _corpus(folder, version=1)
    a = Assistant(data_dir=tmp_path / "idx", embed_model=HashingEmbedding(model_name="h"))
    a.ingest([folder])
    _corpus(folder, version=2)
    (folder / "f03.txt").unlink()
    report = a.ingest([folder])
    assert len(report.updated) == 11 and report.removed == ["notes/f03.txt"]
    assert _assert_exact_and_clean(a) == 11
    assert "version 2" in a.document_text("notes/f05.txt")


def test_a_model_error_surfaces_and_leaves_the_index_exact(tmp_path):
    folder = tmp_path / "notes"
    _corpus(folder, marker="EXPLODE")
    a = Assistant(data_dir=tmp_path / "idx", embed_model=FailingEmbedding(model_name="f"))
    error = _ingest_in_thread(a, folder)
    assert isinstance(error, RuntimeError) and "model failed" in str(error)
    assert not [t for t in threading.enumerate() if t.name.startswith("rag-write")]
    stored = _assert_exact_and_clean(a)
    assert stored < 12  # the failing group and what came after it are not stored
    _corpus(folder)  # the file is fixed: the next ingest takes the write lock and finishes
    assert _ingest_in_thread(a, folder) is None
    assert _assert_exact_and_clean(a) == 12


def test_an_error_on_the_reading_side_surfaces_without_a_hang(tmp_path):
    folder = tmp_path / "notes"
    _corpus(folder, marker="TOKFAIL")
    a = Assistant(data_dir=tmp_path / "idx", embed_model=TokenizingEmbedding(model_name="t"))
    error = _ingest_in_thread(a, folder)
    assert isinstance(error, ValueError) and "tokenizer failed" in str(error)
    assert not [t for t in threading.enumerate() if t.name.startswith("rag-write")]
    _assert_exact_and_clean(a)


def test_reading_runs_a_bounded_distance_ahead_and_progress_stays_on_the_callers_thread(tmp_path):
    folder = tmp_path / "notes"
    _corpus(folder, n=30)
    a = Assistant(data_dir=tmp_path / "idx", embed_model=HashingEmbedding(model_name="h"))
    caller, events = threading.get_ident(), []
    a.ingest([folder], progress=lambda msg, done, total: events.append((msg, threading.get_ident())))
    assert {ident for _, ident in events} == {caller}
    read = written = ahead = 0
    for msg, _ in events:
        read += msg.startswith("reading ")
        written += msg.startswith("embedded ")
        ahead = max(ahead, read - written)
    assert written == 30
    # in flight: IN_FLIGHT groups, the group being filled and the file being read (one chunk per file)
    assert ahead <= (rag.ingest.IN_FLIGHT + 1) * GROUP
