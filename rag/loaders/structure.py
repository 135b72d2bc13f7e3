"""Document structure: heading lines → sections with a heading path.

Loaders that know their headings (HTML h1-h6 and dt, docx heading styles) report them as `Extracted`
(text, title, headings), and the PDF loader from font sizes and bold lines (`PdfText.headings`); for
Markdown and plain text they are found here in the extracted text:
Markdown ATX ("## Setup") and setext (underlined) headings outside code fences; plain text's numbered
clauses ("4. Redistribution."), ALL-CAPS lines, and underlined lines. `sections` turns heading lines
(start, end, level) into `Section`s: each runs from its heading to the next one, under the path of
the enclosing headings. Left out: headings inside tables, headings of scanned PDF pages, and any
structure a plain-text file does not spell out.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from rag.types import Section

Heading = tuple[int, int, int]  # (start, end, level) of the heading's text in the extracted text
MAX_HEADING_CHARS = 120  # a longer line is prose, not a heading (the longest real headings seen are ~90)


class Extracted(NamedTuple):
    """What a structure-aware loader returns (a plain (text, title) pair is fine for the others)."""

    text: str
    title: str
    headings: tuple[Heading, ...] = ()


_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(\S[^\n]*)")  # linear; the closing "#"s are stripped in Python
_FENCE = re.compile(r"^ {0,3}(```|~~~)", re.M)
_UNDERLINE = re.compile(r"^ {0,3}(=+|-+|~+)[ \t]*$")
_NUMBERED = re.compile(r"^[ \t]*((?:\d{1,3}\.)*\d{1,3})\.?[ \t]+([A-Z][^\n]{0,100}?)[ \t]*$")
_CAPS = re.compile(r"^[ \t]*([A-Z][A-Z0-9 ,.'’()&/:-]{2,100}[A-Z0-9.):])[ \t]*$")


def _lines(text: str):
    pos = 0
    for line in text.split("\n"):
        yield pos, line
        pos += len(line) + 1


def markdown_headings(text: str) -> tuple[Heading, ...]:
    out: list[Heading] = []
    in_fence = False
    prev: tuple[int, str] | None = None
    for pos, line in _lines(text):
        if _FENCE.match(line):
            in_fence, prev = not in_fence, None
            continue
        if in_fence:
            continue
        m = _ATX.match(line)
        if m:
            body = m.group(2).rstrip().rstrip("#").rstrip() or m.group(2)[:1]
            out.append((pos + m.start(2), pos + m.start(2) + len(body), len(m.group(1))))
        elif prev and prev[1].strip() and _UNDERLINE.match(line) and line.strip()[0] in "=-" \
                and len(prev[1].strip()) <= MAX_HEADING_CHARS and not _ATX.match(prev[1]):
            start = prev[0] + len(prev[1]) - len(prev[1].lstrip())
            out.append((start, prev[0] + len(prev[1].rstrip()), 1 if line.strip()[0] == "=" else 2))
        prev = (pos, line)
    return tuple(out)


def text_headings(text: str) -> tuple[Heading, ...]:
    """Headings a plain-text file spells out: numbered clauses, ALL-CAPS lines, underlined lines."""
    out: list[Heading] = []
    lines = list(_lines(text))
    for i, (pos, line) in enumerate(lines):
        blank_before = i == 0 or not lines[i - 1][1].strip()
        nxt = lines[i + 1][1] if i + 1 < len(lines) else ""
        stripped = line.strip()
        if not stripped or len(stripped) > MAX_HEADING_CHARS:
            continue
        start = pos + len(line) - len(line.lstrip())
        end = pos + len(line.rstrip())
        if _UNDERLINE.match(nxt) and nxt.strip()[0] in "=-~" and abs(len(nxt.strip()) - len(stripped)) <= 3:
            out.append((start, end, 1 if nxt.strip()[0] == "=" else 2))
        elif blank_before and (not nxt.strip() or _NUMBERED.match(line)) and _CAPS.match(line) \
                and sum(c.isalpha() for c in stripped) >= 4:
            out.append((start, end, 1))
        elif blank_before and (m := _NUMBERED.match(line)) and len(stripped.split()) <= 8 \
                and not stripped.endswith((",", ";")):
            out.append((start, end, 1 + m.group(1).count(".")))
    return tuple(out)


def sections(text: str, headings: tuple[Heading, ...]) -> tuple[Section, ...]:
    """One Section per heading, from it to the next heading, with the path of enclosing headings."""
    out: list[Section] = []
    stack: list[tuple[int, str]] = []  # (level, heading text)
    ordered = sorted(h for h in headings if 0 <= h[0] < h[1] <= len(text))
    for i, (start, end, level) in enumerate(ordered):
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, " ".join(text[start:end].split())))
        stop = ordered[i + 1][0] if i + 1 < len(ordered) else len(text)
        out.append(Section(start, stop, tuple(t for _, t in stack), level))
    return tuple(out)


def heading_path_at(secs: tuple[Section, ...], offset: int) -> tuple[str, ...]:
    """The heading path of the section holding `offset` (sections are in order and do not overlap)."""
    path: tuple[str, ...] = ()
    for s in secs:
        if s.start > offset:
            break
        if offset < s.end:
            path = s.heading_path
    return path
