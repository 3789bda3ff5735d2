"""From bytes to rows: recognise the format, decode text, and stream the rows of CSV and XLSX files.

Everything structural is a file-level `ImportFileError` with the row at fault: empty, binary or legacy
files, unknown encodings, unbalanced quotes, ragged rows, too many rows, zip and XML bombs. Rows are
streamed from the stored file (`opener` reopens it), so memory does not grow with the file.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import logging
import re
import zipfile
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any, cast

import defusedxml
import openpyxl
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from openpyxl.utils.cell import range_boundaries
from openpyxl.worksheet._reader import FORMULA_TAG, VALUE_TAG, WorkSheetParser

from orders.imports.columns import MAX_COLUMNS, ImportFileError

logger = logging.getLogger(__name__)

Opener = Callable[[], IO[bytes]]
CHUNK = 1 << 20
XLSX_MAX_RATIO = 200  # a member that inflates more than this is a zip bomb, not a spreadsheet

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
    while chunk := stream.read(CHUNK):
        if b"\x00" in chunk:
            raise ImportFileError("This is not a text file (it contains NUL bytes): upload a CSV or XLSX file.")
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


def _delimiter(header_line: str) -> str:
    """The header is our vocabulary (no commas or semicolons inside names), so counting is reliable."""
    counts = {delimiter: header_line.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def iter_rows(opener: Opener, info: FileInfo, limits: Limits) -> Iterator[tuple[int, list[object]]]:
    """(spreadsheet row number, cells) for every row, the header (row 1) included; blank rows are skipped."""
    reader = _csv_rows if info.format == "csv" else _xlsx_rows
    data_rows = 0
    for number, cells in reader(opener, info, limits):
        if number > 1 and all(cell is None or cell == "" for cell in cells):
            continue
        if number > 1:
            data_rows += 1
            if data_rows > limits.max_rows:
                raise ImportFileError(
                    f"The file has more than {limits.max_rows:,} rows; split it into smaller files.", row=number
                )
        yield number, cells


def _csv_rows(opener: Opener, info: FileInfo, limits: Limits) -> Iterator[tuple[int, list[object]]]:
    with opener() as stream:
        text = io.TextIOWrapper(stream, encoding=info.encoding, newline="")
        if info.sep_line:
            text.readline()
        reader = csv.reader(text, delimiter=info.delimiter, strict=True)
        marked = info.from_workbook  # a rows copy (spool_xlsx) may hold marked CellProblems
        number = 0
        header: list[str] = []
        lines_read = 0
        try:
            for number, cells in enumerate(reader, start=1):
                if number == 1:
                    header = cells
                elif reader.line_num - lines_read > 1 and not marked:  # this record spans lines: a quoted value
                    _refuse_swallowed_rows(cells, header, info.delimiter, number)
                lines_read = reader.line_num
                if marked and _MARK in "".join(cells):
                    yield number, [_unspooled(cell) if cell[:1] == _MARK else cell for cell in cells]
                else:
                    yield number, cast(list[object], cells)  # the reader's own new list: nobody keeps it as list[str]
        except csv.Error as exc:
            raise ImportFileError(_csv_problem(str(exc)), row=number + 1) from exc
        except UnicodeDecodeError as exc:  # the file changed since it was checked
            raise ImportFileError("The file is not valid text in its encoding.", row=number + 1) from exc


def _refuse_swallowed_rows(cells: list[str], header: list[str], delimiter: str, number: int) -> None:
    """A stray opening quote closed in the very column it opened in, some rows further down, gives a row of the
    right width: the rows between sit in that one value and their orders would be missing from the result. Such a
    value has a telling shape: it holds exactly a whole row's worth of delimiters (header width - 1) for each of its
    line breaks, the end of the row where the quote opened and the start of the row where it closed adding up to
    one row, each row between to another. A long text written over several lines does not count its delimiters so
    (a value needs a dozen or more per line), and rows of another width are left to the row-width check, which
    names the quote in its own words (grouping._swallowed)."""
    if len(cells) != len(header):
        return
    row_delimiters = len(header) - 1
    for position, cell in enumerate(cells):
        breaks = len(LINE_BREAK.findall(cell))
        if breaks and row_delimiters and cell.count(delimiter) == breaks * row_delimiters:
            name = header[position].strip() or f"column {position + 1}"
            rows = "the next row" if breaks == 1 else f"the next {breaks} rows"
            raise ImportFileError(
                f'A quote (") opens in the {name} value of this row and is closed only {breaks} '
                f"{'line' if breaks == 1 else 'lines'} further down, in the same column: {rows} of the file were "
                f"read into that one value (it holds {cell.count(delimiter)} delimiters, a whole row's worth for "
                f'each line break), and their orders would be missing. Check this row for a stray " (a value that '
                "starts with a quote must end with one). Nothing was imported.",
                row=number,
            )


LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _csv_problem(message: str) -> str:
    if "unexpected end of data" in message or "field larger than field limit" in message:
        return (
            'A quoted value is never closed: check this row for a stray " (a value that starts with a quote '
            "must end with one). Nothing was imported."
        )
    if "delimiter" in message or "quotechar" in message or "expected" in message:
        return f'This row has a quote (") in the wrong place ({message}). Put values containing quotes in quotes.'
    return f"This row cannot be read as CSV ({message})."


ERROR, UNCALCULATED = "error", "uncalculated"  # the kinds of CellProblem


@dataclass(frozen=True)
class CellProblem:
    """A workbook cell that holds no value to import: an Excel error (t="e": #N/A, #REF!, #VALUE!, #DIV/0!, #NAME?,
    #NULL!, #NUM!), or a formula whose value was never calculated (a formula and no cached value, as programs
    such as openpyxl write them). Read as the text "#N/A", a failed lookup became a consignee; read as an empty
    cell, a value silently went missing. The order import reports it on its row and column instead."""

    kind: str  # ERROR or UNCALCULATED
    text: str  # the error ("#N/A"), or the formula ("=1.2*2"; "" when a shared formula's text is on another cell)

    @property
    def message(self) -> str:
        if self.kind == ERROR:
            code = f" ({self.text})" if self.text else ""
            return (
                f"This cell is an Excel error{code}: correct the cell (its formula failed, often a lookup that "
                "found nothing) and upload the file again."
            )
        return (
            "This cell has a formula whose value was never calculated: open and save the file in Excel, or paste "
            "values instead of formulas."
        )

    def __str__(self) -> str:
        """What a reader that takes cells as text sees: the error as Excel shows it, nothing for a formula."""
        return self.text if self.kind == ERROR else ""


class _SheetParser(WorkSheetParser):
    """openpyxl's worksheet parser (read-only mode's own), with each value turned into `_cell_text` as it is
    parsed, and the two facts its values lose kept as CellProblem: a cell is an error (data type "e", which a
    values-only read gives as plain text), or it has a formula and no cached value (which it gives as None)."""

    def parse_cell(self, element: Any) -> dict[str, Any]:
        cell = super().parse_cell(element)
        value = cell["value"]
        if cell["data_type"] == "e":
            cell["value"] = CellProblem(ERROR, "" if value is None else str(value))
        elif value is not None:
            cell["value"] = _cell_text(value)
        elif (formula := element.find(FORMULA_TAG)) is not None and (
            cell["data_type"] != "str" or element.find(VALUE_TAG) is None
        ):
            # No cached value: no <v>, or an empty one as openpyxl writes it. An empty text that a formula gave
            # (=IF(A2="";"";…)) is cached as t="str" with an empty <v>, and is an empty cell.
            cell["value"] = CellProblem(UNCALCULATED, f"={formula.text}" if formula.text else "")
        else:
            cell["value"] = ""
        return cell


def _sheet_rows(sheet: Any, *, max_merged: int) -> Iterator[tuple[int, list[object]]]:
    """(row number, cells) for every physical row of a read-only sheet, up to the last row it holds.

    What `sheet.iter_rows(values_only=True)` gives after `reset_dimensions()` (missing rows are empty, a row is
    as long as its last cell; the <dimension> tag, which some programs get wrong, is not trusted), but through
    `_SheetParser`, and with merged cells as the user sees them (`_MergedAreas`). openpyxl offers no public way to
    give a read-only sheet another parser, so this uses its internals (openpyxl is pinned; the workbook tests fail
    if they change)."""
    workbook = sheet.parent
    merged = _MergedAreas.of(sheet, max_merged=max_merged)
    expected = 1
    with sheet._get_source() as source:
        parser = _SheetParser(
            source, sheet._shared_strings, data_only=True, epoch=workbook.epoch,
            date_formats=workbook._date_formats, timedelta_formats=workbook._timedelta_formats,
        )  # fmt: skip
        for number, cells in parser.parse():
            if number < expected:  # a row given twice, or out of order: openpyxl skips it too
                continue
            while expected < number:
                yield expected, merged.fill(expected, []) if merged else []
                expected += 1
            expected = number + 1
            if not cells:
                yield number, merged.fill(number, []) if merged else []
                continue
            values: list[object] = [""] * cells[-1]["column"]
            try:
                for cell in cells:
                    values[cell["column"] - 1] = cell["value"]
            except IndexError:  # cells out of order: the row is as long as its rightmost cell
                values = [""] * max(cell["column"] for cell in cells)
                for cell in cells:
                    values[cell["column"] - 1] = cell["value"]
            yield number, merged.fill(number, values) if merged else values


# A merged area in the sheet's XML: <mergeCell ref="A2:A3"/> inside <mergeCells>, after the rows (any namespace
# prefix). Only the ref of a mergeCell element counts: hyperlinks and other parts carry refs of their own.
_MERGE_CELL = re.compile(
    rb"""<(?:[\w.-]+:)?mergeCell\b[^>]*?\sref\s*=\s*["']([A-Za-z]{1,3}[0-9]{1,7}(?::[A-Za-z]{1,3}[0-9]{1,7})?)["']"""
)
_MERGE_TAIL = 1024  # bytes kept from one chunk to the next: a mergeCell element cut in two by the chunking
# An area packed into one integer (rows up to 2**21, Excel's 1,048,576; columns clipped to 255): 8 bytes each.
_ROW_BITS, _COLUMN_BITS = 21, 8
_MAX_MERGED_COLUMN = min(MAX_COLUMNS + 1, (1 << _COLUMN_BITS) - 1)  # one past the widest header: still "too wide"


