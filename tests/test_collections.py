"""Collections (workspaces): separate documents and answers in one data dir; listing, deleting, the command
line, and the pool of per-collection Assistants the servers use (real Chroma, real model)."""

from __future__ import annotations

import json
import threading

import pytest

from rag import Assistant, InputError
from rag.collections import AssistantPool, check_name, delete_collection, list_collections
from rag_cited.cli import main

from .conftest import assert_exact

# the same question, a different answer in each collection
HARBOUR = "The keeper of the town archive is Tobias Quill. He catalogued the harbour records in 1889.\n"
GARDEN = "The keeper of the town archive is Miriam Hale. She catalogued the garden letters in 1921.\n"
QUESTION = "Who is the keeper of the town archive?"


@pytest.fixture(scope="module")
def two(tmp_path_factory, embedder):
    """A data dir with collections 'harbour' and 'garden', one document each (and an eval harness index)."""
    root = tmp_path_factory.mktemp("collections")
    for name, text in (("harbour", HARBOUR), ("garden", GARDEN)):
        (root / name).mkdir()
        (root / name / f"{name}.txt").write_text(text)
    data = root / "data"
    out = {name: Assistant(data_dir=data, collection=name, embed_model=embedder) for name in ("harbour", "garden")}
    for name, a in out.items():
        a.ingest([root / name])
    Assistant(data_dir=data, collection="eval-seed", embed_model=embedder).ingest([root / "garden"])
    return out


def test_two_collections_answer_from_their_own_documents(two):
    harbour, garden = two["harbour"].ask(QUESTION), two["garden"].ask(QUESTION)
    assert "Tobias Quill" in harbour.text and "Miriam" not in harbour.text
    assert "Miriam Hale" in garden.text and "Tobias" not in garden.text
    assert_exact(two["harbour"], harbour)
    assert_exact(two["garden"], garden)
    assert [d.source for d in two["harbour"].documents()] == ["harbour/harbour.txt"]
    assert two["harbour"].status()["fingerprint"] == two["garden"].status()["fingerprint"]


def test_list_skips_registries_and_eval_indexes(two):
    found = list_collections(two["harbour"].settings)
    assert [(c.name, c.documents, c.chunks) for c in found] == [("garden", 1, 1), ("harbour", 1, 1)]


def test_pool_creates_one_assistant_per_collection_on_first_use(two):
    pool = AssistantPool(two["harbour"])
    assert pool.get() is two["harbour"] and pool.get("harbour") is two["harbour"]
    got: list[Assistant] = []
    threads = [threading.Thread(target=lambda: got.append(pool.get("garden"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(a) for a in got}) == 1 and got[0].settings.collection == "garden"
    assert got[0].embedder is two["harbour"].embedder  # one model in memory for every collection
    assert "Miriam Hale" in got[0].ask(QUESTION).text
    assert pool.names() == ["harbour", "garden"]
    for bad in ("nope", "eval-seed", "x", "bad name"):
        with pytest.raises(InputError):
            pool.get(bad)


def test_invalid_names_are_refused():
    for bad in ("ab", "-lead", "has space", "garden__docs", "a" * 600):
        with pytest.raises(InputError, match="invalid collection name"):
            check_name(bad)
    assert check_name("notes.2024_v-1") == "notes.2024_v-1"


def test_delete_leaves_the_other_collection(tmp_path, embedder):
    (tmp_path / "h").mkdir()
    (tmp_path / "h" / "harbour.txt").write_text(HARBOUR)
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "garden.txt").write_text(GARDEN)
    data = tmp_path / "data"
    harbour = Assistant(data_dir=data, collection="harbour", embed_model=embedder)
    harbour.ingest([tmp_path / "h"])
    garden = Assistant(data_dir=data, collection="garden", embed_model=embedder)
    garden.ingest([tmp_path / "g"])

    assert delete_collection(harbour.settings, "harbour") is True
    assert [c.name for c in list_collections(garden.settings)] == ["garden"]
    assert delete_collection(garden.settings, "harbour") is False
    with pytest.raises(InputError):
        delete_collection(garden.settings, "bad name")
    answer = garden.ask(QUESTION)
    assert "Miriam Hale" in answer.text
    assert_exact(garden, answer)
    assert harbour.documents() == []  # a reader of the dropped collection sees it empty, not an error


def test_cli_lists_and_deletes_collections(two, capsys):
    data = str(two["harbour"].settings.data_dir)
    assert main(["collections", "--data-dir", data, "--json"]) == 0
    assert [c["name"] for c in json.loads(capsys.readouterr().out)] == ["garden", "harbour"]
    assert main(["collections", "--data-dir", data, "--collection", "garden"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("* garden") and lines[1].startswith("  harbour") and "1 documents" in lines[0]
    assert main(["collections", "--data-dir", data, "--delete", "nothing-here"]) == 1
    assert "no collection 'nothing-here'" in capsys.readouterr().err
    assert main(["collections", "--data-dir", data, "--delete", "bad name"]) == 1
    assert "invalid collection name" in capsys.readouterr().err
