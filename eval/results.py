"""What an eval run produces and saves: per-case rows and the run's aggregate numbers (pydantic, JSON).

`score_case` turns one case + the engine's answer into a `CaseResult` (metric values, pass/fail and
the reasons); `aggregate` turns the rows into the run's metrics, overall and per case type. Left out:
running the engine (harness.py) and presenting the numbers (report.py, html.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from rag import Answer
from rag_cited.eval import metrics as m
from rag_cited.eval.cases import EvalCase

SCHEMA_VERSION = 1


class CitationRow(BaseModel):
    id: int
    source: str
    title: str = ""
    quote: str
    start: int
    end: int
    score: float = 0.0
    exact: bool = Field(description="document_text(source)[start:end] == quote")
    on_evidence: bool | None = Field(None, description="From the gold source and overlapping the evidence")


class Turn(BaseModel):
    question: str
    answer: str


class CaseResult(BaseModel):
    id: str
    type: str
    question: str
    history: list[Turn] = Field(default_factory=list, description="Earlier turns as asked in this run")
    answerable: bool
    source: str | None = Field(None, description="Gold source as ingested (docs folder name/path)")
    expected: list[list[str]] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)
    evidence_spans: list[list[tuple[int, int]]] = Field(default_factory=list)
    answer: str = ""
    abstained: bool = False
    mode: str = ""
    notice: str | None = None
    citations: list[CitationRow] = Field(default_factory=list)
    retrieved: list[dict] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    evidence_rank: int | None = Field(None, description="Rank of the first retrieved chunk holding evidence")
    missing_facts: list[list[str]] = Field(default_factory=list)
    top_score: float | None = Field(None, description="The answerer's answerability (Answer.support; else best citation score)")
    metrics: dict[str, float | None] = Field(default_factory=dict)
    passed: bool = False
    failures: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    error: str | None = None


class EvalResult(BaseModel):
    schema_version: int = SCHEMA_VERSION
    created_at: str
    questions: str
    questions_sha256: str = ""
    docs: str
    corpus: dict = Field(default_factory=dict, description="documents, chars, chunks written by the ingest")
    settings: dict = Field(default_factory=dict, description="Engine settings (secrets removed)")
    fingerprint: dict = Field(default_factory=dict)
    index_dir: str = ""
    ingest: dict = Field(default_factory=dict)
    duration_s: float = 0.0
    top_k: int = 5
    metrics: dict[str, float | None] = Field(default_factory=dict)
    by_type: dict[str, dict[str, float | None]] = Field(default_factory=dict)
    counts: dict[str, int] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    cases: list[CaseResult] = Field(default_factory=list)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=1), encoding="utf-8")
        return path


def clip(text: str, n: int = 70) -> str:
    """`text` on one line, cut to `n` characters with "…" when longer (for reasons and reports)."""
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 1] + "…"


def score_case(case: EvalCase, answer: Answer, gold_source: str | None,
               document_text: Callable[[str], str | None], history: Sequence[Turn] = ()) -> CaseResult:
    """Score one answer against its case; every failure gets a reason a person can act on."""
    gold_text = document_text(gold_source) if gold_source else None
    spans = [m.find_all(gold_text, ev) for ev in case.evidence] if gold_text is not None else []
    cites = _citation_rows(case, answer, gold_source, spans, document_text)
    row = CaseResult(id=case.id, type=case.type, question=case.question, history=list(history),
                     answerable=case.answerable, source=gold_source, expected=case.expected, evidence=case.evidence,
                     evidence_spans=spans, answer=answer.text, abstained=answer.abstained, mode=answer.mode,
                     notice=answer.notice, citations=cites,
                     retrieved=[r.model_dump(exclude={"text"}) for r in answer.retrieved],
                     timings_ms=answer.timings_ms, top_score=answer.support if answer.support is not None
                     else max((c.score for c in cites), default=None))
    inexact = [c for c in cites if not c.exact]
    vals: dict[str, float | None] = {"citation_exactness": (1 - len(inexact) / len(cites)) if cites else None}
    row.failures += [f"citation [{c.id}] is not exact: quote != document_text({c.source})[{c.start}:{c.end}]"
                     for c in inexact]
    if case.answerable:
        _score_answerable(row, case, answer, cites, spans, vals)
    elif not answer.abstained:
        row.failures.append("answered a question the documents do not answer" + _support(row.top_score))
    row.metrics = vals
    row.passed = not row.failures
    return row


def _citation_rows(case: EvalCase, answer: Answer, gold_source: str | None, spans: list[list[m.Span]],
                   document_text: Callable[[str], str | None]) -> list[CitationRow]:
    """The answer's citations, each checked for exactness (and, when answerable, for landing on the evidence)."""
    texts: dict[str, str | None] = {}

    def text_of(source: str) -> str | None:
        if source not in texts:
            texts[source] = document_text(source)
        return texts[source]

    cites = []
    for c in answer.citations:
        on = m.citation_on_evidence(c.source, (c.start, c.end), gold_source, spans) if case.answerable else None
        cites.append(CitationRow(id=c.id, source=c.source, title=c.title, quote=c.quote, start=c.start, end=c.end,
                                 score=c.score, exact=m.citation_exact(c.quote, text_of(c.source), c.start, c.end),
                                 on_evidence=on))
    return cites


def _support(top_score: float | None) -> str:
    return f" (support {top_score:.3f})" if top_score is not None else ""


