"""How every OMS screen writes a date or a time (docs/architecture.md, "Dates and times on screens").

    {% load oms_dates %}
    {{ order.requested_pickup_on|oms_date }}              7 Dec           5 Jan 2027
    {{ order.created_at|oms_datetime }}                   7 Dec, 14:05    5 Jan 2027, 14:05
    {{ leg.planned_departure_at|oms_datetime:"weekday" }} Mon 7 Dec, 14:05
    {{ booking.cutoff_at|oms_datetime:"year" }}           7 Dec 2026, 14:05 (e-mails and print: read later)

Day, short month, the year only when it is not this year on the viewer's clock (the active time zone, as `date`
uses; inside `{% localtime off %}` a moment keeps its own offset, as there), so a date of another year never loses
its year. Times are 24-hour and on the same clock. Python code that writes a moment for a screen (a list's ready-made
rows) passes it through `timezone.localtime` first, as the template engine does for these filters.
"""

from __future__ import annotations

import datetime

from django import template
from django.utils import timezone
from django.utils.dates import MONTHS_3, WEEKDAYS_ABBR

register = template.Library()

_STYLES = frozenset({"weekday", "year"})


def _styles(style: str) -> frozenset[str]:
    words = frozenset(style.replace(",", " ").split())
    if unknown := words - _STYLES:
        raise ValueError(f"unknown date style {', '.join(sorted(unknown))}: use weekday and/or year")
    return words


def _day(day: datetime.date, styles: frozenset[str]) -> str:
    text = f"{day.day} {str(MONTHS_3[day.month]).title()}"
    if "weekday" in styles:
        text = f"{WEEKDAYS_ABBR[day.weekday()]} {text}"
    if "year" in styles or day.year != timezone.localdate().year:
        text = f"{text} {day.year}"
    return text


def datetime_text(moment: datetime.datetime, style: str = "") -> str:
    """`oms_datetime` for Python code that writes a moment into a text (a notice, a history line): on the moment's
    own clock, so convert it to the reader's first (`timezone.localtime(moment, zone)`)."""
    return f"{_day(moment, _styles(style))}, {moment:%H:%M}"


@register.filter(expects_localtime=True)
def oms_date(value: datetime.date | None, style: str = "") -> str:
    """The day of a date or a moment: `7 Dec`, `5 Jan 2027`; `weekday` adds `Mon`, `year` always the year."""
    if not isinstance(value, datetime.date):
        return ""
    return _day(value, _styles(style))


@register.filter(expects_localtime=True)
def oms_datetime(value: datetime.date | None, style: str = "") -> str:
    """A moment to the minute: `7 Dec, 14:05`, `5 Jan 2027, 14:05`; a plain date is written as `oms_date` does."""
    if not isinstance(value, datetime.date):
        return ""
    if not isinstance(value, datetime.datetime):
        return _day(value, _styles(style))
    return datetime_text(value, style)
