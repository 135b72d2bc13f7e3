"""Text → sentence spans → token-budgeted chunks with exact character offsets.

Sentences come from NLTK's Punkt model (bundled with llama-index-core, so it works offline), after
splitting at paragraph breaks, headings and list items. Chunks pack whole sentences up to
`chunk_size` tiktoken tokens, repeat up to `chunk_overlap` tokens of trailing sentences, and are then
checked against the embedder's own window (`fits`); anything over it is split again, down to word
boundaries for a single over-long sentence, and down to characters for a single over-long "word".

Hostile text stays linear: a segment longer than `MAX_SEGMENT` characters (a 30 MB line) is cut at a
sentence end or whitespace before Punkt sees it (NLTK runs Punkt's regexes under a 5 s wall-clock cap
and raises TimeoutError past it), and a "word" longer than `MAX_WORD` characters (a 5 MB token without
spaces) is cut into pieces before it is counted, and no chunk spans more than `MAX_CHUNK_CHARS` (huge
runs of whitespace between sentences). No limit is reached by ordinary prose, so ordinary text chunks
exactly as before (tests/test_chunking.py pins the seed and eval corpora).
Left out: layout-aware splitting (tables, columns).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.loaders.structure import heading_path_at
from rag.types import Chunk, Section

CHUNKER_VERSION = "sent-v4"  # the sentence splitter and packing (pinned by tests/test_chunking.py)
# v3: prose hard-wrapped under 60 columns is joined; v4: a fenced block or a >>> session is one unit
STRUCTURE_VERSION = "sections-v3"  # chunks start at sections, carry heading paths; v3: PDF headings from font sizes

# llama-index-core's bundled NLTK and tiktoken data, found without importing it (that import costs ~0.9 s)
_STATIC = Path(importlib.util.find_spec("llama_index.core").origin).parent / "_static"
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)]|#{1,6})\s")
_ENDS_SENTENCE = re.compile(r"[.!?:;)\"'”’]\s*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_PROMPT = re.compile(r"^\s*>>>(?: |$)")
CODE_BLOCK_LINES = 200  # the longest code block kept whole (the eval corpora's longest: 145 lines, a JSON example)
_PROSE_END = re.compile(r"[^\W\d_],?\s*$")  # a wrapped prose line ends in a word (or a comma)
_CODEISH = re.compile(r"[=<>{}\[\]$|\\]|://|\s-{1,2}\w|^\s*(?:>>>|\$|#)")  # commands, URLs, options, prompts
# Longest text handed to Punkt at once. The longest segment in seeds/ and eval/corpora/pydocs is 889
# characters; Punkt takes ~30 ms per 20,000 (2 cores), far under NLTK's 5 s cap.
MAX_SEGMENT = 20_000
# Longest "word" counted as one. Real words, URLs and identifiers are far shorter (the corpora's longest
# is 72); a longer run without spaces is cut into pieces of this size before tiktoken sees it.
MAX_WORD = 1_000
# Longest span one chunk may cover. Sentences are packed by tokens, but the whitespace between them costs
# none: without this, 300 sentences 100 KB of spaces apart made 1.3 MB chunks. Ordinary chunks span
# ~1,000 characters (the longest in the seed and eval corpora: 1,361), so this never splits them.
MAX_CHUNK_CHARS = 20_000
_LAST_SENTENCE_END = re.compile(r".*[.!?][\"'”’)\]]*\s", re.S)  # greedy: matches up to the last one
_LAST_SPACE = re.compile(r".*\s", re.S)
_WORD = re.compile(r"\S+")


@functools.lru_cache(maxsize=1)
def _punkt():
    import nltk

    cache = str(_STATIC / "nltk_cache")
    if cache not in nltk.data.path:
        nltk.data.path.insert(0, cache)
    from nltk.tokenize.punkt import PunktTokenizer

    tok = PunktTokenizer("english")
    tok._params.abbrev_types.update({"i.e", "e.g", "etc", "vs", "cf", "approx", "incl", "no", "fig", "eq", "sec"})
    return tok


@functools.lru_cache(maxsize=1)
def tiktoken_encoding():
    """cl100k_base from llama-index-core's bundled cache (no download)."""
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(_STATIC / "tiktoken_cache"))
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str) -> int:
    return len(tiktoken_encoding().encode(text, disallowed_special=()))


