"""PDF → the text of its pages (pypdf), pages separated by a blank line.

An encrypted PDF is opened only when it has an empty user password (permissions-only encryption, common
in exported reports); otherwise it is rejected with a reason. Corrupt files are rejected with pypdf's
error. Left out: OCR of scanned pages (rejected: "no extractable text"), layout (columns, tables).
"""

from __future__ import annotations

import io

from rag.errors import IngestError
from rag.loaders.text import TITLE_MAX, first_line_title


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def _open(data: bytes, name: str):
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except Exception:  # noqa: BLE001 — pypdf raises several types (DependencyError, PdfReadError, NotImplementedError)
            opened = 0
        if not opened:
            raise IngestError(f"{name}: the PDF is encrypted with a password; save an unencrypted copy")
    return reader


def load_pdf(data: bytes, name: str) -> tuple[str, str]:
    from pypdf.errors import PyPdfError

    try:
        reader = _open(data, name)
        pages = [_normalise(page.extract_text() or "").strip() for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except IngestError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, AttributeError, IndexError, AssertionError,
            NotImplementedError, ZeroDivisionError, RecursionError, EOFError) as e:
        raise IngestError(f"{name}: corrupt or unreadable PDF ({type(e).__name__}: {e}); re-export it") from e
    text = "\n\n".join(p for p in pages if p)
    if not text.strip():
        raise IngestError(f"{name}: the PDF has no extractable text (scanned images?); run OCR first")
    return text, (_normalise(str(meta_title)).strip() or first_line_title(text))[:TITLE_MAX]