class _MergedAreas:
    """The sheet's merged areas, so a merged area reads as its value in every cell it covers, as the user sees it.

    People merge an order's key and order cells down over its cargo lines: Excel shows PO-1 once, spanning rows 2
    and 3, and stores it in A2 only. openpyxl's read-only reader skips <mergeCells>, which follows the rows in the
    sheet's XML, so the areas are read first, in one streamed pass over the sheet's XML that looks for them only
    in chunks that name a mergeCell (a sheet without merges costs a decompression and a byte search), and kept
    packed, 8 bytes an area. A row that holds nothing of its own stays blank: a spacer row caught in a merge is
    not a cargo line."""

    def __init__(self, packed: array[int]) -> None:
        self._packed = packed  # sorted: by first row, as the rows come
        self._next = 0
        self._active: list[tuple[int, int, int, object]] = []  # (first column, last column, last row, value)

    def __bool__(self) -> bool:
        return bool(self._packed)

    @classmethod
    def of(cls, sheet: Any, *, max_merged: int) -> _MergedAreas:
        areas: list[int] = []
        with sheet._get_source() as source:
            tail = b""
            while chunk := source.read(CHUNK):
                window = tail + chunk
                if b"mergeCell" not in window:
                    tail = window[-_MERGE_TAIL:]
                    continue
                end = 0
                for match in _MERGE_CELL.finditer(window):
                    end = match.end()
                    area = _packed_area(match.group(1))
                    if area is not None:
                        areas.append(area)
                if len(areas) > max_merged:
                    raise ImportFileError(
                        f"The sheet has more than {max_merged:,} merged areas: unmerge its cells (select the sheet, "
                        "then Merge & Center › Unmerge Cells) and upload it again."
                    )
                tail = window[max(end, len(window) - _MERGE_TAIL) :]
        return cls(array("q", sorted(areas)))

    def fill(self, number: int, values: list[object]) -> list[object]:
        """The row with each merged area that covers it holding the area's value (its top-left cell's)."""
        if self._active:
            self._active = [area for area in self._active if area[2] >= number]
        packed = self._packed
        while self._next < len(packed) and packed[self._next] >> (2 * _COLUMN_BITS + _ROW_BITS) <= number:
            area = packed[self._next]
            self._next += 1
            first_row = area >> (2 * _COLUMN_BITS + _ROW_BITS)
            last_row = (area >> (2 * _COLUMN_BITS)) & ((1 << _ROW_BITS) - 1)
            first_column = (area >> _COLUMN_BITS) & ((1 << _COLUMN_BITS) - 1)
            last_column = area & ((1 << _COLUMN_BITS) - 1)
            if last_row < number:
                continue  # an area of rows this sheet never reached
            value = values[first_column - 1] if first_row == number and first_column <= len(values) else ""
            self._active.append((first_column, last_column, last_row, value))
        if not self._active or all(cell == "" for cell in values):
            return values
        for first_column, last_column, _last_row, value in self._active:
            if last_column > len(values):
                values.extend([""] * (last_column - len(values)))
            values[first_column - 1 : last_column] = [value] * (last_column - first_column + 1)
        return values