def _next_fences(lines: list[str]) -> dict[str, list[int]]:
    """For each fence marker, the index of the next line at or after i that starts with it (len(lines): none).
    One backward pass, so finding every block's closing fence stays linear however the fences are arranged."""
    out = {m: [len(lines)] * (len(lines) + 1) for m in ("```", "~~~")}
    for i in range(len(lines) - 1, -1, -1):
        head = lines[i].lstrip()[:3]
        for m, nxt in out.items():
            nxt[i] = i if head == m else nxt[i + 1]
    return out


def _code_block_end(lines: list[str], i: int, fences: dict[str, list[int]]) -> int | None:
    """The last line of the code block starting at line i, or None: a fenced block (``` or ~~~, to its closing
    fence) or an interactive session (">>> " lines with their output, to the next blank line). A block longer
    than CODE_BLOCK_LINES (an unclosed fence) is no block: its lines are read as text."""
    fence = _FENCE.match(lines[i])
    if fence:
        j = fences[fence.group(1)][i + 1]
        return j if j < len(lines) and j - i < CODE_BLOCK_LINES else None
    if _PROMPT.match(lines[i]):
        j = i
        while j + 1 < len(lines) and lines[j + 1].strip() and j - i < CODE_BLOCK_LINES:
            j += 1
        return j
    return None


def _segments(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, whole) spans no sentence may cross: paragraphs, lines that are headings/list items or end a
    sentence, and code blocks (whole=True: one unit, not split into sentences)."""
    spans: list[tuple[int, int, bool]] = []
    start: int | None = None
    prev_end = 0
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    fences = _next_fences(lines)
    i = 0
    while i < len(lines):
        line, line_start, line_end = lines[i], starts[i], starts[i] + len(lines[i])
        block_end = _code_block_end(lines, i, fences) if line.strip() else None
        if not line.strip() or block_end is not None:
            if start is not None:
                spans.append((start, prev_end, False))
                start = None
            if block_end is not None:
                spans.append((line_start, starts[block_end] + len(lines[block_end]), True))
                i = block_end
            i += 1
            continue
        if start is None:
            start = line_start
        prev_end = line_end
        if _breaks_after(line, lines[i + 1] if i + 1 < len(lines) else ""):
            spans.append((start, line_end, False))
            start = None
        i += 1
    if start is not None:
        spans.append((start, prev_end, False))
    return spans


def _breaks_after(line: str, nxt: str) -> bool:
    """Whether no sentence goes on from `line` to the next one: list items, headings, short sentence ends."""
    # a short line without a sentence end is a heading, unless the next line goes on in lower case: then it
    # is prose hard-wrapped at under 60 columns ("… of 14 glaciers" / "in the Ötztal Alps …")
    wrapped = (nxt.lstrip()[:1].islower() and len(line.split()) >= 5 and bool(_PROSE_END.search(line))
               and not _CODEISH.search(line))
    return bool(_LIST_ITEM.match(line) or _LIST_ITEM.match(nxt)
                or len(line.strip()) < 60 and not _ENDS_SENTENCE.search(line) and not wrapped
                or _ENDS_SENTENCE.search(line) and nxt[:1].isupper() and len(line) < 60)


def _bounded(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """[start, end) cut into spans of at most MAX_SEGMENT characters: after the last sentence end in the
    second half of the window, else after its last whitespace, else hard at the limit."""
    spans = []
    while end - start > MAX_SEGMENT:
        lo, hi = start + MAX_SEGMENT // 2, start + MAX_SEGMENT
        cut = _LAST_SENTENCE_END.match(text, lo, hi) or _LAST_SPACE.match(text, lo, hi)
        stop = cut.end() if cut else hi
        spans.append((start, stop))
        start = stop
    spans.append((start, end))
    return spans


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Absolute (start, end) spans of sentences; each span is stripped of surrounding whitespace."""
    tok = _punkt()
    out: list[tuple[int, int]] = []
    for s0, s1, whole in (span + (w,) for *segment, w in _segments(text) for span in _bounded(text, *segment)):
        seg = text[s0:s1]
        for a, b in ([(0, len(seg))] if whole else tok.span_tokenize(seg)):
            piece = seg[a:b]
            lead = len(piece) - len(piece.lstrip())
            trail = len(piece.rstrip())
            if trail > lead:
                out.append((s0 + a + lead, s0 + a + trail))
    return out


@dataclass
class _Unit:
    start: int
    end: int
    tokens: int


