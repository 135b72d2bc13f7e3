"""What the fit scripts share: the suites, how a suite's cases are asked, logistic fits, the LOCO command line.

`asked` replays every case of a suite through a real Assistant on that suite's eval index (earlier turns
first, as the harness does); `collect_all` and `leave_one_out` are the fit scripts' shared loop; `logistic` fits scikit-learn's class-balanced, L2 LogisticRegression on
standardised inputs and returns the dot-product form the answerer loads (rag.answering.ranker.Logistic).
Left out: which inputs and models to fit (fit_answerability.py, fit_ranker.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from rag import Assistant, Settings
from rag.answering.base import Evidence
from rag.answering.ranker import Logistic
from rag_cited.eval.cases import EvalCase, load_suite
from rag_cited.eval.harness import REPO_ROOT, eval_assistant
from rag_cited.eval.harness import run as run_suite

EVAL_DIR = REPO_ROOT / "eval"
MAX_FALSE_ABSTAIN = 0.10  # the target: at most 10% of answerable questions abstain
TUNING = ("seed", "pydocs", "licences", "htmldocs", "mdnotes")  # the others were never looked at while choosing


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


def logistic(x: np.ndarray, y: np.ndarray, names: tuple[str, ...], c: float = 1.0) -> Logistic:
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(0), x.std(0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(class_weight="balanced", C=c, max_iter=2000).fit((x - mean) / scale, y)
    return Logistic(names, mean, scale, model.coef_[0], float(model.intercept_[0]))


def threshold(p: np.ndarray, answerable: np.ndarray, max_false_abstain: float = MAX_FALSE_ABSTAIN) -> float:
    """The highest threshold whose false-abstain rate on these questions stays within `max_false_abstain`."""
    pos = np.sort(p[answerable == 1])
    k = int(np.floor(max_false_abstain * len(pos)))
    return float(pos[k]) if len(pos) else 0.5


def score(name: str, settings: Settings, **models: Path) -> dict:
    """The suite through the real harness with these model files (`answerability=`, `ranker=`)."""
    result = run_suite(suite_path(name), settings=settings, **models)
    m = result.metrics
    rows = [r for r in result.cases if r.answerable and not r.abstained]
    right = sum(1 for r in rows if any(c.source == r.source for c in r.citations)) / max(1, len(rows))
    return {"facts": m.get("facts_recall"), "right_source": round(right, 4), "hit@1": m.get("hit@1"),
            "citation_precision": m.get("citation_precision"), "abstain_recall": m.get("abstain_recall"),
            "false_abstain": m.get("false_abstain_rate"), "cases": len(result.cases)}


def collect_all(names: list[str], collect: Callable[[str, Settings], list], settings: Settings) -> dict[str, list]:
    """Each suite's rows, by `collect` (a fit script's), in order."""
    data = {}
    for n in names:
        print(f"collecting {n} …", file=sys.stderr, flush=True)
        data[n] = collect(n, settings)
    return data


def leave_one_out(data: dict[str, list], settings: Settings,
                  fitted: Callable[[dict[str, list], Path], dict[str, Path]]) -> dict[str, dict]:
    """For each suite: `fitted(the other suites' rows, a folder)` writes models there and returns them as harness
    settings (`answerability=`, `ranker=`); the suite is then scored with them (`score`)."""
    loco = {}
    with tempfile.TemporaryDirectory() as tmp:
        for held in data:
            folder = Path(tmp) / held
            folder.mkdir()
            loco[held] = score(held, settings, **fitted({n: rows for n, rows in data.items() if n != held}, folder))
            print(held, json.dumps(loco[held]), file=sys.stderr, flush=True)
    return loco


def table(loco: dict[str, dict]) -> str:
    """The LOCO scores as a markdown table; corpora outside TUNING are marked held out."""
    cols = ("facts", "right_source", "hit@1", "citation_precision", "abstain_recall", "false_abstain")
    head = "| corpus | " + " | ".join(cols) + " | cases |\n" + "|---" * (len(cols) + 2) + "|\n"
    lines = [f"| {n}{'' if n in TUNING else ' (held out)'} | " + " | ".join(
        "—" if r.get(c) is None else f"{r[c]:.2f}" for c in cols) + f" | {r['cases']} |" for n, r in loco.items()]
    return head + "\n".join(lines) + "\n"


def loco_parser(module: str, doc: str, target: str, out: str) -> argparse.ArgumentParser:
    """The command line shared by the fit scripts: which suites, where the data and the report go, --write."""
    p = argparse.ArgumentParser(prog=f"python -m rag_cited.eval.{module}", description=doc.split("\n")[0])
    p.add_argument("--suites", nargs="+", default=None, help="suite names (default: all)")
    p.add_argument("--write", action="store_true", help=f"write the model fitted on all suites to {target}")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", type=Path, default=Path(out))
    return p
