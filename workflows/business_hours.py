"""Business-hours arithmetic for SLA clocks: "8 business hours after Friday 16:00 in Hamburg".

Time is counted on the branch's local wall clock inside its opening hours, so daylight-saving changes (at
night, outside every opening window) never shift a due time. Results are timezone-aware; pass any aware
datetime in and compare results in any zone.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

# A year of closed days in a row means the calendar is misconfigured; stop rather than loop forever.
_MAX_DAYS_SCANNED = 400


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
        """`start` plus `hours` of business time (negative: before). Zero returns `start` unchanged."""
        if start.tzinfo is None:
            raise ValueError("Business-hours arithmetic needs a timezone-aware datetime.")
        remaining = datetime.timedelta(hours=float(hours))
        if not remaining:
            return start
        local = start.astimezone(self.time_zone).replace(tzinfo=None)
        result = self._forward(local, remaining) if remaining > datetime.timedelta(0) else self._back(local, -remaining)
        return result.replace(tzinfo=self.time_zone).astimezone(datetime.UTC)

    def _forward(self, local: datetime.datetime, remaining: datetime.timedelta) -> datetime.datetime:
        day, cursor = local.date(), local.time()
        for _ in range(_MAX_DAYS_SCANNED):
            if self.is_workday(day) and cursor < self.closes_at:
                begin = datetime.datetime.combine(day, max(cursor, self.opens_at))
                end = datetime.datetime.combine(day, self.closes_at)
                if remaining <= end - begin:
                    return begin + remaining
                remaining -= end - begin
            day, cursor = day + datetime.timedelta(days=1), datetime.time.min
        raise ValueError("The calendar has no working time within a year.")

    def _back(self, local: datetime.datetime, remaining: datetime.timedelta) -> datetime.datetime:
        day, cursor = local.date(), local.time()
        for _ in range(_MAX_DAYS_SCANNED):
            if self.is_workday(day) and cursor > self.opens_at:
                end = datetime.datetime.combine(day, min(cursor, self.closes_at))
                begin = datetime.datetime.combine(day, self.opens_at)
                if remaining <= end - begin:
                    return end - remaining
                remaining -= end - begin
            day, cursor = day - datetime.timedelta(days=1), datetime.time.max
        raise ValueError("The calendar has no working time within a year.")

    def business_hours_between(self, start: datetime.datetime, end: datetime.datetime) -> float:
        """Business hours from `start` to `end` (negative when `end` is earlier)."""
        if end < start:
            return -self.business_hours_between(end, start)
        first, last = start.astimezone(self.time_zone), end.astimezone(self.time_zone)
        total = datetime.timedelta(0)
        day = first.date()
        while day <= last.date():
            if self.is_workday(day):
                begin = max(self._local(day, self.opens_at), first)
                finish = min(self._local(day, self.closes_at), last)
                if finish > begin:
                    total += finish - begin
            day += datetime.timedelta(days=1)
        return total.total_seconds() / 3600
