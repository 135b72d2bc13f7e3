"""The error tree. Every message says what to change; the CLI and UI turn these into exit codes and
`gr.Error` at the edge, nowhere else."""


class RagError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(RagError):
    """A setting is missing or wrong (the message names the setting)."""


class IngestError(RagError):
    """A file could not be read; ingest records it as skipped and goes on."""


class ModelFilesError(RagError):
    """The embedding model or tokenizer is missing or corrupt."""


class IndexMismatchError(RagError):
    """The index was built with another embedding model or chunker than the current settings."""


class StoreError(RagError):
    """Chroma is unreachable or refused an operation."""


class LLMError(RagError):
    """The configured LLM endpoint failed (timeout, connection, HTTP error, bad reply)."""


class InputError(RagError):
    """The caller's input is unusable (empty question, missing path)."""
