from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.base_retriever import BaseRetriever


def test_query_engine_returns_cited_response(seeded):
    engine = seeded.as_query_engine()
    assert isinstance(engine, BaseQueryEngine)
    response = engine.query("What did Ilham Aliyev promise?")
    assert "iron fist" in str(response)
    assert response.source_nodes and response.source_nodes[0].node.metadata["source"].startswith("seeds/")
    cites = response.metadata["citations"]
    assert cites and response.metadata["abstained"] is False
    assert seeded.document_text(cites[0]["source"])[cites[0]["start"]:cites[0]["end"]] == cites[0]["quote"]


def test_retriever_is_a_llama_index_retriever(seeded):
    retriever = seeded.as_retriever()
    assert isinstance(retriever, BaseRetriever)
    nodes = retriever.retrieve("Lachin corridor")
    assert nodes and "Lachin" in nodes[0].node.get_content()
