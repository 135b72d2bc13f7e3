"""Answerers: turn retrieved evidence into an answer whose every sentence is cited exactly.

`ExtractiveAnswerer` (the default) quotes the best sentences; `LLMAnswerer` has a model write the answer
over numbered sentences, then `verify` keeps only what the cited sources support. Both share the
`Answerer` interface in `base`, and each is given its collaborators (embedder, LLM, settings), never
the Assistant. Left out: retrieval (rag.retrieval) and timing (the engine records it once).
"""

from rag.answering.base import Answerer, Draft, Evidence
from rag.answering.extractive import ExtractiveAnswerer
from rag.answering.llm import LLMAnswerer

__all__ = ["Answerer", "Draft", "Evidence", "ExtractiveAnswerer", "LLMAnswerer"]
