"""Idempotent POSTs: the `Idempotency-Key` header, after Stripe and draft-ietf-httpapi-idempotency-key-header.

A client that retries a POST with the same key and the same body gets the first response again and
nothing is done twice. `idempotent(request, execute=...)` wraps the work of one request:

1. No header: just execute. A key that is empty, longer than 255 characters or not printable ASCII: 400.
2. Claim the key: `INSERT … ON CONFLICT DO NOTHING` on the (owner, key) unique constraint, committed at
   once, so a concurrent duplicate sees the claim. The owner is the API key, or the user of a session.
3. Lost the claim: the stored fingerprint (sha256 of method, path and canonical JSON body) differs → 422;
   the first request completed → replay its status and body (the same bytes: the body is kept as JSON text,
   whose key order jsonb does not change) with `Idempotent-Replayed: true`; it is still
   executing → 409 with `Retry-After`; its claim is older than the request timeout (the worker died) →
   take it over with `UPDATE … WHERE locked_at = <the old value>`, so only one retry wins.
4. Execute and store the response in ONE transaction with the work itself: the order and the completed
   key commit together or not at all. Completing checks that the claim is still ours, so a request that
   was taken over rolls back instead of doing the work twice.
5. Which responses are stored: only successes (2xx). An error response means nothing was changed — the
   order data failed validation, the transition was not allowed, the order was not found — so, as
   Stripe does for requests that fail validation, the claim is released and a retry executes afresh
   (a client may correct the body and retry with the same key). An unexpected exception rolls the work
   back and releases the claim too.

Keys are kept 24 hours (`KEY_TTL`, as Stripe does); `idempotency_keys_delete_expired` is the reaper that
Celery beat runs, and an expired key that the reaper has not reached yet counts as unused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from partners.models import ApiKey, IdempotencyKey, IdempotencyKeyStatus

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
KEY_TTL = timedelta(hours=24)
# gunicorn's --timeout (docker-compose.yml): a claim older than this belongs to a request that died.
LOCK_TIMEOUT = timedelta(seconds=60)
RETRY_AFTER_SECONDS = 1
_CLAIM_ATTEMPTS = 3  # a claim can vanish between INSERT and SELECT (released or expired); try again


class IdempotencyKeyInvalid(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "idempotency_key_invalid"
    default_detail = f"The {HEADER} header must be 1 to {MAX_KEY_LENGTH} printable ASCII characters."


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = (
        f"This {HEADER} was already used with a different request (method, path or body). "
        "Use a new key for a new request."
    )


class IdempotencyKeyInProgress(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_in_progress"
    default_detail = f"A request with this {HEADER} is still being processed. Retry shortly."

    def __init__(self) -> None:
        super().__init__()
        self.wait = RETRY_AFTER_SECONDS  # DRF's exception handler turns `wait` into Retry-After


@dataclass(frozen=True)
class Owner:
    api_key_id: int | None
    user_id: int | None

    def lookup(self) -> dict[str, int | None]:
        """The row filter; one owner column suffices, as the check constraint allows only one set."""
        return {"api_key_id": self.api_key_id} if self.api_key_id is not None else {"user_id": self.user_id}


@dataclass(frozen=True)
class Claim:
    pk: int
    locked_at: datetime


def request_owner(request: Request) -> Owner:
    """Whose keys these are: the API key's, or the logged-in user's."""
    if isinstance(request.auth, ApiKey):
        return Owner(api_key_id=request.auth.pk, user_id=None)
    return Owner(api_key_id=None, user_id=request.user.pk)


def request_fingerprint(request: Request) -> str:
    """sha256 of method, path and the body as canonical JSON (sorted keys), so formatting does not count."""
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{request.method}\n{request.path}\n{body}".encode()).hexdigest()


def key_from_header(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise IdempotencyKeyInvalid()
    return key


def _insert_claim(owner: Owner, key: str, fingerprint: str, now: datetime) -> Claim | None:
    """Claim the key, or None when a row for it exists already. Never raises IntegrityError."""
    table = IdempotencyKey._meta.db_table
    sql = (
        f"INSERT INTO {table} (api_key_id, user_id, key, fingerprint, status, locked_at, created_at, expires_at) "  # noqa: S608 - table name from model meta
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT ON CONSTRAINT idempotency_key_unique_per_owner DO NOTHING RETURNING id"
    )
    params = [
        owner.api_key_id,
        owner.user_id,
        key,
        fingerprint,
        IdempotencyKeyStatus.IN_PROGRESS,
        now,
        now,
        now + KEY_TTL,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return Claim(pk=row[0], locked_at=now) if row else None


def _take_over(existing: IdempotencyKey, now: datetime) -> Claim | None:
    """Take a stale claim; None when another retry took it first."""
    taken = IdempotencyKey.objects.filter(
        pk=existing.pk, status=IdempotencyKeyStatus.IN_PROGRESS, locked_at=existing.locked_at
    ).update(locked_at=now)
    return Claim(pk=existing.pk, locked_at=now) if taken else None


def _stored_body(data: Any) -> str:
    """The response data as JSON text, stored as one jsonb string: a jsonb object would come back with its
    keys reordered (jsonb sorts them), and the replay would no longer be byte for byte the first response."""
    return json.dumps(data, cls=JSONEncoder, ensure_ascii=False)  # DRF's: decimals, dates, UUIDs as it renders them


def _replay(existing: IdempotencyKey) -> Response:
    body = existing.response_body
    # A string is the JSON text of the data, in its order; keys stored before that are an object, as jsonb
    # kept them (every response stored is an object, so an old row is never a string).
    data = json.loads(body) if isinstance(body, str) else body
    return Response(data, status=existing.response_status, headers={REPLAYED_HEADER: "true"})


def claim_or_replay(*, owner: Owner, key: str, fingerprint: str) -> Claim | Response:
    """Our claim on the key, or the stored response to replay. Raises 422 or 409 as the module says."""
    for _ in range(_CLAIM_ATTEMPTS):
        now = timezone.now()
        claim = _insert_claim(owner, key, fingerprint, now)
        if claim is not None:
            return claim
        existing = IdempotencyKey.objects.filter(**owner.lookup(), key=key).first()
        if existing is None:
            continue  # released by a failed request just now
        if existing.expires_at <= now:
            IdempotencyKey.objects.filter(pk=existing.pk, expires_at=existing.expires_at).delete()
            continue
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyReused()
        if existing.status == IdempotencyKeyStatus.COMPLETED:
            return _replay(existing)
        if existing.locked_at > now - LOCK_TIMEOUT:
            raise IdempotencyKeyInProgress()
        claim = _take_over(existing, now)
        if claim is None:
            raise IdempotencyKeyInProgress()
        return claim
    raise IdempotencyKeyInProgress()


def _complete(claim: Claim, response: Response) -> None:
    """Store the response, inside the transaction of the work; roll it all back if the claim was taken over."""
    stored = IdempotencyKey.objects.filter(
        pk=claim.pk, status=IdempotencyKeyStatus.IN_PROGRESS, locked_at=claim.locked_at
    ).update(
        status=IdempotencyKeyStatus.COMPLETED,
        response_status=response.status_code,
        response_body=_stored_body(response.data),
    )
    if not stored:
        raise IdempotencyKeyInProgress()


def _release(claim: Claim) -> None:
    IdempotencyKey.objects.filter(
        pk=claim.pk, status=IdempotencyKeyStatus.IN_PROGRESS, locked_at=claim.locked_at
    ).delete()


def idempotent(request: Request, *, execute: Callable[[], Response]) -> Response:
    """Run `execute` at most once per Idempotency-Key of the request's owner; see the module docstring."""
    key = key_from_header(request)
    if key is None:
        return execute()
    outcome = claim_or_replay(owner=request_owner(request), key=key, fingerprint=request_fingerprint(request))
    if isinstance(outcome, Response):
        return outcome
    try:
        with transaction.atomic():
            response = execute()
            if status.is_success(response.status_code):
                _complete(outcome, response)
    except BaseException:
        _release(outcome)
        raise
    if not status.is_success(response.status_code):
        _release(outcome)
    return response


def idempotency_keys_delete_expired(*, now: datetime | None = None) -> int:
    """Delete the keys past their expiry; return how many. Safe to run twice or concurrently."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
