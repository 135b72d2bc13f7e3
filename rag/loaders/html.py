"""HTML → the visible text of its main content, in one linear pass and without a tree.

libxml2 (through lxml's parser-target interface) streams start/end/data events into a flat list, and
boilerplate subtrees (scripts, navigation, sidebars, permalinks, hidden and screen-reader-only text;
see the tables below) are dropped as they stream by. The content root is the first <main>, else
role="main", else <article>, else <body>. Block tags become paragraph breaks, <br> a line break,
<pre> keeps its newlines; other whitespace is folded. There is no recursion and no tree editing, so a page
nested 200,000 levels deep or with 100,000 siblings costs what its size costs (the old BeautifulSoup
version edited the tree per block tag: quadratic). For ordinary pages the text is identical to that
version's (tests/test_loaders.py pins the eval corpus). h1-h6 and dt blocks are reported as headings.
Left out: CSS (display:none is not evaluated),
tables as tables (cells become paragraphs), and text rendered by scripts.
"""

from __future__ import annotations

import re

from rag.errors import IngestError
from rag.loaders.structure import Extracted
from rag.loaders.text import TITLE_MAX, decode, first_line_title

_HTML_DROP = frozenset({"script", "style", "noscript", "template", "svg", "iframe", "form", "button", "nav", "aside",
                        "header", "footer", "select", "canvas", "object"})
_HTML_DROP_ROLES = frozenset({"navigation", "search", "banner", "contentinfo", "complementary", "menu", "menubar",
                              "dialog"})
_HTML_DROP_CLASSES = frozenset({
    "sidebar", "sphinxsidebar", "navbar", "nav", "navigation", "breadcrumb", "breadcrumbs", "headerlink",
    "related", "toc", "skip-link", "skiplink", "cookie-banner", "edit-this-page", "footer", "site-footer",
    "site-header", "md-sidebar", "md-header", "md-footer", "wy-nav-side", "rst-versions", "visually-hidden",
    "sr-only"})
_HTML_BLOCKS = frozenset({"p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul",
                          "ol", "dl", "dt", "dd", "table", "tr", "blockquote", "pre", "figure", "figcaption", "hr",
                          "address", "details", "summary", "caption", "body", "td", "th"})
# Text inside these is not running text (ruby annotations; a template's inert content), even a <title>'s.
_NOT_TEXT = frozenset({"rt", "rp", "template"})
_ROOT_TAGS = ("main", "article", "body")  # with role="main" between the first two, in order of preference
_BLOCK, _PRE_NEWLINE = "\x00", "\x01"  # markers in the joined text (input NULs are stripped before parsing)
_HEAD = "\ue000"  # marks a heading block's start, followed by its level digit (stripped from the input first)
_HEADING_LEVELS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6, "dt": 7}  # a dt heads its dd
_FOLD = re.compile(r"[ \t\f\v\u00a0]+")
_META_CHARSET = re.compile(rb"""<\s*meta[^>]+charset\s*=\s*["']?([^>]*?)[ /;'">]""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?.*encoding=['"](.*?)['"].*\?>""")

START, END, TEXT, GAP = 0, 1, 2, 3  # event kinds; GAP separates strings (a comment or a dropped element)


def _is_boilerplate(tag: str, attrib) -> bool:
    """Navigation, search, banners, permalinks and the like, as documentation generators mark them."""
    if tag in _HTML_DROP:
        return True
    if attrib.get("role") in _HTML_DROP_ROLES or attrib.get("aria-hidden") == "true" or "hidden" in attrib:
        return True
    return any(c.lower() in _HTML_DROP_CLASSES for c in (attrib.get("class") or "").split())


class _Recorder:
    """An lxml parser target: keeps the visible events as a flat list (kind, value).

    START carries the tag name, END the index of its START, TEXT the string. `first` maps each root
    candidate to the index of its first START; `title` is the first <title>'s text (taken even from a
    dropped part, as browsers show it).
    """

    def __init__(self) -> None:
        self.events: list[tuple[int, object]] = []
        self.first: dict[str, int] = {}
        self.title: str | None = None
        self._open: list[tuple[int, bool]] = []  # per open element: START index (-1: dropped), is it _NOT_TEXT
        self._dropped = 0  # open elements that are (inside) a dropped part
        self._not_text = 0  # open _NOT_TEXT elements
        self._title_at: int | None = None  # depth of the <title> being read
        self._title_text: list[str] = []

    def start(self, tag, attrib) -> None:
        if self.title is None and self._title_at is None and tag == "title":
            self._title_at = len(self._open)
        not_text = tag in _NOT_TEXT
        self._not_text += not_text
        if self._dropped or _is_boilerplate(tag, attrib):
            self._dropped += 1
            self._open.append((-1, not_text))
            return
        index = len(self.events)
        if tag in _ROOT_TAGS:
            self.first.setdefault(tag, index)
        if attrib.get("role") == "main":
            self.first.setdefault("role=main", index)
        self.events.append((START, tag))
        self._open.append((index, not_text))

    def end(self, tag) -> None:
        if not self._open:
            return
        index, not_text = self._open.pop()
        self._not_text -= not_text
        if self._title_at == len(self._open):
            self.title = "".join(self._title_text).strip()
            self._title_at = None
        if index < 0:
            self._dropped -= 1
            if not self._dropped:
                self._gap()
            return
        self.events.append((END, index))

    def data(self, text: str) -> None:
        if self._title_at is not None and not self._not_text:
            self._title_text.append(text)
        if self._dropped or self._not_text:
            self._gap()
        else:
            self.events.append((TEXT, text))

    def comment(self, text: str) -> None:
        self._gap()

    def pi(self, target: str, data: str | None = None) -> None:
        self._gap()

    def _gap(self) -> None:
        if not self.events or self.events[-1][0] != GAP:
            self.events.append((GAP, None))

    def close(self) -> _Recorder:
        return self


