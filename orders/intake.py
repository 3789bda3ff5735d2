"""One validation layer for every intake channel: screen, API, file and webhook.

`validate_order(data, scope=..., lookups=...)` takes the raw vocabulary every channel shares (the bulk
template's columns; lines as a list) and returns the clean values ready for the model, or every error
it found as `{field: [messages]}`, with line fields named `lines[0].hs_code`. It reads the database
only through `Lookups`, which a batch (a file of 100,000 rows) fills once.

Fast because a file calls it once per order, for 100,000 rows in seconds — never by having a second,
lighter set of rules for files. The screen form, the API, the webhooks and the import all run exactly
this code; only how much work is shared between calls differs:
- the database is read only through `Lookups`, filled in bulk once per file (customers, locations) or
  once per call (one order on a screen);
- tables are built once per process: choice lists, package aliases, the HS list, ISO 4217 codes;
- pure checks of a value (an HS code, a currency) are memoised by the value: a file repeats the same few
  codes on thousands of rows, and the answer to "is 940542 a heading?" cannot change within a process;
- each field is read and stripped once per order, absent optional fields cost a dictionary lookup, and
  numbers take a direct path for plain digits before the general Decimal rules;
- no Django form, model instance or `full_clean` per order: the rules are applied directly, as they
  always were here.
Tests pin every rule's message (tests/orders/test_intake.py) and prove that a file row and an API body (the
screen posts the same vocabulary to the same service) get the same messages (tests/orders/test_intake_channels.py).
"""

from __future__ import annotations

import datetime
import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from typing import Any

import pycountry
from django.db.models import Q
from django.db.models.functions import Upper

from orders import identifiers
from orders.cargo import line_volume_m3, totals
from orders.currencies import decimal_places
from orders.hs import hs_code_problem, load_hs_codes, normalize_hs_code
from orders.models import (
    SEA_MODES,
    SEA_ONLY_INCOTERMS,
    Incoterm,
    Location,
    Mode,
    PackageType,
    PackingGroup,
    ServiceLevel,
)
from partners.models import Organisation, OrganisationKind
from partners.scoping import Scope

ORDER_FIELDS = (
    "customer_code", "customer_reference", "branch_code", "mode", "service_level", "incoterm", "named_place",
    "origin", "origin_address", "destination", "destination_address",
    "shipper_name", "shipper_address", "consignee_name", "consignee_address", "notify_name", "notify_address",
    "description", "requested_pickup_on", "requested_delivery_on", "declared_value", "currency",
    "special_instructions",
)  # fmt: skip
LINE_FIELDS = (
    "pieces", "package_type", "gross_weight_kg", "volume_m3", "description", "hs_code",
    "length_cm", "width_cm", "height_cm", "container_number", "container_type", "seal_numbers",
    "awb_number", "un_number", "dg_class", "packing_group",
)  # fmt: skip
REQUIRED_ORDER_FIELDS = (
    "customer_reference", "mode", "incoterm", "origin", "destination", "shipper_name", "consignee_name",
    "requested_pickup_on",
)  # fmt: skip
# What a draft may still lack (validate_order(draft=True)), with a cargo line: submitting needs them
# (lifecycle checks the order before it submits). A draft has what files, sorts and routes it: customer,
# reference, mode, lane and pickup date (docs/decisions/0002, "Drafts").
NEEDED_TO_SUBMIT_FIELDS = ("incoterm", "shipper_name", "consignee_name")
MAX_LINES = 500

# E and F terms: the seller hands over at origin; C and D terms name the destination.
_ORIGIN_PLACE_TERMS = frozenset({Incoterm.EXW, Incoterm.FCA, Incoterm.FAS, Incoterm.FOB})
_PACKAGE_ALIASES = {label.lower(): value for value, label in PackageType.choices} | {
    "pallet": "PX", "pallets": "PX", "plt": "PX", "carton": "CT", "cartons": "CT", "ctn": "CT", "box": "BX",
    "boxes": "BX", "case": "CS", "crate": "CR", "drum": "DR", "bag": "BG", "bale": "BL", "roll": "RO",
    "package": "PK", "packages": "PK", "pkg": "PK", "envelope": "EN", "ibc": "WA", "piece": "PCE", "pcs": "PCE",
}  # fmt: skip


# Choice lists, built once: TextChoices.values rebuilds its list on every access, and a 100,000-row
# import asks for them several times per row.
_MODES, _SERVICE_LEVELS, _INCOTERMS = tuple(Mode.values), tuple(ServiceLevel.values), tuple(Incoterm.values)
_PACKAGE_CODES, _PACKING_GROUPS = frozenset(PackageType.values), frozenset(PackingGroup.values)
_ORDER_FIELD_SET = frozenset(ORDER_FIELDS)
_KNOWN_KEYS = _ORDER_FIELD_SET | {"lines", "submit"}
# The modes whose orders bring their own containers (number, ISO type, seals): a whole box booked for the customer.
# An LCL order's cargo goes in the consolidator's box, which planning puts on the shipment; air, road and parcel
# carry none of the customer's. An Equipment row on such an order would be planned as the order's own box
# (tracking.services.planning) and counted as one by ranking, which reads equipment on FCL and rail orders only.
_CONTAINER_MODES = frozenset({Mode.OCEAN_FCL, Mode.RAIL})
_CONTAINER_FIELDS = ("container_number", "container_type", "seal_numbers")
# Numbers: the step of each number of decimal places, and the largest value each column holds (a value
# must stay below the limit: NUMERIC(12, 4) holds less than 10**8). A larger value is a field error here,
# never a database error on save.
_QUANTUM = {places: Decimal(1).scaleb(-places) for places in range(5)}
_WEIGHT_LIMIT = (Decimal(10) ** 9, "1,000,000,000")  # CargoLine.gross_weight_kg NUMERIC(12, 3)
_VOLUME_LIMIT = (Decimal(10) ** 8, "100,000,000")  # CargoLine.volume_m3 NUMERIC(12, 4)
_LENGTH_LIMIT = (Decimal(10) ** 7, "10,000,000")  # CargoLine.length_cm and the others, NUMERIC(8, 1)
_VALUE_LIMIT = (Decimal(10) ** 9, "1,000,000,000")  # Order.declared_value_amount NUMERIC(14, 2); kept as before
_VALUE_PLACES = 2  # the decimals Order.declared_value_amount keeps: a currency with more (KWD, BHD) is held to them
_OPTIONAL_LINE_NUMBERS = (
    ("volume_m3", 4, _VOLUME_LIMIT), ("length_cm", 1, _LENGTH_LIMIT), ("width_cm", 1, _LENGTH_LIMIT),
    ("height_cm", 1, _LENGTH_LIMIT),
)  # fmt: skip
# The order's totals, NUMERIC(14, 3) and NUMERIC(14, 4): many lines (or LCL's 1 m³ = 1,000 kg) can add up
# to more than a column holds although each line is within its own.
_TOTAL_LIMITS = (
    ("gross_weight_kg_total", "total gross weight", "kg", Decimal(10) ** 11),
    ("volume_m3_total", "total volume", "m³", Decimal(10) ** 10),
    ("chargeable_weight_kg", "chargeable weight", "kg", Decimal(10) ** 11),
)  # fmt: skip
# Seals: a cargo line names at most this many, each at most as long as Equipment.seal_numbers holds.
MAX_SEALS_PER_LINE = 5
SEAL_LENGTH_LIMIT = 20
_SEALS_SHAPE = "Give the seal numbers as text separated by commas, or as a list of texts."
_NUL_MESSAGE = "Contains a NUL character; remove it."
_REQUIRED = "This field is required."
# The order's text columns and their lengths. A longer value is an error, never cut short: a cut reference
# would no longer match the customer's own (and two references differing after the cut would collide).
_TEXT_LIMITS = (
    ("customer_reference", 64), ("named_place", 100), ("shipper_name", 200), ("consignee_name", 200),
    ("notify_name", 200), ("description", 300),
)  # fmt: skip
_LINE_DESCRIPTION_LIMIT = 300


