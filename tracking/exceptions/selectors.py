"""Reads the exception screens share: already scoped (staff only: exceptions are our own work queue, like
tasks) and prefetched. The inbox pages by keyset on its sort, so a page costs the same at any depth."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Case, Count, Exists, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from orders.models import Order
from partners.models import STAFF_ROLES, Membership, Organisation, Role
from partners.scoping import Scope
from partners.time_zones import viewer_zone
from tracking.exceptions.models import (
    UNRESOLVED_STATUSES,
    ExceptionEntry,
    ExceptionKind,
    ExceptionStatus,
    Severity,
    ShipmentException,
)
from tracking.exceptions.rules import duration_text, movement_noun, rulebook
from tracking.ingest.models import Milestone, TrackingEvent
from tracking.models import ConsolidatedHouse, Shipment

_RELATED = ("shipment", "shipment__origin", "shipment__destination", "order", "customer", "carrier", "owner", "leg")
PAGE_SIZE = 50

# sort name → (fields, label); the id is always the last field, so the keyset is a total order
SORTS: dict[str, tuple[tuple[str, ...], str]] = {
    "severity": (("-severity", "opened_at", "id"), "Most severe first, then oldest"),
    "oldest": (("opened_at", "id"), "Oldest first"),
    "newest": (("-opened_at", "-id"), "Newest first"),
    "customer": (("customer_code", "-severity", "opened_at", "id"), "By customer"),
}
VIEWS = {
    "mine": "Mine",
    "open": "All open",
    "unowned": "Unowned",
    "resolved": "Resolved",
}
# The Resolved tab (its count and its list) shows what was resolved in the last RESOLVED_DAYS days.
RESOLVED_DAYS = 7
_BIGINT = 2**63 - 1
_SMALLINT = 2**15 - 1


def _parse_int(text: str, limit: int) -> int | None:
    if not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > 20:
        return None
    value = int(text)
    return value if -limit - 1 <= value <= limit else None


def _parse_at(text: str) -> datetime.datetime | None:
    """An aware moment, in UTC: Python takes offsets up to ±23:59, PostgreSQL only up to ±15:59 (a cursor edited to
    "+23:59" answered 500), and a moment near year 1 or 9999 may not exist in UTC at all."""
    try:
        value = datetime.datetime.fromisoformat(text)
        return value.astimezone(datetime.UTC) if value.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None


# cursor field → its parser (None: not a valid value of that field)
_CURSOR_PARSERS: dict[str, Any] = {
    "severity": lambda text: _parse_int(text, _SMALLINT),
    "opened_at": _parse_at,
    "id": lambda text: _parse_int(text, _BIGINT),
    "customer_code": lambda text: text,
}


def _parse_cursor(sort: str, after: str) -> list[Any] | None:
    """The keyset cursor's values, each parsed as its field's type; None when the cursor is not a valid one
    (hand-edited, or of another sort), which shows the first page."""
    fields, _ = SORTS[sort]
    texts = after.split("|") if after else []
    if len(texts) != len(fields):
        return None
    values = [_CURSOR_PARSERS[name.lstrip("-")](text) for name, text in zip(fields, texts, strict=True)]
    return None if any(value is None for value in values) else values


@dataclass(frozen=True)
class InboxFilters:
    view: str = "open"
    kind: str = ""
    severity: str = ""
    customer: str = ""
    q: str = ""
    # What the weekly view's "still open" links narrow to (each count opens the rows it counts): the carrier's
    # code, the shipment's lane, and the ISO week it opened in on the viewer's clock ("2026-W49", as the view).
    carrier: str = ""
    origin: str = ""
    destination: str = ""
    week: str = ""
    sort: str = "severity"
    after: str = ""  # keyset cursor: the sort values of the last row shown

    @classmethod
    def from_query(cls, query: Any) -> InboxFilters:
        # PostgreSQL text cannot hold NUL: shown as U+FFFD, such a search simply matches nothing.
        values = {name: (query.get(name) or "").strip().replace("\x00", "\ufffd") for name in cls.__dataclass_fields__}
        values["view"] = values["view"] if values["view"] in VIEWS else "open"
        values["sort"] = values["sort"] if values["sort"] in SORTS else "severity"
        values["kind"] = values["kind"] if values["kind"] in ExceptionKind.values else ""
        values["severity"] = values["severity"] if values["severity"] in {str(v) for v in Severity.values} else ""
        values["after"] = values["after"] if _parse_cursor(values["sort"], values["after"]) else ""
        values["week"] = values["week"] if week_monday(values["week"]) else ""
        return cls(**values)

    @property
    def narrowed(self) -> bool:
        """Whether the weekly view's filters (carrier, lane, week) apply: the inbox says so, with a way out."""
        return bool(self.carrier or self.origin or self.destination or self.week)

    def query(self, **changes: str) -> str:
        from urllib.parse import urlencode

        values = {**self.__dict__, **changes}
        return urlencode({k: v for k, v in values.items() if v and not (k == "view" and v == "open")
                          and not (k == "sort" and v == "severity")})  # fmt: skip


