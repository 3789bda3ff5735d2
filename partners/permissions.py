"""View decorators: who may open a screen. Row-level scoping lives in selectors."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from partners.scoping import scope_for_request

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


def external_required(view: View) -> View:
    """Customer and partner users (the portal); staff are welcome too, to see what customers see."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        scope = scope_for_request(request)
        if not (scope.is_customer or scope.is_partner or scope.is_staff):
            raise PermissionDenied("Your account has no organisation yet; ask your administrator.")
        return view(request, *args, **kwargs)

    return wrapper
