"""Reads of planning, already scoped and prefetched: the only way screens read shipments, legs and bookings.

Scoping (partners/scoping.py): staff see everything; a customer sees the houses of its own orders (and
the legs of the masters carrying them); a carrier or other partner sees the legs it carries (`legs_carried_by`:
a leg's own carrier, else its shipment's) and the shipments of those legs, never the houses of other parties'
customers.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, TruncDate
from django.shortcuts import get_object_or_404
from django.utils import timezone

from orders.models import Order
from partners.models import Contact, Organisation, OrganisationKind
from partners.scoping import QS, Scope
from tracking.models import (
    LIVE_BOOKING_STATUSES,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Booking,
    BookingStatus,
    ConsolidatedHouse,
    HouseLine,
    Leg,
    Shipment,
    ShipmentKind,
    ShipmentQuerySet,
    ShipmentStatus,
)
from tracking.services.consolidation import JOINABLE, Totals, master_totals
from tracking.services.planning import PLANNABLE

CUTOFF_SOON = datetime.timedelta(hours=48)


# Who may run a leg (docs/planning.md, "Who runs a leg"): a carrier, an agent (a destination agent arranging the
# delivery) or a warehouse (its own trucks). Bookings, the carrier ranking and a master's main carrier stay carriers'.
LEG_RUNNER_KINDS = [OrganisationKind.CARRIER, OrganisationKind.AGENT, OrganisationKind.WAREHOUSE]


def leg_runners() -> QuerySet[Organisation]:
    """The active organisations a leg may be given to, by name: the leg form's list and the schedule board's."""
    return Organisation.objects.filter(kinds__overlap=LEG_RUNNER_KINDS).active().order_by("name")


def legs_carried_by(organisation_ids: Iterable[int]) -> Q:
    """The legs these organisations carry: those they are the carrier of, and those without a carrier of their own
    on a shipment they are the carrier of. Ingest lets a partner record on the same legs (tracking.ingest.placing
    ._not_carried, docs/tracking-events.md), so what a partner reports on is what its portal lists."""
    ids = sorted(organisation_ids)
    return Q(carrier_id__in=ids) | Q(carrier__isnull=True, shipment__carrier_id__in=ids)


def shipments_visible_to(*, scope: Scope) -> ShipmentQuerySet:
    """Staff: all shipments. Partners: the shipments of the legs they carry. Customers: their orders' houses."""
    if scope.is_partner:
        carried = Leg.objects.filter(legs_carried_by(scope.organisation_ids), shipment=OuterRef("pk"))
        return Shipment.objects.filter(Exists(carried))
    return scope.restrict(Shipment.objects.all(), customer="order__customer_id")


def legs_visible_to(*, scope: Scope) -> QuerySet[Leg]:
    """Staff: all legs. Partners: the legs they carry. Customers: their houses' legs and their masters' legs."""
    if scope.is_customer:
        houses = shipments_visible_to(scope=scope)
        masters = ConsolidatedHouse.objects.filter(house__in=houses, removed_at__isnull=True).values("master_id")
        return Leg.objects.filter(Q(shipment__in=houses.values("pk")) | Q(shipment__in=masters))
    if scope.is_partner:
        return Leg.objects.filter(legs_carried_by(scope.organisation_ids))
    return scope.restrict(Leg.objects.all())  # staff: all; anyone else: none


def _live_links() -> Prefetch:
    links = (
        ConsolidatedHouse.objects.filter(removed_at__isnull=True, deconsolidated_at__isnull=True)
        .select_related("house", "house__order", "house__order__customer")
        .prefetch_related("house__house_lines__cargo_line")
        .order_by("house__reference")
    )
    return Prefetch("consolidated_houses", queryset=links, to_attr="live_links")


def _legs() -> Prefetch:
    return Prefetch(
        "legs", queryset=Leg.objects.select_related("carrier", "origin", "destination").order_by("sequence")
    )


def _live_bookings() -> Prefetch:
    live = Booking.objects.filter(status__in=LIVE_BOOKING_STATUSES).select_related("carrier", "service")
    return Prefetch("bookings", queryset=live, to_attr="live_bookings")


def houses_deconsolidated_from(*, master: Shipment) -> list[ConsolidatedHouse]:
    """The links of the houses the master released at destination (deconsolidation), with their houses, orders and
    cargo: the master's page still lists what it carried."""
    return list(
        master.consolidated_houses.filter(removed_at__isnull=True, deconsolidated_at__isnull=False)
        .select_related("house", "house__order", "house__order__customer")
        .prefetch_related("house__house_lines__cargo_line")
        .order_by("house__reference")
    )


