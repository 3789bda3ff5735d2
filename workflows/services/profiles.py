"""What workflows needs to know about a branch: its business calendar and its country."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Case, IntegerField, OuterRef, Subquery, Value, When

from partners.models import Address, AddressKind, Organisation
from workflows.business_hours import BusinessCalendar
from workflows.models import TradeDirection


@dataclass(frozen=True)
class BranchProfile:
    calendar: BusinessCalendar
    country: str


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")  # a typo in the admin must not stop orders; the calendar then runs on UTC


def branch_profile(*, branch_id: int) -> BranchProfile:
    """The branch's calendar in its time zone (its own hours, else Monday to Friday 08:00 to 18:00) and its
    country, in one query."""
    registered_first = Case(
        When(kind=AddressKind.REGISTERED, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    address_country = Address.objects.filter(organisation=OuterRef("pk")).order_by(registered_first, "id")
    branch = (
        Organisation.objects.select_related("calendar")
        .annotate(address_country=Subquery(address_country.values("country")[:1]))
        .get(pk=branch_id)
    )
    zone = _zone(branch.time_zone)
    row = getattr(branch, "calendar", None)
    if row is None:
        return BranchProfile(BusinessCalendar(zone), branch.address_country or "")
    calendar = BusinessCalendar(
        zone, opens_at=row.opens_at, closes_at=row.closes_at, workdays=frozenset(row.workdays),
        holidays=frozenset(row.holidays),
    )  # fmt: skip
    return BranchProfile(calendar, row.country or branch.address_country or "")


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
