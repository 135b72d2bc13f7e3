"""HTML and Markdown for the web chat: answers with linked [n] markers, source cards, header, documents.

Pure functions over `rag`'s public types, no Gradio, so they are cheap to test. Every piece of
document text (titles, file names, quotes, passages, questions) is untrusted: it goes through
`html.escape` here, and the chat additionally keeps Gradio's HTML sanitiser on. Left out: any
styling (that is `ui/theme.py`) and any state (that is `ui/app.py`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable

from rag import Answer, Citation, DocumentInfo

PASSAGE_WINDOW = 300  # characters shown either side of a quote when its paragraph is longer
_MARKER = re.compile(r"\[(\d{1,3})\]")
_CODE_BLOCK = re.compile(r"^ {0,3}(`{3,}|~{3,})[^\n]*\n(?:.*\n)*? {0,3}\1[ \t]*$", re.M)  # as rag's answerer fences
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~$])")
_TITLE = '<h3 class="src-title-bar">Sources</h3>'
_MD_LINE_START = re.compile(r"^(\s*)([-+>=]|\d+[.)])(?=\s)", re.M)


def card_id(turn: int, n: int) -> str:
    """The element id of source card n of chat turn `turn` (what the [n] links point at)."""
    return f"src-{turn}-{n}"


def plural(n: int, noun: str) -> str:
    """A count and its noun: "1 source", "3 sources"."""
    return f"{n} {noun}{'s' if n != 1 else ''}"


def md_escape(text: str) -> str:
    """Text shown literally inside Markdown: no HTML tags, emphasis, links, lists or LaTeX.

    Backslash-escapes the punctuation Markdown acts on, e.g. "<b>*x*</b>" shows as typed.
    """
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return _MD_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def answer_markdown(answer_text: str, turn: int, known: Iterable[int] = ()) -> str:
    """The answer for the chat: text escaped, each [n] of a known citation a link to its source card; a cited
    code block (fenced by the answerer) stays a code block, its text shown as is.

    Kept as Markdown (not HTML) so the chat's copy button yields readable text: "… units. [1](#src-0-1)".
    """
    known = set(known)
    out, pos = [], 0
    for block in _CODE_BLOCK.finditer(answer_text):
        out.append(_linked(answer_text[pos:block.start()], turn, known))
        out.append(block.group(0))  # a fence longer than any backtick run inside: nothing in it is Markdown
        pos = block.end()
    out.append(_linked(answer_text[pos:], turn, known))
    return "".join(out)


def _linked(text: str, turn: int, known: set[int]) -> str:
    out, pos = [], 0
    for m in _MARKER.finditer(text):
        out.append(md_escape(text[pos:m.start()]))
        n = int(m.group(1))
        out.append(f"[{n}](#{card_id(turn, n)})" if n in known else md_escape(m.group(0)))
        pos = m.end()
    out.append(md_escape(text[pos:]))
    return "".join(out)


def answer_message(answer: Answer, turn: int) -> str:
    """The chat message for a finished answer: linked text, plus the engine's notice when there is one."""
    body = answer_markdown(answer.text, turn, (c.id for c in answer.citations))
    if answer.notice:
        body = f"_{md_escape(answer.notice)}_\n\n{body}"
    return body


def passage_window(text: str, start: int, end: int, window: int = PASSAGE_WINDOW) -> tuple[int, int]:
    """The paragraph around text[start:end], clipped to `window` characters either side at word breaks."""
    lo = text.rfind("\n\n", 0, start)
    lo = 0 if lo < 0 else lo + 2
    hi = text.find("\n\n", end)
    hi = len(text) if hi < 0 else hi
    if start - lo > window:
        lo = start - window
        space = text.find(" ", lo, start)
        lo = space + 1 if space >= 0 else lo
    if hi - end > window:
        hi = end + window
        space = text.rfind(" ", end, hi)
        hi = space if space > end else hi
    return lo, hi


def highlighted_passage(text: str, start: int, end: int, window: int = PASSAGE_WINDOW) -> str:
    """HTML: the passage around a quote, escaped, with the quote itself in <mark>."""
    lo, hi = passage_window(text, start, end, window)
    before = ("…" if lo > 0 and text[lo - 1] not in "\n" else "") + text[lo:start].lstrip("\n")
    after = text[end:hi].rstrip("\n") + ("…" if hi < len(text) and text[hi] not in "\n" else "")
    return f"{html.escape(before)}<mark>{html.escape(text[start:end])}</mark>{html.escape(after)}"