def shipment_get_for(*, scope: Scope, reference: str) -> Shipment:
    """The shipment with everything its page shows, or 404 when the scope may not see it."""
    history = Booking.objects.select_related("carrier", "requested_by").order_by("-requested_at")
    return get_object_or_404(
        shipments_visible_to(scope=scope)
        .select_related("branch", "carrier", "origin", "destination", "order", "order__customer")
        .prefetch_related(
            _legs(),
            _live_links(),
            "containers",
            Prefetch("bookings", queryset=history, to_attr="booking_history"),
            Prefetch("appointments", queryset=Appointment.objects.select_related("location")),
            Prefetch(
                "consolidations", queryset=ConsolidatedHouse.objects.select_related("master"), to_attr="master_links"
            ),
            "house_lines__cargo_line",
        ),
        reference=reference.upper(),
    )


@dataclass(frozen=True)
class MasterRow:
    shipment: Shipment
    totals: Totals
    booking: Booking | None


def master_list_for(*, scope: Scope, branch_id: int | None = None, mode: str = "", status: str = "") -> list[MasterRow]:
    """Open masters with their totals against capacity and their live booking (six queries)."""
    masters = shipments_visible_to(scope=scope).masters().open()
    if branch_id:
        masters = masters.filter(branch_id=branch_id)
    if mode:
        masters = masters.filter(mode=mode)
    if status:
        masters = masters.filter(status=status)
    masters = (
        masters.select_related("carrier", "branch")
        .prefetch_related(_live_links(), "containers", _live_bookings())
        .order_by("status", "-created_at")[:200]
    )
    rows = []
    for master in masters:
        houses = [link.house for link in master.live_links]
        totals = master_totals(master=master, houses=houses, containers=list(master.containers.all()))
        rows.append(MasterRow(master, totals, master.live_bookings[0] if master.live_bookings else None))
    return rows


def _allocated_subquery() -> Subquery:
    allocated = (
        HouseLine.objects.filter(cargo_line__order=OuterRef("pk"))
        .exclude(house__status=ShipmentStatus.CANCELLED)
        .values("cargo_line__order")
        .annotate(total=Sum("pieces"))
        .values("total")
    )
    return Subquery(allocated)


def orders_to_plan(
    *,
    scope: Scope,
    branch_id: int | None = None,
    modes: Iterable[str] = (),
    origin: str = "",
    destination: str = "",
    references: Iterable[str] | None = None,
    limit: int | None = 200,
) -> QuerySet[Order]:
    """Orders operations may plan that still have cargo on no shipment, oldest pickup first. A filter value with
    a NUL byte (typed into a query string) matches nothing: passed on, PostgreSQL refuses the query (a 500)."""
    orders = scope.restrict(Order.objects.all(), customer="customer_id", partner=None).filter(
        status__in=sorted(PLANNABLE)
    )
    orders = orders.annotate(planned_pieces=Coalesce(_allocated_subquery(), 0)).filter(
        planned_pieces__lt=F("pieces_total")
    )
    if branch_id:
        orders = orders.filter(branch_id=branch_id)
    if modes:
        orders = orders.filter(mode__in=list(modes))
    if "\x00" in origin + destination:
        return orders.none()
    if origin:
        orders = orders.filter(origin_id=origin.upper())
    if destination:
        orders = orders.filter(destination_id=destination.upper())
    if references is not None:
        orders = orders.filter(reference__in=[reference for reference in references if "\x00" not in reference])
    orders = orders.select_related("customer", "branch", "origin", "destination").order_by(
        "requested_pickup_on", "reference"
    )
    return orders[:limit] if limit is not None else orders


def order_get_for_planning(*, scope: Scope, reference: str) -> Order:
    orders = scope.restrict(Order.objects.all(), customer="customer_id", partner=None)
    return get_object_or_404(
        orders.select_related("customer", "branch", "origin", "destination").prefetch_related("lines", "equipment"),
        reference=reference.upper(),
    )


def houses_of_order(*, order: Order) -> list[Shipment]:
    """The order's houses (cancelled ones too, for the record) with their lines and live master."""
    return list(
        Shipment.objects.filter(order=order)
        .prefetch_related(
            "house_lines__cargo_line",
            Prefetch(
                "consolidations",
                queryset=ConsolidatedHouse.objects.filter(removed_at__isnull=True).select_related(
                    "master", "master__carrier"
                ),
                to_attr="master_links",
            ),
        )
        .order_by("reference")
    )


