"""What the extractive answerer knows about a question and its candidate sentences, as numbers.

`analyse(question)` types the question (definition, yes/no, number, date, person, place, which-document,
comparison, other) and finds a definition's subject ("what does *force majeure* mean" → "force majeure").
`may_answer` (with `is_nonprose`, `is_heading_line`, `is_code`) decides what may never be an answer sentence
(separators, lone headings, table-of-contents and navigation lines, line numbers) and what only a code
question may get. `question_signals` is what the answerability model reads; `sentence_features` turns each
candidate into a row of FEATURES, and `ranker_inputs` puts them, with the hand-tuned score, the way the
learned sentence ranker (ranker.py) reads them: each also relative to the question's other candidates.
Left out: languages other than English; parsing beyond patterns (no NLI or NER model installs offline).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rag.lexical import QUESTION_WORDS, terms

FEATURES = ("embed", "lexical", "rank_prior", "chunk_cos", "bm25", "heading", "type_match", "definition",
            "first_in_block", "log_words", "short", "code", "no_end", "neighbour", "title", "quote_marks")
_RANKED = (*FEATURES, "hand")
# the learned sentence ranker's inputs: each of FEATURES and the hand-tuned score as is, as its distance to the
# question's best candidate, and as a z-score among the question's candidates (see ranker_inputs)
RANKER_INPUTS = (*_RANKED, *(f"{f}-best" for f in _RANKED), *(f"{f}-z" for f in _RANKED))

_MONTHS = (r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
           r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?")
_DATE = re.compile(rf"\b(?:{_MONTHS})\b|\b(?:1[5-9]|20)\d\d\b|\b\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}\b|"
                   r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today)\b", re.I)
_NUMBER = re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
                     r"forty|fifty|hundred|thousand|million|billion|dozen|several|half|twice)\b", re.I)
_NAME = re.compile(r"(?<=\S )[A-Z][a-z]+")
_PLACE = re.compile(r"\b(?:in|at|near|from|to|of)\s+(?:the\s+)?[A-Z][a-z]+")
_SEPARATOR = re.compile(r"^[\W_]{3,}$")
_TOC = re.compile(r"(?:\.\s?){3,}\s*\d+\s*$|^\s*(?:\d+(?:\.\d+)*\.?|[IVX]+\.)\s+\S.{0,60}\s\d+\s*$")
_NAV = re.compile(r"^(?:next|previous|prev|up|home|index|contents|table of contents|back to top|top|"
                  r"skip to (?:main )?content|navigation|search|menu|edit on github|show source)\b[\s:»«>|·-]*\S{0,40}$",
                  re.I)
_CODE_LINE = re.compile(r"^\s*(?:>>>|\.\.\.|```|\$ |#!|[\w.]+\(.*\)\s*(?:->.*)?:?\s*$|(?:def|class|import|from|"
                        r"return|if|for|while)\b.*[:(]\s*$)")
_ENDS = re.compile(r"[.!?…:;\"”’)\]]\s*$")
_CODE_QUESTION = re.compile(r"\b(?:code|example|usage|syntax|signature|snippet|call|invoke|command|how do i|"
                            r"how to|write|import)\b|`|\w\(\)", re.I)
# ...and asks to be shown code itself, not how to do something (which prose or one command often answers)
_SHOW_CODE = re.compile(r"\b(?:code|example|snippet|syntax|signature|session)\b|`|\w\(\)", re.I)
_QUOTES = re.compile(r"[\"“”‘’']")
# terms (stems) that name the kind of answer a date or number question wants (see term_weights)
_TYPE_WORDS = {"date": frozenset({"year", "date", "day", "month", "time"}),
               "number": frozenset({"number", "amount", "percentag", "count", "total"})}
_INLINE_CODE = re.compile(r"(`+)[^`\n]+?\1")
_MARKUP = re.compile(r"\*\*|__|(?<!\w)[*_](?=\w)|(?<=\w)[*_](?!\w)|`")  # emphasis and code marks: **X**, _X_, `X`
_BULLET = re.compile(r"^[-*+•]\s+\S")
_PATH = re.compile(r"(?:^|\s)[~.]?/\S|\S/\S+/")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_FENCE_LINE = re.compile(r"^ {0,3}(?:`{3,}|~{3,}|:{3,})")
# a MyST/Sphinx directive fence around prose ({note}, {warning}, {tab} …), not around code
_DIRECTIVE = re.compile(r"^\s*(?:`{3,}|:{3,})\{(?!code|sourcecode|literalinclude|doctest|highlight|eval-rst)[\w-]+\}")


@dataclass(frozen=True)
class Question:
    text: str
    kind: str  # definition | yesno | number | date | person | place | which_doc | comparison | other
    subject: str | None  # a definition's term, lower-cased
    wants_code: bool  # code may answer it (may_answer)
    shows_code: bool = False  # it asks to see code: the ranker does not hold code against a candidate


_DEFINITION = re.compile(r"^\s*(?:what|who)\s+(?:is|are|was|were)\s+(?:an?\s+|the\s+)?(?P<s>[^?]{1,80}?)\s*\??$|"
                         r"^\s*what\s+(?:does|do)\s+(?:the\s+(?:term|word|phrase)\s+)?(?P<s2>[^?]{1,80}?)\s+mean\b|"
                         r"^\s*what\s+(?:counts|qualifies)\s+as\s+(?:an?\s+|the\s+)?(?P<s3>[^?]{1,80}?)\s*\??$|"
                         r"^\s*(?:define|definition of|meaning of)\s+(?:an?\s+|the\s+)?(?P<s4>[^?]{1,80}?)\s*\??$|"
                         r"\bhow\s+is\s+(?:an?\s+|the\s+)?(?P<s5>[^?]{1,60}?)\s+defined\b", re.I)


def analyse(question: str) -> Question:
    """The kind of answer `question` wants, and a definition's subject."""
    q = question.strip()
    low = q.lower()
    wants_code = bool(_CODE_QUESTION.search(q))
    shows_code = wants_code and bool(_SHOW_CODE.search(q))
    m = _DEFINITION.search(q)
    if m and not re.search(r"\b(?:difference|different|between|versus|vs\.?)\b", low):
        subject = next(g for g in m.groups() if g).strip(" \"'“”‘’").lower()
        if len(subject.split()) <= 6 and not re.match(r"(?:the )?(?:name|number|date|title|purpose|default)\b",
                                                      subject):
            return Question(q, "definition", subject, wants_code, shows_code)
    kind = ("which_doc" if re.search(r"\bwhich\s+(?:document|file|licen[cs]e|page|manual|article|section|notes?)\b", low)
            else "comparison" if re.search(r"\b(?:difference|differ|compared?|versus|vs\.?|both|whereas)\b", low)
            else "date" if re.search(r"\bwhen\b|\bwhat (?:date|day|year|month|time)\b|\bwhich year\b", low)
            else "number" if re.search(r"\bhow (?:many|much|long|old|big|large|often)\b|\bnumber of\b|\bwhat "
                                       r"(?:size|version|percentage|limit)\b", low)
            else "person" if re.search(r"\bwho(?:m|se)?\b", low)
            else "place" if re.search(r"\bwhere\b", low)
            else "yesno" if re.match(r"^\s*(?:is|are|does|do|did|can|could|may|must|should|will|was|were|has|have)\b",
                                     low)
            else "other")
    return Question(q, kind, None, wants_code, shows_code)


