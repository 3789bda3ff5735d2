"""Loading UN/LOCODE files into the Location table, and finding airports by the IATA code UN/LOCODE leaves out."""

from __future__ import annotations

import importlib

import pytest
from django.core.management import call_command
from django.db import connection

from orders import selectors
from orders.models import Location
from tests.orders.fixtures.intake import errors_for

# A row as UNECE publishes it in "loc<yy><n>csv.zip" (CodeListPart1.csv): Function before Status.
OFFICIAL_ROWS = (
    ',"DE",,".GERMANY",,,,,,,,\r\n'
    ',"DE","HAM","Hamburg","Hamburg","HH","12345---","AI","0701",,"5332N 00959E",\r\n'
    ',"US","JFK","John F. Kennedy Apt/New York","John F. Kennedy Apt/New York","NY","---4----","AI",,,'
    '"4038N 07347W",\r\n'
    ',"US","LUI","Louisville","Louisville","KY","1234----","AI",,"SDF","3815N 08546W",\r\n'
    ',"DE","DUI","Duisburg","Duisburg","NW","123--6--","RL",,,"5126N 00646E",\r\n'
    ',"GB","2BR","Bristol Filton Apt","Bristol Filton Apt",,"---4----","RL",,,,\r\n'
)  # fmt: skip


def test_import_unlocode_loads_an_official_unece_file(db, tmp_path):
    path = tmp_path / "2024-2 UNLOCODE CodeListPart1.csv"
    path.write_bytes(OFFICIAL_ROWS.encode("cp1252"))

    call_command("import_unlocode", str(path))

    hamburg = Location.objects.get(code="DEHAM")
    assert set(hamburg.functions) == {"port", "rail", "road", "airport", "postal"}
    assert (hamburg.latitude is not None, hamburg.is_active) == (True, True)


def test_an_airport_without_an_iata_column_is_stored_with_its_location_part_as_iata(db, tmp_path):
    path = tmp_path / "CodeListPart1.csv"
    path.write_bytes(OFFICIAL_ROWS.encode("cp1252"))

    call_command("import_unlocode", str(path))

    iata = dict(Location.objects.values_list("code", "iata"))
    assert iata == {
        "DEHAM": "HAM",  # a city with an airport
        "USJFK": "JFK",  # the airport itself
        "USLUI": "SDF",  # the column names a different code: kept
        "DEDUI": "",  # no airport
        "GB2BR": "",  # IATA codes have no digits
    }


@pytest.mark.parametrize(("query", "code"), [("JFK", "USJFK"), ("LHR", "GBLHR"), ("CDG", "FRCDG")])
def test_location_picker_finds_an_airport_by_its_iata_code_equal_to_its_locode_suffix(locations, query, code):
    # UN/LOCODE's IATA column is filled only when the IATA code differs from the location part of the code.
    found = [loc.code for loc in selectors.location_search(query=query)]
    assert found[0] == code


def test_a_place_written_as_an_airports_iata_code_is_answered_with_its_unlocode(order_data, staff_scope):
    errors = errors_for(order_data(destination="jfk"), staff_scope)
    assert errors["destination"][0].endswith(
        "JFK is the IATA code of John F. Kennedy Apt/New York, whose UN/LOCODE is USJFK."
    )


def test_the_migration_fills_the_iata_code_of_airports_imported_before(locations):
    Location.objects.filter(code__in=["USJFK", "GBLHR", "DEHAM", "DEDUI"]).update(iata="")
    Location.objects.create(code="GB2BR", country="GB", name="Bristol Filton Apt", functions=["airport"])
    migration = importlib.import_module("orders.migrations.0012_airport_iata_codes")

    with connection.cursor() as cursor:
        cursor.execute(migration.FILL)

    iata = dict(Location.objects.filter(code__in=["USJFK", "GBLHR", "DEHAM", "DEDUI", "GB2BR", "USLUI"]).values_list(
        "code", "iata"
    ))  # fmt: skip
    assert iata == {"USJFK": "JFK", "GBLHR": "LHR", "DEHAM": "HAM", "DEDUI": "", "GB2BR": "", "USLUI": "SDF"}
