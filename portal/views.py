"""The customer's and partner's screens.

Customers follow their own orders: the overview (the latest orders, delays and holds), every order with search and
a state filter, each order's tracking timeline (tracking's own page, customer-safe, in the portal's layout), and
their order files (/portal/imports/). Partners see what is assigned to them: the legs they carry, with the orders
on them, and send their milestones as files (/tracking/uploads/). Every query goes through the request's scope.

Times are on the reader's clock, which the screens name ("times in America/Chicago"): their own organisation's
(`Organisation.time_zone`; partners.time_zones.viewer_zone, read with the request's scope, so no query). A carrier
reads its legs on its own clock too, not on each port's: OMS holds no zone per place (docs/planning.md).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Case, F, Prefetch, Q, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from orders.models import Order, OrderStatus
from orders.selectors import orders_found, search_text
from partners import selectors as partner_selectors
from partners.models import Membership
from partners.permissions import external_required
from partners.scoping import Scope, scope_for_request
from partners.time_zones import viewer_zone, zone_label
from tracking.exceptions import selectors as exception_selectors
from tracking.ingest.goods import in_goods_states, label_goods_states, with_goods_step
from tracking.models import OPEN_SHIPMENT_STATUSES, ConsolidatedHouse, Leg, Shipment, ShipmentStatus
from tracking.selectors import legs_visible_to

PER_PAGE = 50
QUERY_LIMIT = 64  # a reference is at most 64 characters (orders.intake)
# The order states a customer filters by, grouped as they think of them: by where the goods are
# (tracking/ingest/goods.py), as the tracking link she sends says. A held order is in the group of its state before
# the hold (a delivered order held for a claim is still delivered for the customer, one held before it left still in
# progress), or further when its actual milestones are: a held order whose vessel sailed is on the way, and so is one
# a workflow task keeps at "Confirmed" after its departure.
ORDER_STATES = {
    "open": ("In progress", [OrderStatus.SUBMITTED, OrderStatus.CONFIRMED, OrderStatus.PLANNED]),
    "moving": ("On the way", [OrderStatus.IN_TRANSIT, OrderStatus.ARRIVED]),
    "delivered": (
        "Delivered",
        [OrderStatus.DELIVERED, OrderStatus.COMPLETED, OrderStatus.INVOICED, OrderStatus.CLOSED],
    ),
    "draft": ("Drafts", [OrderStatus.DRAFT]),
    "cancelled": ("Cancelled", [OrderStatus.CANCELLED]),
}


@external_required
def home(request: HttpRequest) -> HttpResponse:
    """The portal landing page: your latest orders and the delays and holds on them (customers) or the next legs you
    carry (partners), your organisation, its people and its contacts with us."""
    scope = scope_for_request(request)
    team = Prefetch(
        "memberships",
        queryset=Membership.objects.filter(is_active=True).select_related("user").order_by("user__email"),
        to_attr="active_memberships",
    )
    organisations = (
        partner_selectors.organisations_visible_to(scope=scope)
        .filter(pk__in=scope.organisation_ids)
        .prefetch_related("addresses", "contacts", team)
        .order_by("code")
    )
    orders = list(
        with_goods_step(scope.restrict(Order.objects.all(), customer="customer_id"))
        .select_related("origin", "destination")
        .order_by("-created_at", "-id")[:15]
    )
    label_goods_states(orders)
    notices = exception_selectors.exceptions_for_customer(scope=scope)
    legs = list(_legs_of(scope).filter(_OPEN_LEG)[:10]) if scope.is_partner else []
    return _render_on_clock(
        request, "portal/home.html",
        {"organisations": organisations, "scope": scope, "orders": orders, "notices": notices, "legs": legs},
    )  # fmt: skip


def _render_on_clock(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """A portal screen with times: on the reader's own clock, which the page names (`time_zone`)."""
    zone = viewer_zone(scope_for_request(request))
    with timezone.override(zone):
        return render(request, template, {"time_zone": zone_label(zone), **context})


@external_required
def order_list(request: HttpRequest) -> HttpResponse:
    """Every order of the customer, newest first, each with where its goods are (tracking/ingest/goods.py): found by our
    reference, theirs, or what the staff search finds (containers, AWBs, parties, goods) and the bills of its
    shipments; filtered by where the goods are."""
    scope = scope_for_request(request)
    if not (scope.is_customer or scope.is_staff):
        raise PermissionDenied("Orders are followed by the customer they belong to; you see the shipments you carry.")
    query = search_text(request.GET.get("q", "")).strip()[:QUERY_LIMIT]
    state = request.GET.get("state", "")
    import_job = _import_job(request)
    orders: QuerySet[Order] = scope.restrict(Order.objects.all(), customer="customer_id")
    if query:
        orders = _found(orders, query)
    if import_job:  # the orders one of their files created, linked from its result page
        orders = orders.filter(import_record__job_id=import_job)
    orders = with_goods_step(orders).select_related("origin", "destination")
    if state in ORDER_STATES:
        orders = in_goods_states(orders, ORDER_STATES[state][1])
    page = Paginator(orders.order_by("-created_at", "-id"), PER_PAGE).get_page(request.GET.get("page"))
    label_goods_states(page)
    states = [(key, label) for key, (label, _statuses) in ORDER_STATES.items()]
    context = {"page": page, "query": query, "state": state, "states": states, "import_job": import_job}
    return render(request, "portal/order_list.html", context)


