"""The answerability fit: threshold at the false-abstain target, JSON round trip, the LOCO table."""

from __future__ import annotations

import numpy as np

from rag.answering.ranker import Answerability
from rag_cited.eval import fit_answerability as fa
from rag_cited.eval import fitting


def _rows(n: int, seed: int):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        ok = i % 3 != 0  # a third unanswerable, as in the suites
        signals = {f: float(rng.normal(0.6 if ok else 0.4, 0.15)) for f in fa.SIGNALS}
        rows.append((ok, signals))
    return rows


def test_fit_keeps_false_abstentions_on_its_training_data_at_the_target(tmp_path):
    rows = _rows(300, 1)
    model = fa.fit(rows, {"synthetic": len(rows)})
    answerable = [s for ok, s in rows if ok]
    false_abstain = sum(model.prob(s) < model.threshold for s in answerable) / len(answerable)
    assert false_abstain <= fitting.MAX_FALSE_ABSTAIN
    unanswerable = [s for ok, s in rows if not ok]
    assert sum(model.prob(s) < model.threshold for s in unanswerable) / len(unanswerable) > 0.5  # it separates
    path = tmp_path / "a.json"
    path.write_text(model.to_json())
    again = Answerability.load(path)
    assert again.threshold == round(model.threshold, 4) and again.model.features == fa.SIGNALS
    assert abs(again.prob(rows[0][1]) - model.prob(rows[0][1])) < 1e-4


def test_loco_table_marks_held_out_corpora():
    row = {"facts": 0.5, "right_source": 1.0, "hit@1": 0.25, "citation_precision": None, "abstain_recall": 0.1,
           "false_abstain": 0.0, "cases": 9}
    text = fitting.table({"seed": row, "news": row})
    assert "| seed | 0.50 | 1.00 | 0.25 | — | 0.10 | 0.00 | 9 |" in text
    assert "| news (held out) |" in text