def masters_open_on_lane(*, origin: str, destination: str, mode_family: Iterable[str]) -> QuerySet[Shipment]:
    """Masters a house on this lane may still join."""
    return (
        Shipment.objects.masters()
        .filter(origin_id=origin, destination_id=destination, mode__in=list(mode_family), status__in=JOINABLE)
        .select_related("carrier")
        .order_by("-created_at")[:50]
    )


def loose_houses_on_lane(*, origin: str, destination: str) -> QuerySet[Shipment]:
    """Houses on the lane that are on no live master (split-off parts, removed houses), of orders that may still
    be planned (not held, cancelled or moving: house_add would refuse them). One Exists for "on a live master": an
    exclude across the relation also dropped the houses that had never been on one."""
    live = ConsolidatedHouse.objects.filter(
        house=OuterRef("pk"), removed_at__isnull=True, deconsolidated_at__isnull=True
    )
    return (
        Shipment.objects.houses()
        .filter(origin_id=origin, destination_id=destination, status=ShipmentStatus.PLANNING)
        .filter(order__status__in=PLANNABLE)
        .exclude(Exists(live))
        .select_related("order", "order__customer")
        .order_by("reference")[:50]
    )


def shipments_for_order(order: Order, scope: Scope) -> list[Shipment]:
    """For the order page: the order's houses the scope may see, each with its master, legs and booking."""
    masters = Shipment.objects.select_related("carrier").prefetch_related(_legs(), _live_bookings())
    links = ConsolidatedHouse.objects.filter(removed_at__isnull=True).prefetch_related(
        Prefetch("master", queryset=masters)
    )
    return list(
        shipments_visible_to(scope=scope)
        .filter(order=order, kind=ShipmentKind.HOUSE)
        .prefetch_related(
            "house_lines__cargo_line", _legs(), Prefetch("consolidations", queryset=links, to_attr="master_links")
        )
        .order_by("reference")
    )


# --- schedule board and execution ------------------------------------------------------------


BOARD_COLUMNS = ("departures", "arrivals", "cutoffs", "appointments")


@dataclass
class Day:
    day: datetime.date
    departures: list[Leg] = field(default_factory=list)
    arrivals: list[Leg] = field(default_factory=list)
    cutoffs: list[tuple[str, datetime.datetime, Booking]] = field(default_factory=list)
    appointments: list[Appointment] = field(default_factory=list)
    # Entries of each column on the day, listed or not: a summarised board lists the first few of a busy day.
    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BOARD_COLUMNS, 0))

    @property
    def is_empty(self) -> bool:
        return not (self.departures or self.arrivals or self.cutoffs or self.appointments)

    @property
    def more(self) -> dict[str, int]:
        """How many entries of each column the day has beyond those listed ("+ 312 more")."""
        return {column: self.totals[column] - len(getattr(self, column)) for column in BOARD_COLUMNS}


def _in_window(
    start: datetime.date, days: int, zone: datetime.tzinfo | None
) -> tuple[datetime.datetime, datetime.datetime]:
    """From midnight of `start` to midnight `days` later on the wall clock of `zone` (aware arithmetic keeps the
    wall clock: a day across a change to or from summer time has 23 or 25 hours)."""
    tz = zone or timezone.get_current_timezone()
    begin = datetime.datetime.combine(start, datetime.time.min, tzinfo=tz)
    return begin, begin + datetime.timedelta(days=days)


# Reads of a day or a fortnight (Today, the schedule board) start from the rows of the window, found by their indexes
# (migration tracking 0020), check each row's shipment by an EXISTS (`_shipment_matches`) and read the shipments
# afterwards, in one query by primary key (`_with_shipments`). Joined to the shipments (`shipment__branch_id`,
# select_related) and, for staff, filtered by `shipment IN (every shipment)`, each read hashed the shipment table
# once or twice with whole rows: Today's windows took 46-55 ms at 20,000 masters, 4 ms now (figures in
# bench/planning_pages.py and docs/planning.md).


