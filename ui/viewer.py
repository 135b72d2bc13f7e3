"""The document viewer: a citation opened in its document, over the page (a modal panel).

PDF citations (`Citation.page` set) show the rendered page from `Assistant.page_image(source, page,
quote)` with the quoted sentence's own boxes marked over it (absolutely placed, in percent of the
image, so they follow the image when it scales), previous/next page, the page number, and "text read
by OCR" when the quote came from OCR. Other formats show the document's text (escaped) under the
citation's heading path, with the quote marked and scrolled into view (theme.py's script). A PDF page
that cannot be rendered (the file moved, no renderer) falls back to the text view and says why.

`Target` is what the viewer shows (a citation and its collection); it lives in a `gr.State`, so the
page buttons know where they are. Left out: zoom (the browser's own works), search inside the document.
"""

from __future__ import annotations

import base64
import functools
import html
from dataclasses import asdict, dataclass, field
from pathlib import Path

import gradio as gr

from rag import Assistant, Citation, InputError, RagError

TEXT_WINDOW = 40_000  # characters shown either side of the quote in the text view (whole documents below 2x)


@dataclass(frozen=True)
class Target:
    """One citation as the viewer needs it; `shown` is the page on screen (PDF)."""

    collection: str
    source: str
    title: str
    quote: str
    start: int
    end: int
    n: int = 0
    sha256: str = ""
    page: int | None = None
    heading_path: list[str] = field(default_factory=list)
    ocr: bool = False
    shown: int | None = None

    @classmethod
    def of(cls, c: Citation, collection: str) -> Target:
        return cls(collection, c.source, c.title or c.source, c.quote, c.start, c.end, c.id, c.sha256, c.page,
                   list(c.heading_path), c.ocr, c.page)

    def to_state(self) -> dict:
        return asdict(self)

    @classmethod
    def from_state(cls, data: dict | None) -> Target | None:
        return cls(**data) if isinstance(data, dict) else None


def _head(t: Target, page_note: str = "") -> str:
    path = " › ".join(html.escape(h) for h in t.heading_path)
    ocr = (' <span class="ocr-badge" title="This page is a scan: the quoted text was read by OCR; check it on the '
           'image">text read by OCR</span>') if t.ocr else ""
    return (f'<div class="viewer-head"><span class="src-num">{t.n}</span><div class="viewer-heading">'
            f'<div class="viewer-title">{html.escape(t.title)}</div>'
            f'<div class="viewer-meta"><span class="src-file">{html.escape(t.source)}</span>{page_note}{ocr}</div>'
            + (f'<div class="viewer-path" title="Headings above the quote">{path}</div>' if path else "")
            + "</div></div>")


def page_html(t: Target, image, page: int, pages: int | None) -> str:
    """The rendered page as a data: URL with the quote's boxes marked over it (percent of the image)."""
    w, h = max(int(image.width), 1), max(int(image.height), 1)
    marks = "".join(
        f'<span class="viewer-hl" data-box="{x0:.1f},{y0:.1f},{x1:.1f},{y1:.1f}" style="left:{100 * x0 / w:.3f}%;'
        f'top:{100 * y0 / h:.3f}%;width:{100 * (x1 - x0) / w:.3f}%;height:{100 * (y1 - y0) / h:.3f}%"></span>'
        for x0, y0, x1, y1 in image.boxes)
    src = "data:image/png;base64," + base64.b64encode(image.png).decode("ascii")
    of = f" of {pages}" if pages else ""
    note = (f'<span class="viewer-page-no" id="viewer-page-no">page {page}{of}</span>'
            + ("" if page == t.page else f' <span class="viewer-cited">(quote on page {t.page})</span>'))
    alt = html.escape(f"Page {page} of {t.source}", quote=True)
    return (f'<div class="viewer" data-kind="pdf" data-page="{page}">{_head(t, note)}'
            f'<blockquote class="viewer-quote">{html.escape(t.quote)}</blockquote>'
            f'<div class="viewer-page" style="aspect-ratio:{w}/{h}">'
            f'<img src="{src}" alt="{alt}" width="{w}" height="{h}" draggable="false">{marks}</div></div>')


def text_html(t: Target, text: str, note: str = "") -> str:
    """The document's text (escaped) around the quote, the quote marked (`#viewer-mark`)."""
    start, end = t.start, t.end
    if not (0 <= start <= end <= len(text)) or text[start:end] != t.quote:
        found = text.find(t.quote) if t.quote else -1  # another version of the document: find the quote again
        start, end = (found, found + len(t.quote)) if found >= 0 else (0, 0)
    lo, hi = (0, len(text)) if len(text) <= 2 * TEXT_WINDOW else (max(0, start - TEXT_WINDOW), end + TEXT_WINDOW)
    before = ("…" if lo else "") + text[lo:start]
    after = text[end:hi] + ("…" if hi < len(text) else "")
    mark = f'<mark id="viewer-mark">{html.escape(text[start:end])}</mark>' if end > start else ""
    page = f' <span class="viewer-page-no">page {t.page}</span>' if t.page else ""
    warn = f'<div class="viewer-note">{html.escape(note)}</div>' if note else ""
    missing = ("" if mark else '<div class="viewer-note">The quoted sentence is not in the current version of '
               f'this document any more: <q>{html.escape(t.quote)}</q></div>')
    return (f'<div class="viewer" data-kind="text">{_head(t, page)}{warn}{missing}<div class="viewer-scroll">'
            f'<div class="viewer-text">{html.escape(before)}{mark}{html.escape(after)}</div></div></div>')


