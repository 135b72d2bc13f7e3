#!/usr/bin/env python3
"""Generate the ``pdfmanuals`` evaluation corpus: real Debian man pages typeset to PDF by groff.

Each manual page is read from the installed Debian package (``man -w <page>``), typeset with
groff's PDF device (gropdf) exactly as ``man -Tpdf`` would, except that pair kerning is switched
off (``.kern 0``; with kerning on, pypdf splits words such as "e xtension") and the paper is A4.
Hyphenation, page headers and footers are kept: the text layer looks like any typeset manual.
The PDF's /Title is set from the page's NAME line (``lexgrog``), and ``SOURCE_DATE_EPOCH`` is
fixed, so the output is byte-identical for the same package versions.

Needs: groff (the full package, for gropdf; ``apt-get install groff``), man-db, and the packages
that ship the pages (see PDFMANUALS_SOURCE.md); the Python packages pypdf.

Usage (from the repository root):

    .venv/bin/python eval/corpora/make_pdfmanuals.py            # writes eval/corpora/pdfmanuals/
    .venv/bin/python eval/corpora/make_pdfmanuals.py OUT_DIR
"""

from __future__ import annotations

import gzip
import io
import os
import re
import subprocess
import sys
from pathlib import Path

from pypdf import PdfReader, PdfWriter

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "pdfmanuals"
SOURCE_DATE_EPOCH = "1686355200"  # 2023-06-10, the release day of Debian 12 "bookworm"

# (page, section): compressors, archivers, text search, remote transfer.  Several tools share option
# letters and vocabulary on purpose, so the right manual has to be picked.
PAGES = [
    ("gzip", 1), ("bzip2", 1), ("xz", 1), ("zstd", 1), ("lz4", 1),
    ("tar", 1), ("zip", 1), ("unzip", 1),
    ("grep", 1), ("sed", 1), ("find", 1), ("xargs", 1),
    ("ssh", 1), ("scp", 1), ("sftp", 1), ("ssh-keygen", 1), ("wget", 1),
]


def run(cmd: list[str], data: bytes | None = None, env: dict | None = None) -> bytes:
    return subprocess.run(cmd, input=data, capture_output=True, check=True, env=env).stdout


def man_path(page: str, section: int) -> Path:
    return Path(run(["man", "-w", str(section), page]).decode().strip())


def whatis(path: Path) -> str:
    """The NAME line, as man-db's lexgrog reads it: 'gzip, gunzip, zcat - compress or expand files'."""
    out = run(["lexgrog", str(path)]).decode("utf-8", "replace")
    m = re.search(r'"(.*)"', out)
    return re.sub(r"\s+", " ", m.group(1)).strip() if m else path.name


def render(path: Path) -> bytes:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    env = dict(os.environ, SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH, LC_ALL="C.UTF-8")
    # -k: preconv (input encoding), -t: tbl, -mandoc: the man macros; gropdf on A4 paper.
    return run(["groff", "-k", "-t", "-mandoc", "-Tpdf", "-P-pa4"], b".kern 0\n" + raw, env)


def with_title(pdf: bytes, title: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.add_metadata({"/Title": title})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def main(argv: list[str]) -> None:
    out_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    out_dir.mkdir(parents=True, exist_ok=True)
    expected, total = set(), 0
    for page, section in PAGES:
        src = man_path(page, section)
        pkg = run(["dpkg", "-S", str(src)]).decode().split(":")[0]
        version = run(["dpkg-query", "-W", "-f=${Version}", pkg]).decode()
        title = f"{page}({section}) — {whatis(src).rsplit(' - ', 1)[-1]}"
        pdf = with_title(render(src), title)
        dest = out_dir / f"{page}.pdf"
        dest.write_bytes(pdf)
        expected.add(dest.name)
        total += len(pdf)
        pages = len(PdfReader(io.BytesIO(pdf)).pages)
        print(f"{dest.name:16s} {len(pdf):8d} bytes {pages:3d} pages  {pkg} {version}  {src}")
    for p in out_dir.iterdir():
        if p.is_file() and p.name not in expected:
            p.unlink()
    print(f"{len(expected)} files, {total} bytes total -> {out_dir}")


if __name__ == "__main__":
    main(sys.argv)