def _too_long(value: str, limit: int) -> str:
    return f"Use at most {limit} characters (this value has {len(value)})."


@cache
def hs_codes() -> dict[str, str]:
    return load_hs_codes()


@cache
def _lowered(choices: tuple[str, ...]) -> dict[str, str]:
    return {option.lower(): option for option in choices}


@cache
def currency_problem(code: str) -> str | None:
    if len(code) != 3 or not code.isalpha() or pycountry.currencies.get(alpha_3=code) is None:
        return f"{code} is not an ISO 4217 currency code, e.g. EUR or USD."
    return None


@lru_cache(maxsize=4096)
def _hs_code(text: str) -> tuple[str, str | None]:
    """(normalised code, problem) of a declared HS code; memoised: a file repeats the same few codes."""
    problem = hs_code_problem(text, hs_codes())
    return ("", problem + ".") if problem else (normalize_hs_code(text), None)


# Hints in error messages ("Shanghai's UN/LOCODE is CNSHA.") looked up per validation batch at most: a query each.
MAX_HINTS = 100


def _nul(code: str, known: dict[str, Any]) -> bool:
    """Whether `code` holds a NUL, recording it as unknown in `known` when it does (Lookups.preload)."""
    if "\x00" in code:
        known[code] = None
        return True
    return False


@dataclass
class Lookups:
    """The rows validation needs, fetched once per batch rather than once per order."""

    customers: dict[str, Organisation | None] = field(default_factory=dict)
    branches: dict[str, Organisation | None] = field(default_factory=dict)
    locations: dict[str, tuple[bool, str] | None] = field(default_factory=dict)  # code -> (is_active, name)

    def preload(self, *, customer_codes: Iterable[str] = (), location_codes: Iterable[str] = ()) -> Lookups:
        # A code holding a NUL names nothing we have (PostgreSQL text cannot hold one, and would refuse the query):
        # it is unknown without asking, and its field gets the usual "unknown" message.
        wanted = {c for c in customer_codes if c and c not in self.customers and not _nul(c, self.customers)}
        if wanted:
            found = {o.code: o for o in Organisation.objects.filter(code__in=wanted).select_related("account_branch")}
            for code in wanted:
                self.customers[code] = found.get(code)
        wanted = {c for c in location_codes if c and c not in self.locations and not _nul(c, self.locations)}
        if wanted:
            places = {
                code: (is_active, name)
                for code, is_active, name in Location.objects.filter(code__in=wanted).values_list(
                    "code", "is_active", "name"
                )
            }
            for code in wanted:
                self.locations[code] = places.get(code)
        return self

    def customer(self, code: str) -> Organisation | None:
        if code not in self.customers:
            self.preload(customer_codes=[code])
        return self.customers[code]

    def branch(self, code: str) -> Organisation | None:
        if code not in self.branches:
            self.branches[code] = None if "\x00" in code else Organisation.objects.filter(code=code).first()
        return self.branches[code]

    def location(self, code: str) -> tuple[bool, str] | None:
        """(is_active, name), or None for a code we do not know."""
        if code not in self.locations:
            self.preload(location_codes=[code])
        return self.locations[code]

    # Hints for the error messages only: looked up once per distinct mistake, never on a valid value.
    hints: dict[tuple[str, str], str] = field(default_factory=dict)
    customer_codes: list[str] | None = None
    scope_codes: dict[frozenset[int], list[str]] = field(default_factory=dict)  # a customer scope's own codes

    def _hint_room(self, key: tuple[str, str]) -> bool:
        """Whether a hint may be looked up: each costs a query, so a file of free text gets MAX_HINTS of them, not one
        per row. None for text holding a NUL: it names nothing we have, and PostgreSQL would refuse the query."""
        if "\x00" in key[1]:
            return False
        return key in self.hints or len(self.hints) < MAX_HINTS

    def place_hint(self, text: str) -> str:
        """A sentence naming the UN/LOCODE of a place written by its name or its IATA code ("Shanghai's UN/LOCODE
        is CNSHA."), or the candidates when several places share the name; "" when none matches."""
        key = ("place", text.casefold())
        if not self._hint_room(key):
            return ""
        if key not in self.hints:
            # Both served by an index: the trigram index on UPPER(name_ascii) answers equality, and iata has its own.
            folded = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).upper()
            by_iata = Q(iata=text.upper()) if len(text) == 3 and text.isalpha() else Q(pk__in=[])
            places = list(
                Location.objects.annotate(name_key=Upper("name_ascii"))
                .filter(Q(name_key=folded) | by_iata, is_active=True)
                .order_by("code")
                .values_list("code", "name", "country", "iata")[:4]
            )
            if len(places) == 1:
                code, name, _, iata = places[0]
                if iata and iata == text.upper() and name.casefold() != text.casefold():
                    self.hints[key] = f" {iata} is the IATA code of {name}, whose UN/LOCODE is {code}."
                else:
                    self.hints[key] = f" {name}'s UN/LOCODE is {code}."
            elif places:
                named = ", ".join(f"{code} ({name}, {country})" for code, name, country, _ in places[:3])
                self.hints[key] = f" Did you mean {named}?"
            else:
                self.hints[key] = ""
        return self.hints[key]

    def customer_hint(self, code: str) -> str:
        """A sentence naming the code of a customer written by its name, or the codes close to a mistyped one
        ("Did you mean ACME?"); "" when none is close."""
        key = ("customer", code)
        if not self._hint_room(key):
            return ""
        if key not in self.hints:
            customers = Organisation.objects.customers().active()
            named = list(customers.filter(name__iexact=code).values_list("code", "name")[:2])
            if len(named) == 1:
                self.hints[key] = f" {named[0][1]}'s customer code is {named[0][0]}."
            else:
                if self.customer_codes is None:
                    self.customer_codes = list(customers.values_list("code", flat=True))
                close = difflib.get_close_matches(code, self.customer_codes, n=3, cutoff=0.75)
                self.hints[key] = f" Did you mean {' or '.join(close)}?" if close else ""
        return self.hints[key]