def _shipment_matches(queryset: QS, *, branch_id: int | None = None, mode: str = "", open_only: bool = False) -> QS:
    """The rows of `queryset` whose shipment is of the branch (and of the mode; not cancelled with `open_only`).

    An EXISTS on the row's own shipment, not a join: the same rows, but PostgreSQL then reads only the shipments'
    ids and the columns checked (a semi-join), where the join hashed whole shipment rows to return them. A scalar
    subquery per row, `(SELECT id … WHERE id = row.shipment_id …) IS NOT NULL`, ran faster still (1 ms against 4
    for Today's windows) but is priced per row the planner expects: Today's windows, overestimated at 10,000 of
    200,000, cost 91,000, under the 100,000 at which PostgreSQL compiles the query (JIT, 80-100 ms) by a margin a
    longer history would eat."""
    shipments = Shipment.objects.filter(pk=OuterRef("shipment_id")).order_by()
    if branch_id:
        shipments = shipments.filter(branch_id=branch_id)
    if mode:
        shipments = shipments.filter(mode=mode)
    if open_only:
        shipments = shipments.exclude(status=ShipmentStatus.CANCELLED)
    if not (branch_id or mode or open_only):
        return queryset
    return queryset.filter(Exists(shipments))


def _on_visible_shipments(queryset: QS, scope: Scope) -> QS:
    """The rows of `queryset` (bookings, appointments) on shipments the scope may see (`shipments_visible_to`).
    Staff see every shipment, so their rows are not filtered at all: `shipment IN (every shipment)` left the rows as
    they were but cost PostgreSQL a hash of the whole shipment table."""
    if scope.is_staff:
        return queryset
    return queryset.filter(shipment__in=shipments_visible_to(scope=scope).values("pk"))


def _with_shipments(*groups: list[Any]) -> None:
    """Give every row of `groups` (lists of legs, bookings, appointments) its shipment, read in one query by primary
    key for all of them. A row whose shipment was deleted since its own query is taken out of its list."""
    ids = {row.shipment_id for rows in groups for row in rows}
    shipments = Shipment.objects.in_bulk(ids) if ids else {}
    for rows in groups:
        rows[:] = [row for row in rows if row.shipment_id in shipments]
        for row in rows:
            row.shipment = shipments[row.shipment_id]


def _board_legs(scope: Scope, branch_id: int | None, mode: str, carrier_id: int | None) -> QuerySet[Leg]:
    """The legs of open shipments the scope may see, without their shipments: `_with_shipments` adds them."""
    legs = _shipment_matches(legs_visible_to(scope=scope), branch_id=branch_id, open_only=True)
    if mode:
        legs = legs.filter(mode=mode)
    if carrier_id:
        legs = legs.filter(carrier_id=carrier_id)
    return legs.select_related("carrier")  # places are shown by their codes, the legs' own origin_id and destination_id


def _best_time(kind: str) -> Coalesce:
    """When a leg departed (or arrived, by `kind`) as far as we know: the actual time once recorded, else the plan (a
    leg has no estimate of its own: a shipment's ETD/ETA is on its timeline). The board places and orders legs by it;
    migration 0021 indexes exactly this expression."""
    return Coalesce(f"actual_{kind}_at", f"planned_{kind}_at")


def _legs_moving_in(legs: QuerySet[Leg], kind: str, begin: datetime.datetime, end: datetime.datetime) -> QuerySet[Leg]:
    """The legs whose departure (or arrival, by `kind`) falls in [begin, end), by its best time (`_best_time`), in
    that order: a leg recorded as departed on 1 Dec is on 1 Dec, not on the 7 Dec it was planned for."""
    return (
        legs.alias(board_at=_best_time(kind)).filter(board_at__gte=begin, board_at__lt=end).order_by("board_at", "pk")
    )


def _board_days(
    start: datetime.date, days: int, zone: datetime.tzinfo
) -> list[tuple[datetime.date, datetime.datetime]]:
    """Each day of the board with its first instant on the wall clock of `zone`, and the day after the last: a day
    across a change to or from summer time has 23 or 25 hours, so the bounds are computed here, not in SQL."""
    return [
        (start + datetime.timedelta(days=n), _in_window(start + datetime.timedelta(days=n), 1, zone)[0])
        for n in range(days + 1)
    ]


