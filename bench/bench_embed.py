"""Embedding throughput: the shipped int8 graph vs the constant-folded cached graph, 256-token paragraphs.

    python bench/bench_embed.py

ARCHITECTURE.md measured 19.8/s shipped and 22.8/s folded on 2 cores; this checks our embedder adds
nothing on top (dynamic padding, length-sorted batches).
"""

from __future__ import annotations

import random
import tempfile
import time

from rag.embeddings import OnnxMiniLM


def paragraphs(n: int) -> list[str]:
    rnd = random.Random(0)
    words = ("ceasefire border village militia peacekeeping corridor ministry declared attack soldiers civilians "
             "agreement demarcation escalation provocation territory district forces encirclement").split()
    return [" ".join(rnd.choice(words) for _ in range(230)) for _ in range(n)]


def rate(e: OnnxMiniLM, texts: list[str]) -> float:
    e.embed(texts[:4])
    t = time.perf_counter()
    e.embed(texts)
    return len(texts) / (time.perf_counter() - t)


if __name__ == "__main__":
    texts = paragraphs(192)
    e = OnnxMiniLM()
    print(f"word-pieces per text: {e.count_wordpieces(texts[0])}")
    print(f"shipped int8 graph : {rate(e, texts):.1f} texts/s")
    with tempfile.TemporaryDirectory() as tmp:
        print(f"folded, cached     : {rate(OnnxMiniLM(cache_dir=tmp), texts):.1f} texts/s")