def derived_named_place(*, incoterm: str, origin: str, destination: str, lookups: Lookups) -> str:
    """The named place an Incoterm takes when none is given: the origin's name for the E and F rules (EXW, FCA,
    FAS, FOB), the destination's for the C and D rules; "" without a term or a known place."""
    if not incoterm:
        return ""
    code = origin if incoterm in _ORIGIN_PLACE_TERMS else destination
    known = lookups.location(code) if code else None
    return known[1] if known else ""


@dataclass
class CleanOrder:
    order: dict[str, Any]
    lines: list[dict[str, Any]]
    equipment: list[dict[str, Any]]


class _Errors:
    """The errors of one validation, by field; it also carries how that validation reads numbers."""

    def __init__(self, *, points_may_group_thousands: bool = False) -> None:
        self.by_field: dict[str, list[str]] = {}
        self.points_may_group_thousands = points_may_group_thousands
        self.unreadable: set[str] = set()  # fields whose value is no single value: their one message says so

    def add(self, name: str, message: str) -> None:
        if name not in self.unreadable:
            self.by_field.setdefault(name, []).append(message)

    def unreadable_value(self, name: str, message: str) -> None:
        self.add(name, message)
        self.unreadable.add(name)

    def __contains__(self, name: str) -> bool:
        return name in self.by_field


def _str(value: Any) -> str:
    """A raw value as stripped text ("" for None)."""
    if type(value) is str:
        return value.strip()
    return "" if value is None else str(value).strip()


# How a number may be written. A point alone is the decimal point (as in ISO 80000, JSON and every system
# that sends us data); a comma alone is a decimal comma (as Excel writes in much of Europe), except in the one
# shape that is also a thousands separator, "1,000", which is refused rather than guessed: a weight read as
# 1 kg instead of 1,000 kg is worse than an error (except in a file written with semicolons, where the comma is
# the decimal mark and "1,000" reads as 1). With both marks the last one is the decimal mark and the
# other groups thousands in threes ("12,500.00", "12.500,00"); several commas alone group thousands
# ("1,000,000"). Spaces, no-break spaces and thin spaces group thousands too ("1 000,5"). In a file written
# with semicolons (Excel's choice where the comma is the decimal mark) "1.500" is refused too: there a point
# before three digits may group thousands (validate_order's `points_may_group_thousands`). Whole numbers are
# never written with a point before three digits ("10.000 pieces"), so that shape is refused for them. Only the
# digits 0-9 are read, and at most MAX_NUMBER_LENGTH characters.
MAX_NUMBER_LENGTH = 40
# A UN/LOCODE names a whole city: a port or an airport to itself is no transport, a truck or a parcel across the
# city is (a shop's local deliveries, a distributor's drops).
_WITHIN_ONE_CITY_MODES = frozenset({Mode.ROAD_FTL, Mode.ROAD_LTL, Mode.PARCEL})
_PLAIN_NUMBER = re.compile(r"[0-9]*(?:\.[0-9]*)?")  # no nested repetition: linear on any input
_GROUP_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009")
_ONE_COMMA_GROUP = re.compile(r"[1-9][0-9]{0,2},[0-9]{3}")
_POINT_GROUPS = re.compile(r"[1-9][0-9]{0,2}(?:\.[0-9]{3})+")
_COMMA_GROUPS = re.compile(r"[1-9][0-9]{0,2}(?:,[0-9]{3}){2,}")
_COMMA_GROUPS_POINT = re.compile(r"[1-9][0-9]{0,2}(?:,[0-9]{3})+\.[0-9]+")
_POINT_GROUPS_COMMA = re.compile(r"[1-9][0-9]{0,2}(?:\.[0-9]{3})+,[0-9]+")
_AMBIGUOUS = "ambiguous"


def _separators_read(text: str, *, comma_is_decimal: bool = False) -> str:
    """Text with thousands separators dropped and a decimal comma made a point; _AMBIGUOUS for "1,000" unless the
    comma is known to be the decimal mark (a semicolon file); other text as it came (Decimal then reads it, e.g.
    "1e3", or refuses it)."""
    text = text.translate(_GROUP_SPACES)
    sign, digits = (text[0], text[1:]) if text[:1] in "+-" else ("", text)
    if "," not in digits:
        return text
    if _ONE_COMMA_GROUP.fullmatch(digits):
        return sign + digits.replace(",", ".") if comma_is_decimal else _AMBIGUOUS
    if _COMMA_GROUPS.fullmatch(digits) or _COMMA_GROUPS_POINT.fullmatch(digits):
        return sign + digits.replace(",", "")
    if _POINT_GROUPS_COMMA.fullmatch(digits):
        return sign + digits.replace(".", "").replace(",", ".")
    if "." not in digits and digits.count(",") == 1:
        return sign + digits.replace(",", ".")
    return text


