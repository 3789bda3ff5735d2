"""Small HTTP helpers shared by the apps' raw-body endpoints (signed webhooks)."""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.request import Request


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
