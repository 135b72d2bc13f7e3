#!/usr/bin/env python3
"""Generate the ``pydocs`` evaluation corpus from CPython standard-library docstrings.

The text comes from the docstrings shipped with the running interpreter
(CPython 3.11.7 when the corpus was built), collected with ``pydoc`` helpers
(``pydoc.visiblename``, ``pydoc.splitdoc``) and ``inspect``.  For every module
we keep the module docstring plus the docstrings of its documented public
functions and classes (and a bounded number of a class's own public methods).
pydoc's DATA / FILE / MODULE REFERENCE sections (which contain absolute
install paths) are never emitted.

About half the modules are written as simple semantic HTML (with a <nav>
sidebar, <script> and <style> boilerplate that loaders are expected to strip),
the rest as Markdown or plain text.  Output is deterministic for a given
Python version.

Usage (from the repository root):

    python eval/corpora/make_pydocs.py            # writes eval/corpora/pydocs/
    python eval/corpora/make_pydocs.py OUT_DIR
"""

from __future__ import annotations

import html
import importlib
import inspect
import pydoc
import re
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "pydocs"

# Groups of look-alike modules; the format of each module is fixed below so the
# corpus is reproducible and look-alikes are spread across formats.
MODULES: list[tuple[str, str]] = [
    # serialization
    ("json", "html"),
    ("pickle", "md"),
    ("marshal", "txt"),
    ("shelve", "html"),
    # http / urls
    ("http.client", "html"),
    ("urllib.request", "md"),
    ("urllib.parse", "html"),
    # config / tabular text
    ("csv", "html"),
    ("configparser", "txt"),
    # compression and archives
    ("gzip", "html"),
    ("bz2", "md"),
    ("lzma", "html"),
    ("zlib", "txt"),
    ("zipfile", "html"),
    ("tarfile", "md"),
    # hashing / crypto helpers
    ("hashlib", "html"),
    ("hmac", "txt"),
    ("secrets", "md"),
    # algorithms
    ("heapq", "html"),
    ("bisect", "txt"),
    # files and paths
    ("shutil", "html"),
    ("os.path", "md"),
    ("glob", "html"),
    ("fnmatch", "txt"),
    # text
    ("textwrap", "html"),
    ("string", "md"),
    # dates
    ("calendar", "html"),
    ("datetime", "txt"),
    # scheduling / queues
    ("queue", "html"),
    ("sched", "md"),
    # misc look-alikes
    ("base64", "html"),
    ("difflib", "txt"),
    ("statistics", "html"),
    ("random", "md"),
    ("tempfile", "html"),
    ("filecmp", "txt"),
    ("uuid", "html"),
    ("copy", "md"),
    ("binascii", "txt"),
    ("struct", "html"),
]

MAX_BYTES = 39_000          # hard cap per output file
MAX_METHODS_PER_CLASS = 20  # avoid huge class-method dumps
MAX_DOC_CHARS = 4_000       # cap for any single docstring

PY_VERSION = "{}.{}.{}".format(*sys.version_info[:3])
ADDR_RE = re.compile(r" at 0x[0-9a-fA-F]+")
TABULAR_RE = re.compile(r"\S {3,}\S")  # aligned columns -> preformatted


# --------------------------------------------------------------------------
# extraction


def own_doc(obj) -> str:
    """The object's own docstring (not inherited), cleaned."""
    doc = getattr(obj, "__doc__", None)
    if not isinstance(doc, str) or not doc.strip():
        return ""
    doc = inspect.cleandoc(doc)
    doc = ADDR_RE.sub("", doc)
    prefix = sys.prefix
    if prefix and prefix in doc:
        doc = doc.replace(prefix, "<prefix>")
    if len(doc) > MAX_DOC_CHARS:
        cut = doc.rfind("\n\n", 0, MAX_DOC_CHARS)
        doc = doc[: cut if cut > 0 else MAX_DOC_CHARS].rstrip()
    return doc


def signature(name: str, obj) -> str:
    try:
        sig = str(inspect.signature(obj))
    except (TypeError, ValueError):
        sig = "(...)"
    sig = ADDR_RE.sub("", sig)
    return f"{name}{sig}"


