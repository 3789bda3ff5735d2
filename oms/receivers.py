"""Platform receivers: a worker records its heartbeat as soon as it is ready; every failed sign-in and every
sign-in lockout is logged on the `oms.signin` logger (ASVS 16.3.1: who, from where, when)."""

import logging
from typing import Any

from axes.signals import user_locked_out
from celery.signals import worker_ready
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from oms.signin import client_ip_address

signin_log = logging.getLogger("oms.signin")


@worker_ready.connect
def _heartbeat_when_ready(sender: Any = None, **kwargs: Any) -> None:
    from oms.tasks import record_worker_heartbeat

    record_worker_heartbeat.delay()


def _address(request: HttpRequest | None) -> str:
    return (client_ip_address(request) if request is not None else None) or "an unknown address"


@receiver(user_login_failed)
def _log_failed_sign_in(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """The email address as typed, quoted with repr() so that a crafted one cannot forge a log line, and cut to
    the form's 254 characters. Only that key is read from `credentials`: never the (already masked) password."""
    username = str(credentials.get("username", credentials.get("email", "")))[:254]
    signin_log.warning(
        "Failed sign-in for %r from %s at %s", username, _address(request), timezone.now().isoformat(timespec="seconds")
    )


@receiver(user_locked_out)
def _log_sign_in_lockout(
    sender: Any, request: HttpRequest | None = None, username: str | None = None, **kwargs: Any
) -> None:
    """django-axes refuses this email address from this client address (or the address altogether) for a while."""
    signin_log.warning(
        "Sign-in locked for %r from %s at %s after too many failed sign-ins",
        username,
        _address(request),
        timezone.now().isoformat(timespec="seconds"),
    )
