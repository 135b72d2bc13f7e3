"""Present a run: rich terminal tables, the JSON file, the HTML file; the small API the web UI uses.

For the UI: `summary(result) -> {metric: value}`, `load_result(path) -> EvalResult`,
`render_html(result, baseline=None) -> str` (baseline = an earlier run to compare with).
Left out: computing anything (results.py, compare.py) and the HTML layout itself (html.py).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from rag_cited.eval.cases import read_model
from rag_cited.eval.compare import Comparison
from rag_cited.eval.html import render_html
from rag_cited.eval.metrics import METRICS, format_metric
from rag_cited.eval.results import EvalResult

__all__ = ["load_result", "print_report", "render_html", "summary", "write_outputs"]

GROUP_TITLES = {"retrieval": "Retrieval", "answer": "Answer correctness", "citations": "Citation quality",
                "abstention": "Abstention", "overall": "Overall", "latency": "Latency"}


def summary(result: EvalResult) -> dict[str, float]:
    """The run's measured metrics, flat: {"hit@5": 0.98, "latency.total_ms.p95": 812.0, …}."""
    return {k: v for k, v in result.metrics.items() if v is not None}


def load_result(path: str | Path) -> EvalResult:
    """Read a result JSON written by `rag eval`; `EvalError` when it is missing or not a result."""
    return read_model(EvalResult, path, "an eval result JSON")


def write_outputs(result: EvalResult, out_dir: str | Path, baseline: EvalResult | None = None,
                  gate: list[str] | None = None) -> tuple[Path, Path]:
    """Write <stem>-<timestamp>.json/.html and <stem>-latest.json/.html under out_dir; return the timestamped pair."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(result.questions).stem
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    html = render_html(result, baseline, gate)
    json_text = result.model_dump_json(indent=1)
    paths = []
    for name in (f"{stem}-{stamp}", f"{stem}-latest"):
        (out / f"{name}.json").write_text(json_text, encoding="utf-8")
        (out / f"{name}.html").write_text(html, encoding="utf-8")
        paths.append((out / f"{name}.json", out / f"{name}.html"))
    return paths[0]


def _delta(name: str, comparison: Comparison | None) -> str:
    if comparison is None:
        return ""
    d = next((d for d in comparison.metrics if d.name == name), None)
    if d is None or d.delta is None:
        return ""
    if d.change == 0:
        return "[dim]±0[/]"
    style = "green" if d.change > 0 else "red"
    return f"[{style}]{format_metric(name, d.delta, signed=True)}[/]"


def metrics_table(result: EvalResult, comparison: Comparison | None = None) -> Table:
    t = Table(title=f"{result.questions}: {result.counts.get('cases', 0)} cases over {result.docs} "
                    f"(top_k {result.top_k})", title_justify="left")
    t.add_column("Group", style="dim")
    t.add_column("Metric")
    t.add_column("Value", justify="right")
    if comparison is not None:
        t.add_column("Was", justify="right", style="dim")
        t.add_column("Δ", justify="right")
    last = None
    for name, info in METRICS.items():
        v = result.metrics.get(name)
        if v is None and info.group == "latency":
            continue
        group = GROUP_TITLES.get(info.group, info.group) if info.group != last else ""
        if info.group != last and last is not None:
            t.add_section()
        last = info.group
        style = "bold red" if name == "citation_exactness" and v is not None and v < 1 else ""
        value = format_metric(name, v)
        row = [group, info.label, f"[{style}]{value}[/]" if style else value]
        if comparison is not None:
            old = next((d.old for d in comparison.metrics if d.name == name), None)
            row += [format_metric(name, old), _delta(name, comparison)]
        t.add_row(*row)
    return t


def types_table(result: EvalResult) -> Table:
    t = Table(title="By case type", title_justify="left")
    for col in ("type", "cases", "passed", "hit@1", "facts", "cite recall", "abstained"):
        t.add_column(col, justify="left" if col == "type" else "right")
    for name, v in result.by_type.items():
        cells = [v.get(k) for k in ("pass_rate", "hit@1", "facts_recall", "citation_recall", "abstained")]
        t.add_row(name, str(int(v["cases"])), *("–" if x is None else f"{x:.2f}" for x in cells))
    return t


def print_report(result: EvalResult, console: Console | None = None, comparison: Comparison | None = None,
                 gate: list[str] | None = None, max_failures: int = 12) -> None:
    """Tables, the failing (or, with a comparison, regressed) questions, then the gate's verdict."""
    console = console or Console()
    console.print(metrics_table(result, comparison))
    console.print(types_table(result))
    for w in result.warnings:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
    if comparison is not None:
        c = comparison.counts()
        console.print(f"vs run of {comparison.old_created_at}: [red]{c['regressed']} regressed[/], "
                      f"[red]{c['worse']} worse[/], [green]{c['fixed']} fixed[/], [green]{c['better']} better[/], "
                      f"{c['new']} new, {c['removed']} removed")
        for ch in comparison.cases:
            if ch.status in ("regressed", "worse", "fixed", "better"):
                colour = "red" if ch.status in ("regressed", "worse") else "green"
                deltas = ", ".join(f"{k} {v:+.2f}" for k, v in ch.deltas.items())
                console.print(f"  [{colour}]{ch.status:9}[/] {ch.id}" + (f"  ({deltas})" if deltas else ""),
                              highlight=False)
    failed = [c for c in result.cases if not c.passed]
    console.print(f"{result.counts.get('passed', 0)}/{len(result.cases)} cases passed"
                  + (f"; failing ({min(len(failed), max_failures)} of {len(failed)} shown):" if failed else "."))
    for case in failed[:max_failures]:
        console.print(f"  [red]✗[/] [bold]{case.id}[/] [dim]({case.type})[/] {'; '.join(case.failures)}",
                      highlight=False)
    if gate is not None:
        if gate:
            console.print("[bold red]Quality gate FAILED:[/]")
            for line in gate:
                console.print(f"  [red]•[/] {line}", highlight=False)
        else:
            console.print("[bold green]Quality gate passed.[/]")