def _visible(scope: Scope) -> QuerySet[ShipmentException]:
    if not scope.is_staff:
        return ShipmentException.objects.none()
    return ShipmentException.objects.select_related(*_RELATED)


def _with_milestone_name(rows: QuerySet[ShipmentException]) -> QuerySet[ShipmentException]:
    """`milestone_name`: the milestone's name as operations keep it ("Received at origin"), read in the same
    query (the milestone is a code, not a foreign key); None when there is none or it is not in the table."""
    name = Milestone.objects.filter(code=OuterRef("milestone")).values("name")[:1]
    return rows.annotate(milestone_name=Subquery(name))


def _filtered(scope: Scope, user: Any, filters: InboxFilters) -> QuerySet[ShipmentException]:
    rows = _visible(scope)
    if filters.view == "resolved":
        rows = rows.filter(status=ExceptionStatus.RESOLVED, resolved_at__gte=resolved_since())
    else:
        rows = rows.filter(status__in=UNRESOLVED_STATUSES)
    if filters.view == "mine":
        rows = rows.filter(owner=user)
    elif filters.view == "unowned":
        rows = rows.filter(owner__isnull=True)
    if filters.kind:
        rows = rows.filter(kind=filters.kind)
    if filters.severity:
        rows = rows.filter(severity=int(filters.severity))
    if filters.carrier:
        rows = rows.filter(carrier__code__iexact=filters.carrier)
    if filters.origin:
        rows = rows.filter(shipment__origin_id=filters.origin)
    if filters.destination:
        rows = rows.filter(shipment__destination_id=filters.destination)
    monday = week_monday(filters.week)
    if monday is not None:
        start, end = week_bounds(monday, viewer_zone(scope))
        rows = rows.filter(opened_at__gte=start, opened_at__lt=end)
    if filters.customer:
        rows = rows.filter(
            Q(customer__code__iexact=filters.customer)
            | _for_every_order_on_it(house__order__customer__code__iexact=filters.customer)
        )
    if filters.q:
        rows = rows.filter(
            Q(shipment__reference__icontains=filters.q)
            | Q(order__reference__icontains=filters.q)
            | Q(shipment__bill_number__iexact=filters.q)
            | _for_every_order_on_it(house__order__reference__icontains=filters.q)
        )
    return rows


def _for_every_order_on_it(**house_matches: str) -> Q:
    """An exception that names no order, no house and no customer concerns every order on its shipment (a
    consolidation's movement, or a report on its master): it matches when a live house on the shipment matches, as
    the order's panel (exceptions_for_order) and the customer's portal (exceptions_for_customer) attribute it."""
    carried = ConsolidatedHouse.objects.filter(master=OuterRef("shipment"), removed_at__isnull=True, **house_matches)
    return Q(order__isnull=True, house__isnull=True, customer__isnull=True) & Q(Exists(carried))


def resolved_since() -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=RESOLVED_DAYS)