def _first_ids_of_each_day(rows: QS, at: Any, bounds: list[datetime.datetime], per_cell: int) -> RawSQL:
    """SQL for the ids of the first `per_cell` rows of `rows` (by `at`, then id) in each day [bounds[n],
    bounds[n + 1]): one LATERAL subquery per day with a LIMIT, which reads each day's first rows off the index on
    `at` and stops. Numbering every row of the fortnight (ROW_NUMBER() over each day, filtered afterwards) read,
    checked and sorted some 4,500 rows to keep about a hundred: p95 550 ms for the page at 200,000 legs.

    `rows` keeps its scoping and filters: its query, built by the ORM, is the LATERAL body, bounded by the day's
    columns of the outer unnest()."""
    day_rows = (
        rows.alias(board_at=at)
        .filter(board_at__gte=RawSQL("board_day.begin_at", ()), board_at__lt=RawSQL("board_day.end_at", ()))
        .order_by("board_at", "pk")
        .values("id")[:per_cell]
    )
    body, params = day_rows.query.sql_with_params()
    days = "unnest(%s::timestamptz[], %s::timestamptz[]) AS board_day(begin_at, end_at)"
    sql = f"SELECT first_rows.id FROM {days} CROSS JOIN LATERAL ({body}) AS first_rows"  # noqa: S608 - the ORM's SQL
    return RawSQL(sql, (bounds[:-1], bounds[1:], *params))  # noqa: S611 - every value is a parameter


def _totals_by_day(
    columns: dict[str, tuple[QuerySet[Any], Any]],
    zone: datetime.tzinfo,
    begin: datetime.datetime,
    end: datetime.datetime,
) -> QuerySet[Any]:
    """One query: how many rows each column (name: its rows and their time) has on each day of [begin, end), days on
    the clock of `zone`; a GROUP BY over the window's rows, read by the same indexes, returning no row itself."""
    counts = [
        rows.alias(board_at=at)
        .filter(board_at__gte=begin, board_at__lt=end)
        .annotate(column=Value(name), board_day=TruncDate("board_at", tzinfo=zone))
        .values("column", "board_day")
        .annotate(total=Count("pk"))
        .order_by()
        for name, (rows, at) in columns.items()
    ]
    return counts[0].union(*counts[1:], all=True)


def _place(
    board: dict[datetime.date, Day], column: str, rows: list[Any], at: Callable[[Any], datetime.datetime]
) -> None:
    """Put `rows` on their days' `column` by their time `at(row)` on the board's clock (the zone active), soonest
    (then lowest id) first: the order each day's LIMIT read them in."""
    rows.sort(key=lambda row: (at(row), row.pk))
    for row in rows:
        getattr(board[timezone.localtime(at(row)).date()], column).append(row)


def _cutoffs_by_day(
    board: dict[datetime.date, Day],
    bookings: list[Booking],
    window: tuple[datetime.datetime, datetime.datetime],
    per_cell: int | None,
) -> list[Booking]:
    """Put the cut-offs of `bookings` in the board's `window` [begin, end) on their days, soonest first, the first
    `per_cell` of each day with the day's total; returns the bookings listed.

    Cut-offs are summarised here, not in the query: a booking has three, often on three days, so a LIMIT per day
    would first have to make each booking three rows; a fortnight has about a tenth as many bookings as legs, and
    only the bookings listed get their shipments."""
    begin, end = window
    for booking in bookings:
        for label, at in booking.cutoffs:
            if at is not None and begin <= at < end:
                board[timezone.localtime(at, begin.tzinfo).date()].cutoffs.append((label, at, booking))
    listed: dict[int, Booking] = {}
    for day in board.values():
        day.cutoffs.sort(key=lambda item: item[1])
        day.totals["cutoffs"] = len(day.cutoffs)
        if per_cell is not None:
            del day.cutoffs[per_cell:]
        listed |= {booking.pk: booking for _, _, booking in day.cutoffs}
    return list(listed.values())


