"""The business-hours calculator behind SLA due times: opening hours, weekends, holidays, time zones,
daylight-saving changes, and counting backwards from a date."""

from __future__ import annotations

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from workflows.business_hours import BusinessCalendar

BERLIN = ZoneInfo("Europe/Berlin")
SHANGHAI = ZoneInfo("Asia/Shanghai")
HAMBURG = BusinessCalendar(BERLIN)  # Mon–Fri 08:00–18:00


def berlin(day: str, at: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(f"{day}T{at}").replace(tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        (("2026-03-02", "09:00"), 2, ("2026-03-02", "11:00")),  # Monday, inside the day
        (("2026-03-02", "17:00"), 2, ("2026-03-03", "09:00")),  # runs over into Tuesday morning
        (("2026-03-02", "06:30"), 1, ("2026-03-02", "09:00")),  # before opening: the clock starts at 08:00
        (("2026-03-02", "20:00"), 1, ("2026-03-03", "09:00")),  # after closing: starts next morning
        (("2026-03-06", "16:00"), 8, ("2026-03-09", "14:00")),  # Friday afternoon → Monday
        (("2026-03-07", "11:00"), 3, ("2026-03-09", "11:00")),  # Saturday: waits for Monday
        (("2026-03-02", "08:00"), 10, ("2026-03-02", "18:00")),  # exactly one business day
        (("2026-03-02", "08:00"), 25, ("2026-03-04", "13:00")),  # 2.5 days
        (("2026-03-02", "10:00"), Decimal("1.5"), ("2026-03-02", "11:30")),
    ],
)
def test_adding_business_hours(start, hours, due):
    assert HAMBURG.add(berlin(*start), hours) == berlin(*due)


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        (("2026-03-04", "12:00"), -2, ("2026-03-04", "10:00")),
        (("2026-03-04", "09:00"), -2, ("2026-03-03", "17:00")),  # back into the previous afternoon
        (("2026-03-09", "08:00"), -8, ("2026-03-06", "10:00")),  # Monday opening back to Friday
        (("2026-03-04", "22:00"), -1, ("2026-03-04", "17:00")),  # after hours counts back from closing
    ],
)
def test_counting_back_from_a_date(start, hours, due):
    assert HAMBURG.add(berlin(*start), hours) == berlin(*due)


def test_zero_hours_is_the_start_itself():
    start = berlin("2026-03-07", "23:00")
    assert HAMBURG.add(start, 0) == start


def test_holidays_are_skipped():
    easter = BusinessCalendar(BERLIN, holidays=frozenset({datetime.date(2026, 4, 3), datetime.date(2026, 4, 6)}))
    # Thursday 17:00 + 2 h: Good Friday and Easter Monday closed, so Tuesday 09:00.
    assert easter.add(berlin("2026-04-02", "17:00"), 2) == berlin("2026-04-07", "09:00")


def test_custom_hours_and_a_six_day_week():
    shop = BusinessCalendar(SHANGHAI, opens_at=datetime.time(9), closes_at=datetime.time(13),
                            workdays=frozenset({0, 1, 2, 3, 4, 5}))  # fmt: skip
    start = datetime.datetime(2026, 3, 6, 12, 0, tzinfo=SHANGHAI)  # Friday
    assert shop.add(start, 3) == datetime.datetime(2026, 3, 7, 11, 0, tzinfo=SHANGHAI)  # Saturday works


def test_the_branch_time_zone_decides_what_business_hours_are():
    start = datetime.datetime(2026, 3, 2, 7, 0, tzinfo=datetime.UTC)  # 08:00 Berlin, 15:00 Shanghai
    assert HAMBURG.add(start, 4) == datetime.datetime(2026, 3, 2, 11, 0, tzinfo=datetime.UTC)
    # Shanghai has 3 h left that day (15:00–18:00), so the fourth is 08:00–09:00 next morning: 01:00 UTC.
    assert BusinessCalendar(SHANGHAI).add(start, 4) == datetime.datetime(2026, 3, 3, 1, 0, tzinfo=datetime.UTC)


def test_daylight_saving_change_does_not_shift_due_times():
    # Clocks go forward on Sunday 29 March 2026 in Berlin: Friday 17:00 + 2 h is Monday 09:00 local,
    # which is 07:00 UTC after the change (it would be 08:00 UTC the week before).
    due = HAMBURG.add(berlin("2026-03-27", "17:00"), 2)
    assert due == berlin("2026-03-30", "09:00")
    assert due.astimezone(datetime.UTC).hour == 7