def type_match(question: Question, sentence: str) -> float:
    """1 when the sentence holds the kind of thing asked for (a date for "when", a number for "how many" …)."""
    k = question.kind
    if k == "date":
        return float(bool(_DATE.search(sentence)))
    if k == "number":
        return float(bool(_NUMBER.search(sentence)))
    if k == "person":
        return float(bool(_NAME.search(sentence)))
    if k == "place":
        return float(bool(_PLACE.search(sentence)))
    return 0.0


def definition_match(question: Question, sentence: str) -> float:
    """1 when the sentence defines the question's subject: "X means …", "“X” means", "X is a …", "X: …"."""
    if question.kind != "definition" or not question.subject:
        return 0.0
    subj = re.escape(question.subject).replace(r"\ ", r"[\s-]+")
    pattern = (rf"(?:^|[\s\"“‘'(])(?:the\s+|an?\s+)?{subj}[\"”’']?\s*(?:\([^)]*\)\s*)?(?:,[^,]{{1,40}},\s*|,\s*)?"
               rf"(?:means?|shall mean|refers? to|is defined as|(?:is|are)\s+(?:an?|the|any|one|all|each|every|used|what|how|"
               rf"when|where)\b|denotes|:|—|–|-)\s")
    return float(bool(re.search(pattern, _MARKUP.sub("", sentence), re.I)))


def is_nonprose(text: str) -> bool:
    """Structure (a separator, table-of-contents or navigation line, a bare number, a markdown heading) or a short
    heading-like line. A table row ("4.10 | Warty Warthog | 2004-10-20") is data, not non-prose."""
    return is_structure(text) or is_heading_like(text)


def is_structure(text: str) -> bool:
    """A separator, table-of-contents or navigation line, a bare number, or a markdown heading: never an answer."""
    t = text.strip()
    if t.count(" | ") >= 2:
        return False
    return (not t or bool(_SEPARATOR.match(t) or _TOC.search(t) or _NAV.match(t))
            or bool(re.fullmatch(r"[\d\s.,:;()-]+", t)) or bool(re.match(r"^#{1,6}\s", t)))


