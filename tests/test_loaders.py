from pathlib import Path

import pytest

from rag.errors import IngestError
from rag.loaders import load_file


def _write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    p = tmp_path / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


def test_txt_normalises_newlines_and_takes_first_line_as_title(tmp_path):
    doc = load_file(_write(tmp_path, "a.txt", "\ufeffTitle line\r\n\r\nBody text.\rMore."), "a.txt")
    assert doc.text == "Title line\n\nBody text.\nMore."
    assert doc.title == "Title line"
    assert len(doc.sha256) == 64


def test_markdown_title_is_first_heading_and_text_kept_verbatim(tmp_path):
    md = "Intro para.\n\n## The Heading ##\n\n*Bold* claim.\n"
    doc = load_file(_write(tmp_path, "a.md", md), "a.md")
    assert doc.title == "The Heading"
    assert doc.text == md


def test_html_keeps_visible_text_only(tmp_path):
    html = """<html><head><title>Page T</title><style>p{color:red}</style><script>var secret=1;</script></head>
    <body><nav>Home | About</nav><main><h1>Big</h1><p>First <b>bold</b> para.</p><pre>x = 1
y = 2</pre><p>Second&nbsp;para &amp; more.</p></main><footer>Copyright</footer></body></html>"""
    doc = load_file(_write(tmp_path, "p.html", html), "p.html")
    assert doc.title == "Page T"
    assert "secret" not in doc.text and "color" not in doc.text and "Home" not in doc.text and "Copyright" not in doc.text
    assert "First bold para." in doc.text
    assert "x = 1\ny = 2" in doc.text
    assert "Second para & more." in doc.text


def test_pdf_text_extracted(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "r.pdf"
    c = canvas.Canvas(str(path))
    c.setTitle("Report Title")
    c.drawString(72, 720, "The turbine output was 42 megawatts in March.")
    c.showPage()
    c.save()
    doc = load_file(path, "r.pdf")
    assert "42 megawatts" in doc.text
    assert doc.title == "Report Title"


def test_docx_paragraphs_tables_and_heading(tmp_path):
    import docx

    d = docx.Document()
    d.add_heading("Quarterly Notes", level=1)
    d.add_paragraph("Revenue grew by nine percent.")
    t = d.add_table(rows=1, cols=2)
    t.rows[0].cells[0].text = "Region"
    t.rows[0].cells[1].text = "North"
    d.save(tmp_path / "n.docx")
    doc = load_file(tmp_path / "n.docx", "n.docx")
    assert doc.title == "Quarterly Notes"
    assert "Revenue grew by nine percent." in doc.text
    assert "Region | North" in doc.text


@pytest.mark.parametrize("name,data,reason", [
    ("empty.txt", b"   \n", "empty file"),
    ("bin.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    ("latin.txt", "caf\u00e9".encode("latin-1"), "not valid UTF-8"),
    ("bad.pdf", b"%PDF-1.4\nthis is not really a pdf", "PDF"),
    ("bad.docx", b"PK\x03\x04 truncated zip", "docx"),
    ("data.xyz", b"some text", "unsupported type '.xyz'"),
])
def test_bad_files_raise_with_the_file_named(tmp_path, name, data, reason):
    with pytest.raises(IngestError) as e:
        load_file(_write(tmp_path, name, data), name)
    assert name in str(e.value) and reason in str(e.value)


def test_html_documentation_boilerplate_is_dropped(tmp_path):
    html = """<html><head><title>json — JSON encoder and decoder</title></head><body>
    <div class="related" role="navigation"><a href="#">previous</a> | <a href="#">next</a></div>
    <div class="sphinxsidebar"><h3>Table of Contents</h3><input type="text" name="q"></div>
    <div class="body" role="main"><h1>json<a class="headerlink" href="#json">¶</a></h1>
    <p>Serialize <code>obj</code> to a JSON formatted <code>str</code>.</p>
    <span class="sr-only">Skip to content</span></div>
    <div class="footer">© Copyright 2001 Python Software Foundation.</div></body></html>"""
    doc = load_file(_write(tmp_path, "json.html", html), "json.html")
    assert doc.text == "json\n\nSerialize obj to a JSON formatted str."
    assert doc.title == "json — JSON encoder and decoder"
