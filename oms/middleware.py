"""The screens' answers to a database lost mid-request, and to an htmx request whose session has ended.

A restart, a failover or a killed connection surfaces as Django's OperationalError or InterfaceError. The API
turns it into 503 in its error shape (oms/api_errors.py); the screens would show the generic 500 page, which
says something is wrong with OMS and nothing about trying again. This middleware answers 503 with Retry-After
and a page that says so. The page is rendered without the request: the context processors would read the
database that just failed. What the request was writing is rolled back with its transaction, so trying again is
safe. Still logged at ERROR, with the traceback: someone must know the database went away.

The middleware sees the view's exceptions; `server_error` (handler500, oms/urls.py) those raised anywhere else in
the request, such as a session loaded by another middleware: Django hands those to handler500, not to a middleware.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import resolve_url
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import defaults
from django.views.decorators.csrf import requires_csrf_token
from django_htmx.http import HttpResponseClientRedirect

from oms.api_errors import ServiceUnavailable

logger = logging.getLogger("oms.database")
RETRY_AFTER_SECONDS = 10  # about what a PostgreSQL restart takes


def database_unavailable_response(request: HttpRequest, exception: BaseException | None) -> HttpResponse | None:
    """The 503 answer when `exception` says the database is lost (None for any other error): the page, or for an
    address under /api/ the API's error shape (a middleware's session load fails before DRF handles anything)."""
    if not isinstance(exception, OperationalError | InterfaceError):
        return None
    logger.error("Database unavailable during %s %s", request.method, request.path, exc_info=exception)
    if request.path.startswith("/api/"):
        error = {"code": ServiceUnavailable.default_code, "message": ServiceUnavailable.default_detail, "fields": {}}
        response: HttpResponse = JsonResponse({"error": error}, status=503)
    else:
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    response._has_been_logged = True  # type: ignore[attr-defined]  # logged above, with the traceback
    return response


class DatabaseUnavailableMiddleware:
    """Exceptions of the view. Django turns an exception raised in a middleware into a response where it is raised
    (each middleware is wrapped), so no middleware sees those of another: they reach `server_error`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return database_unavailable_response(request, exception)


class HtmxSignInMiddleware:
    """An htmx request answered with the sign-in page's redirect (a session that expired, or ended when the password
    was changed on another device) sends the whole page to sign-in, and back to it afterwards.

    `login_required` answers a 302, which the browser's XHR follows: htmx would swap the sign-in page into the card
    that asked (the live timeline refreshes every 15 s), stop there, and signing in from it would lead to the
    fragment's address (`?part=body`), a bare piece without the layout. Instead the answer is htmx's HX-Redirect to
    sign-in with `next` the page the person is on (HX-Current-URL, same site only; without it, no `next`: the
    landing page after sign-in). One place for every htmx fragment behind a sign-in: the portal's, the staff
    screens' and tracking's. Listed after django-htmx's middleware, which reads the headers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not getattr(request, "htmx", False) or response.status_code != 302:
            return response
        login_url = resolve_url(settings.LOGIN_URL)
        if response["Location"].split("?", 1)[0] != login_url:
            return response
        page = request.htmx.current_url_abs_path  # type: ignore[attr-defined]
        if page and url_has_allowed_host_and_scheme(page, allowed_hosts=None):
            target = redirect_to_login(page, login_url)["Location"]
        else:
            target = login_url
        redirect = HttpResponseClientRedirect(target)
        redirect["Cache-Control"] = "no-store"
        return redirect


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the 503 answer when the uncaught exception is a lost database, wherever it was raised (a
    middleware loading the session, pghistory's reading the user on a POST); Django's 500 page otherwise. Django
    calls it while handling the exception, so sys.exc_info() holds it."""
    return database_unavailable_response(request, sys.exc_info()[1]) or defaults.server_error(request)
