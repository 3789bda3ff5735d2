"""The history context of one write to orders: who, which API key, which channel (and transition).

django-pghistory (3.9) keeps one context per thread. Once one is open, every `pghistory.context(...)` entered
inside it merges its metadata into that one, keeps its id, and each statement stores the merged metadata on
the shared context row. HistoryMiddleware opens a context for every POST, so every service write of a request
shared it: when an ops user's submit made a rule confirm the order right after the commit, the submit's events
ended up under {"user": None, "channel": "system", "transition": "confirm"}, and the order's history read
"Confirmed (System)" before "Submitted". `write_context` gives each write its own context instead; the request's
context (the user and URL of a write outside the services, such as an admin edit in the console) stays as it was.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pghistory
from django.db import connection
from pghistory import runtime

_opened = threading.local()  # .id: the context write_context opened on this thread, while it is open


@contextlib.contextmanager
def write_context(**metadata: Any) -> Iterator[None]:
    """Record the writes inside under a new pghistory context with `metadata`, not under the one already open.

    The new context starts from the open one's metadata (a request's URL, a webhook's integration) and `metadata`
    overrides it, so a write by the system inside a person's request is not theirs. A write inside another
    write_context (order_create submitting the order it creates) is part of the same act: it adds its metadata
    to that context, as pghistory's own nesting does. pghistory has no public way to open a context inside
    another, so the open one is set aside in its thread-local tracker and put back on exit; its execute
    wrapper, already installed, sends whichever context the tracker holds with each statement.
    """
    current = getattr(runtime._tracker, "value", None)
    outer_id = getattr(_opened, "id", None)
    if current is not None and current.id == outer_id:
        pghistory.context(**metadata)
        yield
        return
    if current is None:
        with pghistory.context(**metadata) as opened:
            _opened.id = opened.id
            try:
                yield
            finally:
                _opened.id = outer_id
        _forget_in_transaction()
        return
    fresh = runtime.Context(id=uuid.uuid4(), metadata={**current.metadata, **metadata})
    runtime._tracker.value, _opened.id = fresh, fresh.id
    try:
        yield
    finally:
        runtime._tracker.value, _opened.id = current, outer_id


_FORGET = "SELECT set_config('pghistory.context_id', '', true), set_config('pghistory.context_metadata', '', true)"


def _forget_in_transaction() -> None:
    """End the closed context in the database too. pghistory hands the context to the triggers as settings local to
    the transaction (`set_config(..., true)` before each write), and sets them only while a context is open: a write
    later in the same transaction, with no context open, found the closed one's settings and was recorded as the
    closed context's act (a worker's planning after a confirmation, under the confirming user). An empty id is no
    context to `_pgh_attach_context()` (its cast fails inside its own exception block: NULL). Outside a transaction
    each statement is its own, and nothing outlives it."""
    if connection.in_atomic_block and not connection.needs_rollback:
        with connection.cursor() as cursor:
            cursor.execute(_FORGET)