def _packed_area(ref: bytes) -> int | None:
    """'A2:C3' as one integer (first row, last row, first column, last column), sorting by first row; None for a
    single cell (nothing to copy) or an area wholly right of any header."""
    try:
        first_column, first_row, last_column, last_row = range_boundaries(ref.decode("ascii").upper())
    except (ValueError, TypeError):
        return None
    if first_column is None or first_row is None or last_column is None or last_row is None:
        return None
    if (first_column, first_row) == (last_column, last_row) or first_column > _MAX_MERGED_COLUMN:
        return None
    if last_row >= 1 << _ROW_BITS:
        last_row = (1 << _ROW_BITS) - 1
    last_column = min(last_column, _MAX_MERGED_COLUMN)
    return (
        first_row << (2 * _COLUMN_BITS + _ROW_BITS)
        | last_row << (2 * _COLUMN_BITS)
        | first_column << _COLUMN_BITS
        | last_column
    )


def orders_sheet(sheets: Sequence[Any]) -> Any:
    """The sheet the orders are read from: the workbook's first visible sheet, the leftmost tab the user sees.
    Workbooks often keep their drop-down lists (modes, incoterms) on a hidden sheet, first or not. The active sheet
    is not taken: it is whichever tab was open when the file was saved. A workbook whose sheets are all hidden
    (Excel never saves one) is read from its first sheet. `sheets` have a `sheet_state` (openpyxl's, or
    writes._WorkbookSheet)."""
    return next((sheet for sheet in sheets if sheet.sheet_state == "visible"), sheets[0] if sheets else None)