def _ambiguous_message(text: str, *, whole: bool = False) -> str:
    """For a single comma or point before three digits, as in "1,000", "1.500" or "10.000" (`whole`: in a column of
    whole numbers, where a decimal reading is no reading at all)."""
    mark = "," if "," in text else "."
    whole_part, part = text.translate(_GROUP_SPACES).lstrip("+").split(mark, 1)
    grouped = f"{whole_part}{part}".replace(mark, "")
    if mark in part:  # "1.500.000": no decimal reading, only separators a whole number does not take here
        return f"{text} reads as {grouped} with thousands separators: write it without them."
    if whole:
        return f"Write whole numbers without a thousands separator: {grouped}, not {text}."
    decimal = f"{whole_part}.{part}".rstrip("0").rstrip(".")
    return f"{text} could be {grouped} or {decimal}: write it without a thousands separator, with a point for decimals."


def _number_text(raw: Any, name: str, errors: _Errors, *, whole: bool) -> str | None:
    """The stripped text of a number, or None with the error added: empty (no error), too long, other digits
    than 0-9, or a separator that reads two ways."""
    text = "" if raw is None else str(raw).strip()
    if not text:
        return None
    if len(text) > MAX_NUMBER_LENGTH:
        errors.add(name, f"Use at most {MAX_NUMBER_LENGTH} characters for a number.")
        return None
    if not text.isascii() and not text.translate(_GROUP_SPACES).isascii():  # no-break spaces may group thousands
        errors.add(name, f"{text} is not a number: use the digits 0-9.")
        return None
    if "." in text and "," not in text and (whole or errors.points_may_group_thousands):
        digits = text.translate(_GROUP_SPACES).lstrip("+")
        if _POINT_GROUPS.fullmatch(digits):
            errors.add(name, _ambiguous_message(text, whole=whole))
            return None
    return text


def _decimal(
    raw: Any, name: str, errors: _Errors, *, places: int, limit: tuple[Decimal, str], required: bool = False
) -> Decimal | None:
    text = _number_text(raw, name, errors, whole=False)
    if text is None:
        if required and name not in errors:
            errors.add(name, _REQUIRED)
        return None
    if not _PLAIN_NUMBER.fullmatch(text):
        read = _separators_read(text, comma_is_decimal=errors.points_may_group_thousands)
        if read is _AMBIGUOUS:
            errors.add(name, _ambiguous_message(text))
            return None
        text = read
    try:
        value = Decimal(text)
    except InvalidOperation:
        errors.add(name, f"{raw} is not a number.")
        return None
    if not value.is_finite():
        errors.add(name, f"{raw} is not a number.")
        return None
    if value <= 0:
        errors.add(name, "Must be greater than zero.")
        return None
    # The limit first: quantizing a huge value would exceed Decimal's precision.
    if value >= limit[0] or value != value.quantize(_QUANTUM[places]):
        errors.add(name, f"Use at most {places} decimal places and a value below {limit[1]}.")
        return None
    return value


def _integer(raw: Any, name: str, errors: _Errors) -> int | None:
    text = "" if raw is None else str(raw).strip()
    if len(text) < 19 and text.isascii() and text.isdigit():  # plain digits, as nearly every file has them
        value: int | Decimal = int(text)
    else:
        checked = _number_text(text, name, errors, whole=True)
        if checked is None:
            if name not in errors:
                errors.add(name, _REQUIRED)
            return None
        try:
            value = Decimal(checked)
        except InvalidOperation:
            errors.add(name, f"{raw} is not a whole number.")
            return None
        if not value.is_finite() or value != value.to_integral_value():
            errors.add(name, f"{raw} is not a whole number.")
            return None
    if value <= 0:
        errors.add(name, "Must be at least 1.")
        return None
    if value > 1_000_000:
        errors.add(name, "Must be at most 1,000,000.")
        return None
    return int(value)


def _date(raw: Any, name: str, errors: _Errors, *, required: bool) -> datetime.date | None:
    if isinstance(raw, datetime.datetime):
        return raw.date()
    if isinstance(raw, datetime.date):
        return raw
    text = "" if raw is None else str(raw).strip()
    if not text:
        if required:
            errors.add(name, _REQUIRED)
        return None
    try:
        if len(text) > 10:  # a date with its time, as spreadsheets and the workbook copy write it
            return datetime.datetime.fromisoformat(text).date()
        return datetime.date.fromisoformat(text)
    except ValueError:
        pass
    dotted = _DOTTED_DATE.fullmatch(text)
    if dotted is not None:
        try:
            return datetime.date(int(dotted["year"]), int(dotted["month"]), int(dotted["day"]))
        except ValueError:
            pass
    errors.add(name, f"{raw} is not a date: use YYYY-MM-DD, e.g. 2026-12-01.")
    return None


# Day.month.year with a four-digit year, as Excel writes a date cell into a CSV on a German, Austrian, Swiss, Polish,
# Czech, Nordic or Russian locale (14.12.2026): the dotted form is read day first everywhere it is written, so it has
# one reading. Slashed dates (12/07/2026: 12 July or 7 December?) and two-digit years stay refused.
_DOTTED_DATE = re.compile(r"(?P<day>[0-9]{1,2})\.(?P<month>[0-9]{1,2})\.(?P<year>[0-9]{4})")


def _choice(raw: str, name: str, errors: _Errors, choices: tuple[str, ...], example: str) -> str:
    found = _lowered(choices).get(raw.strip().lower())
    if found is not None:
        return found
    errors.add(name, f"{raw} is not one of {', '.join(choices)} (e.g. {example}).")
    return ""


def _location(code: str, name: str, errors: _Errors, lookups: Lookups) -> str:
    written = code.strip()
    code = code.replace(" ", "").upper()
    if not code:
        return ""
    # Said of the text as typed ("Hamburg"): in capitals it would read as a code.
    problem = identifiers.unlocode_shape_problem(code, written=written)
    if problem:
        errors.add(name, problem + lookups.place_hint(written))
        return ""
    known = lookups.location(code)
    if known is None:
        hint = lookups.place_hint(written) or " Check the code, or ask an admin to import it."
        errors.add(name, f"{code} is not in our UN/LOCODE list.{hint}")
        return ""
    if not known[0]:
        errors.add(name, f"{code} is a retired UN/LOCODE; use its replacement.")
        return ""
    return code


