"""The schedule board (two weeks by day, per branch) and the execution screen (today, with quick actions)."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from oms.http import HtmxHttpRequest, page_to_return_to
from orders.models import Mode
from partners.permissions import planning_required, staff_required
from partners.scoping import scope_for_request
from partners.time_zones import branch_zone, zone_label, zone_named
from tracking import selectors
from tracking.errors import PlanningError
from tracking.forms import EARLIEST_DAY, LATEST_DAY, AppointmentOutcomeForm, LegActualForm
from tracking.services import appointment_changes, leg_changes
from tracking.views import _branch_filter, _id_param, _viewer_zone

BOARD_DAYS = 14
# Entries a day's cell lists on the fortnight's board, soonest first; "+ 312 more" opens the day on its own, which
# lists them all. Eight fill a cell about as tall as the day's row on a laptop; a busy branch has 100 and more
# departures a day, and a fortnight of all of them (4,500 entries, 1.4 MB) took over a second to show.
BOARD_CELL_ENTRIES = 8
# The earliest and latest days a board may start on: near date.min or date.max the board's window, its
# "previous" and "next" weeks or the window's conversion to UTC leave the calendar (OverflowError, a 500). The
# planning forms take typed times in the same years (tracking.forms.LocalDateTimeField).
EARLIEST_START, LATEST_START = EARLIEST_DAY, LATEST_DAY
# Rows each section of Today lists: what is still to record, soonest first, then what was recorded. A busy branch's
# day has 100 and more departures, as many arrivals and windows; all of them with their actions (some 350 rows)
# took 200-400 ms to show and buried the next thing to do. Ten is a screen of the section; "Show all 110" lists
# that section whole (docs/planning.md, "Today on a busy day").
TODAY_SECTION_ROWS = 10


def _start(request: HttpRequest, zone: datetime.tzinfo) -> datetime.date:
    """The board's first day from `start` (2026-03-02, or an ISO week as 2026-W10); today in `zone` when absent
    or odd."""
    try:
        start = datetime.date.fromisoformat(request.GET.get("start", ""))
    except ValueError:
        return timezone.localdate(timezone=zone)
    return start if EARLIEST_START <= start <= LATEST_START else timezone.localdate(timezone=zone)


def _days(request: HttpRequest) -> int:
    """The board's length: one day with `days=1` (the day in full, where the fortnight's "+ k more" leads), else
    the fortnight."""
    return 1 if request.GET.get("days") == "1" else BOARD_DAYS


@staff_required
def schedule_board(request: HtmxHttpRequest) -> HttpResponse:
    """Departures, arrivals, cut-offs and appointments by day for the next two weeks; cut-offs due soon stand out.
    Days and times are on the clock of the branch shown (the viewer's own for all branches).

    The fortnight lists the first `BOARD_CELL_ENTRIES` of each day's column and links the rest ("+ 312 more") to
    the day on its own (`days=1`, same filters), which lists every entry; the header's counts are always totals."""
    scope = scope_for_request(request)
    branches, branch_id = _branch_filter(request)
    zone = _viewer_zone(request, branches, branch_id)
    mode = request.GET.get("mode", "") if request.GET.get("mode", "") in Mode.values else ""
    carrier_id = _id_param(request.GET.get("carrier"))
    start = _start(request, zone)
    length = _days(request)
    days = selectors.schedule_board(
        scope=scope,
        start=start,
        days=length,
        branch_id=branch_id,
        mode=mode,
        carrier_id=carrier_id,
        zone=zone,
        per_cell=BOARD_CELL_ENTRIES if length > 1 else None,
    )
    step = datetime.timedelta(days=7 if length > 1 else 1)
    context = {
        "days": days,
        "start": start,
        "one_day": length == 1,
        "today": timezone.localdate(timezone=zone),
        "zone": zone_label(zone),
        "now": timezone.now(),
        "soon": timezone.now() + selectors.CUTOFF_SOON,
        "branches": branches,
        "branch_id": branch_id,
        "mode": mode,
        "modes": Mode.choices,
        "carrier_id": carrier_id,
        "carriers": selectors.carriers_for_filter(),
        "end": start + datetime.timedelta(days=length - 1),
        "previous": start - step,
        "next": start + step,
        "counts": {column: sum(day.totals[column] for day in days) for column in selectors.BOARD_COLUMNS},
    }
    template = "tracking/schedule_board.html#board" if request.htmx else "tracking/schedule_board.html"
    with timezone.override(zone):
        response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@staff_required
def execution(request: HttpRequest) -> HttpResponse:
    """Today's pickups, departures, arrivals and deliveries, with buttons to record what happened. "Today" and
    the times are on the clock of the branch shown (the viewer's own for all branches).

    Each section lists what is still to record first, soonest first, then what was recorded, at most
    `TODAY_SECTION_ROWS` rows; "Show all 110" (`show=<section>`, the branch kept) lists that section whole."""
    scope = scope_for_request(request)
    branches, branch_id = _branch_filter(request)
    zone = _viewer_zone(request, branches, branch_id)
    today = timezone.localdate(timezone=zone)
    show = request.GET.get("show", "")
    show = show if show in selectors.TODAY_SECTIONS else ""
    execution = selectors.execution_for(
        scope=scope, day=today, branch_id=branch_id, zone=zone, per_section=TODAY_SECTION_ROWS, in_full=show
    )
    context = {
        "execution": execution,
        "sections": execution.sections,
        "show": show,
        "per_section": TODAY_SECTION_ROWS,
        "branches": branches,
        "branch_id": branch_id,
        "now": timezone.now(),
        "zone": zone_label(zone),
    }
    with timezone.override(zone):
        return render(request, "tracking/execution.html", context)


@planning_required
@require_POST
def leg_record_actual(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Quick action: the leg departed or arrived, now (one click) or at the time given (a departure noticed late is
    recorded when it happened; a time in the future is refused). htmx gets the leg's row back. The time, and the
    row, are on the clock of the page the action came from (its `zone`), else the leg's branch."""
    leg = selectors.leg_get_for(scope=scope_for_request(request), pk=pk)
    posted_zone = request.POST.get("zone", "")
    zone = zone_named(posted_zone) if posted_zone else branch_zone(leg.shipment.branch)
    form = LegActualForm(request.POST, zone=zone)
    error = ""
    if form.is_valid():
        at = form.cleaned_data["at"] or timezone.now()
        kind = form.cleaned_data["kind"]
        try:
            with timezone.override(zone):  # a refusal names the times on the page's clock
                leg = leg_changes.leg_record_actual(
                    leg=leg,
                    by=request.user,
                    departed_at=at if kind == "departure" else None,
                    arrived_at=at if kind == "arrival" else None,
                )
        except PlanningError as exc:
            error = str(exc)
    elif "at" in form.errors:  # e.g. a time the clock skips when summer time starts
        error = " ".join(map(str, form.errors["at"]))
    else:
        error = "Say whether it departed or arrived."
    if request.htmx:
        leg = selectors.leg_get_for(scope=scope_for_request(request), pk=pk)
        context = {
            "leg": leg,
            "error": error,
            "now": timezone.now(),
            "section": request.POST.get("section"),
            "zone": zone_label(zone),
            "at_value": request.POST.get("at", "") if error else "",  # a refused time comes back to be corrected
        }
        with timezone.override(zone):
            response = render(request, "tracking/execution.html#leg-row", context)
        patch_vary_headers(response, ["HX-Request"])
        return response
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"{leg.shipment.reference}: {form.cleaned_data['kind']} recorded.")
    return redirect(page_to_return_to(request, reverse("tracking:today")))


@planning_required
@require_POST
def appointment_record(request: HttpRequest, pk: int) -> HttpResponse:
    appointment = selectors.appointment_get_for(scope=scope_for_request(request), pk=pk)
    form = AppointmentOutcomeForm(request.POST)
    if form.is_valid():
        try:
            appointment_changes.appointment_record(appointment=appointment, status=form.cleaned_data["status"])
        except PlanningError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"{appointment} recorded as {form.cleaned_data['status']}.")
    return redirect(page_to_return_to(request, reverse("tracking:today")))