def _xlsx_rows(opener: Opener, info: FileInfo, limits: Limits) -> Iterator[tuple[int, list[object]]]:
    if not openpyxl.DEFUSEDXML:
        # openpyxl falls back to the stdlib parser without defusedxml, which expands XML entities.
        raise ImproperlyConfigured("defusedxml must be installed (and OPENPYXL_DEFUSEDXML not False) to read XLSX.")
    with opener() as stream:
        _check_zip(stream, limits)
        stream.seek(0)
        # A damaged or hand-made workbook can make openpyxl raise almost anything (ParseError, zlib.error,
        # IndexError, TypeError...): whatever the parser raises on the upload is the upload's fault, and the
        # user gets a file error, never a 500. The consumer's own exceptions never pass through a generator's
        # body, so these handlers only see openpyxl's.
        try:
            workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
            sheet = orders_sheet(workbook.worksheets)
        except Exception as exc:
            if _caused_by_entities(exc):  # openpyxl wraps defusedxml's refusal in a ValueError
                raise ImportFileError("The workbook contains XML entity declarations, which we refuse.") from exc
            logger.info("Unreadable workbook: %r", exc)
            raise ImportFileError("This is not a readable XLSX workbook: save it again from Excel or as CSV.") from exc
        try:
            if sheet is None:
                raise ImportFileError("The workbook has no worksheet: put the orders on its first sheet.")
            max_merged = 10 * limits.max_rows
            # Blank rows are skipped by iter_rows, but a sheet of a million empty formatted rows must not keep
            # a worker busy: physical rows are capped too.
            physical_cap = 2 * limits.max_rows + 1000
            number = 0
            try:
                for number, values in _sheet_rows(sheet, max_merged=max_merged):
                    if number > physical_cap:
                        raise ImportFileError(
                            f"The sheet has more than {physical_cap:,} rows (many may be empty formatted rows): "
                            "copy the data into a new sheet.",
                            row=number,
                        )
                    yield number, values
            except ImportFileError:
                raise
            except Exception as exc:
                if _caused_by_entities(exc):
                    raise ImportFileError("The workbook contains XML entity declarations, which we refuse.") from exc
                logger.info("Unreadable workbook row %d: %r", number + 1, exc)
                raise ImportFileError("This row of the workbook cannot be read.", row=number + 1) from exc
        finally:
            workbook.close()


