"""Loading UN/LOCODE code lists into the Location table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import BinaryIO

from django.db import transaction

from orders.locodes import LocodeParseStats, LocodeRow, parse_unlocode_csv
from orders.models import Location

DEMO_LOCODES = Path(__file__).resolve().parent / "data" / "unlocode_demo.csv"
BATCH = 2000


@dataclass
class ImportResult:
    written: int
    retired: int
    stats: LocodeParseStats


def _iata(row: LocodeRow) -> str:
    """The place's IATA code. UN/LOCODE fills its IATA column only when the code differs from the location part
    (USLUI: SDF), so an airport with an empty column has its location part as its code (USJFK: JFK, GBLHR: LHR).
    IATA codes are letters only: a location part with a digit is none. Migration orders/0012 fills the rows
    imported before."""
    if row.iata or "airport" not in row.functions or not row.location.isalpha():
        return row.iata
    return row.location


def _location(row: LocodeRow) -> Location:
    return Location(
        code=row.code, country=row.country, name=row.name[:100], name_ascii=(row.name_ascii or row.name)[:100],
        subdivision=row.subdivision[:3], functions=sorted(row.functions), iata=_iata(row)[:3],
        latitude=row.latitude, longitude=row.longitude, is_active=True,
    )  # fmt: skip


def _batches(rows: Iterable[LocodeRow]) -> Iterable[list[LocodeRow]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, BATCH)):
        yield batch


@transaction.atomic
def locations_import(*, stream: BinaryIO) -> ImportResult:
    """Insert or update every location of an official UN/LOCODE CSV; retire the codes it marks 'X'.

    All or nothing: a malformed row raises LocodeFormatError (with its line) and nothing is written.
    Memory stays bounded: rows are parsed as a stream and written in batches.
    """
    stats = LocodeParseStats()
    written = 0
    fields = [
        "country",
        "name",
        "name_ascii",
        "subdivision",
        "functions",
        "iata",
        "latitude",
        "longitude",
        "is_active",
    ]
    for batch in _batches(parse_unlocode_csv(stream, stats=stats, strict_coordinates=False)):
        Location.objects.bulk_create(
            [_location(row) for row in batch],
            update_conflicts=True,
            unique_fields=["code"],
            update_fields=fields,
        )
        written += len(batch)
    retired = Location.objects.filter(code__in=[code for _line, code in stats.removed]).update(is_active=False)
    return ImportResult(written=written, retired=retired, stats=stats)


def locations_load_demo() -> ImportResult:
    with DEMO_LOCODES.open("rb") as stream:
        return locations_import(stream=stream)
