"""Helpers for the web-app tests: a free loopback port, a launched app that closes itself, chromium, pages and
what the browser tests do in them, and PDFs drawn by reportlab with where each line went."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402  (after the environment above)
import pytest  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]

# Questions over the seed corpus, each with a fact its answer must hold.
SEED_FACTS = [
    ("Which villages did Azerbaijan attack on December 12?", "Khtsaberd"),
    ("What did Ilham Aliyev promise?", "iron fist"),
    ("How many soldiers were killed, according to Baku?", "four soldiers"),
    ("Which villages did Armenia claim were attacked on December 13?", "Mets Shen"),
    ("How many Armenian fighters were injured, according to the Armenian Defense Ministry?", "6 Armenian fighters"),
    ("Where did the Russian military expand its presence on December 14?", "Lachin"),
    ("What operation did Azerbaijani forces say they carried out near Hadrut?", "anti-terrorist"),
    ("Who maintains South Front?", "independent team of experts"),
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def launched(app: gr.Blocks) -> Iterator[str]:
    """Launch `app` on a free loopback port without blocking; yield its URL; close it afterwards."""
    app.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield app.local_url
    finally:
        app.close()


def need(what: str) -> None:
    """Skip a browser test that cannot run here; fail it in CI (env CI set), where it must run."""
    message = f"browser test needs {what}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must run it: install Debian's chromium and the playwright package)")
    pytest.skip(message)


@contextlib.contextmanager
def chromium_browser():
    """Debian's chromium driven by Playwright (headless); skipped, or failed in CI, when either is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need("the playwright package")
    chromium = shutil.which("chromium")
    if not chromium:
        need("Debian's chromium on PATH")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


# -- shared by the browser tests --------------------------------------------------------------------
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
WAIT_MS = 30_000
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@contextlib.contextmanager
def browser_page(browser, url: str, viewport: dict | None = None, context=None):
    """A page on `url` (in a new browser context unless one is given), the chat ready; fails the test when a
    document's script raised a dialog."""
    own = context is None
    context = context or browser.new_context(viewport=viewport or DESKTOP)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    wait_ready(page)
    try:
        yield page
    finally:
        if own:
            context.close()
    assert not dialogs, f"a document's script ran in the page: {dialogs}"


def wait_ready(page) -> None:
    """The page is up and its load event (saved chats, collection) has been applied."""
    from playwright.sync_api import expect

    page.locator("#question textarea").wait_for()
    expect(page.locator("#session-ready")).to_have_count(1)


def ask(page, question: str):
    """Type a question, press Enter, wait until the answer is final (its sources are shown); return the answer."""
    from playwright.sync_api import expect

    before = page.locator("#chatbot [data-testid='bot']").count()
    page.locator("#question textarea").fill(question)
    page.locator("#question textarea").press("Enter")
    expect(page.locator("#chatbot [data-testid='bot']")).to_have_count(before + 1)
    expect(page.locator("#sources .src-foot")).to_contain_text(question)
    return page.locator("#chatbot [data-testid='bot']").last


def fill_all(page, values: dict[str, str], tries: int = 3) -> None:
    """Fill textboxes (selector → value) until every value holds. Opening an accordion can mount its textareas
    anew just after a first fill, which then lands on the discarded element (seen in CI under load)."""
    from playwright.sync_api import expect

    for attempt in range(tries):
        for selector, value in values.items():
            page.locator(selector).fill(value)
        try:
            for selector, value in values.items():
                expect(page.locator(selector)).to_have_value(value, timeout=3000)
            return
        except AssertionError:
            if attempt == tries - 1:
                raise


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def choose(page, dropdown: str, option) -> None:
    """Pick `option` (a name or a compiled pattern) from the Gradio dropdown with elem_id `dropdown`."""
    page.locator(f"#{dropdown} input").click()
    page.get_by_role("option", name=option).click()


def horizontal_overflow(page) -> int:
    """How many pixels the page scrolls sideways (0 when it fits the window)."""
    return page.evaluate("document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth")


def shot(page, name: str, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


# -- PDFs drawn by reportlab, with where each line went ---------------------------------------------
@dataclass(frozen=True)
class DrawnLine:
    """A line of text reportlab drew: its page (1-based) and box in PDF points (origin bottom left)."""

    page: int
    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    page_width: float
    page_height: float

    def fractions(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) as fractions of the page, origin top left (as on a rendered image)."""
        w, h = self.page_width, self.page_height
        return self.x0 / w, 1 - self.y1 / h, self.x1 / w, 1 - self.y0 / h


def write_pdf(path: Path, pages: list[list[str]], title: str = "") -> list[DrawnLine]:
    """A US-letter PDF: each page's first line a 18 pt heading, the others 12 pt Helvetica; where each line is."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfbase.pdfmetrics import getAscentDescent, stringWidth
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=letter)
    if title:
        c.setTitle(title)
    drawn = []
    for number, lines in enumerate(pages, start=1):
        for i, text in enumerate(lines):
            font, size, y = ("Helvetica-Bold", 18, 700) if i == 0 else ("Helvetica", 12, 650 - 24 * i)
            c.setFont(font, size)
            c.drawString(72, y, text)
            ascent, descent = getAscentDescent(font, size)
            drawn.append(DrawnLine(number, text, 72, y + descent, 72 + stringWidth(text, font, size), y + ascent,
                                   *letter))
        c.showPage()
    c.save()
    return drawn


def overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two (left, top, right, bottom) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def highlight_fractions(page) -> list[tuple[float, float, float, float]]:
    """The viewer's highlight boxes as fractions of the rendered page image, as the browser lays them out."""
    return page.evaluate("""() => {
      const img = document.querySelector('#viewer-body .viewer-page img').getBoundingClientRect();
      return [...document.querySelectorAll('#viewer-body .viewer-hl')].map(e => {
        const r = e.getBoundingClientRect();
        return [(r.left - img.left) / img.width, (r.top - img.top) / img.height,
                (r.right - img.left) / img.width, (r.bottom - img.top) / img.height];
      });
    }""")


def write_scanned_pdf(path: Path, lines: list[str], dpi: int = 200) -> Path:
    """A one-page PDF that is only an image of `lines` (a scan: no text layer; its text is read by OCR)."""
    import io

    import pypdfium2 as pdfium
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    typed = canvas.Canvas(buf, pagesize=letter)
    typed.setFont("Helvetica", 12)
    for i, line in enumerate(lines):
        typed.drawString(72, 700 - 20 * i, line)
    typed.save()
    image = pdfium.PdfDocument(buf.getvalue())[0].render(scale=dpi / 72, grayscale=True).to_pil()
    scan = canvas.Canvas(str(path), pagesize=letter)
    scan.drawImage(ImageReader(image), 0, 0, width=letter[0], height=letter[1])
    scan.save()
    return path
