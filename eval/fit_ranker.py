"""Fit the extractive answerer's sentence ranker and its answerability model; score both leave-one-corpus-out.

    python -m rag_cited.eval.fit_ranker                      # every eval/questions*.yaml: LOCO table + fit on all
    python -m rag_cited.eval.fit_ranker --write              # ... and write ranker.json and answerability.json
    python -m rag_cited.eval.fit_ranker --suites seed pydocs # a subset (names: questions_<name>.yaml; seed = questions.yaml)

Data: every case of every suite is asked through a real Assistant on that suite's eval index. The
ranker's rows are the candidates that may answer, as `features.ranker_inputs` (FEATURES and the hand-tuned
score, as they are and relative to the question's other candidates); a candidate is a positive when it
holds at least one of the case's expected facts (the facts metric's own test, `metrics.facts_recall`).
Model: scikit-learn's LogisticRegression (class-balanced, L2, C=C) on standardised inputs. The
answerability model is fit_answerability's, on the same cases. LOCO: for each corpus both are fitted on
the other corpora and the held-out suite is run through the real harness with both, so no number in the
table was fitted on the corpus it reports. Left out: non-linear models (a few hundred questions), tuning
the inputs themselves (done by hand, on the TUNING corpora only).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from rag import Settings
from rag.answering.features import RANKER_INPUTS
from rag.answering.ranker import ANSWERABILITY_PATH, DEFAULT_PATH, Ranker
from rag_cited.eval import fit_answerability
from rag_cited.eval.fitting import all_suites, asked, collect_all, leave_one_out, loco_parser, logistic, table
from rag_cited.eval.metrics import facts_recall

C = 0.1  # tried 0.1 and 1 LOCO on TUNING: 0.1 found as many facts or more on each (scratch, 2026-11-26)


@dataclass
class Case:
    answerable: bool
    signals: dict[str, float]  # what the answerability model reads
    x: np.ndarray  # (candidates, RANKER_INPUTS)
    y: np.ndarray  # 1 = the candidate holds an expected fact


def collect(name: str, settings: Settings) -> list[Case]:
    """Every case's answerability signals and, for answerable cases with expected facts, ranker rows."""
    cases = []
    for case, _docs, a, query, evidence in asked(name, settings):
        answerer = a.answerer("extractive")
        signals = answerer.signals(case.question, query, evidence)
        x, y = np.zeros((0, len(RANKER_INPUTS))), np.zeros(0)
        if case.answerable and case.expected:
            cands = answerer.featurize(case.question, query, evidence)
            if cands.sentences:
                x = cands.x
                y = np.array([float((facts_recall(case.expected, s.text)[0] or 0.0) > 0) for s in cands.sentences])
        cases.append(Case(case.answerable, signals, x, y))
    return cases


def fit(data: dict[str, list[Case]]) -> tuple[Ranker, fit_answerability.Answerability]:
    """The sentence ranker and the answerability model, both fitted on every case of `data`."""
    rows = [c for cases in data.values() for c in cases if len(c.x)]
    sentence = logistic(np.vstack([c.x for c in rows]), np.concatenate([c.y for c in rows]), RANKER_INPUTS, c=C)
    fitted_on = {n: len(cases) for n, cases in data.items()}
    meta = {"fitted_on": fitted_on, "sentences": int(sum(len(c.x) for c in rows)), "script": "eval/fit_ranker.py",
            "C": C, "fitted_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    answerable = fit_answerability.fit([(c.answerable, c.signals) for cases in data.values() for c in cases], fitted_on)
    return Ranker(sentence, meta), answerable


def _written(train: dict[str, list[Case]], folder: Path) -> dict[str, Path]:
    ranker, answerable = fit(train)
    (folder / "ranker.json").write_text(ranker.to_json())
    (folder / "answerability.json").write_text(answerable.to_json())
    return {"ranker": folder / "ranker.json", "answerability": folder / "answerability.json"}


def main(argv: list[str] | None = None) -> int:
    args = loco_parser("fit_ranker", __doc__, f"{DEFAULT_PATH} and {ANSWERABILITY_PATH}",
                       "eval/out/loco.json").parse_args(argv)
    settings = Settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    data = collect_all(args.suites or all_suites(), collect, settings)
    loco = leave_one_out(data, settings, _written)
    ranker, answerable = fit(data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"loco": loco, "ranker": json.loads(ranker.to_json()),
                                    "answerability": json.loads(answerable.to_json())}, indent=1))
    if args.write:
        DEFAULT_PATH.write_text(ranker.to_json() + "\n")
        ANSWERABILITY_PATH.write_text(answerable.to_json() + "\n")
    print(table(loco))
    return 0


if __name__ == "__main__":
    sys.exit(main())
