"""django-import-export where it is good: the downloadable order-file templates, export formats that are
safe to open in a spreadsheet, and admin export of import jobs. The import itself takes the fast path
(orders.imports + orders.bulk): the library's per-row machinery runs at about 580 to 1,000 rows/s.

Formula injection (RELIABILITY §0.1, OWASP ASVS 5.0 1.2.10): a text cell that starts with = + - @, tab,
CR or NUL is prefixed with ' so a spreadsheet shows it instead of evaluating it. The library's own flag
only strips a leading "=", which both corrupts data and misses the other triggers, so it stays off and
these formats do the escaping. Numbers stay numbers: -12.5 is a value, not a formula, whether a number
cell or a text that is wholly a plain number ("-5", "-12,5"), which Excel would show with the apostrophe.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Any

import tablib
from import_export import fields, resources
from import_export.formats import base_formats

from orders.imports.columns import (
    TEMPLATE_COLUMNS,
    TEMPLATE_DATE_COLUMNS,
    TEMPLATE_EXAMPLE,
    TEMPLATE_NUMBER_COLUMNS,
    template_columns_for,
)
from orders.models import ImportJob, ImportRowError

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\x00")
# A negative number and nothing else (ASCII digits, a decimal point or comma): no spreadsheet evaluates it.
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:[.,][0-9]+)?")


def escape_formula(value: Any) -> Any:
    """The cell value a spreadsheet will show as text; numbers, dates, plain numbers written as text ("-5") and
    empty values unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _escaped(dataset: tablib.Dataset) -> tablib.Dataset:
    safe = tablib.Dataset(headers=[escape_formula(h) for h in dataset.headers or []], title=dataset.title)
    for row in dataset:
        safe.append([escape_formula(cell) for cell in row])
    return safe


class SafeCSV(base_formats.CSV):
    """CSV export with formula escaping; RFC 4180 quoting comes from the csv module."""

    def export_data(self, dataset: tablib.Dataset, **kwargs: Any) -> str:
        return "\ufeff" + super().export_data(_escaped(dataset), **kwargs)  # a BOM so Excel reads UTF-8


class SafeXLSX(base_formats.XLSX):
    """XLSX export with formula escaping (openpyxl would otherwise store "=..." as a live formula)."""

    def export_data(self, dataset: tablib.Dataset, **kwargs: Any) -> bytes:
        return super().export_data(_escaped(dataset), **kwargs)


SAFE_FORMATS = [SafeCSV, SafeXLSX]


class _TemplateMeta:
    export_order = TEMPLATE_COLUMNS


# The columns of an order file, in template order, declared from the vocabulary rather than typed twice.
OrderFileTemplateResource: type[resources.Resource] = type(
    "OrderFileTemplateResource",
    (resources.Resource,),
    {
        "__module__": __name__,
        "__doc__": "The columns of an order file; the example row shows one valid FCL order.",
        "Meta": _TemplateMeta,
        **{name: fields.Field(attribute=name, column_name=name) for name in TEMPLATE_COLUMNS},
    },
)


def order_file_template(*, file_format: str, for_customer: bool = False) -> tuple[bytes | str, str, str]:
    """(content, content type, file name) of the template with its example row; format "csv" or "xlsx".

    The workbook's sheet is named Orders, and its example holds numbers as numbers and the date as a date, as a
    person's own sheet does (text cells would be flagged "number stored as text"); the import reads both.
    A customer's template (the portal's) has the columns a customer may use, without customer_code: every order
    in a customer's file is theirs."""
    resource = OrderFileTemplateResource()
    dataset = resource.export(queryset=[_TemplateExample()])
    dataset.title = "Orders"
    if for_customer:
        for name in set(TEMPLATE_COLUMNS) - set(template_columns_for(is_staff=False)) | {"customer_code"}:
            del dataset[name]
    if file_format == "xlsx":
        dataset = _typed_example(dataset)
        fmt: base_formats.TablibFormat = SafeXLSX()
    else:
        fmt = SafeCSV()
    return fmt.export_data(dataset), fmt.get_content_type(), f"oms-orders-template.{fmt.get_extension()}"


class _TemplateExample:
    def __getattr__(self, name: str) -> str:
        if name in TEMPLATE_COLUMNS:
            return TEMPLATE_EXAMPLE.get(name, "")
        raise AttributeError(name)


def _typed_example(dataset: tablib.Dataset) -> tablib.Dataset:
    typed = tablib.Dataset(headers=dataset.headers, title=dataset.title)
    for row in dataset:
        typed.append([_example_cell(name, text) for name, text in zip(dataset.headers, row, strict=True)])
    return typed


def _example_cell(name: str, text: str) -> Any:
    if not text:
        return text
    if name in TEMPLATE_NUMBER_COLUMNS:
        number = Decimal(text)
        return int(number) if number == number.to_integral_value() else number
    if name in TEMPLATE_DATE_COLUMNS:
        return datetime.date.fromisoformat(text)
    return text


class ImportJobResource(resources.ModelResource):
    """Admin export of import jobs: who uploaded what, when, and what came of it."""

    created_by = fields.Field(attribute="created_by__email", column_name="created_by")
    customer = fields.Field(attribute="customer__code", column_name="customer")

    class Meta:
        model = ImportJob
        fields = (
            "id", "created_at", "created_by", "customer", "source", "file_name", "file_size", "mode", "dry_run",
            "status", "rows_total", "orders_total", "orders_valid", "orders_invalid", "orders_duplicate",
            "orders_created", "error_count", "file_error", "finished_at",
        )  # fmt: skip
        export_order = fields


class ImportRowErrorResource(resources.ModelResource):
    class Meta:
        model = ImportRowError
        fields = ("job", "row", "column", "value", "message", "customer_reference", "is_duplicate")
        export_order = fields
