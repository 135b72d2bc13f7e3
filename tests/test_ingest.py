import shutil

import pytest

from rag import Assistant, IndexMismatchError

from .conftest import SEEDS, assert_exact


@pytest.fixture()
def corpus(tmp_path):
    d = tmp_path / "notes"
    d.mkdir()
    shutil.copy(SEEDS / "000_9ca311f619442424.txt", d / "article.txt")
    (d / "ships.md").write_text("# Harbour log\n\nThe ferry Aldebaran leaves pier 9 at 07:40 every Tuesday.\n")
    return d


def test_reingest_unchanged_embeds_nothing(tmp_path, embedder, corpus):
    a = Assistant(data_dir=tmp_path / "idx", embed_model=embedder)
    first = a.ingest([corpus])
    assert sorted(first.added) == ["notes/article.txt", "notes/ships.md"]
    before = embedder.texts_embedded
    again = a.ingest([corpus])
    assert embedder.texts_embedded == before
    assert again.texts_embedded == 0 and sorted(again.unchanged) == sorted(first.added) and not again.added


def test_edit_replaces_chunks_and_changes_the_answer(tmp_path, embedder, corpus):
    a = Assistant(data_dir=tmp_path / "idx", embed_model=embedder)
    a.ingest([corpus])
    chunks_before = a.store.chunks.count()
    ans = a.ask("When does the ferry Aldebaran leave pier 9?")
    assert "07:40" in ans.text
    (corpus / "ships.md").write_text("# Harbour log\n\nThe ferry Aldebaran leaves pier 9 at 09:15 every Friday.\n")
    report = a.ingest([corpus])
    assert report.updated == ["notes/ships.md"] and report.unchanged == ["notes/article.txt"]
    assert a.store.chunks.count() == chunks_before  # replaced, not duplicated
    ans = a.ask("When does the ferry Aldebaran leave pier 9?")
    assert "09:15" in ans.text and "07:40" not in ans.text
    assert_exact(a, ans)


def test_vanished_file_is_pruned_unless_asked_not_to(tmp_path, embedder, corpus):
    a = Assistant(data_dir=tmp_path / "idx", embed_model=embedder)
    a.ingest([corpus])
    (corpus / "ships.md").unlink()
    kept = a.ingest([corpus], prune=False)
    assert kept.removed == [] and "notes/ships.md" in {d.source for d in a.documents()}
    report = a.ingest([corpus])
    assert report.removed == ["notes/ships.md"]
    assert {d.source for d in a.documents()} == {"notes/article.txt"}
    assert a.store.chunk_ids_for("notes/ships.md") == []
    assert all(h.source != "notes/ships.md" for h in a.ask("ferry Aldebaran pier").retrieved)


def test_bad_files_are_reported_and_good_ones_ingested(tmp_path, embedder, corpus):
    (corpus / "empty.txt").write_text("")
    (corpus / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    (corpus / "latin1.txt").write_bytes("Caf\u00e9 cr\u00e8me".encode("latin-1"))
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage")
    (corpus / "sheet.xlsx").write_bytes(b"PK\x03\x04whatever")
    a = Assistant(data_dir=tmp_path / "idx", embed_model=embedder)
    report = a.ingest([corpus])
    assert sorted(report.added) == ["notes/article.txt", "notes/ships.md"]
    reasons = {s.source: s.reason for s in report.skipped}
    assert set(reasons) == {"notes/empty.txt", "notes/image.txt", "notes/latin1.txt", "notes/broken.pdf", "notes/sheet.xlsx"}
    assert "empty" in reasons["notes/empty.txt"] and "binary" in reasons["notes/image.txt"]
    assert "UTF-8" in reasons["notes/latin1.txt"] and "PDF" in reasons["notes/broken.pdf"]
    assert "unsupported" in reasons["notes/sheet.xlsx"]


def test_a_file_that_turns_bad_keeps_its_stored_version(tmp_path, embedder, corpus):
    a = Assistant(data_dir=tmp_path / "idx", embed_model=embedder)
    a.ingest([corpus])
    (corpus / "ships.md").write_bytes(b"\xff\xfe broken now")
    report = a.ingest([corpus])
    assert [s.source for s in report.skipped] == ["notes/ships.md"] and not report.removed
    assert "07:40" in a.document_text("notes/ships.md")


def test_fingerprint_mismatch_is_refused_until_rebuild(tmp_path, embedder, corpus):
    a = Assistant(data_dir=tmp_path / "idx", embed_model=embedder)
    a.ingest([corpus])
    b = Assistant(data_dir=tmp_path / "idx", embed_model=embedder, chunk_size=100)
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        b.ask("ferry")
    with pytest.raises(IndexMismatchError):
        b.ingest([corpus])
    report = b.ingest([corpus], rebuild=True)
    assert len(report.added) == 2
    assert "07:40" in b.ask("When does the ferry Aldebaran leave pier 9?").text


def test_delete_removes_chunks_and_citations(tmp_path, embedder, corpus):
    a = Assistant(data_dir=tmp_path / "idx", embed_model=embedder)
    a.ingest([corpus])
    assert a.delete("notes/ships.md") and not a.delete("notes/ships.md")
    ans = a.ask("When does the ferry Aldebaran leave pier 9?")
    assert all(c.source != "notes/ships.md" for c in ans.citations)


@pytest.mark.slow
def test_more_chunks_than_one_chroma_batch(tmp_path, embedder):
    d = tmp_path / "many"
    d.mkdir()
    lines = [f"Record {i}: sensor {i % 97} read {i * 7 % 1000} units." for i in range(6200)]
    (d / "log.txt").write_text("\n\n".join(lines))
    a = Assistant(data_dir=tmp_path / "idx", embed_model=embedder, chunk_size=16, chunk_overlap=0)
    assert a.store.max_batch < 6200
    report = a.ingest([d])
    assert report.chunks_written > a.store.max_batch
    assert a.store.chunks.count() == report.chunks_written
    ans = a.ask("What did record 4321 read?")
    assert any("Record 4321:" in c.quote for c in ans.citations)
