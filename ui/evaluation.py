"""The Evaluation tab: run the fixed question suite (or load the last run) and show its metrics and report.

`evaluation_tab(assistant)` builds the tab inside an open `gr.Tabs()` and wires its (private) events.
A run goes through `eval.harness.run` with the app's settings and its already-loaded embedding model,
on the harness's own eval index (``<data_dir>/eval/…``; the chat's index is never touched), and is
saved like `rag eval` does (JSON + self-contained HTML) under ``<data_dir>/eval-out``. "Load last
result" shows the newest JSON there. Each run is compared with the previous run of the same suite (read
before the new run overwrites "<suite>-latest.json", so never with itself), on the page and in the saved
report. The report is the harness's HTML in a sandboxed iframe (srcdoc).
Left out: choosing a baseline file and gates (that is `rag eval --baseline`); one run at a time.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from rag import Assistant, RagError
from rag_cited.eval import harness
from rag_cited.eval.harness import DEFAULT_QUESTIONS, display_path
from rag_cited.eval.metrics import METRICS, format_metric
from rag_cited.eval.report import GROUP_TITLES, load_result, render_html, summary, write_outputs

PRIVATE = "private"  # as in ui/app.py: the frontend calls these events, the API does not list them
OUT_DIRNAME = "eval-out"
REPORT_HEIGHT = 820


def out_dir(assistant: Assistant) -> Path:
    """Where the tab writes its runs and looks for the last one."""
    return assistant.settings.data_dir / OUT_DIRNAME


def newest_result_file(folder: Path) -> Path | None:
    """The most recently written result JSON in `folder` (None when there is none)."""
    files = [p for p in folder.glob("*.json") if p.is_file()] if folder.is_dir() else []
    # "<stem>-latest.json" is a copy of the newest timestamped file: prefer the timestamped name on a tie
    return max(files, key=lambda p: (p.stat().st_mtime, not p.stem.endswith("-latest")), default=None)


def saved_runs(folder: Path, stem: str | None = None) -> list[Path]:
    """The timestamped result files in `folder` (of suite `stem` when given), newest first; the "-latest" copies
    are left out (a run overwrites them, so reading one after a run reads that run)."""
    files = [p for p in folder.glob(f"{stem}-*.json" if stem else "*.json")
             if p.is_file() and not p.stem.endswith("-latest")] if folder.is_dir() else []
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name), reverse=True)


def previous_run(folder: Path, questions: str, skip: Path | None = None):
    """The newest saved run of the question file `questions` (display path) other than `skip`, or None."""
    for path in saved_runs(folder, Path(questions).stem):
        if skip is not None and path.resolve() == skip.resolve():
            continue
        try:
            old = load_result(path)
        except RagError:
            continue  # a damaged or foreign file: not a baseline
        if old.questions == questions:
            return old
    return None


def summary_table(result) -> str:
    """The run's measured metrics as an HTML table (group, metric, value), in the harness's metric order."""
    values = summary(result)
    names = [n for n in METRICS if n in values] + sorted(n for n in values if n not in METRICS)
    rows, last = [], None
    for name in names:
        info = METRICS.get(name)
        group = GROUP_TITLES.get(info.group, info.group) if info else ""
        label = info.label if info else name
        rows.append(f"<tr><td class=group>{html.escape(group) if group != last else ''}</td>"
                    f"<td title='{html.escape(name, quote=True)}'>{html.escape(label)}</td>"
                    f"<td class=num>{format_metric(name, values[name])}</td></tr>")
        last = group
    c = result.counts
    caption = (f"<b>{html.escape(Path(result.questions).name)}</b>: {c.get('passed', 0)}/{c.get('cases', 0)} cases "
               f"passed over {html.escape(Path(result.docs).name)}/ (top_k {result.top_k}, {result.duration_s:.0f} s, {html.escape(result.created_at)})")
    return (f"<div class=doc-table-wrap><table class='doc-table eval-metrics'><caption>{caption}</caption><thead><tr><th>Group</th><th>Metric</th>"
            f"<th>Value</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def report_frame(report_html: str) -> str:
    """The self-contained report in an iframe: srcdoc attribute-escaped, sandboxed (no scripts, no same origin)."""
    return (f'<iframe class="eval-report" title="Evaluation report" sandbox="" '
            f'style="width:100%;height:{REPORT_HEIGHT}px;border:1px solid #d9dee3;border-radius:8px;background:#fff" '
            f'srcdoc="{html.escape(report_html, quote=True)}"></iframe>')


def show(result, source: str, baseline=None) -> tuple[str, str, str]:
    status = f'<span class="ok">{html.escape(source)}</span>'
    return status, summary_table(result), report_frame(render_html(result, baseline))


@dataclass(frozen=True)
class EvaluationTab:
    """The tab's components that its events read or write."""

    questions: gr.Textbox
    docs: gr.Textbox
    run: gr.Button
    load: gr.Button
    status: gr.HTML
    table: gr.HTML
    report: gr.HTML


