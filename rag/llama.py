"""LlamaIndex adapters: a `BaseRetriever` and a `BaseQueryEngine` over an `Assistant`.

They let LlamaIndex code (pipelines, tools, agents) use the hybrid retriever and the cited answerer
without touching LlamaIndex's global `Settings` (which default to OpenAI). Nodes are `TextNode`s whose
ids are the Chroma chunk ids and whose metadata carry source, title and character offsets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.response.schema import Response
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

if TYPE_CHECKING:
    from rag.engine import Assistant


def _node(hit) -> NodeWithScore:
    meta = {k: hit.meta.get(k) for k in ("source", "title", "start", "end", "chunk_index")}
    return NodeWithScore(node=TextNode(id_=hit.id, text=hit.text, metadata=meta), score=hit.score)


class AssistantRetriever(BaseRetriever):
    def __init__(self, assistant: Assistant):
        super().__init__(callback_manager=CallbackManager([]))
        self.assistant = assistant

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [_node(h) for h in self.assistant.retriever.retrieve(query_bundle.query_str)]


class AssistantQueryEngine(BaseQueryEngine):
    """Response.response is the answer with [n] markers; metadata holds citations and `abstained`."""

    def __init__(self, assistant: Assistant):
        super().__init__(callback_manager=CallbackManager([]))
        self.assistant = assistant

    def _get_prompt_modules(self) -> dict:
        return {}

    def _query(self, query_bundle: QueryBundle) -> Response:
        answer = self.assistant.ask(query_bundle.query_str)
        hits = {h["id"] for h in answer.retrieved}
        chunks = self.assistant.store.get_chunks(sorted(hits))
        by_id = {h["id"]: h for h in answer.retrieved}
        nodes = []
        for cid, (text, meta) in chunks.items():
            node = TextNode(id_=cid, text=text, metadata={k: meta.get(k) for k in ("source", "title", "start", "end")})
            nodes.append(NodeWithScore(node=node, score=by_id[cid]["score"]))
        nodes.sort(key=lambda n: -(n.score or 0))
        return Response(response=answer.text, source_nodes=nodes,
                        metadata={"citations": [c.model_dump() for c in answer.citations],
                                  "abstained": answer.abstained, "timings_ms": answer.timings_ms})

    async def _aquery(self, query_bundle: QueryBundle) -> Response:
        return self._query(query_bundle)