# How the rows of a workbook are kept once read: CSV in UTF-8 with commas (see spool_xlsx).
SPOOL_INFO = FileInfo(format="csv", encoding="utf-8", delimiter=",", from_workbook=True)
# A CellProblem in the rows copy: NUL, then E (error) or F (formula never calculated), then its text. No cell of a
# workbook can hold NUL (XML cannot carry it, not even as &#0;, and openpyxl decodes no _x0000_ in cells), and a CSV
# upload holding one is refused (_text_encoding), so the mark is read only where spool_xlsx wrote it.
_MARK = "\x00"
_MARK_OF = {ERROR: _MARK + "E", UNCALCULATED: _MARK + "F"}
_KIND_OF = {mark: kind for kind, mark in _MARK_OF.items()}


def _spooled(cell: object) -> object:
    if isinstance(cell, CellProblem):
        return _MARK_OF[cell.kind] + cell.text
    if isinstance(cell, datetime.date | datetime.time):
        return cell.isoformat()
    return cell


def _unspooled(cell: str) -> object:
    kind = _KIND_OF.get(cell[:2])
    return CellProblem(kind, cell[2:]) if kind else cell


def spool_xlsx(
    opener: Opener, info: FileInfo, limits: Limits, out: IO[str], *, progress: Callable[[int], None] | None = None
) -> int:
    """Write every physical row of the workbook's orders sheet (`orders_sheet`) to `out` as CSV (SPOOL_INFO), and
    return the count.

    openpyxl reads about 100,000 cells a second: a 100,000-row workbook takes half a minute a pass, and a
    check reads a file twice, an import twice more. The passes read this copy instead, at CSV speed, and see
    exactly what they would have seen in the workbook: one record per sheet row, blank rows included (so the
    row numbers in errors stay the sheet's), each cell as `_cell_text` gives it, dates and times in ISO form
    (which the validation reads as it reads the date cells themselves), error cells and formulas never
    calculated as CellProblem (marked, see _MARK). The workbook's own problems (entities, bombs, damaged rows,
    too many physical rows) are raised here as ImportFileError, as on any read."""
    # "\r\n" ends each record: the csv module quotes a value holding any character of the line terminator, and a
    # cell may hold a lone carriage return (&#13;), which the reader would otherwise take for the end of the row.
    writer = csv.writer(out, lineterminator="\r\n")
    number = 0
    for number, cells in _xlsx_rows(opener, info, limits):
        writer.writerow([cell if cell.__class__ is str else _spooled(cell) for cell in cells])
        if progress is not None and not number % 1000:
            progress(number)
    return number


def _caused_by_entities(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, defusedxml.DefusedXmlException):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _check_zip(stream: IO[bytes], limits: Limits) -> None:
    try:
        members = zipfile.ZipFile(stream).infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ImportFileError("This is not a readable XLSX workbook (the zip container is damaged).") from exc
    names = {member.filename for member in members}
    if "xl/workbook.xml" not in names:
        raise ImportFileError("This zip file is not an XLSX workbook: upload the CSV or XLSX file itself.")
    unpacked = sum(member.file_size for member in members)
    if unpacked > limits.max_xlsx_unpacked_bytes:
        raise ImportFileError(
            f"The workbook unpacks to {unpacked / 1e6:.0f} MB; the limit is "
            f"{limits.max_xlsx_unpacked_bytes / 1e6:.0f} MB. Save the data as CSV or split it."
        )
    for member in members:
        if member.file_size > CHUNK and member.file_size > XLSX_MAX_RATIO * max(member.compress_size, 1):
            raise ImportFileError("The workbook is compressed suspiciously well (a zip bomb?); it was refused.")


def _cell_text(value: object) -> object:
    """Spreadsheet cells as the text a person typed; dates stay dates for the validation layer."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _number_text(value)
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        return value.date() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, datetime.date | datetime.time):
        return value
    return str(value)


def _number_text(value: float) -> str:
    """A number cell as Excel shows it: 15 significant digits, Excel's precision, written out in full.

    Excel stores the double of what it computed, =12.1*3 as 36.300000000000004, and shows 36.3; repr() would
    hand the validation 17 digits ("at most 3 decimal places"). 1001.0 is the integer 1001 a person typed, and
    neither 1e+20 nor 1e-05 is a way a person writes a number."""
    text = format(value, ".15g")
    if "e" in text:
        text = format(Decimal(text), "f")
    return "0" if text == "-0" else text
