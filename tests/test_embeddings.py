import os
import shutil

import numpy as np
import pytest

from rag.embeddings import DIM, OnnxMiniLM, model_files, verify_model_files
from rag.errors import ModelFilesError


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
