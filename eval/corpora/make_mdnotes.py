#!/usr/bin/env python3
"""Regenerate eval/corpora/mdnotes/ from Markdown files that Debian packages install under /usr/share/doc.

Each file is copied as shipped; files Debian compressed (`*.md.gz`) are decompressed, nothing else is
changed. The output keeps one folder per package. See eval/corpora/MDNOTES_SOURCE.md.

    python3 eval/corpora/make_mdnotes.py            # writes eval/corpora/mdnotes/
    python3 eval/corpora/make_mdnotes.py /tmp/out   # or somewhere else
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

DOC = Path("/usr/share/doc")
DEFAULT_OUT = Path(__file__).resolve().parent / "mdnotes"

PIP = "python3-pip/html"
# (Debian package, path under /usr/share/doc without .gz, path in the corpus)
FILES = [
    # pip 23.0.1 user documentation (MyST Markdown)
    ("python3-pip", f"{PIP}/index.md", "pip/index.md"),
    ("python3-pip", f"{PIP}/getting-started.md", "pip/getting-started.md"),
    ("python3-pip", f"{PIP}/installation.md", "pip/installation.md"),
    ("python3-pip", f"{PIP}/topics/authentication.md", "pip/topics/authentication.md"),
    ("python3-pip", f"{PIP}/topics/caching.md", "pip/topics/caching.md"),
    ("python3-pip", f"{PIP}/topics/configuration.md", "pip/topics/configuration.md"),
    ("python3-pip", f"{PIP}/topics/dependency-resolution.md", "pip/topics/dependency-resolution.md"),
    ("python3-pip", f"{PIP}/topics/https-certificates.md", "pip/topics/https-certificates.md"),
    ("python3-pip", f"{PIP}/topics/local-project-installs.md", "pip/topics/local-project-installs.md"),
    ("python3-pip", f"{PIP}/topics/more-dependency-resolution.md", "pip/topics/more-dependency-resolution.md"),
    ("python3-pip", f"{PIP}/topics/python-option.md", "pip/topics/python-option.md"),
    ("python3-pip", f"{PIP}/topics/repeatable-installs.md", "pip/topics/repeatable-installs.md"),
    ("python3-pip", f"{PIP}/topics/secure-installs.md", "pip/topics/secure-installs.md"),
    ("python3-pip", f"{PIP}/topics/vcs-support.md", "pip/topics/vcs-support.md"),
    ("python3-pip", f"{PIP}/reference/requirement-specifiers.md", "pip/reference/requirement-specifiers.md"),
    ("python3-pip", f"{PIP}/reference/requirements-file-format.md", "pip/reference/requirements-file-format.md"),
    ("python3-pip", f"{PIP}/reference/installation-report.md", "pip/reference/installation-report.md"),
    ("python3-pip", f"{PIP}/reference/inspect-report.md", "pip/reference/inspect-report.md"),
    ("python3-pip", f"{PIP}/reference/build-system/index.md", "pip/reference/build-system/index.md"),
    ("python3-pip", f"{PIP}/reference/build-system/pyproject-toml.md", "pip/reference/build-system/pyproject-toml.md"),
    ("python3-pip", f"{PIP}/reference/build-system/setup-py.md", "pip/reference/build-system/setup-py.md"),
    ("python3-pip", f"{PIP}/development/issue-triage.md", "pip/development/issue-triage.md"),
    # systemd 252 developer notes
    ("systemd", "systemd/DISTRO_PORTING.md", "systemd/DISTRO_PORTING.md"),
    ("systemd", "systemd/ENVIRONMENT.md", "systemd/ENVIRONMENT.md"),
    ("systemd", "systemd/TRANSIENT-SETTINGS.md", "systemd/TRANSIENT-SETTINGS.md"),
    ("systemd", "systemd/TRANSLATORS.md", "systemd/TRANSLATORS.md"),
    ("systemd", "systemd/UIDS-GIDS.md", "systemd/UIDS-GIDS.md"),
    # READMEs, notes and changelogs of other packages
    ("zstd", "zstd/README.md", "zstd/README.md"),
    ("zstd", "zstd/TESTING.md", "zstd/TESTING.md"),
    ("man-db", "man-db/README.md", "man-db/README.md"),
    ("man-db", "man-db/NEWS.md", "man-db/NEWS.md"),
    ("libpipeline1", "libpipeline1/NEWS.md", "libpipeline/NEWS.md"),
    ("libnss-mdns", "libnss-mdns/README.md", "nss-mdns/README.md"),
    ("libnss-mdns", "libnss-mdns/NEWS.md", "nss-mdns/NEWS.md"),
    ("apt", "apt/README.md", "apt/README.md"),
    ("postgresql-common", "postgresql-common/README.md", "postgresql-common/README.md"),
    ("iso-codes", "iso-codes/README.md", "iso-codes/README.md"),
    ("libcrypt-dev", "libcrypt-dev/README.md", "libxcrypt/README.md"),
    ("libcrypt-dev", "libcrypt-dev/TODO.md", "libxcrypt/TODO.md"),
    ("procps", "procps/bugs.md", "procps/bugs.md"),
    ("psmisc", "psmisc/README.md", "psmisc/README.md"),
]


def read(rel: str) -> bytes:
    plain, packed = DOC / rel, DOC / (rel + ".gz")
    if plain.is_file():
        return plain.read_bytes()
    if packed.is_file():
        return gzip.decompress(packed.read_bytes())
    raise FileNotFoundError(rel)


def main(argv: list[str]) -> None:
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    wanted = set()
    total = 0
    for package, rel, dst_rel in FILES:
        try:
            data = read(rel)
        except FileNotFoundError:
            sys.exit(f"{DOC / rel}(.gz) is missing: apt-get install {package}")
        dst = out / dst_rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(data)
        wanted.add(dst)
        total += len(data)
    for p in sorted(out.rglob("*"), reverse=True):
        if p.is_file() and p not in wanted:
            p.unlink()
        elif p.is_dir() and not any(p.iterdir()):
            p.rmdir()
    print(f"{len(FILES)} files, {total} bytes -> {out}")


if __name__ == "__main__":
    main(sys.argv)
