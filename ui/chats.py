"""Saved chats: each browser keeps its own conversations in its localStorage (`gr.BrowserState`).

Why in the browser and not on the server: answers quote the user's private documents, and a copy kept
in the browser is one more copy in a place the user already controls, not a new store on the server to
secure, back up, expire and separate per user; it needs no accounts (the app may run without a login,
and with one shared login list every user would otherwise see everyone's chats). The cost: chats live
in one browser profile (another browser or device does not see them, clearing site data deletes them),
and two tabs of one browser each write their own copy (the last one to save wins).

What is stored: `{"v": 1, "current": id | None, "chats": [chat, ...]}`, newest first; a chat is
`{"id", "title", "collection", "created", "updated", "turns": [Answer as a dict]}`, so a reopened chat
rebuilds its messages and its sources panel from the answers themselves. Bounds: at most `MAX_CHATS`
chats (the least recently used go first), `MAX_TURNS` answers per chat (its oldest go first), and
`MAX_CHARS` characters of JSON in all (localStorage holds about 5 MB per site); the retrieved
passages are kept without their text (their ranks and scores stay for the details panel).

The stored value comes back from the browser: it is read defensively (`load`), and anything that does
not parse is dropped, never trusted. Gradio encrypts it with a key that is in the page itself, so the
"encryption" only keeps other apps on the same origin from reading it by accident; the key is kept
in the data folder so chats survive a server restart. Pure functions over plain dicts, no Gradio.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from pathlib import Path

from pydantic import ValidationError

from rag import Answer

VERSION = 1
MAX_CHATS = 50
MAX_TURNS = 100
MAX_CHARS = 1_500_000
TITLE_MAX = 80
KEY_FILE = "ui-chats.key"


def empty() -> dict:
    return {"v": VERSION, "current": None, "chats": []}


def new_id() -> str:
    return uuid.uuid4().hex[:16]


def storage_key(data_dir: Path) -> str:
    """One localStorage key per data folder: two indexes served on the same port do not mix their chats."""
    return "rag-cited-chats-" + hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:12]


def storage_secret(data_dir: Path) -> str:
    """A key kept in the data folder (made once), so a restarted server still reads the browser's chats."""
    path = Path(data_dir) / KEY_FILE
    try:
        key = path.read_text(encoding="ascii").strip()
        if len(key) >= 16:
            return key
    except (OSError, UnicodeDecodeError):
        pass
    key = secrets.token_urlsafe(24)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(key, encoding="ascii")
    except OSError:  # a read-only data folder: chats then last until the server restarts
        pass
    return key


def stored_answer(answer: Answer) -> dict:
    """An answer as saved: everything but the retrieved passages' text."""
    data = answer.model_dump(mode="json")
    data["retrieved"] = [{**r, "text": ""} for r in data.get("retrieved", [])]
    return data


def answers(chat: dict) -> list[Answer]:
    """The chat's answers; a turn that does not parse (edited or from an older version) is left out."""
    out = []
    for turn in chat.get("turns", []) if isinstance(chat, dict) else []:
        try:
            out.append(Answer.model_validate(turn))
        except (ValidationError, TypeError, ValueError):
            continue
    return out


def _chat_ok(chat) -> bool:
    return (isinstance(chat, dict) and isinstance(chat.get("id"), str) and isinstance(chat.get("turns"), list)
            and isinstance(chat.get("title"), str) and isinstance(chat.get("collection"), str))


def load(raw) -> dict:
    """The stored value as it came from the browser, checked: malformed chats are dropped, bounds applied."""
    if not isinstance(raw, dict) or raw.get("v") != VERSION or not isinstance(raw.get("chats"), list):
        return empty()
    chats = [c for c in raw["chats"] if _chat_ok(c)]
    ids = {c["id"] for c in chats}
    current = raw.get("current") if raw.get("current") in ids else None
    return bound({"v": VERSION, "current": current, "chats": chats})


def find(store: dict, chat_id: str | None) -> dict | None:
    return next((c for c in store["chats"] if c["id"] == chat_id), None)


def title_for(question: str) -> str:
    title = " ".join(question.split())
    return title if len(title) <= TITLE_MAX else title[:TITLE_MAX - 1].rsplit(" ", 1)[0] + "…"


def put(store: dict, chat_id: str, collection: str, turns: list[Answer]) -> dict:
    """The store with chat `chat_id` holding `turns` (made when new), first in the list and current."""
    old = find(store, chat_id)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    chat = {"id": chat_id, "title": old["title"] if old else title_for(turns[0].question if turns else "New chat"),
            "collection": collection, "created": old["created"] if old else now, "updated": now,
            "turns": [stored_answer(a) for a in turns[-MAX_TURNS:]]}
    rest = [c for c in store["chats"] if c["id"] != chat_id]
    return bound({"v": VERSION, "current": chat_id, "chats": [chat, *rest]})


def rename(store: dict, chat_id: str, title: str) -> dict:
    title = title_for(title)
    chats = [{**c, "title": title} if c["id"] == chat_id and title else c for c in store["chats"]]
    return {**store, "chats": chats}


def remove(store: dict, chat_id: str) -> dict:
    return {**store, "current": None if store.get("current") == chat_id else store.get("current"),
            "chats": [c for c in store["chats"] if c["id"] != chat_id]}


def set_current(store: dict, chat_id: str | None) -> dict:
    return {**store, "current": chat_id if find(store, chat_id) else None}


def bound(store: dict) -> dict:
    """At most MAX_CHATS chats and MAX_CHARS characters: drop the least recently used chats (never the
    current one), then the current chat's oldest turns."""
    current = store.get("current")
    chats = [{**c, "turns": c["turns"][-MAX_TURNS:]} for c in store["chats"]]
    chats = sorted(chats, key=lambda c: (c["id"] == current, c.get("updated", "")), reverse=True)[:MAX_CHATS]
    while len(chats) > 1 and _size(chats) > MAX_CHARS:
        chats.pop()
    while chats and _size(chats) > MAX_CHARS and len(chats[0]["turns"]) > 1:
        chats[0] = {**chats[0], "turns": chats[0]["turns"][1:]}
    return {"v": VERSION, "current": current, "chats": chats}


def _size(chats: list[dict]) -> int:
    return len(json.dumps(chats, ensure_ascii=False))


def choices(store: dict) -> list[tuple[str, str]]:
    """(label, id) per saved chat for the chat list, newest first: "title · collection · 3 answers"."""
    out = []
    for c in store["chats"]:
        n = len(c["turns"])
        out.append((f"{c['title']} · {c['collection']} · {n} answer{'s' if n != 1 else ''}", c["id"]))
    return out
