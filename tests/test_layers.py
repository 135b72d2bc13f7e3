"""The shape of the code: dependencies point one way, no cycles inside `rag`, a cheap `rag --help`, and an
installed wheel with no generic top-level names."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("gradio", "chromadb", "onnxruntime", "llama_index", "matplotlib")


def _imports(path: Path) -> set[str]:
    """Modules a file imports at run time (everything but `if TYPE_CHECKING:` blocks), function bodies included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)}
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def _module(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def test_the_library_imports_none_of_its_front_ends():
    for path in (REPO / "rag").rglob("*.py"):
        bad = {m for m in _imports(path) if m.split(".")[0] in ("ui", "eval", "rag_cited", "gradio")}
        assert not bad, f"{path.relative_to(REPO)} imports {sorted(bad)}"


def test_no_import_cycle_inside_rag():
    files = {_module(p): p for p in (REPO / "rag").rglob("*.py")}
    graph = {m: {d for d in _imports(p) if d in files and d != m} for m, p in files.items()}
    graph["rag"] = set()  # the package __init__ only re-exports, lazily

    def visit(m: str, stack: list[str], done: set[str]) -> None:
        if m in stack:
            pytest.fail("import cycle: " + " -> ".join(stack[stack.index(m):] + [m]))
        if m in done:
            return
        for d in sorted(graph.get(m, ())):
            visit(d, stack + [m], done)
        done.add(m)

    done: set[str] = set()
    for m in sorted(graph):
        visit(m, [], done)


def test_rag_help_loads_no_heavy_library():
    rag = Path(sys.executable).parent / "rag"
    r = subprocess.run([str(rag), "--help"], capture_output=True, text=True, env={"PYTHONPROFILEIMPORTTIME": "1",
                                                                                   "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0 and "ingest" in r.stdout
    loaded = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in r.stderr.splitlines() if "|" in line}
    assert "rag_cited" in loaded and not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


@pytest.mark.slow
def test_the_wheel_installs_no_generic_top_level_name(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = tmp_path.glob("rag_cited-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == {"rag", "rag_cited"}, top
    for must in ("rag_cited/ui/app.py", "rag_cited/eval/questions.yaml", "rag_cited/eval/corpora/pydocs/json.html",
                 "rag/seeds/000_9ca311f619442424.txt", "rag/answering/extractive.py"):
        assert must in names, must