def schedule_board(
    *,
    scope: Scope,
    start: datetime.date,
    days: int = 14,
    branch_id: int | None = None,
    mode: str = "",
    carrier_id: int | None = None,
    zone: datetime.tzinfo | None = None,
    per_cell: int | None = None,
) -> list[Day]:
    """Each day from `start`, days as the wall clock of `zone` (the branch's; default the active zone) has them:
    departures and arrivals (each on the day it really happened once recorded, else the day planned:
    `_legs_moving_in`), cut-offs and appointments, then their shipments (five queries).

    With `per_cell`, each day lists only its first `per_cell` entries of each column, soonest first, and
    `Day.totals` says how many there are (the fortnight's board, six queries: the first entries of each day are
    read per day with a LIMIT, `_first_ids_of_each_day`, and the totals by one GROUP BY); without, every entry (its
    one-day view)."""
    tz = zone or timezone.get_current_timezone()
    days_and_bounds = _board_days(start, days, tz)
    bounds = [at for _, at in days_and_bounds]
    begin, end = bounds[0], bounds[-1]
    board = {day: Day(day) for day, _ in days_and_bounds[:-1]}
    legs = _board_legs(scope, branch_id, mode, carrier_id)
    appointments_of_scope = _appointments(scope, branch_id, mode)
    columns: dict[str, tuple[QuerySet[Any], Any]] = {
        "departures": (legs, _best_time("departure")),
        "arrivals": (legs, _best_time("arrival")),
        "appointments": (appointments_of_scope, F("window_start_at")),
    }
    if per_cell is None:
        departures, arrivals = (list(_legs_moving_in(legs, kind, begin, end)) for kind in ("departure", "arrival"))
        appointments = list(appointments_of_scope.filter(window_start_at__gte=begin, window_start_at__lt=end))
    else:
        departures, arrivals, appointments = (
            list(
                rows.model.objects.filter(pk__in=_first_ids_of_each_day(rows, at, bounds, per_cell))
                .select_related(related)
                .order_by()  # placed in order by `_place`; a leg's own ordering would join its shipment
            )
            for (rows, at), related in zip(columns.values(), ("carrier", "carrier", "location"), strict=True)
        )
    bookings = _shipment_matches(
        _on_visible_shipments(Booking.objects.all(), scope), branch_id=branch_id, mode=mode
    ).filter(
        Q(documentation_cutoff_at__range=(begin, end))
        | Q(vgm_cutoff_at__range=(begin, end))
        | Q(cargo_cutoff_at__range=(begin, end)),
        status__in=(BookingStatus.CONFIRMED, BookingStatus.ROLLED),
    )
    if carrier_id:
        bookings = bookings.filter(carrier_id=carrier_id)
    listed_bookings = _cutoffs_by_day(board, list(bookings.select_related("carrier")), (begin, end), per_cell)
    _with_shipments(departures, arrivals, listed_bookings, appointments)
    with timezone.override(tz):
        _place(board, "departures", departures, lambda leg: leg.actual_departure_at or leg.planned_departure_at)
        _place(board, "arrivals", arrivals, lambda leg: leg.actual_arrival_at or leg.planned_arrival_at)
        _place(board, "appointments", appointments, lambda appointment: appointment.window_start_at)
    if per_cell is None:
        for day in board.values():
            day.totals |= {column: len(getattr(day, column)) for column in ("departures", "arrivals", "appointments")}
    else:
        for count in _totals_by_day(columns, tz, begin, end):
            board[count["board_day"]].totals[count["column"]] = count["total"]
    with_shipment = {booking.pk for booking in listed_bookings}  # a shipment deleted meanwhile takes its booking
    for day in board.values():
        day.cutoffs = [entry for entry in day.cutoffs if entry[2].pk in with_shipment]
    return list(board.values())


def _appointments(scope: Scope, branch_id: int | None, mode: str) -> QuerySet[Appointment]:
    """Live appointments on shipments the scope may see, without their shipments: `_with_shipments` adds them."""
    appointments = _on_visible_shipments(Appointment.objects.all(), scope).exclude(status=AppointmentStatus.CANCELLED)
    appointments = _shipment_matches(appointments, branch_id=branch_id, mode=mode)
    return appointments.select_related("location").order_by("window_start_at")


TODAY_SECTIONS = ("pickups", "deliveries", "departures", "arrivals", "overdue")
WINDOW_SECTIONS = ("pickups", "deliveries")  # the others list legs
OPEN_APPOINTMENT_STATUSES = (AppointmentStatus.REQUESTED, AppointmentStatus.CONFIRMED)


@dataclass
class Section:
    """One list of Today: the rows it shows and how many it has in all, still to record and recorded (a window
    done or missed, a leg departed for Departures, arrived for Arrivals; "Not recorded yet" has only the former)."""

    name: str
    rows: list[Any]
    to_record: int
    recorded: int

    @property
    def total(self) -> int:
        return self.to_record + self.recorded

    @property
    def hidden(self) -> int:
        """Rows of the section not listed: "Show all" lists them."""
        return self.total - len(self.rows)

    @property
    def hidden_to_record(self) -> int:
        """Of the rows not listed, those still to record (the rows to record are listed first)."""
        return self.to_record - min(len(self.rows), self.to_record)

    @property
    def hidden_recorded(self) -> int:
        return self.hidden - self.hidden_to_record


