"""From bytes to what a file is: its size within the Limits, its format (CSV or XLSX; binary, legacy, encrypted
and other files refused by their first bytes), and a CSV file's encoding and delimiter (`detect` → FileInfo); sizes
as people are told them (`megabytes`, `too_large`).

Everything structural is a file-level `ImportFileError` with the row at fault. The rows themselves are streamed by
rows.py (CSV) and workbooks.py (XLSX) from the stored file (`opener` reopens it), so memory does not grow with the
file.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from django.conf import settings

from orders.imports.columns import ImportFileError

Opener = Callable[[], IO[bytes]]
CHUNK = 1 << 20

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a compound file: an old .xls, or an encrypted .xlsx (below)
_MAGIC = (
    (_OLE2, "This is an old Excel (.xls) workbook: save it as .xlsx or CSV UTF-8."),
    (b"%PDF", "This is a PDF, not a spreadsheet: upload the CSV or XLSX file."),
    (b"\x89PNG", "This is an image, not a spreadsheet: upload the CSV or XLSX file."),
    (b"\xff\xd8\xff", "This is an image, not a spreadsheet: upload the CSV or XLSX file."),
    (b"GIF8", "This is an image, not a spreadsheet: upload the CSV or XLSX file."),
    (b"\x1f\x8b", "This is a compressed (gzip) file: upload the CSV or XLSX file itself."),
    (b"\xff\xfe", "This file is UTF-16 text: save it as CSV UTF-8 (or CSV) and upload it again."),
    (b"\xfe\xff", "This file is UTF-16 text: save it as CSV UTF-8 (or CSV) and upload it again."),
)


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_rows: int
    max_xlsx_unpacked_bytes: int

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            max_bytes=settings.OMS_IMPORT_MAX_BYTES,
            max_rows=settings.OMS_IMPORT_MAX_ROWS,
            max_xlsx_unpacked_bytes=settings.OMS_IMPORT_MAX_XLSX_UNPACKED_BYTES,
        )


@dataclass(frozen=True)
class FileInfo:
    format: str  # "csv" or "xlsx"
    encoding: str = ""
    delimiter: str = ""
    from_workbook: bool = False  # CSV written from a workbook's rows (SPOOL_INFO)
    sep_line: bool = False  # the first line is Excel's "sep=;" directive, not a row (see detect)

    @property
    def pads_short_rows(self) -> bool:
        """A spreadsheet row has no "missing" cells, only empty ones: Excel leaves trailing empty cells out."""
        return self.format == "xlsx" or self.from_workbook


MB = 1024 * 1024  # file sizes are told in binary megabytes, as file managers and Django's filesizeformat tell them


def megabytes(size: int, places: int = 1) -> str:
    """'20 MB' for a whole number of megabytes, else '20.5 MB' (to `places` decimals)."""
    value = size / MB
    return f"{value:,.0f} MB" if value.is_integer() else f"{value:,.{places}f} MB"


def too_large(size: int, limit: int) -> str:
    """'The file is 25.3 MB; the limit is 20 MB.' — told precisely enough that the file is visibly over the limit it
    names (a file a few bytes over is told in bytes)."""
    for places in (1, 2):
        if round(size / MB, places) > round(limit / MB, places):
            return f"The file is {size / MB:,.{places}f} MB; the limit is {megabytes(limit, places)}."
    return f"The file is {size:,} bytes; the limit is {limit:,} bytes ({megabytes(limit, 2)})."


def size_problem(size: int, limits: Limits) -> str | None:
    if size == 0:
        return "The file is empty."
    if size > limits.max_bytes:
        return f"{too_large(size, limits.max_bytes)} Split it into smaller files."
    return None


def detect(opener: Opener, *, size: int, limits: Limits) -> FileInfo:
    """The file's format, text encoding and delimiter, or ImportFileError saying why it cannot be read."""
    problem = size_problem(size, limits)
    if problem:
        raise ImportFileError(problem)
    with opener() as stream:
        head = stream.read(8)
        if head.startswith(b"PK\x03\x04"):
            return FileInfo(format="xlsx")
        if head.startswith(_OLE2) and _holds_encrypted_package(stream):
            raise ImportFileError(
                "This workbook is password-protected (encrypted), so it cannot be read: remove the password (in "
                "Excel: File › Info › Protect Workbook › Encrypt with Password, and clear it) or save it as CSV "
                "UTF-8, and upload it again."
            )
        for magic, message in _MAGIC:
            if head.startswith(magic):
                raise ImportFileError(message)
        stream.seek(0)
        if problem := _markup_problem(stream.read(_MARKUP_PEEK)):
            raise ImportFileError(problem)
        stream.seek(0)
        try:
            encoding = _text_encoding(stream)
        except ImportFileError as exc:
            if exc.row and exc.row > 1 and _starts_with_sep_line(stream):
                exc.row -= 1  # rows are numbered from the header, as Excel shows them (see _SEP_LINE)
            raise
        stream.seek(0)
        text = io.TextIOWrapper(stream, encoding=encoding, newline="")
        first_line = text.readline(64 * 1024)
        if sep := _SEP_LINE.fullmatch(first_line):
            header_line = text.readline(64 * 1024)
            if not header_line.strip():
                raise ImportFileError("The column names must follow the sep= line, but that row is blank.", row=1)
            return FileInfo(format="csv", encoding=encoding, delimiter=sep.group(1), sep_line=True)
        if not first_line.strip():
            if text.read(64 * 1024).strip():
                raise ImportFileError(
                    "The first row is blank: the column names must be in the first row. Delete the blank rows "
                    "above them.",
                    row=1,
                )
            raise ImportFileError("The file is empty: its first row should hold the column names.", row=1)
    return FileInfo(format="csv", encoding=encoding, delimiter=_delimiter(first_line))