def _customer(code: str, scope: Scope, lookups: Lookups, errors: _Errors) -> Organisation | None:
    code = code.upper()
    if scope.is_customer:
        customer = _own_customer(code, scope, lookups, errors)
        if customer is None:
            return None
    elif scope.is_staff:
        if not code:
            errors.add("customer_code", _REQUIRED)
            return None
        customer = lookups.customer(code)
        if customer is None:
            errors.add("customer_code", f"There is no customer with code {code}.{lookups.customer_hint(code)}")
            return None
    else:
        errors.add("customer_code", "Only our staff and customers can place orders.")
        return None
    if OrganisationKind.CUSTOMER not in customer.kinds:
        errors.add("customer_code", f"{customer.code} is not a customer.")
        return None
    if not customer.is_active:
        errors.add("customer_code", f"{customer.code} is inactive and cannot place orders.")
        return None
    if not customer.may_place_orders:
        errors.add("customer_code", f"{customer.code} may not place orders at the moment (e.g. credit hold).")
        return None
    return customer


def _own_customer(code: str, scope: Scope, lookups: Lookups, errors: _Errors) -> Organisation | None:
    """The customer a customer person or key orders for: the one named, if the scope acts for it; else the scope's
    only organisation. Someone acting for several customers names one: guessing would file the order under the
    wrong company. Another customer's code is answered like an unknown one, naming only the scope's own codes."""
    ids = scope.organisation_ids
    if code:
        customer = lookups.customer(code)
        if customer is not None and customer.pk in ids:
            return customer
        errors.add("customer_code", f"You can only place orders for {_scope_codes(scope, lookups)}.")
        return None
    if not ids:
        errors.add("customer_code", "Only our staff and customers can place orders.")
        return None
    if len(ids) > 1:
        errors.add(
            "customer_code",
            f"You act for several customers ({_scope_codes(scope, lookups, joined_by=', ')}): "
            "name the one this order is for in customer_code.",
        )
        return None
    (own_id,) = ids
    own = next((o for o in lookups.customers.values() if o is not None and o.pk == own_id), None)
    if own is None:
        own = Organisation.objects.select_related("account_branch").get(pk=own_id)
        lookups.customers[own.code] = own
    return own


def _scope_codes(scope: Scope, lookups: Lookups, *, joined_by: str = " or ") -> str:
    """The codes of the customers a customer scope acts for, for a message ("ACME or GLOBEX"): one query per
    batch at most, and only on the way to an error."""
    if scope.organisation_ids not in lookups.scope_codes:
        lookups.scope_codes[scope.organisation_ids] = sorted(
            Organisation.objects.filter(pk__in=scope.organisation_ids).values_list("code", flat=True)
        )
    codes = lookups.scope_codes[scope.organisation_ids]
    return f"{', '.join(codes[:-1])}{joined_by}{codes[-1]}" if len(codes) > 1 else "".join(codes)


def _branch(
    code: str,
    customer: Organisation | None,
    scope: Scope,
    lookups: Lookups,
    errors: _Errors,
    current: Organisation | None = None,
):
    """The handling branch: the one staff name, else the one the order gets without a choice (`_implied_branch`).
    Anyone else may name only that one (the branch_code GET returns): naming it chooses nothing, so an order read
    by GET can be sent back by PUT or cloned by POST; naming another is refused."""
    code = code.upper()
    if code and scope.is_staff:
        branch = lookups.branch(code)
        if branch is None or OrganisationKind.BRANCH not in branch.kinds or not branch.is_active:
            errors.add("branch_code", f"{code} is not one of our active branches.")
            return None
        return branch
    branch = _implied_branch(customer, scope, lookups, current)
    if code and (branch is None or branch.code != code):
        errors.add("branch_code", "Only our staff choose the handling branch.")
        return None
    if branch is None and scope.is_customer:
        errors.add("branch_code", "Your account has no handling branch yet; please ask your account manager.")
    elif branch is None:
        errors.add("branch_code", "Name the branch that handles this order (the customer has no account branch).")
    return branch


def _implied_branch(
    customer: Organisation | None, scope: Scope, lookups: Lookups, current: Organisation | None
) -> Organisation | None:
    """The branch an order gets when no branch is named: the one it has (an edit by someone who may not choose),
    the customer's account branch, else our only branch (customers) or the staff member's own branch."""
    if current is not None:
        return current
    if customer is not None and customer.account_branch_id:
        return customer.account_branch
    if scope.is_customer:
        if "" not in lookups.branches:  # cache "the only branch" (None when there are several)
            branches = list(Organisation.objects.branches().active()[:2])
            lookups.branches[""] = branches[0] if len(branches) == 1 else None
        return lookups.branches[""]
    if scope.is_staff:
        for organisation_id in sorted(scope.organisation_ids):
            branch = next((b for b in lookups.branches.values() if b and b.pk == organisation_id), None)
            branch = branch or Organisation.objects.filter(pk=organisation_id, kinds__contains=["branch"]).first()
            if branch is not None:
                lookups.branches[branch.code] = branch
                return branch
    return None


_LINES_AS_A_LIST = 'Send lines as a list of cargo lines, even for one line: [{"pieces": 1, "gross_weight_kg": "5"}].'


def _lines(raw_lines: Any, mode: str, order_description: str, errors: _Errors) -> list[dict[str, Any]]:
    if raw_lines not in (None, "") and not isinstance(raw_lines, list | tuple):
        # Most often one line sent as an object: "needs at least one cargo line" would deny the line it sent.
        errors.add("lines", _LINES_AS_A_LIST)
        return []
    if not raw_lines:
        errors.add("lines", "An order needs at least one cargo line.")
        return []
    if len(raw_lines) > MAX_LINES:
        errors.add("lines", f"An order can have at most {MAX_LINES} cargo lines.")
        return []
    clean = []
    for index, raw in enumerate(raw_lines):
        if not isinstance(raw, Mapping):
            errors.add(f"lines[{index}]", "Each cargo line must be an object with its fields.")
            continue
        line = _line(raw, f"lines[{index}].", mode, order_description, errors)
        line["line_no"] = index + 1
        clean.append(line)
    return clean


