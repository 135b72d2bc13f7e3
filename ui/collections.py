"""Collections in the web app: one `Assistant` per collection, made on first use and kept.

A collection is a separate set of documents in the same data folder (its own Chroma collections, its
own uploads folder: see ui/uploads.py). `Collections(default)` wraps the app's assistant, whose
collection is the default for every page and API call; the others share its embedding model (loaded
once). Listing, deleting and the name rule are `rag.collections`'; names starting with "eval-" are refused
(the evaluation indexes use them and are not listed).
The default collection cannot be deleted from the app: API callers and new pages fall back to it.
Left out: renaming a collection (Chroma has no cheap rename of a whole index; create and re-upload).
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass

from rag import Assistant, InputError
from rag import collections as rag_collections
from rag_cited.ui.render import plural
from rag_cited.ui.uploads import uploads_dir


@dataclass(frozen=True)
class Info:
    """What the selector shows about one collection."""

    name: str
    documents: int
    chunks: int


def check_name(name: str | None) -> str:
    """A valid new collection name (the engine's rule, and not one of the hidden evaluation indexes)."""
    name = rag_collections.check_name((name or "").strip())
    if name.startswith(rag_collections.EVAL_PREFIX):
        raise InputError(f"collection names starting with '{rag_collections.EVAL_PREFIX}' are kept for the "
                         "evaluation indexes; choose another name")
    return name


class Collections:
    """The app's collections: `get(name)` the assistant of an existing one, `create`, `delete`, `infos`."""

    def __init__(self, default: Assistant):
        self.default = default
        self.default_name = default.settings.collection
        self._assistants: dict[str, Assistant] = {self.default_name: default}
        self._lock = threading.RLock()

    def _make(self, name: str) -> Assistant:
        with self._lock:
            if name not in self._assistants:
                self._assistants[name] = Assistant(self.default.settings, collection=name,
                                                   embed_model=self.default.embedder)
            return self._assistants[name]

    def get(self, name: str | None) -> Assistant:
        """The assistant of collection `name` (None: the default); InputError when there is no such collection."""
        if not name or name == self.default_name:
            return self.default
        with self._lock:
            if name in self._assistants:
                return self._assistants[name]
        if name not in self.names():
            raise InputError(f"there is no collection “{name}” (it may have been deleted); choose another")
        return self._make(name)

    def infos(self) -> list[Info]:
        """Every collection with its counts, the default first, then by name."""
        found = {c.name: Info(c.name, int(c.documents), int(c.chunks))
                 for c in rag_collections.list_collections(self.default.settings)}
        if self.default_name not in found:
            status = self.default.status()
            found[self.default_name] = Info(self.default_name, int(status["documents"]), int(status["chunks"]))
        return sorted(found.values(), key=lambda c: (c.name != self.default_name, c.name.lower()))

    def names(self) -> list[str]:
        return [c.name for c in self.infos()]

    def create(self, name: str | None) -> Assistant:
        """A new, empty collection (InputError when the name is taken or not allowed)."""
        name = check_name(name)
        with self._lock:
            if name in self.names():
                raise InputError(f"a collection named “{name}” exists already")
            assistant = self._make(name)
            assistant.status()  # makes the collection, so that it is listed
            return assistant

    def delete(self, name: str) -> None:
        """Remove a collection, its documents and its uploaded files (never the default one)."""
        if name == self.default_name:
            raise InputError(f"“{name}” is this app's default collection and cannot be deleted here; delete its "
                             "documents in the Documents tab instead")
        if name not in self.names():
            raise InputError(f"there is no collection “{name}”")
        with self._lock:
            assistant = self._assistants.pop(name, None) or self._make(name)
            self._assistants.pop(name, None)
            folder = uploads_dir(assistant)
            rag_collections.delete_collection(self.default.settings, name)
            shutil.rmtree(folder.parent if folder.parent.name == name else folder, ignore_errors=True)


def choices(infos: list[Info]) -> list[tuple[str, str]]:
    """(label, name) for the selector: "documents · 3 documents"."""
    return [(f"{c.name} · {plural(c.documents, 'document')}", c.name) for c in infos]
