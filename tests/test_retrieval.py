from rag import Assistant

from .conftest import SEEDS


def test_bm25_finds_rare_names_and_numbers(tmp_path, embedder):
    d = tmp_path / "docs"
    d.mkdir()
    for i in range(30):
        (d / f"part{i:02d}.txt").write_text(
            f"Section {i}.\n\nThe committee discussed routine budget matters and approved the minutes of meeting {i}.")
    (d / "part17.txt").write_text("Section 17.\n\nClause 4.2.7 requires the Qwertzland permit to be renewed yearly.")
    a = Assistant(data_dir=tmp_path / "idx", embed_model=embedder)
    a.ingest([d])
    hits = a.search("Qwertzland permit clause 4.2.7", top_k=3)
    assert hits[0].source == "docs/part17.txt"
    assert hits[0].bm25_rank == 1
    vector_only = Assistant(data_dir=tmp_path / "idx", embed_model=embedder, hybrid=False)
    assert all(h.bm25_rank is None for h in vector_only.search("Qwertzland", top_k=3))


def test_bm25_index_follows_deletes_from_another_assistant(tmp_path, embedder):
    d = tmp_path / "docs"
    d.mkdir()
    (d / "a.txt").write_text("The Zorvathian lighthouse was painted teal in 1987.")
    (d / "b.txt").write_text("Harbour fees rose in spring.")
    one = Assistant(data_dir=tmp_path / "idx", embed_model=embedder)
    one.ingest([d])
    assert one.search("Zorvathian", top_k=1)[0].source == "docs/a.txt"
    other = Assistant(data_dir=tmp_path / "idx", embed_model=embedder)
    other.delete("docs/a.txt")
    hits = one.search("Zorvathian lighthouse", top_k=5)  # `one` reopens: another process-like writer committed
    assert hits and all(h.source != "docs/a.txt" for h in hits)


def test_results_carry_scores_and_ranks(tmp_path, embedder):
    a = Assistant(data_dir=tmp_path / "idx", embed_model=embedder, top_k=3)
    a.ingest([SEEDS])
    hits = a.search("Lachin corridor peacekeepers")
    assert len(hits) == 3 and [h.rank for h in hits] == [1, 2, 3]
    assert hits[0].score >= hits[1].score >= hits[2].score
    assert all(h.vector_score is not None and -1 <= h.vector_score <= 1 for h in hits)
    assert "Lachin" in hits[0].text


def test_bm25_only_hits_carry_their_chunk_text_and_offsets(tmp_path):
    from .hashing_embedding import HashingEmbedding

    d = tmp_path / "docs"
    d.mkdir()
    for i in range(8):  # longer and longer notes: no ties in either ranking, so the fused order is fixed
        (d / f"n{i}.txt").write_text(f"Note {i}.\n\nThe ferry timetable changes every season{' harbour' * i}.")
    (d / "rare.txt").write_text("Preface.\n\nThe Vexmoor ledger lists 4471 barrels of tar.")
    a = Assistant(data_dir=tmp_path / "idx", embed_model=HashingEmbedding(model_name="hashing-256"), candidates=1)
    a.ingest([d])
    hits = a.search("ferry timetable season Vexmoor ledger", top_k=2)
    only_bm25 = [h for h in hits if h.vector_rank is None]
    assert only_bm25, [(h.source, h.vector_rank, h.bm25_rank) for h in hits]
    for h in hits:
        assert a.document_text(h.source)[h.start:h.end] == h.text and h.vector_score is not None