def _words(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Spans of the words in text[start:end]; a word over MAX_WORD characters comes in MAX_WORD pieces."""
    for m in _WORD.finditer(text, start, end):
        a, b = m.span()
        yield from ((i, min(i + MAX_WORD, b)) for i in range(a, b, MAX_WORD))


def _split_long(text: str, start: int, end: int, budget: int) -> list[_Unit]:
    """Cut one over-long sentence at word boundaries into pieces of at most `budget` tokens."""
    units: list[_Unit] = []
    cur: list[tuple[int, int]] = []
    cur_tokens = 0
    for w in _words(text, start, end):
        n = count_tokens(text[w[0]:w[1]]) + 1
        if cur and cur_tokens + n > budget:
            units.append(_Unit(cur[0][0], cur[-1][1], cur_tokens))
            cur, cur_tokens = [], 0
        cur.append(w)
        cur_tokens += n
    if cur:
        units.append(_Unit(cur[0][0], cur[-1][1], cur_tokens))
    return units


def _pack(units: list[_Unit], budget: int, overlap: int) -> list[list[_Unit]]:
    groups: list[list[_Unit]] = []
    cur: list[_Unit] = []
    cur_tokens = 0
    fresh = 0  # units in `cur` not carried over from the previous chunk
    for u in units:
        if cur and (cur_tokens + u.tokens > budget or u.end - cur[0].start > MAX_CHUNK_CHARS) and fresh:
            groups.append(cur)
            carry: list[_Unit] = []
            carried = 0
            for prev in reversed(cur):
                if (carried + prev.tokens > overlap or carried + prev.tokens + u.tokens > budget
                        or u.end - prev.start > MAX_CHUNK_CHARS):
                    break
                carry.insert(0, prev)
                carried += prev.tokens
            cur, cur_tokens, fresh = carry, carried, 0
        cur.append(u)
        cur_tokens += u.tokens
        fresh += 1
    if cur and fresh:
        groups.append(cur)
    return groups


def chunk_text(text: str, chunk_size: int = 160, chunk_overlap: int = 32,
               fits: Callable[[str], bool] | None = None, sections: tuple[Section, ...] = ()) -> list[Chunk]:
    """Chunks covering every sentence of `text`; `fits(chunk_text)` is the embedder's window check.

    With `sections`, no chunk crosses a section start (nor carries overlap over it), and each chunk
    gets the heading path of the section it starts in.
    """
    units: list[_Unit] = []
    for a, b in split_sentences(text):
        n = count_tokens(text[a:b])
        units.extend(_split_long(text, a, b, chunk_size) if n > chunk_size else [_Unit(a, b, n)])

    def build(group: list[_Unit], budget: int) -> list[list[_Unit]]:
        piece = text[group[0].start:group[-1].end]
        if fits is None or fits(piece):
            return [group]
        if len(group) == 1:
            u = group[0]
            half = max(8, u.tokens // 2)
            halves = _split_long(text, u.start, u.end, half)
            if len(halves) == 1 and u.end - u.start > 1:  # one dense "word" that still does not fit: halve it
                mid = (u.start + u.end) // 2
                halves = [_Unit(u.start, mid, u.tokens // 2), _Unit(mid, u.end, u.tokens - u.tokens // 2)]
            return [g for h in halves for g in build([h], half)]
        smaller = max(8, int(budget * 0.7))
        return [g for sub in _pack(group, smaller, 0) for g in build(sub, smaller)]

    groups = [g for part in _by_section(units, sections) for group in _pack(part, chunk_size, chunk_overlap)
              for g in build(group, chunk_size)]
    return [Chunk(index=i, text=text[g[0].start:g[-1].end], start=g[0].start, end=g[-1].end,
                  sentences=tuple((u.start, u.end) for u in g),
                  heading_path=heading_path_at(sections, g[0].start) if sections else ())
            for i, g in enumerate(groups)]


def _by_section(units: list[_Unit], sections: tuple[Section, ...]) -> list[list[_Unit]]:
    """The units cut at every section start (one run when there are no sections)."""
    if not sections:
        return [units]
    starts = sorted({s.start for s in sections})
    parts: list[list[_Unit]] = [[]]
    k = 0
    for u in units:
        moved = False
        while k < len(starts) and starts[k] <= u.start:
            k += 1
            moved = True
        if moved and parts[-1]:
            parts.append([])
        parts[-1].append(u)
    return [p for p in parts if p]
