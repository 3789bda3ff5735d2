"""The screens' answer to a database lost mid-request.

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

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults
from django.views.decorators.csrf import requires_csrf_token

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


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the 503 answer when the uncaught exception is a lost database, wherever it was raised (a
    middleware loading the session, pghistory's reading the user on a POST); Django's 500 page otherwise. Django
    calls it while handling the exception, so sys.exc_info() holds it."""
    return database_unavailable_response(request, sys.exc_info()[1]) or defaults.server_error(request)