def _line(raw: Mapping[str, Any], prefix: str, mode: str, order_description: str, errors: _Errors) -> dict[str, Any]:
    get = raw.get
    line: dict[str, Any] = {
        "pieces": _integer(get("pieces"), prefix + "pieces", errors),
        "gross_weight_kg": _decimal(
            get("gross_weight_kg"), prefix + "gross_weight_kg", errors, places=3, limit=_WEIGHT_LIMIT, required=True
        ),
        "volume_m3": None, "length_cm": None, "width_cm": None, "height_cm": None,
    }  # fmt: skip
    # Optional numbers: an absent or empty value costs one lookup.
    for name, places, limit in _OPTIONAL_LINE_NUMBERS:
        value = get(name)
        if value is not None and value != "":
            line[name] = _decimal(value, prefix + name, errors, places=places, limit=limit)
    if line["volume_m3"] is None and line["height_cm"] is not None:  # measured by its dimensions only
        volume = line_volume_m3(line)
        if volume >= _VOLUME_LIMIT[0]:
            most = _VOLUME_LIMIT[1]
            message = f"The dimensions give a volume of {volume:,.0f} m³; a cargo line holds less than {most} m³."
            errors.add(prefix + "volume_m3", message)
    own_description = _str(get("description"))
    description = own_description or order_description
    if not description:
        errors.add(prefix + "description", "Describe the goods, e.g. 'Machine parts'.")
    elif len(own_description) > _LINE_DESCRIPTION_LIMIT:  # the order's own description is checked with the order
        errors.add(prefix + "description", _too_long(own_description, _LINE_DESCRIPTION_LIMIT))
    line["description"] = description

    package = _str(get("package_type"))
    line["package_type"] = PackageType.PACKAGE
    if package:
        upper = package.upper()
        code = upper if upper in _PACKAGE_CODES else _PACKAGE_ALIASES.get(package.lower())
        if code is None:
            errors.add(
                prefix + "package_type",
                f"{package} is not a package type we know, e.g. PX (pallet), CT (carton).",
            )
        else:
            line["package_type"] = code

    hs_code = _str(get("hs_code"))
    line["hs_code"] = ""
    if hs_code:
        line["hs_code"], problem = _hs_code(hs_code)
        if problem:
            errors.add(prefix + "hs_code", problem)

    line["container_number"] = line["container_type"] = ""
    line["seal_numbers"] = []
    if mode and mode not in _CONTAINER_MODES:
        _refuse_containers(raw, prefix, mode, errors)
    else:
        _container(raw, prefix, line, errors)

    awb = _str(get("awb_number"))
    line["awb_number"] = ""
    if awb:
        problem = identifiers.awb_number_problem(awb)
        if problem:
            errors.add(prefix + "awb_number", problem)
        else:
            line["awb_number"] = identifiers.normalize_awb_number(awb)
        if mode and mode != Mode.AIR:
            errors.add(prefix + "awb_number", "Air waybill numbers belong on air orders.")

    un_number, dg_class, packing_group = (
        _str(get("un_number")),
        _str(get("dg_class")).upper(),
        _str(get("packing_group")),
    )
    line["un_number"] = line["dg_class"] = line["packing_group"] = ""
    if un_number:
        problem = identifiers.un_number_problem(un_number)
        if problem:
            errors.add(prefix + "un_number", problem)
        else:
            line["un_number"] = un_number.upper().removeprefix("UN").strip()
        if not dg_class:
            errors.add(prefix + "dg_class", "Dangerous goods need their class, e.g. 3.")
    if dg_class:
        problem = identifiers.dg_class_problem(dg_class)
        if problem:
            errors.add(prefix + "dg_class", problem)
        line["dg_class"] = dg_class
        if not un_number:
            errors.add(prefix + "un_number", "A dangerous-goods class needs the UN number too, e.g. 1203.")
    if packing_group:
        group = packing_group.upper().replace("PG", "").strip()
        if group not in _PACKING_GROUPS:
            errors.add(prefix + "packing_group", f"{packing_group} is not a packing group: use I, II or III.")
        elif not un_number and not dg_class:  # with a class alone, the UN number's own error says what is missing
            errors.add(
                prefix + "packing_group", "A packing group needs the UN number and class too, e.g. 1203 / 3 / II."
            )
        elif dg_class in identifiers.DG_CLASSES:  # an unknown class has its own error
            problem = identifiers.packing_group_problem(dg_class=dg_class, packing_group=group)
            if problem:
                errors.add(prefix + "packing_group", problem)
        line["packing_group"] = group
    return line


def _container(raw: Mapping[str, Any], prefix: str, line: dict[str, Any], errors: _Errors) -> None:
    """A line's container number, ISO size-type and seals, on an order whose mode carries the customer's boxes."""
    container = _str(raw.get("container_number"))
    if container:
        problem = identifiers.container_number_problem(container)
        if problem:
            errors.add(prefix + "container_number", problem)
        else:
            line["container_number"] = identifiers.normalize_container_number(container)
    container_type = _str(raw.get("container_type")).upper()
    if container_type:
        problem = identifiers.iso_size_type_problem(container_type)
        if problem:
            errors.add(prefix + "container_type", problem)
        line["container_type"] = container_type
    seals = raw.get("seal_numbers")
    if seals is not None and seals != "":
        line["seal_numbers"] = _seals(seals, prefix + "seal_numbers", errors)


def _refuse_containers(raw: Mapping[str, Any], prefix: str, mode: str, errors: _Errors) -> None:
    """On an order whose mode carries none of the customer's containers, each container field given is an error:
    one message, for the box does not belong here whatever its number's check digit says."""
    why = ": the consolidator's box is planned on the shipment" if mode == Mode.OCEAN_LCL else ""
    message = f"Containers belong on Ocean FCL or Rail orders, not {Mode(mode).label}{why}."
    for name in _CONTAINER_FIELDS:
        value = raw.get(name)
        if value if isinstance(value, list | tuple) else _str(value):  # seals may come as a list
            errors.add(prefix + name, message)


