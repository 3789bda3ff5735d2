"""View decorators: who may open a screen. Row-level scoping lives in selectors."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from partners.models import Role
from partners.scoping import Scope, scope_for_request

View = Callable[..., HttpResponse]


def staff_required(view: View) -> View:
    """Our own people only: customers and partners get 403 on every staff screen."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not scope_for_request(request).is_staff:
            raise PermissionDenied("This screen is for OMS staff.")
        return view(request, *args, **kwargs)

    return wrapper


def role_required(*roles: str, message: str = "") -> Callable[[View], View]:
    """Staff holding one of `roles` (admin always, see Scope.has_role); other staff get 403 with `message`.

    For the views that change things; the screens that only show them stay `staff_required`.
    """
    refusal = message or f"This needs the {' or '.join(roles)} role."

    def decorator(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            scope = scope_for_request(request)
            if not scope.is_staff:
                raise PermissionDenied("This screen is for OMS staff.")
            if not scope.has_role(*roles):
                raise PermissionDenied(refusal)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


PLANNING_ROLES = (Role.OPERATIONS,)

# Planning, bookings and execution (consolidating, booking carriers, recording departures and arrivals):
# operations' work, as partners/roles.py gives tracking's model permissions to operations alone.
planning_required = role_required(*PLANNING_ROLES, message="Planning and bookings are changed by operations.")


def may_plan(scope: Scope) -> bool:
    """Whether the screens offer planning and booking actions (the test of `planning_required`)."""
    return scope.is_staff and scope.has_role(*PLANNING_ROLES)


def external_required(view: View) -> View:
    """Customer and partner users (the portal); staff are welcome too, to see what customers see."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        scope = scope_for_request(request)
        if not (scope.is_customer or scope.is_partner or scope.is_staff):
            raise PermissionDenied("Your account does not belong to any organisation yet.")
        return view(request, *args, **kwargs)

    return wrapper