def page_count(assistant: Assistant, source: str) -> int | None:
    """How many pages the PDF behind `source` has (None when its file cannot be read: then "next" is tried)."""
    try:
        doc = next((d for d in assistant.documents() if d.source == source), None)
        path = Path(doc.path) if doc and doc.path else None
        if path is None:
            return None
        st = path.stat()
        return _pages_in(str(path), st.st_mtime_ns, st.st_size)
    except (RagError, OSError):
        return None


@functools.lru_cache(maxsize=256)
def _pages_in(path: str, mtime_ns: int, size: int) -> int | None:
    """Pages of the PDF at `path` (pypdf, no rendering); cached per file version."""
    from pypdf import PdfReader

    try:
        return len(PdfReader(path).pages)
    except Exception:  # noqa: BLE001 — pypdf raises many types on damaged files; the viewer then tries "next"
        return None


def render(assistant: Assistant, t: Target, page: int | None = None) -> tuple[str, int | None, int | None]:
    """(viewer HTML, page shown, page count) for target `t` at `page` (default: the quote's page).

    The quote's own page falls back to the text view when it cannot be rendered; another page raises."""
    page = page or t.page
    note = ""
    if page and callable(getattr(assistant, "page_image", None)):
        try:
            image = assistant.page_image(t.source, page, t.quote)
            pages = page_count(assistant, t.source)
            return page_html(t, image, page, pages), page, pages
        except (RagError, OSError, ValueError, IndexError) as e:
            if page != t.page:
                raise InputError(f"page {page} of {t.source} cannot be shown ({e})") from e
            note = f"The page image is not available ({e}); showing the document's text."
    try:
        text = _document_text(assistant, t)
    except RagError as e:
        return (f'<div class="viewer">{_head(t)}<div class="viewer-note">{html.escape(str(e))}</div>'
                f'<blockquote class="viewer-quote">{html.escape(t.quote)}</blockquote></div>'), None, None
    return text_html(t, text, note), None, None


def _document_text(assistant: Assistant, t: Target) -> str:
    if t.sha256:
        try:
            return assistant.document_text(t.source, t.sha256)
        except RagError:
            pass  # that version was replaced since: the current one
    return assistant.document_text(t.source)


# -- the panel in the app ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Viewer:
    box: gr.Column
    body: gr.HTML
    prev: gr.Button
    next: gr.Button
    close: gr.Button
    state: gr.State


SCROLL_TO_MARK = """
const reveal = () => {
  const mark = element.querySelector('#viewer-mark, .viewer-hl');
  if (mark) mark.scrollIntoView({block: 'center', inline: 'nearest'});
};
reveal();
watch('value', reveal);
new ResizeObserver(reveal).observe(element);  // a turned phone re-flows the text: keep the quote in view
"""


def components() -> Viewer:
    """The viewer panel (hidden until a citation is opened); build it at the top level of the Blocks."""
    with gr.Column(visible=False, elem_id="viewer", elem_classes=["viewer-modal"]) as box:
        with gr.Row(elem_id="viewer-bar", equal_height=True):
            prev = gr.Button("‹ Previous page", size="sm", elem_id="viewer-prev", visible=False, scale=0,
                             min_width=60)
            nxt = gr.Button("Next page ›", size="sm", elem_id="viewer-next", visible=False, scale=0, min_width=60)
            close = gr.Button("Close ✕", size="sm", elem_id="viewer-close", scale=0, min_width=60)
        body = gr.HTML(elem_id="viewer-body", js_on_load=SCROLL_TO_MARK)
    return Viewer(box, body, prev, nxt, close, gr.State(None))


def shown(v: Viewer, assistant: Assistant, t: Target, page: int | None = None) -> dict:
    """Updates that show target `t` (at `page`) in the viewer."""
    body, at, pages = render(assistant, t, page)
    t = Target(**{**t.to_state(), "shown": at})
    paged = at is not None and pages != 1
    return {v.box: gr.update(visible=True), v.body: body, v.state: t.to_state(),
            v.prev: gr.update(visible=paged, interactive=paged and at > 1),
            v.next: gr.update(visible=paged, interactive=paged and (pages is None or at < pages))}


def events(v: Viewer, assistant_of) -> None:
    """Page buttons and close; `assistant_of(collection)` gives the collection's assistant."""

    def turn(state: dict | None, delta: int):
        t = Target.from_state(state)
        if t is None or t.shown is None:
            return {}
        try:
            return shown(v, assistant_of(t.collection), t, max(1, t.shown + delta))
        except RagError as e:
            raise gr.Error(str(e)) from e

    outputs = [v.box, v.body, v.state, v.prev, v.next]
    v.prev.click(lambda s: turn(s, -1), v.state, outputs, api_visibility="private", show_progress="hidden")
    v.next.click(lambda s: turn(s, +1), v.state, outputs, api_visibility="private", show_progress="hidden")
    v.close.click(lambda: gr.update(visible=False), None, v.box, api_visibility="private", queue=False,
                  show_progress="hidden")
