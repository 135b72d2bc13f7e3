"""What may be an answer sentence, question types, answerability signals: the extractive answerer's reading.

Unit checks on rag.answering.features, then a real Assistant on a small corpus full of non-prose (separators,
headings, a table of contents, navigation, a code block) asked through the whole engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from rag import Assistant
from rag.answering.features import (
    analyse,
    definition_match,
    is_code,
    is_nonprose,
    may_answer,
    question_signals,
)
from rag.answering.ranker import Answerability
from rag.lexical import QUESTION_WORDS, terms

from .conftest import assert_exact


@pytest.mark.parametrize("line", ["-----------", "=== ===", "# Glacier survey", "1.2 Installation ........ 14",
                                  "Contents", "Next »", "42", "GLACIER SURVEY RESULTS", "4. Redistribution"])
def test_non_prose_lines_are_recognised(line):
    assert is_nonprose(line)


@pytest.mark.parametrize("line", ["The survey measured 14 glaciers in 2021.", "4.10 | Warty Warthog | 2004-10-20",
                                  "It is never cited twice."])
def test_prose_and_table_rows_are_not_non_prose(line):
    assert not is_nonprose(line)


@pytest.mark.parametrize("question,kind,subject", [
    ("What does force majeure mean?", "definition", "force majeure"),
    ("What counts as a User Product?", "definition", "user product"),
    ("What is a slug?", "definition", "slug"),
    ("How many glaciers were measured?", "number", None),
    ("When was the survey published?", "date", None),
    ("Who led the survey?", "person", None),
    ("Where is the station?", "place", None),
    ("Is the data public?", "yesno", None),
    ("Which licence allows relicensing?", "which_doc", None),
    ("What is the difference between GPL and LGPL?", "comparison", None),
])
def test_question_types(question, kind, subject):
    q = analyse(question)
    assert (q.kind, q.subject) == (kind, subject)


def test_definition_patterns():
    q = analyse("What does conveying mean?")
    assert definition_match(q, '"Conveying" means any kind of propagation.') == 1.0
    q = analyse("What is a slug?")
    assert definition_match(q, "A slug is a short label for something.") == 1.0
    assert definition_match(q, "Slugs are used in URLs.") == 0.0


def test_question_words_are_not_content_terms():
    assert [t for t in terms("How many and why?") if t not in QUESTION_WORDS] == []


@dataclass
class _S:  # the fields may_answer reads, as the engine's Sentence has them
    text: str
    heading_path: tuple[str, ...] = ()
    is_title: bool = False


def test_heading_lines_code_and_titles_are_not_answers():
    plain, code = analyse("What does the survey measure?"), analyse("How do I call measure() in code?")
    assert not may_answer(_S("Glacier mass balance", ("Survey", "Glacier mass balance")), plain, False)
    assert may_answer(_S("It measures the mass balance of glaciers.", ("Survey",)), plain, False)
    assert not may_answer(_S(">>> measure(glacier)"), plain, False)
    assert may_answer(_S(">>> measure(glacier)"), code, False)
    assert not may_answer(_S("Glacier Survey", is_title=True), plain, False)
    assert may_answer(_S("Glacier Survey", is_title=True), plain, True)
    assert may_answer(_S("Logbook 17: the codeword of station 17 is zephyr.", is_title=True), plain, False)


@pytest.mark.parametrize("line,question,other", [
    ("April 6, 2021", "When was Django 3.2 released?", "What changed in Django 3.2?"),
    ("Version 2.1, February 1999", "What month and year does version 2.1 carry?", "What does version 2.1 cover?"),
    ("2004, Oliver Elphick, Martin Pitt", "Who wrote the note?", "What does the note describe?"),
    ("~/.cache/pip", "Where does pip keep its cache?", "What does pip cache?"),
    ("- Global", "In which order does pip load its configuration files?", None),
])
def test_a_short_data_line_may_answer_what_it_holds(line, question, other):
    assert is_nonprose(line)  # heading-like: short, no sentence end
    assert may_answer(_S(line), analyse(question), False)
    if other:
        assert not may_answer(_S(line), analyse(other), False)
    assert not may_answer(_S(line, (line,)), analyse(question), False)  # a heading line stays out
    for structure in ("-----------", "1.2 Installation ........ 14", "Contents", "# 2021", "42"):
        assert not may_answer(_S(structure), analyse(question), False)


@pytest.mark.parametrize("text", ["Use `no`, `false` or `0` instead.", "- `PIP_CONFIG_FILE`, if given.",
                                  "```{warning}\nThe use of `git` and `git+http` schemes is discouraged.\n```",
                                  "| Compressor | Ratio |\n| --- | --- |\n| **zstd 1.5.1 -1** | 2.887 |"])
def test_inline_code_tables_and_admonitions_are_prose_or_data_not_code(text):
    assert not is_code(text)


@pytest.mark.parametrize("text", ["```python\nx = f(1)\n```", ">>> import os", "os.path.join(a, b)",
                                  "```{code-block} python\nx = f(1)\n```"])
def test_code_is_still_code(text):
    assert is_code(text)


def test_definitions_read_through_markup_and_need_more_than_is():
    q = analyse("What is Zstandard?")
    assert definition_match(q, "__Zstandard__, or `zstd` as short version, is a fast lossless compression algorithm.")
    assert definition_match(q, "**Zstandard** means a compression format.")
    assert not definition_match(q, "Zstandard is considered safe for production environments.")


def test_bundled_answerability_model_reads_only_signals_the_engine_computes():
    model = Answerability.load()
    assert model is not None, "rag/answering/answerability.json is missing: run eval/fit_answerability.py --write"
    empty = question_signals({"glacier": 2.0}, [], [], 5.0)
    assert set(model.model.features) <= set(empty)
    assert 0.0 < model.threshold < 1.0 and 0.0 <= model.prob(empty) <= 1.0
    assert model.meta["fitted_on"] and model.meta["script"] == "eval/fit_answerability.py"


NOTES = """GLACIER SURVEY 2021
===================

