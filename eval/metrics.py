"""Evaluation metrics as pure functions: retrieval, answer text, citations, abstention, latency.

Everything here works on plain values (spans, strings, booleans, numbers) so it can be unit-tested
without an index. Gold is labelled by source + evidence substring, never by chunk id, so the numbers
survive re-chunking. Left out: model-based judgements (NLI entailment of citations, LLM-as-judge);
overlap of spans stands in for "the citation supports the claim".

>>> normalize("The  “Anti-Terrorist” operation!")
'antiterrorist operation'
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Span = tuple[int, int]

KS = (1, 3, 5)
STAGES = ("embed_ms", "retrieve_ms", "answer_ms", "total_ms")


@dataclass(frozen=True)
class MetricInfo:
    name: str
    label: str
    higher_is_better: bool = True
    unit: str = "rate"  # "rate" (0..1) or "ms"
    group: str = ""


def _registry() -> dict[str, MetricInfo]:
    out: list[MetricInfo] = []
    for k in KS:
        out.append(MetricInfo(f"hit@{k}", f"Retrieval hit@{k}", group="retrieval"))
    for k in KS:
        out.append(MetricInfo(f"mrr@{k}", f"MRR@{k}", group="retrieval"))
    out += [
        MetricInfo("facts_recall", "Expected facts recall", group="answer"),
        MetricInfo("answer_accuracy", "All facts present", group="answer"),
        MetricInfo("token_f1", "Token F1 vs evidence", group="answer"),
        MetricInfo("citation_exactness", "Citation exactness", group="citations"),
        MetricInfo("citation_precision", "Citation precision", group="citations"),
        MetricInfo("citation_recall", "Citation recall", group="citations"),
        MetricInfo("abstain_precision", "Abstention precision", group="abstention"),
        MetricInfo("abstain_recall", "Abstention recall", group="abstention"),
        MetricInfo("false_abstain_rate", "False-abstain rate", higher_is_better=False, group="abstention"),
        MetricInfo("pass_rate", "Cases passed", group="overall"),
    ]
    for stage in STAGES:
        for p in ("p50", "p95"):
            out.append(MetricInfo(f"latency.{stage}.{p}", f"{stage.removesuffix('_ms')} {p} (ms)",
                                  higher_is_better=False, unit="ms", group="latency"))
    return {m.name: m for m in out}


METRICS: dict[str, MetricInfo] = _registry()


def format_metric(name: str, value: float | None, *, signed: bool = False, with_unit: bool = False) -> str:
    """A metric value as every report shows it: milliseconds whole, rates to 3 decimals, "–" when not measured.

    `signed` for a change (+0.020), `with_unit` to write " ms" after milliseconds.

    >>> format_metric("hit@5", 0.98), format_metric("latency.total_ms.p95", 812.4, with_unit=True)
    ('0.980', '812 ms')
    """
    if value is None:
        return "–"
    info = METRICS.get(name)
    ms = info is not None and info.unit == "ms"
    text = format(value, ("+" if signed else "") + (".0f" if ms else ".3f"))
    return text + " ms" if ms and with_unit else text


# -- text normalisation (SQuAD-style) -------------------------------------------------------------
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_MARKER = re.compile(r"\[\d+\]")


def _strip_punct(text: str) -> str:
    return "".join(ch for ch in text if ch not in string.punctuation and not unicodedata.category(ch).startswith("P"))


def normalize(text: str) -> str:
    """Lowercase, drop punctuation (Unicode too: curly quotes) and articles, collapse whitespace.

    >>> normalize("An iron fist.")
    'iron fist'
    """
    text = _strip_punct(unicodedata.normalize("NFKC", text).lower())
    return " ".join(_ARTICLES.sub(" ", text).split())


def strip_markers(text: str) -> str:
    """Remove the [n] citation markers so "[4]" never counts as the fact "4"."""
    return _MARKER.sub(" ", text)


def fact_present(aliases: Sequence[str], answer: str) -> bool:
    """True when any alias occurs in the answer as whole normalised tokens ("4" does not match "14").

    An alias that is all punctuation ("**") normalises to nothing; it is matched verbatim instead.

    >>> fact_present(["four", "4"], "It killed four soldiers [1].")
    True
    """
    hay = f" {normalize(strip_markers(answer))} "
    for alias in aliases:
        n = normalize(alias)
        if (n and f" {n} " in hay) or (not n and alias.strip() and alias.strip() in answer):
            return True
    return False


def facts_recall(expected: Sequence[Sequence[str]], answer: str) -> tuple[float | None, list[int]]:
    """(fraction of facts present, indexes of the missing facts); None when nothing is expected."""
    if not expected:
        return None, []
    missing = [i for i, aliases in enumerate(expected) if not fact_present(aliases, answer)]
    return 1 - len(missing) / len(expected), missing


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1 between two texts after normalisation.

    >>> round(token_f1("the cat sat", "a cat sat down"), 3)
    0.8
    """
    p, r = normalize(strip_markers(prediction)).split(), normalize(reference).split()
    if not p or not r:
        return float(p == r)
    common = sum((Counter(p) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(r)
    return 2 * precision * recall / (precision + recall)


# -- spans ------------------------------------------------------------------------------------------
def find_all(text: str, needle: str) -> list[Span]:
    """Every (start, end) where `needle` occurs in `text` (overlapping occurrences included)."""
    spans, i = [], text.find(needle) if needle else -1
    while i >= 0:
        spans.append((i, i + len(needle)))
        i = text.find(needle, i + 1)
    return spans


def contains(outer: Span, inner: Span) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1]


def overlaps(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


# -- retrieval --------------------------------------------------------------------------------------
def first_hit_rank(retrieved: Sequence[tuple[str, Span]], gold_source: str,
                   evidence: Sequence[Sequence[Span]]) -> int | None:
    """1-based rank of the first retrieved chunk (source, span) that contains some evidence string.

    `evidence` holds, per evidence string, every span where it occurs in the gold document; a chunk
    counts when it contains one occurrence of one evidence string entirely.
    """
    for rank, (source, span) in enumerate(retrieved, 1):
        if source == gold_source and any(contains(span, ev) for occ in evidence for ev in occ):
            return rank
    return None


def hit_at(rank: int | None, k: int) -> float:
    return float(rank is not None and rank <= k)


def rr_at(rank: int | None, k: int) -> float:
    """Reciprocal rank, cut off at k (MRR@k averages this)."""
    return 1.0 / rank if rank is not None and rank <= k else 0.0


# -- citations --------------------------------------------------------------------------------------
def citation_exact(quote: str, document_text: str | None, start: int, end: int) -> bool:
    """The invariant every citation must satisfy: the quote is the document's text at its span."""
    return document_text is not None and 0 <= start <= end <= len(document_text) and document_text[start:end] == quote


def citation_on_evidence(source: str, span: Span, gold_source: str, evidence: Sequence[Sequence[Span]]) -> bool:
    """The citation comes from the gold source and overlaps an evidence occurrence."""
    return source == gold_source and any(overlaps(span, ev) for occ in evidence for ev in occ)


def citation_precision(cited: Sequence[tuple[str, Span]], gold_source: str,
                       evidence: Sequence[Sequence[Span]]) -> float | None:
    """Share of citations that are on the evidence; None when nothing is cited."""
    if not cited:
        return None
    return sum(citation_on_evidence(s, sp, gold_source, evidence) for s, sp in cited) / len(cited)


def citation_recall(cited: Sequence[tuple[str, Span]], gold_source: str,
                    evidence: Sequence[Sequence[Span]]) -> float | None:
    """Share of evidence strings that some citation overlaps; None when there is no evidence."""
    if not evidence:
        return None
    covered = sum(any(citation_on_evidence(s, sp, gold_source, [occ]) for s, sp in cited) for occ in evidence)
    return covered / len(evidence)


# -- abstention -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Abstention:
    precision: float | None  # of the cases it abstained on, the share that were unanswerable
    recall: float | None  # of the unanswerable cases, the share it abstained on
    false_abstain_rate: float | None  # of the answerable cases, the share it abstained on


def abstention(pairs: Iterable[tuple[bool, bool]]) -> Abstention:
    """From (answerable, abstained) per case."""
    pairs = list(pairs)
    tp = sum(1 for ans, ab in pairs if not ans and ab)
    abstained = sum(1 for _, ab in pairs if ab)
    unanswerable = sum(1 for ans, _ in pairs if not ans)
    answerable = len(pairs) - unanswerable
    fa = sum(1 for ans, ab in pairs if ans and ab)
    return Abstention(precision=tp / abstained if abstained else None,
                      recall=tp / unanswerable if unanswerable else None,
                      false_abstain_rate=fa / answerable if answerable else None)


# -- aggregation ------------------------------------------------------------------------------------
def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None; None when there are none."""
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), q in [0, 100].

    >>> percentile([1, 2, 3, 4], 50)
    2.5
    """
    vals = sorted(values)
    if not vals:
        return None
    pos = (len(vals) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)


def latency(timings: Sequence[dict[str, float]]) -> dict[str, float | None]:
    """p50/p95 per stage, keyed like "latency.total_ms.p95"."""
    out: dict[str, float | None] = {}
    for stage in STAGES:
        vals = [t[stage] for t in timings if t.get(stage) is not None]
        out[f"latency.{stage}.p50"] = percentile(vals, 50)
        out[f"latency.{stage}.p95"] = percentile(vals, 95)
    return out


def is_better(name: str, old: float, new: float, eps: float = 1e-9) -> int:
    """+1 when new is better than old for this metric, -1 when worse, 0 when equal."""
    if abs(new - old) <= eps:
        return 0
    higher = METRICS[name].higher_is_better if name in METRICS else True
    return 1 if (new > old) == higher else -1
