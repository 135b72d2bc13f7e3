import os
import shutil

import numpy as np
import pytest
from llama_index.core.embeddings import MockEmbedding

from rag import Assistant
from rag.embeddings import (
    DIM,
    FALLBACK_MAX_CHARS,
    FALLBACK_MAX_WORDS,
    Embedder,
    OnnxMiniLM,
    as_embedder,
    model_files,
    verify_model_files,
)
from rag.errors import ConfigError, IndexMismatchError, ModelFilesError

from .conftest import SEEDS, assert_exact
from .hashing_embedding import HashingEmbedding


def test_runs_offline_and_gives_unit_vectors(embedder):
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    v = embedder.embed(["The ceasefire held.", "A truce was respected.", "Python dictionaries are hash maps."])
    assert v.shape == (3, DIM)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def test_dynamic_padding_and_sorting_do_not_change_vectors(embedder):
    texts = ["short", "a much longer sentence about peacekeepers in the Lachin corridor " * 5, "mid length text here"]
    together = embedder.embed(texts)
    alone = np.stack([embedder.embed([t])[0] for t in texts])
    assert np.allclose(together, alone, atol=1e-4)


def test_llama_index_interface(embedder):
    q = embedder.get_query_embedding("Who attacked?")
    docs = embedder.get_text_embedding_batch(["Azerbaijan attacked.", "Nothing happened."])
    assert len(q) == DIM and len(docs) == 2


def test_folded_graph_is_cached_and_reused(tmp_path):
    e = OnnxMiniLM(cache_dir=tmp_path)
    first = e.embed(["hello"])
    cached = list(tmp_path.glob("*-folded.onnx"))
    assert len(cached) == 1
    again = OnnxMiniLM(cache_dir=tmp_path).embed(["hello"])
    assert np.allclose(first, again, atol=1e-6)
    original = OnnxMiniLM().embed(["hello"])  # no cache dir: the shipped graph
    assert float(first[0] @ original[0]) > 0.9999


def test_corrupt_or_missing_model_files_are_refused(tmp_path):
    model, tok = model_files()
    bad = tmp_path / "model.onnx"
    shutil.copy(model, bad)
    with open(bad, "r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(ModelFilesError, match="corrupt.*pip install --force-reinstall"):
        verify_model_files(model=bad)
    with pytest.raises(ModelFilesError, match="missing model file"):
        verify_model_files(tokenizer=tmp_path / "nope.json")
    assert verify_model_files() == (model, tok)


# -- any llama-index BaseEmbedding plugs in through the Embedder protocol -----------------------------
@pytest.mark.parametrize("model", [MockEmbedding(embed_dim=384), HashingEmbedding(model_name="hashing-256")],
                         ids=["MockEmbedding", "own-subclass"])
def test_any_llama_index_embedding_ingests_and_answers_exactly(tmp_path, model):
    a = Assistant(data_dir=tmp_path / "idx", embed_model=model)
    assert isinstance(a.embedder, Embedder) and a.embedder.fingerprint.startswith(model.class_name())
    report = a.ingest([SEEDS])
    assert report.added and report.chunks_written > 0
    ans = a.ask("Which villages did Azerbaijan attack on December 12?")
    assert ans.citations and not ans.abstained
    assert "Khtsaberd" in ans.text  # BM25 finds it even when the vectors carry nothing (MockEmbedding)
    assert_exact(a, ans)
    # the index remembers the model: the local MiniLM is refused on it
    with pytest.raises(IndexMismatchError):
        Assistant(data_dir=tmp_path / "idx").ask("anything")


def test_the_adapter_keeps_chunks_inside_a_conservative_window_without_a_tokenizer():
    e = as_embedder(MockEmbedding(embed_dim=8))
    assert e.fits("word " * FALLBACK_MAX_WORDS) and not e.fits("word " * (FALLBACK_MAX_WORDS + 1))
    assert not e.fits("x" * (FALLBACK_MAX_CHARS + 1))
    vecs = e.embed(["a", "b"])
    assert vecs.shape == (2, 8) and np.allclose(np.linalg.norm(vecs, axis=1), 1.0)


def test_something_that_is_no_embedder_is_refused():
    with pytest.raises(ConfigError, match="embed_model must be"):
        as_embedder(object())
