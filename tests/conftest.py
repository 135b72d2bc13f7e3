"""Shared fixtures: every test gets its own data dir; one real embedding model per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag import Assistant
from rag.embeddings import OnnxMiniLM

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
SEED_SOURCE = "seeds/000_9ca311f619442424.txt"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "rag-data"))
    for var in ("RAG_CHROMA_HOST", "RAG_LLM_BASE_URL", "RAG_ANSWER_MODE", "RAG_COLLECTION"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def embedder(tmp_path_factory) -> OnnxMiniLM:
    return OnnxMiniLM(cache_dir=tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, embedder) -> Assistant:
    a = Assistant(data_dir=tmp_path_factory.mktemp("seeded"), embed_model=embedder)
    a.ingest([SEEDS])
    return a


def assert_exact(assistant: Assistant, answer) -> None:
    for c in answer.citations:
        assert assistant.document_text(c.source)[c.start:c.end] == c.quote, c
