"""Tracking links: made and revoked by staff and by the order's customer; opened by anyone who has one.

The public page (`public_tracking`, /t/<token>/) shows only an allowlist: the lane by city, the mode, a public
state, the ETA and the milestones with their times and places. Never the customer, parties, references, prices,
documents, people or ids. Unknown, revoked and expired links, and the links of a customer organisation made
inactive (until it is active again), answer the same 404 page, and every answer carries
no-store, no-referrer and noindex. Opening is limited per client address (OMS_TRACKING_LINK_RATE a minute, 429
with Retry-After beyond; an IPv6 client counts by its /64, as for sign-in), so tokens cannot be guessed by volume
(they have 256 bits anyway).

The token is never logged (RELIABILITY.md B6). Django logs a 4xx with its path, which holds the token, so every
answer of these pages is marked as logged, and nothing of Django's answers for them before they run: the page is
exempt from the CSRF check (whose refusal of a POST logs the path; the page changes nothing a form could ask for)
and answers another method than GET or HEAD itself (405), and an address that goes on after the token (a link
copied with the sentence's full stop) has a route of its own (`public_tracking_mistyped`) instead of Django's
"Not Found". What the console writes for every request (the development server's lines) or for a failure hides
the token too (oms.log_filters).

Clocks (docs/planning.md, "Which clock a screen uses"): the links pages run on their reader's, named on the page:
staff on the order's branch's, as on the order's page they come from, the customer on its own organisation's. The
public page runs on the order's customer's clock, which it names ("Times in America/Chicago"): whoever the customer
sends the link to reads the times the customer reads on its own timeline, and the only thing of the customer's it
shows is a zone name. Places carry no zone in OMS, so the destination's clock is not an option yet.
"""

from __future__ import annotations

import datetime
import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, F, OuterRef, QuerySet, Value
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from oms.signin import lockout_address
from orders.models import Order, OrderStatus
from partners.models import Membership
from partners.permissions import external_required
from partners.scoping import Scope, scope_for_request
from partners.time_zones import branch_zone, viewer_zone, zone_label, zone_named
from portal.models import TrackingLink, new_token, token_digest
from tracking.ingest import selectors as tracking_selectors
from tracking.ingest.goods import goods_status

# What the public page calls an order's state: a person outside the company needs where the goods are, not the
# back office's steps (confirmed, planned, invoiced) nor its holds. A draft was never sent to us: nothing is booked.
_PUBLIC_STATE: dict[str, str] = {
    OrderStatus.DRAFT: "Not booked yet",
    OrderStatus.IN_TRANSIT: "In transit",
    OrderStatus.ARRIVED: "Arrived",
    OrderStatus.DELIVERED: "Delivered",
    OrderStatus.COMPLETED: "Delivered",
    OrderStatus.INVOICED: "Delivered",
    OrderStatus.CLOSED: "Delivered",
    OrderStatus.CANCELLED: "Cancelled",
}
_PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow"}


# --- Services ---------------------------------------------------------------------------------------------------


def tracking_link_create(*, order: Order, by: Any, note: str = "") -> tuple[TrackingLink, str]:
    """A new link for `order` and its token (shown once: only its digest is kept)."""
    token = new_token()
    # A NUL pasted with the name (from a mail or an ERP) is invisible to whoever typed it and refused by PostgreSQL
    # in text: dropped, as the searches drop it (orders.selectors.search_text).
    note = note.replace("\x00", "").strip()[:100]
    link = TrackingLink.objects.create(
        order=order, token_digest=token_digest(token), note=note, created_by=by,
        expires_at=timezone.now() + datetime.timedelta(days=settings.OMS_TRACKING_LINK_DAYS),
    )  # fmt: skip
    return link, token


def tracking_link_revoke(*, link: TrackingLink, by: Any) -> None:
    TrackingLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=timezone.now(), revoked_by=by)


# --- Who shares -------------------------------------------------------------------------------------------------