def _keyset(fields: tuple[str, ...], values: list[Any]) -> Q:
    """Rows after `values` in the order of `fields` ("-x" descending): (a > x) or (a = x and b > y) or …"""
    condition = Q(pk__in=[])
    for position, name in enumerate(fields):
        column = name.lstrip("-")
        step = Q(**{f"{column}__lt" if name.startswith("-") else f"{column}__gt": values[position]})
        for earlier in fields[:position]:
            step &= Q(**{earlier.lstrip("-"): values[fields.index(earlier)]})
        condition |= step
    return condition


def _cursor_values(row: ShipmentException, fields: tuple[str, ...]) -> list[str]:
    out = []
    for name in fields:
        value = getattr(row, name.lstrip("-"))
        out.append(value.isoformat() if isinstance(value, datetime.datetime) else str(value))
    return out


@dataclass
class InboxPage:
    rows: list[ShipmentException]
    next_after: str
    is_first: bool


def inbox_page(*, scope: Scope, user: Any, filters: InboxFilters, size: int = PAGE_SIZE) -> InboxPage:
    """One page of the inbox: size + 1 rows read, so the next page is known without a count."""
    fields, _ = SORTS[filters.sort]
    rows = _filtered(scope, user, filters)
    if filters.sort == "customer":
        rows = rows.annotate(customer_code=Coalesce("customer__code", Value("~")))
    values = _parse_cursor(filters.sort, filters.after)
    if values is not None:
        rows = rows.filter(_keyset(fields, values))
    found = list(rows.order_by(*fields)[: size + 1])
    more = len(found) > size
    found = found[:size]
    next_after = "|".join(_cursor_values(found[-1], fields)) if more and found else ""
    return InboxPage(rows=found, next_after=next_after, is_first=values is None)


def inbox_counts(*, scope: Scope, user: Any) -> dict[str, int]:
    """The tab counts, in one query."""
    if not scope.is_staff:
        return dict.fromkeys(VIEWS, 0)
    unresolved = Q(status__in=UNRESOLVED_STATUSES)
    week = resolved_since()  # the same window as the Resolved list
    return ShipmentException.objects.aggregate(
        mine=Count("pk", filter=unresolved & Q(owner=user)),
        open=Count("pk", filter=unresolved),
        unowned=Count("pk", filter=unresolved & Q(owner__isnull=True)),
        resolved=Count("pk", filter=Q(status=ExceptionStatus.RESOLVED, resolved_at__gte=week)),
    )


def exception_get_for(*, scope: Scope, pk: int) -> ShipmentException:
    """One exception with what its page shows; 404 for what this scope may not see."""
    exception = (
        _with_milestone_name(_visible(scope))
        .select_related(
            "rule__customer", "acknowledged_by", "resolved_by", "order__branch", "shipment__branch", "house"
        )
        .filter(pk=pk)
        .first()
    )
    if exception is None:
        raise Http404("No such exception.")
    return exception


# Who handles any exception (acknowledge, take, resolve): operations, whose inbox it is (admin always).
HANDLER_ROLES = (Role.OPERATIONS,)


def exception_may_handle(*, scope: Scope, user: Any, exception: ShipmentException) -> bool:
    """Whether this person may acknowledge, take or resolve the exception: operations and admin always; else
    its owner (workflows may make anyone with a team its owner: sales, documentation, finance …), or a
    colleague holding one of the owner's staff roles (their team). Any staff may add a note. One query at most
    (the owner's roles), none for operations, admin and the owner."""
    if not scope.is_staff:
        return False
    if scope.has_role(*HANDLER_ROLES):
        return True
    if exception.owner_id is None:
        return False
    if exception.owner_id == getattr(user, "pk", None):
        return True
    owner_roles = set(
        Membership.objects.filter(
            user_id=exception.owner_id, is_active=True, role__in=STAFF_ROLES - {Role.ADMIN}
        ).values_list("role", flat=True)
    )
    return bool(owner_roles & scope.roles)


