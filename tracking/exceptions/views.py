"""Exception screens (/exceptions/): the inbox (filters re-render the results through htmx, keyset pages),
one exception with its history and actions (acknowledge, take, note, resolve with a root cause: POSTs that
redirect, or answer the fragment to htmx), and the weekly view. Staff only: customers and partners get 403.
Acknowledge, take and resolve need selectors.exception_may_handle (operations, admin, the owner or the
owner's colleagues in the same role), else 403; the page shows those buttons only to them (`may_handle`).
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from oms.http import HtmxHttpRequest
from orders.models import Order
from partners.permissions import staff_required
from partners.scoping import scope_for_request
from partners.time_zones import branch_zone, viewer_zone, zone_label
from tracking.exceptions import selectors
from tracking.exceptions.forms import NoteForm, ResolveForm
from tracking.exceptions.models import ExceptionKind, ExceptionRule, ExceptionStatus, Severity, ShipmentException
from tracking.exceptions.rules import awaited_words, duration_text, reason_label
from tracking.exceptions.services import handling
from tracking.models import Shipment

DETAIL = "tracking/exceptions/exception_detail.html"


def _vary(response: HttpResponse) -> HttpResponse:
    patch_vary_headers(response, ["HX-Request"])
    return response


# Kinds about a planned milestone, whose page names it as awaited ("Awaited milestone: Picked up"); for the others
# (holds, failed deliveries, returns) the milestone is what was reported ("Reported as"), and mostly repeats the
# kind. The inbox's badge beside the kind is rules.awaited_words: a noun, for overdue and ETA only.
PLAN_KINDS = frozenset(
    kind.value
    for kind in (ExceptionKind.MILESTONE_OVERDUE, ExceptionKind.ETA_DELAY, ExceptionKind.ROLLED_BOOKING,
                 ExceptionKind.MISSED_CUTOFF)
)  # fmt: skip


def _on_viewer_clock(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Lists over every branch show times on the viewer's own branch's clock (as the planning lists do)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with timezone.override(viewer_zone(scope_for_request(request))):
            return view(request, *args, **kwargs)

    return wrapper


def _render_detail(
    request: HttpRequest, template: str, context: dict[str, object], *, status: int = 200
) -> HttpResponse:
    """One exception shows its times on its shipment's branch's clock, as the order's tasks do on the order's."""
    exception = cast(ShipmentException, context["exception"])
    with timezone.override(branch_zone(exception.shipment.branch)):
        return _vary(render(request, template, context, status=status))


def _age(exception: ShipmentException, now: datetime.datetime) -> str:
    """How long it has been open ("25 h", "3 d 4 h"), or how long it took when resolved."""
    return duration_text((exception.resolved_at or now) - exception.opened_at)


def _threshold_text(rule: ExceptionRule) -> str:
    hours = rule.threshold_hours or Decimal(0)
    return f"after {duration_text(datetime.timedelta(hours=float(hours)))}" if hours else "no threshold"


def _rule_scope(rule: ExceptionRule) -> str:
    """Which shipments the rule covers, in words: "Air · every customer", "Every mode · Acme Industrial"."""
    mode = rule.get_mode_display() if rule.mode else "Every mode"
    return f"{mode} · {rule.customer.name if rule.customer else 'every customer'}"


@staff_required
@require_GET
@_on_viewer_clock
def inbox(request: HtmxHttpRequest) -> HttpResponse:
    scope = scope_for_request(request)
    filters = selectors.InboxFilters.from_query(request.GET)
    page = selectors.inbox_page(scope=scope, user=request.user, filters=filters)
    now = timezone.now()
    context = {
        "page": page,
        "rows": [(row, _age(row, now), awaited_words(row.kind, row.milestone)) for row in page.rows],
        "filters": filters,
        "sorts": [(name, label) for name, (_, label) in selectors.SORTS.items()],
        "kinds": ExceptionKind.choices,
        "severities": Severity.choices,
        "next_url": f"?{filters.query(after=page.next_after)}" if page.next_after else "",
        "first_url": f"?{filters.query(after='')}" if not page.is_first else "",
        "resolved_days": selectors.RESOLVED_DAYS,
        "narrowed_fields": [
            (name, getattr(filters, name))
            for name in ("carrier", "origin", "destination", "week")
            if getattr(filters, name)
        ],
        "unnarrowed_url": f"?{filters.query(carrier='', origin='', destination='', week='', after='')}",
        "zone": zone_label(timezone.get_current_timezone()),
    }
    if getattr(request, "htmx", False) and not getattr(request.htmx, "boosted", False):
        return _vary(render(request, "tracking/exceptions/exception_list.html#results", context))
    counts = selectors.inbox_counts(scope=scope, user=request.user)
    context["tabs"] = [
        {"label": label, "count": counts[name], "active": filters.view == name,
         "url": f"?{selectors.InboxFilters(view=name).query()}",
         "hint": f"Resolved in the last {selectors.RESOLVED_DAYS} days" if name == "resolved" else ""}
        for name, label in selectors.VIEWS.items()
    ]  # fmt: skip
    return _vary(render(request, "tracking/exceptions/exception_list.html", context))


REFUSAL = "Operations, the exception's owner and the owner's team handle it."


def _handled(request: HttpRequest, pk: int) -> ShipmentException:
    """The exception, if this person may acknowledge, take or resolve it; else 403."""
    scope = scope_for_request(request)
    exception = selectors.exception_get_for(scope=scope, pk=pk)
    if not selectors.exception_may_handle(scope=scope, user=request.user, exception=exception):
        raise PermissionDenied(REFUSAL)
    return exception


def _detail_context(request: HttpRequest, exception: ShipmentException, **extra: object) -> dict[str, object]:
    scope = scope_for_request(request)
    rule = exception.rule
    context: dict[str, object] = {
        "exception": exception,
        "age": _age(exception, timezone.now()),
        "reason": reason_label(exception.canonical_reason) if exception.canonical_reason else "",
        "rule_threshold": _threshold_text(rule) if rule else "",
        "rule_scope": _rule_scope(rule) if rule else "",
        "plan_kinds": PLAN_KINDS,
        "may_handle": selectors.exception_may_handle(scope=scope, user=request.user, exception=exception),
        "history": selectors.exception_history(exception=exception),
        "source_events": selectors.exception_source_events(exception=exception),
        "note_form": NoteForm(),
        "resolve_form": ResolveForm(),
    }
    context.update(extra)
    return context


@staff_required
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    exception = selectors.exception_get_for(scope=scope_for_request(request), pk=pk)
    return _render_detail(request, DETAIL, _detail_context(request, exception))


@staff_required
@require_POST
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    exception = _handled(request, pk)
    try:
        handling.exception_acknowledge(exception=exception, by=request.user)
        messages.success(request, "Acknowledged: it stays in the inbox until it is resolved.")
    except handling.ExceptionError as exc:
        messages.error(request, str(exc))
    return redirect(exception)


@staff_required
@require_POST
def take(request: HttpRequest, pk: int) -> HttpResponse:
    exception = _handled(request, pk)
    if exception.status == ExceptionStatus.RESOLVED:
        messages.error(request, "This exception is already resolved.")
    else:
        handling.exception_assign_owner(exception_id=exception.pk, owner=request.user, by=request.user, how="took it")
        messages.success(request, "It is yours now.")
    return redirect(exception)


@staff_required
@require_POST
def note_add(request: HttpRequest, pk: int) -> HttpResponse:
    exception = selectors.exception_get_for(scope=scope_for_request(request), pk=pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        handling.exception_note_add(exception=exception, by=request.user, text=form.cleaned_data["text"])
        form = NoteForm()
    if getattr(request, "htmx", False):
        context = _detail_context(request, exception, note_form=form)
        return _render_detail(request, f"{DETAIL}#history", context)
    for error in form.errors.get("text", []):
        messages.error(request, str(error))  # what is wrong with the note: empty, or too long (forms.NoteForm)
    return redirect(exception)


@staff_required
@require_POST
def resolve(request: HttpRequest, pk: int) -> HttpResponse:
    exception = _handled(request, pk)
    form = ResolveForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, DETAIL, _detail_context(request, exception, resolve_form=form), status=400)
    try:
        handling.exception_resolve(exception=exception, by=request.user, **form.cleaned_data)
        messages.success(request, "Resolved.")
    except handling.ExceptionError as exc:
        messages.error(request, str(exc))
    return redirect(exception)


PANEL = "tracking/exceptions/_panel.html"


@staff_required
@require_GET
def order_panel(request: HttpRequest, reference: str) -> HttpResponse:
    """The order page's card (loaded by htmx): the exceptions of the order and its shipments."""
    order = get_object_or_404(Order, reference=reference)
    exceptions = selectors.exceptions_for_order(scope=scope_for_request(request), order=order)
    return _vary(render(request, PANEL, {"exceptions": exceptions}))


