"""LLM answering through any OpenAI-compatible endpoint, with every answer sentence verified.

The prompt lists the retrieved sentences as numbered sources (fitted into the context window with
tiktoken, lowest-ranked dropped first) and requires [n] after each sentence. Tokens are streamed to
the caller as they arrive; then `verify` checks each answer sentence against the sources it cites and
drops what they do not support. No supported sentence → abstain. Endpoint failures raise `LLMError`
with a status and reason only; the engine then falls back to the extractive answer.
Left out: tool calling, multi-hop prompting, models without an OpenAI-compatible chat endpoint.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

from rag import prompts
from rag.answering.base import Draft, Evidence
from rag.answering.extractive import Sentence, abstain
from rag.answering.verify import verify
from rag.chunking import count_tokens
from rag.errors import LLMError
from rag.types import TextDelta

if TYPE_CHECKING:
    from rag.embeddings import Embedder
    from rag.settings import Settings


def make_llm(settings):
    from llama_index.llms.openai_like import OpenAILike

    return OpenAILike(model=settings.llm_model, api_base=settings.llm_base_url,
                      api_key=settings.llm_api_key.get_secret_value(), is_chat_model=True,
                      context_window=settings.llm_context_window, max_tokens=settings.llm_max_tokens,
                      timeout=settings.llm_timeout, max_retries=0, temperature=0.0)


def _messages(system: str, user: str):
    from llama_index.core.llms import ChatMessage

    return [ChatMessage(role="system", content=system), ChatMessage(role="user", content=user)]


def _call(fn, *args):
    try:
        return fn(*args)
    except LLMError:
        raise
    except Exception as e:  # openai/httpx raise many types; all mean "the endpoint failed"
        raise LLMError(f"{summarise_error(e)} from the LLM endpoint") from None


def summarise_error(e: BaseException) -> str:
    """Status code and reason, or the error's kind: never the response body or headers (they may echo secrets)."""
    from http import HTTPStatus

    status = getattr(e, "status_code", None) or getattr(getattr(e, "response", None), "status_code", None)
    if isinstance(status, int):
        try:
            return f"HTTP {status} {HTTPStatus(status).phrase}"
        except ValueError:
            return f"HTTP {status}"
    name = type(e).__name__
    if "Timeout" in name:
        return "timed out"
    if "Connection" in name:
        return "could not connect"
    return name


def _source_line(n: int, s: Sentence) -> str:
    return f"[{n}] ({s.title}) {s.text}"


def fit_sources(sents: list[Sentence], question: str, settings: Settings) -> tuple[list[Sentence], int]:
    """Keep the best-ranked sentences that fit the context window; returns (kept, dropped count)."""
    overhead = count_tokens(prompts.ANSWER_SYSTEM) + count_tokens(prompts.ANSWER_USER) + count_tokens(question) + 64
    budget = settings.llm_context_window - settings.llm_max_tokens - overhead
    kept: list[Sentence] = []
    used = 0
    for s in sorted(sents, key=lambda s: (s.chunk_rank, s.source, s.start)):
        cost = count_tokens(_source_line(99, s)) + 1
        if used + cost > budget:
            continue
        kept.append(s)
        used += cost
    return kept, len(sents) - len(kept)


class LLMAnswerer:
    """Answers written by the model over numbered source sentences, then verified sentence by sentence."""

    mode = "llm"

    def __init__(self, llm, embedder: Embedder, settings: Settings):
        self.llm, self.embedder, self.settings = llm, embedder, settings

    def condense(self, question: str, history: list[dict] | None) -> str:
        """A standalone question from the conversation (the model rewrites it)."""
        turns = [m for m in (history or []) if m.get("content")][-6:]
        if not turns:
            return question
        conversation = "\n".join(f"{m['role']}: {m['content'][:500]}" for m in turns)
        reply = _call(self.llm.chat, _messages(prompts.CONDENSE_SYSTEM, prompts.CONDENSE_USER.format(
            conversation=conversation, question=question)))
        text = (reply.message.content or "").strip()
        return text.splitlines()[0][:500] if text else question

    def answer(self, question: str, query: str, evidence: Evidence) -> Generator[TextDelta, None, Draft]:
        sents = [s for s in evidence.sentences if not s.is_title]
        if not sents:
            text, cites = abstain([])
            return Draft(text, cites, True)
        sources, dropped = fit_sources(sents, question, self.settings)
        listing = "\n".join(_source_line(i, s) for i, s in enumerate(sources, 1))
        stream = _call(self.llm.stream_chat, _messages(prompts.ANSWER_SYSTEM, prompts.ANSWER_USER.format(
            sources=listing, question=question)))
        raw = ""
        try:
            for chunk in stream:
                if chunk.delta:
                    raw += chunk.delta
                    yield TextDelta(chunk.delta)
        except Exception as e:
            raise LLMError(f"the LLM stream broke off ({summarise_error(e)})") from None
        text, citations, removed = verify(self.embedder, raw, sources)
        notices = []
        if dropped:
            notices.append(f"{dropped} lower-ranked source sentence(s) left out to fit the "
                           f"{self.settings.llm_context_window}-token context window")
        if removed:
            notices.append(f"{removed} unsupported sentence(s) removed by citation verification")
        notice = "; ".join(notices) or None
        if not citations:
            text, citations = abstain(sorted(sources, key=lambda s: s.chunk_rank)[:2])
            return Draft(text, citations, True, notice=notice)
        return Draft(text, citations, False, notice=notice)
