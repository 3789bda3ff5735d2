"""What: a streaming parser for the UNECE UN/LOCODE code list CSV (pure Python, no Django).

The official release ("loc<yy><n>csv.zip" from https://unece.org/trade/cefact/UNLOCODE-Download) holds
CSV files ("<yyyy>-<n> UNLOCODE CodeListPart1.csv" to Part3) with no header row and twelve columns:

    Change, Country, Location, Name, NameWoDiacritics, Subdivision, Function, Status, Date, IATA,
    Coordinates, Remarks

The datahub repackaging (``datasets/un-locode``, ``data/code-list.csv``) has a header row and puts Status
before Function. It is read too: a first row whose Location column says "Location" is skipped, and each
row's Function and Status are told apart by their shape (``_function_and_status``), so either file, and an
odd row of one inside the other, reads the same.

Besides one row per location the file has rows without a Location: country headers
(``,"DE",,".GERMANY",,,,,,,,``) and reference entries (``=`` "Vienna = Wien"). Both are skipped.
Rows whose change indicator is ``X`` are marked for deletion in the next issue: they are skipped and
reported in ``LocodeParseStats.removed``.

The official files are published in a Windows code page and have mixed encodings in places, so every
line is decoded on its own: UTF-8 (a BOM on the first line is dropped), else cp1252, else Latin-1.
The parser reads one line at a time, so memory stays bounded for the full ~115,000-row list.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import BinaryIO

COLUMNS = (
    "change",
    "country",
    "location",
    "name",
    "name_ascii",
    "subdivision",
    "function",
    "status",
    "date",
    "iata",
    "coordinates",
    "remarks",
)

# Function classifier character -> our name. Position in the 8-character string is not checked:
# the character itself carries the meaning ("0" = not known, "-" = not applicable).
FUNCTIONS = {
    "1": "port",
    "2": "rail",
    "3": "road",
    "4": "airport",
    "5": "postal",
    "6": "multimodal",
    "7": "fixed",
    "B": "border",
}
# Also allowed in the Function column but without a function of ours: 0 (unknown), - (not applicable),
# 8 (inland water transport) and A (special economic zone), which newer issues introduced.
_FUNCTION_CHARS = frozenset(FUNCTIONS) | frozenset("-08A")

LOCODE_RE = re.compile(r"^[A-Z]{2}[A-Z2-9]{3}$")
_FUNCTION_SHAPE_RE = re.compile(r"^[0-8AB-]{8}$")
_STATUS_SHAPE_RE = re.compile(r"^[A-Z]{2}$")
_COORDINATES_RE = re.compile(r"^(\d{2})(\d{2})([NS]) (\d{3})(\d{2})([EW])$")
_FOUR_PLACES = Decimal("0.0001")


class LocodeFormatError(ValueError):
    """A row of the code list does not have the UN/LOCODE format; ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True)
class LocodeRow:
    code: str  # "DEHAM"
    country: str  # "DE"
    name: str  # "Hamburg" (may carry diacritics)
    name_ascii: str  # NameWoDiacritics
    subdivision: str  # ISO 3166-2 suffix, "" when none
    functions: frozenset[str]  # subset of FUNCTIONS.values()
    iata: str  # only when it differs from the location part of the code
    latitude: Decimal | None
    longitude: Decimal | None
    status: str  # "AI", "RL", ...
    change: str  # "", "+", "|", "#", ...
    remarks: str
    date: str = ""  # YYMM of the last change

    @property
    def location(self) -> str:
        return self.code[2:]


@dataclass
class LocodeParseStats:
    """Filled in by ``parse_unlocode_csv`` while it runs (pass one in to read it afterwards)."""

    rows: int = 0  # LocodeRow yielded
    country_headers: int = 0
    references: int = 0  # "=" entries pointing from another name to a code
    removed: list[tuple[int, str]] = field(default_factory=list)  # (line, code) marked "X"
    bad_coordinates: list[tuple[int, str, str]] = field(default_factory=list)  # (line, code, raw)


