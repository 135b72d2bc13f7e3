"""The learned parts of the extractive answerer: the answerability model and the sentence ranker.

Both are logistic regressions over standardised features (rag/answering/features.py), fitted by
eval/fit_ranker.py on the eval corpora (eval/fit_answerability.py fits the first alone) and committed as
JSON together with what they were fitted on: `answerability.json` (P(the documents answer the question)
from `question_signals`, and the operating threshold fitted with it) and `ranker.json` (P(a candidate
holds an expected fact) from `ranker_inputs`, which orders the candidates). At run time they are a dot
product: no learning library is loaded.
Left out: non-linear models (the data is a few hundred questions; see the fit script's notes).
"""

from __future__ import annotations

import functools
import json
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
    """P(a candidate sentence holds an expected fact | features.ranker_inputs): orders the candidates."""

    sentence: Logistic
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
        return json.dumps({"sentence": self.sentence.to_dict(), "meta": self.meta}, indent=1)


@functools.lru_cache(maxsize=8)
def _load(path: str) -> Ranker:
    d = json.loads(Path(path).read_text(encoding="utf-8"))
    return Ranker(Logistic.from_dict(d["sentence"]), d.get("meta", {}))


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
