"""Cited question answering over your documents: `Assistant(...).ingest(paths)` then `.ask(question)`."""

from rag.engine import Assistant, seeds_path
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
from rag.settings import Settings
from rag.types import Answer, Citation, DocumentInfo, IngestReport, Skipped

__all__ = ["Answer", "Assistant", "Citation", "ConfigError", "DocumentInfo", "IndexMismatchError", "IngestError",
           "IngestReport", "InputError", "LLMError", "ModelFilesError", "RagError", "Settings", "Skipped", "StoreError",
           "seeds_path"]