def parse_unlocode_csv(
    stream: BinaryIO | Iterable[bytes],
    *,
    stats: LocodeParseStats | None = None,
    strict_coordinates: bool = True,
) -> Iterator[LocodeRow]:
    """Yield one ``LocodeRow`` per location in an official UN/LOCODE CSV file opened in binary mode.

    Raises ``LocodeFormatError`` (with the line number) for a wrong column count, a code that is not
    ``^[A-Z]{2}[A-Z2-9]{3}$``, a malformed Function or malformed coordinates. Coordinates that are
    well formed but out of range (minutes >= 60, latitude > 90, longitude > 180) also raise, unless
    ``strict_coordinates`` is false: the official list does contain a few such values, so an import
    of the full file should pass ``strict_coordinates=False``; those rows then have no coordinates and
    are listed in ``stats.bad_coordinates``.
    """
    stats = stats if stats is not None else LocodeParseStats()
    for line, fields in _records(stream):
        if not fields or all(not value.strip() for value in fields):
            continue
        if len(fields) != len(COLUMNS):
            raise LocodeFormatError(line, f"expected {len(COLUMNS)} columns, found {len(fields)}")
        raw = dict(zip(COLUMNS, (value.strip() for value in fields), strict=True))
        if line == 1 and raw["location"].casefold() == "location":  # the datahub repackaging's header
            continue
        raw["function"], raw["status"] = _function_and_status(raw["function"], raw["status"])
        if not raw["location"]:
            if raw["change"] == "=":
                stats.references += 1
            else:
                stats.country_headers += 1
            continue
        code = raw["country"] + raw["location"]
        if not LOCODE_RE.match(code):
            raise LocodeFormatError(line, f"{code!r} is not a UN/LOCODE (2 letters, then 3 of A-Z, 2-9)")
        if raw["change"].upper() == "X":
            stats.removed.append((line, code))
            continue
        latitude, longitude = _coordinates(raw["coordinates"], line, code, stats, strict_coordinates)
        stats.rows += 1
        yield LocodeRow(
            code=code,
            country=raw["country"],
            name=raw["name"],
            name_ascii=raw["name_ascii"],
            subdivision=raw["subdivision"],
            functions=_functions(raw["function"], line),
            iata=raw["iata"],
            latitude=latitude,
            longitude=longitude,
            status=raw["status"],
            change=raw["change"],
            remarks=raw["remarks"],
            date=raw["date"],
        )


def parse_coordinates(value: str) -> tuple[Decimal, Decimal]:
    """``"5333N 00959E"`` -> ``(Decimal("53.5500"), Decimal("9.9833"))``; S and W are negative.

    Raises ``ValueError`` for anything else, including out-of-range minutes or degrees.
    """
    match = _COORDINATES_RE.match(value)
    if not match:
        raise ValueError(f"coordinates {value!r} are not in the form DDMM[NS] DDDMM[EW]")
    lat_deg, lat_min, lat_hemi, lon_deg, lon_min, lon_hemi = match.groups()
    latitude = _degrees(int(lat_deg), int(lat_min), negative=lat_hemi == "S")
    longitude = _degrees(int(lon_deg), int(lon_min), negative=lon_hemi == "W")
    if int(lat_min) >= 60 or int(lon_min) >= 60 or abs(latitude) > 90 or abs(longitude) > 180:
        raise ValueError(f"coordinates {value!r} are out of range")
    return latitude, longitude


def _degrees(degrees: int, minutes: int, *, negative: bool) -> Decimal:
    value = (Decimal(degrees) + Decimal(minutes) / 60).quantize(_FOUR_PLACES, rounding=ROUND_HALF_UP)
    return -value if negative and value else value  # no -0.0000 for 0000S


def _coordinates(
    value: str, line: int, code: str, stats: LocodeParseStats, strict: bool
) -> tuple[Decimal | None, Decimal | None]:
    if not value:
        return None, None
    if not _COORDINATES_RE.match(value):
        raise LocodeFormatError(line, f"{code}: coordinates {value!r} are not in the form DDMM[NS] DDDMM[EW]")
    try:
        return parse_coordinates(value)
    except ValueError as error:
        if strict:
            raise LocodeFormatError(line, f"{code}: {error}") from error
        stats.bad_coordinates.append((line, code, value))
        return None, None


def _function_and_status(seventh: str, eighth: str) -> tuple[str, str]:
    """The row's Function and Status from its seventh and eighth columns: Function first as UNECE publishes it,
    Status first as the datahub repackaging has it. A Status is two letters and a Function eight characters,
    so the shapes tell them apart; anything else is read in the official order (a malformed Function still raises)."""
    if _STATUS_SHAPE_RE.match(seventh) or (not seventh and _FUNCTION_SHAPE_RE.match(eighth)):
        return eighth, seventh
    return seventh, eighth


def _functions(value: str, line: int) -> frozenset[str]:
    if not value:
        return frozenset()
    if len(value) != 8 or not set(value) <= _FUNCTION_CHARS:
        raise LocodeFormatError(line, f"function {value!r} is not 8 characters of 0-8, A, B or -")
    return frozenset(FUNCTIONS[char] for char in value if char in FUNCTIONS)


def _records(stream: BinaryIO | Iterable[bytes]) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(_decoded_lines(stream))
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise LocodeFormatError(reader.line_num, f"unreadable CSV: {error}") from error
        yield reader.line_num, fields


def _decoded_lines(stream: BinaryIO | Iterable[bytes]) -> Iterator[str]:
    first = True
    for raw in stream:
        if first:
            raw = raw.removeprefix(codecs.BOM_UTF8)
            first = False
        yield _decode(raw)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined
        return raw.decode("latin-1")
