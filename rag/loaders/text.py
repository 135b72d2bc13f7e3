"""Bytes → text: encoding sniffing, binary detection, and the .txt / .md loaders.

A file is text when it decodes: a UTF-8/16/32 byte-order mark decides; else strict UTF-8; else an
encoding that charset-normalizer detects *confidently* (low mess, a recognised language or enough
non-ASCII evidence; ties go to Windows code pages). Known binary signatures (PNG, ZIP, ELF, PDF …), NUL bytes
in the first 8 KB (without a UTF-16/32 mark), or a high share of control characters mean binary. NUL
bytes further in are stripped, so they never reach the index. Newlines are normalised to "\\n".
Left out: UTF-16/32 without a byte-order mark (read as binary), and guessing between similar legacy
code pages when the detector is not sure (the file is rejected: re-save it as UTF-8).
"""

from __future__ import annotations

import codecs
import re

from rag.errors import IngestError

TITLE_MAX = 200
_SNIFF_BYTES = 8192
_CONTROL_SAMPLE = 65536  # characters examined for control characters
_MAX_CONTROL_SHARE = 0.05  # text (even man pages, ANSI logs) stays far below; decoded binary far above
_DETECT_MAX_CHAOS = 0.1  # charset-normalizer "mess" ratio we accept (0 = clean); its own default is 0.2
_DETECT_MIN_EVIDENCE = 16  # non-ASCII bytes needed when no language is recognised ("café" alone is a guess)
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"GIF87a", "a GIF image"), (b"GIF89a", "a GIF image"),
          (b"\xff\xd8\xff", "a JPEG image"), (b"PK\x03\x04", "a ZIP archive (.docx/.xlsx/.zip)"),
          (b"PK\x05\x06", "an empty ZIP archive"), (b"\x7fELF", "an ELF executable"), (b"%PDF-", "a PDF document"),
          (b"\x1f\x8b", "gzip data"), (b"\xfd7zXZ\x00", "xz data"), (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
          (b"Rar!\x1a\x07", "a RAR archive"), (b"\x28\xb5\x2f\xfd", "zstd data"),
          (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Office file (.doc/.xls/.ppt)"),
          (b"SQLite format 3\x00", "an SQLite database"), (b"\xca\xfe\xba\xbe", "a Java class or Mach-O binary"),
          (b"\xcf\xfa\xed\xfe", "a Mach-O binary"), (b"wOFF", "a web font"), (b"wOF2", "a web font"),
          (b"OggS", "Ogg audio/video"), (b"fLaC", "FLAC audio"), (b"\x00asm", "WebAssembly"))
_CONTROL = re.compile(r"[\x01-\x08\x0e-\x1a\x1c-\x1f\x7f-\x9f]")  # NUL, \t\n\v\f\r, ESC excluded
# When several code pages decode equally cleanly, the Windows ones win (cp1252 first): charset-normalizer
# otherwise picks e.g. cp1250 for French or mac_cyrillic for Russian and garbles a few letters.
_TIE_ORDER = ("cp1252", "cp1251", "cp1250", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258",
              "latin_1", "iso8859_15")


def binary_kind(data: bytes) -> str | None:
    """What a binary file looks like ("a PNG image", "NUL bytes"), or None when it may be text."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if any(data.startswith(bom) for bom, _ in _BOMS):
        return None
    if b"\x00" in data[:_SNIFF_BYTES]:
        return "NUL bytes in the first 8 KB"
    return None


def decode(data: bytes, name: str, declared: str | None = None) -> str:
    """Decode `data` as text with "\\n" newlines and no NUL characters, or raise `IngestError`."""
    kind = binary_kind(data)
    if kind:
        raise IngestError(f"{name}: looks binary ({kind}), not text; remove it or give it the right extension")
    text = _decode_bom(data, name)
    if text is None and declared:
        try:
            text = data.decode(declared)
        except (LookupError, UnicodeDecodeError, ValueError):
            text = None
    if text is None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            text = _detect(data, name, e)
    sample = text[:_CONTROL_SAMPLE]
    controls = len(_CONTROL.findall(sample))
    if sample and controls / len(sample) > _MAX_CONTROL_SHARE:
        raise IngestError(f"{name}: looks binary ({100 * controls / len(sample):.0f}% control characters), not text; "
                          "remove it or give it the right extension")
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def _decode_bom(data: bytes, name: str) -> str | None:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                if codec == "utf-32":  # FF FE 00 00 may also be UTF-16 text starting with a NUL
                    continue
                raise IngestError(f"{name}: starts with a {codec.upper()} byte-order mark but does not decode "
                                  f"as {codec.upper()}; re-save it as UTF-8") from None
    return None


def _detect(data: bytes, name: str, err: UnicodeDecodeError) -> str:
    """A legacy encoding charset-normalizer is confident about, or `IngestError`."""
    from charset_normalizer import from_bytes

    matches = [m for m in from_bytes(data) if not m.encoding.startswith(("utf_16", "utf_32"))]
    best = matches[0] if matches else None
    evidence = sum(1 for b in data[:_CONTROL_SAMPLE] if b >= 0x80)
    if best is None or best.chaos > _DETECT_MAX_CHAOS or (best.coherence == 0 and evidence < _DETECT_MIN_EVIDENCE):
        raise IngestError(f"{name}: not valid UTF-8 (byte {err.start}) and its encoding could not be detected "
                          "with confidence; re-save it as UTF-8") from err
    ties = {m.encoding for m in matches if m.chaos <= best.chaos + 0.01}
    encoding = next((e for e in _TIE_ORDER if e in ties), best.encoding)
    try:
        return data.decode(encoding)
    except (LookupError, UnicodeDecodeError) as e:
        raise IngestError(f"{name}: not valid UTF-8 and not valid {encoding} either; re-save it as UTF-8") from e


def first_line_title(text: str) -> str:
    for line in text.split("\n"):
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:TITLE_MAX]
    return ""


def load_text(data: bytes, name: str) -> tuple[str, str]:
    text = decode(data, name)
    return text, first_line_title(text)


# The first ATX heading. A regex like ^#{1,6}\s+(.+?)\s*#*\s*$ backtracks quadratically on a long
# heading line full of spaces; this one is linear, and the closing "###" is stripped in Python.
_HEADING = re.compile(r"^#{1,6}\s+(\S[^\n]*)", flags=re.M)


def markdown_title(text: str) -> str:
    heading = _HEADING.search(text)
    if not heading:
        return first_line_title(text)
    line = heading.group(1)
    return (line.rstrip().rstrip("#").rstrip() or line[:1]).strip()[:TITLE_MAX]


def load_markdown(data: bytes, name: str) -> tuple[str, str]:
    text = decode(data, name)
    return text, markdown_title(text)
