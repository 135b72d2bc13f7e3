"""The incremental BM25 index: bm25s's scores exactly, updates equal to a rebuild, snapshots, and an index that
follows another Assistant's writes by reading only the changed document (embedded and server mode)."""

from __future__ import annotations

import random

import bm25s
import numpy as np
import pytest

from rag import Assistant
from rag.bm25 import Bm25Index, NewDoc
from rag.lexical import terms

from .hashing_embedding import HashingEmbedding
from .test_server import chroma_server  # noqa: F401  (fixture: a real `chroma run`)

WORDS = [f"w{i}" for i in range(200)] + ["qwertz", "1987", "lighthouse", "teal"]


def _corpus(rnd: random.Random, n_docs: int) -> dict[str, list[list[str]]]:
    """source → token lists of its chunks; Zipf-like word frequencies, some empty chunks."""
    weights = [1 / (i + 1) for i in range(len(WORDS))]
    return {f"doc{i}": [rnd.choices(WORDS, weights, k=rnd.randint(0, 30)) for _ in range(rnd.randint(1, 5))]
            for i in range(n_docs)}


def _new(source: str, chunks: list[list[str]], version: str = "v1") -> NewDoc:
    return NewDoc(source, version, version, [f"{source}-{version}-{j}" for j in range(len(chunks))], chunks)


def _reference(corpus: dict[str, list[list[str]]], version: dict[str, str] | None = None):
    """bm25s over the same chunks (the index this module replaces): (ids, model)."""
    ids, tokens = [], []
    for source, chunks in corpus.items():
        v = (version or {}).get(source, "v1")
        ids += [f"{source}-{v}-{j}" for j in range(len(chunks))]
        tokens += [t or ["\x00"] for t in chunks]
    model = bm25s.BM25()
    model.index(tokens, show_progress=False)
    return ids, model


def _queries(rnd: random.Random) -> list[list[str]]:
    return [rnd.sample(WORDS[:60], 3) + [rnd.choice(WORDS)] for _ in range(30)] + [["w1", "w1", "w7"], ["unknown"]]


def _assert_same(index: Bm25Index, ids: list[str], model, queries) -> None:
    for q in queries:
        scores = model.get_scores(q)
        want = {ids[i]: float(scores[i]) for i in np.flatnonzero(scores > 0)}
        assert index.all_scores(q) == want, q  # exact: float32 arithmetic in the same order
    n = len(ids)
    for term in ("w0", "w5", "qwertz", "never"):
        df = sum(1 for i in range(n) if term in model.vocab_dict and model.get_scores([term])[i] > 0)
        assert index.idf(term) == pytest.approx(np.log(1 + (n - df + 0.5) / (df + 0.5)), abs=0)


def test_scores_equal_bm25s():
    rnd = random.Random(0)
    corpus = _corpus(rnd, 40)
    index = Bm25Index()
    index.rebuild([_new(s, c) for s, c in corpus.items()])
    ids, model = _reference(corpus)
    _assert_same(index, ids, model, _queries(rnd))
    top = index.top(["w3", "w9"], 5)
    assert [s for _, s, _ in top] == sorted((s for _, s, _ in top), reverse=True)
    assert all(src == cid.split("-")[0] for cid, _, src in top)


def test_adds_removes_and_updates_equal_a_rebuild():
    rnd = random.Random(1)
    corpus = _corpus(rnd, 30)
    version = {s: "v1" for s in corpus}
    index = Bm25Index()
    index.rebuild([_new(s, c) for s, c in corpus.items()])
    queries = _queries(rnd)
    for step in range(40):
        source = rnd.choice(sorted(corpus)) if rnd.random() < 0.8 else f"new{step}"
        if source in corpus and rnd.random() < 0.3:
            del corpus[source]
            index.update(remove=[source])
        else:
            corpus[source], version[source] = _corpus(rnd, 1)["doc0"], f"v{step + 2}"
            index.update(add=[_new(source, corpus[source], version[source])])
        ids, model = _reference(corpus, version)
        _assert_same(index, ids, model, queries[:8])
        rebuilt = Bm25Index()
        rebuilt.rebuild([_new(s, c, version[s]) for s, c in corpus.items()])
        assert [index.top(q, 10) for q in queries[:8]] == [rebuilt.top(q, 10) for q in queries[:8]]
    assert len(index) == sum(len(c) for c in corpus.values())


def test_snapshot_round_trip(tmp_path):
    rnd = random.Random(2)
    corpus = _corpus(rnd, 20)
    index = Bm25Index()
    index.rebuild([_new(s, c) for s, c in corpus.items()])
    index.update(remove=["doc3"])  # dead rows are saved too
    index.save(tmp_path / "i.npz")
    loaded, _ = Bm25Index.load(tmp_path / "i.npz")
    assert loaded.stamps() == index.stamps() and len(loaded) == len(index)
    for q in _queries(rnd):
        assert loaded.all_scores(q) == index.all_scores(q)
    loaded.update(add=[_new("doc3", corpus["doc3"], "v2")])  # and it keeps updating after a load
    assert len(loaded) == sum(len(c) for c in corpus.values())
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    assert Bm25Index.load(tmp_path / "bad.npz") is None and Bm25Index.load(tmp_path / "none.npz") is None


