"""Citation verification for model-written answers: keep a sentence only when the sources it cites support it.

A sentence is supported when every number in it appears in its cited sources and most of its content
terms do (MIN_LEXICAL_SUPPORT), or, failing that, when a fair share do and its embedding is close to one
of the cited sentences (MIN_EMBED_SUPPORT). Unsupported sentences and sentences citing no valid source
are dropped; the remaining citations are renumbered in order of use. Left out: entailment models (none
installs offline here) and paraphrase-level checks beyond the embedding similarity.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rag import prompts
from rag.chunking import split_sentences
from rag.lexical import terms
from rag.types import Citation

if TYPE_CHECKING:
    from rag.answering.extractive import Sentence
    from rag.embeddings import Embedder

_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_LEADING_MARKERS = re.compile(r"^(\s*\[\d+(?:\s*,\s*\d+)*\])+")
_NUM = re.compile(r"\d+(?:[.,]\d+)*")
# Thresholds as set by hand in v0.1 (not fitted); tests/test_llm.py holds the cases they must separate: invented
# claims and wrong-source citations are dropped, faithful sentences kept.
MIN_LEXICAL_SUPPORT = 0.6
MIN_EMBED_SUPPORT = 0.55


def _pieces(raw: str) -> list[str]:
    """The answer's sentences; a marker the splitter left at the start of the next one goes back."""
    merged: list[str] = []
    for a, b in split_sentences(raw):
        p = raw[a:b]
        m = _LEADING_MARKERS.match(p)
        if m and merged:
            merged[-1] += m.group(0)
            p = p[m.end():].strip()
        if p:
            merged.append(p)
    return merged


def verify(embedder: Embedder, raw: str, sources: list[Sentence]) -> tuple[str, list[Citation], int]:
    """Keep answer sentences whose cited sources support them; renumber. Returns (text, citations, removed)."""
    raw = raw.strip()
    if not raw or prompts.NOT_IN_DOCUMENTS in raw:
        return "", [], 0
    merged = _pieces(raw)
    bodies = [_MARKER.sub("", p).strip() for p in merged]
    texts = [b for b in bodies if b]
    vecs = iter(embedder.embed(texts)) if texts else iter(())
    kept: list[tuple[str, list[int]]] = []
    removed = 0
    for p, body in zip(merged, bodies):
        if not body:
            continue
        vec = next(vecs)
        cited = [int(n) for m in _MARKER.finditer(p) for n in re.split(r"\s*,\s*", m.group(1))]
        cited = [n for n in dict.fromkeys(cited) if 1 <= n <= len(sources)]
        if cited and supported(embedder, body, vec, [sources[n - 1] for n in cited]):
            kept.append((body, cited))
        else:
            removed += 1
    text, citations = _renumber(kept, sources)
    return text, citations, removed


def _renumber(kept: list[tuple[str, list[int]]], sources: list[Sentence]) -> tuple[str, list[Citation]]:
    numbering: dict[int, int] = {}
    citations: list[Citation] = []
    out = []
    for body, cited in kept:
        for n in cited:
            if n not in numbering:
                numbering[n] = len(numbering) + 1
                citations.append(sources[n - 1].citation(numbering[n]))
        out.append(f"{body} {''.join(f'[{numbering[n]}]' for n in cited)}")
    return " ".join(out), citations


def supported(embedder: Embedder, body: str, vec, cited: list[Sentence]) -> bool:
    evidence = " ".join(s.text for s in cited)
    if set(_NUM.findall(body)) - set(_NUM.findall(evidence)):
        return False  # a number the sources do not contain is invented
    body_terms = set(terms(body))
    lexical = len(body_terms & set(terms(evidence))) / max(1, len(body_terms))
    if lexical >= MIN_LEXICAL_SUPPORT:
        return True
    sims = embedder.embed([s.text for s in cited]) @ vec
    return lexical >= 0.3 and float(sims.max()) >= MIN_EMBED_SUPPORT
