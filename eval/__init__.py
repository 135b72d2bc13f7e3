"""Evaluation harness: run a fixed question suite through the Assistant and measure retrieval, answers,
citations, abstention and latency (`rag eval`, `python -m rag_cited.eval`).

Modules: cases (question file), metrics (pure functions), results (per-case scoring), harness (the
run), compare (diffs and gates), report / html / charts (presentation), cli (arguments). Importing
the package is cheap; the engine and matplotlib load only when a run or a report needs them.
"""