def _folder(tmp_path, n: int = 12):
    d = tmp_path / "docs"
    d.mkdir()
    for i in range(n):
        (d / f"f{i:02d}.txt").write_text(" ".join(f"Report {i} on harbour fees, paragraph {j}. The committee met "
                                                  f"on day {j} and approved item {i * j}." for j in range(30)))
    return d


def _index_scores(a: Assistant, query: str) -> dict[str, float]:
    with a.store.reading():
        return a.retriever.bm25().all_scores(terms(query))


def test_another_assistants_update_is_followed_incrementally(tmp_path):
    d = _folder(tmp_path)
    emb = HashingEmbedding(model_name="hashing-256")
    one = Assistant(data_dir=tmp_path / "idx", embed_model=emb)
    one.ingest([d])
    assert one.search("harbour fees", top_k=1)
    index = one.retriever.bm25()
    read0, n0 = index.fetched_chunks, len(index)
    assert read0 == n0 > 0 and one.retriever.last_sync["mode"] == "full"

    (d / "f05.txt").write_text("The Zorvathian lighthouse was painted teal in 1987. " * 3)
    other = Assistant(data_dir=tmp_path / "idx", embed_model=emb)
    report = other.ingest([d])
    assert report.updated == ["docs/f05.txt"]
    hits = one.search("Zorvathian lighthouse", top_k=3)
    assert hits[0].source == "docs/f05.txt" and hits[0].bm25_rank == 1 and "Zorvathian" in hits[0].text
    assert one.retriever.bm25() is index  # the same index, updated in place
    assert index.fetched_chunks - read0 == report.chunks_written  # only the changed document was read
    assert one.retriever.last_sync["mode"] == "incremental"
    fresh = Assistant(data_dir=tmp_path / "fresh", embed_model=emb)
    fresh.ingest([d])
    assert _index_scores(one, "Zorvathian lighthouse harbour fees") == _index_scores(fresh, "Zorvathian lighthouse "
                                                                                            "harbour fees")


def test_a_new_process_starts_from_the_snapshot(tmp_path):
    d = _folder(tmp_path, 6)
    emb = HashingEmbedding(model_name="hashing-256")
    one = Assistant(data_dir=tmp_path / "idx", embed_model=emb)
    one.ingest([d])  # the writer builds the index and saves it
    one.retriever.wait_saved()
    snapshot = one.retriever.snapshot_path
    assert snapshot.is_file() and one.retriever.last_sync["mode"] == "full"
    current = Assistant(data_dir=tmp_path / "idx", embed_model=emb)
    assert current.search("harbour fees report", top_k=5)
    assert current.retriever.last_sync["mode"] == "snapshot" and current.retriever.last_sync["chunks_read"] == 0

    stale = snapshot.read_bytes()
    (d / "f02.txt").unlink()
    (d / "f04.txt").write_text("Quillfeather tariffs were abolished in 2031.")
    report = one.ingest([d])
    one.retriever.wait_saved()
    snapshot.write_bytes(stale)  # as if the writer had died before saving: two documents behind
    later = Assistant(data_dir=tmp_path / "idx", embed_model=emb)
    assert later.search("Quillfeather tariffs", top_k=1)[0].source == "docs/f04.txt"
    assert later.retriever.last_sync | {"seconds": 0} == {"mode": "snapshot", "seconds": 0, "removed": 2, "added": 1,
                                                           "chunks_read": report.chunks_written,
                                                           "chunks": len(later.retriever.bm25())}
    assert _index_scores(later, "harbour report 2 tariffs") == _index_scores(one, "harbour report 2 tariffs")


def test_rebuild_leaves_an_index_equal_to_a_fresh_one(tmp_path):
    d = _folder(tmp_path, 4)
    emb = HashingEmbedding(model_name="hashing-256")
    a = Assistant(data_dir=tmp_path / "idx", embed_model=emb)
    a.ingest([d])
    (d / "f01.txt").write_text("Quillfeather tariffs were abolished in 2031.")
    a.ingest([d], rebuild=True)
    fresh = Assistant(data_dir=tmp_path / "fresh", embed_model=emb)
    fresh.ingest([d])
    assert _index_scores(a, "committee harbour tariffs") == _index_scores(fresh, "committee harbour tariffs")


@pytest.mark.slow
def test_server_mode_follows_another_client_incrementally(tmp_path, chroma_server):  # noqa: F811
    d = _folder(tmp_path, 8)
    emb = HashingEmbedding(model_name="hashing-256")
    kw = dict(chroma_host="127.0.0.1", chroma_port=chroma_server, embed_model=emb, collection="bm25-server")
    one = Assistant(data_dir=tmp_path / "one", **kw)
    one.ingest([d])
    assert one.search("harbour", top_k=1)
    read0 = one.retriever.bm25().fetched_chunks
    (d / "f03.txt").write_text("Quillfeather tariffs were abolished in 2031.")
    report = Assistant(data_dir=tmp_path / "two", **kw).ingest([d])
    hits = one.search("Quillfeather tariffs", top_k=1)
    assert hits[0].source == "docs/f03.txt" and hits[0].bm25_rank == 1
    assert one.retriever.bm25().fetched_chunks - read0 == report.chunks_written == 1
