"""Scanned PDFs: pages without a text layer are read by tesseract inside the parse worker, cited with ocr=True,
named in the IngestReport, and boxed on the page image. The scans are made here: reportlab draws the text,
pypdfium2 renders it to a 200 dpi grey image, and that image is the only content of a new PDF page."""

from __future__ import annotations

import io
import os
import shutil

import pytest
from reportlab.lib.pagesizes import letter
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from rag import Assistant, IngestError
from rag.loaders import load_file
from rag.loaders import pdf as pdf_loader

from .conftest import assert_exact

SCANNED = [
    "The lighthouse keeper Ada Marsh lit the lamp on 14 March 1887.",
    "Her logbook records a storm that lasted three days and sank two ships.",
    "Repairs to the breakwater cost 4,200 pounds and were finished in 1889.",
]
TYPED = ["The museum on the quay opens at nine every morning.", "Tickets cost three pounds for adults."]


@pytest.fixture(autouse=True)
def _tesseract():
    if not shutil.which("tesseract"):
        message = "OCR tests need Debian's tesseract-ocr and tesseract-ocr-eng"
        if os.environ.get("CI"):
            pytest.fail(message + " (.ci/run installs them)")
        pytest.skip(message)


def _text_page(c: canvas.Canvas, lines: list[str]) -> None:
    c.setFont("Helvetica", 12)
    for i, line in enumerate(lines):
        c.drawString(72, 700 - i * 20, line)
    c.showPage()


def scanned_image(lines: list[str], dpi: int = 200):
    import pypdfium2 as pdfium

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=letter)
    _text_page(c, lines)
    c.save()
    return pdfium.PdfDocument(buf.getvalue())[0].render(scale=dpi / 72, grayscale=True).to_pil()


def make_pdf(path, pages: list[tuple[str, list[str]]]):
    """Pages of ("scan", lines) — an image only — or ("text", lines) — a text layer."""
    c = canvas.Canvas(str(path), pagesize=letter)
    for kind, lines in pages:
        if kind == "scan":
            c.drawImage(ImageReader(scanned_image(lines)), 0, 0, width=letter[0], height=letter[1])
            c.showPage()
        else:
            _text_page(c, lines)
    c.save()
    return path


def test_scanned_pdf_is_read_by_ocr(tmp_path):
    doc = load_file(make_pdf(tmp_path / "scan.pdf", [("scan", SCANNED)]), "scan.pdf")
    assert doc.ocr_pages == (1,) and doc.pages == (0,)
    assert all(line in doc.text for line in SCANNED), doc.text  # tesseract reads the test page exactly


def test_mixed_pdf_keeps_its_text_layer_and_ocrs_the_scan(tmp_path):
    path = make_pdf(tmp_path / "mixed.pdf", [("text", TYPED), ("scan", SCANNED)])
    doc = load_file(path, "mixed.pdf")
    assert doc.ocr_pages == (2,) and len(doc.pages) == 2
    typed = "\n".join(TYPED)  # the text layer, as pypdf reads it
    assert doc.text.startswith(typed + "\n\n") and doc.pages[1] == len(typed) + 2
    assert SCANNED[0] in doc.text[doc.pages[1]:]


def test_without_tesseract_a_scan_is_refused_with_the_install_line(tmp_path, monkeypatch):
    monkeypatch.setattr(pdf_loader.shutil, "which", lambda name: None)
    data = make_pdf(tmp_path / "scan.pdf", [("scan", SCANNED)]).read_bytes()
    with pytest.raises(IngestError, match="apt-get install tesseract-ocr tesseract-ocr-eng"):
        pdf_loader.load_pdf(data, "scan.pdf")
    text, _ = pdf_loader.load_pdf(make_pdf(tmp_path / "m.pdf", [("text", TYPED), ("scan", SCANNED)]).read_bytes(), "m")
    assert TYPED[0] in text and SCANNED[0] not in text  # the text pages still go in


def test_scanned_pdf_ingested_answered_and_cited_with_ocr(tmp_path, embedder):
    folder = tmp_path / "archive"
    folder.mkdir()
    make_pdf(folder / "logbook.pdf", [("text", TYPED), ("scan", SCANNED)])
    a = Assistant(data_dir=tmp_path / "data", embed_model=embedder)  # default parse budget: 60 s, 1024 MB
    report = a.ingest([folder])
    assert report.added == ["archive/logbook.pdf"] and not report.skipped
    assert report.ocr_pages == {"archive/logbook.pdf": [2]}

    answer = a.ask("Who lit the lamp in March 1887?")
    assert not answer.abstained and "Ada Marsh" in answer.text
    assert_exact(a, answer)
    cited = next(c for c in answer.citations if "Ada Marsh" in c.quote)
    assert cited.page == 2 and cited.ocr is True
    typed = a.ask("When does the museum open?")
    assert any(c.page == 1 and c.ocr is False for c in typed.citations if "museum" in c.quote)

    image = a.page_image(cited.source, 2, cited.quote)  # word boxes from tesseract, scaled to the image
    assert len(image.boxes) >= 1
    x0, y0, x1, y1 = image.boxes[0]
    baseline = (letter[1] - 700) * 1.5  # the first line's baseline, in pixels at scale 1.5
    assert abs(x0 - 72 * 1.5) < 6 and baseline - 22 < y0 < baseline and baseline < y1 < baseline + 10
