"""Planning screens: orders to plan and open masters, an order's planning page, consolidation, and the
shipment page with its houses, containers, legs and appointments. Booking actions: views_booking.py;
schedule board and execution: views_schedule.py."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from oms.http import HtmxHttpRequest
from orders.models import Mode, Order
from partners.permissions import may_plan, planning_required, staff_required
from partners.scoping import Scope, scope_for_request
from partners.time_zones import branch_zone, zone_label
from tracking import leg_history, selectors
from tracking.errors import PlanningError
from tracking.forms import (
    AddHouseForm,
    AppointmentForm,
    ConsolidateForm,
    ContainerForm,
    LegForm,
    SplitForm,
)
from tracking.models import LIVE_BOOKING_STATUSES, Leg, LegRole, ShipmentEquipment, ShipmentKind, ShipmentStatus
from tracking.services import appointment_changes, consolidation, container_changes, leg_changes, planning, ranking
from tracking.services import booking as booking_services
from tracking.services.consolidation import MODE_FAMILY


def _htmx_render(request: HtmxHttpRequest, template: str, fragment: str, context: dict[str, Any]) -> HttpResponse:
    response = render(request, f"{template}#{fragment}" if request.htmx else template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _id_param(raw: str | None) -> int | None:
    """A primary key typed into a form or query string, or None. ASCII digits only: str.isdigit() also accepts
    "²" and "٣", which int() refuses (a 500)."""
    return int(raw) if raw and raw.isascii() and raw.isdigit() else None


def _branch_filter(request: HttpRequest) -> tuple[list[Any], int | None]:
    scope = scope_for_request(request)
    branches = list(selectors.branches_for(scope))
    raw = request.GET.get("branch")
    if raw == "all":
        return branches, None
    branch_id = _id_param(raw)
    if branch_id is not None and any(branch.pk == branch_id for branch in branches):
        return branches, branch_id
    return branches, selectors.default_branch_id(scope, branches)


def _viewer_zone(request: HttpRequest, branches: list[Any], branch_id: int | None) -> datetime.tzinfo:
    """The clock a list screen runs on: the branch it shows, else the viewer's own branch (all branches shown),
    else the server's zone (company-wide staff)."""
    chosen = branch_id or selectors.default_branch_id(scope_for_request(request), branches)
    return branch_zone(next((branch for branch in branches if branch.pk == chosen), None))


def _zone_of(shipment: Any) -> datetime.tzinfo:
    """A shipment's planning times are on its branch's clock: shown so and typed so (docs/planning.md)."""
    return branch_zone(shipment.branch)


ORDERS_TO_PLAN_PER_PAGE = 100


@staff_required
def planning_index(request: HtmxHttpRequest) -> HttpResponse:
    """Orders with cargo still to plan (tick LCL orders to consolidate them) and the open masters."""
    scope = scope_for_request(request)
    branches, branch_id = _branch_filter(request)
    mode = request.GET.get("mode", "") if request.GET.get("mode", "") in Mode.values else ""
    origin, destination = request.GET.get("origin", "").strip(), request.GET.get("destination", "").strip()
    orders = selectors.orders_to_plan(
        scope=scope,
        branch_id=branch_id,
        modes=[mode] if mode else [],
        origin=origin,
        destination=destination,
        limit=None,
    )
    page = Paginator(orders, ORDERS_TO_PLAN_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "orders": page,
        "orders_total": page.paginator.count,
        "masters": selectors.master_list_for(scope=scope, branch_id=branch_id, mode=mode),
        "branches": branches,
        "branch_id": branch_id,
        "mode": mode,
        "modes": Mode.choices,
        "origin": origin,
        "destination": destination,
        "consolidate_form": ConsolidateForm(),
        # what the last "Consolidate selected" asked for, back after it was refused (see consolidate)
        "ticked": set(request.GET.getlist("order")),
        "container_type": request.GET.get("container_type", "22G1"),
        "containers": _id_param(request.GET.get("containers")) or 1,
    }
    return _htmx_render(request, "tracking/planning_index.html", "lists", context)


def _back_to_planning(request: HttpRequest) -> HttpResponse:
    """The planning list as the refused consolidation left it: its filters and page, the ticked orders and the
    container asked for (a redirect, so a reload does not post again)."""
    keep = ("branch", "mode", "origin", "destination", "page", "container_type", "containers")
    params = [(name, request.POST[name]) for name in keep if request.POST.get(name)]
    params += [("order", reference) for reference in request.POST.getlist("order")]
    return redirect(f"{reverse('tracking:index')}?{urlencode(params)}" if params else reverse("tracking:index"))


