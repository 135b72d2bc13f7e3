"""One settings model for the whole engine.

Read from keyword overrides, then `RAG_*` environment variables, then an optional `rag.toml` in the
working directory, then the defaults below. Fields are flat (``RAG_CHROMA_HOST``, ``RAG_LLM_BASE_URL``)
because those are the names users type; related fields share a prefix instead of a nested group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("rag-cited", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", extra="forbid", toml_file="rag.toml", validate_default=True)

    # storage
    data_dir: Path = Field(default_factory=default_data_dir, description="Where the index, caches and uploads live.")
    collection: str = Field("documents", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,500}[a-zA-Z0-9]$",
                            description="Chroma collection name (3-512 chars of a-z A-Z 0-9 . _ -).")
    chroma_host: str | None = Field(None, description="Chroma server host; unset = embedded Chroma under data_dir.")
    chroma_port: int = Field(8000, ge=1, le=65535, description="Chroma server port (with chroma_host).")

    # chunking (part of the index fingerprint)
    chunk_size: int = Field(160, ge=16, le=240, description="Target chunk length in tiktoken tokens (cl100k_base).")
    chunk_overlap: int = Field(32, ge=0, le=120, description="Tokens of trailing sentences repeated at the next chunk's start.")

    # retrieval
    top_k: int = Field(5, ge=1, le=50, description="Chunks handed to the answerer.")
    candidates: int = Field(20, ge=1, le=200, description="Candidates taken from each retriever before fusion.")
    hybrid: bool = Field(True, description="Fuse BM25 with vector search (reciprocal rank fusion).")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant.")

    # answering
    answer_mode: Literal["auto", "extractive", "llm"] = Field(
        "auto", description="auto = llm when llm_base_url is set, else extractive.")
    max_sentences: int = Field(3, ge=1, le=10, description="Most answer sentences the extractive answerer keeps.")
    abstain_threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="Below this answerability score (0-1) the extractive answer abstains; "
        "default: the answerability model's fitted operating point (see README: Abstention).")

    answerability: Path | None = Field(None, description="Weights of the extractive answerability model (default: the "
                                                         "bundled rag/answering/answerability.json).")
    ranker: Path | None = Field(None, description="Weights of the learned sentence ranker (default: the bundled "
                                                   "rag/answering/ranker.json; without one, the hand-tuned scorer "
                                                   "orders the candidates).")

    # embeddings
    embed_batch_size: int = Field(8, ge=1, le=512, description="Texts per ONNX call (8 measured fastest on 2 cores; bench/RESULTS.md).")
    embed_threads: int = Field(0, ge=0, description="onnxruntime intra-op threads; 0 = all cores.")

    # LLM (OpenAI-compatible endpoint)
    llm_base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1.")
    llm_model: str = Field("llama3.1", description="Model name at the endpoint.")
    llm_api_key: SecretStr = Field(SecretStr("not-needed"), description="API key for the endpoint.")
    llm_context_window: int = Field(8192, ge=512, description="The model's context window in tokens.")
    llm_max_tokens: int = Field(512, ge=16, description="Most tokens the model may write.")
    llm_timeout: float = Field(60.0, gt=0, description="Seconds before an LLM request is abandoned.")

    # ingest budgets (each file is parsed in a worker process under these limits)
    parse_timeout: float = Field(60.0, gt=0, description="Seconds one file may take to parse before it is skipped.")
    parse_memory_mb: int = Field(1024, ge=128, description="Memory (MB) one file's parser may use before it is skipped.")
    follow_symlinks: bool = Field(False, description="Follow symbolic links that point outside an ingested folder.")

    # web app
    auth: str | None = Field(None, description="user:password, or a path to a file of such lines, for the web app.")
    upload_max_mb: int = Field(50, ge=1, description="Largest file the web app accepts.")
    api_key: SecretStr | None = Field(None, description="Bearer key for the OpenAI-compatible API (besides the app's logins).")

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls)

    def effective_mode(self) -> Literal["extractive", "llm"]:
        if self.answer_mode == "auto":
            return "llm" if self.llm_base_url else "extractive"
        return self.answer_mode
