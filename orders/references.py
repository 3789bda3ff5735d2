"""Order references we issue: <branch>-<yy>-<serial>, e.g. HAM-26-000123.

Each branch and year has its own PostgreSQL sequence. `nextval` never blocks another transaction and
is never rolled back, so references are unique and increasing but may have gaps (an order that failed
validation late, or a rolled-back import, leaves its number unused). A counter row would avoid gaps
only by serialising every order creation of a branch until commit, which a 100,000-row import cannot
afford.

The customer's own reference names one of its orders whatever its case: `customer_reference_key`.
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
    """`count` new references for the branch and year, in increasing order: one round trip, whatever the count.

    A missing sequence (the branch's first order of the year) yields no rows rather than an error, then is
    created. Not by catching the error: a caught database error ties the caller's frames into a reference
    cycle, which keeps a whole file's orders alive for the cycle collector, paused during imports."""
    name = _sequence_name(branch_code, year)
    sql = "SELECT nextval(s.seq) FROM (SELECT to_regclass(%s) AS seq) s, generate_series(1, %s) WHERE s.seq IS NOT NULL"
    with connection.cursor() as cursor:
        cursor.execute(sql, [name, count])
        serials = [row[0] for row in cursor.fetchall()]
        if len(serials) < count:
            _ensure_sequence(name)
            cursor.execute(sql, [name, count])
            serials = [row[0] for row in cursor.fetchall()]
    return [f"{branch_code}-{year % 100:02d}-{serial:06d}" for serial in sorted(serials)]


def customer_reference_key(reference: str) -> str:
    """A customer's reference as the duplicate rule compares it: without case ("po-123" is "PO-123"), as the unique
    index on (customer, UPPER(customer_reference)) does. Python's upper() folds what PostgreSQL's does for the letters
    references are written in, and a little more ("ß" becomes "SS"): a file's rows it keeps apart are two orders to the
    index too."""
    return reference.upper()