def _consolidation_problems(form: ConsolidateForm, references: list[str]) -> list[str]:
    """What is missing or wrong in a "Consolidate selected", and only that: no orders ticked, or the containers
    asked for (the form's own words). A container was chosen is no reason to be told to choose one."""
    problems = [] if references else ["Tick the orders to consolidate."]
    if not form.is_valid():
        problems += [str(error) for name in ("container_type", "containers") for error in form.errors.get(name, [])]
    return problems


@planning_required
@require_POST
def consolidate(request: HttpRequest) -> HttpResponse:
    """A master with a container carrying a house for each ticked order."""
    scope = scope_for_request(request)
    form = ConsolidateForm(request.POST)
    references = request.POST.getlist("order")
    if problems := _consolidation_problems(form, references):
        messages.error(request, " ".join(problems))
        return _back_to_planning(request)
    orders = list(selectors.orders_to_plan(scope=scope, references=references))
    try:
        master = consolidation.consolidation_create(
            orders=sorted(orders, key=lambda o: o.reference),
            container_type=form.cleaned_data["container_type"],
            containers=form.cleaned_data["containers"],
            by=request.user,
        )
    except PlanningError as exc:
        messages.error(request, str(exc))
        return _back_to_planning(request)
    houses = ngettext("house", "houses", len(orders))
    messages.success(request, f"{master.reference} created with {len(orders)} {houses}.")
    return redirect(master)


@staff_required
def order_plan(request: HttpRequest, reference: str) -> HttpResponse:
    """An order's planning page: its cargo and what is planned of it, ranked carriers, and the ways to plan."""
    scope = scope_for_request(request)
    order = selectors.order_get_for_planning(scope=scope, reference=reference)
    houses = selectors.houses_of_order(order=order)
    remaining = planning.unallocated_pieces(order)
    context = {
        "order": order,
        "houses": houses,
        "remaining": remaining,
        "lines": [(line, remaining.get(line.pk, 0)) for line in order.lines.all()],
        "masters": selectors.masters_open_on_lane(
            origin=order.origin_id,
            destination=order.destination_id,
            mode_family=[m for m, f in MODE_FAMILY.items() if f == MODE_FAMILY[order.mode]],
        ),
        "problem": planning.order_plan_problem(order),
        "ranking": ranking.ranking_for_order(order=order) if remaining else None,
    }
    return render(request, "tracking/order_plan.html", context)


def _order_for_action(request: HttpRequest, reference: str) -> Order:
    return selectors.order_get_for_planning(scope=scope_for_request(request), reference=reference)


@planning_required
@require_POST
def order_plan_direct(request: HttpRequest, reference: str) -> HttpResponse:
    """Ship the order's unplanned cargo on its own master."""
    order = _order_for_action(request, reference)
    try:
        master = planning.shipment_plan_direct(order=order, by=request.user)
    except PlanningError as exc:
        messages.error(request, str(exc))
        return redirect("tracking:order_plan", reference=order.reference)
    messages.success(request, f"{master.reference} created for {order.reference}. Pick a carrier next.")
    return redirect(master)


@planning_required
@require_POST
def order_add_to_master(request: HttpRequest, reference: str) -> HttpResponse:
    """Put the order's unplanned cargo, as a new house, on an open master of the same lane."""
    scope = scope_for_request(request)
    order = _order_for_action(request, reference)
    master_id = _id_param(request.POST.get("master"))
    if master_id is None:
        messages.error(request, "Choose the master to add the order to.")
        return redirect("tracking:order_plan", reference=order.reference)
    master = get_object_or_404(selectors.shipments_visible_to(scope=scope).masters(), pk=master_id)
    try:
        consolidation.order_add_to_master(order=order, master=master, by=request.user)
    except PlanningError as exc:
        messages.error(request, str(exc))
        return redirect("tracking:order_plan", reference=order.reference)
    messages.success(request, f"{order.reference} is on {master.reference}.")
    return redirect(master)


@staff_required
def shipment_detail(request: HttpRequest, reference: str) -> HttpResponse:
    scope = scope_for_request(request)
    shipment = selectors.shipment_get_for(scope=scope, reference=reference)
    return _render_shipment(request, shipment, scope)


def _render_shipment(
    request: HttpRequest, shipment: Any, scope: Scope, status: int = 200, **forms: Any
) -> HttpResponse:
    """The shipment's page, its times on the branch's clock."""
    with timezone.override(_zone_of(shipment)):
        context = _shipment_context(shipment, scope, **forms)
        return render(request, "tracking/shipment_detail.html", context, status=status)


