"""rag-cited's command layer and the installed home of its front ends.

`rag_cited.cli` is the `rag` command; `rag_cited.ui` (web app, OpenAI-compatible API, MCP server) and
`rag_cited.eval` (the question-suite harness) are the repository's top-level `ui/` and `eval/` folders.
The wheel installs them inside this package, so no generic top-level name (`ui`, `eval`) lands in
site-packages; in a checkout (editable install, tests) this package reaches them beside it.
Dependencies point one way: `rag_cited` → `rag_cited.ui`, `rag_cited.eval` → `rag` (public API).
"""

import os as _os

_here = _os.path.dirname(_os.path.abspath(__file__))
if not _os.path.isdir(_os.path.join(_here, "ui")):  # a checkout: ui/ and eval/ sit beside this folder
    __path__.append(_os.path.dirname(_here))  # noqa: F821  (__path__ is set for packages)
