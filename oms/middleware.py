"""The screens' answer to a database lost mid-request.

A restart, a failover or a killed connection surfaces as Django's OperationalError or InterfaceError. The API
turns it into 503 in its error shape (oms/api_errors.py); the screens would show the generic 500 page, which
says something is wrong with OMS and nothing about trying again. This middleware answers 503 with Retry-After
and a page that says so. The page is rendered without the request: the context processors would read the
database that just failed. What the request was writing is rolled back with its transaction, so trying again is
safe. Still logged at ERROR, with the traceback: someone must know the database went away.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

logger = logging.getLogger("oms.database")
RETRY_AFTER_SECONDS = 10  # about what a PostgreSQL restart takes


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.error("Database unavailable during %s %s", request.method, request.path, exc_info=exception)
        response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response["Cache-Control"] = "no-store"
        response._has_been_logged = True  # type: ignore[attr-defined]  # logged above, with the traceback
        return response
