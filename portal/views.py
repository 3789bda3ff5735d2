"""The customer's and partner's screens."""

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from orders.models import Order
from partners import selectors as partner_selectors
from partners.models import Membership
from partners.permissions import external_required
from partners.scoping import scope_for_request
from tracking.exceptions import selectors as exception_selectors


@external_required
def home(request: HttpRequest) -> HttpResponse:
    """The portal landing page: your latest orders, the delays and holds on them, your organisation, its people
    and its contacts with us."""
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
    orders = (
        scope.restrict(Order.objects.all(), customer="customer_id")
        .select_related("origin", "destination")
        .order_by("-created_at", "-id")[:15]
    )
    notices = exception_selectors.exceptions_for_customer(scope=scope)
    return render(
        request, "portal/home.html",
        {"organisations": organisations, "scope": scope, "orders": orders, "notices": notices},
    )  # fmt: skip