def _order_to_share(request: HttpRequest, reference: str) -> tuple[Scope, Order]:
    """The order, if this person may hand out links to it: staff, or the customer whose order it is. Partners
    carry the goods but the order is not theirs to publish."""
    scope = scope_for_request(request)
    if not (scope.is_staff or scope.is_customer):
        raise PermissionDenied("Tracking links are shared by the customer or by us.")
    return scope, tracking_selectors.order_get_for(scope=scope, reference=reference)


def _public_url(request: HttpRequest, token: str) -> str:
    return request.build_absolute_uri(reverse("public_tracking", args=[token]))


@external_required
@require_safe
def links(request: HttpRequest, reference: str) -> HttpResponse:
    scope, order = _order_to_share(request, reference)
    return _links_page(request, scope, order)


@external_required
@require_http_methods(["GET", "HEAD", "POST"])
def link_create(request: HttpRequest, reference: str) -> HttpResponse:
    """Make a link (POST). A GET is someone sent back here after signing in again (a POST made once the session had
    ended goes to sign-in with this address as `next`): the links page, where the link is made again."""
    if request.method != "POST":
        return redirect("portal:tracking_links", reference=reference)
    scope, order = _order_to_share(request, reference)
    link, token = tracking_link_create(order=order, by=request.user, note=request.POST.get("note", ""))
    return _links_page(request, scope, order, created=link, url=_public_url(request, token))


@external_required
@require_http_methods(["GET", "HEAD", "POST"])
def link_revoke(request: HttpRequest, reference: str, pk: int) -> HttpResponse:
    """Revoke a link: a page that asks first (whoever has the link loses it for good), then the revoking (POST)."""
    scope, order = _order_to_share(request, reference)
    links = _links_as_read_by(scope, TrackingLink.objects.select_related("created_by"))
    link = get_object_or_404(links, pk=pk, order=order)
    if request.method != "POST":
        context = {"order": order, "link": link, **_layout(scope)}
        return _render_on_clock(request, scope, order, "portal/tracking_link_revoke.html", context)
    tracking_link_revoke(link=link, by=request.user)
    messages.info(request, "The link was revoked: it no longer opens anything.")
    return redirect("portal:tracking_links", reference=order.reference)


def _layout(scope: Scope) -> dict[str, Any]:
    """Staff share links from the order's page (the staff layout), customers from the portal's."""
    return {"base_template": "base.html" if scope.is_staff else "portal/base.html", "is_staff": scope.is_staff}


def _render_on_clock(
    request: HttpRequest, scope: Scope, order: Order, template: str, context: dict[str, Any]
) -> HttpResponse:
    """A links page on its reader's clock, which it names (`time_zone`): staff on the order's branch's, as on the
    order's page; the customer on its own (`viewer_zone`: no query)."""
    zone = branch_zone(order.branch if order.branch_id else None) if scope.is_staff else viewer_zone(scope)
    with timezone.override(zone):
        return render(request, template, {"time_zone": zone_label(zone), **context})


def _links_as_read_by(scope: Scope, links: QuerySet[TrackingLink]) -> QuerySet[TrackingLink]:
    """The links with whether their maker is one of the reader's own people (`made_by_own`): a customer reads its
    own people's names, and "the OMS team" for ours, as the portal names none of our staff to a customer (its delays
    and holds name no owner; an order changed meanwhile names "the OMS team" too: orders.services._last_saved_by).
    Someone who has left the customer is still one of its own; staff read every name."""
    if scope.is_staff:
        return links.annotate(made_by_own=Value(True))
    own = Membership.objects.filter(
        user_id=OuterRef("created_by_id"), organisation_id__in=sorted(scope.organisation_ids)
    )
    return links.annotate(made_by_own=Exists(own))


def _links_page(request: HttpRequest, scope: Scope, order: Order, **extra: Any) -> HttpResponse:
    links = order.tracking_links.select_related("created_by", "revoked_by").order_by("-created_at")
    listed = _links_as_read_by(scope, links)[:50]
    context = {"order": order, "links": listed, "days": settings.OMS_TRACKING_LINK_DAYS, **_layout(scope), **extra}
    return _render_on_clock(request, scope, order, "portal/tracking_links.html", context)


# --- The public page --------------------------------------------------------------------------------------------