def module_members(modname: str, mod):
    """Return [(kind, name, obj)] for documented public functions and classes."""
    all_names = getattr(mod, "__all__", None)
    if all_names is not None:
        names = list(all_names)
    else:
        names = [n for n in dir(mod) if pydoc.visiblename(n, None, getattr(mod, n))]
    short = modname.split(".")[-1]
    accepted_modules = {mod.__name__, modname, "_" + short, "_" + mod.__name__}
    out = []
    for name in sorted(set(names)):
        if not hasattr(mod, name):
            continue
        obj = getattr(mod, name)
        if inspect.ismodule(obj):
            continue
        if not callable(obj):
            continue  # DATA-like members are dropped
        objmod = getattr(obj, "__module__", None)
        if all_names is None and objmod not in accepted_modules:
            continue
        if inspect.isclass(obj):
            if not (own_doc(obj) or init_doc(obj) or
                    (not issubclass(obj, BaseException) and class_methods(obj))):
                continue
        elif not own_doc(obj):
            continue
        if inspect.isclass(obj):
            kind = "exception" if issubclass(obj, BaseException) else "class"
        else:
            kind = "function"
        out.append((kind, name, obj))
    order = {"function": 0, "class": 1, "exception": 2}
    out.sort(key=lambda t: (order[t[0]], t[1].lower(), t[1]))
    return out


def init_doc(cls) -> str:
    """Docstring of an __init__ defined (in Python) by the class itself."""
    init = vars(cls).get("__init__")
    if inspect.isfunction(init):
        return own_doc(init)
    return ""


def class_methods(cls):
    methods = []
    for name in sorted(vars(cls)):
        if name.startswith("_"):
            continue
        raw = vars(cls)[name]
        obj = getattr(cls, name, None)
        if isinstance(raw, property) or obj is None:
            continue
        if not (inspect.isroutine(obj) or isinstance(raw, (classmethod, staticmethod))):
            continue
        doc = own_doc(raw if not isinstance(raw, (classmethod, staticmethod)) else raw.__func__)
        if not doc:
            doc = own_doc(obj)
        if not doc:
            continue
        methods.append((name, obj, doc))
    return methods


def build_model(modname: str) -> dict:
    mod = importlib.import_module(modname)
    mdoc = own_doc(mod)
    synopsis, _ = pydoc.splitdoc(mdoc)
    entries = []
    for kind, name, obj in module_members(modname, mod):
        entry = {
            "kind": kind,
            "name": name,
            "sig": signature(f"{modname}.{name}", obj) if kind == "function" else signature(name, obj),
            "doc": own_doc(obj) or (init_doc(obj) if inspect.isclass(obj) else ""),
            "methods": [],
        }
        if kind == "class":
            if own_doc(obj) and init_doc(obj):
                entry["methods"].append({
                    "name": "__init__",
                    "sig": signature(f"{name}", obj),
                    "doc": init_doc(obj),
                })
            for mname, mobj, mdoc_ in class_methods(obj)[:MAX_METHODS_PER_CLASS]:
                entry["methods"].append({
                    "name": mname,
                    "sig": signature(f"{name}.{mname}", mobj),
                    "doc": mdoc_,
                })
        entries.append(entry)
    return {"module": modname, "synopsis": synopsis.strip(), "doc": mdoc, "entries": entries}


# --------------------------------------------------------------------------
# docstring -> blocks


