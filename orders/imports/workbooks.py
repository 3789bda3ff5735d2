"""XLSX workbooks: the rows of the orders sheet, and the CSV copy of them that every later pass reads.

A workbook is read with openpyxl in read-only mode, through its own worksheet parser (`_SheetParser`): each value
as the text a person typed, merged areas as the user sees them, error cells and formulas never calculated kept as
`CellProblem`. Zip and XML bombs, entities and damaged workbooks are a file-level `ImportFileError`, as in
reading.py. `spool_xlsx` writes the rows once as CSV (SPOOL_INFO); rows.py reads that copy back.
"""

from __future__ import annotations

import csv
import datetime
import logging
import re
import zipfile
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

import defusedxml
import openpyxl
from django.core.exceptions import ImproperlyConfigured
from openpyxl.utils.cell import range_boundaries
from openpyxl.worksheet._reader import FORMULA_TAG, VALUE_TAG, WorkSheetParser

from orders.imports.columns import MAX_COLUMNS, ImportFileError
from orders.imports.reading import CHUNK, FileInfo, Limits, Opener

logger = logging.getLogger(__name__)


XLSX_MAX_RATIO = 200  # a member that inflates more than this is a zip bomb, not a spreadsheet


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
