"""What carrier tracking reports, a batch at a time: milestones and changed ETD/ETA.

Tracking ingest announces each stored batch once, after its commit (tracking.ingest.events); the receivers
(workflows.receivers) queue these records as one task per batch (workflows.tasks.record_milestones,
record_estimates), and the task calls the functions below in a worker, one order at a time, one transaction
each. Everything here is safe to run twice, in any order:
- a milestone creates its tasks once per order and code (unique source key), completes what is still open,
  and runs its rules once per tracking event (the event id is in the rule run's key);
- an estimate records the order's *current* estimate as tracking holds it when the task runs, not the value
  in the message: a retried or overtaken message of an older estimate cannot put an old ETD back.
A record whose order is gone is skipped; one that fails on the database is handed back to be retried.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.db import DatabaseError
from django.db.models import Q

from orders.models import Order
from tracking.ingest.models import EtaHistory
from tracking.models import ConsolidatedHouse, Shipment
from workflows.models import DateAnchor
from workflows.services.triggers import key_date_record, milestone_record

logger = logging.getLogger(__name__)

# The estimates tasks can be timed from (tracking.ingest.events: DEPARTED is the ETD, ARRIVED the ETA).
ESTIMATE_ANCHORS: dict[str, str] = {"DEPARTED": DateAnchor.ETD, "ARRIVED": DateAnchor.ETA}

# As the task messages carry them (JSON): [order id, milestone code, tracking event id] and
# [order id, milestone code, estimated at (ISO 8601)].
MilestoneRow = list[int | str]
EstimateRow = list[int | str]


def milestones_record(*, records: Sequence[Sequence[int | str]]) -> list[MilestoneRow]:
    """milestone_record for each (order, code, event id), each in its own transaction; the records that
    failed on the database (to retry), in their order."""
    failed: list[MilestoneRow] = []
    for order_id, code, event_id in records:
        try:
            milestone_record(order_id=int(order_id), code=str(code), event_id=event_id)
        except Order.DoesNotExist:
            continue
        except DatabaseError:
            logger.exception("Workflow handling of milestone %s on order %s failed; retrying", code, order_id)
            failed.append([order_id, code, event_id])
    return failed


def estimates_record(*, changes: Sequence[Sequence[int | str]]) -> list[EstimateRow]:
    """key_date_record for each order and anchor (ETD, ETA) the changes concern, once, with the estimate
    tracking holds now (the change's own value when tracking holds none the order reaches); the changes
    that failed on the database (to retry)."""
    reported: dict[tuple[int, str], datetime.datetime] = {}
    for order_id, code, at in changes:
        if str(code) in ESTIMATE_ANCHORS:
            reported[(int(order_id), str(code))] = datetime.datetime.fromisoformat(str(at))
    current = current_estimates(reported)
    failed: list[EstimateRow] = []
    for (order_id, code), estimated_at in reported.items():
        try:
            key_date_record(
                order_id=order_id, anchor=ESTIMATE_ANCHORS[code], at=current.get((order_id, code), estimated_at)
            )
        except Order.DoesNotExist:
            continue
        except DatabaseError:
            logger.exception("Recording the %s of order %s failed; retrying", ESTIMATE_ANCHORS[code], order_id)
            failed.append([order_id, code, estimated_at.isoformat()])
    return failed


def current_estimates(wanted: Iterable[tuple[int, str]]) -> dict[tuple[int, str], datetime.datetime]:
    """(order, milestone) → the newest estimate (by when the source made it) of the ones tracking keeps for
    the order itself, its houses and the masters they are on, as the order's timeline picks its ETA.
    Three queries, whatever the number of orders."""
    wanted = set(wanted)
    order_ids = {order_id for order_id, _ in wanted}
    codes = {code for _, code in wanted}
    if not wanted:
        return {}
    orders_of: dict[int, set[int]] = defaultdict(set)  # shipment → the orders it carries
    house_orders = dict(Shipment.objects.filter(order_id__in=order_ids).values_list("pk", "order_id"))
    for house_id, order_id in house_orders.items():
        orders_of[house_id].add(order_id)
    live = ConsolidatedHouse.objects.filter(house_id__in=list(house_orders), removed_at__isnull=True)
    for master_id, house_id in live.values_list("master_id", "house_id"):
        orders_of[master_id].add(house_orders[house_id])
    rows = (
        EtaHistory.objects.filter(
            Q(order_id__in=order_ids) | Q(shipment_id__in=list(orders_of)), milestone_id__in=codes
        )
        .order_by("reported_at", "id")
        .values_list("order_id", "shipment_id", "milestone_id", "estimated_at")
    )
    newest: dict[tuple[int, str], datetime.datetime] = {}
    for order_id, shipment_id, code, estimated_at in rows:
        for concerned in [order_id] if order_id else orders_of.get(shipment_id, ()):
            if (concerned, code) in wanted:
                newest[(concerned, code)] = estimated_at
    return newest
