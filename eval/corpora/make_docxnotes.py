#!/usr/bin/env python3
"""Generate the ``docxnotes`` evaluation corpus: real Debian documentation converted to Word .docx.

Each text is read from the package that ships it under /usr/share/doc (or /usr/share/distro-info)
and written with python-docx, keeping its structure: Word "Heading n" styles for headings (and
for the questions of a FAQ), "Normal" paragraphs (hard-wrapped lines joined), "List Bullet" /
"List Number" for list items, a monospaced "Code" paragraph style for literal blocks (line breaks
kept), and real Word tables where the source has tabular data (Markdown tables, the
distro-info-data CSV). Nothing is reworded; markup that a reader never sees (badges, link
targets, Sphinx/MyST role names, HTML) is dropped.

Markdown is parsed with markdown-it-py (a dependency of rich, installed in the venv); plain-text
FAQs and READMEs are split into blocks by blank lines with a per-document rule for what a
heading or a question looks like (see DOCS).

Output is deterministic: fixed core properties and fixed zip timestamps.

Usage (from the repository root):

    .venv/bin/python eval/corpora/make_docxnotes.py            # writes eval/corpora/docxnotes/
    .venv/bin/python eval/corpora/make_docxnotes.py OUT_DIR
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import docx
from docx.enum.style import WD_STYLE_TYPE
from docx.shared import Pt
from markdown_it import MarkdownIt

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "docxnotes"
FIXED_TIME = dt.datetime(2023, 6, 10, 0, 0, 0)  # Debian 12 release day; used for every timestamp


@dataclass
class Doc:
    out: str                     # output file name
    path: str                    # source path on this machine
    kind: str                    # "md", "txt" or "csv"
    title: str                   # core-properties title
    # plain-text rules
    question: str | None = None  # regex: a line that starts a FAQ question (group "q" = text kept)
    question_block: bool = True  # question runs to the end of its block (else: first line only)
    answer_prefix: str | None = None  # regex stripped from the first line of an answer
    prose_indent: int = 0        # lines indented by at most this many columns are prose
    skip: list[str] = field(default_factory=list)  # regexes: lines dropped (rules, "(target)=")


DOCS: list[Doc] = [
    # systemd design notes (Markdown)
    Doc("systemd-uids-gids.docx", "/usr/share/doc/systemd/UIDS-GIDS.md.gz", "md",
        "Users, Groups, UIDs and GIDs on systemd Systems"),
    Doc("systemd-environment.docx", "/usr/share/doc/systemd/ENVIRONMENT.md.gz", "md",
        "Known Environment Variables (systemd)"),
    Doc("systemd-transient-settings.docx", "/usr/share/doc/systemd/TRANSIENT-SETTINGS.md.gz", "md",
        "What Settings Are Currently Available For Transient Units? (systemd)"),
    Doc("systemd-readme-debian.docx", "/usr/share/doc/systemd/README.Debian.gz", "txt",
        "systemd for Debian (README.Debian)"),
    # package READMEs (Markdown)
    Doc("apt-readme.docx", "/usr/share/doc/apt/README.md.gz", "md", "APT (README)"),
    Doc("man-db-readme.docx", "/usr/share/doc/man-db/README.md.gz", "md", "man-db (README)"),
    Doc("nss-mdns-readme.docx", "/usr/share/doc/libnss-mdns/README.md.gz", "md", "nss-mdns (README)"),
    Doc("zstd-readme.docx", "/usr/share/doc/zstd/README.md.gz", "md", "Zstandard (README)"),
    # pip user guide topics (MyST Markdown)
    Doc("pip-authentication.docx", "/usr/share/doc/python3-pip/html/topics/authentication.md", "md",
        "pip: Authentication"),
    Doc("pip-caching.docx", "/usr/share/doc/python3-pip/html/topics/caching.md.gz", "md", "pip: Caching"),
    Doc("pip-secure-installs.docx", "/usr/share/doc/python3-pip/html/topics/secure-installs.md.gz", "md",
        "pip: Secure installs"),
    # Debian READMEs (plain text, underlined headings)
    Doc("openssh-readme-debian.docx", "/usr/share/doc/openssh-client/README.Debian.gz", "txt",
        "OpenSSH for Debian (README.Debian)"),
    Doc("postgresql-readme-debian.docx", "/usr/share/doc/postgresql-common/README.Debian.gz", "txt",
        "PostgreSQL for Debian (README.Debian)", prose_indent=3),
    # FAQs (plain text)
    Doc("xz-faq.docx", "/usr/share/doc/xz-utils/faq.txt.gz", "txt", "XZ Utils FAQ",
        question=r"^Q:\s+(?P<q>.*)", answer_prefix=r"^A:\s+", prose_indent=4),
    Doc("zlib-faq.docx", "/usr/share/doc/zlib1g-dev/FAQ.gz", "txt", "Frequently Asked Questions about zlib",
        question=r"^\s{0,2}\d+\.\s+(?P<q>.*)", prose_indent=4),
    Doc("valgrind-faq.docx", "/usr/share/doc/valgrind/FAQ.txt.gz", "txt", "Valgrind FAQ",
        question=r"^\d+\.\d+\.\s+(?P<q>.*)", question_block=False,
        skip=[r"^-{20,}$", r"^~{10,}$"]),
    Doc("base-files-faq.docx", "/usr/share/doc/base-files/FAQ", "txt",
        "Frequently Asked Questions about base-files",
        question=r"^Q\.\s+(?P<q>.*)", answer_prefix=r"^A\.\s+"),
    Doc("procps-faq.docx", "/usr/share/doc/procps/FAQ.gz", "txt", "procps FAQ",
        question=r"^(?P<q>[A-Z][^\t].*\?)\s*$", prose_indent=8),
    # The Debian GNU/Linux FAQ (package debian-faq), one document per chapter (DocBook HTML)
    Doc("debian-faq-ch01-definitions.docx", "/usr/share/doc/debian/FAQ/basic-defs.en.html", "html",
        "The Debian GNU/Linux FAQ, Chapter 1: Definitions and overview"),
    Doc("debian-faq-ch03-choosing.docx", "/usr/share/doc/debian/FAQ/choosing.en.html", "html",
        "The Debian GNU/Linux FAQ, Chapter 3: Choosing a Debian distribution"),
    Doc("debian-faq-ch06-archives.docx", "/usr/share/doc/debian/FAQ/ftparchives.en.html", "html",
        "The Debian GNU/Linux FAQ, Chapter 6: The Debian archives"),
    Doc("debian-faq-ch07-packages.docx", "/usr/share/doc/debian/FAQ/pkg-basics.en.html", "html",
        "The Debian GNU/Linux FAQ, Chapter 7: Basics of the Debian package management"),
    Doc("debian-faq-ch12-support.docx", "/usr/share/doc/debian/FAQ/support.en.html", "html",
        "The Debian GNU/Linux FAQ, Chapter 12: Getting support for Debian GNU/Linux"),
    # tabular data
    Doc("debian-releases.docx", "/usr/share/distro-info/debian.csv", "csv", "Debian releases"),
    Doc("ubuntu-releases.docx", "/usr/share/distro-info/ubuntu.csv", "csv", "Ubuntu releases"),
]


# --------------------------------------------------------------------------------------- helpers

def read_text(path: str) -> str:
    raw = Path(path).read_bytes()
    if path.endswith(".gz"):
        raw = gzip.decompress(raw)
    return raw.decode("utf-8").replace("\r\n", "\n")


def new_document(title: str) -> docx.Document:
    d = docx.Document()
    styles = d.styles
    if "Code" not in [s.name for s in styles]:
        code = styles.add_style("Code", WD_STYLE_TYPE.PARAGRAPH)
        code.base_style = styles["Normal"]
        code.font.name = "Courier New"
        code.font.size = Pt(9)
    cp = d.core_properties
    cp.title = title
    cp.author = "Debian package documentation"
    cp.last_modified_by = "make_docxnotes.py"
    cp.created = cp.modified = FIXED_TIME
    cp.revision = 1
    return d


def unwrap(lines: list[str]) -> str:
    return re.sub(r"\s+", " ", " ".join(l.strip() for l in lines if l.strip())).strip()


def deterministic_bytes(d: docx.Document) -> bytes:
    """Save, then rewrite the zip with fixed timestamps and member order."""
    buf = io.BytesIO()
    d.save(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, src.read(info.filename))
    return out.getvalue()


# -------------------------------------------------------------------------------------- Markdown

MYST_ROLE = re.compile(r"\{[a-z:-]+\}$")           # "{ref}" just before a `code` span
MYST_TARGET = re.compile(r"^\([^)]*\)=\s*$", re.M)  # "(Hash-checking mode)="
ADMONITIONS = {"note": "Note", "warning": "Warning", "tip": "Tip", "important": "Important",
               "attention": "Attention", "caution": "Caution", "seealso": "See also"}


def md_inline(tok, paragraph, base_bold=False):
    """Append the inline children of `tok` to `paragraph` as runs; return the plain text."""
    bold = italic = False
    pending_role = False
    children = tok.children or []
    parts = []
    for i, ch in enumerate(children):
        t = ch.type
        if t == "text":
            text = ch.content
            nxt = children[i + 1] if i + 1 < len(children) else None
            if nxt is not None and nxt.type == "code_inline" and MYST_ROLE.search(text):
                text = MYST_ROLE.sub("", text)
                pending_role = True
            if text:
                r = paragraph.add_run(text)
                r.bold, r.italic = bold or base_bold or None, italic or None
                parts.append(text)
        elif t == "code_inline":
            text = ch.content
            if pending_role:  # {ref}`label <target>` shows "label"
                m = re.match(r"^(.*?)\s*<[^>]+>$", text)
                text = m.group(1) if m and m.group(1) else text.strip("<>")
                pending_role = False
            r = paragraph.add_run(text)
            r.font.name = "Courier New"
            parts.append(text)
        elif t == "softbreak":
            paragraph.add_run(" ")
            parts.append(" ")
        elif t == "hardbreak":
            paragraph.add_run().add_break()
            parts.append("\n")
        elif t == "strong_open":
            bold = True
        elif t == "strong_close":
            bold = False
        elif t == "em_open":
            italic = True
        elif t == "em_close":
            italic = False
        # link_open/close: keep the link text only; image, html_inline: dropped
    return "".join(parts)


def md_to_docx(text: str, d, env: dict | None = None) -> None:
    """Markdown (CommonMark + tables + the MyST directives pip's docs use) -> Word paragraphs.

    `env` carries link reference definitions into the bodies of directives, parsed separately.
    """
    text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)  # Jekyll front matter
    text = MYST_TARGET.sub("", text)
    md = MarkdownIt("commonmark").enable("table")
    env = {} if env is None else env
    tokens = md.parse(text, env)
    list_stack: list[str] = []   # "bullet" / "ordered"
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        t = tok.type
        if t == "heading_open":
            level = int(tok.tag[1])
            p = d.add_paragraph(style=f"Heading {min(level, 9)}")
            md_inline(tokens[i + 1], p)
            i += 3
            continue
        if t == "bullet_list_open":
            list_stack.append("bullet")
        elif t == "ordered_list_open":
            list_stack.append("ordered")
        elif t in ("bullet_list_close", "ordered_list_close"):
            list_stack.pop()
        elif t == "paragraph_open":
            inline = tokens[i + 1]
            if list_stack and tokens[i - 1].type == "list_item_open":  # the first paragraph of an item
                kind = list_stack[-1]
                depth = len(list_stack)
                style = ("List Bullet" if kind == "bullet" else "List Number") + (f" {depth}" if depth > 1 else "")
            else:
                style = "Normal"
            p = d.add_paragraph(style=style)
            txt = md_inline(inline, p)
            if not txt.strip():  # a paragraph of badges or images only
                p._element.getparent().remove(p._element)
            i += 3
            continue
        elif t in ("fence", "code_block"):
            info = (tok.info or "").strip()
            m = re.match(r"^\{([a-z-]+)\}\s*(.*)$", info)
            if m:  # MyST directive
                name, arg = m.group(1), m.group(2)
                body = "\n".join(l for l in tok.content.split("\n") if not re.match(r"^:[a-z-]+:", l))
                if name in ("versionadded", "versionchanged", "deprecated"):
                    label = {"versionadded": "New in version", "versionchanged": "Changed in version",
                             "deprecated": "Deprecated since version"}[name]
                    d.add_paragraph(f"{label} {arg}.".strip())
                    if body.strip():
                        md_to_docx(body, d, env)
                elif name in ADMONITIONS or name == "admonition":
                    head = ADMONITIONS.get(name) or arg
                    r = d.add_paragraph().add_run(head)
                    r.bold = True
                    md_to_docx(body, d, env)
                elif name in ("code-block", "code", "sourcecode", "pip-cli"):
                    d.add_paragraph(body.rstrip("\n"), style="Code")
                elif name in ("toctree", "contents", "include"):
                    pass
                else:  # {tab} Linux, {tab-set}, ...: the label, then the body
                    if arg:
                        d.add_paragraph().add_run(arg).bold = True
                    md_to_docx(body, d, env)
            elif tok.content.strip():
                d.add_paragraph(tok.content.rstrip("\n"), style="Code")
        elif t == "table_open":
            rows = []
            j = i + 1
            row = None
            while tokens[j].type != "table_close":
                tt = tokens[j].type
                if tt == "tr_open":
                    row = []
                elif tt == "tr_close":
                    rows.append(row)
                elif tt == "inline":
                    row.append(tokens[j])
                j += 1
            body = [r for r in rows[1:] if any((c.content or "").strip() and not c.content.strip().startswith("![")
                                                for c in r)]
            if body:
                table = d.add_table(rows=0, cols=len(rows[0]))
                table.style = "Table Grid"
                for r in [rows[0]] + body:
                    cells = table.add_row().cells
                    for cell, inline in zip(cells, r):
                        p = cell.paragraphs[0]
                        md_inline(inline, p, base_bold=(r is rows[0]))
                d.add_paragraph()
            i = j + 1
            continue
        elif t == "html_block":
            pass
        i += 1


# ------------------------------------------------------------------------------------ plain text

def indent_of(line: str) -> int:
    return len(line.expandtabs(8)) - len(line.expandtabs(8).lstrip())


def txt_to_docx(text: str, d, rule: Doc) -> None:
    lines = text.split("\n")
    lines = [l for l in lines if not any(re.match(s, l.strip()) for s in rule.skip)]
    # blocks separated by blank lines
    blocks, cur = [], []
    for l in lines + [""]:
        if l.strip():
            cur.append(l.rstrip())
        elif cur:
            blocks.append(cur)
            cur = []
    underline_levels: dict[str, int] = {}
    qre = re.compile(rule.question) if rule.question else None
    for block in blocks:
        # underlined headings: "Title\n=====", possibly followed by text in the same block
        while len(block) >= 2 and re.fullmatch(r"([=\-~^*])\1{2,}", block[1].strip()) \
                and abs(len(block[1].strip()) - len(block[0].strip())) <= 3:
            ch = block[1].strip()[0]
            level = underline_levels.setdefault(ch, len(underline_levels) + 1)
            d.add_paragraph(block[0].strip(), style=f"Heading {level}")
            block = block[2:]
        if not block:
            continue
        if qre and (m := qre.match(block[0])):
            if rule.question_block:
                q = [m.group("q")] + [l.strip() for l in block[1:]]
                rest = []
            else:
                q, rest = [m.group("q")], block[1:]
            d.add_paragraph(unwrap(q), style="Heading 2")
            if rest:
                emit_text_block(rest, d, rule)
            continue
        emit_text_block(block, d, rule)


def emit_text_block(block: list[str], d, rule: Doc) -> None:
    if rule.answer_prefix and re.match(rule.answer_prefix, block[0]):
        block = [re.sub(rule.answer_prefix, "", block[0])] + block[1:]
        block[0] = " " * min(rule.prose_indent, 4) + block[0]
    base = min(indent_of(l) for l in block)
    if base > rule.prose_indent:  # literal block: commands, examples, ASCII tables
        width = base
        d.add_paragraph("\n".join(l.expandtabs(8)[width:] for l in block), style="Code")
        return
    # lists: "* item", "- item", "1. item" (continuation lines are indented)
    items, cur, kind = [], [], None
    for l in block:
        s = l.strip()
        m = re.match(r"^([*\-•]|\d+\.)\s+(.*)$", s)
        if m and indent_of(l) <= rule.prose_indent + 2:
            if cur:
                items.append((kind, cur))
            kind = "bullet" if not m.group(1)[0].isdigit() else "number"
            cur = [m.group(2)]
        else:
            cur.append(s)
    if cur:
        items.append((kind, cur))
    for kind, item in items:
        style = {"bullet": "List Bullet", "number": "List Number", None: "Normal"}[kind]
        d.add_paragraph(unwrap(item), style=style)


# ------------------------------------------------------------------------------ HTML (DocBook)

def _inline_text(el) -> str:
    """Text of an element, whitespace folded (DocBook HTML wraps lines inside paragraphs)."""
    return re.sub(r"\s+", " ", el.get_text("")).replace("\xa0", " ").strip()


def html_to_docx(text: str, d) -> None:
    """DocBook-generated XHTML (the Debian FAQ) -> headings, paragraphs, lists, code, tables."""
    from bs4 import BeautifulSoup, Tag

    soup = BeautifulSoup(text, "html.parser")
    body = soup.body
    for junk in body.select("div.navheader, div.navfooter, div.toc, a.indexterm, sup.footnote, "
                            "div.footnotes, script, style"):
        junk.decompose()

    def walk(el) -> None:
        for ch in list(el.children):
            if isinstance(ch, Tag):
                handle(ch)

    def handle(ch) -> None:
        name, cls = ch.name, ch.get("class") or []
        if name in ("h1", "h2", "h3", "h4", "h5"):
            d.add_paragraph(_inline_text(ch), style=f"Heading {int(name[1])}")
        elif name == "p":
            if txt := _inline_text(ch):
                d.add_paragraph(txt)
        elif name == "pre":
            d.add_paragraph(ch.get_text("").strip("\n"), style="Code")
        elif name in ("ul", "ol"):
            style = "List Bullet" if name == "ul" else "List Number"
            for li in ch.find_all("li", recursive=False):
                kids = [k for k in li.children if isinstance(k, Tag)]
                if kids and kids[0].name == "p":  # first paragraph is the item, the rest follows it
                    d.add_paragraph(_inline_text(kids[0]), style=style)
                    for k in kids[1:]:
                        handle(k)
                elif txt := _inline_text(li):
                    d.add_paragraph(txt, style=style)
        elif name == "dl":
            for item in ch.find_all(["dt", "dd"], recursive=False):
                if item.name == "dt":
                    d.add_paragraph().add_run(_inline_text(item)).bold = True
                else:
                    walk(item)
        elif name == "table":
            rows = [[_inline_text(c) for c in tr.find_all(["td", "th"])] for tr in ch.find_all("tr")]
            rows = [r for r in rows if any(r)]
            if rows:
                table = d.add_table(rows=0, cols=max(len(r) for r in rows))
                table.style = "Table Grid"
                for r in rows:
                    for cell, value in zip(table.add_row().cells, r):
                        cell.paragraphs[0].add_run(value)
        elif name == "div" and any(c in cls for c in ("note", "warning", "tip", "important", "caution")):
            head = ch.find(["h3", "h4", "th"])
            if head is not None:
                d.add_paragraph().add_run(_inline_text(head)).bold = True
                head.decompose()
            walk(ch)
        else:
            walk(ch)

    walk(body)


# ------------------------------------------------------------------------------------------- csv

def csv_to_docx(text: str, d, rule: Doc) -> None:
    rows = list(csv.reader(io.StringIO(text)))
    d.add_paragraph(rule.title, style="Heading 1")
    table = d.add_table(rows=0, cols=len(rows[0]))
    table.style = "Table Grid"
    for i, row in enumerate(rows):
        cells = table.add_row().cells
        for cell, value in zip(cells, row + [""] * (len(rows[0]) - len(row))):
            run = cell.paragraphs[0].add_run(value)
            run.bold = True if i == 0 else None


# ------------------------------------------------------------------------------------------- main

def package_of(path: str) -> str:
    try:
        pkg = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True, check=True).stdout
        name = pkg.split(":")[0].split(",")[0].strip()
        ver = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True).stdout
        return f"{name} {ver}"
    except subprocess.CalledProcessError:
        return "?"


def main(argv: list[str]) -> None:
    out_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    out_dir.mkdir(parents=True, exist_ok=True)
    expected, total = set(), 0
    for rule in DOCS:
        text = read_text(rule.path)
        d = new_document(rule.title)
        if rule.kind == "md":
            md_to_docx(text, d)
        elif rule.kind == "csv":
            csv_to_docx(text, d, rule)
        elif rule.kind == "html":
            html_to_docx(text, d)
        else:
            txt_to_docx(text, d, rule)
        data = deterministic_bytes(d)
        dest = out_dir / rule.out
        dest.write_bytes(data)
        expected.add(dest.name)
        total += len(data)
        print(f"{dest.name:34s} {len(data):7d} bytes  {package_of(rule.path)}  {rule.path}")
    for p in out_dir.iterdir():
        if p.is_file() and p.name not in expected:
            p.unlink()
    print(f"{len(expected)} files, {total} bytes total -> {out_dir}")


if __name__ == "__main__":
    main(sys.argv)
