"""Tracking screens (/tracking/): an order's live timeline (full page, and the fragment the order page embeds
and refreshes every 15 s), a milestone entered by hand, milestone files, and the staff monitor of feeds
and unmapped codes. Reads go through selectors (scoped: 404 for what is not yours); writes through services.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from orders.models import Order, OrderStatus
from partners.models import Organisation, Role
from partners.permissions import staff_required
from partners.scoping import Scope, scope_for_request
from partners.time_zones import branch_zone, viewer_zone, zone_label
from tracking.ingest import files, mapping, recording, selectors, services
from tracking.ingest.checks import FURTHEST_AHEAD, FUTURE_TOLERANCE
from tracking.ingest.forms import MilestoneEntryForm, MilestoneUploadForm
from tracking.ingest.goods import goods_status
from tracking.ingest.models import Classifier, EventUpload, RejectedDelivery

TIMELINE = "tracking/ingest/_order_timeline.html"
REFRESH_SECONDS = 15


def may_enter_milestones(scope: Scope) -> bool:
    return scope.is_staff and scope.has_role(Role.OPERATIONS)


def may_upload(scope: Scope) -> bool:
    """Operations, and partners for the shipments they carry; never customers."""
    return may_enter_milestones(scope) or scope.is_partner


def _base_template(scope: Scope) -> str:
    return "base.html" if scope.is_staff else "portal/base.html"


def _entry_form(order: Order, data: Any = None) -> MilestoneEntryForm:
    zone = order.branch.time_zone if order.branch_id and order.branch.time_zone else "UTC"
    return MilestoneEntryForm(data, initial={"time_zone": zone, "location": order.origin_id})


def _timeline_context(request: HttpRequest, order: Order, scope: Scope, **extra: Any) -> dict[str, Any]:
    timeline = selectors.order_timeline(order=order, customer_safe=not scope.is_staff)
    context = {
        "order": order,
        "timeline": timeline,
        "refresh_seconds": REFRESH_SECONDS,
        "base_template": _base_template(scope),
        "is_staff": scope.is_staff,
        "may_share": scope.is_staff or scope.is_customer,  # a public tracking link (portal/links.py)
    }
    if not scope.is_staff:  # the portal heading says where the goods are, as her order list and the link do
        context["goods_status"] = OrderStatus(goods_status(order, timeline.milestone_status))
    if may_enter_milestones(scope):
        context["entry_form"] = extra.pop("entry_form", None) or _entry_form(order)
    context.update(extra)
    return context


def _fragment(response: HttpResponse) -> HttpResponse:
    patch_vary_headers(response, ["HX-Request"])
    return response


def _render_timeline(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """Staff read an order's times on its branch's clock, as its tasks and the entry form's default zone do; a raw
    event keeps the sender's local time (the template turns `localtime` off for it). Customers and partners read
    it on their own organisation's clock, as the whole portal (partners.time_zones.viewer_zone: no query)."""
    order = context["order"]
    if context["is_staff"]:
        zone = branch_zone(order.branch if order.branch_id else None)
    else:
        zone = viewer_zone(scope_for_request(request))
    with timezone.override(zone):
        return _fragment(render(request, template, context))


@login_required
@require_GET
def order_timeline(request: HttpRequest, reference: str) -> HttpResponse:
    """The timeline: the full page, the card the order page embeds (htmx), or its body (the 15 s refresh)."""
    scope = scope_for_request(request)
    order = selectors.order_get_for(scope=scope, reference=reference)
    context = _timeline_context(request, order, scope)
    if request.GET.get("part") == "body":
        return _render_timeline(request, f"{TIMELINE}#timeline-body", context)
    if getattr(request, "htmx", False):
        return _render_timeline(request, TIMELINE, context)
    return _render_timeline(request, "tracking/ingest/order_timeline.html", {**context, "full_page": True})


def _refuse_a_future_actual(occurred_at: datetime.datetime, data: dict[str, Any]) -> None:
    """The check every source gets (checks.event_problem), in the words of the form it was typed in: its kinds by
    their names and the time as typed, on its zone. The sender's wording ("send it as EST or PLN", the time in UTC)
    names codes and a clock the person never saw. A mistyped year (beyond two years) keeps the window's message."""
    now = timezone.now()
    if data["classifier"] == Classifier.ACTUAL and now + FUTURE_TOLERANCE < occurred_at <= now + FURTHEST_AHEAD:
        typed = f"{occurred_at.day} {occurred_at:%b %Y, %H:%M} {data['time_zone']}"
        raise services.TrackingError(
            f"An actual time cannot lie in the future ({typed}): "
            "record it as Estimated or Planned, or check the date and the time zone."
        )


