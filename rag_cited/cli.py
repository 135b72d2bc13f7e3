"""The `rag` command: ingest, ask, chat, status, collections, doctor, delete, serve, mcp, eval.

Every command takes `--data-dir` (also `RAG_DATA_DIR`). Errors print one line to stderr and exit 1
(2 for bad usage); tracebacks are for bugs only. `serve`, `mcp` and `eval` hand over to `ui/` and `eval/`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import ValidationError

from rag.errors import RagError
from rag.settings import Settings

if TYPE_CHECKING:
    from rag.engine import Assistant


def _assistant(settings: Settings) -> Assistant:
    from rag.engine import Assistant  # the engine's libraries load only for commands that use it

    return Assistant(settings)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not a usage dump
        self.exit(2, f"rag: error: {message} (see `{self.prog} --help`)\n")


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = args.data_dir
    if getattr(args, "collection", None):
        overrides["collection"] = args.collection
    if getattr(args, "top_k", None) is not None:
        overrides["top_k"] = args.top_k
    if getattr(args, "mode", None):
        overrides["answer_mode"] = args.mode
    if getattr(args, "follow_symlinks", False):
        overrides["follow_symlinks"] = True
    return Settings(**overrides)


def _progress_bar():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("{task.description}", style="dim"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), transient=True, console=_err())
    task = progress.add_task("ingesting", total=None)

    def update(message: str, done: int, total: int) -> None:
        progress.update(task, description=message[:60], completed=done, total=total or None)

    return progress, update


def _err():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _out():
    from rich.console import Console

    return Console(highlight=False)


def _print_report(report, console) -> None:
    console.print(f"[bold]{report.summary()}[/bold]")
    for name, items in (("added", report.added), ("updated", report.updated), ("removed", report.removed)):
        for source in items:
            console.print(f"  {name:8} {source}")
    for s in report.skipped:
        console.print(f"  [yellow]skipped[/yellow]  {s.reason}")


def _seed_if_empty(assistant: Assistant) -> None:
    if assistant.status()["documents"] == 0:
        err = _err()
        err.print("[dim]The index is empty: ingesting the seed corpus first…[/dim]")
        progress, update = _progress_bar()
        with progress:
            report = assistant.ensure_seeded(progress=update)
        if report:
            err.print(f"[dim]{report.summary()}[/dim]")


def _print_answer(answer, console, streamed: bool = False) -> None:
    if not streamed:
        console.print(answer.text, markup=False)
    if answer.notice and not streamed:
        console.print(f"[yellow]{answer.notice}[/yellow]")
    if answer.citations:
        heading = "Closest passages" if answer.abstained else "Sources"
        console.print(f"\n[bold]{heading}[/bold]")
        for c in answer.citations:
            console.print(f"[cyan][{c.id}][/cyan] [bold]{c.title}[/bold] — {c.source} "
                          f"(chars {c.start}-{c.end}, score {c.score:.2f})", markup=True, highlight=False)
            console.print(f"    “{c.quote}”", markup=False)


def _ask_once(assistant: Assistant, question: str, history, console, top_k=None):
    """Print the answer as it streams, then the verified answer if verification changed it, then sources."""
    from rag.types import Final, TextDelta

    answer, streamed = None, ""
    for event in assistant.stream(question, history, top_k=top_k):
        if isinstance(event, TextDelta):
            console.print(event.text, end="", markup=False, soft_wrap=True)
            streamed += event.text
        elif isinstance(event, Final):  # its notice (if any) is printed below, once
            answer = event.answer
    if streamed:
        console.print()
        if answer.notice:
            console.print(f"[yellow]{answer.notice}[/yellow]")
        if answer.text.strip() != streamed.strip():
            console.print("[bold]Verified answer:[/bold]")
            console.print(answer.text, markup=False)
    _print_answer(answer, console, streamed=bool(streamed))
    return answer


def cmd_ingest(args, settings: Settings) -> int:
    assistant = _assistant(settings)
    progress, update = _progress_bar()
    with progress:
        report = assistant.ingest(args.paths, rebuild=args.rebuild, prune=not args.no_prune, progress=update)
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        _print_report(report, _out())
    nothing = not (report.added or report.updated or report.unchanged or report.removed)
    return 1 if nothing and report.skipped else 0


def cmd_ask(args, settings: Settings) -> int:
    question = " ".join(args.question).strip()
    if not question:
        raise RagError("empty question: rag ask \"your question\"")
    assistant = _assistant(settings)
    _seed_if_empty(assistant)
    if args.json:
        print(assistant.ask(question, top_k=args.top_k).model_dump_json(indent=2))
        return 0
    _ask_once(assistant, question, None, _out(), top_k=args.top_k)
    return 0


def cmd_chat(args, settings: Settings) -> int:
    from rag.types import Answer, conversation

    assistant = _assistant(settings)
    _seed_if_empty(assistant)
    console = _out()
    st = assistant.status()
    console.print(f"[bold]Chat with {st['documents']} document(s)[/bold] — follow-up questions use the conversation. "
                  "Commands: /new (forget the conversation), /docs, /quit.")
    turns: list[Answer] = []  # this conversation's answers, oldest first
    while True:
        try:
            question = input("\nyou> ").strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            return 0
        if not question:
            continue
        if question in ("/quit", "/exit", "/q"):
            return 0
        if question == "/new":
            turns = []
            console.print("[dim]New conversation.[/dim]")
            continue
        if question == "/docs":
            for d in assistant.documents():
                console.print(f"  {d.source} — {d.title} ({d.chunks} chunks)")
            continue
        try:
            answer = _ask_once(assistant, question, conversation(turns), console, top_k=args.top_k)
        except RagError as e:
            console.print(f"[red]{e}[/red]")
            continue
        turns.append(answer)


def cmd_status(args, settings: Settings) -> int:
    st = _assistant(settings).status()
    if args.json:
        print(json.dumps(st, indent=2))
        return 0
    console = _out()
    for key in ("data_dir", "chroma", "collection", "documents", "chunks", "answer_mode"):
        console.print(f"{key:12} {st[key]}")
    console.print(f"{'fingerprint':12} {st['fingerprint']}")
    if st["fingerprint"] != st["settings_fingerprint"] and st["chunks"]:
        console.print(f"[yellow]settings fingerprint differs: {st['settings_fingerprint']} — run `rag ingest PATH --rebuild`[/yellow]")
    if args.docs:
        for d in _assistant(settings).documents():
            console.print(f"  {d.source} — {d.title} ({d.chunks} chunks, {d.ingested_at})")
    return 0


def cmd_delete(args, settings: Settings) -> int:
    assistant = _assistant(settings)
    missing = [s for s in args.sources if not assistant.delete(s)]
    for s in missing:
        print(f"rag: not in the index: {s} (see `rag status --docs`)", file=sys.stderr)
    return 1 if missing else 0


def cmd_collections(args, settings: Settings) -> int:
    """List the collections (workspaces) of this data dir or Chroma server, or delete one."""
    from rag.collections import delete_collection, list_collections

    if args.delete:
        if not delete_collection(settings, args.delete):
            print(f"rag: no collection '{args.delete}' (see `rag collections`)", file=sys.stderr)
            return 1
        print(f"deleted collection {args.delete}")
        return 0
    found = list_collections(settings)
    if args.json:
        print(json.dumps([c.model_dump() for c in found], indent=2))
        return 0
    console = _out()
    if not found:
        console.print("no collections yet: `rag ingest PATH [--collection NAME]` creates one")
    for c in found:
        mark = "*" if c.name == settings.collection else " "
        console.print(f"{mark} {c.name:30} {c.documents:6} documents {c.chunks:8} chunks", markup=False)
    return 0


def cmd_doctor(args, settings: Settings) -> int:
    from rag.doctor import run_checks

    ok = True
    console = _out()
    for name, passed, detail in run_checks(settings):
        ok &= passed
        mark = "[green]ok[/green]  " if passed else "[red]FAIL[/red]"
        console.print(f"{mark} {name}: {detail}", highlight=False)
    return 0 if ok else 1


def cmd_serve(args, settings: Settings) -> int:
    from rag_cited.ui.app import serve

    assistant = _assistant(settings)
    _seed_if_empty(assistant)
    try:
        serve(assistant, host=args.host, port=args.port, share=args.share == "yes", auth=args.auth,
              api_key=args.api_key)
    except OSError as e:  # port taken, address not available
        raise RagError(f"cannot serve on {args.host}:{args.port} ({e}); pick another --port") from e
    return 0


def cmd_mcp(args, settings: Settings) -> int:
    from rag_cited.ui.mcp_server import run  # the MCP SDK loads only for this command

    try:
        return run(settings, http=args.http, host=args.host, port=args.port)
    except OSError as e:
        if not args.http:
            raise
        raise RagError(f"cannot serve on {args.host}:{args.port} ({e}); pick another --port") from e


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="index and cache folder (default: RAG_DATA_DIR or a per-user data dir)")
    common.add_argument("--collection", help="document collection to use (default: RAG_COLLECTION or 'documents')")
    p = _Parser(prog="rag", description="Answers from your documents, with exact cited sentences.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _document_commands(sub, common)
    _question_commands(sub, common)
    _server_commands(sub, common)
    return p


def _document_commands(sub, common) -> None:
    s = sub.add_parser("ingest", parents=[common], help="add or update files and folders")
    s.add_argument("paths", nargs="+")
    s.add_argument("--rebuild", action="store_true", help="drop the index first (after changing model/chunk settings)")
    s.add_argument("--no-prune", action="store_true", help="keep documents whose files vanished from an ingested folder")
    s.add_argument("--follow-symlinks", action="store_true",
                   help="also read symbolic links that point outside the folder (RAG_FOLLOW_SYMLINKS)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("status", parents=[common], help="what is indexed, where, with which settings")
    s.add_argument("--json", action="store_true")
    s.add_argument("--docs", action="store_true", help="list the documents")
    s.set_defaults(func=cmd_status)

    s = sub.add_parser("delete", parents=[common], help="remove documents by source name")
    s.add_argument("sources", nargs="+")
    s.set_defaults(func=cmd_delete)

    s = sub.add_parser("collections", parents=[common], help="list the collections (workspaces), or delete one")
    s.add_argument("--json", action="store_true")
    s.add_argument("--delete", metavar="NAME", help="delete collection NAME: its documents and chunks")
    s.set_defaults(func=cmd_collections)

    s = sub.add_parser("doctor", parents=[common], help="check the model, tokenizer, caches, Chroma and LLM offline")
    s.set_defaults(func=cmd_doctor)


def _question_commands(sub, common) -> None:
    s = sub.add_parser("ask", parents=[common], help="answer one question")
    s.add_argument("question", nargs="+")
    s.add_argument("--json", action="store_true", help="print the Answer as JSON")
    s.add_argument("--top-k", type=int)
    s.add_argument("--mode", choices=["auto", "extractive", "llm"])
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("chat", parents=[common], help="terminal chat with follow-up questions")
    s.add_argument("--top-k", type=int)
    s.add_argument("--mode", choices=["auto", "extractive", "llm"])
    s.set_defaults(func=cmd_chat)

    s = sub.add_parser("eval", parents=[common], help="run the fixed question set and report metrics")
    try:
        from rag_cited.eval.cli import add_arguments
    except ImportError:  # eval/ ships with the package; a partial install still serves the rest
        add_arguments = None
    if add_arguments:
        add_arguments(s)
    s.set_defaults(func=cmd_eval)


def _server_commands(sub, common) -> None:
    s = sub.add_parser("serve", parents=[common], help="the web chat (Gradio) and the OpenAI-compatible API")
    s.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1: this machine only)")
    s.add_argument("--port", type=int, default=7860)
    s.add_argument("--share", choices=["yes", "no"], default="no", help="Gradio share link (needs the internet)")
    s.add_argument("--auth", help="user:password or a file of such lines (also RAG_AUTH)")
    s.add_argument("--api-key", help="Bearer key for the OpenAI-compatible API at /v1 (better: RAG_API_KEY, which "
                                     "other users cannot see in the process list)")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("mcp", parents=[common], help="MCP server for agents (stdio; --http for streamable HTTP)")
    s.add_argument("--http", action="store_true", help="serve streamable HTTP at http://HOST:PORT/mcp instead of stdio")
    s.add_argument("--host", default="127.0.0.1", help="bind address with --http (default 127.0.0.1: this machine only)")
    s.add_argument("--port", type=int, default=7861, help="port with --http (default 7861)")
    s.set_defaults(func=cmd_mcp)


def cmd_eval(args, settings: Settings) -> int:
    from rag_cited.eval.cli import run

    return run(args, settings)


def main(argv: Sequence[str] | None = None) -> int:
    import logging

    handler = logging.StreamHandler(sys.stderr)  # the library's notices (e.g. waiting for a lock), one line each
    handler.setFormatter(logging.Formatter("rag: %(message)s"))
    logging.getLogger("rag").addHandler(handler)
    logging.getLogger("rag").setLevel(logging.INFO)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
        return args.func(args, settings)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "settings"
        print(f"rag: error: setting '{field}' ({'RAG_' + field.upper()}): {err['msg']}", file=sys.stderr)
        return 2
    except RagError as e:
        print(f"rag: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
