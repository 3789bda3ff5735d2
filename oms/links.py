"""Links in mail sent by the workers: a worker has no request to build an absolute address from, so it prefixes
the path with OMS_SITE_URL (the scheme and host people reach OMS at, README "Configuration")."""

from __future__ import annotations

from django.conf import settings


def site_link(path: str) -> str:
    """The full address of `path` ("/tasks/42/" → "https://oms.example.com/tasks/42/"); empty when OMS_SITE_URL
    is not set or there is no path, so the mail carries no link rather than a bare path no mail client opens."""
    if not path or not settings.OMS_SITE_URL:
        return ""
    return settings.OMS_SITE_URL + path