def source_card(c: Citation, turn: int, document_text: Callable[[str], str]) -> str:
    """One numbered source: title, file, page ("p. 3") and heading path when known, the quote in its passage.

    The whole card is a button (ui/viewer.py opens the citation in its document)."""
    try:
        text = document_text(c.source)
        if text[c.start:c.end] != c.quote:  # a saved answer over a document that changed since
            raise LookupError(c.source)
        passage = highlighted_passage(text, c.start, c.end)
    except Exception:  # the document was deleted or changed since: show the quote alone
        passage = f"<mark>{html.escape(c.quote)}</mark>"
    page = f'<span class="src-page">p. {c.page}</span>' if c.page else ""
    ocr = '<span class="ocr-badge" title="read by OCR from a scanned page">OCR</span>' if c.ocr else ""
    path = " › ".join(html.escape(h) for h in c.heading_path)
    return (
        f'<article class="src-card" id="{card_id(turn, c.id)}" data-turn="{turn}" data-n="{c.id}" role="button" '
        f'tabindex="0" title="Open in the document">'
        f'<div class="src-top"><span class="src-num">{c.id}</span><span class="src-title">{html.escape(c.title or c.source)}</span>'
        f'<span class="src-open" aria-hidden="true">View ›</span></div>'
        f'<div class="src-meta"><span class="src-file" title="{html.escape(c.source)}">{html.escape(c.source)}</span>'
        f'{page}{ocr}<span class="src-score" title="support score of the quoted sentence">score {c.score:.2f}</span>'
        f'<span class="src-span">chars {c.start}–{c.end}</span></div>'
        + (f'<div class="src-path" title="Headings above the quote">{path}</div>' if path else "")
        + f'<div class="src-passage">{passage}</div></article>')


def sources_panel(answer: Answer | None, turn: int, document_text: Callable[[str], str], *,
                  documents: int | None = None) -> str:
    """The right-hand panel: one numbered card per citation of `answer` (or a hint before any answer)."""
    if answer is None:
        if documents == 0:
            hint = "No documents are indexed yet. Add some in the <b>Documents</b> tab, then ask away."
        else:
            hint = ("Ask a question: every answer sentence is quoted from your documents, and each "
                    "<span class=\"cite-demo\">n</span> links to the passage it comes from, shown here.")
        return f'<div class="src-panel src-empty">{_TITLE}<div class="src-hint">{hint}</div></div>'
    secs = answer.timings_ms.get("total_ms", 0.0) / 1000
    if answer.abstained:
        head = ('<div class="src-head abstained"><b>No answer in the documents.</b> '
                + ("The closest passages are below." if answer.citations else "Nothing relevant is indexed.")
                + "</div>")
    else:
        n = len(answer.citations)
        head = f'<div class="src-head"><b>{plural(n, "source")}</b> for this answer</div>'
    cards = "".join(source_card(c, turn, document_text) for c in answer.citations)
    foot = (f'<div class="src-foot">{html.escape(answer.mode)} answer · {plural(len(answer.retrieved), "passage")} searched · '
            f'{secs:.2f} s · question: “{html.escape(answer.question)}”</div>')
    return f'<div class="src-panel">{_TITLE}{head}{cards}{foot}</div>'


def pending_panel(question: str) -> str:
    return (f'<div class="src-panel src-empty">{_TITLE}<div class="src-hint">Searching your documents for '
            f'“{html.escape(question)}”…</div></div>')


def header(status: dict, mode: str) -> str:
    docs, chunks = int(status.get("documents", 0)), int(status.get("chunks", 0))
    stats = [plural(docs, "document"), plural(chunks, "passage"), f"{html.escape(mode)} answers"]
    pills = "".join(f'<span class="pill">{s}</span>' for s in stats)
    return ('<div class="app-header"><div class="brand"><span class="logo">❝</span><div>'
            '<div class="app-title">Cited</div><div class="app-sub">Answers from your documents, '
            'every sentence quoted and linked to its source. Runs offline.</div></div></div>'
            f'<div class="stats" id="corpus-stats">{pills}</div></div>')


def documents_table(docs: list[DocumentInfo]) -> str:
    """HTML list of the indexed documents: title, file, passages, size, when ingested (UTC, to the minute)."""
    if not docs:
        return '<div class="src-hint">No documents yet: add some on the left.</div>'
    rows = "".join(
        f'<tr><td class="doc-title">{html.escape(d.title or d.source)}</td>'
        f'<td class="doc-file"><code>{html.escape(d.source)}</code></td>'
        f'<td class="num" data-label="Passages">{d.chunks}</td><td class="num" data-label="Characters">{d.chars:,}</td>'
        f'<td class="doc-when" data-label="Ingested (UTC)">{html.escape(d.ingested_at.replace("T", " ")[:16])}</td>'
        '</tr>' for d in docs)
    return ('<div class="doc-table-wrap"><table class="doc-table doc-list"><thead><tr><th>Title</th><th>File</th>'
            '<th class="num">Passages</th><th class="num">Characters</th><th>Ingested (UTC)</th></tr></thead>'
            f'<tbody>{rows}</tbody></table></div>')
