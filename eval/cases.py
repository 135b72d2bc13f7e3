"""The question file: load a YAML suite into validated `EvalCase`s, then check them against the corpus.

Two steps, because the second needs the index: `load_suite(path)` checks the schema (every error names
the case id and field), `check_against_corpus(suite, gold_source, document_text)` checks that each
case's source was ingested and each evidence string is an exact substring of its extracted text. Both
raise `EvalError` listing every problem at once. Left out: checking that an answer is *right*
(that is what the run measures).

Schema (see eval/questions.yaml):
    version: 1
    docs: seeds                      # folder, relative to the repo root (or to the YAML's folder)
    cases:
      - id: kebab-id
        type: fact                   # free-form label used to break the numbers down
        question: "…"
        history: ["earlier user question", …]
        answerable: true
        source: file.txt             # relative to docs (answerable cases)
        expected: [["alias", "alias"], …]   # facts; any alias satisfies one
        evidence: ["exact substring", …]
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rag import RagError
from rag_cited.eval.metrics import find_all, normalize

DEFAULT_QUESTIONS = Path(__file__).resolve().parent / "questions.yaml"  # the seed suite


class EvalError(RagError):
    """The question file or the corpus it names is unusable; the message lists each problem."""


class EvalCase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="Unique case id")
    type: str = Field("fact", pattern=r"^[a-z][a-z0-9_-]*$", description="Label for the per-type breakdown")
    question: str = Field(min_length=1)
    history: list[str] = Field(default_factory=list, description="Earlier user questions, oldest first")
    answerable: bool = True
    source: str | None = Field(None, description="Document path relative to the docs folder")
    expected: list[list[str]] = Field(default_factory=list, description="Facts; each a list of aliases")
    evidence: list[str] = Field(default_factory=list, description="Exact substrings of the source's text")

    @field_validator("expected")
    @classmethod
    def _facts(cls, v: list[list[str]]) -> list[list[str]]:
        for i, aliases in enumerate(v):
            if not aliases or not all(a.strip() for a in aliases):
                raise ValueError(f"fact #{i + 1} has an empty alias or no alias at all")
        return v

    @field_validator("evidence", "history")
    @classmethod
    def _non_empty(cls, v: list[str]) -> list[str]:
        if any(not s.strip() for s in v):
            raise ValueError("empty string in list")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> EvalCase:
        if self.answerable:
            missing = [f for f in ("source", "evidence") if not getattr(self, f)]
            if missing:
                raise ValueError(f"an answerable case needs {' and '.join(missing)}")
        elif self.evidence or self.expected:
            raise ValueError("an unanswerable case (answerable: false) takes no expected facts or evidence")
        if self.type == "unanswerable" and self.answerable:
            raise ValueError("type 'unanswerable' needs answerable: false")
        return self


class Suite(BaseModel):
    model_config = ConfigDict(frozen=True)
    path: Path
    sha256: str
    version: int = 1
    docs: str | None = None
    cases: list[EvalCase]

    def resolve_docs(self, repo_root: Path) -> Path:
        """The docs folder named in the file: tried against the YAML's folder, its parent, the repo, the cwd."""
        if not self.docs:
            raise EvalError(f"{self.path}: no `docs:` folder in the file; pass --docs DIR")
        rel = Path(self.docs).expanduser()
        tried = [rel] if rel.is_absolute() else [base / rel for base in
                                                 (self.path.parent, self.path.parent.parent, repo_root, Path.cwd())]
        for p in tried:
            if p.is_dir():
                return p.resolve()
        if self.docs == "seeds":  # an installed package keeps the seed corpus inside rag/
            from rag import seeds_path

            return seeds_path()
        raise EvalError(f"{self.path}: docs folder '{self.docs}' not found (tried {', '.join(map(str, tried))}); "
                        "pass --docs DIR")


def _where(case: dict, index: int) -> str:
    cid = case.get("id") if isinstance(case, dict) else None
    return f"case '{cid}'" if cid else f"case #{index + 1}"


def load_suite(path: str | Path) -> Suite:
    """Parse and schema-check a question file; `EvalError` lists every bad case and field."""
    path = Path(path).expanduser().resolve()
    try:
        raw_bytes = path.read_bytes()
    except OSError as e:
        raise EvalError(f"cannot read question file {path}: {e.strerror or e}") from e
    try:
        data = yaml.safe_load(raw_bytes.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise EvalError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise EvalError(f"{path}: expected a mapping with a `cases:` list (see eval/questions.yaml)")
    unknown = set(data) - {"version", "docs", "cases"}
    errors: list[str] = [f"unknown top-level key '{k}'" for k in sorted(unknown)]
    cases: list[EvalCase] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(data["cases"]):
        where = _where(raw, i)
        if not isinstance(raw, dict):
            errors.append(f"{where}: expected a mapping, got {type(raw).__name__}")
            continue
        try:
            case = EvalCase.model_validate(raw)
        except ValidationError as e:
            for err in e.errors():
                field = ".".join(str(p) for p in err["loc"]) or "(case)"
                errors.append(f"{where}: field '{field}': {err['msg']}")
            continue
        if case.id in seen:
            errors.append(f"{where}: duplicate id (also case #{seen[case.id] + 1})")
        seen.setdefault(case.id, i)
        cases.append(case)
    if not data["cases"]:
        errors.append("no cases")
    if errors:
        raise EvalError(f"{path}: {len(errors)} problem(s):\n  " + "\n  ".join(errors))
    return Suite(path=path, sha256=hashlib.sha256(raw_bytes).hexdigest(), version=int(data.get("version") or 1),
                 docs=data.get("docs"), cases=cases)


def check_against_corpus(suite: Suite, gold_source: Callable[[EvalCase], str],
                         document_text: Callable[[str], str | None]) -> list[str]:
    """Check sources and evidence against the ingested text; raise `EvalError` naming each bad case.

    Returns warnings that do not stop a run: an expected fact none of whose aliases occur in the
    source (an extractive answer can never contain it).
    """
    errors: list[str] = []
    warnings: list[str] = []
    for case in suite.cases:
        if not case.answerable:
            continue
        source = gold_source(case)
        text = document_text(source)
        if text is None:
            errors.append(f"case '{case.id}': source '{case.source}' ({source}) is not in the ingested corpus")
            continue
        for ev in case.evidence:
            if not find_all(text, ev):
                hint = " (check quotes: the text may use curly ‘ ’ “ ”)" if any(q in ev for q in "'\"") else ""
                errors.append(f"case '{case.id}': evidence not found in {source}: {ev!r}{hint}")
        norm = f" {normalize(text)} "
        for aliases in case.expected:
            if not any(f" {normalize(a)} " in norm if normalize(a) else a.strip() in text for a in aliases):
                warnings.append(f"case '{case.id}': no alias of fact {aliases} occurs in {source}; "
                                "an extractive answer cannot contain it")
    if errors:
        raise EvalError(f"{suite.path}: {len(errors)} case(s) do not match the corpus:\n  " + "\n  ".join(errors))
    return warnings


def read_model(model: type[BaseModel], path: str | Path, what: str):
    """Load a pydantic `model` from the JSON file at `path`; `EvalError` naming the file and `what` it should be."""
    try:
        return model.model_validate_json(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise EvalError(f"cannot read {what} {path}: {e.strerror or e}") from e
    except ValidationError as e:
        first = e.errors()[0]
        raise EvalError(f"{path} is not {what} ({e.error_count()} problem(s), first: {first['msg']} "
                        f"at {'.'.join(map(str, first['loc']))})") from e
