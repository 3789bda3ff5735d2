"""The columns of an order file: the intake vocabulary flattened into one row per cargo line.

Order columns repeat on every row of an order (or are left blank after its first row); line columns
describe the row's own cargo line. `description` is the line's goods; the order's summary is the
description of its first row.
"""

from __future__ import annotations

import re

from orders.errors import OrderError
from orders.intake import LINE_FIELDS, ORDER_FIELDS

ORDER_COLUMNS: tuple[str, ...] = tuple(name for name in ORDER_FIELDS if name != "description")
LINE_COLUMNS: tuple[str, ...] = LINE_FIELDS
ALL_COLUMNS: tuple[str, ...] = ORDER_COLUMNS + LINE_COLUMNS
KEY_COLUMNS = ("customer_code", "customer_reference")

# The columns a template shows first, in the order people fill them in (issue 4).
TEMPLATE_COLUMNS: tuple[str, ...] = (
    "customer_code", "customer_reference", "mode", "incoterm", "origin", "destination", "shipper_name",
    "consignee_name", "pieces", "package_type", "gross_weight_kg", "volume_m3", "description",
    "requested_pickup_on", "requested_delivery_on", "service_level", "named_place", "hs_code",
    "container_number", "container_type", "seal_numbers", "awb_number", "declared_value", "currency",
    "branch_code", "origin_address", "destination_address", "shipper_address", "consignee_address",
    "notify_name", "notify_address", "special_instructions", "length_cm", "width_cm", "height_cm",
    "un_number", "dg_class", "packing_group",
)  # fmt: skip
TEMPLATE_EXAMPLE: dict[str, str] = {
    "customer_code": "ACME", "customer_reference": "PO-2026-0001", "mode": "ocean_fcl", "incoterm": "FOB",
    "origin": "CNSHA", "destination": "DEHAM", "shipper_name": "Shanghai Bright Lighting Co.",
    "consignee_name": "Nordwind Handel GmbH", "pieces": "40", "package_type": "CT", "gross_weight_kg": "8200",
    "volume_m3": "28.5", "description": "LED lamps", "requested_pickup_on": "2026-12-01",
    "service_level": "standard", "hs_code": "940542", "container_number": "CSQU3054383",
    "container_type": "45G1",
}  # fmt: skip

# The example's cells a workbook template holds as numbers and as a date (orders.resources); the rest is text.
TEMPLATE_NUMBER_COLUMNS = frozenset({
    "pieces", "gross_weight_kg", "volume_m3", "length_cm", "width_cm", "height_cm", "declared_value",
})  # fmt: skip
TEMPLATE_DATE_COLUMNS = frozenset({"requested_pickup_on", "requested_delivery_on"})

# Columns people try that OMS sets itself: refused with what to do and why, instead of "unknown column". Each is one
# sentence of the header's refusal, without its full stop.
_STATUS = "Delete the {name} column: OMS sets the status, and orders from a file are created submitted"
_REFERENCE = (
    "Delete the {name} column, or rename it customer_reference if it holds your own order numbers: OMS issues its own "
    "references"
)
_CUSTOMER = "Replace the {name} column with customer_code, holding the customer's code (e.g. ACME)"
FORBIDDEN_COLUMNS: dict[str, str] = {
    "status": _STATUS,
    "state": _STATUS,
    "reference": _REFERENCE,
    "order_reference": _REFERENCE,
    "id": _REFERENCE,
    "organisation": _CUSTOMER,
    "customer": _CUSTOMER,
    "customer_id": _CUSTOMER,
    "channel": "Delete the {name} column: OMS records the channel itself (file)",
    "created_by": "Delete the {name} column: OMS records who uploaded the file",
    "submitted_at": "Delete the {name} column: OMS sets the submission time",
    "lines": "Delete the {name} column, and give one row per cargo line instead",
}
# Only our staff choose the handling branch (orders.intake says the same for each order).
STAFF_ONLY_COLUMNS: dict[str, str] = {
    "branch_code": "{name} cannot be set in a customer's file: delete the {name} column (only OMS staff choose the "
    "handling branch)",
}
MAX_COLUMNS = 200


class ImportFileError(OrderError):
    """The file as a whole cannot be imported; `row` is the spreadsheet row at fault, when there is one.

    The message does not name the row: screens, the API and the error file show `row` in a column of its own."""

    def __init__(self, message: str, *, row: int | None = None) -> None:
        self.row = row
        super().__init__(message)


class HeaderError(ImportFileError):
    """The header row names columns that cannot be used (or lacks those that must be there)."""


def template_columns_for(*, is_staff: bool, customer_implied: bool = False) -> tuple[str, ...]:
    """The template's columns that this uploader may use. A customer's own file (the portal's template) leaves out
    customer_code too: every order in it is theirs, and the column stays allowed but is never asked for."""
    hidden = {"customer_code"} if customer_implied else set()
    if not is_staff:
        hidden.update(STAFF_ONLY_COLUMNS)
    return tuple(name for name in TEMPLATE_COLUMNS if name not in hidden)


def normalise_header(raw: object) -> str:
    """'Customer Reference ' → 'customer_reference': forgiving about case, spaces and dashes."""
    text = "" if raw is None else str(raw)
    text = text.replace("\ufeff", "").strip().lower()
    return re.sub(r"[\s\-]+", "_", text)


def check_header(cells: list[object], *, is_staff: bool, customer_implied: bool) -> list[str]:
    """The header's column names, or ImportFileError naming every column that cannot be used."""
    names = [normalise_header(cell) for cell in cells]
    while names and not names[-1]:
        names.pop()  # spreadsheets often carry empty trailing header cells
    if not names:
        raise HeaderError(
            "The first row is blank: the column names must be in the first row. Delete any blank rows above them, "
            "or start from the template.",
            row=1,
        )
    if len(names) > MAX_COLUMNS:
        raise HeaderError(f"The file has {len(names)} columns; an order file has at most {MAX_COLUMNS}.", row=1)
    problems: list[str] = []  # one sentence each, without its full stop
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if not name:
            problems.append(f"Column {position} has no name: name it after a column of the template, or delete it")
        elif name in seen:
            problems.append(f"{name} appears twice: delete one of the two columns")
        elif name in FORBIDDEN_COLUMNS:
            problems.append(FORBIDDEN_COLUMNS[name].format(name=name))
        elif name in STAFF_ONLY_COLUMNS and not is_staff:
            problems.append(STAFF_ONLY_COLUMNS[name].format(name=name))
        elif name not in ALL_COLUMNS:
            problems.append(f"{name} is not a column we know: rename it after a column of the template, or delete it")
        seen.add(name)
    if "customer_reference" not in seen:
        problems.append("Add the customer_reference column: it ties the rows of one order together")
    if "customer_code" not in seen and not customer_implied:
        problems.append("Add the customer_code column: it names each order's customer")
    if problems:
        sentences = "".join(f" {problem}." for problem in problems)
        raise HeaderError(
            f"The header cannot be used.{sentences} The columns you may use are those of the template: "
            f"{', '.join(template_columns_for(is_staff=is_staff, customer_implied=customer_implied))}.",
            row=1,
        )
    return names
