"""Order references we issue: <branch>-<yy>-<serial>, e.g. HAM-26-000123.

Each branch and year has its own PostgreSQL sequence. `nextval` never blocks another transaction and
is never rolled back, so references are unique and increasing but may have gaps (an order that failed
validation late, or a rolled-back import, leaves its number unused). A counter row would avoid gaps
only by serialising every order creation of a branch until commit, which a 100,000-row import cannot
afford.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.utils import IntegrityError, ProgrammingError


def _sequence_name(branch_code: str, year: int) -> str:
    if not branch_code.isalnum():
        raise ValueError(f"Unexpected branch code {branch_code!r}")
    return f"order_ref_{branch_code.lower()}_{year % 100:02d}"


def _ensure_sequence(name: str) -> None:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"CREATE SEQUENCE IF NOT EXISTS {name}")
    except (IntegrityError, ProgrammingError):
        pass  # created by a concurrent transaction just now


def issue_references(*, branch_code: str, year: int, count: int = 1) -> list[str]:
    """`count` new references for the branch and year, in increasing order."""
    name = _sequence_name(branch_code, year)
    sql = f"SELECT nextval('{name}') FROM generate_series(1, %s)"  # noqa: S608 - name built from [a-z0-9_]
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [count])
            serials = [row[0] for row in cursor.fetchall()]
    except ProgrammingError:
        _ensure_sequence(name)
        with connection.cursor() as cursor:
            cursor.execute(sql, [count])
            serials = [row[0] for row in cursor.fetchall()]
    return [f"{branch_code}-{year % 100:02d}-{serial:06d}" for serial in sorted(serials)]
