"""What validation reads from the database, read once per batch: `Lookups`.

A file of 100,000 rows fills it once (customers and locations from the file's scan, `Lookups.preload`); one order on a
screen fills it as it asks. It also looks up the hints of error messages ("Shanghai's UN/LOCODE is CNSHA.", "Did you
mean ACME?"), once per distinct mistake and at most MAX_HINTS per batch, never on a valid value.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.db.models.functions import Upper

from orders.models import Location
from partners.models import Organisation

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
