"""LlamaIndex adapters: a `BaseRetriever` and a `BaseQueryEngine` over an `Assistant`.

They let LlamaIndex code (pipelines, tools, agents) use the hybrid retriever and the cited answerer
through the Assistant's public API (`search`, `ask`), without touching LlamaIndex's global `Settings`
(which default to OpenAI). Nodes are `TextNode`s whose ids are the chunk ids and whose metadata carry
source, title, character offsets and the document version's sha256.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.response.schema import Response
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rag.types import RetrievedChunk

if TYPE_CHECKING:
    from rag.engine import Assistant


def _node(chunk: RetrievedChunk) -> NodeWithScore:
    meta = {"source": chunk.source, "title": chunk.title, "start": chunk.start, "end": chunk.end,
            "sha256": chunk.sha256}
    return NodeWithScore(node=TextNode(id_=chunk.id, text=chunk.text, metadata=meta), score=chunk.score)


class AssistantRetriever(BaseRetriever):
    """`Assistant.search` as a llama-index retriever."""

    def __init__(self, assistant: Assistant):
        super().__init__(callback_manager=CallbackManager([]))
        self.assistant = assistant

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [_node(c) for c in self.assistant.search(query_bundle.query_str)]


class AssistantQueryEngine(BaseQueryEngine):
    """`Assistant.ask` as a query engine: Response.response is the answer with [n] markers, source_nodes the
    retrieved passages, and metadata holds the citations and `abstained`."""

    def __init__(self, assistant: Assistant):
        super().__init__(callback_manager=CallbackManager([]))
        self.assistant = assistant

    def _get_prompt_modules(self) -> dict:
        return {}

    def _query(self, query_bundle: QueryBundle) -> Response:
        answer = self.assistant.ask(query_bundle.query_str)
        return Response(response=answer.text, source_nodes=[_node(c) for c in answer.retrieved],
                        metadata={"citations": [c.model_dump() for c in answer.citations],
                                  "abstained": answer.abstained, "timings_ms": answer.timings_ms})

    async def _aquery(self, query_bundle: QueryBundle) -> Response:
        return self._query(query_bundle)
