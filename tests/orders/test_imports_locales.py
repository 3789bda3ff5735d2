"""Order files as people's spreadsheet programs save them in their own locale: what the file says in its own
conventions is read, where those conventions have one reading."""

from __future__ import annotations

import datetime

from orders.imports import service
from orders.models import Order
from tests.orders.fixtures.imports import COLUMNS, csv_bytes, errors_of, import_file, order_row, world

__all__ = ["world"]


def test_a_german_excel_csv_is_read_dates_and_all(world):
    """The CSV template round-tripped through Excel on a German locale: Windows-1252, semicolons, decimal commas, and
    every date cell written 14.12.2026 (day.month.year: the only reading of a dotted date). Review E, 3: every row
    was refused for its date."""
    row = order_row("PO-DE-1", shipper_name="Müller Maschinenbau GmbH", gross_weight_kg="120,5",
                    requested_pickup_on="14.12.2026", requested_delivery_on="4.1.2027")  # fmt: skip
    columns = [*COLUMNS, "requested_delivery_on"]
    content = csv_bytes([row], columns=columns, delimiter=";", encoding="cp1252")
    job = import_file(world["ops"], content, name="Aufträge.csv")

    assert (job.encoding, job.delimiter) == ("cp1252", ";")
    assert errors_of(job) == []
    service.import_job_confirm(job=job, by=world["ops"], mode="all_or_nothing")
    order = Order.objects.get(customer_reference="PO-DE-1")
    assert (order.requested_pickup_on, order.requested_delivery_on) == (datetime.date(2026, 12, 14),
                                                                        datetime.date(2027, 1, 4))  # fmt: skip


def test_dates_with_two_readings_or_none_are_still_refused(world):
    """Slashes are month first in one country and day first in the next; a two-digit year has no century; 31.02 is
    no day."""
    texts = ("03/12/2026", "14.12.26", "31.02.2026", "14.12.2026 10:00")
    rows = [order_row(f"PO-{n}", requested_pickup_on=text) for n, text in enumerate(texts)]
    job = import_file(world["ops"], csv_bytes(rows))

    assert errors_of(job) == [
        (2, "requested_pickup_on", "03/12/2026 is not a date: use YYYY-MM-DD, e.g. 2026-12-01."),
        (3, "requested_pickup_on", "14.12.26 is not a date: use YYYY-MM-DD, e.g. 2026-12-01."),
        (4, "requested_pickup_on", "31.02.2026 is not a date: February 2026 has 28 days."),
        (5, "requested_pickup_on", "14.12.2026 10:00 is not a date: use YYYY-MM-DD, e.g. 2026-12-01."),
    ]


def test_a_date_written_the_right_way_that_does_not_exist_is_told_what_is_wrong_with_it(world):
    """Acceptance walk (h3): 2026-13-05 and 31.02.2026 were told "use YYYY-MM-DD, e.g. 2026-12-01" — the first was
    written so, the second in the dotted form the upload page offers. The user was told to fix what was right and
    not told what was wrong: the month, or the day."""
    texts = ("2026-13-05", "2026-00-10", "2027-02-29", "2028-02-30", "31.04.2026", "0.12.2026", "2026-12-00")
    rows = [order_row(f"PO-{n}", requested_pickup_on=text) for n, text in enumerate(texts)]
    job = import_file(world["ops"], csv_bytes(rows))

    assert errors_of(job) == [
        (2, "requested_pickup_on", "2026-13-05 is not a date: there is no month 13 (a year has 12)."),
        (3, "requested_pickup_on", "2026-00-10 is not a date: there is no month 0 (a year has 12)."),
        (4, "requested_pickup_on", "2027-02-29 is not a date: February 2027 has 28 days."),
        (5, "requested_pickup_on", "2028-02-30 is not a date: February 2028 has 29 days."),
        (6, "requested_pickup_on", "31.04.2026 is not a date: April 2026 has 30 days."),
        (7, "requested_pickup_on", "0.12.2026 is not a date: there is no day 0 (days count from 1)."),
        (8, "requested_pickup_on", "2026-12-00 is not a date: there is no day 0 (days count from 1)."),
    ]
