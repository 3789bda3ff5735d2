"""Project-level screens: the staff home, the global search, and the page of a sign-in refused for too many
failures.

The screens only read, so they answer GET and HEAD alone (405 otherwise): a TRACE or a POST to a read-only page
must not get the page back."""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_safe

from oms.search import exact_target, search_everything
from orders.models import Mode, Order, OrderStatus
from partners.models import Organisation, OrganisationKind
from partners.permissions import staff_required
from partners.scoping import Audience, scope_for_request
from partners.time_zones import viewer_zone, zone_label


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """Staff land on their home; customers and partners on the portal. Someone in no organisation who may use the
    console (the superuser `createsuperuser` makes on a fresh installation) lands in the console, told what to set
    up: the portal would refuse them, and its 403's "home page" link would lead back to the same refusal."""
    if not request.user.is_authenticated:
        return redirect("login")
    scope = scope_for_request(request)
    if scope.is_staff:
        return staff_home(request)
    if scope.audience is Audience.NOBODY and request.user.is_staff:
        messages.info(request, _no_role_message(request.user.is_superuser))
        return redirect("admin:index")
    return redirect("portal:home")


def _no_role_message(is_superuser: bool) -> str:
    closed = "Your account has no role in an active organisation, so the staff screens and the portal are closed to it."
    if is_superuser:
        return (
            f'{closed} Give it one here: under Partners › Organisations, open our company (kind "Our company"; on '
            "a new installation, add it first) and add yourself to its memberships with the role admin. "
            'docs/operations.md, "First production setup", lists what comes next.'
        )
    return (
        f"{closed} The console shows what your permissions allow. Ask an administrator for a role in our company or "
        "a branch."
    )


@staff_required
def staff_home(request: HttpRequest) -> HttpResponse:
    """The day's overview: orders by state and mode, the newest orders, organisations and branches."""
    scope = scope_for_request(request)
    counts = Organisation.objects.filter(is_active=True).aggregate(
        **{kind: Count("pk", filter=Q(kinds__contains=[kind])) for kind in OrganisationKind.values}
    )
    kinds = [(value, label, counts[value]) for value, label in OrganisationKind.choices]
    branches = Organisation.objects.branches().active().order_by("code")
    my_organisations = Organisation.objects.filter(pk__in=scope.organisation_ids).order_by("code")
    orders = scope.restrict(Order.objects.all(), customer="customer_id")
    by_status = dict(orders.values_list("status").annotate(n=Count("pk")).order_by())
    by_mode = dict(orders.open().values_list("mode").annotate(n=Count("pk")).order_by())
    context = {
        "kinds": kinds,
        "branches": branches,
        "my_organisations": my_organisations,
        "scope": scope,
        "status_counts": [(value, label, by_status.get(value, 0)) for value, label in OrderStatus.choices],
        "mode_counts": [(value, label, by_mode.get(value, 0)) for value, label in Mode.choices],
        "recent_orders": orders.select_related("customer", "origin", "destination").order_by("-created_at", "-id")[:10],
    }
    return render(request, "oms/home.html", context)


@staff_required
@require_safe
def nav_counts(request: HttpRequest) -> HttpResponse:
    """The navigation's badges (my open tasks, unread notifications, open exceptions), each swapped out of band:
    the staff layout asks for them when an htmx action changed tasks, instead of a reload of the page."""
    response = render(request, "components/nav_counts.html")  # nav_items: oms.context_processors
    response["Cache-Control"] = "no-store"
    return response


@staff_required
@require_safe
def search(request: HttpRequest) -> HttpResponse:
    """The search box: a reference opens its order or shipment, anything else lists what matches (oms/search.py).
    Times are on the viewer's clock, named on the page, as on the order list (partners.time_zones.viewer_zone)."""
    scope = scope_for_request(request)
    query = request.GET.get("q", "").strip()
    if query and (target := exact_target(scope=scope, query=query)):
        return redirect(target)
    results = search_everything(scope=scope, query=query) if query else None
    zone = viewer_zone(scope)
    with timezone.override(zone):
        return render(request, "oms/search.html", {"query": query, "results": results, "time_zone": zone_label(zone)})


def signin_locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the sign-in page's layout saying why and for how long, instead of django-axes' bare
    text. 429 with Retry-After: the wait is at most one cool-off, since tries while refused are not counted. It
    names neither the account nor whether it exists: unknown email addresses are counted and refused alike."""
    cool_off = settings.AXES_COOLOFF_TIME
    minutes = max(1, round(cool_off.total_seconds() / 60))
    response = render(request, "registration/login_locked.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response