@staff_required
@require_GET
def shipment_panel(request: HttpRequest, reference: str) -> HttpResponse:
    """The shipment page's card (loaded by htmx)."""
    shipment = get_object_or_404(Shipment, reference=reference)
    exceptions = selectors.exceptions_for_shipment(scope=scope_for_request(request), shipment=shipment)
    return _vary(render(request, PANEL, {"exceptions": exceptions}))


def _week_monday(value: str, zone: datetime.tzinfo) -> datetime.date:
    """The Monday of the ISO week `2026-W10` (selectors.week_monday), else of the current week on `zone`'s clock."""
    today = timezone.now().astimezone(zone).date()
    return selectors.week_monday(value) or today - datetime.timedelta(days=today.weekday())


@staff_required
@require_GET
def weekly(request: HttpRequest) -> HttpResponse:
    """One ISO week of exceptions, its days those of the viewer's own branch's clock (as the inbox's times): an
    exception opened on Sunday 20:00 UTC is Sunday's in Berlin and next Monday's in Shanghai."""
    scope = scope_for_request(request)
    zone = viewer_zone(scope)
    monday = _week_monday(request.GET.get("week", "").strip(), zone)
    week = datetime.timedelta(days=7)
    start, end = selectors.week_bounds(monday, zone)
    groups = selectors.weekly_summary(scope=scope, start=start, end=end)
    week_label = selectors.iso_week(monday)
    for dimension, rows in groups.items():
        for row in rows:  # what each "still open" count links to: the inbox listing exactly those rows
            row.still_open_link = row.still_open_query(dimension, week_label)
    context = {
        "start": start,
        "end": end,
        "last_day": monday + datetime.timedelta(days=6),
        "zone": zone_label(zone),
        "week_label": week_label,
        "previous_week": selectors.iso_week(monday - week),
        "next_week": selectors.iso_week(monday + week) if end <= timezone.now() else "",
        "groups": [
            ("By type", "kind", groups["kind"]),
            ("By customer", "customer", groups["customer"]),
            ("By carrier", "carrier", groups["carrier"]),
            ("By lane", "lane", groups["lane"]),
        ],
        "total": sum(row.opened for row in groups["kind"]),
    }
    with timezone.override(zone):
        return _vary(render(request, "tracking/exceptions/exception_weekly.html", context))