def _end_of(events: list[tuple[int, object]], start: int) -> int:
    """Index of the END event closing the START at `start` (or the end of the list)."""
    for i in range(start + 1, len(events)):
        if events[i] == (END, start):
            return i
    return len(events)


def _root(rec: _Recorder) -> tuple[int, int]:
    """The content root's inner event range: first <main>, role="main", <article>, <body>, else everything."""
    for key in ("main", "role=main", "article", "body"):
        if key in rec.first:
            start = rec.first[key]
            return start + 1, _end_of(rec.events, start)
    return 0, len(rec.events)


def _strings(events, lo: int, hi: int) -> list[str]:
    """The text strings in events[lo:hi] as a DOM would hold them (adjacent data merged, anything else splits)."""
    out: list[str] = []
    run: list[str] = []
    for kind, value in events[lo:hi]:
        if kind == TEXT:
            run.append(value)
        elif run:
            out.append("".join(run))
            run = []
    if run:
        out.append("".join(run))
    return out


def _h1_title(events, lo: int, hi: int) -> str:
    for i in range(lo, hi):
        if events[i] == (START, "h1"):
            return " ".join(s.strip() for s in _strings(events, i + 1, _end_of(events, i)) if s.strip())
    return ""


def _pre_text(events, lo: int, hi: int) -> str:
    parts = ["\n" if kind == START and value == "br" else value for kind, value in events[lo:hi]
             if kind == TEXT or (kind == START and value == "br")]
    return "".join(parts).strip("\n").replace("\n", _PRE_NEWLINE)


def _marked_text(events, lo: int, hi: int) -> str:
    """The root's text with block boundaries marked by _BLOCK and <pre> newlines protected."""
    out: list[str] = []
    i = lo
    while i < hi:
        kind, value = events[i]
        if kind == TEXT:
            out.append(value)
        elif kind == START and value == "br":
            out.append("\n")
        elif kind == START and value == "pre":
            end = _end_of(events, i)
            out.append(_BLOCK + _pre_text(events, i + 1, min(end, hi)) + _BLOCK)
            i = end
        elif kind == START and value in _HEADING_LEVELS:
            out.append(_BLOCK + _HEAD + str(_HEADING_LEVELS[value]))
        elif (kind == START and value in _HTML_BLOCKS) or (kind == END and events[value][1] in _HTML_BLOCKS):
            out.append(_BLOCK)
        i += 1
    return "".join(out)


def _blocks(marked: str) -> tuple[str, tuple[tuple[int, int, int], ...]]:
    """The text (blocks joined by blank lines) and its headings as (start, end, level)."""
    blocks: list[str] = []
    headings: list[tuple[int, int, int]] = []
    pos = 0
    for block in marked.split(_BLOCK):
        level = 0
        if block.startswith(_HEAD):
            level, block = int(block[1]), block[2:]
        lines = [_FOLD.sub(" ", line).strip() for line in block.split("\n")]
        block = " ".join(line for line in lines if line)
        if block:
            if blocks:
                pos += 2
            if level:
                headings.append((pos, pos + len(block), level))
            blocks.append(block.replace(_PRE_NEWLINE, "\n"))
            pos += len(block)
    return "\n\n".join(blocks), tuple(headings)


def declared_encoding(data: bytes) -> str | None:
    """The charset an HTML/XML document declares near its start (as BeautifulSoup looks for it)."""
    found = _XML_ENCODING.search(data[:1024]) or _META_CHARSET.search(data[:max(2048, len(data) // 20)])
    if not found:
        return None
    return found.group(1).decode("ascii", "replace").strip().lower() or None


def load_html(data: bytes, name: str) -> Extracted:
    from lxml import etree

    text = decode(data, name, declared=declared_encoding(data))
    recorder = _Recorder()
    parser = etree.HTMLParser(target=recorder, recover=True, encoding="utf-8", no_network=True)
    try:
        parser.feed(text.replace(_PRE_NEWLINE, "").replace(_HEAD, "").encode("utf-8", "replace"))
        parser.close()
    except (etree.LxmlError, ValueError, UnicodeError) as e:
        raise IngestError(f"{name}: unreadable HTML ({type(e).__name__}: {e}); re-save it as UTF-8 HTML") from e
    lo, hi = _root(recorder)
    title = recorder.title or _h1_title(recorder.events, lo, hi)
    body, headings = _blocks(_marked_text(recorder.events, lo, hi))
    return Extracted(body, (title or first_line_title(body))[:TITLE_MAX], headings)
