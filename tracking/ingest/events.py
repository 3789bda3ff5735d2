"""Domain events of tracking ingest, sent after commit (per batch also just before it) for higher apps to react
to (workflows: tasks completed by a milestone, rules on CUSTOMS_HOLD, tasks timed from the ETD/ETA; exception
detection: what to look at).

Per order (the contract since the start; unchanged):

milestone_recorded(order_id, code, event_id, classifier, occurred_at)
    an ACTUAL event of milestone `code` was stored for the order (once per order and milestone in a batch; a
    master's event reaches every order on it)
estimate_changed(order_id, code, estimated_at, previous_at)
    the estimate of milestone `code` changed for the order: DEPARTED is the ETD, ARRIVED the ETA,
    DELIVERED the estimated delivery (workflows.services.key_date_record anchors "etd" and "eta")

Per batch (the same facts, all of one ingest batch in one call, in the same order):

milestones_recorded(records: tuple[MilestoneRecorded, ...])
estimates_changed(changes: tuple[EstimateChanged, ...])

How they are sent, and what that asks of receivers. Ingest stores up to 1,000 events per batch, thousands per
second (bench/tracking_ingest.py), and one batch can record hundreds of (order, milestone) pairs. It registers
ONE on-commit callback per batch and kind (`announce_milestones` / `announce_estimates` below), never one per
event: that callback sends the batch signal once, then the per-order signal once per record, in the order of
the records, and only when it has receivers (a signal nobody listens to costs nothing). All of it runs in the
process that ingested (the webhook request, the polling task), after the batch committed, for every batch. So:

- a receiver must stay cheap per call: no query, no broker message per record (note the ids, queue one task
  per batch or per burst; tracking/exceptions/receivers.py does so);
- a receiver that would do one query for several orders should take the batch signal: one call, every
  record, one query;
- the records are immutable and hold ids and times only; read fresh state in the task, not here.

A receiver that raises stops the records after it (as any on-commit callback does); the batch is committed
whatever happens here.

Inside the batch's transaction (the same records, sent before the commit):

milestones_recording(records: tuple[MilestoneRecorded, ...])
estimates_changing(changes: tuple[EstimateChanged, ...])

For a receiver whose work must not be lost between ingest's commit and a broker: it writes a durable note of
the work in the batch's own transaction (workflows.receivers: one INSERT per batch into its queue table), so
the note commits or rolls back with the events. Such a receiver writes to the database only, in one
statement per batch whatever its size, and never calls out (no broker, no HTTP): an error in it rolls the
batch back, and the sender delivers it again.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import transaction
from django.dispatch import Signal

milestone_recorded = Signal()
estimate_changed = Signal()
milestones_recorded = Signal()
estimates_changed = Signal()
milestones_recording = Signal()
estimates_changing = Signal()


@dataclass(frozen=True, slots=True)
class MilestoneRecorded:
    order_id: int
    code: str
    event_id: int
    classifier: str
    occurred_at: datetime.datetime


@dataclass(frozen=True, slots=True)
class EstimateChanged:
    order_id: int
    code: str
    estimated_at: datetime.datetime
    previous_at: datetime.datetime | None


def announce_milestones(*, sender: Any, records: Sequence[MilestoneRecorded]) -> None:
    """milestones_recorded once, then milestone_recorded per record (only if anyone listens); on commit."""
    records = tuple(records)
    if not records:
        return
    milestones_recorded.send(sender=sender, records=records)
    if milestone_recorded.has_listeners(sender):
        for r in records:
            milestone_recorded.send(
                sender=sender,
                order_id=r.order_id,
                code=r.code,
                event_id=r.event_id,
                classifier=r.classifier,
                occurred_at=r.occurred_at,
            )


def announce_estimates(*, sender: Any, changes: Sequence[EstimateChanged]) -> None:
    """estimates_changed once, then estimate_changed per change (only if anyone listens); on commit."""
    changes = tuple(changes)
    if not changes:
        return
    estimates_changed.send(sender=sender, changes=changes)
    if estimate_changed.has_listeners(sender):
        for c in changes:
            estimate_changed.send(
                sender=sender,
                order_id=c.order_id,
                code=c.code,
                estimated_at=c.estimated_at,
                previous_at=c.previous_at,
            )


def note_milestones(*, sender: Any, records: Sequence[MilestoneRecorded]) -> None:
    """milestones_recording, inside the batch's transaction, then announce_milestones on its commit."""
    records = tuple(records)
    if not records:
        return
    milestones_recording.send(sender=sender, records=records)
    transaction.on_commit(partial(announce_milestones, sender=sender, records=records))


def note_estimates(*, sender: Any, changes: Sequence[EstimateChanged]) -> None:
    """estimates_changing, inside the batch's transaction, then announce_estimates on its commit."""
    changes = tuple(changes)
    if not changes:
        return
    estimates_changing.send(sender=sender, changes=changes)
    transaction.on_commit(partial(announce_estimates, sender=sender, changes=changes))