# A web page or an XML file saved under a .csv name: a download that ended on a sign-in or error page, a report
# "exported to Excel" as an HTML table, Excel's own "XML Spreadsheet 2003". Read as CSV, its first tag became a column
# name.
_MARKUP_PEEK = 1024
_HTML_STARTS = (b"<!doctype html", b"<html")


def _markup_problem(start: bytes) -> str | None:
    text = start.removeprefix(codecs.BOM_UTF8).lstrip().lower()
    if text.startswith(_HTML_STARTS):
        return (
            "This is a web page (HTML), not a spreadsheet: a download that ended on a sign-in or error page is saved "
            "so. Upload the CSV or XLSX file itself."
        )
    if text.startswith(b"<?xml"):
        return "This is an XML file, not a spreadsheet: open it in Excel and save it as .xlsx or CSV UTF-8."
    return None


# Excel saves a workbook with a password (or an encrypting sensitivity label) as an OLE2 compound file, with the
# .xls magic bytes, holding the encrypted .xlsx as a stream named EncryptedPackage (MS-OFFCRYPTO 2.3.4.4). A
# directory entry (MS-CFB 2.6) is 128 bytes at a 128-byte boundary of the file: its name in UTF-16LE with the
# terminator, padded to 64 bytes, then the name's length in bytes (34) and the object type (2, a stream).
_ENCRYPTED_PACKAGE = "EncryptedPackage\x00".encode("utf-16-le")
_ENCRYPTED_PACKAGE_ENTRY = re.compile(re.escape(_ENCRYPTED_PACKAGE) + rb".{30}\x22\x00\x02", re.DOTALL)
_DIRECTORY_ENTRY = 128


def _holds_encrypted_package(stream: IO[bytes]) -> bool:
    """Whether a compound file's directory has an EncryptedPackage stream: an encrypted OOXML (.xlsx) workbook.
    Read in chunks; the tail of each is kept, so an entry across two chunks is found too."""
    stream.seek(0)
    carry, offset = b"", 0  # offset: where `carry` starts in the file
    while chunk := stream.read(CHUNK):
        window = carry + chunk
        for match in _ENCRYPTED_PACKAGE_ENTRY.finditer(window):
            if (offset + match.start()) % _DIRECTORY_ENTRY == 0:
                return True
        keep = min(len(window), _DIRECTORY_ENTRY)
        offset += len(window) - keep
        carry = window[-keep:]
    return False


