"""Fit the extractive answerer's sentence ranker and answerability model; score them leave-one-corpus-out.

    python -m rag_cited.eval.fit_ranker                      # every eval/questions*.yaml: LOCO table + fit on all
    python -m rag_cited.eval.fit_ranker --write              # ... and write rag/answering/ranker.json
    python -m rag_cited.eval.fit_ranker --suites seed pydocs # a subset (names: questions_<name>.yaml; seed = questions.yaml)

Data: every case of every suite is asked through a real Assistant on that suite's eval index. A candidate
sentence is a positive when it lies in the gold source and overlaps a gold evidence span; the question
is answerable or not as the suite says. Models: scikit-learn's LogisticRegression (class-balanced, L2,
C=1) on standardised features. The abstain threshold is the highest that keeps false abstentions on the
training corpora at or below MAX_FALSE_ABSTAIN; the runner-up margin maximises sentence-level F1 on
them. Leave-one-corpus-out: for each corpus, everything is fitted on the other corpora and the held-out
suite is run through the real harness with those weights; no number is ever fitted on the corpus it is
reported for. Left out: tuning the features themselves (done by hand, on the training corpora only).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from rag import Assistant, Settings
from rag.answering.base import Evidence
from rag.answering.features import FEATURES
from rag.answering.ranker import DEFAULT_PATH, QUESTION_FEATURES, Logistic, Ranker, question_features
from rag_cited.eval.cases import EvalCase, load_suite
from rag_cited.eval.harness import REPO_ROOT, eval_assistant
from rag_cited.eval.harness import run as run_suite
from rag_cited.eval.metrics import find_all, overlaps

MAX_FALSE_ABSTAIN = 0.10  # the target: at most 10% of answerable questions abstain
MARGINS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)  # runner-up margins tried on the training corpora
EVAL_DIR = REPO_ROOT / "eval"


@dataclass
class QuestionRows:
    answerable: bool
    x: np.ndarray  # (candidates, FEATURES)
    y: np.ndarray  # 1 = the candidate overlaps gold evidence
    context: dict[str, float]
    kind: str


@dataclass
class Corpus:
    name: str
    suite: Path
    questions: list[QuestionRows] = field(default_factory=list)


def suite_path(name: str) -> Path:
    return EVAL_DIR / ("questions.yaml" if name == "seed" else f"questions_{name}.yaml")


def all_suites() -> list[str]:
    return ["seed"] + sorted(p.stem.removeprefix("questions_") for p in EVAL_DIR.glob("questions_*.yaml"))


def asked(name: str, settings: Settings) -> Iterator[tuple[EvalCase, Path, Assistant, str, Evidence]]:
    """(case, docs folder, assistant, retrieval query, evidence) for every case of suite `name`, asked through a
    real Assistant on the suite's eval index, earlier turns replayed as the harness does."""
    suite = load_suite(suite_path(name))
    docs = suite.resolve_docs(REPO_ROOT)
    a, _ = eval_assistant(settings, docs)
    a.ingest([docs])
    for case in suite.cases:
        history: list[dict] = []
        for q in case.history:
            history += [{"role": "user", "content": q}, {"role": "assistant", "content": a.ask(q, history).text}]
        query, evidence = a.evidence(case.question, history or None)
        yield case, docs, a, query, evidence


def collect(name: str, settings: Settings) -> Corpus:
    """Every case's candidates, features and labels (see `asked`)."""
    corpus = Corpus(name, suite_path(name))
    for case, docs, a, query, evidence in asked(name, settings):
        cands = a.answerer("extractive").featurize(case.question, query, evidence)
        gold = f"{docs.name}/{case.source}" if case.source else None
        spans = [sp for e in case.evidence for sp in find_all(a.document_text(gold), e)] if gold else []
        y = np.array([float(s.source == gold and any(overlaps((s.start, s.end), sp) for sp in spans))
                      for s in cands.sentences])
        corpus.questions.append(QuestionRows(case.answerable, cands.x, y, cands.context, cands.question.kind))
    return corpus


