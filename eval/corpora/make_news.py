#!/usr/bin/env python3
"""Generate the ``news`` evaluation corpus: dated release announcements and news notes Debian ships.

Every document is an excerpt, copied verbatim, of a news file an installed Debian 12 package ships:

- tzdata's "News for the tz database" (/usr/share/doc/tzdata/changelog.gz): one document per
  release, chosen for news about countries and regions changing their clocks, who reported it,
  and when;
- systemd's NEWS (/usr/share/doc/systemd/NEWS.gz): one document per release announcement, each
  signed with a place and a date ("— Berlin, 2019-02-14") and a list of contributors;
- Debian maintainers' NEWS.Debian files (openssh-client, apt, make, glibc, adduser): dated
  entries signed by the maintainer who wrote them;
- libpng's release announcement (ANNOUNCE) and util-linux's release notes ("Release highlights"
  only; the per-commit list that follows them is left out).

The only text added is a first line naming the source and release, so that every document has a
title; nothing else is changed. Output is deterministic for the same package versions.

Usage (from the repository root):

    .venv/bin/python eval/corpora/make_news.py            # writes eval/corpora/news/
    .venv/bin/python eval/corpora/make_news.py OUT_DIR
"""

from __future__ import annotations

import gzip
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "news"
DOC = Path("/usr/share/doc")

TZ_RELEASES = ["2025b", "2025a", "2024b", "2024a", "2023d", "2023a", "2022g", "2022f", "2022b", "2022a", "2021b",
               "2020e", "2020a",
               "2019c", "2019b", "2018h", "2018g", "2018f", "2018a", "2017c", "2016i"]
SYSTEMD_RELEASES = ["241", "238", "237", "234", "230", "213"]
DEBIAN_NEWS = [  # (output name, package doc dir, title)
    ("openssh-debian-news.txt", "openssh-client", "OpenSSH in Debian: news for administrators (NEWS.Debian)"),
    ("apt-debian-news.txt", "apt", "APT in Debian: news for administrators (NEWS.Debian)"),
    ("make-debian-news.txt", "make", "GNU make in Debian: news for administrators (NEWS.Debian)"),
    ("glibc-debian-news.txt", "libc6", "glibc in Debian: news for administrators (NEWS.Debian)"),
    ("adduser-debian-news.txt", "adduser", "adduser in Debian: news for administrators (NEWS.Debian)"),
]
UTIL_LINUX = ["2.38", "2.37"]


def read(path: Path) -> str:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8").replace("\r\n", "\n")


def tz_sections() -> dict[str, tuple[str, str]]:
    """release -> (date, verbatim section text) from the tz database's NEWS file."""
    text = read(DOC / "tzdata" / "changelog.gz")
    parts = re.split(r"(?m)^(?=Release \S+ - )", text)
    out = {}
    for p in parts:
        m = re.match(r"Release (\S+) - (\d{4}-\d{2}-\d{2})", p)
        if m:
            out[m.group(1)] = (m.group(2), p.rstrip() + "\n")
    return out


def systemd_sections() -> dict[str, str]:
    text = read(DOC / "systemd" / "NEWS.gz")
    parts = re.split(r"(?m)^(?=CHANGES WITH \d+)", text)
    out = {}
    for p in parts:
        m = re.match(r"CHANGES WITH (\d+)", p)
        if m:
            out[m.group(1)] = p.rstrip() + "\n"
    return out


def main(argv: list[str]) -> None:
    out_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    out_dir.mkdir(parents=True, exist_ok=True)
    docs: dict[str, str] = {}

    tz = tz_sections()
    for rel in TZ_RELEASES:
        date, body = tz[rel]
        docs[f"tzdata-{rel}.txt"] = f"tz database news: release {rel} ({date})\n\n{body}"

    sd = systemd_sections()
    for rel in SYSTEMD_RELEASES:
        body = sd[rel]
        m = re.search(r"(?m)^\s*— (.+), (\d{4}-\d{2}-\d{2})\s*$", body)
        where = f" ({m.group(1)}, {m.group(2)})" if m else ""
        docs[f"systemd-{rel}.txt"] = f"systemd {rel} release announcement{where}\n\n{body}"

    for name, pkg, title in DEBIAN_NEWS:
        docs[name] = f"{title}\n\n{read(DOC / pkg / 'NEWS.Debian.gz').rstrip()}\n"

    docs["libpng-1.6.39-announce.txt"] = read(DOC / "libpng16-16" / "ANNOUNCE").rstrip() + "\n"

    for ver in UTIL_LINUX:
        notes = read(DOC / "util-linux" / "releases" / f"v{ver}-ReleaseNotes.gz")
        highlights = re.split(r"(?m)^Changes between ", notes)[0].rstrip()
        docs[f"util-linux-{ver}-release-notes.txt"] = highlights + "\n"

    total = 0
    for name, text in docs.items():
        data = text.encode("utf-8")
        (out_dir / name).write_bytes(data)
        total += len(data)
        print(f"{name:36s} {len(data):7d} bytes")
    for p in out_dir.iterdir():
        if p.is_file() and p.name not in docs:
            p.unlink()
    print(f"{len(docs)} files, {total} bytes total -> {out_dir}")


if __name__ == "__main__":
    main(sys.argv)