def evaluation_tab(assistant: Assistant, server_paths: bool = True) -> None:
    """The "Evaluation" tab and its events; call inside `with gr.Tabs():` of the app's Blocks.

    With server_paths=False the suite fields are read-only and runs use the bundled seed suite: a shared app
    must not let its users point the harness at arbitrary files on the server.
    """
    folder = out_dir(assistant)
    tab = _components(folder, server_paths)

    def on_run(questions_path: str, docs_path: str, progress=gr.Progress()):  # noqa: B008 (Gradio injects it)
        if not server_paths:  # the fields are read-only in the page, but an event can still carry other values
            questions_path, docs_path = str(DEFAULT_QUESTIONS), ""
        return run_suite(assistant, folder, questions_path, docs_path, progress)

    def on_load():
        return load_last(folder)

    outputs = [tab.status, tab.table, tab.report]
    tab.run.click(on_run, [tab.questions, tab.docs], outputs, api_visibility=PRIVATE, concurrency_limit=1,
                  concurrency_id="evaluation", show_progress_on=[tab.status])
    tab.load.click(on_load, None, outputs, api_visibility=PRIVATE)


def _components(folder: Path, server_paths: bool) -> EvaluationTab:
    with gr.Tab("Evaluation", id="evaluation"):
        gr.Markdown("### Evaluate answer quality\nRuns a fixed question suite through the assistant on a separate "
                    "evaluation index (your documents are not touched) and reports retrieval, answer, citation, "
                    f"abstention and latency metrics. The seed suite takes a minute or two. Runs are saved under "
                    f"`{folder}`.", elem_classes=["hint"])
        with gr.Accordion("Suite", open=False, elem_id="eval-suite"):
            questions = gr.Textbox(display_path(DEFAULT_QUESTIONS), label="Questions file (YAML)",
                                   elem_id="eval-questions", interactive=server_paths,
                                   info="Path on the server, e.g. eval/questions.yaml" if server_paths else
                                   "Fixed to the bundled suite: this app is reachable by others")
            docs = gr.Textbox("", label="Documents folder", elem_id="eval-docs", interactive=server_paths,
                              placeholder="default: the docs folder named in the questions file")
        with gr.Row():
            run = gr.Button("Run evaluation", variant="primary", elem_id="eval-run", scale=0, min_width=200)
            load = gr.Button("Load last result", variant="secondary", elem_id="eval-load", scale=0, min_width=200)
        status = gr.HTML(elem_id="eval-status")
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=380):
                table = gr.HTML(elem_id="eval-summary")
            with gr.Column(scale=5, min_width=340):
                report = gr.HTML(elem_id="eval-report")
    return EvaluationTab(questions, docs, run, load, status, table, report)


def _resolve(path: str) -> Path:
    """A path typed into the tab: as given when absolute or present, else relative to the repository."""
    p = Path(path.strip()).expanduser()
    return p if p.is_absolute() or p.exists() else DEFAULT_QUESTIONS.parent.parent / p


def run_suite(assistant: Assistant, folder: Path, questions_path: str, docs_path: str,
              progress) -> tuple[str, str, str]:
    """Run the suite with the app's settings and loaded model, save it under `folder`, show it (compared with the
    previous run of the same suite)."""
    qfile = _resolve(questions_path or str(DEFAULT_QUESTIONS))
    if not qfile.is_file():
        raise gr.Error(f"No questions file at {qfile}.")
    progress(0.0, desc="Preparing the evaluation index")
    previous = previous_run(folder, display_path(qfile))  # read now: the run writes over "<suite>-latest.json"
    try:
        result = harness.run(qfile, _resolve(docs_path) if docs_path and docs_path.strip() else None,
                             assistant.settings, embed_model=assistant.embedder,  # the model already loaded
                             progress=lambda msg, done, total: progress((done, max(total, 1)), desc=msg))
    except RagError as e:
        raise gr.Error(str(e)) from e
    baseline = previous if previous is not None and previous.questions == result.questions else None
    json_path, _ = write_outputs(result, folder, baseline)  # the saved report shows the comparison too
    note = f" (compared with the previous run, of {baseline.created_at})" if baseline else ""
    return show(result, f"Finished in {result.duration_s:.0f} s; saved {json_path}{note}.", baseline)


def load_last(folder: Path) -> tuple[str, str, str]:
    """Show the newest saved run in `folder`, compared with the run of the same suite before it (or say there is
    none)."""
    runs = saved_runs(folder)
    path = runs[0] if runs else newest_result_file(folder)
    if path is None:
        return '<span class="bad">No saved evaluation yet: run one first.</span>', "", ""
    try:
        result = load_result(path)
    except RagError as e:
        raise gr.Error(str(e)) from e
    baseline = previous_run(folder, result.questions, skip=path)
    note = f" (compared with the previous run, of {baseline.created_at})" if baseline else ""
    return show(result, f"Loaded {path}{note}.", baseline)