def is_heading_like(text: str) -> bool:
    """Short, no sentence end, and heading-cased or numbered ("Version 2.1, February 1999", "4. Redistribution")."""
    t = text.strip()
    words = t.split()
    if t.count(" | ") >= 2 or len(words) > 12 or _ENDS.search(t):
        return False
    capitalised = sum(1 for w in words if w[:1].isupper() or not w[:1].isalpha())
    return capitalised == len(words) or bool(re.match(r"^\s*(?:\d+(?:\.\d+)*\.?|[A-Z]\.|[IVX]+\.)\s", t))


def is_data_line(text: str, question: Question) -> bool:
    """A short line that is not a sentence yet holds what the question asks for: the date line under a release's
    title ("April 6, 2021"), an author line, a list item ("- Global"), a path for a "where" question."""
    t = text.strip()
    if _BULLET.match(t):
        return True
    if question.kind == "place" and _PATH.search(t):
        return True
    return question.kind in ("date", "number", "person") and bool(type_match(question, t))


def is_heading_line(sentence) -> bool:
    """The sentence is one of the headings above it (the loaders keep heading lines in the text)."""
    t = " ".join(sentence.text.split()).lower()
    return any(t == " ".join(h.split()).lower() for h in sentence.heading_path)


def may_answer(sentence, question: Question, about_doc: bool) -> bool:
    """Whether a candidate may be an answer sentence: never non-prose or a heading line; code only when the
    question asks about code or usage; the document's title line when the question asks about it, or when the
    title is itself a sentence (a text file's first line often is)."""
    if sentence.is_title:
        return about_doc or bool(_ENDS.search(sentence.text)) and len(sentence.text.split()) >= 4
    if is_heading_line(sentence) or is_structure(sentence.text):
        return False
    if is_heading_like(sentence.text):
        return is_data_line(sentence.text, question)  # a path is data to a "where" question, not code
    return question.wants_code or not is_code(sentence.text)


def is_code(text: str) -> bool:
    """Code: a block with a code line, a code line, or text dense in symbols. Prose that marks names as
    `inline code`, a markdown table, and a MyST admonition (```{note} … ```) are not code."""
    if is_table(text):
        return False
    text = _prose_view(text)
    if "\n" in text.strip() and sum(1 for ln in text.splitlines() if _CODE_LINE.match(ln)) >= 1:
        return True
    if _CODE_LINE.match(text):
        return True
    symbols = sum(1 for ch in text if not (ch.isalnum() or ch.isspace() or ch in ".,;:'\"!?-()’“”"))
    return symbols > 0.12 * max(1, len(text))


def is_table(text: str) -> bool:
    """Rows of a markdown or plain-text table (every line `| … |` or with two ` | ` cells): data, not code."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return bool(lines) and all(_TABLE_ROW.match(ln) or ln.count(" | ") >= 2 for ln in lines)


def _prose_view(text: str) -> str:
    """`text` as read for the code test: inline code spans as one word, a MyST directive's fence lines dropped."""
    if _DIRECTIVE.match(text):
        text = "\n".join(ln for ln in text.splitlines() if not _FENCE_LINE.match(ln))
    return _INLINE_CODE.sub("x", text)


def term_weights(question: str, query: str, idf: Callable[[str], float]) -> dict[str, float]:
    """IDF weights of the question's content terms; terms only the condensed query has count half. Words that
    name the kind of answer are no content: "in which year?" is answered by "in 1987", which says no "year"."""
    skip = QUESTION_WORDS | _TYPE_WORDS.get(analyse(question).kind, frozenset())
    q_terms = [t for t in dict.fromkeys(terms(question)) if t not in skip]
    extra = [t for t in dict.fromkeys(terms(query)) if t not in q_terms and t not in skip]
    weights = {t: idf(t) for t in q_terms}
    weights.update({t: 0.5 * idf(t) for t in extra})
    return weights


def coverage(weights: dict[str, float], text: str) -> float:
    total = sum(weights.values()) or 1.0
    have = set(terms(text))
    return sum(w for t, w in weights.items() if t in have) / total


