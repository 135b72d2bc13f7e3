"""Values that cross a boundary (printed as JSON, saved, shown in the UI), the internal chunk value, and the
typed events of the answer stream."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field


class Citation(BaseModel):
    """One cited passage. ``document_text(source)[start:end] == quote`` always holds."""

    model_config = ConfigDict(frozen=True)
    id: int = Field(description="The n of [n] in Answer.text")
    source: str = Field(description="Document path as ingested")
    title: str
    quote: str
    start: int
    end: int
    score: float
    chunk_id: str = ""
    sha256: str = Field("", description="sha256 of the document version the offsets index into")
    page: int | None = Field(None, description="1-based page of the quote's start, for paged formats (PDF)")
    heading_path: list[str] = Field(default_factory=list, description="Headings above the quote, outermost first")
    ocr: bool = Field(False, description="The quote's text came from OCR of a scanned page (check it on the image)")


class Answer(BaseModel):
    model_config = ConfigDict(frozen=True)
    question: str
    text: str = Field(description="The answer with [n] markers")
    citations: list[Citation]
    abstained: bool = Field(description="True when the documents do not answer")
    timings_ms: dict[str, float] = Field(default_factory=dict)
    mode: str = "extractive"
    support: float | None = Field(None, description="Answerability in [0, 1]; below abstain_threshold it abstains")
    notice: str | None = Field(None, description="One-line notice, e.g. the LLM fell back to extractive")
    retrieved: list[RetrievedChunk] = Field(default_factory=list, description="The passages retrieved, best first")


class RetrievedChunk(BaseModel):
    """One retrieved passage with how it ranked (vector, BM25, fused)."""

    model_config = ConfigDict(frozen=True)
    id: str
    source: str
    title: str
    sha256: str = Field(description="Version of the document the offsets index into")
    start: int
    end: int
    text: str
    score: float = Field(description="Fused reciprocal-rank score")
    vector_score: float | None = Field(None, description="Cosine similarity to the question")
    bm25_score: float | None = None
    vector_rank: int | None = None
    bm25_rank: int | None = None
    rank: int = 0


def conversation(turns: Iterable[Answer]) -> list[dict]:
    """Earlier answers as the chat history `Assistant.ask`/`stream` take: each question, then the answer's text.

    >>> conversation([Answer(question="Who lit it?", text="Ada [1].", citations=[], abstained=False)])
    [{'role': 'user', 'content': 'Who lit it?'}, {'role': 'assistant', 'content': 'Ada [1].'}]
    """
    history: list[dict] = []
    for a in turns:
        history += [{"role": "user", "content": a.question}, {"role": "assistant", "content": a.text}]
    return history


class Skipped(BaseModel):
    source: str
    reason: str


class IngestReport(BaseModel):
    added: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    skipped: list[Skipped] = Field(default_factory=list)
    chunks_written: int = 0
    texts_embedded: int = 0
    seconds: float = 0.0
    ocr_pages: dict[str, list[int]] = Field(default_factory=dict, description="source → pages read by OCR")

    def summary(self) -> str:
        return (f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
                f"{len(self.removed)} removed, {len(self.skipped)} skipped; {self.chunks_written} chunks written "
                f"in {self.seconds:.1f}s")


class DocumentInfo(BaseModel):
    source: str
    title: str
    chunks: int
    chars: int
    sha256: str
    ingested_at: str
    path: str = ""
    pages: int = Field(0, description="Number of pages, for paged formats (PDF); 0 otherwise")


class CollectionInfo(BaseModel):
    """One collection (workspace) of documents in the data dir or Chroma server."""

    name: str
    documents: int
    chunks: int


@dataclass(frozen=True)
class PageImage:
    """A rendered PDF page and the pixel boxes (x0, y0, x1, y1; origin top left) of a quote on it, one per line."""

    png: bytes
    width: int
    height: int
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)


@dataclass(frozen=True)
class Document:
    """A loaded file: ``text`` is what every offset indexes into."""

    source: str
    title: str
    text: str
    sha256: str
    path: str = ""
    root: str = ""
    sections: tuple[Section, ...] = ()  # headed spans of `text`, in order (empty when the format has none)
    pages: tuple[int, ...] = ()  # paged formats: page i+1 starts at text offset pages[i]
    ocr_pages: tuple[int, ...] = ()  # 1-based pages whose text came from OCR


@dataclass(frozen=True)
class Section:
    """A span of the document text under a heading path (outermost heading first); `level` of the innermost."""

    start: int
    end: int
    heading_path: tuple[str, ...]
    level: int = 0


@dataclass(frozen=True)
class ChunkMeta:
    """What the store keeps beside each chunk's vector and text (encoded for Chroma in `rag.store` only)."""

    source: str
    title: str
    doc_sha: str  # the document version whose text start/end index into
    chunk_index: int
    start: int
    end: int
    sentences: tuple[tuple[int, int], ...] = ()  # absolute (start, end) sentence spans
    tokens: int = 0
    heading_path: tuple[str, ...] = ()  # headings above the chunk's start, outermost first


@dataclass(frozen=True)
class Chunk:
    """``text == document.text[start:end]``; ``sentences`` are absolute (start, end) spans inside it."""

    index: int
    text: str
    start: int
    end: int
    sentences: tuple[tuple[int, int], ...] = field(default_factory=tuple)
    heading_path: tuple[str, ...] = ()


# -- the answer stream: what `Assistant.stream` yields, one type per kind ---------------------------------
@dataclass(frozen=True)
class TextDelta:
    """More answer text, in order (LLM tokens as they arrive; extractive sentences)."""

    text: str


@dataclass(frozen=True)
class Notice:
    """A one-line message for the user (e.g. the LLM failed and the extractive answer follows)."""

    text: str


@dataclass(frozen=True)
class Final:
    """The finished, verified answer; always the last event."""

    answer: Answer


StreamEvent = TextDelta | Notice | Final
