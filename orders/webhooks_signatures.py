"""The inbound webhooks' secrets and signatures, checked over the raw body, in constant time and as bytes, before
anything is parsed or stored.

- Shopify: base64(HMAC-SHA256(secret, body)) in X-Shopify-Hmac-Sha256.
- Generic (Standard Webhooks): webhook-id, webhook-timestamp (±5 minutes), webhook-signature
  "v1,<base64 HMAC-SHA256 of '{id}.{timestamp}.{body}'>" (several, space-separated, during a secret rotation), with a
  "whsec_" secret (`generate_secret`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time

from django.conf import settings

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
_MAX_TIMESTAMP_DIGITS = 12  # Unix seconds until the year 33658; longer ones would overflow a float


def generate_secret() -> str:
    """A Standard Webhooks secret: "whsec_" + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except binascii.Error:
            pass  # not base64 after all: use the text as it is
    return secret.encode()


def _same(expected: str, given: str) -> bool:
    # As bytes: compare_digest refuses text with non-ASCII characters, and a header may hold any.
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", errors="replace"))


def shopify_signature_valid(*, secret: str, body: bytes, header: str) -> bool:
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return bool(header) and _same(expected, header.strip())


def standard_signature_valid(*, secret: str, msg_id: str, timestamp: str, body: bytes, header: str) -> bool:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()
    for candidate in header.split():
        version, _, signature = candidate.partition(",")
        if version == "v1" and _same(expected, signature):
            return True
    return False


def timestamp_fresh(timestamp: str, *, now: float | None = None) -> bool:
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > _MAX_TIMESTAMP_DIGITS:
        return False
    sent = int(timestamp)
    return abs((now if now is not None else time.time()) - sent) <= settings.OMS_WEBHOOK_TOLERANCE_SECONDS
