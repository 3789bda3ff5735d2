"""Sign-in abuse: who is trying (the client's address and the email address tried), and when they must wait.

Django checks a password as often as it is asked. django-axes counts the wrong ones (AccessAttempt rows, kept
only for the cool-off) and refuses the next try once a limit is reached, whatever the password, until the
cool-off has passed with no further failure. Two limits apply, both within one cool-off:

- per email address *and* client address (AXES_FAILURE_LIMIT, default 5): someone guessing one person's
  password. Counting the email address alone would let anyone lock any person out from anywhere; counting the
  pair locks out only the guesser's address for that person.
- per client address over every email address (OMS_LOGIN_ADDRESS_FAILURE_LIMIT, default 20): someone trying
  one password on many people. It is higher because a whole office may sign in from one address.

A sign-in that succeeds clears the count for its own pair only, so that an attacker with one valid login
cannot wipe the address's count by signing in between guesses.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest


def client_ip_address(request: HttpRequest) -> str | None:
    """The address of the person at the other end (AXES_CLIENT_IP_CALLABLE, and the failed-login log).

    Behind OMS_PROXY_COUNT reverse proxies, the entry that the outermost of them added to X-Forwarded-For:
    each proxy appends the address it was connected from, so the entries further left are whatever the client
    chose to send and must never be believed. Without proxies, or when the header is shorter than the proxies
    promised (a proxy that does not add it), the address connected to us."""
    proxies = settings.OMS_PROXY_COUNT
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= proxies:
            candidate = forwarded[-proxies]
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                pass  # not an address: a misconfigured count handing us a client's text; use the connection's
    return request.META.get("REMOTE_ADDR") or None


def attempted_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The email address tried, as the login matches it (AXES_USERNAME_CALLABLE): the login is case-insensitive
    (partners.models.UserManager), so OPS@… and ops@… count as the same person."""
    source = credentials if credentials else request.POST
    username = source.get(settings.AXES_USERNAME_FORM_FIELD)
    if not isinstance(username, str) or not username.strip():
        return None
    return username.strip().lower()[:255]  # AccessAttempt.username holds 255 characters


class SignInAttemptHandler(AxesDatabaseHandler):
    """AXES_HANDLER: axes' database handler, counting per (email address, client address) as
    AXES_LOCKOUT_PARAMETERS says, plus the ceiling per client address over every email address."""

    def get_failures(self, request: Any, credentials: dict[str, Any] | None = None) -> int:
        """Failures of this email address from this client address; the full limit when the client address as a
        whole has reached its own, so that axes refuses it whichever email address it tries next."""
        failures = super().get_failures(request, credentials)
        address = getattr(request, "axes_ip_address", None)
        if address is None:
            return failures
        from_address = AccessAttempt.objects.filter(
            ip_address=address, attempt_time__gte=get_cool_off_threshold(request)
        ).aggregate(total=Sum("failures_since_start"))["total"]
        if (from_address or 0) >= settings.OMS_LOGIN_ADDRESS_FAILURE_LIMIT:
            return max(failures, get_failure_limit(request, credentials))
        return failures
