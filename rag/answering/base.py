"""What every answerer takes and gives: `Evidence` in, typed text deltas out, a `Draft` at the end."""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rag.types import Citation, TextDelta

if TYPE_CHECKING:
    from rag.answering.extractive import Sentence
    from rag.retrieval import Hit


@dataclass(frozen=True)
class Evidence:
    """What retrieval found, read from one consistent index: hits, their sentences, the query vector."""

    hits: list[Hit]
    sentences: list[Sentence]
    query_vector: np.ndarray
    idf: Callable[[str], float]


@dataclass(frozen=True)
class Draft:
    """An answer before the engine adds the question, timings and retrieval details."""

    text: str
    citations: list[Citation]
    abstained: bool
    support: float | None = None
    notice: str | None = None


class Answerer(Protocol):
    mode: str

    def condense(self, question: str, history: list[dict] | None) -> str:
        """The retrieval query for this turn of the conversation."""

    def answer(self, question: str, query: str, evidence: Evidence) -> Generator[TextDelta, None, Draft]:
        """Yield text as it is produced; return the final Draft (`draft = yield from answerer.answer(...)`)."""