def _too_often(request: HttpRequest) -> int:
    """Seconds to wait when this address opened more links than OMS_TRACKING_LINK_RATE this minute, else 0."""
    now = time.time()
    window = int(now // 60)
    key = f"oms:tracking-link-rate:{lockout_address(request) or '-'}:{window}"
    if cache.add(key, 1, timeout=90):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=90)
            count = 1
    return int((window + 1) * 60 - now) + 1 if count > settings.OMS_TRACKING_LINK_RATE else 0


def _private(response: HttpResponse) -> HttpResponse:
    for header, value in _PRIVATE_HEADERS.items():
        response[header] = value
    if response.status_code >= 400:
        # Django logs a 4xx with the request's path, which holds the token: this answer is logged enough.
        response._has_been_logged = True  # type: ignore[attr-defined]
    return response


_READ_METHODS = ("GET", "HEAD")


@csrf_exempt  # a POST refused for its CSRF token would be logged with the token; the page changes nothing anyway
def public_tracking(request: HttpRequest, token: str) -> HttpResponse:
    if request.method not in _READ_METHODS:  # not require_safe: its 405 is logged with the path
        return _private(HttpResponseNotAllowed(_READ_METHODS))
    wait = _too_often(request)
    if wait:
        response = render(request, "portal/public_tracking.html", {"too_often": True, "wait": wait}, status=429)
        response["Retry-After"] = str(wait)
        return _private(response)
    link = (
        TrackingLink.objects.live()
        .select_related("order__origin", "order__destination")
        .annotate(customer_time_zone=F("order__customer__time_zone"))  # of the customer, only its clock
        .filter(token_digest=token_digest(token[:100]), order__customer__is_active=True)  # a closed customer's: none
        .first()
    )
    if link is None:
        return _private(render(request, "portal/public_tracking.html", {"not_found": True}, status=404))
    TrackingLink.objects.filter(pk=link.pk).update(opened_count=F("opened_count") + 1, last_opened_at=timezone.now())
    order = link.order
    timeline = tracking_selectors.order_timeline(order=order, customer_safe=True)
    status = goods_status(order, timeline.milestone_status)
    delivered = status in (OrderStatus.DELIVERED, OrderStatus.COMPLETED, OrderStatus.INVOICED, OrderStatus.CLOSED)
    arrived = delivered or status == OrderStatus.ARRIVED or timeline.arrived_at is not None
    context = {
        "lane": (order.origin, order.destination),
        "mode": order.get_mode_display(),
        "state": _PUBLIC_STATE.get(status, "Booked"),
        "delivered": delivered,
        "delivered_at": timeline.delivered_at,
        "arrived_at": timeline.arrived_at,
        # An estimate the arrival overtook is no expectation: once arrived, the page gives the actual time instead.
        "eta": None if arrived else timeline.current_eta or timeline.planned_arrival_at,
        # A passed milestone (never reported, a later one was) shows no time: its plan or old estimate would read
        # as still to come under "Delivered" (selectors.MilestoneRow.passed).
        "milestones": [
            {"name": row.name, "state": "passed" if row.passed else row.state,
             "at": row.actual_at or (None if row.passed else row.estimated_at or row.planned_at),
             "kind": "actual" if row.actual_at else "" if row.passed else "estimated" if row.estimated_at
             else "planned" if row.planned_at else "", "place": row.location_name, "is_exception": row.is_exception}
            for row in timeline.milestones
        ],
        "updated_at": timeline.last_event_at,
    }  # fmt: skip
    zone = zone_named(link.customer_time_zone)  # the customer's clock, named on the page (see above)
    with timezone.override(zone):
        return _private(render(request, "portal/public_tracking.html", {"time_zone": zone_label(zone), **context}))


@csrf_exempt
def public_tracking_mistyped(request: HttpRequest, token: str, rest: str) -> HttpResponse:
    """An address that goes on after a link's token (`/t/<token>/.`, copied with the full stop of the sentence it
    was sent in): the page of a link that does not exist, without Django's "Not Found: <path>", which would log the
    token. Whatever follows the token, it opens nothing: a link is its exact address."""
    return _private(render(request, "portal/public_tracking.html", {"not_found": True}, status=404))
