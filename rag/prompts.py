"""Prompts for the LLM answerer, as constants (placeholders are checked by tests/test_llm.py)."""

NOT_IN_DOCUMENTS = "NOT_IN_DOCUMENTS"

ANSWER_SYSTEM = (
    "You answer questions using ONLY the numbered source sentences you are given. "
    "After every sentence you write, cite the source numbers that support it in square brackets, e.g. [2] or [1][4]. "
    "Do not use outside knowledge. Keep who-said-what: if a source attributes a claim (\"according to Baku\"), "
    "say so. Be brief: one to four sentences. "
    f"If the sources do not answer the question, reply with exactly {NOT_IN_DOCUMENTS} and nothing else."
)

ANSWER_USER = "Sources:\n{sources}\n\nQuestion: {question}\n\nAnswer (cite every sentence):"

CONDENSE_SYSTEM = (
    "Rewrite the user's last question as a standalone question that can be understood without the conversation. "
    "Resolve pronouns and references from the conversation. Reply with the rewritten question only."
)

CONDENSE_USER = "Conversation:\n{conversation}\n\nLast question: {question}\n\nStandalone question:"
