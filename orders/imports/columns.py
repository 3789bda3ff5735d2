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

# Columns people try that OMS sets itself: refused with the reason instead of "unknown column".
FORBIDDEN_COLUMNS: dict[str, str] = {
    "status": "OMS sets the status: orders from a file are created submitted.",
    "state": "OMS sets the status: orders from a file are created submitted.",
    "reference": "OMS issues its own references; put yours in customer_reference.",
    "order_reference": "OMS issues its own references; put yours in customer_reference.",
    "id": "OMS numbers orders itself; put your order number in customer_reference.",
    "organisation": "Name the customer in customer_code.",
    "customer": "Name the customer in customer_code.",
    "customer_id": "Name the customer in customer_code.",
    "channel": "OMS records the channel itself (file).",
    "created_by": "OMS records who uploaded the file.",
    "submitted_at": "OMS sets the submission time.",
    "lines": "Give one row per cargo line instead.",
}
# Only our staff choose the handling branch (orders.intake says the same for each order).
STAFF_ONLY_COLUMNS: dict[str, str] = {"branch_code": "Only OMS staff choose the handling branch."}
MAX_COLUMNS = 200


class ImportFileError(OrderError):
    """The file as a whole cannot be imported; `row` is the spreadsheet row at fault, when there is one."""

    def __init__(self, message: str, *, row: int | None = None) -> None:
        self.row = row
        super().__init__(f"Row {row}: {message}" if row else message)


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
        raise ImportFileError(
            "The first row is blank: the column names must be in the first row. Delete any blank rows above them, "
            "or start from the template.",
            row=1,
        )
    if len(names) > MAX_COLUMNS:
        raise ImportFileError(f"The file has {len(names)} columns; an order file has at most {MAX_COLUMNS}.", row=1)
    problems: list[str] = []
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if not name:
            problems.append(f"column {position} has no name")
        elif name in seen:
            problems.append(f"{name} appears twice")
        elif name in FORBIDDEN_COLUMNS:
            problems.append(f"{name} cannot be set by a file: {FORBIDDEN_COLUMNS[name]}")
        elif name in STAFF_ONLY_COLUMNS and not is_staff:
            problems.append(f"{name} cannot be set: {STAFF_ONLY_COLUMNS[name]}")
        elif name not in ALL_COLUMNS:
            problems.append(f"{name} is not a column we know")
        seen.add(name)
    if "customer_reference" not in seen:
        problems.append("the customer_reference column is missing (it ties the rows of one order together)")
    if "customer_code" not in seen and not customer_implied:
        problems.append("the customer_code column is missing")
    if problems:
        listing = "; ".join(problems)
        raise ImportFileError(
            f"The header cannot be used: {listing}. The columns are those of the template: "
            f"{', '.join(TEMPLATE_COLUMNS)}.",
            row=1,
        )
    return names
