"""LLM answering through any OpenAI-compatible endpoint, with every answer sentence verified.

The prompt lists the retrieved sentences as numbered sources (fitted into the context window with
tiktoken, lowest-ranked dropped first) and requires [n] after each sentence. Tokens are streamed to
the caller as they arrive; then each answer sentence is checked against the sources it cites (content
words and numbers present in them, embedding similarity). Sentences without support, or citing the
wrong source, are dropped; the remaining citations are renumbered. No supported sentence → abstain.
Endpoint failures raise `LLMError`, and the engine falls back to the extractive answer.
Left out: tool calling, multi-hop prompting, models without an OpenAI-compatible chat endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from rag import prompts
from rag.answer import Sentence, abstain, candidates
from rag.chunking import count_tokens, split_sentences
from rag.errors import LLMError
from rag.lexical import terms
from rag.types import Citation

if TYPE_CHECKING:
    from rag.engine import Assistant
    from rag.retrieval import Hit

_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_NUM = re.compile(r"\d+(?:[.,]\d+)*")
MIN_LEXICAL_SUPPORT = 0.6  # share of an answer sentence's content terms found in the sources it cites
MIN_EMBED_SUPPORT = 0.55


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


def condense(assistant: Assistant, question: str, history: list[dict] | None) -> str:
    """A standalone question from the conversation (the LLM rewrites it)."""
    turns = [m for m in (history or []) if m.get("content")][-6:]
    if not turns:
        return question
    conversation = "\n".join(f"{m['role']}: {m['content'][:500]}" for m in turns)
    reply = _call(assistant.llm.chat, _messages(prompts.CONDENSE_SYSTEM,
                                                prompts.CONDENSE_USER.format(conversation=conversation, question=question)))
    text = (reply.message.content or "").strip()
    return text.splitlines()[0][:500] if text else question


def _source_line(n: int, s: Sentence) -> str:
    return f"[{n}] ({s.title}) {s.text}"


def fit_sources(sents: list[Sentence], question: str, settings) -> tuple[list[Sentence], int]:
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


def answer(assistant: Assistant, question: str, history: list[dict] | None, hits: list[Hit]) -> Iterator:
    """Yield streamed text deltas, then (text, citations, abstained, notice)."""
    sents = [s for s in candidates(hits, assistant.store.document_text) if not s.is_title]
    if not sents:
        text, cites = abstain([])
        yield text, cites, True, None
        return
    sources, dropped = fit_sources(sents, question, assistant.settings)
    listing = "\n".join(_source_line(i, s) for i, s in enumerate(sources, 1))
    stream = _call(assistant.llm.stream_chat,
                   _messages(prompts.ANSWER_SYSTEM, prompts.ANSWER_USER.format(sources=listing, question=question)))
    raw = ""
    try:
        for chunk in stream:
            delta = chunk.delta or ""
            raw += delta
            if delta:
                yield delta
    except Exception as e:
        raise LLMError(f"the LLM stream broke off ({summarise_error(e)})") from None
    notices = []
    if dropped:
        notices.append(f"{dropped} lower-ranked source sentence(s) left out to fit the {assistant.settings.llm_context_window}-token context window")
    text, citations, removed = verify(assistant, raw, sources)
    if removed:
        notices.append(f"{removed} unsupported sentence(s) removed by citation verification")
    notice = "; ".join(notices) or None
    if not citations:
        closest = sorted(sources, key=lambda s: s.chunk_rank)[:2]
        text, cites = abstain(closest)
        yield text, cites, True, notice
        return
    yield text, citations, False, notice


def verify(assistant: Assistant, raw: str, sources: list[Sentence]) -> tuple[str, list[Citation], int]:
    """Keep answer sentences whose cited sources support them; renumber. Returns (text, citations, removed)."""
    raw = raw.strip()
    if not raw or prompts.NOT_IN_DOCUMENTS in raw:
        return "", [], 0
    pieces = [raw[a:b] for a, b in split_sentences(raw)]
    # a marker that the splitter left at the start of the next piece belongs to the sentence before it
    merged: list[str] = []
    for p in pieces:
        m = re.match(r"^(\s*\[\d+(?:\s*,\s*\d+)*\])+", p)
        if m and merged:
            merged[-1] += m.group(0)
            p = p[m.end():].strip()
        if p:
            merged.append(p)
    kept: list[tuple[str, list[int]]] = []
    removed = 0
    bodies = [_MARKER.sub("", p).strip() for p in merged]
    vecs = assistant.embedder.embed([b for b in bodies if b] or [""])
    vi = 0
    for p, body in zip(merged, bodies):
        if not body:
            continue
        vec = vecs[vi]
        vi += 1
        cited = [int(n) for m in _MARKER.finditer(p) for n in re.split(r"\s*,\s*", m.group(1))]
        cited = [n for n in dict.fromkeys(cited) if 1 <= n <= len(sources)]
        if cited and _supported(assistant, body, vec, [sources[n - 1] for n in cited]):
            kept.append((body, cited))
        else:
            removed += 1
    numbering: dict[int, int] = {}
    citations: list[Citation] = []
    out = []
    for body, cited in kept:
        marks = []
        for n in cited:
            if n not in numbering:
                numbering[n] = len(numbering) + 1
                citations.append(sources[n - 1].citation(numbering[n]))
            marks.append(f"[{numbering[n]}]")
        out.append(f"{body} {''.join(marks)}")
    return " ".join(out), citations, removed


def _supported(assistant: Assistant, body: str, vec, cited: list[Sentence]) -> bool:
    evidence = " ".join(s.text for s in cited)
    numbers = set(_NUM.findall(body))
    if numbers - set(_NUM.findall(evidence)):
        return False  # a number the sources do not contain is invented
    body_terms = set(terms(body))
    lexical = len(body_terms & set(terms(evidence))) / max(1, len(body_terms))
    if lexical >= MIN_LEXICAL_SUPPORT:
        return True
    sims = assistant.embedder.embed([s.text for s in cited]) @ vec
    return lexical >= 0.3 and float(sims.max()) >= MIN_EMBED_SUPPORT

