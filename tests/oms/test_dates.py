"""One way to write a date on every screen (oms.templatetags.oms_dates, docs/architecture.md "Dates and times on
screens"). Before, the order list read "2026-12-28" and "2026-12-07 12:24", the order page "Tue 27 Oct 2026" and
"7 Dec 2026, 19:24", the shipment page "09 Dec 18:00", the Today screen "Monday 07 December 2026", and the planning
list "05 Dec" … "01 Jan": a pickup in January 2027 without its year, read as January 2026."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.template import Context, Template
from django.utils import timezone

from oms.templatetags.oms_dates import oms_date, oms_datetime

UTC = datetime.UTC
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


@pytest.fixture
def today_is_7_dec_2026(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: datetime.datetime(2026, 12, 7, 10, 0, tzinfo=UTC))


@pytest.fixture
def new_year_in_shanghai_only(monkeypatch):
    """31 Dec 2026, 20:00 UTC: still 2026 in UTC, already 1 Jan 2027, 04:00 in Shanghai."""
    monkeypatch.setattr(timezone, "now", lambda: datetime.datetime(2026, 12, 31, 20, 0, tzinfo=UTC))


def render(text: str, **context) -> str:
    return Template("{% load oms_dates tz %}" + text).render(Context(context))


def test_a_date_of_this_year_drops_its_year_and_one_of_another_year_keeps_it(today_is_7_dec_2026):
    assert oms_date(datetime.date(2026, 12, 28)) == "28 Dec"
    assert oms_date(datetime.date(2027, 1, 5)) == "5 Jan 2027"
    assert oms_date(datetime.date(2025, 12, 28)) == "28 Dec 2025"


def test_a_moment_is_written_to_the_minute_after_its_day(today_is_7_dec_2026):
    assert oms_datetime(datetime.datetime(2026, 12, 7, 9, 5, tzinfo=UTC)) == "7 Dec, 09:05"
    assert oms_datetime(datetime.datetime(2027, 1, 4, 18, 0, tzinfo=UTC)) == "4 Jan 2027, 18:00"
    assert oms_datetime(datetime.date(2027, 1, 4)) == "4 Jan 2027"  # a date has no time to give


def test_planning_asks_for_the_weekday_and_mail_for_the_year_always(today_is_7_dec_2026):
    assert oms_date(datetime.date(2026, 12, 9), "weekday") == "Wed 9 Dec"
    assert oms_datetime(datetime.datetime(2027, 1, 15, 18, 0, tzinfo=UTC), "weekday") == "Fri 15 Jan 2027, 18:00"
    assert oms_date(datetime.date(2026, 12, 9), "year") == "9 Dec 2026"
    assert oms_datetime(datetime.datetime(2026, 12, 9, 6, 0, tzinfo=UTC), "weekday year") == "Wed 9 Dec 2026, 06:00"


def test_nothing_to_write_is_empty_so_a_template_can_say_what_instead(today_is_7_dec_2026):
    assert oms_date(None) == ""
    assert render('{{ at|oms_datetime|default:"—" }}', at=None) == "—"
    assert render('{{ at|oms_date|default:"never" }}', at="") == "never"


def test_an_unknown_style_is_a_mistake_not_a_silent_default(today_is_7_dec_2026):
    with pytest.raises(ValueError, match="weekdays"):
        oms_date(datetime.date(2026, 12, 9), "weekdays")


def test_a_moment_is_written_on_the_viewers_clock(today_is_7_dec_2026):
    """The template engine hands the filters the moment in the active time zone, as it does `date`."""
    at = datetime.datetime(2026, 12, 6, 23, 30, tzinfo=UTC)
    with timezone.override(SHANGHAI):
        assert render("{{ at|oms_datetime }} {{ at|oms_date }}", at=at) == "7 Dec, 07:30 7 Dec"
    with timezone.override(UTC):
        assert render("{{ at|oms_datetime }}", at=at) == "6 Dec, 23:30"
    with timezone.override(SHANGHAI):  # an event's own line keeps the sender's offset, as `date` does
        sender = at.astimezone(zoneinfo.ZoneInfo("America/Chicago"))
        assert render('{% localtime off %}{{ at|oms_datetime }} {{ at|date:"O" }}{% endlocaltime %}', at=sender) == (
            "6 Dec, 17:30 -0600"
        )


def test_this_year_is_the_viewers_year(new_year_in_shanghai_only):
    """At 04:00 on 1 Jan 2027 in Shanghai, yesterday is of another year there, while UTC still lives in 2026."""
    yesterday = datetime.datetime(2026, 12, 31, 10, 0, tzinfo=UTC)
    with timezone.override(SHANGHAI):
        assert render("{{ at|oms_datetime }}", at=yesterday) == "31 Dec 2026, 18:00"
        assert render("{{ on|oms_date }}", on=datetime.date(2027, 1, 2)) == "2 Jan"
    with timezone.override(UTC):
        assert render("{{ at|oms_datetime }}", at=yesterday) == "31 Dec, 10:00"
        assert render("{{ on|oms_date }}", on=datetime.date(2027, 1, 2)) == "2 Jan 2027"
