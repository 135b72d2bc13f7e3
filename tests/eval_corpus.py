"""A tiny question suite for the harness and Evaluation-tab tests: two documents and four cases over them.

`write_suite(folder)` writes ``folder/corpus/`` and ``folder/suite.yaml`` (all cases, or the ids asked for) and
returns (questions file, docs folder). Left out: anything the real suites measure (eval/questions*.yaml do that).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

CORPUS = {
    "lighthouse.txt": "The Old Lighthouse\n\nThe lighthouse on Gull Point was built in 1887 by the harbour board. "
                      "Its lamp was first lit by keeper Ada Merrow. The tower is 31 metres tall and painted red.\n",
    "bakery.md": "# Village Bakery\n\nThe bakery opens at six in the morning. Its best seller is a rye loaf "
                 "baked with caraway seeds. On Sundays the bakery is closed.\n",
}
CASES = {
    "built-year": """  - id: built-year
    type: fact
    question: "When was the lighthouse on Gull Point built?"
    source: lighthouse.txt
    expected: [["1887"]]
    evidence: ["built in 1887"]
""",
    "best-seller": """  - id: best-seller
    type: fact
    question: "What is the bakery's best seller?"
    source: bakery.md
    expected: [["rye loaf"]]
    evidence: ["Its best seller is a rye loaf"]
""",
    "keeper-followup": """  - id: keeper-followup
    type: multi_turn
    question: "Who first lit its lamp?"
    history: ["When was the lighthouse on Gull Point built?"]
    source: lighthouse.txt
    expected: [["Ada Merrow"]]
    evidence: ["Its lamp was first lit by keeper Ada Merrow."]
""",
    "mayor": """  - id: mayor
    type: unanswerable
    question: "Who is the mayor of the village?"
    answerable: false
""",
}


def suite_yaml(ids: Sequence[str] | None = None) -> str:
    """The suite's YAML with the cases `ids` (default: all four, in the order above)."""
    return "\nversion: 1\ndocs: corpus\ncases:\n" + "".join(CASES[i] for i in (ids or CASES))


QUESTIONS = suite_yaml()


def write_suite(folder: Path, ids: Sequence[str] | None = None) -> tuple[Path, Path]:
    """Write the corpus to ``folder/corpus`` and the suite to ``folder/suite.yaml``; return (questions, docs)."""
    docs = folder / "corpus"
    docs.mkdir()
    for name, text in CORPUS.items():
        (docs / name).write_text(text, encoding="utf-8")
    questions = folder / "suite.yaml"
    questions.write_text(suite_yaml(ids), encoding="utf-8")
    return questions, docs