def _found(orders: QuerySet[Order], query: str) -> QuerySet[Order]:
    """The orders a customer's search finds: what the staff order list's search finds (our reference, full-text
    over her order number, parties, goods, containers and AWBs as written), part of her order number, and the bill
    (B/L, AWB, CMR) of a shipment her tracking page lists: a house of the order, or a live master carrying one."""
    bill = "".join(query.split())
    on_bill = Shipment.objects.filter(bill_number__iexact=bill)
    by_bill = Q(pk__in=on_bill.filter(order__isnull=False).values("order_id")) | Q(
        pk__in=ConsolidatedHouse.objects.filter(removed_at__isnull=True, master__in=on_bill).values("house__order_id")
    )
    return orders_found(queryset=orders, query=query) | orders.filter(Q(customer_reference__icontains=query) | by_bill)


def _import_job(request: HttpRequest) -> uuid.UUID | None:
    """The order file whose orders the list is narrowed to (`?import=<job id>`), or None (absent or malformed)."""
    try:
        return uuid.UUID(request.GET.get("import", ""))
    except ValueError:
        return None


@external_required
def shipment_list(request: HttpRequest) -> HttpResponse:
    """The legs a partner carries, soonest first, with the orders on each: open ones (no arrival recorded yet), or
    those done (arrived, or their shipment delivered or cancelled), latest first. Found by the shipment's reference
    or B/L, or by an order reference (ours or the customer's) shown on its row; a NUL in the search is dropped, as
    in the staff search."""
    scope = scope_for_request(request)
    if not (scope.is_partner or scope.is_staff):
        raise PermissionDenied("Shipments are listed for the partners who carry them; you follow your orders.")
    query = search_text(request.GET.get("q", "")).strip()[:QUERY_LIMIT]
    done = request.GET.get("show") == "done"
    legs = _legs_of(scope)
    legs = legs.exclude(_OPEN_LEG) if done else legs.filter(_OPEN_LEG)
    if query:
        # A master's row lists its live houses' orders: those find it too (one filter: the same house row).
        on_house = Q(shipment__consolidated_houses__removed_at__isnull=True) & (
            Q(shipment__consolidated_houses__house__order__reference__iexact=query)
            | Q(shipment__consolidated_houses__house__order__customer_reference__iexact=query)
        )
        legs = legs.filter(
            Q(shipment__reference__iexact=query) | Q(shipment__bill_number__iexact=query)
            | Q(shipment__order__reference__iexact=query) | Q(shipment__order__customer_reference__iexact=query)
            | on_house
        ).distinct()  # fmt: skip
    if done:
        legs = legs.order_by(F("planned_departure_at").desc(nulls_last=True), "-id")
    page = Paginator(legs, PER_PAGE).get_page(request.GET.get("page"))
    return _render_on_clock(request, "portal/shipment_list.html", {"page": page, "query": query, "done": done})


# A leg is open for its carrier until its arrival is recorded (and while its shipment is not delivered or
# cancelled): a trucker's finished run to the port is done, whatever the vessel does next.
_OPEN_LEG = Q(actual_arrival_at__isnull=True, shipment__status__in=OPEN_SHIPMENT_STATUSES)
# What a leg's row says of it (its Status column), first that applies: its shipment's end, else how far the leg
# itself got; never the master's progress (a finished pre-carriage is not "In transit" while the vessel waits).
# With the badge tone each reads in (static/css/oms.css `state-*`).
_LEG_STATES = (
    (Q(shipment__status=ShipmentStatus.CANCELLED), "Cancelled", "cancelled"),
    (Q(shipment__status=ShipmentStatus.DELIVERED), "Delivered", "delivered"),
    (Q(actual_arrival_at__isnull=False), "Arrived", "done"),
    (Q(actual_departure_at__isnull=False), "Departed", "in_transit"),
)
_LEG_STATE = Case(*(When(when, then=Value(label)) for when, label, _ in _LEG_STATES), default=Value("Planned"))
_LEG_TONE = Case(*(When(when, then=Value(tone)) for when, _, tone in _LEG_STATES), default=Value("planned"))


def _legs_of(scope: Scope) -> QuerySet[Leg]:
    """The legs this scope carries (staff: all), with their shipment, places, the orders on them (a house's own
    order, or a master's consolidated houses' orders) and the leg's own state (`state`, `state_tone`)."""
    houses = Prefetch(
        "shipment__consolidated_houses",
        queryset=ConsolidatedHouse.objects.filter(removed_at__isnull=True)
        .select_related("house__order")
        .order_by("house__reference"),
        to_attr="live_houses",
    )
    return (
        legs_visible_to(scope=scope)
        .select_related("shipment__order", "origin", "destination")
        .prefetch_related(houses)
        .annotate(state=_LEG_STATE, state_tone=_LEG_TONE)
        .order_by(F("planned_departure_at").asc(nulls_last=True), "id")
    )
