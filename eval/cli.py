"""`rag eval` arguments and the command itself: run, print, write JSON + HTML, compare, gate.

Exit codes: 0 done (and the gate, if any, passed), 1 the gate failed, 2 the suite, corpus or a
file named on the command line is unusable. rag_cited/cli.py mounts this with `add_arguments(parser)` and
`run(args, settings)`; `python -m rag_cited.eval` does the same stand-alone.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from rag import RagError, Settings

EPILOG = """examples:
  rag eval                                    seed suite, report under ./eval/out
  rag eval --compare eval/out/questions-latest.json
  rag eval --questions my.yaml --docs my_folder/
  rag eval --baseline eval/baseline.json      exit 1 when a metric falls below its baseline
  rag eval --fail-under hit@5=0.9 citation_exactness=1
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rag_cited.eval.cases import DEFAULT_QUESTIONS

    parser.epilog = (parser.epilog or "") + EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS, metavar="FILE",
                        help="question suite YAML (default: the seed suite, eval/questions.yaml)")
    parser.add_argument("--docs", type=Path, default=None, metavar="DIR",
                        help="documents folder (default: the `docs:` folder named in the YAML)")
    parser.add_argument("--top-k", type=int, default=None, metavar="N", help="chunks retrieved per question")
    parser.add_argument("--out", type=Path, default=Path("eval") / "out", metavar="DIR",
                        help="where the JSON and HTML go (default: eval/out under the current directory)")
    parser.add_argument("--compare", type=Path, default=None, metavar="FILE",
                        help="an earlier result JSON: show what got better and worse")
    parser.add_argument("--fail-under", action="extend", nargs="+", default=[], metavar="METRIC=VALUE",
                        help="exit 1 when METRIC is below VALUE (above it for latency and false_abstain_rate)")
    parser.add_argument("--baseline", type=Path, default=None, metavar="FILE",
                        help="gate on a baseline file such as eval/baseline.json: exit 1 on a drop beyond tolerance")
    parser.add_argument("--write-baseline", type=Path, default=None, metavar="FILE",
                        help="after the run, write a baseline file from its numbers (tolerance 0.05)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _progress_bar(console: Console):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("[bold]{task.fields[phase]}[/]"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("{task.description}"), console=console, transient=True)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from rag_cited.eval import compare as gates
    from rag_cited.eval import harness
    from rag_cited.eval.cases import EvalError
    from rag_cited.eval.report import load_result, print_report, write_outputs

    console = Console()
    err = Console(stderr=True)
    try:
        thresholds = gates.parse_fail_under(args.fail_under)
        old = load_result(args.compare) if args.compare else None
        baseline = gates.load_baseline(args.baseline) if args.baseline else None
        if baseline and not gates.same_suite(harness.display_path(args.questions), baseline.questions):
            raise EvalError(f"{args.baseline} is a baseline for {baseline.questions}, not {args.questions}; "
                            "pass the matching --questions or another --baseline")
        overrides = {"top_k": args.top_k} if args.top_k else {}
        if args.no_progress:
            result = harness.run(args.questions, args.docs, settings, **overrides)
        else:
            with _progress_bar(err) as bar:
                task = bar.add_task("", total=None, phase="ingest")

                def progress(msg: str, done: int, total: int) -> None:
                    phase = "ingest" if msg.startswith("ingest: ") else "questions"
                    bar.update(task, completed=done, total=total or None, phase=phase,
                               description=msg.removeprefix("ingest: "))

                result = harness.run(args.questions, args.docs, settings, progress=progress, **overrides)
        gate = None
        if baseline is not None and baseline.questions_sha256 not in (None, result.questions_sha256):
            err.print(f"[yellow]warning:[/] {args.questions} changed since {args.baseline} was made; "
                      "regenerate it with --write-baseline if the change was intended", highlight=False)
        if baseline is not None or thresholds:
            gate = (gates.check_baseline(result, baseline) if baseline else []) + gates.check_fail_under(result, thresholds)
        comparison = gates.compare(old, result) if old is not None else None
        json_path, html_path = write_outputs(result, args.out, old, gate)
        print_report(result, console, comparison, gate)
        console.print(f"wrote {json_path} and {html_path} (also *-latest.*)", highlight=False)
        if args.write_baseline:
            console.print(f"wrote baseline {gates.write_baseline(result, args.write_baseline)}", highlight=False)
    except RagError as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False)
        return 2
    return 1 if gate else 0
