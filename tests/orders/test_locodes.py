"""The UN/LOCODE parser against the demo file and small hand-written samples (no database)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest

from orders.locodes import (
    LocodeFormatError,
    LocodeParseStats,
    LocodeRow,
    parse_coordinates,
    parse_unlocode_csv,
)

DEMO = Path(__file__).resolve().parents[2] / "orders" / "data" / "unlocode_demo.csv"

HEADER = ',"DE",,".GERMANY",,,,,,,,\r\n'
DUSSELDORF = ',"DE","DUS","Düsseldorf","Dusseldorf","NW","12345---","AI","0501",,"5114N 00647E",\r\n'


def parse(text: str, encoding: str = "utf-8", **options) -> list[LocodeRow]:
    return list(parse_unlocode_csv(io.BytesIO(text.encode(encoding)), **options))


@pytest.fixture(scope="module")
def demo() -> dict[str, LocodeRow]:
    with DEMO.open("rb") as stream:
        return {row.code: row for row in parse_unlocode_csv(stream)}


def test_demo_file_parses_completely(demo):
    stats = LocodeParseStats()
    with DEMO.open("rb") as stream:
        rows = list(parse_unlocode_csv(stream, stats=stats))
    assert len(rows) == len(demo) == 394  # every code once
    assert stats.rows == 394
    assert stats.country_headers == 86
    assert stats.removed == []
    assert all(row.latitude is not None and row.longitude is not None for row in rows)
    assert {row.status for row in rows} == {"AI", "RL"}


def test_demo_file_has_the_official_column_order():
    with DEMO.open(encoding="utf-8", newline="") as text:
        places = [fields for fields in csv.reader(text) if fields[2]]
    assert {(len(fields[6]), len(fields[7])) for fields in places} == {(8, 2)}  # Function, then Status


def test_hamburg_is_a_port_near_53_5_n_10_e(demo):
    hamburg = demo["DEHAM"]
    assert hamburg.country == "DE"
    assert hamburg.location == "HAM"
    assert hamburg.name == "Hamburg"
    assert hamburg.subdivision == "HH"
    assert "port" in hamburg.functions
    assert abs(hamburg.latitude - Decimal("53.5")) < Decimal("0.1")
    assert abs(hamburg.longitude - Decimal("10.0")) < Decimal("0.1")


def test_frankfurt_has_the_airport_function(demo):
    assert "airport" in demo["DEFRA"].functions
    assert demo["DEFRA"].name == "Frankfurt am Main"


def test_demo_file_covers_every_mode_and_continent(demo):
    for mode in ("port", "airport", "rail", "road", "postal", "border"):
        assert any(mode in row.functions for row in demo.values()), mode
    for code in ("CNSHA", "SGSIN", "NLRTM", "USLAX", "USMEM", "HKHKG", "DEDUI", "PLMAA", "MXMEX", "BRSSZ"):
        assert code in demo
    assert demo["USLUI"].iata == "SDF"
    assert demo["AUSYD"].latitude < 0  # southern hemisphere
    assert demo["USNYC"].longitude < 0  # western hemisphere


def test_cp1252_encoded_file_is_read():
    (row,) = parse(HEADER + DUSSELDORF, encoding="cp1252")
    assert row.name == "Düsseldorf"
    assert row.name_ascii == "Dusseldorf"
    assert row.date == "0501"


def test_demo_file_reencoded_in_cp1252_gives_the_same_rows(demo):
    reencoded = DEMO.read_text(encoding="utf-8").encode("cp1252")
    rows = list(parse_unlocode_csv(io.BytesIO(reencoded)))
    assert {row.code: row for row in rows} == demo


# A row as UNECE publishes it in "loc<yy><n>csv.zip" (CodeListPart1.csv): Change, Country, Location, Name,
# NameWoDiacritics, Subdivision, Function, Status, Date, IATA, Coordinates, Remarks -- Function BEFORE Status.
OFFICIAL_ROWS = (
    ',"DE",,".GERMANY",,,,,,,,\r\n'
    ',"DE","HAM","Hamburg","Hamburg","HH","12345---","AI","0701",,"5332N 00959E",\r\n'
)  # fmt: skip


def test_the_official_unece_csv_row_layout_is_read():
    (row,) = parse(OFFICIAL_ROWS)
    assert row.code == "DEHAM"
    assert {"port", "rail", "road", "airport", "postal"} <= row.functions
    assert (row.status, row.date) == ("AI", "0701")


def test_the_datahub_repackaging_with_its_header_and_status_first_reads_the_same():
    datahub = (
        "Change,Country,Location,Name,NameWoDiacritics,Subdivision,Status,Function,Date,IATA,Coordinates,Remarks\n"
        ",DE,HAM,Hamburg,Hamburg,HH,AI,12345---,0701,,5332N 00959E,\n"
        ",DE,XYZ,Somewhere,Somewhere,,,--3-----,,,,\n"
    )
    hamburg, somewhere = parse(datahub)
    assert hamburg == parse(OFFICIAL_ROWS)[0]
    assert (somewhere.functions, somewhere.status) == ({"road"}, "")


def test_utf8_with_bom_is_read():
    rows = list(parse_unlocode_csv(io.BytesIO(b"\xef\xbb\xbf" + (HEADER + DUSSELDORF).encode())))
    assert [row.code for row in rows] == ["DEDUS"]
    assert rows[0].name == "Düsseldorf"


def test_utf8_and_cp1252_lines_may_be_mixed():
    data = DUSSELDORF.encode("utf-8") + ',"DE","MUC","München","Munchen","BY","-2345---","AI",,,,\r\n'.encode("cp1252")
    names = [row.name for row in parse_unlocode_csv(io.BytesIO(data))]
    assert names == ["Düsseldorf", "München"]


def test_country_headers_and_reference_entries_are_skipped():
    text = HEADER + ',"AT",,".AUSTRIA",,,,,,,,\n=,"AT",,"Vienna = Wien","Vienna = Wien",,,,,,,\n' + DUSSELDORF
    stats = LocodeParseStats()
    rows = parse(text, stats=stats)
    assert [row.code for row in rows] == ["DEDUS"]
    assert (stats.country_headers, stats.references, stats.rows) == (2, 1, 1)


def test_rows_marked_for_deletion_are_skipped_and_reported():
    text = HEADER + 'X,"DE","ZZZ","Gone","Gone",,"--3-----","XX",,,,"USE DEDUS"\n' + DUSSELDORF
    stats = LocodeParseStats()
    rows = parse(text, stats=stats)
    assert [row.code for row in rows] == ["DEDUS"]
    assert stats.removed == [(2, "DEZZZ")]


def test_change_indicator_and_remarks_are_kept():
    (row,) = parse('+,"NL","VEN","Venlo","Venlo","LI","123--6--","RL",,,"5122N 00610E","new terminal"\n')
    assert row.change == "+"
    assert row.remarks == "new terminal"
    assert row.functions == {"port", "rail", "road", "multimodal"}


def test_empty_coordinates_and_function_are_none_and_empty():
    (row,) = parse(',"DE","XYZ","Somewhere","Somewhere",,,"RQ",,,,\n')
    assert row.latitude is None
    assert row.longitude is None
    assert row.functions == frozenset()


def test_blank_lines_are_ignored():
    assert [row.code for row in parse("\r\n" + DUSSELDORF + "\n")] == ["DEDUS"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            ',"DE","HAM","Hamburg","Hamburg","HH","12345---","AI",,,"5333N 00959E"\n',
            "expected 12 columns, found 11",
        ),
        (
            ',"DE","HA1","Hamburg","Hamburg","HH","12345---","AI",,,"5333N 00959E",\n',
            "'DEHA1' is not a UN/LOCODE",
        ),
        (
            ',"de","HAM","Hamburg","Hamburg","HH","12345---","AI",,,"5333N 00959E",\n',
            "'deHAM' is not a UN/LOCODE",
        ),
        (',"DE","HAMB","Hamburg","Hamburg","HH","12345---","AI",,,"5333N 00959E",\n', "is not a UN/LOCODE"),
        (',"DE","HAM","Hamburg","Hamburg","HH","12345---","AI",,,"53.55N 9.99E",\n', "not in the form"),
        (',"DE","HAM","Hamburg","Hamburg","HH","12345---","AI",,,"5333N 0959E",\n', "not in the form"),
        (',"DE","HAM","Hamburg","Hamburg","HH","12345---","AI",,,"5375N 00959E",\n', "out of range"),
        (',"DE","HAM","Hamburg","Hamburg","HH","12345","AI",,,"5333N 00959E",\n', "function '12345'"),
        (',"DE","HAM","Hamburg","Hamburg","HH","12x45---","AI",,,"5333N 00959E",\n', "function '12x45---'"),
    ],
)
def test_malformed_rows_raise_with_the_line_number(line, message):
    with pytest.raises(LocodeFormatError, match=message) as raised:
        parse(HEADER + DUSSELDORF + line)
    assert raised.value.line == 3
    assert str(raised.value).startswith("line 3: ")


def test_out_of_range_coordinates_can_be_tolerated_and_are_reported():
    stats = LocodeParseStats()
    (row,) = parse(
        ',"DZ","BNN","Bouinan","Bouinan",,"--3-----","RL",,,"3154N 25931E",\n',
        stats=stats,
        strict_coordinates=False,
    )
    assert row.latitude is None
    assert row.longitude is None
    assert stats.bad_coordinates == [(1, "DZBNN", "3154N 25931E")]


def test_malformed_coordinates_raise_even_when_tolerant():
    with pytest.raises(LocodeFormatError, match="line 1: DEHAM"):
        parse(',"DE","HAM","Hamburg","Hamburg","HH","12345---","AI",,,"north",\n', strict_coordinates=False)


@pytest.mark.parametrize(
    ("text", "latitude", "longitude"),
    [
        ("5333N 00959E", "53.5500", "9.9833"),  # Hamburg
        ("3352S 15113E", "-33.8667", "151.2167"),  # Sydney
        ("4043N 07400W", "40.7167", "-74.0000"),  # New York
        ("2258S 04312W", "-22.9667", "-43.2000"),  # Rio de Janeiro
        ("0000N 00000E", "0.0000", "0.0000"),
        ("9000N 18000W", "90.0000", "-180.0000"),
    ],
)
def test_coordinates_become_decimal_degrees_with_four_places(text, latitude, longitude):
    assert parse_coordinates(text) == (Decimal(latitude), Decimal(longitude))
    assert str(parse_coordinates(text)[0]) == latitude


@pytest.mark.parametrize("text", ["5360N 00959E", "9100N 00000E", "0000N 18100E", "5333N00959E", "5333X 00959E", ""])
def test_bad_coordinates_are_rejected(text):
    with pytest.raises(ValueError, match="coordinates"):
        parse_coordinates(text)


def test_stream_is_read_lazily():
    lines = iter([(HEADER + DUSSELDORF).encode(), b',"DE","HA1","Bad","Bad",,,,,,,\n'])
    rows = parse_unlocode_csv(_one_line_at_a_time(lines))
    assert next(rows).code == "DEDUS"  # the bad line has not been read yet
    with pytest.raises(LocodeFormatError):
        next(rows)


def _one_line_at_a_time(chunks):
    for chunk in chunks:
        yield from io.BytesIO(chunk)
