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

The email address counts as sign-in matches it (partners.models.login_email, one function for both), and an IPv6
client counts as its /64 network (lockout_address), so that neither another spelling of the address nor another
address of the same line starts a fresh allowance.
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

from partners.models import login_email

# The prefix an IPv6 subscriber line, LAN or server gets (RFC 6177, RFC 7421): every address in it is one client's
# to choose, 2^64 of them.
IPV6_CLIENT_PREFIX = 64


def client_ip_address(request: HttpRequest) -> str | None:
    """The address of the person at the other end, as the failed-sign-in log shows it (the lockout counts by
    lockout_address).

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


def lockout_address(request: HttpRequest) -> str | None:
    """The address a client's failed sign-ins count under (AXES_CLIENT_IP_CALLABLE): its IPv4 address, or the
    first address of its IPv6 /64 network (2001:db8:1:2::9 counts as 2001:db8:1:2::), as one line may rotate
    through all of them. An IPv4 address written as IPv6 (::ffff:203.0.113.9) is that IPv4 address."""
    address = client_ip_address(request)
    if address is None:
        return None
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address  # not an address (a server on a unix socket may pass a path): counted as it is
    if isinstance(parsed, ipaddress.IPv4Address):
        return str(parsed)
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.IPv6Network((int(parsed), IPV6_CLIENT_PREFIX), strict=False).network_address)


def attempted_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The email address tried, as sign-in matches it (AXES_USERNAME_CALLABLE): partners.models.login_email, so
    OPS@… and ops@… count as the same person, and alice@… spelt with a dotless i (U+0131), which sign-in does not
    match to alice, counts as another address."""
    source = credentials if credentials else request.POST
    username = source.get(settings.AXES_USERNAME_FORM_FIELD)
    email = login_email(username) if isinstance(username, str) else ""
    return email[:255] or None  # AccessAttempt.username holds 255 characters


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