@staff_required
@require_POST
def order_event_add(request: HttpRequest, reference: str) -> HttpResponse:
    """A milestone entered by hand on the order page; answers with the refreshed card (htmx) or redirects."""
    scope = scope_for_request(request)
    if not may_enter_milestones(scope):
        raise PermissionDenied("Operations record milestones.")
    order = selectors.order_get_for(scope=scope, reference=reference)
    form = _entry_form(order, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            occurred_at = recording.parse_entered_time(data["occurred_at"], time_zone=data["time_zone"])
            _refuse_a_future_actual(occurred_at, data)
            event = recording.event_record_for_order(
                order=order,
                milestone=data["milestone"].code,
                occurred_at=occurred_at,
                by=request.user,
                classifier=data["classifier"],
                location=data["location"],
                note=data["note"],
            )
        except services.TrackingError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{data['milestone'].name} recorded. {event.effect}".strip())
            form = _entry_form(order)
    if getattr(request, "htmx", False):
        # The messages (what was recorded, and what it changed or could not) come with the card, out of band: left
        # for the next page they would appear there, out of context, after the person had moved on.
        order = Order.objects.select_related("branch").get(pk=order.pk)
        context = _timeline_context(request, order, scope, entry_form=form, oob_messages=True)
        return _render_timeline(request, TIMELINE, context)
    for field, errors in form.errors.items():
        messages.error(request, " ".join(str(error) for error in errors) if field == "__all__" else
                       f"{field}: {' '.join(str(error) for error in errors)}")  # fmt: skip
    return redirect(reverse("tracking_ingest:order_timeline", args=[order.reference]))


def _uploader(request: HttpRequest) -> tuple[Scope, Organisation | None]:
    """Who uploads: operations (no partner), or a partner: the first of its organisations keeps the upload, and
    its file reaches the shipments of every one of them (`upload`)."""
    scope = scope_for_request(request)
    if not may_upload(scope):
        raise PermissionDenied("Operations and carrier partners upload milestone files.")
    partner = (
        Organisation.objects.filter(pk__in=scope.organisation_ids).order_by("pk").first() if scope.is_partner else None
    )
    return scope, partner


@login_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    scope, partner = _uploader(request)
    zone = viewer_zone(scope)
    form = MilestoneUploadForm(request.POST or None, request.FILES or None, initial={"time_zone": zone_label(zone)})
    if request.method == "POST" and form.is_valid():
        handle = form.cleaned_data["file"]
        result = files.upload_process(
            stream=handle,
            file_name=handle.name or "upload",
            by=request.user,
            partner=partner,
            time_zone=form.cleaned_data["time_zone"],
            valid_only=form.cleaned_data["valid_only"],
            carrier_ids=scope.organisation_ids if partner is not None else None,  # every carrier the person is in
        )
        return redirect(reverse("tracking_ingest:upload_detail", args=[result.pk]))
    uploads = EventUpload.objects.select_related("uploaded_by", "partner")
    uploads = uploads if scope.is_staff else uploads.filter(partner_id__in=scope.organisation_ids)
    context = {
        "form": form,
        "uploads": uploads[:20],
        "base_template": _base_template(scope),
        "columns": files.COLUMNS,
        "milestones": sorted(mapping.table().milestones.values(), key=lambda info: (info.rank, info.code)),
        "zone": zone_label(zone),
    }
    with timezone.override(zone):  # the uploader's clock: times written without an offset default to it too
        return render(request, "tracking/ingest/upload.html", context)


@login_required
@require_GET
def upload_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope, _ = _uploader(request)
    uploads = EventUpload.objects.select_related("uploaded_by", "partner")
    uploads = uploads if scope.is_staff else uploads.filter(partner_id__in=scope.organisation_ids)
    result = get_object_or_404(uploads, pk=pk)
    zone = viewer_zone(scope)
    context = {
        "upload": result,
        "rows_skipped": files.rows_skipped(result),
        "base_template": _base_template(scope),
        "zone": zone_label(zone),
    }
    with timezone.override(zone):
        return render(request, "tracking/ingest/upload_detail.html", context)


@login_required
@require_GET
def upload_template(request: HttpRequest) -> HttpResponse:
    _uploader(request)
    response = HttpResponse(files.template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="milestones-template.csv"'
    return response


@staff_required
@require_GET
def monitor(request: HttpRequest) -> HttpResponse:
    """Feeds (stale and failing first), codes waiting for a mapping, the latest events, the events not applied
    (they contradict their leg: someone corrects it) and the webhook deliveries with problems (unreadable, or with
    refused events), newest first: the refusals are in each row, so the card costs one query however many."""
    context = {
        "feeds": list(selectors.feeds()[:200]),
        "alerts": list(selectors.open_alerts()[:100]),
        "events": selectors.recent_events(limit=25),
        "not_applied": selectors.events_not_applied(limit=20),
        "rejections": list(RejectedDelivery.objects.select_related("webhook_source")[:10]),
        "may_map": request.user.is_staff and request.user.has_perm("tracking.change_mappingalert"),
        "may_open_deliveries": request.user.is_staff and request.user.has_perm("tracking.view_rejecteddelivery"),
    }
    with timezone.override(viewer_zone(scope_for_request(request))):  # a list over every branch: the viewer's clock
        return render(request, "tracking/ingest/monitor.html", context)
