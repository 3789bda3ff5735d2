"""A small JSON-over-HTTP client for the carrier adapters (the standard library's urllib: no new dependency).

Every call has a timeout (a hung carrier must not hold a worker), never follows redirects (a carrier URL
that redirects elsewhere is an error, not an invitation: SSRF), and turns every failure into a PollError
that says what to do next: wait (429/503 with Retry-After), back off (5xx, timeouts, garbage) or stop
(other 4xx).
"""

from __future__ import annotations

import email.utils
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tracking.ingest.adapters import CarrierRefused, CarrierUnavailable, MalformedResponse, RateLimited

TIMEOUT_SECONDS = 20.0
MAX_RESPONSE_BYTES = 20 * 1024 * 1024
MAX_RETRY_AFTER = 6 * 3600.0  # a carrier asking for days is down: we cap the wait and keep checking
DEFAULT_RETRY_AFTER = 60.0


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx is then raised as an HTTPError and reported


_opener = urllib.request.build_opener(_NoRedirects)


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # names in lower case
    data: Any


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float:
    """Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3), capped."""
    if not value:
        return DEFAULT_RETRY_AFTER
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
    return min(max(when.timestamp() - (time.time() if now is None else now), 0.0), MAX_RETRY_AFTER)


def _error_for(exc: urllib.error.HTTPError, url: str) -> Exception:
    where = urllib.parse.urlsplit(url).netloc
    if exc.code in (429, 503) and (exc.code == 429 or exc.headers.get("Retry-After")):
        wait = retry_after_seconds(exc.headers.get("Retry-After"))
        return RateLimited(
            f"{where} answered {exc.code}; asked to wait {wait:.0f} s.", retry_after=wait, from_carrier=True
        )
    if exc.code >= 500:
        return CarrierUnavailable(f"{where} answered {exc.code} {exc.reason}.")
    if 300 <= exc.code < 400:
        return CarrierRefused(
            f"{where} answered {exc.code} (redirect to {exc.headers.get('Location', '?')}); "
            "redirects are not followed: fix the endpoint URL."
        )
    return CarrierRefused(f"{where} answered {exc.code} {exc.reason}.")


def request_json(
    method: str,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    allow: tuple[int, ...] = (),
) -> Response:
    """One JSON request. Statuses in `allow` (e.g. 404) come back as a Response instead of an error."""
    if params:
        url = f"{url}{'&' if '?' in url else '?'}{urllib.parse.urlencode(params)}"
    if not url.startswith(("https://", "http://")):
        raise CarrierRefused(f"{url[:60]} is not an http(s) URL.")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - scheme checked above
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            status, response_headers = response.status, {k.lower(): v for k, v in response.headers.items()}
            raw = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        if exc.code in allow:
            return Response(exc.code, {k.lower(): v for k, v in exc.headers.items()}, None)
        raise _error_for(exc, url) from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        raise CarrierUnavailable(f"{urllib.parse.urlsplit(url).netloc} did not answer: {exc}.") from exc
    if len(raw) > MAX_RESPONSE_BYTES:
        raise MalformedResponse(f"The answer is larger than {MAX_RESPONSE_BYTES // 1_000_000} MB.")
    try:
        payload = json.loads(raw) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        kind = response_headers.get("content-type", "unknown content")
        raise MalformedResponse(f"The answer is not JSON ({kind}): {raw[:80]!r}.") from exc
    return Response(status, response_headers, payload)
