"""A real llama-index `BaseEmbedding` of our own that costs nothing: a hashed bag of words.

Tests that need many index writes in little time (kill -9 trials) plug it in through the public
`embed_model` hook, so the time goes to parsing and Chroma, not to the model. Run as a module it is a
small writer process for those tests: `python -m tests.hashing_embedding DATA_DIR ingest|delete ARG`.
"""

from __future__ import annotations

import hashlib
import re
import sys

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding


class HashingEmbedding(BaseEmbedding):
    dim: int = 256

    @classmethod
    def class_name(cls) -> str:
        return "HashingEmbedding"

    def _vec(self, text: str) -> list[float]:
        v = np.zeros(self.dim)
        for w in re.findall(r"\w+", text.lower()):
            v[int(hashlib.md5(w.encode()).hexdigest(), 16) % self.dim] += 1.0
        return v.tolist()

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vec(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vec(text)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vec(query)


def main(argv: list[str]) -> int:
    import time

    from rag import Assistant

    data_dir, op, arg = argv
    a = Assistant(data_dir=data_dir, embed_model=HashingEmbedding(model_name="hashing-256"))
    with a.store.reading():
        a.store.check_fingerprint()
    print("ready", flush=True)
    t0 = time.perf_counter()
    if op == "ingest":
        a.ingest([arg])
    else:
        a.delete(arg)
    print(f"done {time.perf_counter() - t0:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