def _seals(raw: Any, name: str, errors: _Errors) -> list[str]:
    """A line's seal numbers, from text separated by commas (or semicolons) or a list of texts. Too many or
    too long is an error, never cut: a seal number that differs from the one on the box is worthless."""
    if type(raw) is str:
        parts: Any = raw.replace(";", ",").split(",")
    elif isinstance(raw, list | tuple) and all(type(part) is str for part in raw):
        parts = raw
        if name in errors:  # a NUL or a lone surrogate in one of them (_refuse_unstorable_values)
            return []
    else:
        errors.add(name, _SEALS_SHAPE)
        return []
    seals = [seal.upper() for part in parts if (seal := part.strip())]
    if len(seals) > MAX_SEALS_PER_LINE:
        errors.add(
            name, f"A cargo line can name at most {MAX_SEALS_PER_LINE} seal numbers (this one has {len(seals)})."
        )
    for seal in seals:
        if len(seal) > SEAL_LENGTH_LIMIT:
            errors.add(name, f"{seal} is not a seal number: use at most {SEAL_LENGTH_LIMIT} characters.")
    return seals


def _declared_value_places(raw: Any, value: Decimal, currency: str, errors: _Errors) -> None:
    """A declared value has no finer amount than its currency's ISO 4217 minor unit: no yen cents (JPY has none).

    A point before three digits in a currency with fewer decimals ("150.000" yen, "12.000" euros) can only be a
    decimal point if the amount is written finer than the currency goes; people who group thousands with a point
    write it so. Both readings are named and the amount refused, as "1,000" is: read as decimals it was stored a
    thousand times too small ("150.000" yen as 150). "0.500" and "1500.000" are no thousands groups, so read as
    written."""
    places = decimal_places(currency)
    text = str(raw).strip()
    if places < 3 and "," not in text and _POINT_GROUPS.fullmatch(text.translate(_GROUP_SPACES).lstrip("+")):
        errors.add("declared_value", _ambiguous_message(text))
    # ISO 4217 minor units are 0, 2, 3 or 4 decimals (CLF, UYW): only the whole currencies take fewer than the column.
    elif places == 0 and value != value.to_integral_value():
        errors.add("declared_value", f"{currency} amounts have no decimals: give a whole amount.")


def _total_problems(order: Mapping[str, Any], errors: _Errors) -> None:
    for name, label, unit, limit in _TOTAL_LIMITS:
        if order[name] >= limit:
            errors.add(
                "lines",
                f"The cargo lines add up to a {label} of {order[name]:,} {unit}; an order holds less than {limit:,}.",
            )


def _line_prefix(line: Mapping[str, Any]) -> str:
    """How errors name a clean line's fields: by the raw line's index (_lines skips a line that is no object)."""
    return f"lines[{line['line_no'] - 1}]."


def _equipment(lines: list[dict[str, Any]], errors: _Errors) -> list[dict[str, Any]]:
    """One row per container named on the lines (and one per typed but unnumbered line). Seals are kept on their
    container, so seals on a line that names none are an error: there is nothing to keep them on."""
    boxes: dict[str, dict[str, Any]] = {}
    unnumbered = []
    for line in lines:
        number, iso_type, seals = (
            line["container_number"],
            line.pop("container_type"),
            line.pop("seal_numbers"),
        )
        if not number and not iso_type:
            if seals:
                prefix = _line_prefix(line)
                if prefix + "container_number" not in errors:  # a refused number has its own error
                    errors.add(prefix + "seal_numbers", "Seal numbers need a container number or type.")
            continue
        if not number:
            unnumbered.append({"container_number": "", "iso_type": iso_type, "seal_numbers": seals})
            continue
        box = boxes.setdefault(number, {"container_number": number, "iso_type": iso_type, "seal_numbers": []})
        if iso_type and box["iso_type"] and iso_type != box["iso_type"]:
            errors.add(_line_prefix(line) + "container_type", f"{number} is already given as a {box['iso_type']}.")
        box["iso_type"] = box["iso_type"] or iso_type
        box["seal_numbers"] = sorted({*box["seal_numbers"], *seals})
    for box in boxes.values():
        if not box["iso_type"]:
            box["iso_type"] = "22G1"
    return [*boxes.values(), *unnumbered]


# Characters a reference cannot hold: control characters, and the invisible "format" ones (Unicode category Cf:
# zero-width spaces and joiners, bidirectional overrides and isolates, the byte order mark, the soft hyphen). A
# reference is the sender's key, compared character by character: "PO-\u200b1001" reads exactly like "PO-1001"
# on every screen and in every file, yet would be a second order beside it, and a right-to-left override makes a
# reference read as another one.
_HIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _hidden_character(value: str) -> str | None:
    """Why a reference cannot be stored as it is (naming the character), or None."""
    found: re.Match[str] | str | None = _HIDDEN.search(value)
    if found is None and not value.isascii():
        found = next((char for char in value if unicodedata.category(char) == "Cf"), None)
    if found is None:
        return None
    char = found if isinstance(found, str) else found.group()
    return (
        f"Contains an invisible character (U+{ord(char):04X}); remove it: a reference must read as it is stored, "
        "or it would stand beside an order whose reference looks the same."
    )


_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_MESSAGE = "Contains a character that is not valid Unicode (a lone surrogate); remove it."
_SCALARS = (str, int, float, Decimal, datetime.date)


def _value_problem(value: Any) -> str | None:
    """Why a raw value cannot be stored as one field, or None: a NUL (PostgreSQL cannot store it), a lone
    surrogate (no UTF-8 for it), a list or an object where one value belongs (it would be stored as Python's
    repr of it), true or false."""
    if type(value) is str:
        if "\x00" in value:
            return _NUL_MESSAGE
        if not value.isascii() and _SURROGATE.search(value):
            return _SURROGATE_MESSAGE
        return None
    if value is None:
        return None
    if isinstance(value, bool):
        return "Send text or a number here, not true or false."
    if isinstance(value, _SCALARS):
        return None
    return f"Send text or a number here, not {'a list' if isinstance(value, list | tuple) else 'an object'}."


