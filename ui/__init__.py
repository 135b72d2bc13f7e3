"""The web chat (Gradio) over `rag`'s public API: `build_app(assistant)` and `serve(assistant, ...)`."""

from rag_cited.ui.app import build_app, serve

__all__ = ["build_app", "serve"]