def sentence_features(question: Question, weights: dict[str, float], sents, svecs: np.ndarray, qvec: np.ndarray,
                      hits) -> np.ndarray:
    """One row of FEATURES per candidate sentence (see the module docstring)."""
    by_id = {h.id: h for h in hits}
    top_bm25 = max((h.bm25_score or 0.0) for h in hits) or 1.0
    lexical = [coverage(weights, s.text) for s in sents]
    lex_at = {(s.source, s.start): x for s, x in zip(sents, lexical)}
    rows = []
    for s, v, lex in zip(sents, svecs, lexical):
        hit = by_id.get(s.chunk_id)
        heading = coverage(weights, f"{s.title} {' '.join(s.heading_path)}")
        neighbour = max((lex_at.get((s.source, n[0]), 0.0) for n in (s.prev, s.next) if n), default=0.0)
        n_words = len(s.text.split())
        unasked_code = float(is_code(s.text) and not question.shows_code)  # "code": code nobody asked to see
        rows.append([float(v @ qvec), lex, 1.0 / max(1, s.chunk_rank), (hit.vector_score or 0.0) if hit else 0.0,
                     ((hit.bm25_score or 0.0) / top_bm25) if hit else 0.0, heading, type_match(question, s.text),
                     definition_match(question, s.text), float(s.prev is None), math.log1p(n_words),
                     float(n_words < 4), unasked_code, float(not _ENDS.search(s.text)), neighbour,
                     float(s.is_title), float(bool(_QUOTES.search(s.text)))])
    return np.asarray(rows, dtype=np.float64).reshape(len(sents), len(FEATURES))


def ranker_inputs(x: np.ndarray, hand: np.ndarray) -> np.ndarray:
    """One question's candidates as the sentence ranker reads them (RANKER_INPUTS): FEATURES rows `x` and the
    hand-tuned scores `hand`, as they are, minus the question's best, and as z-scores within the question.
    Absolute levels (cosine, coverage) shift from corpus to corpus; how a candidate stands against the others
    for the same question carries over (eval/LOCO.md: with absolute features alone the ranker lost to the
    hand-tuned scorer on 3 of 4 tuning corpora)."""
    xr = np.hstack([x, hand.reshape(-1, 1)])
    if not len(xr):
        return np.zeros((0, len(RANKER_INPUTS)))
    return np.hstack([xr, xr - xr.max(0), (xr - xr.mean(0)) / (xr.std(0) + 1e-6)])


def question_signals(weights: dict[str, float], sents, hits, unseen_idf: float) -> dict[str, float]:
    """Question-level signals for the answerability model, from the scored candidates (`score`, `embed`,
    `lexical` filled) and the retrieved chunks:

    - best_score, best_embed, best_lexical: the best candidate's score and its two main parts;
    - top_cos: the best chunk's cosine; missing_mass: question weight no retrieved chunk mentions;
    - miss_best / miss_chunk: question weight missing around the best sentence (with its neighbours, headings and
      title) / in its whole chunk; max_miss_idf: the rarest question term its chunk lacks, over the corpus maximum
      (near-miss questions hinge on one such term);
    - gap, z: how far the best candidate stands out of the others (scale-free, so they carry across corpora);
    - agree: the same chunk tops both the vector and the BM25 ranking; vgap: top chunk cosine over the mean.
    """
    total = sum(weights.values()) or 1.0
    retrieved = set(terms(" ".join(f"{h.meta.title} {h.text}" for h in hits)))
    vs = np.array([h.vector_score or 0.0 for h in hits]) if hits else np.zeros(1)
    out = {"top_cos": float(vs.max()), "missing_mass": sum(w for t, w in weights.items() if t not in retrieved) / total,
           "agree": float(any(h.vector_rank == 1 and h.bm25_rank == 1 for h in hits)),
           "vgap": float(vs.max() - vs.mean())}
    if not sents:
        return out | {"best_score": 0.0, "best_embed": 0.0, "best_lexical": 0.0, "miss_best": 1.0, "miss_chunk": 1.0,
                      "max_miss_idf": 1.0, "gap": 0.0, "z": 0.0}
    best = max(sents, key=lambda s: s.score)
    chunk = next((h.text for h in hits if h.id == best.chunk_id), best.text)
    frame = f"{best.title} {' '.join(best.heading_path)}"
    around = set(terms(" ".join([frame, best.text, *(n[2] for n in (best.prev, best.next) if n)])))
    in_chunk = set(terms(f"{frame} {chunk}"))
    scores = np.sort(np.array([s.score for s in sents]))[::-1]
    return out | {"best_score": float(scores[0]), "best_embed": best.embed, "best_lexical": best.lexical,
                  "miss_best": sum(w for t, w in weights.items() if t not in around) / total,
                  "miss_chunk": sum(w for t, w in weights.items() if t not in in_chunk) / total,
                  "max_miss_idf": max((w for t, w in weights.items() if t not in in_chunk), default=0.0) / max(unseen_idf, 1e-9),
                  "gap": float(scores[0] - (scores[1:6].mean() if len(scores) > 1 else 0.0)),
                  "z": float((scores[0] - scores.mean()) / (scores.std() + 1e-6))}
