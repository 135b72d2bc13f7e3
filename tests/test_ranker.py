"""The learned sentence ranker: its inputs, its file, and that it decides what an answer quotes.

The engine is real (MiniLM, Chroma in a temp dir); the ranker files are written here with chosen weights
so the test knows which candidate each must put first.
"""

from __future__ import annotations

import numpy as np
import pytest

from rag import Assistant
from rag.answering.features import FEATURES, RANKER_INPUTS, ranker_inputs
from rag.answering.ranker import Logistic, Ranker

from .conftest import SEEDS, assert_exact


def test_ranker_inputs_stand_each_candidate_against_the_others():
    x = np.array([[0.2, 1.0], [0.5, 3.0], [0.8, 2.0]])
    x = np.hstack([x, np.zeros((3, len(FEATURES) - 2))])
    hand = np.array([0.1, 0.4, 0.3])
    r = ranker_inputs(x, hand)
    assert r.shape == (3, len(RANKER_INPUTS)) and len(RANKER_INPUTS) == 3 * (len(FEATURES) + 1)
    col = {n: i for i, n in enumerate(RANKER_INPUTS)}
    assert r[:, col["embed"]].tolist() == [0.2, 0.5, 0.8] and r[:, col["hand"]].tolist() == [0.1, 0.4, 0.3]
    assert np.allclose(r[:, col["embed-best"]], [-0.6, -0.3, 0.0])  # distance to the question's best
    assert abs(r[:, col["lexical-z"]].mean()) < 1e-9 and r[1, col["lexical-z"]] > 0  # z within the question
    assert ranker_inputs(np.zeros((0, len(FEATURES))), np.zeros(0)).shape == (0, len(RANKER_INPUTS))


def _ranker(tmp_path, name: str, weight: float):
    """A ranker that reads only one input, `name`, with this weight."""
    coef = np.array([weight if f == name else 0.0 for f in RANKER_INPUTS])
    n = len(RANKER_INPUTS)
    path = tmp_path / f"ranker-{name}-{weight}.json"
    path.write_text(Ranker(Logistic(RANKER_INPUTS, np.zeros(n), np.ones(n), coef, 0.0), {"test": True}).to_json())
    return path


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, embedder):
    path = tmp_path_factory.mktemp("ranked")
    Assistant(data_dir=path, embed_model=embedder).ingest([SEEDS])
    return path


def test_the_ranker_decides_what_an_answer_quotes(data_dir, tmp_path, embedder):
    question = "How many Armenian soldiers were killed?"
    quoted = {}
    for weight in (8.0, -8.0):  # the hand-tuned score's z: first its best candidate, then its worst
        a = Assistant(data_dir=data_dir, embed_model=embedder, ranker=_ranker(tmp_path, "hand-z", weight),
                      abstain_threshold=0.0)
        ans = a.ask(question)
        assert_exact(a, ans)
        quoted[weight] = {c.quote for c in ans.citations}
        sents, _ = a.answerer("extractive").ranked(question, *a.evidence(question))
        by_hand = sorted(sents, key=lambda s: s.score)
        assert (by_hand[-1] if weight > 0 else by_hand[0]).text in quoted[weight]
    assert not quoted[8.0] & quoted[-8.0]


def test_the_bundled_ranker_reads_what_the_engine_computes():
    ranker = Ranker.load()
    assert ranker is not None, "rag/answering/ranker.json is missing: run eval/fit_ranker.py --write"
    assert ranker.sentence.features == RANKER_INPUTS
    assert ranker.meta["script"] == "eval/fit_ranker.py" and len(ranker.meta["fitted_on"]) >= 6
    p = ranker.sentence.prob(np.zeros((2, len(RANKER_INPUTS))))
    assert p.shape == (2,) and np.all((0 <= p) & (p <= 1))
