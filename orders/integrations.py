"""What an integration's configuration must hold.

Checked where it is set (the console's IntegrationForm) and again where it is read (the Shopify webhook): an
integration saved before a check existed may hold anything, and a delivery must then be answered as a
configuration problem, not fail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from orders import identifiers
from orders.models import Location

DESTINATIONS_EXAMPLE = '{"DE": "DEHAM", "FR": "FRPAR"}'
_COUNTRY_RE = re.compile(r"[A-Z]{2}")


def _shown(value: Any) -> str:
    """A JSON value as the admin typed it; a lone surrogate escaped, since no page could carry it."""
    return json.dumps(value, ensure_ascii=False, default=str).encode("utf-8", "backslashreplace").decode()


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    return _shown(value)


def destinations_check(value: Any) -> tuple[dict[str, str], list[str]]:
    """(mapping as stored, problems): {ISO country code: UN/LOCODE in that country, known and active}, upper case
    and without spaces ({"de": "de ham"} is {"DE": "DEHAM"}), and every problem, each naming its entry. Empty: {}."""
    if value is None or value == "":
        return {}, []
    if not isinstance(value, Mapping):
        return {}, [f"Give an object of country codes and UN/LOCODEs, e.g. {DESTINATIONS_EXAMPLE}, not {_kind(value)}."]
    entries: dict[str, str] = {}
    shown: dict[str, str] = {}  # each entry as typed, for the messages
    problems: list[str] = []
    for key, code in value.items():
        entry = f"{_shown(key)}: {_shown(code)}"
        country = str(key).replace(" ", "").upper()
        if not _COUNTRY_RE.fullmatch(country):
            problems.append(f'{entry}: a country is its two-letter ISO code, e.g. "DE".')
        elif not isinstance(code, str):
            problems.append(f'{entry}: the destination is a UN/LOCODE in quotes, e.g. "DEHAM".')
        elif country in entries:
            problems.append(f"{entry}: {country} is given twice; keep one destination per country.")
        else:
            location = code.replace(" ", "").upper()
            problem = identifiers.unlocode_shape_problem(location)
            if problem:
                problems.append(f"{entry}: {problem}")
            else:
                entries[country], shown[country] = location, entry
    known = {place.code: place for place in Location.objects.filter(code__in=entries.values())}
    for country, code in list(entries.items()):
        entry, place = shown[country], known.get(code)
        if place is None:
            problems.append(f"{entry}: {code} is not in our UN/LOCODE list.")
        elif not place.is_active:
            problems.append(f"{entry}: {code} is a retired UN/LOCODE; use its replacement.")
        elif place.country != country:
            problems.append(f"{entry}: {code} ({place.name}) is in {place.country}, not in {country}.")
        else:
            continue
        del entries[country]
    return entries, problems


def destination_for_country(value: Any, country: str) -> tuple[str, str | None]:
    """(UN/LOCODE, problem) a stored destination-by-country mapping gives for one country: ("", None) when it names
    none, a problem when it cannot be used (its shape, or this country's entry; other entries do not matter)."""
    if not value:
        return "", None
    if not isinstance(value, Mapping):
        return "", destinations_check(value)[1][0]
    for key, code in value.items():
        if str(key).replace(" ", "").upper() == country:
            entries, problems = destinations_check({key: code})
            return (entries[country], None) if not problems else ("", problems[0])
    return "", None
