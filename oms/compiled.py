"""Queries that run on every request or every transition, compiled to SQL once per process.

Django compiles a queryset to SQL each time it is evaluated, and builds model instances through its
compiler's column mapping. For the few queries that run all the time, that costs more CPU than PostgreSQL
spends running them. Measured on our 2-core machines, CPU per call, 500 calls each:

- the signed-in person with their memberships (partners.backends, every request): 2.96 → 0.22 ms;
- the navigation badges (workflows.selectors.nav_counts, every staff page): 3.33 → 0.2 ms;
- an order for the lifecycle's lock and the workflow's event (orders.lifecycle, workflows engine):
  0.8 → 0.3 ms (45 columns).

`compile_once` builds the queryset with a marker in the place of the one value that changes from call to call,
and keeps its SQL and parameters: the queryset stays the one definition of the query, and nothing is written
twice. `model_columns` and `model_from_row` read and build a model's row as the ORM does (its columns in field
order, each field's `from_db_value`), for statements written out by hand.

Only for statements whose shape never changes; everything else goes through the ORM as usual.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)

# Stands for the varying value while the queryset is compiled: an id no row has, unlike any constant a query
# would carry. compile_once checks that it lands in exactly one parameter.
MARKER = -7_919_191_919


@dataclass(frozen=True)
class CompiledQuery:
    sql: str
    params: tuple[Any, ...]
    position: int  # where the varying value goes in params

    def first_row(self, value: Any) -> tuple[Any, ...] | None:
        """Run it for `value`; its first row, or None."""
        with connection.cursor() as cursor:
            cursor.execute(self.sql, self._params(value))
            return cursor.fetchone()

    def first_dict(self, value: Any) -> dict[str, Any] | None:
        """Run it for `value`; its first row by column name (the names `values()` gave), or None."""
        with connection.cursor() as cursor:
            cursor.execute(self.sql, self._params(value))
            row = cursor.fetchone()
            return (
                None
                if row is None
                else {column.name: cell for column, cell in zip(cursor.description, row, strict=True)}
            )

    def _params(self, value: Any) -> list[Any]:
        params = list(self.params)
        params[self.position] = value
        return params


def compile_once(build: Callable[[Any], models.QuerySet[Any, Any]]) -> CompiledQuery:
    """Compile `build(MARKER)` and remember where MARKER went. Cache the result per process (functools.cache
    on a function of no arguments that calls this)."""
    sql, params = build(MARKER).query.sql_with_params()
    positions = [index for index, param in enumerate(params) if param == MARKER]
    if len(positions) != 1:
        raise ValueError(f"The varying value must appear once in the query's parameters, not {len(positions)} times.")
    return CompiledQuery(sql=sql, params=tuple(params), position=positions[0])


@functools.cache
def model_columns(model: type[models.Model], alias: str = "") -> str:
    """The model's columns in field order, for a SELECT list (`alias.column` when an alias is given)."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{connection.ops.quote_name(str(f.column))}" for f in model._meta.concrete_fields)


@functools.cache
def _layout(model: type[models.Model]) -> tuple[list[str], list[tuple[int, list[Callable[..., Any]], Any]]]:
    fields = model._meta.concrete_fields
    converters = [
        (index, found, field.get_col(model._meta.db_table))
        for index, field in enumerate(fields)
        if (found := field.get_db_converters(connection))
    ]
    return [f.attname for f in fields], converters


def model_width(model: type[models.Model]) -> int:
    """How many values of a row `model_from_row` takes (the rest are the caller's extra columns)."""
    return len(_layout(model)[0])


def model_from_row(model: type[M], values: Sequence[Any]) -> M:
    """An instance of `model` from the first model_width(model) values of a row selected with model_columns()."""
    names, converters = _layout(model)
    row = list(values[: len(names)])
    for index, functions, expression in converters:
        for convert in functions:
            row[index] = convert(row[index], expression, connection)
    return model.from_db(connection.alias, names, row)
