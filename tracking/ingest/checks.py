"""What an event must be to be stored (events_ingest, services.py; files.py checks a row the same way): a time in
range, an actual event not in the future, text PostgreSQL can hold (no NUL, no lone surrogate, in its fields and in
its raw payload); and the report time it is stored with, never later than we receive it."""

from __future__ import annotations

import datetime
import re
from typing import Any

from tracking.ingest.formats import IncomingEvent
from tracking.ingest.models import Classifier

# planning refuses actual times more than five minutes ahead; an ACTUAL event from the future is an error
FUTURE_TOLERANCE = datetime.timedelta(minutes=5)
OLDEST = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
FURTHEST_AHEAD = datetime.timedelta(days=730)  # two years: a later time is a mistyped year, whatever its classifier


def event_problem(event: IncomingEvent, now: datetime.datetime) -> str | None:
    """Why an event cannot be stored (a time out of range, an actual event in the future, text PostgreSQL
    cannot hold), or None."""
    if not OLDEST <= event.event_at <= now + FUTURE_TOLERANCE:  # else the usual case, whatever the classifier
        if event.event_at < OLDEST or event.event_at > now + FURTHEST_AHEAD:
            return f"The event time {event.event_at:%Y-%m-%d} is outside 2000 … two years ahead."
        if event.classifier == Classifier.ACTUAL:
            return (
                f"An actual event cannot lie in the future ({event.event_at:%Y-%m-%d %H:%M} UTC); "
                "send it as EST or PLN."
            )
    fields = "".join([event.source_event_id, event.raw_code, event.location_text, event.reason,
                      *(value for _, value in event.subjects)])  # fmt: skip
    return _text_problem(fields)


NUL_PROBLEM = "The event contains a NUL (\\u0000) character, which cannot be stored."
SURROGATE_PROBLEM = (
    "The event contains a lone UTF-16 surrogate (\\ud800 … \\udfff without its pair), which is not text and "
    "cannot be stored."
)
_SURROGATE = re.compile("[\ud800-\udfff]")
# The JSON escapes of a NUL or a surrogate: only then can the parsed payload hold one (a pair is one character).
_ESCAPED = re.compile(r"\\u(?:0000|[dD][89abcdefABCDEF])")


def _text_problem(text: str) -> str | None:
    """PostgreSQL stores no NUL character in text or jsonb, and no lone surrogate (not UTF-8: psycopg cannot even
    send it): an event holding one is rejected, never the batch. ASCII, the usual case, is checked in C."""
    if "\x00" in text:
        return NUL_PROBLEM
    if not text.isascii() and _SURROGATE.search(text):
        return SURROGATE_PROBLEM
    return None


def _payload_problem(payload_text: str, payload: Any) -> str | None:
    """The raw payload's text (the sender's JSON, or ours) checked as `_text_problem` does, escapes included:
    `\\u0000` and a lone `\\udc00` are valid JSON that jsonb refuses. Only a text with such an escape has its
    parsed payload searched (an escaped backslash, `\\\\u0000`, is no NUL)."""
    problem = _text_problem(payload_text)
    if problem or "\\u" not in payload_text or not _ESCAPED.search(payload_text):
        return problem
    pending = [payload]
    while pending:  # iterative: however deep the sender nested its JSON
        value = pending.pop()
        if isinstance(value, str):
            problem = _text_problem(value)
            if problem:
                return problem
        elif isinstance(value, dict):
            pending.extend(value)
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return None


def _reported_at(event: IncomingEvent, now: datetime.datetime) -> datetime.datetime:
    """When the event was reported, as it is stored and followed: the sender's time, never later than we receive
    it (`_checked`); `now` when the sender gave none."""
    reported_at = event.reported_at
    return now if reported_at is None or reported_at > now else reported_at
