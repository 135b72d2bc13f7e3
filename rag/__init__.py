"""Cited question answering over your documents: `Assistant(...).ingest(paths)` then `.ask(question)`.

Importing `rag` is cheap: the engine (Chroma, onnxruntime, llama-index) loads on first use of a name
that needs it, so `rag --help` and `import rag.errors` stay fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from rag.errors import (
    ConfigError,
    IndexMismatchError,
    IngestError,
    InputError,
    LLMError,
    ModelFilesError,
    RagError,
    StoreError,
)

if TYPE_CHECKING:
    from rag.engine import Assistant, seeds_path
    from rag.settings import Settings
    from rag.types import Answer, Citation, DocumentInfo, IngestReport, RetrievedChunk, Skipped

_LAZY = {"Assistant": "rag.engine", "seeds_path": "rag.engine", "Settings": "rag.settings", "Answer": "rag.types",
         "Citation": "rag.types", "DocumentInfo": "rag.types", "IngestReport": "rag.types",
         "RetrievedChunk": "rag.types", "Skipped": "rag.types"}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rag' has no attribute {name!r}")


__all__ = ["Answer", "Assistant", "Citation", "ConfigError", "DocumentInfo", "IndexMismatchError", "IngestError",
           "IngestReport", "InputError", "LLMError", "ModelFilesError", "RagError", "RetrievedChunk", "Settings",
           "Skipped", "StoreError", "seeds_path"]