def _logistic(x: np.ndarray, y: np.ndarray, names: tuple[str, ...], c: float = 1.0) -> Logistic:
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(0), x.std(0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(class_weight="balanced", C=c, max_iter=2000).fit((x - mean) / scale, y)
    return Logistic(names, mean, scale, model.coef_[0], float(model.intercept_[0]))


def _question_matrix(questions: list[QuestionRows], sentence: Logistic) -> tuple[np.ndarray, np.ndarray]:
    qx = np.array([question_features(sentence.prob(q.x) if len(q.x) else np.zeros(0), q.x, FEATURES, q.context,
                                     q.kind) for q in questions])
    return qx, np.array([float(q.answerable) for q in questions])


def _threshold(p: np.ndarray, answerable: np.ndarray, max_false_abstain: float = MAX_FALSE_ABSTAIN) -> float:
    """The highest threshold whose false-abstain rate on these questions stays within `max_false_abstain`."""
    pos = np.sort(p[answerable == 1])
    k = int(np.floor(max_false_abstain * len(pos)))
    return float(pos[k]) if len(pos) else 0.5


def _margin(questions: list[QuestionRows], sentence: Logistic) -> float:
    best, best_f1 = MARGINS[0], -1.0
    for m in MARGINS:
        tp = fp = fn = 0
        for q in questions:
            if not q.answerable or not len(q.x):
                continue
            p = sentence.prob(q.x)
            chosen = np.argsort(-p)[:3][p[np.argsort(-p)[:3]] >= p.max() - m]
            tp += int(q.y[chosen].sum())
            fp += int(len(chosen) - q.y[chosen].sum())
            fn += int(q.y.sum() > 0 and q.y[chosen].sum() == 0)
        f1 = 2 * tp / max(1, 2 * tp + fp + fn)
        if f1 > best_f1:
            best, best_f1 = m, f1
    return best


def fit(corpora: list[Corpus]) -> Ranker:
    questions = [q for c in corpora for q in c.questions]
    with_rows = [q for q in questions if len(q.x)]
    sentence = _logistic(np.vstack([q.x for q in with_rows]), np.concatenate([q.y for q in with_rows]), FEATURES)
    qx, qy = _question_matrix(questions, sentence)
    answerable = _logistic(qx, qy, QUESTION_FEATURES)
    meta = {"fitted_on": {c.name: len(c.questions) for c in corpora},
            "sentences": int(sum(len(q.x) for q in questions)), "script": "eval/fit_ranker.py",
            "fitted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "max_false_abstain": MAX_FALSE_ABSTAIN}
    return Ranker(sentence, answerable, _threshold(answerable.prob(qx), qy), _margin(questions, sentence), meta)


def _score(name: str, ranker_file: Path, settings: Settings) -> dict:
    result = run_suite(suite_path(name), settings=settings, ranker=ranker_file)
    m = result.metrics
    rows = [r for r in result.cases if r.answerable and not r.abstained]
    right = sum(1 for r in rows if any(c.source == r.source for c in r.citations)) / max(1, len(rows))
    return {"facts": m.get("facts_recall"), "right_source": round(right, 4), "abstain_recall": m.get("abstain_recall"),
            "false_abstain": m.get("false_abstain_rate"), "hit@5": m.get("hit@5"), "cases": len(result.cases)}


def loco_parser(module: str, doc: str, target: Path, out: str) -> argparse.ArgumentParser:
    """The command line shared by the fit scripts: which suites, where the data and the report go, --write."""
    p = argparse.ArgumentParser(prog=f"python -m rag_cited.eval.{module}", description=doc.split("\n")[0])
    p.add_argument("--suites", nargs="+", default=None, help="suite names (default: all)")
    p.add_argument("--write", action="store_true", help=f"write the model fitted on all suites to {target}")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", type=Path, default=Path(out))
    return p


def main(argv: list[str] | None = None) -> int:
    args = loco_parser("fit_ranker", __doc__, DEFAULT_PATH, "eval/out/loco.json").parse_args(argv)
    settings = Settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    names = args.suites or all_suites()
    corpora = []
    for n in names:
        print(f"collecting {n} …", file=sys.stderr, flush=True)
        corpora.append(collect(n, settings))
    table = {}
    with tempfile.TemporaryDirectory() as tmp:
        for held in corpora:
            path = Path(tmp) / f"loco-{held.name}.json"
            path.write_text(fit([c for c in corpora if c is not held]).to_json())
            table[held.name] = _score(held.name, path, settings)
            print(held.name, json.dumps(table[held.name]), file=sys.stderr, flush=True)
    final = fit(corpora)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"loco": table, "final": json.loads(final.to_json())}, indent=1))
    if args.write:
        DEFAULT_PATH.write_text(final.to_json() + "\n")
    print(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