def _refuse_unstorable_values(data: Mapping[str, Any], errors: _Errors) -> None:
    """Every field of the order and its lines holds one storable value; seal numbers may be a list of texts."""
    for name, value in data.items():
        if name not in ("lines", "submit") and (problem := _value_problem(value)):  # lines: checked below
            errors.unreadable_value(name, problem)
    raw_lines = data.get("lines")
    if isinstance(raw_lines, list | tuple):
        for index, line in enumerate(raw_lines):
            if not isinstance(line, Mapping):
                continue
            for name, value in line.items():
                if name == "seal_numbers":  # text or a list of texts: _seals checks the shape
                    parts = value if isinstance(value, list | tuple) else [value]
                    problems = (_value_problem(part) for part in parts if type(part) is str)
                    problem = next((found for found in problems if found), None)
                else:
                    problem = _value_problem(value)
                if problem:
                    errors.unreadable_value(f"lines[{index}].{name}", problem)


def validate_order(
    data: Mapping[str, Any],
    *,
    scope: Scope,
    lookups: Lookups | None = None,
    current_branch: Organisation | None = None,
    points_may_group_thousands: bool = False,
    draft: bool = False,
) -> tuple[CleanOrder | None, dict[str, list[str]]]:
    """Check raw order data; return (clean order, {}) or (None, errors by field). `current_branch`: the
    branch an edited order keeps when no branch is named (services.order_update passes it for customers).
    `draft`: the data of a draft, which may lack NEEDED_TO_SUBMIT_FIELDS and cargo lines (what it has is checked).
    `points_may_group_thousands`: the data comes from a file where "1.500" may mean fifteen hundred (written
    with semicolons), so that shape is refused instead of read as 1.5."""
    lookups = lookups or Lookups()
    errors = _Errors(points_may_group_thousands=points_may_group_thousands)
    if not isinstance(data, Mapping):
        return None, {"non_field_errors": ["Send the order as an object of fields."]}
    _refuse_unstorable_values(data, errors)
    # Every order field, read and stripped once.
    text = {name: _str(value) for name, value in data.items() if name in _ORDER_FIELD_SET}
    field_text = text.get
    unknown = [name for name in data if name not in _KNOWN_KEYS]
    for name in sorted(unknown):
        errors.add(name, "This field is not part of an order (state and references are set by OMS).")
    for name in REQUIRED_ORDER_FIELDS:
        if not field_text(name) and not (draft and name in NEEDED_TO_SUBMIT_FIELDS):
            errors.add(name, _REQUIRED)
    for name, limit in _TEXT_LIMITS:
        value = field_text(name)
        if value and len(value) > limit:
            errors.add(name, _too_long(value, limit))
    if problem := _hidden_character(field_text("customer_reference", "")):
        errors.add("customer_reference", problem)

    customer = _customer(field_text("customer_code", ""), scope, lookups, errors)
    # The branch follows from the customer: a refused customer is the error, not a branch nobody could find.
    branch = (
        None
        if "customer_code" in errors
        else _branch(field_text("branch_code", ""), customer, scope, lookups, errors, current_branch)
    )
    mode = _choice(field_text("mode", ""), "mode", errors, _MODES, "ocean_fcl") if "mode" not in errors else ""
    service_level = field_text("service_level") or ServiceLevel.STANDARD
    service_level = _choice(service_level, "service_level", errors, _SERVICE_LEVELS, "standard")
    incoterm = field_text("incoterm", "").upper()
    if incoterm:
        incoterm = _choice(incoterm, "incoterm", errors, _INCOTERMS, "FCA")
        if incoterm in SEA_ONLY_INCOTERMS and mode and mode not in SEA_MODES:
            errors.add(
                "incoterm",
                f"{incoterm} is for sea and inland waterway only; for {Mode(mode).label} use FCA, CPT or CIP.",
            )

    origin = _location(field_text("origin", ""), "origin", errors, lookups)
    destination = _location(field_text("destination", ""), "destination", errors, lookups)
    if origin and origin == destination and mode not in _WITHIN_ONE_CITY_MODES:
        errors.add("destination", "Destination must differ from the origin.")

    pickup = _date(data.get("requested_pickup_on"), "requested_pickup_on", errors, required=False)
    delivery = _date(data.get("requested_delivery_on"), "requested_delivery_on", errors, required=False)
    if pickup and delivery and delivery < pickup:
        errors.add("requested_delivery_on", "Delivery cannot be before pickup.")

    declared_value = _decimal(
        data.get("declared_value"), "declared_value", errors, places=_VALUE_PLACES, limit=_VALUE_LIMIT
    )
    currency = field_text("currency", "").upper()
    if currency:
        problem = currency_problem(currency)
        if problem:
            errors.add("currency", problem)
        elif declared_value is not None:
            _declared_value_places(data.get("declared_value"), declared_value, currency, errors)
    if declared_value is not None and not currency:
        errors.add("currency", "Give the currency of the declared value, e.g. EUR.")
    if currency and declared_value is None and "declared_value" not in errors:
        errors.add("declared_value", "Give the declared value for this currency, or leave both empty.")

    description = field_text("description", "")
    raw_lines = data.get("lines")
    lines = [] if draft and raw_lines in (None, "", [], ()) else _lines(raw_lines, mode, description, errors)
    equipment = _equipment(lines, errors)
    if errors.by_field:
        return None, errors.by_field
    cargo_totals = totals(lines, mode=mode)
    _total_problems(cargo_totals, errors)
    if errors.by_field:
        return None, errors.by_field

    # Incoterms need a named place; the lane gives the obvious one.
    named_place = field_text("named_place", "") or derived_named_place(
        incoterm=incoterm, origin=origin, destination=destination, lookups=lookups
    )
    order = {
        "customer": customer,
        "customer_reference": field_text("customer_reference", ""),
        "branch": branch,
        "mode": mode,
        "service_level": service_level,
        "incoterm": incoterm,
        "named_place": named_place,
        "origin_id": origin,
        "origin_address": field_text("origin_address", ""),
        "destination_id": destination,
        "destination_address": field_text("destination_address", ""),
        "shipper_name": field_text("shipper_name", ""),
        "shipper_address": field_text("shipper_address", ""),
        "consignee_name": field_text("consignee_name", ""),
        "consignee_address": field_text("consignee_address", ""),
        "notify_name": field_text("notify_name", ""),
        "notify_address": field_text("notify_address", ""),
        "description": description,
        "requested_pickup_on": pickup,
        "requested_delivery_on": delivery,
        "declared_value_amount": declared_value,
        "declared_value_currency": currency,
        "special_instructions": field_text("special_instructions", ""),
        **cargo_totals,
    }
    return CleanOrder(order=order, lines=lines, equipment=equipment), {}
