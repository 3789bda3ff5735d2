"""What makes two events one (the dedupe keys of events_ingest, services.py): the content key (what, about what,
when, where, and for an estimate when it was made) and the key of a sender's event id; and that id as the
source_event_id column holds it. Both keys are UUIDs in PostgreSQL's text form, compared as strings."""

from __future__ import annotations

import datetime
import hashlib

from tracking.ingest.models import Classifier

MAX_EVENT_ID = 100  # TrackingEvent.source_event_id


def content_key(
    *,
    scheme: str,
    subject: tuple[str, str],
    code: str,
    classifier: str,
    event_at: datetime.datetime,
    location: str,
    reported_at: datetime.datetime | None = None,
) -> str:
    """The identity of an event without an id: what, about what, when (UTC) and where; as a UUID in its
    canonical text form (the column is a uuid; a thousand of these are compared as strings, not objects).

    An estimate or plan is also *when it was made* (`reported_at`, as the sender gave it): an ETA that slips and
    comes back to an earlier value is a new estimate, and dropping it as a duplicate of the first would leave the
    ETA at the value the carrier withdrew. The same estimate delivered again keeps its report time (and its id),
    so it is still a duplicate. An estimate without a report time is identified by its content alone, as before:
    the time we receive it would make every redelivery new. An actual event is a fact: one, however often and
    whenever it is reported."""
    when = event_at if event_at.tzinfo is datetime.UTC else event_at.astimezone(datetime.UTC)
    text = f"{scheme}|{subject[0]}|{subject[1]}|{code}|{classifier}|{when.isoformat()}|{location}"
    if reported_at is not None and classifier != Classifier.ACTUAL:
        text += f"|{reported_at.astimezone(datetime.UTC).isoformat()}"
    return _uuid_text(text)


def _uuid_text(text: str) -> str:
    """A UUID from the first 16 bytes of the text's SHA-256, in PostgreSQL's text form."""
    h = hashlib.sha256(text.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def event_id_key(source_key: str, event_id: str) -> str:
    """The dedupe key of a sender's event id (with the event time, the unique key `tracking_event_source_id_once`):
    a hash of the whole id, however long, so two ids that share a beginning stay two events."""
    return _uuid_text(f"{source_key}|{event_id}")


def stored_event_id(event_id: str) -> str:
    """The sender's event id as the source_event_id column holds it (100 characters): itself when it fits, else
    "sha256:" and its SHA-256; the whole id stays in the raw payload. The column is for people (shown, searched):
    the dedupe compares `event_id_key`, a hash of the whole id. Rows stored while long ids were cut keep their
    first 100 characters, and a key of those."""
    if len(event_id) <= MAX_EVENT_ID:
        return event_id
    return "sha256:" + hashlib.sha256(event_id.encode()).hexdigest()