def _shipment_context(shipment: Any, scope: Scope, **forms: Any) -> dict[str, Any]:
    zone = _zone_of(shipment)
    context: dict[str, Any] = {"shipment": shipment, "statuses": ShipmentStatus, "zone": zone_label(zone)}
    if shipment.kind == ShipmentKind.MASTER:
        houses = [link.house for link in shipment.live_links]
        released = selectors.houses_deconsolidated_from(master=shipment)
        containers = list(shipment.containers.all())
        booking = next((b for b in shipment.booking_history if b.status in LIVE_BOOKING_STATUSES), None)
        main = next((leg for leg in shipment.legs.all() if leg.role == LegRole.MAIN), None)
        context |= {
            "houses": houses,
            "released_links": released,
            "containers": containers,
            # what it carried: after deconsolidation, the houses it released
            "totals": consolidation.master_totals(
                master=shipment, houses=houses + [link.house for link in released], containers=containers
            ),
            "capacity_problems": consolidation.master_capacity_problems(master=shipment, containers=containers),
            # "Add container" only where the service would accept it (sea and rail, before the master moves)
            "container_add_problem": container_changes.container_add_problem(shipment),
            "booking": booking,
            # the booking card offers only what the booking services would accept
            "may_cancel_booking": booking is not None and booking_services.cancel_problem(booking) is None,
            "may_roll_booking": booking is not None and booking_services.roll_problem(booking, main) is None,
            "candidates": (
                _candidates(shipment, scope) if shipment.status in consolidation.JOINABLE and may_plan(scope) else []
            ),
        }
    else:
        context["house_lines"] = list(shipment.house_lines.all())
        context["split_form"] = forms.pop("split_form", None) or SplitForm(house_lines=context["house_lines"])
    legs = list(shipment.legs.all())
    closed = leg_changes.legs_change_problem(shipment)
    # Each leg with whether it may be corrected, and why it may not be removed (the services' own rules, on the
    # prefetched legs and bookings: no query per leg). "Remove" is offered only when nothing stands in the way;
    # otherwise the row says why in its place (the booked or only main carriage, a leg that moved).
    context["leg_rows"] = [
        {
            "leg": leg,
            "may_edit": closed is None,
            "remove_problem": leg_changes.leg_remove_problem(leg, shipment=shipment, legs=legs),
        }
        for leg in legs
    ]
    context["legs_closed"] = closed  # "Add a leg" is not offered either: a closed shipment's legs stay
    context["leg_history"] = leg_history.leg_history_for(shipment=shipment)
    context["container_form"] = forms.pop("container_form", None) or ContainerForm()
    context["leg_form"] = forms.pop("leg_form", None) or LegForm(initial=_new_leg_initial(shipment, legs), zone=zone)
    context["appointment_form"] = forms.pop("appointment_form", None) or AppointmentForm(
        initial={"location": shipment.destination_id}, zone=zone
    )
    context.update(forms)
    return context


# The truck that takes the cargo to (or from) the main carriage: a full load stays one, loose cargo travels groupage.
_FEEDER_MODES = {Mode.OCEAN_FCL: Mode.ROAD_FTL, Mode.ROAD_FTL: Mode.ROAD_FTL, Mode.RAIL: Mode.ROAD_FTL}


def _new_leg_initial(shipment: Any, legs: list[Leg]) -> dict[str, Any]:
    """What the add-a-leg form starts from. A master without a main carriage gets one over its lane; otherwise
    the usual leg to add is a pre-carriage: a truck to where the main carriage starts."""
    main = next((leg for leg in legs if leg.role == LegRole.MAIN), None)
    if main is None and shipment.kind == ShipmentKind.MASTER:
        return {
            "role": LegRole.MAIN,
            "mode": shipment.mode,
            "origin": shipment.origin_id,
            "destination": shipment.destination_id,
        }
    return {
        "role": LegRole.PRE_CARRIAGE,
        "mode": _FEEDER_MODES.get(shipment.mode, Mode.ROAD_LTL),
        "destination": main.origin_id if main is not None else shipment.origin_id,
    }


def _candidates(master: Any, scope: Scope) -> list[tuple[str, str]]:
    """Orders with unplanned cargo and loose houses on the master's lane and mode family, for "Add house"."""
    family = [m for m, f in MODE_FAMILY.items() if f == MODE_FAMILY[master.mode]]
    orders = selectors.orders_to_plan(
        scope=scope, modes=family, origin=master.origin_id, destination=master.destination_id, limit=50
    )
    houses = selectors.loose_houses_on_lane(origin=master.origin_id, destination=master.destination_id)
    return [
        *[(f"order:{o.pk}", f"{o.reference} · {o.customer.code} · {o.gross_weight_kg_total:,.0f} kg") for o in orders],
        *[
            (f"house:{h.pk}", f"{h.reference} (split of {h.order.reference})")
            for h in houses
            if h.mode in family and h.order is not None  # a house always has its order
        ],
    ]


