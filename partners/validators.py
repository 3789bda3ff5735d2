"""Validators for codes and names used across the apps."""

import difflib
import functools
import zoneinfo

import pycountry
from django.core.exceptions import ValidationError


def validate_currency_code(value: str) -> None:
    """An ISO 4217 alphabetic currency code that exists, e.g. EUR."""
    if not value or len(value) != 3 or not value.isalpha() or not value.isupper():
        raise ValidationError("Use a three-letter ISO 4217 currency code in capitals, e.g. EUR.", code="currency")
    if pycountry.currencies.get(alpha_3=value) is None:
        raise ValidationError(f"{value} is not an ISO 4217 currency code.", code="currency")


@functools.cache
def time_zone_names() -> frozenset[str]:
    """The IANA zone names this machine knows, read once a process (a new tz database needs a restart)."""
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def is_time_zone(name: str) -> bool:
    """Whether `zoneinfo.ZoneInfo(name)` gives a zone. Checked against the list of zones rather than by trying:
    ZoneInfo raises for a folder of the tz database ("Europe": IsADirectoryError) and opens files for names
    typed by people."""
    return name in time_zone_names()


def time_zone_spelt(name: str) -> str:
    """The zone's name as the tz database spells it when `name` differs only in case or surrounding spaces
    (europe/berlin → Europe/Berlin); else `name` as given, for the validator to judge."""
    typed = name.strip()
    if is_time_zone(typed):
        return typed
    return next((zone for zone in time_zone_names() if zone.lower() == typed.lower()), typed)


def validate_time_zone(value: str) -> None:
    """An IANA time zone name that exists, e.g. Europe/Berlin: a misspelt one would put a branch's business
    hours, SLAs and screens on the server's clock without a word (partners.time_zones.zone_named)."""
    if is_time_zone(value):
        return
    close = difflib.get_close_matches(value, sorted(time_zone_names()), n=1, cutoff=0.8)
    hint = f" Did you mean {close[0]}?" if close else ""
    raise ValidationError(
        "%(value)s is not a time zone name (e.g. Europe/Berlin, Asia/Shanghai, UTC).%(hint)s",
        code="time_zone",
        params={"value": value, "hint": hint},
    )