def exception_history(*, exception: ShipmentException) -> list[ExceptionEntry]:
    return list(exception.entries.select_related("by"))


def exception_source_events(*, exception: ShipmentException) -> list[TrackingEvent]:
    if not exception.source_event_ids:
        return []
    events = TrackingEvent.objects.filter(pk__in=exception.source_event_ids).select_related("milestone")
    return list(events.order_by("event_at", "id"))


def exceptions_for_order(*, scope: Scope, order: Order) -> list[ShipmentException]:
    """The order's exceptions for its page: its own, and those of the shipments carrying it that name no other order
    (another house's hold on the same master is that order's), unresolved first."""
    houses = Shipment.objects.filter(order=order).values("pk")
    masters = ConsolidatedHouse.objects.filter(house__in=houses, removed_at__isnull=True).values("master_id")
    rows = _visible(scope).filter(
        Q(order=order) | Q(Q(order__isnull=True), Q(shipment__in=houses) | Q(shipment__in=masters))
    )
    return list(_panel_order(rows)[:PANEL_SIZE])


# A panel (the order's, the shipment's) lists up to PANEL_SIZE exceptions: every unresolved one first, then the
# resolved ones. Ordered in the query, before the cut: a long history of resolved severe ones cannot push an open
# one out of the panel (review A, defect 5).
PANEL_SIZE = 50


def _panel_order(rows: QuerySet[ShipmentException]) -> QuerySet[ShipmentException]:
    resolved_last = Case(When(status=ExceptionStatus.RESOLVED, then=Value(1)), default=Value(0))
    return rows.order_by(resolved_last, "-severity", "opened_at", "id")


@dataclass(frozen=True)
class CustomerNotice:
    """An exception as its customer may see it: what, when, whether it is being handled, which of their orders."""

    kind: str
    kind_label: str
    milestone: str  # what it concerns, in words that never read as done ("expected arrival"), or "" (holds, damage)
    opened_at: datetime.datetime
    # When it was reported: the carrier's time for what it reports (a hold, damage: ShipmentException.reported_at, as
    # the timeline and the customer's email give it), else when we opened it (what detection works out itself).
    reported_at: datetime.datetime
    resolved_at: datetime.datetime | None
    expected_at: datetime.datetime | None  # ETA slipped: the planned time
    observed_at: datetime.datetime | None  # ETA slipped: the latest estimate
    orders: list[tuple[str, str]]  # (our reference, their reference) of the customer's orders it concerns

    @property
    def is_resolved(self) -> bool:
        return self.resolved_at is not None


# The milestone of an exception about the plan, in words for a customer that never read as if it happened: an "ETA
# slipped" exception's milestone is the arrival (or delivery) the estimate is for; an overdue one's, the milestone
# still awaited, as a noun (rules.movement_noun: "pickup not reported yet" for a pre-carriage). For a missed
# cut-off, holds, damage, failed deliveries and returns it is what was reported and repeats the kind ("Customs hold
# · Customs hold"): no words.
_NOTICE_MILESTONE: dict[str, str] = {
    ExceptionKind.ETA_DELAY: "expected {}",
    ExceptionKind.MILESTONE_OVERDUE: "{} not reported yet",
    ExceptionKind.ROLLED_BOOKING: "{} moved",
}


def _notice_milestone(exception: ShipmentException) -> str:
    words = _NOTICE_MILESTONE.get(exception.kind)
    if not words or not exception.milestone:
        return ""
    return words.format(movement_noun(exception.milestone))


