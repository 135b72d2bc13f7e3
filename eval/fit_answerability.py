"""Fit the extractive answerer's answerability model; score it leave-one-corpus-out (LOCO).

    python -m rag_cited.eval.fit_answerability            # every suite: LOCO table (eval/LOCO.md) + fit on all
    python -m rag_cited.eval.fit_answerability --write    # ... and write rag/answering/answerability.json

Data: every case of every suite is asked through a real Assistant on that suite's eval index; its
`ExtractiveAnswerer.signals` (features.question_signals, from the default hand-tuned scorer) are the
inputs, "the suite says it is answerable" the label. Model: scikit-learn's LogisticRegression
(class-balanced, L2, C=`C`) on standardised SIGNALS; its threshold is the highest that keeps false
abstentions on the training corpora at or below MAX_FALSE_ABSTAIN. LOCO: for each corpus the model is
fitted on the other corpora and the held-out suite is run through the real harness with it (and the
shipped sentence ranker), so no number in the table was fitted on the corpus it reports. Which SIGNALS and which C were chosen by LOCO on the
TUNING corpora only; the other suites were never looked at while choosing. eval/fit_ranker.py fits this
model and the sentence ranker together (its LOCO table is the one eval/LOCO.md reports). Left out: fitting
the hand-tuned scorer's weights (see rag/answering/extractive.py for how they were chosen).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from rag import Settings
from rag.answering.ranker import ANSWERABILITY_PATH, Answerability
from rag_cited.eval.fitting import (
    MAX_FALSE_ABSTAIN,
    all_suites,
    asked,
    collect_all,
    leave_one_out,
    loco_parser,
    logistic,
    table,
    threshold,
)

# Chosen by LOCO over TUNING (facts, abstention recall − false-abstain rate), from: v0.1's three inputs;
# best_score + top_cos; the "miss" signals; the relative ones (gap, z, agree, vgap); all twelve; this mix.
SIGNALS = ("best_score", "miss_best", "max_miss_idf", "gap", "z", "agree")
C = 0.1  # tried 0.03, 0.1, 0.3, 1 on TUNING: 0.1 gave the lowest false-abstain rate at the same recall
Rows = list[tuple[bool, dict[str, float]]]


def collect(name: str, settings: Settings) -> Rows:
    """(answerable, signals) for every case of suite `name` (see fitting.asked)."""
    return [(case.answerable, a.answerer("extractive").signals(case.question, query, evidence))
            for case, _docs, a, query, evidence in asked(name, settings)]


def fit(rows: Rows, fitted_on: dict[str, int]) -> Answerability:
    x = np.array([[s[f] for f in SIGNALS] for _, s in rows])
    y = np.array([float(ok) for ok, _ in rows])
    model = logistic(x, y, SIGNALS, c=C)
    meta = {"fitted_on": fitted_on, "script": "eval/fit_answerability.py", "C": C,
            "max_false_abstain": MAX_FALSE_ABSTAIN, "fitted_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    return Answerability(model, threshold(model.prob(x), y, MAX_FALSE_ABSTAIN), meta)


def _fit_all(data: dict[str, Rows]) -> Answerability:
    return fit([r for rows in data.values() for r in rows], {n: len(r) for n, r in data.items()})


def _written(train: dict[str, Rows], folder: Path) -> dict[str, Path]:
    path = folder / "answerability.json"
    path.write_text(_fit_all(train).to_json())
    return {"answerability": path}


def main(argv: list[str] | None = None) -> int:
    args = loco_parser("fit_answerability", __doc__, str(ANSWERABILITY_PATH),
                       "eval/out/loco_answerability.json").parse_args(argv)
    settings = Settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    data = collect_all(args.suites or all_suites(), collect, settings)
    loco = leave_one_out(data, settings, _written)
    final = _fit_all(data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"loco": loco, "final": json.loads(final.to_json())}, indent=1))
    if args.write:
        ANSWERABILITY_PATH.write_text(final.to_json() + "\n")
    print(table(loco))
    return 0


if __name__ == "__main__":
    sys.exit(main())
