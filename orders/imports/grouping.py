"""Rows to orders: rows that share (customer_code, customer_reference) are the cargo lines of one order, a reference
in any case ("PO-7" and "po-7") as the duplicate rule compares it; the order keeps its first row's spelling.

Two streaming passes keep memory bounded by the orders still "open" rather than by the file:
`scan` checks the structure and notes the last row of every order; `iter_groups` then hands each order
over as soon as its last row has been read. `build_intake` turns a group into the intake vocabulary and
remembers which row gave which value, so `map_errors` can put every intake error back on its row.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from openpyxl.utils import get_column_letter

from orders.imports.columns import (
    KEY_COLUMNS,
    LINE_COLUMNS,
    ORDER_COLUMNS,
    TEMPLATE_EXAMPLE,
    ImportFileError,
    check_header,
)
from orders.imports.reading import FileInfo, Limits, Opener
from orders.imports.rows import LINE_BREAK, iter_rows
from orders.imports.workbooks import CellProblem
from orders.intake import currency_problem
from orders.intake_values import _REQUIRED, _date, _declared_value, _Errors
from orders.references import customer_reference_key

Key = tuple[str, str]
_LINE_ERROR = re.compile(r"^lines\[(\d+)\](?:\.(\w+))?$")
MAX_VALUE_LENGTH = 300


@dataclass(frozen=True)
class RowError:
    """One problem, where a person finds it in the spreadsheet (header = row 1; row None: the whole file)."""

    row: int | None
    column: str
    value: str
    message: str
    customer_reference: str = ""
    is_duplicate: bool = False


@dataclass
class Unnamed:
    """The rows of a reference that name no customer before any row of that reference names one."""

    first_row: int
    last_row: int
    rows: int = 1
    customers: list[str] = field(default_factory=list)  # those the reference's later rows name, in file order

    def said(self) -> str:
        """Where they are, for a message."""
        if self.rows == 1:
            return f"row {self.first_row}"
        return f"{self.rows} rows, from row {self.first_row} to row {self.last_row}"


@dataclass
class Scan:
    columns: list[str]  # the vocabulary's names, in the file's order
    header: list[str] = field(default_factory=list)  # the same columns as the file's header writes them
    rows_total: int = 0  # data rows, blank rows not counted
    last_row: dict[Key, int] = field(default_factory=dict)
    customer_codes: set[str] = field(default_factory=set)
    location_codes: set[str] = field(default_factory=set)
    # reference -> the one customer its rows name, for its rows that come before the first of them (_Keys)
    leading_customer: dict[str, str] = field(default_factory=dict)
    # reference -> such rows when its rows name several customers: they could be a line of any of those orders
    unnamed: dict[str, Unnamed] = field(default_factory=dict)

    @property
    def orders_total(self) -> int:
        return len(self.last_row)


@dataclass
class RowGroup:
    key: Key
    rows: list[tuple[int, list[object]]]
    unnamed: Unnamed | None = None  # rows of its reference that name no customer and could be its lines


@dataclass
class GroupIntake:
    data: dict[str, Any]
    first_row: int
    customer_reference: str
    order_rows: dict[str, int]
    line_rows: list[int]
    conflicts: list[RowError]
    # (row, column) of the conflicts that stand for validation's own error there (CellProblems, an unnamed customer)
    problem_cells: frozenset[tuple[int, str]] = frozenset()


class _Keys:
    """The order key of each row, read in file order (both passes read the same rows in the same order).

    A later line of an order may leave its order columns blank, customer_code included (a CSV saved from a sheet
    with merged cells has them so; a workbook's merged cells are read with their value in every cell, see
    workbooks._MergedAreas): a row with a reference but no customer code joins the order the last row with that
    reference belonged to. Before any row of its reference names a customer, such a row joins the order of the
    one customer the reference's rows name (`leading_customer`, from the scan); when they name several, it could
    be a line of any of their orders and stands apart (the scan's `unnamed`: it and those orders are refused). A
    row without a reference cannot be joined to others: it stands alone (and fails validation)."""

    def __init__(self, index: dict[str, int], implied_customer: str, leading_customer: dict[str, str]) -> None:
        self.code_at = index.get("customer_code")
        self.reference_at = index.get("customer_reference")
        self.implied_customer = implied_customer
        self.leading_customer = leading_customer
        self.last_code: dict[str, str] = {}  # reference -> customer code of its last row that gave one

    def __call__(self, cells: list[object], number: int) -> Key:
        reference = customer_reference_key(_text(_cell(cells, self.reference_at)))
        if not reference:
            return (self.implied_customer or _text(_cell(cells, self.code_at)).upper(), f"\x00row{number}")
        code = self.implied_customer or _text(_cell(cells, self.code_at)).upper()
        if code:
            self.last_code[reference] = code
        else:
            code = self.last_code.get(reference) or self.leading_customer.get(reference, "")
        return (code, reference)


def _written(cell: object) -> str:
    """A header cell as the user wrote it, for naming its column in errors ("Gross Weight KG")."""
    return " ".join(str(cell).replace("\ufeff", "").split())[:64]


def _cell(cells: list[object], position: int | None) -> object:
    if position is None or position >= len(cells):
        return ""
    return cells[position]


def _text(cell: object) -> str:
    """A key cell as text; an error cell, or a formula never calculated, names no order (its row stands alone)."""
    return "" if isinstance(cell, CellProblem) else str(cell).strip()


def _check_width(
    cells: list[object], columns: list[str], number: int, *, pad_short: bool, written: int
) -> list[object]:
    """The row's cells line up under the header's columns, or ImportFileError. Cells are taken by position: a value
    holding an unquoted delimiter ("Pumps, valves") pushes what follows into the next columns and the last value off
    the row. In a CSV a row wider than the header row (`written` cells, trailing empty ones included: a writer gives
    every row the header's width) is refused even when its extra cells are empty, since a cut row whose last value
    was empty ends in an empty cell; cells beyond the named columns that hold a value are refused in any file."""
    width = len(columns)
    wider = len(cells) > written and not pad_short
    if wider or (len(cells) > width and any(cell not in ("", None) for cell in cells[width:])):
        if pad_short:  # a spreadsheet has no delimiters: the cell is a note beside the table, or a column unnamed
            position = next(i for i in range(width, len(cells)) if cells[i] not in ("", None))
            raise ImportFileError(
                f"Cell {get_column_letter(position + 1)}{number} holds a value, but its column has no header: delete "
                "the value, or name the column in row 1.",
                row=number,
            )
        raise ImportFileError(
            _swallowed(cells, columns)
            or f"This row has {len(cells)} values but the header names only {width} columns: a value holds an "
            "unquoted delimiter (write such a value in double quotes), or a column has no header.",
            row=number,
        )
    if len(cells) < width and not pad_short:
        raise ImportFileError(
            _swallowed(cells, columns)
            or f"This row has {len(cells)} values but the header names {width} columns: a delimiter is "
            "missing (every row needs as many separators as the header).",
            row=number,
        )
    return cells


def _swallowed(cells: list[object], columns: list[str]) -> str | None:
    """Why a CSV row of the wrong width holds a line break, if it does. Only a quoted value can hold one, and in a
    row of the wrong width that is, far more often than a value written on two lines, a stray opening quote (a
    consignee typed "Meier) running on to the next quote in the file (a 12" pipe) and taking the lines between
    into one value: the quote is what to look for, not a missing delimiter. Spreadsheet cells hold line breaks of
    their own (Alt+Enter): never asked for their rows."""
    for position, cell in enumerate(cells):
        breaks = len(LINE_BREAK.findall(cell)) if isinstance(cell, str) else 0
        if breaks:
            named = position < len(columns)
            value = f"the {columns[position]} value" if named else f"the value in column {position + 1}"
            lines = "1 line" if breaks == 1 else f"{breaks} lines"
            return (
                f'A quote (") opens in {value} of this row and is closed only {lines} further down: everything up '
                "to that closing quote, line breaks included, was read as that one value, so this row has "
                f'{len(cells)} values where the header names {len(columns)}. Check this row for a stray " (a value '
                "that starts with a quote must end with one); if the line break belongs in the value, a delimiter is "
                "missing instead."
            )
    return None


def scan(opener: Opener, info: FileInfo, limits: Limits, *, is_staff: bool, implied_customer: str = "") -> Scan:
    """Pass 1: the header, the shape of every row, the last row of each order and the codes to preload."""
    rows = iter_rows(opener, info, limits)
    first = next(rows, None)
    if first is None:
        raise ImportFileError("The file is empty: its first row should hold the column names.", row=1)
    columns = check_header(first[1], is_staff=is_staff, customer_implied=bool(implied_customer))
    index = {name: position for position, name in enumerate(columns)}
    result = Scan(columns=columns, header=[_written(cell) for cell in first[1][: len(columns)]])
    location_positions = [index[name] for name in ("origin", "destination") if name in index]
    pad_short = info.pads_short_rows
    written = len(first[1])
    key_of = _Keys(index, implied_customer, leading_customer={})  # the scan is what finds them
    leading: dict[str, Unnamed] = {}  # reference -> its rows before the first that names a customer
    for number, cells in rows:
        _check_width(cells, columns, number, pad_short=pad_short, written=written)
        result.rows_total += 1
        customer, reference = key = key_of(cells, number)
        if customer:
            result.last_row[key] = number
            result.customer_codes.add(customer)
            if leading and reference in leading and customer not in (customers := leading[reference].customers):
                customers.append(customer)
        elif reference[0] == "\x00":  # no reference: the row stands alone
            result.last_row[key] = number
        elif reference in leading:
            waiting = leading[reference]
            waiting.last_row, waiting.rows = number, waiting.rows + 1
        else:
            leading[reference] = Unnamed(first_row=number, last_row=number)
        for position in location_positions:
            code = str(_cell(cells, position)).replace(" ", "").upper()
            if code:
                result.location_codes.add(code)
    if not result.rows_total:
        raise ImportFileError("The file has its header but no orders below it.", row=2)
    for reference, waiting in leading.items():
        if len(waiting.customers) == 1:  # the reference names one order in this file: they are its lines
            result.leading_customer[reference] = waiting.customers[0]
            continue
        result.last_row[("", reference)] = waiting.last_row  # an order of their own, refused for its customer
        if waiting.customers:
            result.unnamed[reference] = waiting
    return result


def iter_groups(
    opener: Opener, info: FileInfo, limits: Limits, scanned: Scan, *, implied_customer: str = ""
) -> Iterator[tuple[int, RowGroup]]:
    """Pass 2: (rows read so far, group) for each order, in the order their last rows appear."""
    index = {name: position for position, name in enumerate(scanned.columns)}
    open_groups: dict[Key, list[tuple[int, list[object]]]] = {}
    rows = iter_rows(opener, info, limits)
    next(rows, None)  # the header, checked by scan()
    width = len(scanned.columns)
    key_of = _Keys(index, implied_customer, scanned.leading_customer)
    unnamed = scanned.unnamed
    for done, (number, cells) in enumerate(rows, start=1):
        if len(cells) < width:  # a spreadsheet row ending in empty cells (scan refused short CSV rows)
            cells = [*cells, *[""] * (width - len(cells))]
        key = key_of(cells, number)
        group_rows = open_groups.setdefault(key, [])
        group_rows.append((number, cells))
        if scanned.last_row.get(key) == number:
            del open_groups[key]
            yield done, RowGroup(key=key, rows=group_rows, unnamed=unnamed.get(key[1]) if unnamed else None)
    if open_groups:  # the file changed between the passes
        raise ImportFileError("The file changed while it was being read; upload it again.")


def _same(a: object, b: object) -> bool:
    return str(a).strip().casefold() == str(b).strip().casefold()


def _read_alike(name: str, a: object, b: object, *, currency: object, points_may_group_thousands: bool) -> bool:
    """Whether two spellings of an order column are one value as intake reads it: "DE FRA" and "DEFRA", "1000" and
    "1000.00", 2026-12-01 and 01.12.2026. Asked only of texts that differ; a text intake refuses (or reads two ways)
    is no spelling of another value."""
    if name in _PLACE_COLUMNS:
        return _place(a) == _place(b)
    if name in _DATE_COLUMNS:
        errors = _Errors()
        day = _date(a, name, errors, required=False)
        return day is not None and day == _date(b, name, errors, required=False)
    if name == "declared_value":
        amount = _amount(a, currency, points_may_group_thousands)
        return amount is not None and amount == _amount(b, currency, points_may_group_thousands)
    return False


_PLACE_COLUMNS = frozenset({"origin", "destination"})
_DATE_COLUMNS = frozenset({"requested_pickup_on", "requested_delivery_on"})


def _place(value: object) -> str:
    """A UN/LOCODE as intake reads it: spaces dropped ("DE FRA" is DEFRA), upper case."""
    return str(value).strip().replace(" ", "").upper()


def _amount(value: object, currency: object, points_may_group_thousands: bool) -> Decimal | None:
    """The declared value intake keeps, or None when it refuses the text (with the order's currency, so that
    "150.000" yen, which intake refuses as reading two ways, is never taken for 150)."""
    errors = _Errors(points_may_group_thousands=points_may_group_thousands)
    amount = _declared_value(value, _known_currency(currency), errors)
    return None if errors.by_field else amount


def _known_currency(currency: object) -> str:
    """The order's currency as validate_order reads the declared value with it: "" when missing or unknown."""
    code = str(currency).strip().upper()
    return code if code and not currency_problem(code) else ""


@dataclass(frozen=True)
class Layout:
    """Where each vocabulary column sits in this file's rows, worked out once per file."""

    order: tuple[tuple[str, int], ...]
    line: tuple[tuple[str, int], ...]
    reference: int

    @classmethod
    def of(cls, columns: list[str]) -> Layout:
        return cls(
            order=tuple((name, i) for i, name in enumerate(columns) if name in ORDER_COLUMNS),
            line=tuple((name, i) for i, name in enumerate(columns) if name in LINE_COLUMNS),
            reference=columns.index("customer_reference"),
        )


def build_intake(group: RowGroup, layout: Layout, *, points_may_group_thousands: bool = False) -> GroupIntake:
    """The group in the intake vocabulary: order columns from the rows that give them, one line per row.
    Rows are as wide as the header (iter_groups pads short spreadsheet rows). `points_may_group_thousands`: as
    validate_order's, for telling two spellings of one number from two numbers."""
    first_row, first_cells = group.rows[0]
    reference = _text(first_cells[layout.reference])
    data: dict[str, Any] = {}
    order_rows: dict[str, int] = {}
    conflicts: list[RowError] = []
    problem_cells: set[tuple[int, str]] = set()
    lines: list[dict[str, object]] = []
    line_rows: list[int] = []
    for number, cells in group.rows:
        if CellProblem in map(type, cells):  # rare: a test at C speed before any work per cell
            cells = _without_problems(cells, number, layout, reference, conflicts, problem_cells)
        for name, position in layout.order:
            value = cells[position]
            if value == "":
                continue  # blank after the first row: the order's value applies
            if name not in data:
                data[name], order_rows[name] = value, number
            elif (
                value != data[name]
                and not _same(value, data[name])
                and not _read_alike(name, value, data[name], currency=data.get("currency", ""),
                                    points_may_group_thousands=points_may_group_thousands)
            ):  # fmt: skip
                conflicts.append(
                    RowError(
                        row=number,
                        column=name,
                        value=_shown(value),
                        message=f"Rows {order_rows[name]} and {number} are lines of order {reference} but give "
                        f"different {name}: “{_shown(data[name])}” and “{_shown(value)}”. Order columns must "
                        "agree on every row of an order (or be left blank after its first row).",
                        customer_reference=reference,
                    )
                )
        lines.append({name: value for name, position in layout.line if (value := cells[position]) != ""})
        line_rows.append(number)
    if reference == _EXAMPLE_REFERENCE:  # rare: one string comparison per order otherwise
        conflicts.extend(_example_rows(group, layout, reference))
    if group.unnamed is not None:  # rare: rows of its reference name no customer, and it has several
        conflicts.extend(_unnamed_customer(group, group.unnamed, reference))
        if not group.key[0]:
            problem_cells.update((number, "customer_code") for number, _ in group.rows)
    data["description"] = lines[0].get("description", "")
    data["lines"] = lines
    return GroupIntake(
        data=data,
        first_row=first_row,
        customer_reference=reference,
        order_rows=order_rows,
        line_rows=line_rows,
        conflicts=conflicts,
        problem_cells=frozenset(problem_cells),
    )


_EXAMPLE_REFERENCE = TEMPLATE_EXAMPLE["customer_reference"]
# The example's text columns (a spreadsheet may turn its numbers and date into other spellings of the same value).
_EXAMPLE_TEXT = {
    name: TEMPLATE_EXAMPLE[name]
    for name in ("customer_code", "customer_reference", "shipper_name", "consignee_name", "origin", "destination",
                 "description", "container_number")
}  # fmt: skip
_EXAMPLE_NAMED_BY = ("customer_reference", "shipper_name", "consignee_name")  # columns every order file has


def _example_rows(group: RowGroup, layout: Layout, reference: str) -> list[RowError]:
    """The template's example row left in the file: an error on its row, never an order for the example's customer.

    A row is the example when each of the example's text columns that the file has holds the example's value (a
    customer's file may leave customer_code out); a real order that merely shares its reference differs in its
    parties, places or cargo."""
    positions = dict((*layout.order, *layout.line))
    if not all(name in positions for name in _EXAMPLE_NAMED_BY):
        return []
    compared = [(positions[name], value) for name, value in _EXAMPLE_TEXT.items() if name in positions]
    return [
        RowError(
            row=number,
            column="customer_reference",
            value=reference,
            message="This is the template's example row: delete it, or replace its values with one of your orders.",
            customer_reference=reference,
        )
        for number, cells in group.rows
        if all(_same(cells[position], value) for position, value in compared)
    ]


def _unnamed_customer(group: RowGroup, unnamed: Unnamed, reference: str) -> list[RowError]:
    """Rows that name a reference but no customer, in a file holding that reference's orders for several customers:
    an error on each such row, and on the first row of each of those orders, none of which is imported without them
    (a corrected file would then find it a duplicate, and their lines could never be added)."""
    customers = _listed(unnamed.customers)
    if not group.key[0]:
        return [
            RowError(
                row=number,
                column="customer_code",
                value="",
                message=f"Write the customer's code on this row: this file has order {reference} for {customers}, "
                "and this row could be a line of any of them. None is imported until the row names its customer.",
                customer_reference=reference,
            )
            for number, _ in group.rows
        ]
    first_row = group.rows[0][0]
    return [
        RowError(
            row=first_row,
            column="customer_code",
            value=group.key[0],
            message=f"Order {reference} is also named without a customer_code ({unnamed.said()}), and this file has "
            f"order {reference} for {customers}: write the customer's code there. This order is not imported until "
            "then: they may be its lines.",
            customer_reference=reference,
        )
    ]


def _listed(codes: list[str]) -> str:
    return f"{', '.join(codes[:-1])} and {codes[-1]}" if len(codes) > 1 else "".join(codes)


def _without_problems(
    cells: list[object],
    number: int,
    layout: Layout,
    reference: str,
    conflicts: list[RowError],
    problem_cells: set[tuple[int, str]],
) -> list[object]:
    """The row with its CellProblems reported (as conflicts: the order is not imported) and left blank, so the
    validation neither reads them nor reports their columns a second time (map_errors leaves those out)."""
    for name, position in (*layout.order, *layout.line):
        cell = cells[position]
        if isinstance(cell, CellProblem):
            conflicts.append(
                RowError(row=number, column=name, value=_shown(cell.text), message=cell.message,
                         customer_reference=reference)
            )  # fmt: skip
            problem_cells.add((number, name))
    return ["" if isinstance(cell, CellProblem) else cell for cell in cells]


def _shown(value: object) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_VALUE_LENGTH else text[: MAX_VALUE_LENGTH - 1] + "…"


_KEYS = frozenset(KEY_COLUMNS)


def _order_columns_all_blank(errors: dict[str, list[str]], intake: GroupIntake) -> tuple[list[str], RowError | None]:
    """The order columns intake asked for, and one error in their place, when no row of the order fills in any order
    column: its rows read as an order's later lines, whose first row is missing or carries another reference. Eight
    times "This field is required." would point at the columns, not at the mistake."""
    if not set(intake.order_rows) <= _KEYS:
        return [], None
    required = [name for name in ORDER_COLUMNS if _REQUIRED in errors.get(name, ())]  # in the template's order
    if len(required) < 2:  # one blank column is told as such
        return [], None
    reference, row = intake.customer_reference, intake.first_row
    return required, RowError(
        row=row,
        column="customer_reference",
        value=_shown(reference),
        message=f"Order {reference} has none of its order columns filled in ({', '.join(required)}): its rows read "
        "as the later lines of an order. If the order's first row is in this file, its customer_reference differs "
        f"from {reference}; otherwise fill in the order columns on row {row}.",
        customer_reference=reference,
    )


def map_errors(errors: dict[str, list[str]], intake: GroupIntake) -> list[RowError]:
    """Intake errors (`field` or `lines[i].field`) as row errors on the row that carried the value, each once: a
    file's order description is its first line's, so intake's two checks of the one cell become one error."""
    mapped: list[RowError] = []
    seen: set[tuple[int, str, str]] = set()
    told_together, together = _order_columns_all_blank(errors, intake)
    if together is not None:
        mapped.append(together)
    for name, messages in errors.items():
        if name in told_together:
            messages = [message for message in messages if message != _REQUIRED]
        match = _LINE_ERROR.match(name)
        if match:
            position = int(match.group(1))
            column = match.group(2) or ""
            row = intake.line_rows[position] if position < len(intake.line_rows) else intake.first_row
            lines = intake.data.get("lines") or []
            value = lines[position].get(column, "") if column and position < len(lines) else ""
        elif name in ("lines", "non_field_errors"):
            row, column, value = intake.first_row, "", ""
        else:
            row = intake.order_rows.get(name, intake.first_row)
            column, value = name, intake.data.get(name, "")
        if (row, column) in intake.problem_cells:
            continue  # its cell was reported as what it is (an Excel error, a formula never calculated)
        for message in messages:
            if (row, column, message) not in seen:
                seen.add((row, column, message))
                mapped.append(RowError(row=row, column=column, value=_shown(value), message=message,
                                       customer_reference=intake.customer_reference))  # fmt: skip
    return mapped
