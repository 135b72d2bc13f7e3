"""Collections (workspaces): separate sets of documents in one data dir or Chroma server.

A collection is the pair of Chroma collections a `Store` keeps: `<name>` (chunks, carrying the index
fingerprint in its metadata) and `<name>__docs` (the document registry and texts). Each is used through its own
`Assistant(settings, collection=name)`, with its own documents, fingerprint and answers. `list_collections`
names ours (chunk collections with a fingerprint; the `__docs` registries and the eval harness's `eval-*`
indexes are not listed); `delete_collection` drops both halves under the store's write lock. `AssistantPool`
keeps one Assistant per collection for servers (the OpenAI-compatible API, MCP), created on first use and
sharing the first one's embedder and LLM.

Left out: renaming or copying collections, per-collection settings (chunking, model: one fingerprint per
Settings), and access control between collections (whoever may use the server may use every collection).
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING

from rag.errors import InputError
from rag.settings import Settings
from rag.store import Store
from rag.types import CollectionInfo

if TYPE_CHECKING:
    from rag.engine import Assistant

REGISTRY_SUFFIX = "__docs"
EVAL_PREFIX = "eval-"
_NAME = re.compile(Settings.model_fields["collection"].metadata[0].pattern)


def check_name(name: str) -> str:
    """`name` when it can name a collection; else InputError saying what a name may be."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name.endswith(REGISTRY_SUFFIX):
        raise InputError(f"invalid collection name {name!r}: use 3-512 characters of a-z A-Z 0-9 . _ -, starting "
                         f"and ending with a letter or digit, not ending in '{REGISTRY_SUFFIX}'")
    return name


def _store(settings: Settings, name: str | None = None) -> Store:
    """A Store on the same Chroma as `settings` (fingerprint-free: it only lists, counts and drops)."""
    return Store(settings if name is None else settings.model_copy(update={"collection": name}), {})


def _ours(collection) -> bool:
    name = collection.name
    return (not name.endswith(REGISTRY_SUFFIX) and not name.startswith(EVAL_PREFIX)
            and "rag_schema" in (collection.metadata or {}))


def list_collections(settings: Settings) -> list[CollectionInfo]:
    """This data dir's (or Chroma server's) collections of documents, by name, with their sizes."""
    return _list(_store(settings))


def _list(store: Store) -> list[CollectionInfo]:
    out = []
    with store.reading():
        for collection in store.client.list_collections():
            if not _ours(collection):
                continue
            try:
                registry = store.client.get_collection(collection.name + REGISTRY_SUFFIX)
                metas = registry.get(where={"kind": "doc"}, include=["metadatas"])["metadatas"]
            except Exception:  # noqa: BLE001 — no registry yet (a collection created but never written)
                metas = []
            out.append(CollectionInfo(name=collection.name, documents=len(metas),
                                      chunks=sum(int((m or {}).get("chunks", 0)) for m in metas)))
    return sorted(out, key=lambda c: c.name)


def _exists(store: Store, name: str) -> bool:
    with store.reading():
        try:
            return _ours(store.client.get_collection(name))
        except Exception:  # noqa: BLE001 — chromadb raises NotFoundError/ValueError/InvalidCollection by version
            return False


def delete_collection(settings: Settings, name: str) -> bool:
    """Drop collection `name` (its chunks and its document registry); False when there is none of that name."""
    check_name(name)
    if not _exists(_store(settings), name):
        return False
    store = _store(settings, name)
    with store.writing():
        store.reset()
    return True


class AssistantPool:
    """One `Assistant` per collection, created on first use and shared by threads (servers use this)."""

    def __init__(self, base: Assistant):
        self.base = base
        self._assistants: dict[str, Assistant] = {base.settings.collection: base}
        self._lock = threading.Lock()

    @property
    def default(self) -> str:
        return self.base.settings.collection

    def names(self) -> list[str]:
        """The default collection first (even while empty), then every other collection, by name."""
        others = [c.name for c in _list(self.base.store) if c.name != self.default]
        return [self.default, *others]

    def get(self, name: str | None = None) -> Assistant:
        """The Assistant of collection `name` (the default when None); InputError for a collection that does not
        exist (or no longer does: read-only front ends must not create one by a typo)."""
        if name is None or name == self.default:
            return self.base
        check_name(name)
        if not _exists(self.base.store, name):
            raise InputError(f"no collection '{name}'; the collections are: {', '.join(self.names())}")
        from rag.engine import Assistant

        with self._lock:
            if name not in self._assistants:
                self._assistants[name] = Assistant(self.base.settings, collection=name,
                                                   embed_model=self.base.embedder, llm=self.base._llm)
            return self._assistants[name]
