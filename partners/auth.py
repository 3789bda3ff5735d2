"""API authentication: `Authorization: Bearer <api key>`, and a rate limit per key."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db import connection
from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from partners.errors import PartnersError
from partners.models import ApiKey
from partners.services import api_key_authenticate, api_key_use_check


class ApiKeyUser(AnonymousUser):
    """The request.user of an API-key request: authenticated, acting for the key's organisation."""

    def __init__(self, api_key: ApiKey) -> None:
        super().__init__()
        self.api_key = api_key

    @property
    def is_authenticated(self) -> bool:  # type: ignore[override]
        return True

    def __str__(self) -> str:
        return f"API key {self.api_key}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[ApiKeyUser, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, raw_key = header.partition(" ")
        if keyword.lower() != self.keyword.lower():  # auth-scheme names are case-insensitive (RFC 9110 §11.1)
            return None
        raw_key = raw_key.strip()
        if not raw_key:
            raise exceptions.AuthenticationFailed("The Authorization header has no key after 'Bearer'.")
        api_key = api_key_authenticate(raw_key=raw_key)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        try:
            api_key_use_check(api_key=api_key)
        except PartnersError as exc:  # known and active, but with nothing to see: 403 in words, not an empty list
            raise exceptions.PermissionDenied(str(exc)) from exc
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


class ApiKeyRateThrottle(SimpleRateThrottle):
    """A sensible request rate per API key (and per user for session requests).

    DRF warns that throttling is no security control; it keeps one noisy integration from
    starving the others. The rate is OMS_API_RATE (default 600/min).
    """

    scope = "api_key"

    def allow_request(self, request: Request, view: Any) -> bool:
        """DRF's check, one request of a key at a time: it reads the key's history from the cache and writes it
        back, so requests that read it together each counted themselves alone (three parallel clients got 640
        requests through a rate of 600/min). A PostgreSQL advisory lock on the key (the session's, released at
        once) makes the read and the write one step per key; other keys do not wait."""
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [key])
            try:
                return super().allow_request(request, view)
            finally:
                cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.auth, ApiKey):
            ident = f"key:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