@dataclass
class Execution:
    day: datetime.date
    sections: dict[str, Section]
    # the rows each section lists (`sections[name].rows`)
    pickups: list[Appointment] = field(init=False)
    deliveries: list[Appointment] = field(init=False)
    departures: list[Leg] = field(init=False)
    arrivals: list[Leg] = field(init=False)
    overdue: list[Leg] = field(init=False)

    def __post_init__(self) -> None:
        for name in TODAY_SECTIONS:
            setattr(self, name, self.sections[name].rows)


@dataclass(frozen=True)
class _SectionRule:
    """Which of the day's rows a section of Today holds, which of them are recorded, and their order (to record
    first, then recorded, each soonest first), on the light rows `execution_for` reads first."""

    holds: Callable[[Any], bool]
    recorded: Callable[[Any], bool]
    at: Callable[[Any], datetime.datetime | None]

    def order(self, row: Any) -> tuple[bool, bool, datetime.datetime, int]:
        at = self.at(row)
        return (self.recorded(row), at is None, at or datetime.datetime.min.replace(tzinfo=datetime.UTC), row.id)


def execution_for(
    *,
    scope: Scope,
    day: datetime.date,
    branch_id: int | None = None,
    zone: datetime.tzinfo | None = None,
    per_section: int | None = None,
    in_full: str = "",
) -> Execution:
    """What should happen on `day` (midnight to midnight in `zone`, default the active zone), and departures or
    arrivals of the last week still not recorded, then their shipments (five queries).

    Each section lists what is still to record first, soonest first, then what was recorded; with `per_section`,
    only that many rows of each section but the one named by `in_full`, and each `Section` says how many there
    are in all. The day's legs and windows are read first as light rows (id, times, status: a busy branch has a
    few hundred), which give the sections, their order and their counts; then only the rows listed are read whole.
    Every row of such a day, made into objects and rendered with its actions (some 350), took 200-400 ms.

    Pickups and deliveries are the windows open at some moment of the day: one opened the evening before and
    closing this morning (Mon 22:00-Tue 06:00), or a delivery window over several days, is on Today while it is
    open, not only on the day it starts. A window closed before the day began is not listed."""
    begin, end = _in_window(day, 1, zone)
    week_ago = begin - datetime.timedelta(days=7)
    legs = _board_legs(scope, branch_id, "", None)
    appointments = _appointments(scope, branch_id, "").filter(window_start_at__lt=end, window_end_at__gt=begin)
    # before today's first instant, not up to and including it: a leg due at midnight is today's, not overdue too
    overdue = Q(
        planned_departure_at__gte=week_ago, planned_departure_at__lt=begin, actual_departure_at__isnull=True
    ) | Q(planned_arrival_at__gte=week_ago, planned_arrival_at__lt=begin, actual_arrival_at__isnull=True)
    day_legs: list[Any] = list(
        legs.filter(
            Q(planned_departure_at__gte=begin, planned_departure_at__lt=end)
            | Q(planned_arrival_at__gte=begin, planned_arrival_at__lt=end)
            | overdue
        )
        .order_by()
        .values_list(
            "id", "planned_departure_at", "planned_arrival_at", "actual_departure_at", "actual_arrival_at", named=True
        )
    )
    day_windows: list[Any] = list(
        appointments.order_by().values_list("id", "kind", "status", "window_start_at", named=True)
    )

    def between(at: datetime.datetime | None, low: datetime.datetime, high: datetime.datetime) -> bool:
        return at is not None and low <= at < high

    def window_done(row: Any) -> bool:
        return row.status not in OPEN_APPOINTMENT_STATUSES

    rules = {
        "pickups": _SectionRule(
            lambda row: row.kind == AppointmentKind.PICKUP, window_done, lambda row: row.window_start_at
        ),
        "deliveries": _SectionRule(
            lambda row: row.kind == AppointmentKind.DELIVERY, window_done, lambda row: row.window_start_at
        ),
        "departures": _SectionRule(
            lambda leg: between(leg.planned_departure_at, begin, end),
            lambda leg: leg.actual_departure_at is not None,
            lambda leg: leg.planned_departure_at,
        ),
        "arrivals": _SectionRule(
            lambda leg: between(leg.planned_arrival_at, begin, end),
            lambda leg: leg.actual_arrival_at is not None,
            lambda leg: leg.planned_arrival_at,
        ),
        "overdue": _SectionRule(  # recorded, a leg is no longer overdue
            lambda leg: (
                (leg.actual_departure_at is None and between(leg.planned_departure_at, week_ago, begin))
                or (leg.actual_arrival_at is None and between(leg.planned_arrival_at, week_ago, begin))
            ),
            lambda leg: False,
            lambda leg: leg.planned_departure_at,
        ),
    }
    listed: dict[str, list[int]] = {}
    counts: dict[str, tuple[int, int]] = {}
    for name, rule in rules.items():
        rows = day_windows if name in WINDOW_SECTIONS else day_legs
        mine = sorted((row for row in rows if rule.holds(row)), key=rule.order)
        recorded = sum(1 for row in mine if rule.recorded(row))
        counts[name] = (len(mine) - recorded, recorded)
        if per_section is not None and name != in_full:
            mine = mine[:per_section]
        listed[name] = [row.id for row in mine]

    def read(model: type[Any], names: Iterable[str], related: str) -> dict[int, Any]:
        """The rows the sections `names` list, whole, by id (one query)."""
        wanted = {pk for name in names for pk in listed[name]}
        return model.objects.filter(pk__in=wanted).select_related(related).order_by().in_bulk() if wanted else {}

    legs_read = read(Leg, ("departures", "arrivals", "overdue"), "carrier")
    windows_read = read(Appointment, WINDOW_SECTIONS, "location")
    with_shipments = [*legs_read.values(), *windows_read.values()]
    _with_shipments(with_shipments)  # takes out a row whose shipment was deleted since
    kept = {(type(row), row.pk) for row in with_shipments}
    sections = {}
    for name in TODAY_SECTIONS:
        model, read_rows = (Appointment, windows_read) if name in WINDOW_SECTIONS else (Leg, legs_read)
        # a row (or its shipment) deleted since the day was read is left out
        rows = [read_rows[pk] for pk in listed[name] if (model, pk) in kept]
        sections[name] = Section(name, rows, *counts[name])
    return Execution(day=day, sections=sections)


