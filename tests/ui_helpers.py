"""Helpers for the web-app tests: a free loopback port, a launched app that closes itself, chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
from collections.abc import Iterator

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