def _shipment_for_action(request: HttpRequest, reference: str) -> Any:
    return selectors.shipment_get_for(scope=scope_for_request(request), reference=reference)


@planning_required
@require_POST
def house_add(request: HttpRequest, reference: str) -> HttpResponse:
    master = _shipment_for_action(request, reference)
    form = AddHouseForm(request.POST, candidates=_candidates(master, scope_for_request(request)))
    if not form.is_valid():
        messages.error(request, "Choose an order or house to add.")
        return redirect(master)
    kind, pk = form.cleaned_data["candidate"].split(":")
    try:
        if kind == "order":
            consolidation.order_add_to_master(order=Order.objects.get(pk=pk), master=master, by=request.user)
        else:
            house = selectors.shipments_visible_to(scope=scope_for_request(request)).houses().get(pk=pk)
            consolidation.house_add(master=master, house=house, by=request.user)
    except PlanningError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "House added.")
    return redirect(master)


@planning_required
@require_POST
def house_remove(request: HttpRequest, reference: str, house_reference: str) -> HttpResponse:
    scope = scope_for_request(request)
    master = _shipment_for_action(request, reference)
    house = get_object_or_404(selectors.shipments_visible_to(scope=scope).houses(), reference=house_reference)
    try:
        consolidation.house_remove(master=master, house=house, by=request.user)
    except PlanningError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{house.reference} taken off {master.reference}; it is back in planning.")
    return redirect(master)


@planning_required
@require_POST
def house_split(request: HttpRequest, reference: str) -> HttpResponse:
    house = _shipment_for_action(request, reference)
    form = SplitForm(request.POST, house_lines=list(house.house_lines.all()))
    if form.is_valid():
        try:
            new_house = planning.house_split(house=house, allocations=form.allocations(), by=request.user)
        except PlanningError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{new_house.reference} split off; add it to a master for its own sailing.")
            return redirect(new_house)
    return _render_shipment(request, house, scope_for_request(request), status=400, split_form=form)


@planning_required
@require_POST
def master_deconsolidate(request: HttpRequest, reference: str) -> HttpResponse:
    master = _shipment_for_action(request, reference)
    try:
        houses = consolidation.master_deconsolidate(master=master, by=request.user)
    except PlanningError as exc:
        messages.error(request, str(exc))
    else:
        count = ngettext("house", "houses", len(houses))
        messages.success(request, f"Deconsolidated {len(houses)} {count}; plan their on-carriage and delivery.")
    return redirect(master)


@planning_required
@require_POST
def container_add(request: HttpRequest, reference: str) -> HttpResponse:
    shipment = _shipment_for_action(request, reference)
    form = ContainerForm(request.POST)
    if form.is_valid():
        try:
            container_changes.container_add(shipment=shipment, data=form.cleaned_data)
        except PlanningError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Container added.")
            return redirect(shipment)
    return _render_shipment(request, shipment, scope_for_request(request), status=400, container_form=form)


@planning_required
@require_POST
def container_update(request: HttpRequest, reference: str, pk: int) -> HttpResponse:
    shipment = _shipment_for_action(request, reference)
    container = get_object_or_404(ShipmentEquipment, pk=pk, shipment=shipment)
    form = ContainerForm(request.POST)
    if form.is_valid():
        try:
            container_changes.container_update(container=container, data=form.cleaned_data)
        except PlanningError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"{form.cleaned_data['container_number'] or 'Container'} saved.")
    else:
        messages.error(request, " ".join(" ".join(map(str, errors)) for errors in form.errors.values()))
    return redirect(shipment)


@planning_required
@require_POST
def container_remove(request: HttpRequest, reference: str, pk: int) -> HttpResponse:
    shipment = _shipment_for_action(request, reference)
    container = get_object_or_404(ShipmentEquipment, pk=pk, shipment=shipment)
    try:
        container_changes.container_remove(container=container)
    except PlanningError as exc:
        messages.error(request, str(exc))
    return redirect(shipment)