def blocks(doc: str):
    """Split a docstring into ('p', [lines]) and ('pre', [lines]) blocks.

    Non-indented consecutive lines form a prose paragraph; indented lines or
    doctest lines (``>>>``) form preformatted blocks.
    """
    result = []
    for para in re.split(r"\n\s*\n", doc.strip("\n")):
        lines = para.split("\n")
        if any(TABULAR_RE.search(l) or l.startswith(("+-", "+=", "|")) for l in lines):
            # aligned columns or an RST table: keep the whole paragraph verbatim
            result.append(("pre", [l.rstrip() for l in lines]))
            continue
        cur_kind, cur = None, []
        in_doctest = False  # doctest output runs until the end of the paragraph
        for line in lines:
            if line.lstrip().startswith(">>>"):
                in_doctest = True
            if in_doctest:
                kind = "pre"
            elif line.startswith((" ", "\t")):
                # an indented line continues a prose line (wrapped bullet or
                # "name -- description" item) unless that line introduced a
                # literal block with a trailing colon
                continues = cur_kind == "p" and cur and not cur[-1].rstrip().endswith(":")
                kind = "p" if continues else "pre"
            else:
                kind = "p"
            new_item = kind == "p" and cur_kind == "p" and line.startswith(("* ", "- "))
            if (kind != cur_kind or new_item) and cur:
                result.append((cur_kind, cur))
                cur = []
            cur_kind = kind
            cur.append(line.rstrip())
        if cur:
            result.append((cur_kind, cur))
    result = [(k, ls) for k, ls in result if any(l.strip() for l in ls)]
    # merge adjacent pre blocks separated only by blank lines (code examples)
    merged = []
    for kind, lines in result:
        if merged and kind == "pre" and merged[-1][0] == "pre":
            merged[-1] = ("pre", merged[-1][1] + [""] + lines)
        else:
            merged.append((kind, lines))
    return merged


def unwrap(lines) -> str:
    return re.sub(r"\s+", " ", " ".join(l.strip() for l in lines if l.strip()))


def dedent_lines(lines):
    return textwrap.dedent("\n".join(lines)).strip("\n")


# --------------------------------------------------------------------------
# renderers


def title_of(model) -> str:
    syn = model["synopsis"].rstrip(".")
    return f"{model['module']} — {syn}" if syn else model["module"]


SCRIPT = """
  // Documentation site boilerplate: theme switcher, search box and analytics.
  (function () {
    var theme = localStorage.getItem('pydocs-theme') || 'auto';
    document.documentElement.dataset.theme = theme;
    window.dataLayer = window.dataLayer || [];
    function gtag() { dataLayer.push(arguments); }
    gtag('js', new Date());
    gtag('config', 'UA-00000000-1');
    document.addEventListener('DOMContentLoaded', function () {
      var box = document.getElementById('search-box');
      if (box) { box.placeholder = 'Quick search'; }
    });
  })();
"""

STYLE = """
  body { font-family: sans-serif; max-width: 60em; margin: auto; }
  nav.sidebar { float: left; width: 14em; font-size: 90%; }
  pre { background: #f6f6f6; padding: .5em; overflow-x: auto; }
"""


def render_html(model, all_modules) -> str:
    def e(text):
        return html.escape(text, quote=False)

    mod = model["module"]
    out = []
    out.append("<!DOCTYPE html>")
    out.append('<html lang="en">')
    out.append("<head>")
    out.append('<meta charset="utf-8">')
    out.append(f"<title>{e(title_of(model))} — Python {PY_VERSION} documentation</title>")
    out.append(f"<style>{STYLE}</style>")
    out.append(f"<script>{SCRIPT}</script>")
    out.append("</head>")
    out.append("<body>")
    out.append('<nav class="sidebar" aria-label="Library modules">')
    out.append('<form role="search"><input id="search-box" type="text" name="q"></form>')
    out.append("<ul>")
    for other, fmt in all_modules:
        out.append(f'<li><a href="{html.escape(other)}.{fmt}">{e(other)}</a></li>')
    out.append("</ul>")
    out.append("</nav>")
    out.append("<main>")
    out.append(f"<h1>{e(title_of(model))}</h1>")

    def emit_doc(doc):
        for kind, lines in blocks(doc):
            if kind == "p":
                out.append(f"<p>{e(unwrap(lines))}</p>")
            else:
                out.append(f"<pre>{e(dedent_lines(lines))}</pre>")

    out.append('<section id="module-description">')
    emit_doc(model["doc"])
    out.append("</section>")
    for ent in model["entries"]:
        anchor = f"{mod}.{ent['name']}"
        out.append(f'<section id="{html.escape(anchor)}">')
        label = {"function": "", "class": "class ", "exception": "exception "}[ent["kind"]]
        out.append(f"<h2>{label}{e(ent['sig'])}</h2>")
        emit_doc(ent["doc"])
        for m in ent["methods"]:
            out.append(f"<h3>{e(m['sig'])}</h3>")
            emit_doc(m["doc"])
        out.append("</section>")
    out.append("</main>")
    out.append("<footer>")
    out.append(f"<p>Generated from CPython {PY_VERSION} docstrings. "
               "Copyright 2001-2023, Python Software Foundation. PSF License.</p>")
    out.append("</footer>")
    out.append("</body>")
    out.append("</html>")
    return "\n".join(out) + "\n"


