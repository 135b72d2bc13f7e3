"""`rag doctor`: check that everything the engine needs works offline, and say what to do when not.

Each check returns (name, passed, detail). Left out: fixing anything; it only reports.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

from rag.settings import Settings


def _check(name: str, fn) -> tuple[str, bool, str]:
    try:
        return name, True, fn()
    except Exception as e:  # every failure becomes a line of the report
        return name, False, f"{type(e).__name__}: {e}"


def run_checks(settings: Settings) -> Iterator[tuple[str, bool, str]]:
    from rag import embeddings

    def model_files():
        model, tok = embeddings.verify_model_files()
        return f"{model.name} and {tok.name} match their pinned sha256"

    def embed():
        e = embeddings.OnnxMiniLM(cache_dir=settings.data_dir / "models", threads=settings.embed_threads)
        v = e.embed(["offline check"])
        return f"{embeddings.MODEL_ID} gives a {v.shape[1]}-d unit vector (tokenizer and onnxruntime work)"

    def tiktoken_cache():
        from rag.chunking import count_tokens

        return f"cl100k_base loaded from the bundled cache ({count_tokens('offline check')} tokens)"

    def punkt():
        from rag.chunking import split_sentences

        n = len(split_sentences("One sentence. Another one."))
        assert n == 2, f"expected 2 sentences, got {n}"
        return "NLTK punkt sentence splitter loaded from llama-index's bundled cache"

    def chroma():
        from rag.engine import Assistant

        a = Assistant(settings)
        st = a.status()
        a.store.check_fingerprint()
        return f"{st['chroma']}: {st['documents']} documents, {st['chunks']} chunks, fingerprint matches"

    yield _check("model files", model_files)
    yield _check("embedding", embed)
    yield _check("tiktoken", tiktoken_cache)
    yield _check("sentence splitter", punkt)
    yield _check("chroma", chroma)
    if settings.llm_base_url:
        yield _check("llm endpoint", lambda: check_llm(settings))


def check_llm(settings: Settings) -> str:
    url = settings.llm_base_url.rstrip("/") + "/models"
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {settings.llm_api_key.get_secret_value()}"})
    try:
        with urllib.request.urlopen(req, timeout=min(10.0, settings.llm_timeout)) as r:
            body = json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"{url} answered HTTP {e.code}; check RAG_LLM_BASE_URL and RAG_LLM_API_KEY") from e
    except (urllib.error.URLError, OSError) as e:
        raise RuntimeError(f"{url} is unreachable ({getattr(e, 'reason', e)}); is the server running?") from e
    models = [m.get("id") for m in body.get("data", []) if isinstance(m, dict)]
    if models and settings.llm_model not in models:
        raise RuntimeError(f"model '{settings.llm_model}' is not served at {settings.llm_base_url} "
                           f"(it has: {', '.join(models[:8])}); set RAG_LLM_MODEL")
    return f"{settings.llm_base_url} is up and serves '{settings.llm_model}'"
