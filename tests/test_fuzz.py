"""Property tests: loaders on random bytes (bare and inside each format's container) never raise anything
but `IngestError` and never keep a NUL; the chunker on random text keeps exact, covering spans.

Bounded: a few hundred examples per property with a per-example deadline, so this stays a fast test.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import zipfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from rag.chunking import MAX_CHUNK_CHARS, chunk_text, split_sentences
from rag.errors import IngestError
from rag.loaders import load_file

from .hostile_files import _docx_parts, pdf_bytes

FAST = settings(max_examples=200, deadline=timedelta(seconds=5), database=None,
                suppress_health_check=[HealthCheck.too_slow])
BIG = settings(max_examples=15, deadline=timedelta(seconds=30), database=None, suppress_health_check=[HealthCheck.too_slow])
_DIR = Path(tempfile.mkdtemp(prefix="rag-fuzz-"))
set_hypothesis_home_dir(str(_DIR / ".hypothesis"))  # its caches stay out of the working tree
_DOCX = _docx_parts()
_PDF = pdf_bytes("Fuzzing the turbine report.")
EXTENSIONS = ["", ".txt", ".md", ".html", ".pdf", ".docx", ".xyz", ".png"]


def _load(data: bytes, ext: str) -> None:
    """load_file either returns a clean Document or raises IngestError naming the source."""
    path = _DIR / f"f{ext}"
    path.write_bytes(data)
    try:
        doc = load_file(path, f"fuzz/f{ext}")
    except IngestError as e:
        assert str(e).startswith(f"fuzz/f{ext}: ")
        return
    assert doc.text.strip() and "\x00" not in doc.text
    assert doc.sha256 == hashlib.sha256(data).hexdigest()


@FAST
@given(data=st.binary(max_size=4096), ext=st.sampled_from(EXTENSIONS))
@example(data=b"\xff\xfe\x00\x00\x00\xd8", ext=".txt")  # a UTF-32 mark on invalid UTF-32
@example(data=b"\xef\xbb\xbf\x00", ext="")
def test_loaders_on_random_bytes(data, ext):
    _load(data, ext)


_HTML_TOKENS = st.sampled_from(["<div>", "</div>", "<p>", "</p>", "<pre>", "</pre>", "<br>", "<main>", "<rt>",
                                "<title>", "</title>", "<nav>", "<script>", "</script>", "<!--", "-->", "&amp;",
                                "&#0;", "&#xD800;", "<![CDATA[", "]]>", "<?xml encoding='x'?>", "\x00", "\r\n",
                                "<meta charset='utf-16'>", " ", "text", "\u202e", "<p class='sidebar'>", "<"])


@FAST
@given(tokens=st.lists(st.one_of(_HTML_TOKENS, st.text(max_size=20)), max_size=200), noise=st.binary(max_size=64))
def test_html_loader_on_random_markup(tokens, noise):
    _load("".join(tokens).encode("utf-8", "surrogatepass") + noise, ".html")


def _docx_with(document_xml: bytes, extra: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in {**_DOCX, "word/document.xml": document_xml, **(extra or {})}.items():
            z.writestr(name, data)
    return buf.getvalue()


@FAST
@given(body=st.binary(max_size=2048), mode=st.sampled_from(["raw", "in-text", "in-body"]))
def test_docx_loader_on_random_document_xml(body, mode):
    head = _DOCX["word/document.xml"]
    if mode == "raw":
        xml = body
    elif mode == "in-text":
        xml = head.replace(b"placeholder", body)
    else:
        xml = head.replace(b"<w:body>", b"<w:body>" + body)
    _load(_docx_with(xml), ".docx")


@FAST
@given(cut=st.integers(0, 4000), noise=st.binary(max_size=256), at=st.integers(0, 4000))
def test_pdf_and_zip_loaders_on_damaged_files(cut, noise, at):
    pdf = _PDF[:cut] + noise + _PDF[cut:]
    _load(pdf[: max(at, 9)], ".pdf")
    docx = _docx_with(_DOCX["word/document.xml"])
    _load(docx[:at] + noise + docx[at + len(noise):], ".docx")


# ---- the chunker ------------------------------------------------------------------------------------------

_WHITESPACE = st.sampled_from([" ", "\n", "\n\n", "\t", "\u00a0", "\u2003", "\u2028", "\u2029", "\x0b", "\x0c",
                               "\u3000", "\r", "\x85"])
_PIECES = st.one_of(st.text(max_size=30), _WHITESPACE, st.sampled_from(
    [". ", "Dr. ", "e.g. ", "!", "?", "# Heading\n", "- item\n", "1. one\n", "“quoted.” ", "…", "漢字。", "\u202e"]))


def _check_chunks(text: str, size: int, overlap: int) -> None:
    chunks = chunk_text(text, size, overlap)
    spans = []
    for i, c in enumerate(chunks):
        assert c.index == i and text[c.start:c.end] == c.text
        assert c.end - c.start <= MAX_CHUNK_CHARS
        assert all(c.start <= a < b <= c.end for a, b in c.sentences)
        spans.extend(c.sentences)
    reached = 0
    for a, b in sorted(spans):
        assert not text[reached:a].strip()  # nothing but whitespace between covered spans
        reached = max(reached, b)
    assert not text[reached:].strip()
    for a, b in split_sentences(text):
        assert 0 <= a < b <= len(text) and text[a:b] == text[a:b].strip()


@FAST
@given(pieces=st.lists(_PIECES, max_size=120), size=st.sampled_from([16, 64, 160, 240]),
       overlap=st.sampled_from([0, 8, 32]))
def test_chunks_of_random_text_are_exact_and_covering(pieces, size, overlap):
    _check_chunks("".join(pieces), size, overlap)


@BIG
@given(unit=st.text(min_size=1, max_size=12), repeat=st.integers(2_000, 40_000), space=_WHITESPACE,
       glue=st.sampled_from(["", " ", "."]))
def test_chunks_of_giant_lines_and_tokens_are_exact_and_covering(unit, repeat, space, glue):
    text = (unit + glue) * repeat + space + (unit * (200_000 // len(unit)))  # a long line, then a giant "word"
    _check_chunks(text, 160, 32)