def render_md(model) -> str:
    out = [f"# {title_of(model)}", ""]

    def emit_doc(doc):
        for kind, lines in blocks(doc):
            if kind == "p":
                out.append(unwrap(lines))
            else:
                out.append("```")
                out.append(dedent_lines(lines))
                out.append("```")
            out.append("")

    emit_doc(model["doc"])
    for ent in model["entries"]:
        label = {"function": "Function", "class": "Class", "exception": "Exception"}[ent["kind"]]
        out.append(f"## {label} {ent['name']}")
        out.append("")
        out.append("```python")
        out.append(ent["sig"])
        out.append("```")
        out.append("")
        emit_doc(ent["doc"])
        for m in ent["methods"]:
            out.append(f"### Method {ent['name']}.{m['name']}")
            out.append("")
            out.append("```python")
            out.append(m["sig"])
            out.append("```")
            out.append("")
            emit_doc(m["doc"])
    return "\n".join(out).rstrip("\n") + "\n"


def render_txt(model) -> str:
    title = title_of(model)
    out = [title, "=" * len(title), ""]

    def emit_doc(doc, indent=""):
        for line in doc.split("\n"):
            out.append((indent + line).rstrip())
        out.append("")

    emit_doc(model["doc"])
    sections = [("FUNCTIONS", "function"), ("CLASSES", "class"), ("EXCEPTIONS", "exception")]
    for header, kind in sections:
        ents = [x for x in model["entries"] if x["kind"] == kind]
        if not ents:
            continue
        out.append(header)
        out.append("-" * len(header))
        out.append("")
        for ent in ents:
            prefix = "" if kind == "function" else f"{kind} "
            out.append(prefix + ent["sig"])
            out.append("")
            emit_doc(ent["doc"], "    ")
            for m in ent["methods"]:
                out.append("    " + m["sig"])
                out.append("")
                emit_doc(m["doc"], "        ")
    return "\n".join(out).rstrip("\n") + "\n"


def render(model, fmt, all_modules) -> str:
    if fmt == "html":
        return render_html(model, all_modules)
    if fmt == "md":
        return render_md(model)
    return render_txt(model)


def render_capped(model, fmt, all_modules) -> str:
    """Render, dropping the longest class-method docs until under MAX_BYTES."""
    text = render(model, fmt, all_modules)
    while len(text.encode("utf-8")) > MAX_BYTES:
        cands = [(len(m["doc"]), i, j) for i, ent in enumerate(model["entries"])
                 for j, m in enumerate(ent["methods"])]
        if cands:
            _, i, j = max(cands)
            del model["entries"][i]["methods"][j]
        else:
            # drop the longest remaining entry docstring tail
            _, i = max((len(ent["doc"]), i) for i, ent in enumerate(model["entries"]))
            doc = model["entries"][i]["doc"]
            cut = doc.rfind("\n\n", 0, len(doc) // 2)
            model["entries"][i]["doc"] = doc[: cut if cut > 0 else len(doc) // 2].rstrip()
        text = render(model, fmt, all_modules)
    return text


def main(argv):
    out_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    out_dir.mkdir(parents=True, exist_ok=True)
    expected = set()
    total = 0
    for modname, fmt in MODULES:
        model = build_model(modname)
        text = render_capped(model, fmt, MODULES)
        path = out_dir / f"{modname}.{fmt}"
        expected.add(path.name)
        path.write_text(text, encoding="utf-8", newline="\n")
        total += len(text.encode("utf-8"))
        print(f"{path.name:24s} {len(text.encode('utf-8')):7d} bytes  {len(model['entries'])} entries")
    # remove stale files from earlier runs
    for p in out_dir.iterdir():
        if p.is_file() and p.name not in expected:
            p.unlink()
    print(f"{len(expected)} files, {total} bytes total -> {out_dir}")


if __name__ == "__main__":
    main(sys.argv)
