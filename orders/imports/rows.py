"""The rows of a file, streamed: (spreadsheet row number, cells), blank rows skipped, at most Limits.max_rows.

A CSV file (or the CSV copy of a workbook's rows, SPOOL_INFO) is read here with the csv module, strictly: an
unbalanced quote or a quoted value that swallowed whole rows is a file-level `ImportFileError` on the row at fault.
A workbook is read by workbooks.py. What the file is (format, encoding, delimiter) was found first (reading.detect).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import cast

from orders.imports.columns import ImportFileError
from orders.imports.reading import FileInfo, Limits, Opener
from orders.imports.workbooks import _MARK, _unspooled, _xlsx_rows


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