def exceptions_for_customer(*, scope: Scope, recent_days: int = 7, limit: int = 10) -> list[CustomerNotice]:
    """The portal's "delays and holds": open exceptions on a customer's orders, and those resolved in the last
    `recent_days`, newest first. An exception concerns the customer when it names one of their orders, or names
    no order and no house and lies on a shipment that carries one (a vessel delay on a consolidation concerns
    every customer on it); one that names another customer's order, house or another customer is never shown.
    Only customer-safe fields leave this function: no notes, owners, severities, carrier codes or the detector's
    wording.
    Three queries, whatever the number of orders."""
    if not scope.is_customer:
        return []
    customers = sorted(scope.organisation_ids)
    since = timezone.now() - datetime.timedelta(days=recent_days)
    # Candidates come newest first from the two partial indexes (unresolved; resolved since) and each is looked
    # up: does it name one of the customer's orders, or lie on their house or on a master carrying their house?
    # Scalar subqueries with LIMIT 1, not EXISTS: PostgreSQL turns an EXISTS under OR into a hash of every
    # shipment the customer ever had (50,000 houses: 200 ms, measured), a scalar subquery stays a per-row
    # index lookup (below 10 ms on the same data).
    on_house = Shipment.objects.filter(pk=OuterRef("shipment_id"), order__customer_id__in=customers)
    on_master = ConsolidatedHouse.objects.filter(
        master_id=OuterRef("shipment_id"), removed_at__isnull=True, house__order__customer_id__in=customers
    )
    rows = list(
        ShipmentException.objects.annotate(
            on_house=Subquery(on_house.values("pk")[:1]), on_master=Subquery(on_master.values("pk")[:1])
        )
        .filter(
            Q(status__in=UNRESOLVED_STATUSES) | Q(status=ExceptionStatus.RESOLVED, resolved_at__gte=since),
            Q(order__customer_id__in=customers)
            | Q(Q(order__isnull=True, house__isnull=True), Q(on_house__isnull=False) | Q(on_master__isnull=False)),
            Q(customer__isnull=True) | Q(customer_id__in=customers),
        )
        .select_related("order")
        .only("kind", "milestone", "opened_at", "resolved_at", "expected_at", "observed_at", "shipment_id",
              "order__reference", "order__customer_reference")
        .order_by("-opened_at", "-id")[:limit]
    )  # fmt: skip
    carried: dict[int, list[tuple[str, str]]] = {}  # shipment → the customer's orders it carries
    shipment_ids = sorted({e.shipment_id for e in rows if e.order is None})
    if shipment_ids:
        houses = Shipment.objects.filter(pk__in=shipment_ids, order__customer_id__in=customers).values_list(
            "pk", "order__reference", "order__customer_reference"
        )
        masters = ConsolidatedHouse.objects.filter(
            master_id__in=shipment_ids, removed_at__isnull=True, house__order__customer_id__in=customers
        ).values_list("master_id", "house__order__reference", "house__order__customer_reference")
        for shipment_id, reference, theirs in houses.union(masters, all=True):
            carried.setdefault(shipment_id, []).append((reference, theirs))
    return [
        CustomerNotice(
            kind=e.kind, kind_label=e.get_kind_display(), milestone=_notice_milestone(e),
            opened_at=e.opened_at, reported_at=e.reported_at or e.opened_at, resolved_at=e.resolved_at,
            expected_at=e.expected_at, observed_at=e.observed_at,
            orders=[(e.order.reference, e.order.customer_reference)] if e.order else sorted(carried[e.shipment_id]),
        )
        for e in rows
        if e.order or e.shipment_id in carried
    ]  # fmt: skip


def exceptions_for_shipment(*, scope: Scope, shipment: Shipment) -> list[ShipmentException]:
    return list(_panel_order(_visible(scope).filter(shipment=shipment))[:PANEL_SIZE])


def customers_with_open_exceptions() -> list[Organisation]:
    ids = ShipmentException.objects.filter(status__in=UNRESOLVED_STATUSES).values("customer_id")
    return list(Organisation.objects.filter(pk__in=ids).order_by("code").only("code", "name"))


# --- the weekly view ----------------------------------------------------------------------------------

# Weeks outside these years fall back to the current week (near 1 and 9999 the previous/next week overflow).
WEEK_YEARS = (2000, 2100)


def week_monday(value: str) -> datetime.date | None:
    """The Monday of the ISO week `2026-W10` (a year in WEEK_YEARS); None for anything else."""
    try:
        day = datetime.date.fromisoformat(f"{value}-1") if value else None
    except ValueError:
        return None
    return day if day is not None and WEEK_YEARS[0] <= day.year <= WEEK_YEARS[1] else None