def _score_answerable(row: CaseResult, case: EvalCase, answer: Answer, cites: list[CitationRow],
                      spans: list[list[m.Span]], vals: dict[str, float | None]) -> None:
    """Retrieval and answer metrics of an answerable case into `vals`; its failures and notes into `row`."""
    gold_source = row.source
    retrieved = [(r.source, (r.start, r.end)) for r in answer.retrieved]
    rank = m.first_hit_rank(retrieved, gold_source, spans)
    row.evidence_rank = rank
    for k in m.KS:
        vals[f"hit@{k}"] = m.hit_at(rank, k)
        vals[f"mrr@{k}"] = m.rr_at(rank, k)
    cited = [(c.source, (c.start, c.end)) for c in cites]
    row.missing_facts = _answer_metrics(case, answer, cited, gold_source, spans, vals)
    row.notes.append(_retrieval_note(rank, retrieved, gold_source, spans))
    if answer.abstained:
        row.failures.append(f"abstained on an answerable question{_support(row.top_score)}")
        return
    if row.missing_facts:
        row.failures.append("missing facts: " + "; ".join(" / ".join(f) for f in row.missing_facts))
    if vals.get("citation_recall") is not None and vals["citation_recall"] < 1:
        uncited = [ev for ev, occ in zip(case.evidence, spans)
                   if not any(m.citation_on_evidence(s, sp, gold_source, [occ]) for s, sp in cited)]
        row.failures.append("evidence not cited: " + "; ".join(repr(clip(e)) for e in uncited))
    off = [c for c in cites if c.on_evidence is False]
    if off:
        row.notes.append(f"{len(off)} of {len(cites)} citations are off the evidence: "
                         + ", ".join(f"[{c.id}]" for c in off))


def _answer_metrics(case: EvalCase, answer: Answer, cited: list[tuple[str, m.Span]], gold_source: str | None,
                    spans: list[list[m.Span]], vals: dict[str, float | None]) -> list[list[str]]:
    """Facts recall, accuracy, token F1 and (unless it abstained) citation precision/recall into `vals`;
    returns the expected facts the answer misses."""
    said = "" if answer.abstained else answer.text
    recall, missing = m.facts_recall(case.expected, said)
    vals["facts_recall"] = recall
    vals["answer_accuracy"] = None if recall is None else float(recall == 1.0)
    vals["token_f1"] = m.token_f1(said, " ".join(case.evidence))
    if not answer.abstained:
        vals["citation_precision"] = m.citation_precision(cited, gold_source, spans)
        vals["citation_recall"] = m.citation_recall(cited, gold_source, spans)
    return [case.expected[i] for i in missing]


def _retrieval_note(rank: int | None, retrieved: list[tuple[str, m.Span]], gold_source: str | None,
                    spans: list[list[m.Span]]) -> str:
    """Where the evidence was retrieved, or why it was not (a chunk boundary through it, or not in the top k)."""
    if rank is not None:
        return f"evidence retrieved at rank {rank}"
    straddle = any(src == gold_source and any(m.overlaps(sp, ev) for occ in spans for ev in occ)
                   for src, sp in retrieved)
    return ("evidence straddles a chunk boundary: a retrieved chunk holds part of it, none all of it"
            if straddle else f"evidence not in the top {len(retrieved)} retrieved chunks")


def failed_row(case: EvalCase, gold_source: str | None, error: str) -> CaseResult:
    """A case whose question raised: counted as a failure with the error as the reason."""
    return CaseResult(id=case.id, type=case.type, question=case.question, answerable=case.answerable,
                      source=gold_source, expected=case.expected, evidence=case.evidence, error=error,
                      failures=[f"error: {error}"], passed=False)


def aggregate(rows: Sequence[CaseResult]) -> dict[str, float | None]:
    """The run's numbers from its rows: means of per-case values, micro citation exactness, abstention, latency."""
    out: dict[str, float | None] = {}
    ok = [r for r in rows if r.error is None]
    answerable = [r for r in ok if r.answerable]
    for name in [f"hit@{k}" for k in m.KS] + [f"mrr@{k}" for k in m.KS] + [
            "facts_recall", "answer_accuracy", "token_f1", "citation_precision", "citation_recall"]:
        out[name] = m.mean(r.metrics.get(name) for r in answerable)
    cites = [c for r in ok for c in r.citations]
    out["citation_exactness"] = sum(c.exact for c in cites) / len(cites) if cites else None
    ab = m.abstention((r.answerable, r.abstained) for r in ok)
    out["abstain_precision"], out["abstain_recall"] = ab.precision, ab.recall
    out["false_abstain_rate"] = ab.false_abstain_rate
    out["pass_rate"] = sum(r.passed for r in rows) / len(rows) if rows else None
    out.update(m.latency([r.timings_ms for r in ok]))
    return out


def by_type(rows: Sequence[CaseResult]) -> dict[str, dict[str, float | None]]:
    """Per case type: pass rate, hit@1, facts recall, citation recall, abstained share, count."""
    out: dict[str, dict[str, float | None]] = {}
    for t in dict.fromkeys(r.type for r in rows):
        group = [r for r in rows if r.type == t]
        ans = [r for r in group if r.answerable]
        out[t] = {"cases": float(len(group)),
                  "pass_rate": sum(r.passed for r in group) / len(group),
                  "hit@1": m.mean(r.metrics.get("hit@1") for r in ans),
                  "facts_recall": m.mean(r.metrics.get("facts_recall") for r in ans),
                  "citation_recall": m.mean(r.metrics.get("citation_recall") for r in ans),
                  "abstained": sum(r.abstained for r in group) / len(group)}
    return out