# A fulfilment hub open every day, round the clock (the console's latest closing time is 23:59).
ROUND_THE_CLOCK = BusinessCalendar(
    BERLIN, opens_at=datetime.time(0, 0), closes_at=datetime.time(23, 59), workdays=frozenset(range(7))
)


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        (("2026-03-29", "01:00"), 4, ("2026-03-29", "06:00")),  # spring: 02:00 is 03:00; four real hours
        (("2026-03-29", "06:00"), -4, ("2026-03-29", "01:00")),  # counting back over it
        (("2026-10-25", "01:00"), 4, ("2026-10-25", "04:00")),  # autumn: 03:00 is 02:00 again, an hour twice
    ],
)
def test_business_hours_over_a_daylight_saving_change_at_night_are_real_hours(start, hours, due):
    """Review C: a branch open at night had 4 business hours over the spring change come out 3 real hours later
    (the arithmetic ran on the wall clock)."""
    begin = berlin(*start)
    assert ROUND_THE_CLOCK.add(begin, hours) == berlin(*due)
    assert abs(ROUND_THE_CLOCK.add(begin, hours) - begin) == datetime.timedelta(hours=abs(hours))
    assert ROUND_THE_CLOCK.business_hours_between(begin, berlin(*due)) == pytest.approx(hours)


def test_a_due_time_years_away_is_counted_not_refused():
    """Review C: 3000 business hours of a Monday-to-Friday calendar take more than 400 days; the calculator gave up
    ("no working time within a year"), and every order of the template failed its workflow."""
    start = berlin("2026-03-02", "08:00")  # a Monday
    due = HAMBURG.add(start, 3000)  # 300 working days of 10 hours: 60 weeks
    assert due == berlin("2027-04-23", "18:00")
    assert HAMBURG.add(due, -3000) == start
    assert HAMBURG.business_hours_between(start, due) == pytest.approx(3000)


def test_results_are_aware_and_comparable_in_utc():
    due = HAMBURG.add(berlin("2026-03-02", "09:00"), 1)
    assert due.tzinfo is not None
    assert due.utcoffset() == datetime.timedelta(0)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        HAMBURG.add(datetime.datetime(2026, 3, 2, 9, 0), 1)  # noqa: DTZ001 - the point of the test


def test_a_calendar_must_open_before_it_closes_and_work_some_day():
    with pytest.raises(ValueError, match="close after it opens"):
        BusinessCalendar(BERLIN, opens_at=datetime.time(18), closes_at=datetime.time(8))
    with pytest.raises(ValueError, match="at least one working day"):
        BusinessCalendar(BERLIN, workdays=frozenset())


def test_a_calendar_closed_all_year_fails_loudly_instead_of_looping():
    always_closed = BusinessCalendar(BERLIN, workdays=frozenset({0}),
                                     holidays=frozenset(datetime.date(2026, 1, 5) + datetime.timedelta(weeks=n)
                                                        for n in range(80)))  # fmt: skip
    with pytest.raises(ValueError, match="no working time"):
        always_closed.add(berlin("2026-01-01", "09:00"), 1)


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        (("2026-03-02", "09:00"), ("2026-03-02", "11:30"), 2.5),
        (("2026-03-06", "16:00"), ("2026-03-09", "10:00"), 4),  # over a weekend
        (("2026-03-09", "10:00"), ("2026-03-06", "16:00"), -4),
    ],
)
def test_business_hours_between_two_moments(start, end, hours):
    assert HAMBURG.business_hours_between(berlin(*start), berlin(*end)) == pytest.approx(hours)


def test_adding_then_measuring_gives_back_the_hours():
    start = berlin("2026-03-05", "15:20")
    for hours in (1, 7, 13, 40):
        assert HAMBURG.business_hours_between(start, HAMBURG.add(start, hours)) == pytest.approx(hours)


def test_opening_time_on_a_date_is_in_the_branch_zone():
    assert HAMBURG.opening_on(datetime.date(2026, 7, 1)) == berlin("2026-07-01", "08:00")
    assert HAMBURG.is_open(berlin("2026-07-01", "08:00"))
    assert not HAMBURG.is_open(berlin("2026-07-04", "10:00"))  # Saturday