def week_bounds(monday: datetime.date, zone: datetime.tzinfo) -> tuple[datetime.datetime, datetime.datetime]:
    """Monday 00:00 to the next Monday 00:00 on `zone`'s clock (167 or 169 hours when summer time starts or ends in
    it). Where a clock skips midnight, the day starts when the clock jumps (fold 0)."""
    following = monday + datetime.timedelta(days=7)
    return (
        datetime.datetime.combine(monday, datetime.time(0), tzinfo=zone),
        datetime.datetime.combine(following, datetime.time(0), tzinfo=zone),
    )


def iso_week(day: datetime.date) -> str:
    return "{}-W{:02d}".format(*day.isocalendar()[:2])


# One query for the whole view. The customer's and the carrier's names come with their groups (each group is one
# organisation, so min() is its name). Weeks are [start, end): Monday 00:00 to Monday 00:00 on the viewer's clock.
# By customer counts what concerns each customer, as the inbox's customer filter, the order's panel and the portal
# do: the exceptions naming them, and each one naming no order, house or customer (a consolidation's) once for
# every customer with a live house on its shipment. So the customers' counts may add up to more than the week's.
_WEEKLY_COUNTS = """
       count(*) AS opened,
       count(*) FILTER (WHERE w.status = 'resolved') AS resolved,
       count(*) FILTER (WHERE w.is_auto_resolved) AS auto_resolved,
       count(*) FILTER (WHERE w.status <> 'resolved') AS still_open,
       count(*) FILTER (WHERE w.severity >= 3) AS severe,
       avg(extract(epoch FROM w.resolved_at - w.opened_at)) FILTER (WHERE w.status = 'resolved') AS avg_seconds,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM w.resolved_at - w.opened_at))
           FILTER (WHERE w.status = 'resolved') AS median_seconds
"""
_WEEKLY = f"""
WITH w AS (
    SELECT e.kind, e.shipment_id, e.order_id, e.house_id, e.customer_id, e.carrier_id, e.status, e.severity,
           e.is_auto_resolved, e.opened_at, e.resolved_at, s.origin_id, s.destination_id
      FROM tracking_shipmentexception e
      JOIN tracking_shipment s ON s.id = e.shipment_id
     WHERE e.opened_at >= %(start)s AND e.opened_at < %(end)s
)
SELECT CASE WHEN GROUPING(w.kind) = 0 THEN 'kind' WHEN GROUPING(w.carrier_id) = 0 THEN 'carrier' ELSE 'lane' END,
       w.kind, w.origin_id, w.destination_id, min(ca.name), min(ca.code), {_WEEKLY_COUNTS}
  FROM w LEFT JOIN partners_organisation ca ON ca.id = w.carrier_id
 GROUP BY GROUPING SETS ((w.kind), (w.carrier_id), (w.origin_id, w.destination_id))
UNION ALL
SELECT 'customer', NULL, NULL, NULL, min(cu.name), min(cu.code), {_WEEKLY_COUNTS}
  FROM w
  LEFT JOIN LATERAL (
      SELECT w.customer_id WHERE w.customer_id IS NOT NULL
      UNION
      SELECT o.customer_id
        FROM tracking_consolidatedhouse ch
        JOIN tracking_shipment h ON h.id = ch.house_id
        JOIN orders_order o ON o.id = h.order_id
       WHERE w.customer_id IS NULL AND w.order_id IS NULL AND w.house_id IS NULL
         AND ch.master_id = w.shipment_id AND ch.removed_at IS NULL
  ) concerned ON true
  LEFT JOIN partners_organisation cu ON cu.id = concerned.customer_id
 GROUP BY concerned.customer_id
"""  # noqa: S608 - constant text


