#!/usr/bin/env python3
"""Regenerate eval/corpora/licences/ from Debian's /usr/share/common-licenses (package base-files).

Each licence text is copied byte for byte as <NAME>.txt; the symlinks GPL, LGPL and GFDL (to GPL-3,
LGPL-3 and GFDL-1.3) are not copied. See eval/corpora/LICENCES_SOURCE.md.

    python3 eval/corpora/make_licences.py            # writes eval/corpora/licences/
    python3 eval/corpora/make_licences.py /tmp/out   # or somewhere else
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

SRC = Path("/usr/share/common-licenses")
DEFAULT_OUT = Path(__file__).resolve().parent / "licences"
NAMES = ["Apache-2.0", "Artistic", "BSD", "CC0-1.0", "GFDL-1.2", "GFDL-1.3", "GPL-1", "GPL-2", "GPL-3",
         "LGPL-2", "LGPL-2.1", "LGPL-3", "MPL-1.1", "MPL-2.0"]


def main(argv: list[str]) -> None:
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for name in NAMES:
        src = SRC / name
        if not src.is_file():
            sys.exit(f"{src} is missing: install Debian's base-files package")
        dst = out / f"{name}.txt"
        shutil.copyfile(src, dst)
        wanted.add(dst.name)
        print(f"{dst.name:16s} {dst.stat().st_size:7d} bytes")
    for p in out.iterdir():
        if p.is_file() and p.name not in wanted:
            p.unlink()


if __name__ == "__main__":
    main(sys.argv)
