"""The learned parts of the extractive answerer: the answerability model and an optional sentence ranker.

All are logistic regressions over standardised features (rag/answering/features.py), fitted by
eval/fit_ranker.py on the eval corpora and committed as JSON together with what they were fitted on:
`answerability.json` (used by default: P(the documents answer the question) from `question_signals`,
and the operating threshold fitted with it) and, optionally, `ranker.json` (a learned sentence ranker;
not shipped, because leave-one-corpus-out it ranked worse than the hand-tuned scorer). At run time they
are a dot product: no learning library is loaded.
Left out: non-linear models (the data is a few hundred questions; see the fit script's notes).
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_PATH = Path(__file__).with_name("ranker.json")
ANSWERABILITY_PATH = Path(__file__).with_name("answerability.json")


@dataclass(frozen=True)
class Logistic:
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    @classmethod
    def from_dict(cls, d: dict) -> Logistic:
        return cls(tuple(d["features"]), np.asarray(d["mean"], float), np.asarray(d["scale"], float),
                   np.asarray(d["coef"], float), float(d["intercept"]))

    def to_dict(self) -> dict:
        return {"features": list(self.features), "mean": self.mean.round(6).tolist(),
                "scale": self.scale.round(6).tolist(), "coef": self.coef.round(6).tolist(),
                "intercept": round(self.intercept, 6)}

    def prob(self, x: np.ndarray) -> np.ndarray:
        z = ((np.atleast_2d(x) - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


@dataclass(frozen=True)
class Ranker:
    sentence: Logistic  # P(sentence holds the answer | its features)
    answerable: Logistic  # P(the documents answer the question | question-level features)
    threshold: float  # abstain below this answerability
    margin: float  # keep runners-up whose probability is within this of the best
    meta: dict

    @classmethod
    def load(cls, path: str | Path | None = None) -> Ranker | None:
        """The ranker at `path` (default: the bundled one); None when there is none."""
        p = Path(path) if path else DEFAULT_PATH
        if not p.is_file():
            if path:
                from rag.errors import ConfigError

                raise ConfigError(f"ranker weights {p} not found (setting ranker / RAG_RANKER)")
            return None
        return _load(str(p.resolve()))

    def to_json(self) -> str:
        return json.dumps({"sentence": self.sentence.to_dict(), "answerable": self.answerable.to_dict(),
                           "threshold": round(self.threshold, 4), "margin": round(self.margin, 4), "meta": self.meta},
                          indent=1)


@functools.lru_cache(maxsize=8)
def _load(path: str) -> Ranker:
    d = json.loads(Path(path).read_text(encoding="utf-8"))
    return Ranker(Logistic.from_dict(d["sentence"]), Logistic.from_dict(d["answerable"]), float(d["threshold"]),
                  float(d["margin"]), d.get("meta", {}))


QUESTION_FEATURES = ("best_prob", "second_prob", "best_embed", "best_lexical", "top_chunk_cos", "top_bm25",
                     "best_type_match", "best_definition", "missing_mass", "unseen_terms", "kind_definition",
                     "kind_yesno")


def question_features(probs: np.ndarray, x: np.ndarray, names: tuple[str, ...], context: dict[str, float],
                      kind: str) -> np.ndarray:
    """The answerability model's inputs: the candidates' features and ranker probabilities, and `context`
    (top_chunk_cos, top_bm25, missing_mass, unseen_terms: see ExtractiveAnswerer.featurize)."""
    tail = [context["top_chunk_cos"], math.log1p(context["top_bm25"])]
    kinds = [float(kind == "definition"), float(kind == "yesno")]
    misses = [context["missing_mass"], context["unseen_terms"]]
    if len(probs) == 0:
        return np.array([0.0, 0.0, 0.0, 0.0, *tail, 0.0, 0.0, *misses, *kinds])
    col = {n: i for i, n in enumerate(names)}
    order = np.argsort(-probs)
    best = x[order[0]]
    return np.array([probs[order[0]], probs[order[1]] if len(order) > 1 else 0.0, x[:, col["embed"]].max(),
                     x[:, col["lexical"]].max(), *tail, best[col["type_match"]], best[col["definition"]], *misses,
                     *kinds])


@dataclass(frozen=True)
class Answerability:
    """P(answerable | `question_signals`), and the threshold below which the answerer abstains."""

    model: Logistic
    threshold: float
    meta: dict

    def prob(self, signals: dict[str, float]) -> float:
        return float(self.model.prob(np.array([signals[f] for f in self.model.features]))[0])

    def to_json(self) -> str:
        return json.dumps({"model": self.model.to_dict(), "threshold": round(self.threshold, 4), "meta": self.meta},
                          indent=1)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Answerability | None:
        p = Path(path) if path else ANSWERABILITY_PATH
        if path and not p.is_file():
            from rag.errors import ConfigError

            raise ConfigError(f"answerability weights {p} not found (setting answerability / RAG_ANSWERABILITY)")
        return _load_answerability(str(p.resolve())) if p.is_file() else None


@functools.lru_cache(maxsize=8)
def _load_answerability(path: str) -> Answerability:
    d = json.loads(Path(path).read_text(encoding="utf-8"))
    return Answerability(Logistic.from_dict(d["model"]), float(d["threshold"]), d.get("meta", {}))