@dataclass
class WeeklyRow:
    label: str
    code: str  # the kind, or the customer's or carrier's code; "" for a lane and for none
    opened: int
    resolved: int
    auto_resolved: int
    still_open: int
    severe: int  # high or critical
    average: datetime.timedelta | None  # from opening to resolution, of those resolved
    median: datetime.timedelta | None
    origin: str = ""  # a lane's
    destination: str = ""
    still_open_link: str = ""  # the inbox's query string for the rows "still open" counts (still_open_query)

    @property
    def average_text(self) -> str:
        return duration_text(self.average) if self.average is not None else ""

    @property
    def median_text(self) -> str:
        return duration_text(self.median) if self.median is not None else ""

    def still_open_query(self, dimension: str, week: str) -> str:
        """The inbox's query string listing exactly the rows "still open" counts: unresolved, opened in `week`, of
        this type, customer, carrier or lane. "" for a group the inbox cannot filter on (no customer, no carrier)."""
        filters = {"kind": {"kind": self.code}, "customer": {"customer": self.code},
                   "carrier": {"carrier": self.code},
                   "lane": {"origin": self.origin, "destination": self.destination}}[dimension]  # fmt: skip
        if not all(filters.values()):
            return ""
        return InboxFilters(week=week, **filters).query()


def weekly_summary(*, scope: Scope, start: datetime.datetime, end: datetime.datetime) -> dict[str, list[WeeklyRow]]:
    """Exceptions opened from `start` until before `end` (a week: Monday 00:00 to Monday 00:00 on the viewer's
    clock), by kind, customer (what concerns each: _WEEKLY), carrier and lane, with how many were resolved (by
    themselves or by a person) and how long it took: one query, with the organisations' names. Each group lists
    the most frequent first, then by name."""
    groups: dict[str, list[WeeklyRow]] = {"kind": [], "customer": [], "carrier": [], "lane": []}
    if not scope.is_staff:
        return groups
    with connection.cursor() as cursor:
        cursor.execute(_WEEKLY, {"start": start, "end": end})
        rows = cursor.fetchall()
    for dim, kind, origin, destination, name, org_code, opened, resolved, auto, still, severe, avg, median in rows:
        lane = ("", "")
        if dim == "kind":
            label, code = ExceptionKind(kind).label, kind
        elif dim in ("customer", "carrier"):
            label, code = (name, org_code) if name else ("(none)", "")
        else:
            label, code, lane = f"{origin} → {destination}", "", (origin or "", destination or "")
        spans = [datetime.timedelta(seconds=float(v)) if v is not None else None for v in (avg, median)]
        groups[dim].append(
            WeeklyRow(label, code, opened, resolved, auto, still, severe, spans[0], spans[1], lane[0], lane[1])
        )
    for rows_of_group in groups.values():
        rows_of_group.sort(key=lambda row: (-row.opened, row.label.casefold()))
    return groups


def exception_customers_to_email(*, exception: ShipmentException) -> list[tuple[Organisation, list[Order]]]:
    """The customers to email about an exception that names none (a consolidation's: every customer's cargo is
    stopped), each with their own orders on it: each customer with a live house on the shipment whose rule says
    "notify the customer" (their own rule for the kind and mode when they have one, else the rule that opened it,
    as detection chooses), and an email address."""
    houses = ConsolidatedHouse.objects.filter(master_id=exception.shipment_id, removed_at__isnull=True)
    orders = Order.objects.filter(
        pk__in=Shipment.objects.filter(pk__in=houses.values("house_id")).values("order_id")
    ).select_related("customer")
    by_customer: dict[int, list[Order]] = {}
    for order in orders.order_by("reference"):
        by_customer.setdefault(order.customer_id, []).append(order)
    book = rulebook()
    told: list[tuple[Organisation, list[Order]]] = []
    for customer_orders in by_customer.values():
        customer = customer_orders[0].customer
        rule = book.rule(exception.kind, mode=exception.mode, customer_id=customer.pk)
        if (rule.notify_customer if rule else exception.notify_customer) and customer.email:
            told.append((customer, customer_orders))
    return sorted(told, key=lambda pair: pair[0].code)