def _starts_with_sep_line(stream: IO[bytes]) -> bool:
    stream.seek(0)
    first = stream.readline(64).removeprefix(codecs.BOM_UTF8).decode("latin-1")
    return _SEP_LINE.fullmatch(first) is not None


# Excel's delimiter directive: a first line "sep=;" tells Excel the delimiter, and Excel hides it, so the header
# is the sheet's row 1 there and here (rows are numbered from the line after it).
_SEP_LINE = re.compile(r"sep=([,;\t|])\r?\n?", re.IGNORECASE)


# A well-formed UTF-8 sequence of two or more bytes (U+0080 and above). Windows-1252 text rarely holds one: it
# would take an upper-case accented letter followed by a character such as “ or °.
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _text_encoding(stream: IO[bytes]) -> str:
    """UTF-8 (with or without a BOM) when every byte decodes as UTF-8, else Windows-1252 (Excel's "CSV").

    A file that is UTF-8 in parts and something else in others (rows pasted together from two exports) is
    refused: read as Windows-1252, its UTF-8 text would be stored as mojibake (“MÃ¼ller”), read as UTF-8 the
    rest cannot be decoded. The message names the first line that is not UTF-8."""
    bom = stream.read(3) == codecs.BOM_UTF8
    stream.seek(0)
    utf8, cp1252 = codecs.getincrementaldecoder("utf-8")(), codecs.getincrementaldecoder("cp1252")()
    utf8_ok = cp1252_ok = True
    has_utf8_text = False
    lines_before = 0  # newlines in the chunks before this one
    first_bad_line = 0
    first_chunk = True
    while chunk := stream.read(CHUNK):
        if b"\x00" in chunk:
            raise ImportFileError("This is not a text file (it contains NUL bytes): upload a CSV or XLSX file.")
        if first_chunk and _mostly_control(chunk):
            raise ImportFileError(
                "This is not a text file (it holds binary data, not letters and digits): upload a CSV or XLSX file."
            )
        first_chunk = False
        has_utf8_text = has_utf8_text or _UTF8_MULTIBYTE.search(chunk) is not None
        if utf8_ok:
            try:
                utf8.decode(chunk)
            except UnicodeDecodeError as exc:
                utf8_ok = False
                first_bad_line = lines_before + chunk[: max(exc.start, 0)].count(b"\n") + 1
        if not utf8_ok and cp1252_ok:
            try:
                cp1252.decode(chunk)
            except UnicodeDecodeError:
                cp1252_ok = False
        lines_before += chunk.count(b"\n")
    if utf8_ok:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8_ok = False
    if utf8_ok:
        return "utf-8-sig" if bom else "utf-8"
    if has_utf8_text or bom:
        raise ImportFileError(
            "The file mixes encodings: it holds UTF-8 text, but this line is not UTF-8 (it looks like "
            "Windows-1252). Save the whole file as CSV UTF-8 and upload it again.",
            row=first_bad_line or None,
        )
    if cp1252_ok:
        return "cp1252"
    raise ImportFileError("The file is neither UTF-8 nor Windows-1252 text: save it as CSV UTF-8 and upload it again.")


# Control characters that text never holds: tab, line feed, vertical tab, form feed and carriage return are left out
# (FileMaker and old Mac exports break lines inside a value with a vertical tab or a form feed).
_CONTROL_BYTES = bytes([*range(0x01, 0x09), *range(0x0E, 0x20), 0x7F])
_CONTROL_SHARE = 20  # one byte in 20 or more: binary. Text holds at most a stray one copied into a value.


def _mostly_control(chunk: bytes) -> bool:
    """Whether the first chunk of a file is binary data that happens to hold no NUL byte: written as text, a file
    never has this many control characters, and read as text, it was "empty" (they are whitespace to str.strip)."""
    controls = len(chunk) - len(chunk.translate(None, _CONTROL_BYTES))
    return controls * _CONTROL_SHARE >= len(chunk)


def _delimiter(header_line: str) -> str:
    """The header is our vocabulary (no commas or semicolons inside names), so counting is reliable."""
    counts = {delimiter: header_line.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","