def _shipment_form_post(
    request: HttpRequest, shipment: Any, form: Any, service: Any, *, done: str | Callable[[Any], str], form_name: str
) -> HttpResponse:
    """Run a shipment-page form through its service: redirect on success, re-render with errors (400). `done` is
    the message, or makes it from what the service returned."""
    if form.is_valid():
        try:
            made = service(shipment=shipment, data=form.service_data())
        except PlanningError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, done(made) if callable(done) else done)
            return redirect(shipment)
    return _render_shipment(request, shipment, scope_for_request(request), status=400, **{form_name: form})


@planning_required
@require_POST
def leg_add(request: HttpRequest, reference: str) -> HttpResponse:
    shipment = _shipment_for_action(request, reference)
    return _shipment_form_post(
        request,
        shipment,
        LegForm(request.POST, zone=_zone_of(shipment)),
        functools.partial(leg_changes.leg_add, by=request.user),
        done=lambda leg: f"{leg.get_role_display()} {leg.origin_id} → {leg.destination_id} added.",
        form_name="leg_form",
    )


def _leg_of(shipment: Any, pk: int) -> Leg:
    """One of the shipment's legs (prefetched with it), or 404: a leg is reached through its own shipment only."""
    leg = next((leg for leg in shipment.legs.all() if leg.pk == pk), None)
    if leg is None:
        raise Http404("No such leg on this shipment.")
    return leg


@planning_required
def leg_edit(request: HttpRequest, reference: str, pk: int) -> HttpResponse:
    """Correct a leg: the form that adds one, filled in from the leg; what a departure, an arrival or the carrier's
    confirmation fixed is shown, not editable (leg_changes.leg_fixed_fields). Times on the branch's clock."""
    shipment = _shipment_for_action(request, reference)
    leg = _leg_of(shipment, pk)
    problem = leg_changes.legs_change_problem(shipment)
    if problem:
        messages.error(request, problem)
        return redirect(shipment)
    zone = _zone_of(shipment)
    fixed = leg_changes.leg_fixed_fields(leg, shipment=shipment, legs=list(shipment.legs.all()))
    form = LegForm(request.POST or None, leg=leg, fixed=fixed, zone=zone)
    if request.method == "POST" and form.is_valid():
        try:
            with timezone.override(zone):
                leg_changes.leg_update(leg=leg, data=form.service_data(), by=request.user)
        except PlanningError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{leg.get_role_display()} {leg.origin_id} → {leg.destination_id} saved.")
            return redirect(shipment)
    context = {
        "shipment": shipment,
        "leg": leg,
        "form": form,
        "reasons": list(dict.fromkeys(fixed.values())),
        "zone": zone_label(zone),
    }
    with timezone.override(zone):
        return render(request, "tracking/leg_form.html", context, status=400 if form.errors else 200)


@planning_required
def leg_remove(request: HttpRequest, reference: str, pk: int) -> HttpResponse:
    """Remove a leg planned by mistake: a page that asks (or says why not), then the removal (POST)."""
    shipment = _shipment_for_action(request, reference)
    leg = _leg_of(shipment, pk)
    legs = list(shipment.legs.all())
    if request.method == "POST":
        try:
            leg_changes.leg_remove(leg=leg, by=request.user)
        except PlanningError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"{leg.get_role_display()} {leg.origin_id} → {leg.destination_id} removed.")
        return redirect(shipment)
    context = {
        "shipment": shipment,
        "leg": leg,
        "problem": leg_changes.leg_remove_problem(leg, shipment=shipment, legs=legs),
        "zone": zone_label(_zone_of(shipment)),
    }
    with timezone.override(_zone_of(shipment)):
        return render(request, "tracking/leg_remove.html", context)


@planning_required
@require_POST
def appointment_add(request: HttpRequest, reference: str) -> HttpResponse:
    shipment = _shipment_for_action(request, reference)
    return _shipment_form_post(
        request,
        shipment,
        AppointmentForm(request.POST, zone=_zone_of(shipment)),
        appointment_changes.appointment_schedule,
        done="Appointment scheduled.",
        form_name="appointment_form",
    )


@staff_required
def shipment_ranking(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """The ranked carrier options for a master (loaded into its page by htmx); "Choose" only for planners."""
    shipment = _shipment_for_action(request, reference)
    live = any(booking.status in LIVE_BOOKING_STATUSES for booking in shipment.booking_history)
    open_for_booking = shipment.status == ShipmentStatus.PLANNING and not live and may_plan(scope_for_request(request))
    context = {
        "shipment": shipment,
        "ranking": ranking.ranking_for_shipment(shipment=shipment),
        "choose_url": reverse("tracking:booking_choose", args=[shipment.reference]) if open_for_booking else "",
    }
    return _htmx_render(request, "tracking/shipment_ranking.html", "ranking", context)
