"""Small HTTP helpers shared by the apps: the request type of htmx views, where an action returns, and reading raw
bodies (signed webhooks)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.middleware import HtmxDetails
from rest_framework.request import Request


class HtmxHttpRequest(HttpRequest):
    """A request as our views see it: django_htmx's middleware (oms.settings) sets `htmx` on every one."""

    htmx: HtmxDetails


def page_to_return_to(request: HttpRequest, fallback: str) -> str:
    """Where an action returns: the posted (or queried) `next` when it is a path of ours, else `fallback`.

    Only a path is taken (`/tasks/?state=open`): a bare word such as `tasks` passes Django's host check as a relative
    address, and `redirect()` would then try it as a view name and raise (a 500 after the action was saved, review A).
    The result is a URL for HttpResponseRedirect, never a view name."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def read_body_within(request: HttpRequest | Request, limit: int) -> bytes | None:
    """The raw request body, or None when it holds more than `limit` bytes.

    Reads at most `limit + 1` bytes from the stream, whatever Content-Length says and whether there is one:
    a chunked request has none, and under ASGI Django then reads the body whole. Call it before anything
    touches `request.body` or `request.data`."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = request.read(limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return None if size > limit else b"".join(chunks)


# What a multipart body carries besides its file: the boundaries, part headers and the small form fields.
MULTIPART_ALLOWANCE = 64 * 1024


def declared_size_over(request: HttpRequest | Request, limit: int) -> int | None:
    """The body's declared size (Content-Length) when it is more than a file of `limit` bytes could make it, else
    None. Checked before anything reads `request.POST`, `request.FILES` or `request.data`, so a file far over the
    limit is refused unread instead of being spooled to disk whole and refused afterwards. A body without a
    Content-Length (or with a lying one) is still caught by the check of the file's own size."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    return declared if declared > limit + MULTIPART_ALLOWANCE else None