def branches_for(scope: Scope) -> QuerySet[Organisation]:
    return Organisation.objects.branches().active().order_by("code")


def default_branch_id(scope: Scope, branches: Iterable[Organisation]) -> int | None:
    """The user's own branch when they belong to one, else all branches."""
    for branch in branches:
        if branch.pk in scope.organisation_ids:
            return branch.pk
    return None


def carriers_for_filter() -> QuerySet[Organisation]:
    """The schedule board's carrier filter: whoever may run a leg."""
    return leg_runners()


def leg_get_for(*, scope: Scope, pk: int) -> Leg:
    return get_object_or_404(
        legs_visible_to(scope=scope).select_related("shipment__branch", "carrier", "origin", "destination"), pk=pk
    )


def booking_get_for(*, scope: Scope, pk: int) -> Booking:
    visible = shipments_visible_to(scope=scope).values("pk")
    return get_object_or_404(
        Booking.objects.filter(shipment__in=visible).select_related("shipment__branch", "carrier"), pk=pk
    )


def appointment_get_for(*, scope: Scope, pk: int) -> Appointment:
    visible = shipments_visible_to(scope=scope).values("pk")
    return get_object_or_404(Appointment.objects.filter(shipment__in=visible).select_related("shipment"), pk=pk)


def booking_document_context(booking: Booking) -> dict[str, Any]:
    """Everything the booking request document shows: shipment, cargo totals, containers, legs, our branch."""
    shipment = (
        Shipment.objects.select_related("branch", "origin", "destination")
        .prefetch_related(_legs(), _live_links(), "containers")
        .get(pk=booking.shipment_id)
    )
    houses = [link.house for link in shipment.live_links]
    contacts = Contact.objects.filter(organisation=booking.carrier).exclude(email="").values_list("email", flat=True)
    return {
        "booking": booking,
        "shipment": shipment,
        "houses": houses,
        "carrier": booking.carrier,
        "totals": master_totals(master=shipment, houses=houses, containers=list(shipment.containers.all())),
        "containers": list(shipment.containers.all()),
        "legs": list(shipment.legs.all()),
        "branch": shipment.branch,
        "carrier_contacts": list(contacts)[:3],
        "goods": sorted({house.order.description for house in houses if house.order and house.order.description}),
        "dangerous": any(hl.cargo_line.un_number for house in houses for hl in house.house_lines.all()),
    }
