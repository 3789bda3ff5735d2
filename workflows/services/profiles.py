"""What workflows needs to know about a branch: its business calendar and its country."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Case, IntegerField, OuterRef, Subquery, Value, When

from partners.models import Address, AddressKind, Organisation
from workflows.business_hours import BusinessCalendar
from workflows.models import BranchCalendar, TradeDirection


@dataclass(frozen=True)
class BranchProfile:
    calendar: BusinessCalendar
    country: str


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")  # a typo in the admin must not stop orders; the calendar then runs on UTC


def branch_country_annotation(branch: str = "pk") -> Subquery:
    """The country of the branch's address (the registered one first), to annotate a query with; `branch`
    names the branch's id from the query's model."""
    registered_first = Case(
        When(kind=AddressKind.REGISTERED, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    address_country = Address.objects.filter(organisation=OuterRef(branch)).order_by(registered_first, "id")
    return Subquery(address_country.values("country")[:1])


def branch_profile(*, branch_id: int) -> BranchProfile:
    """The branch's calendar in its time zone (its own hours, else Monday to Friday 08:00 to 18:00) and its
    country, in one query."""
    branch = (
        Organisation.objects.select_related("calendar")
        .annotate(address_country=branch_country_annotation())
        .get(pk=branch_id)
    )
    return profile_from(
        time_zone=branch.time_zone, calendar=getattr(branch, "calendar", None), address_country=branch.address_country
    )


def profile_from(*, time_zone: str, calendar: BranchCalendar | None, address_country: str | None) -> BranchProfile:
    """A branch's profile from its time zone, its calendar row (None: the default hours) and the country of
    its address."""
    zone = _zone(time_zone)
    if calendar is None:
        return BranchProfile(BusinessCalendar(zone), address_country or "")
    hours = BusinessCalendar(
        zone, opens_at=calendar.opens_at, closes_at=calendar.closes_at, workdays=frozenset(calendar.workdays),
        holidays=frozenset(calendar.holidays),
    )  # fmt: skip
    return BranchProfile(hours, calendar.country or address_country or "")


def trade_direction(*, origin_country: str, destination_country: str, branch_country: str) -> str:
    """Export when goods leave the branch's country, import when they arrive in it, domestic when both ends
    are in it, cross-trade when neither is; blank when the branch's country is unknown."""
    if not branch_country:
        return ""
    leaving, arriving = origin_country == branch_country, destination_country == branch_country
    if leaving and arriving:
        return TradeDirection.DOMESTIC
    if leaving:
        return TradeDirection.EXPORT
    if arriving:
        return TradeDirection.IMPORT
    return TradeDirection.CROSS_TRADE