Contents
1. Method ........ 2
2. Results ........ 3

1. Method
---------

The survey team measured the mass balance of 14 glaciers
in the Ötztal Alps between June and September 2021, using
stakes drilled into the ice and a snow-density pit at each site.

    >>> balance = measure(glacier, stakes=12)
    >>> balance.total()

2. Results
----------

The mass balance was negative on every glacier. The Hintereisferner lost
the most ice, about 1.9 metres water equivalent over the season.

Next »
"""


@pytest.fixture(scope="module")
def notes(tmp_path_factory, embedder) -> Assistant:
    folder = tmp_path_factory.mktemp("notes")
    (folder / "glaciers.txt").write_text(NOTES, encoding="utf-8")
    a = Assistant(data_dir=tmp_path_factory.mktemp("notes-data"), embed_model=embedder)
    a.ingest([folder])
    return a


@pytest.mark.parametrize("question,fact", [
    ("How many glaciers did the survey measure?", "14 glaciers"),
    ("Which glacier lost the most ice?", "Hintereisferner"),
    ("What was the survey's method?", "stakes drilled"),
    ("What are the results of the glacier survey?", "negative on every glacier"),
])
def test_answers_cite_prose_only_with_one_line_sentences(notes, question, fact):
    ans = notes.ask(question)
    assert not ans.abstained and fact in ans.text
    assert_exact(notes, ans)
    assert not any(is_nonprose(c.quote) or ">>>" in c.quote for c in ans.citations), ans.citations
    assert "\n" not in ans.text.replace("\n\n", " ")  # hard-wrapped lines are shown joined
    assert any("\n" in c.quote for c in ans.citations) or fact != "14 glaciers"  # ... while quotes stay exact


def test_code_is_cited_only_for_a_code_question(notes):
    ans = notes.ask("Show me the code example that calls measure()")
    assert any(">>>" in c.quote for c in ans.citations)
    assert_exact(notes, ans)


SESSION_NOTES = """Compressing with zlib

The zlib module compresses bytes in one call. Here is a session that compresses and restores a value:

>>> import zlib
>>> packed = zlib.compress(b"glacier" * 4)
>>> zlib.decompress(packed)[:7]
b'glacier'

The level argument trades speed for size.
"""


def test_a_code_session_is_one_unit_cited_whole_and_shown_fenced(tmp_path, embedder):
    from rag_cited.ui.render import answer_markdown

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "zlib.md").write_text(SESSION_NOTES, encoding="utf-8")
    # answer whatever the answerability model says of a one-page corpus: this test is about what gets cited
    a = Assistant(data_dir=tmp_path / "data", embed_model=embedder, abstain_threshold=0.0)
    a.ingest([folder])
    ans = a.ask("Show me example code that uses zlib.compress and zlib.decompress")
    assert_exact(a, ans)
    session = [c for c in ans.citations if c.quote.startswith(">>> import zlib")]
    assert session and session[0].quote.endswith("b'glacier'"), ans.citations  # the whole session, one citation
    assert "\n```\n>>> import zlib\n" in ans.text
    shown = answer_markdown(ans.text, 0, [c.id for c in ans.citations])
    assert "\n>>> import zlib\n>>> packed = zlib.compress(b\"glacier\" * 4)\n" in shown  # not Markdown-escaped
    prose = a.ask("What does the level argument trade?")
    assert not any(">>>" in c.quote for c in prose.citations)


def test_a_dangling_sentence_brings_prose_before_it_but_never_a_separator():
    from rag.answering.extractive import Sentence, with_context

    def dangling(prev_text: str) -> Sentence:
        return Sentence("d.txt", "D", 20, 50, "These attacks killed no one.", "c1", 1, (0, 19, prev_text), score=1.0)

    assert [s.text for s, _ in with_context([dangling("Baku said it struck.")])] == [
        "Baku said it struck.", "These attacks killed no one."]
    assert [s.text for s, _ in with_context([dangling("-------------------")])] == ["These attacks killed no one."]


def test_a_dangling_next_sentence_comes_along_by_its_hand_tuned_score():
    """The 45% rule reads the hand-tuned scores, the scale it was tuned on, not the ranker's probabilities."""
    from rag.answering.extractive import Sentence, with_context

    nxt = (30, 62, "However, this attack was repelled.")
    kept = Sentence("d.txt", "D", 0, 29, "Baku said it struck the post.", "c1", 1, None, nxt, score=0.9, hand=1.0)
    for hand, comes in ((0.3, False), (0.5, True)):
        follower = Sentence("d.txt", "D", 30, 62, nxt[2], "c1", 1, None, None, score=0.8, hand=hand)
        picked = with_context([kept], [kept, follower])
        assert (nxt[2] in [s.text for s, _ in picked]) is comes


def test_words_naming_the_answer_type_are_not_content_terms():
    from rag.answering.features import term_weights

    idf = lambda t: 2.0  # noqa: E731
    assert set(term_weights("In which year was the lighthouse painted?", "", idf)) == {"lighthous", "paint"}
    assert set(term_weights("How many glaciers lost the most ice in number?", "", idf)) >= {"glacier", "ice"}
    assert "number" not in term_weights("What is the number of glaciers?", "", idf)
    assert "year" in term_weights("What does the survey say about the year?", "", idf)  # content when not asked for
