"""Business-hours arithmetic for SLA clocks: "8 business hours after Friday 16:00 in Hamburg".

Opening hours are the branch's local wall-clock times; the time counted inside them is real time. Each day's
opening and closing are placed on the timeline in the branch's zone, and the lengths of those intervals are
what is counted: Monday 09:00 local is 07:00 UTC after the spring change and 08:00 before it, and a branch open
at night (a hub open round the clock) has a 23-hour day in spring and a 25-hour one in autumn, as its people do.
Results are timezone-aware; pass any aware datetime in and compare results in any zone.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

# A year of closed days in a row means the calendar is misconfigured (every workday a holiday): stop rather than
# loop forever.
_MAX_DAYS_CLOSED = 400
# How far ahead (or back) a due time is counted: a calendar that needs longer has no due time within reach
# (ValueError). Ten years keeps the scan to a few milliseconds; the console allows at most MAX_BUSINESS_HOURS.
_MAX_DAYS_SCANNED = 3660
# The longest due time the console accepts in business hours (TaskDefinition, RuleAction): 2000 hours is about a
# year of 8-hour working days, five a week, less holidays, and takes a 10-hour, five-day calendar 280 days.
MAX_BUSINESS_HOURS = 2000


@dataclass(frozen=True)
class BusinessCalendar:
    time_zone: ZoneInfo
    opens_at: datetime.time = datetime.time(8)
    closes_at: datetime.time = datetime.time(18)
    workdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday = 0
    holidays: frozenset[datetime.date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.closes_at <= self.opens_at:
            raise ValueError("A business day must close after it opens.")
        if not self.workdays:
            raise ValueError("A calendar needs at least one working day.")

    @classmethod
    def default(cls, time_zone: str = "UTC") -> BusinessCalendar:
        return cls(ZoneInfo(time_zone))

    def is_workday(self, day: datetime.date) -> bool:
        return day.weekday() in self.workdays and day not in self.holidays

    def _local(self, day: datetime.date, at: datetime.time) -> datetime.datetime:
        return datetime.datetime.combine(day, at, tzinfo=self.time_zone)

    def opening_on(self, day: datetime.date) -> datetime.datetime:
        """When the branch opens on `day` (whether or not it is a working day): where date anchors start."""
        return self._local(day, self.opens_at)

    def is_open(self, moment: datetime.datetime) -> bool:
        local = moment.astimezone(self.time_zone)
        return self.is_workday(local.date()) and self.opens_at <= local.time() < self.closes_at

    def add(self, start: datetime.datetime, hours: Decimal | float | int) -> datetime.datetime:
        """`start` plus `hours` of business time (negative: before). Zero returns `start` unchanged. ValueError when
        the calendar does not reach that much working time within ten years (or has none for a year)."""
        if start.tzinfo is None:
            raise ValueError("Business-hours arithmetic needs a timezone-aware datetime.")
        remaining = datetime.timedelta(hours=float(hours))
        if not remaining:
            return start
        moment = start.astimezone(datetime.UTC)
        return self._forward(moment, remaining) if remaining > datetime.timedelta(0) else self._back(moment, -remaining)

    def _open_between(self, day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
        """When the branch opens and closes on `day`, as UTC moments: their difference is the real time it is open
        (aware datetimes of one zone subtract as wall-clock times, so the counting is done in UTC)."""
        return (
            self._local(day, self.opens_at).astimezone(datetime.UTC),
            self._local(day, self.closes_at).astimezone(datetime.UTC),
        )

    def _forward(self, moment: datetime.datetime, remaining: datetime.timedelta) -> datetime.datetime:
        day, closed = moment.astimezone(self.time_zone).date(), 0
        for _ in range(_MAX_DAYS_SCANNED):
            if self.is_workday(day):
                opens, closes = self._open_between(day)
                begin = max(moment, opens)
                if begin < closes:
                    if remaining <= closes - begin:
                        return begin + remaining
                    remaining -= closes - begin
                closed = 0
            closed += 1
            if closed > _MAX_DAYS_CLOSED:
                raise ValueError("The calendar has no working time within a year.")
            day += datetime.timedelta(days=1)
        raise ValueError("The due time is more than ten years away on this calendar.")

    def _back(self, moment: datetime.datetime, remaining: datetime.timedelta) -> datetime.datetime:
        day, closed = moment.astimezone(self.time_zone).date(), 0
        for _ in range(_MAX_DAYS_SCANNED):
            if self.is_workday(day):
                opens, closes = self._open_between(day)
                end = min(moment, closes)
                if end > opens:
                    if remaining <= end - opens:
                        return end - remaining
                    remaining -= end - opens
                closed = 0
            closed += 1
            if closed > _MAX_DAYS_CLOSED:
                raise ValueError("The calendar has no working time within a year.")
            day -= datetime.timedelta(days=1)
        raise ValueError("The due time is more than ten years back on this calendar.")

    def business_hours_between(self, start: datetime.datetime, end: datetime.datetime) -> float:
        """Business hours from `start` to `end` (negative when `end` is earlier)."""
        if end < start:
            return -self.business_hours_between(end, start)
        first, last = start.astimezone(datetime.UTC), end.astimezone(datetime.UTC)
        total = datetime.timedelta(0)
        day, last_day = first.astimezone(self.time_zone).date(), last.astimezone(self.time_zone).date()
        while day <= last_day:
            if self.is_workday(day):
                opens, closes = self._open_between(day)
                begin, finish = max(opens, first), min(closes, last)
                if finish > begin:
                    total += finish - begin
            day += datetime.timedelta(days=1)
        return total.total_seconds() / 3600
