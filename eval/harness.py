"""Run a question suite through the same `Assistant` the chat uses and score every answer.

`run(questions, docs=None, settings=None, **overrides)` builds an Assistant on a dedicated eval index
(``<data_dir>/eval/<hash of fingerprint + docs path>``, so a re-run re-embeds nothing), ingests the docs
folder, checks the cases against the ingested text, asks every question (multi-turn cases replay their
history first, each earlier answer fed back as the assistant turn) and returns an `EvalResult`.
One warm-up question runs first so model loading does not land in the latency numbers. Left out:
presenting the result (report.py) and gating (compare.py).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from rag import Answer, Assistant, IngestReport, RagError, Settings
from rag.types import conversation
from rag_cited.eval.cases import (
    DEFAULT_QUESTIONS,
    EvalCase,
    EvalError,
    Suite,
    check_against_corpus,
    load_suite,
)
from rag_cited.eval.results import CaseResult, EvalResult, Turn, aggregate, by_type, failed_row, score_case

Progress = Callable[[str, int, int], None]  # (message, done, total), like rag's ingest progress

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
SECRET_FIELDS = {"llm_api_key", "auth"}


def public_settings(settings: Settings) -> dict:
    """The settings as JSON, without secrets (API key, web-app credentials, user:password@ in the LLM URL)."""
    data = settings.model_dump(mode="json", exclude=SECRET_FIELDS)
    if data.get("llm_base_url"):
        data["llm_base_url"] = re.sub(r"//[^/@]*@", "//", data["llm_base_url"])
    return data


def index_key(fingerprint: dict, docs: Path) -> str:
    """Short, stable name of the eval index for this embedding model + chunker + docs folder."""
    blob = json.dumps({"fingerprint": fingerprint, "docs": str(docs.resolve())}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _make_settings(settings: Settings | None, overrides: dict) -> Settings:
    if settings is None:
        return Settings(**overrides)
    if not overrides:
        return settings
    data = settings.model_dump()
    data.update(overrides)
    return Settings(**data)


def eval_assistant(settings: Settings, docs: Path, embed_model=None, llm=None) -> tuple[Assistant, Path]:
    """An Assistant on the dedicated eval index for `docs`; shares the user's model cache (or `embed_model`)."""
    base = Assistant(settings, embed_model=embed_model)
    key = index_key(base.fingerprint(), docs)
    index_dir = settings.data_dir / "eval" / key
    index_dir.mkdir(parents=True, exist_ok=True)
    # a separate collection too, so a Chroma server (chroma_host) keeps eval data apart from the user's
    a = Assistant(settings, embed_model=base.embedder, llm=llm, data_dir=index_dir, collection=f"eval-{key}")
    return a, index_dir


def _ask_case(a: Assistant, case: EvalCase):
    """Replay the history (each earlier answer becomes the assistant turn), then ask the case's question."""
    earlier: list[Answer] = []
    for q in case.history:
        earlier.append(a.ask(q, history=conversation(earlier)))
    turns = [Turn(question=q, answer=prev.text) for q, prev in zip(case.history, earlier)]
    return a.ask(case.question, history=conversation(earlier) or None), turns


def run(questions: Path | str = DEFAULT_QUESTIONS, docs: Path | str | None = None, settings: Settings | None = None,
        progress: Progress | None = None, *, embed_model=None, llm=None, **overrides) -> EvalResult:
    """Evaluate `questions` over `docs` (default: the folder the YAML names) and return the scored result.

    `overrides` are Settings fields (``top_k=3``); `embed_model` / `llm` are passed to the Assistant.
    """
    t0 = time.perf_counter()
    suite = load_suite(questions)
    docs_dir = Path(docs).expanduser().resolve() if docs else suite.resolve_docs(REPO_ROOT)
    if not docs_dir.is_dir():
        raise EvalError(f"docs folder {docs_dir} does not exist; pass --docs DIR")
    settings = _make_settings(settings, overrides)
    a, index_dir = eval_assistant(settings, docs_dir, embed_model, llm)
    report = _ingest(a, docs_dir, progress)

    def gold(case: EvalCase) -> str | None:
        return f"{docs_dir.name}/{case.source}" if case.source else None

    def text_or_none(source: str) -> str | None:
        try:
            return a.document_text(source)
        except RagError:
            return None

    warnings = check_against_corpus(suite, gold, text_or_none)
    warnings += [f"skipped while ingesting: {s.reason}" for s in report.skipped]
    rows = _ask_all(a, suite.cases, gold, text_or_none, progress)
    return _result(a, suite, docs_dir, index_dir, report, rows, warnings, started=t0)


def _ingest(a: Assistant, docs_dir: Path, progress: Progress | None) -> IngestReport:
    """Ingest the docs folder (progress messages prefixed "ingest: "); `EvalError` when nothing went in."""
    def ingest_progress(msg: str, done: int, total: int) -> None:
        if progress:
            progress(f"ingest: {msg}", done, total)

    report = a.ingest([docs_dir], progress=ingest_progress)
    if not report.added and not report.updated and not report.unchanged:
        skipped = "; ".join(s.reason for s in report.skipped[:5])
        raise EvalError(f"nothing could be ingested from {docs_dir}" + (f": {skipped}" if skipped else ""))
    return report


def _ask_all(a: Assistant, cases: list[EvalCase], gold: Callable[[EvalCase], str | None],
             document_text: Callable[[str], str | None], progress: Progress | None) -> list[CaseResult]:
    """One warm-up question, then every case asked and scored (a case whose question raises is a failed row)."""
    total = len(cases)
    if progress:
        progress("warming up", 0, total)
    a.ask(cases[0].question)  # loads the model and BM25 index outside the timed questions
    rows = []
    for i, case in enumerate(cases):
        if progress:
            progress(case.id, i, total)
        try:
            answer, turns = _ask_case(a, case)
        except RagError as e:
            rows.append(failed_row(case, gold(case), str(e)))
            continue
        rows.append(score_case(case, answer, gold(case), document_text, turns))
    if progress:
        progress("done", total, total)
    return rows


def _result(a: Assistant, suite: Suite, docs_dir: Path, index_dir: Path, report: IngestReport,
            rows: list[CaseResult], warnings: list[str], *, started: float) -> EvalResult:
    """The run as saved: what was asked over which corpus with which settings, the rows and their numbers."""
    documents = a.documents()
    total = len(suite.cases)
    answerable = sum(c.answerable for c in suite.cases)
    return EvalResult(
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        questions=display_path(suite.path), questions_sha256=suite.sha256, docs=display_path(docs_dir),
        corpus={"documents": len(documents), "sources": [d.source for d in documents],
                "chars": sum(d.chars for d in documents), "chunks": sum(d.chunks for d in documents)},
        settings=public_settings(a.settings), fingerprint=a.fingerprint(), index_dir=str(index_dir),
        ingest={"summary": report.summary(), "texts_embedded": report.texts_embedded, "seconds": round(report.seconds, 2)},
        duration_s=round(time.perf_counter() - started, 2), top_k=a.settings.top_k,
        metrics=aggregate(rows), by_type=by_type(rows),
        counts={"cases": total, "answerable": answerable, "unanswerable": total - answerable,
                "passed": sum(r.passed for r in rows), "errors": sum(r.error is not None for r in rows)},
        warnings=warnings, cases=rows)


def display_path(p: Path | str) -> str:
    """Repo-relative when inside the repo (stable across checkouts), else absolute."""
    p = Path(p).expanduser()
    try:
        return p.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(p.resolve())
