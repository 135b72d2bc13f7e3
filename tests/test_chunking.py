import random

import pytest

from rag.chunking import chunk_text, count_tokens, split_sentences
from rag.embeddings import MAX_WORDPIECES
from rag.loaders import load_file

from .conftest import REPO, SEEDS


def test_sentences_are_exact_and_split_headings():
    text = "Title Line\n\nDr. Smith arrived on Dec. 12. He left.\n- item one\n- item two"
    spans = split_sentences(text)
    assert [text[a:b] for a, b in spans] == ["Title Line", "Dr. Smith arrived on Dec. 12.", "He left.",
                                             "- item one", "- item two"]


def _corpus_texts():
    texts = [p.read_text() for p in SEEDS.glob("*.txt")]
    for p in sorted((REPO / "eval" / "corpora" / "pydocs").glob("*"))[:12]:
        texts.append(load_file(p, p.name).text)
    rnd = random.Random(7)
    words = "Khtsaberd ceasefire Lachin peacekeeping demarcation json.dumps(obj, indent=4) 1,234.5 «quoted»".split()
    texts.append(" ".join(rnd.choice(words) for _ in range(3000)))  # one 3000-word "sentence"
    return texts


@pytest.mark.parametrize("size,overlap", [(160, 32), (240, 0), (64, 16)])
def test_chunks_are_exact_slices_and_fit_the_model_window(embedder, size, overlap):
    for text in _corpus_texts():
        chunks = chunk_text(text, size, overlap, fits=embedder.fits)
        assert chunks
        covered = set()
        for c in chunks:
            assert text[c.start:c.end] == c.text
            assert embedder.count_wordpieces(c.text) <= MAX_WORDPIECES
            for a, b in c.sentences:
                assert c.start <= a < b <= c.end
                covered.add((a, b))
        assert covered >= {s for s in split_sentences(text) if count_tokens(text[s[0]:s[1]]) <= size}


def test_chunk_size_and_overlap_are_respected():
    text = (SEEDS / "000_9ca311f619442424.txt").read_text()
    chunks = chunk_text(text, 64, 16)
    assert len(chunks) > 5
    assert all(count_tokens(c.text) <= 64 + 8 for c in chunks)  # sentence joins may add a token or two
    overlapping = sum(1 for a, b in zip(chunks, chunks[1:]) if b.start < a.end)
    assert overlapping >= len(chunks) // 2
    assert not any(b.start < a.end for a, b in zip(chunk_text(text, 64, 0), chunk_text(text, 64, 0)[1:]))


def test_over_long_sentence_is_split_at_word_boundaries(embedder):
    text = "word " * 2000
    chunks = chunk_text(text.strip(), 200, 0, fits=embedder.fits)
    assert len(chunks) >= 10
    assert all(c.text.startswith("word") and c.text.endswith("word") for c in chunks)


def test_tiny_and_empty_text():
    assert chunk_text("One. Two.", 160, 32) and chunk_text("", 160, 32) == []
