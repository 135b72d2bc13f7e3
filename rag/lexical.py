"""Word-level text handling shared by BM25 retrieval and sentence scoring: tokens, stems, stopwords.

Numbers and rare names stay whole tokens ("Khtsaberd", "2020", "json.dumps" → "json", "dumps"), which
is what lets BM25 find what the embedding model splits into word-pieces. Left out: languages other
than English (the stemmer and stopword list are English).
"""

from __future__ import annotations

import functools
import re

_WORD = re.compile(r"[0-9]+(?:[.,][0-9]+)*|[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)

STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers
herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on
once only or other our ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were what when where which
while who whom why will with would you your yours yourself yourselves also does did may might must shall s t d ll
re ve m o y according said say says tell told give gave given us get got one ones whose what's who's there's
""".split())

# question words that say what kind of answer is wanted; they are not content terms. Compared with `terms()`
# output, so stems: "many" → "mani", "why" → "whi" (v0.1 listed the words, and "how many" counted "mani" as a
# rare content term that no sentence holds)
QUESTION_WORDS = frozenset("what which who whom whose when where whi how much mani".split())


@functools.lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lower-cased word tokens, apostrophes kept inside words."""
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


@functools.lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word)


def terms(text: str) -> list[str]:
    """Stemmed content terms (stopwords dropped), in order, with repeats."""
    return [_stem(w) for w in words(text) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]
