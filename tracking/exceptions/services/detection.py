"""Exception detection: over a batch of shipments (set-wise, idempotent), and the full scan (batches committed one
by one behind a cursor).

Detection for a batch, in one transaction and at most seven queries whatever its size (the scan adds two: the
batch's ids and its cursor): JIT off for the transaction, the shipments' facts (two), their exceptions (one),
one UPDATE … RETURNING for what resolved itself, one INSERT … ON CONFLICT DO NOTHING RETURNING for what opens
(the partial unique index on unresolved (kind, shipment, leg, house) is the dedupe, so a second run or a
concurrent worker opens nothing twice) and one UPDATE for the open ones whose finding changed (a later
estimate, another attempt), each writing its history rows in the same statement.
After commit: one task announces the batch's changes (announcing.py: tracking.events.exception_opened /
exception_resolved, sent from the worker), so a scan never waits for workflows, notifications or email.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.utils import timezone

from tracking.exceptions import rules
from tracking.exceptions.facts import ShipmentFacts, shipment_facts
from tracking.exceptions.models import (
    SELF_RESOLVING_KINDS,
    UNRESOLVED_STATUSES,
    ExceptionScan,
    ExceptionStatus,
    ShipmentException,
)
from tracking.exceptions.services.announcing import announce_on_commit
from tracking.exceptions.services.customer_emails import exception_customer_emails_resend
from tracking.models import Shipment, ShipmentKind

logger = logging.getLogger(__name__)

BATCH = 1000
SCAN_LOCK = 0x0E5C_A7  # pg advisory lock key: one full scan at a time
ACTIVE_STATUSES = ("booked", "in_transit", "arrived")
ANNOUNCE_GRACE = datetime.timedelta(minutes=2)
RESOLVED_LOOKBACK = datetime.timedelta(days=2)  # resolutions whose announcement the scan may still catch up


@dataclass
class Outcome:
    shipments: int = 0
    opened: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    widened: list[int] = field(default_factory=list)  # open ones now concerning an order that joined (not told yet)
    narrowed: list[int] = field(default_factory=list)  # open ones a house was taken off since they were told


# --- detection ----------------------------------------------------------------------------------------

_COLUMNS = (
    ("kind", "text"),
    ("severity", "smallint"),
    ("shipment_id", "bigint"),
    ("leg_id", "bigint"),
    ("house_id", "bigint"),
    ("order_id", "bigint"),
    ("customer_id", "bigint"),
    ("carrier_id", "bigint"),
    ("mode", "text"),
    ("rule_id", "bigint"),
    ("milestone", "text"),
    ("expected_at", "timestamptz"),
    ("observed_at", "timestamptz"),
    ("detail", "text"),
    ("carrier_reason_code", "text"),
    ("canonical_reason", "text"),
    ("trigger_key", "text"),
    ("source_event_ids", "bigint[]"),
    ("notify_customer", "boolean"),
)
_TARGET = ", ".join(column for column, _ in _COLUMNS)
_INSERT = (
    f"INSERT INTO tracking_shipmentexception ({_TARGET}, status, opened_at, is_auto_resolved, root_cause, "  # noqa: S608 - constant names
    f"resolution_note) SELECT {', '.join(f't.{c}' for c, _ in _COLUMNS)}, 'open', %(now)s, false, '', '' "
    f"FROM jsonb_to_recordset(%(rows)s::jsonb) AS t({', '.join(f'{c} {k}' for c, k in _COLUMNS)}) "
    "ON CONFLICT DO NOTHING RETURNING id, detail"
)
# The history row of each opened or resolved exception is written by the same statement (a data-modifying CTE).
_OPEN = (
    f"WITH opened AS ({_INSERT}), entries AS (INSERT INTO tracking_exceptionentry (exception_id, verb, at, text) "  # noqa: S608 - constant names
    "SELECT id, 'opened', %(now)s, detail FROM opened) SELECT id FROM opened"
)
_RESOLVE = """
WITH resolved AS (
    UPDATE tracking_shipmentexception e
       SET status = 'resolved', resolved_at = %(now)s, is_auto_resolved = true, resolution_note = t.note
      FROM unnest(%(ids)s::bigint[], %(notes)s::text[]) AS t(id, note)
     WHERE e.id = t.id AND e.status <> 'resolved'
    RETURNING e.id, t.note
), entries AS (
    INSERT INTO tracking_exceptionentry (exception_id, verb, at, text)
    SELECT id, 'auto_resolved', %(now)s, note FROM resolved
)
SELECT id FROM resolved
"""
# What is detected, kept up to date while the exception stays open (the inbox and the portal show the latest):
# also the leg (an ETA slipped follows the worst estimate: rules.follow_key) and the parties, the order and
# customer it names, which follow what the shipment carries now (an order joining a consolidation: review A, 1).
_REFRESHED = (
    ("leg_id", "bigint"),
    ("order_id", "bigint"),
    ("customer_id", "bigint"),
    ("notify_customer", "boolean"),
    ("severity", "smallint"),
    ("rule_id", "bigint"),
    ("milestone", "text"),
    ("expected_at", "timestamptz"),
    ("observed_at", "timestamptz"),
    ("carrier_reason_code", "text"),
    ("canonical_reason", "text"),
    ("trigger_key", "text"),
    ("source_event_ids", "bigint[]"),
    ("carrier_id", "bigint"),
    ("mode", "text"),
    ("detail", "text"),
)
# A history row only when what it says changed: a carrier repeating a hold changes its events, not its words.
_REFRESH = (
    "WITH refreshed AS (UPDATE tracking_shipmentexception e "  # noqa: S608 - constant names
    f"SET {', '.join(f'{c} = t.{c}' for c, _ in _REFRESHED)} "
    f"FROM jsonb_to_recordset(%(rows)s::jsonb) AS t(id bigint, reworded boolean, "
    f"{', '.join(f'{c} {k}' for c, k in _REFRESHED)}) "
    "WHERE e.id = t.id AND e.status <> 'resolved' RETURNING e.id, e.detail, t.reworded), "
    "entries AS (INSERT INTO tracking_exceptionentry (exception_id, verb, at, text) "
    "SELECT id, 'updated', %(now)s, detail FROM refreshed WHERE reworded) SELECT id FROM refreshed"
)
_EXISTING = f"""
SELECT id, kind, shipment_id, house_id, status, announced_at, {", ".join(c for c, _ in _REFRESHED)}
  FROM tracking_shipmentexception
 WHERE shipment_id = ANY(%(ids)s) AND (status <> 'resolved' OR NOT is_auto_resolved)
"""  # noqa: S608 - constant names


class _Existing(NamedTuple):
    """An exception of the batch, as _EXISTING reads it."""

    id: int
    kind: str
    shipment_id: int
    house_id: int | None
    status: str
    announced_at: datetime.datetime | None
    leg_id: int | None
    order_id: int | None
    customer_id: int | None
    notify_customer: bool
    severity: int
    rule_id: int | None
    milestone: str
    expected_at: datetime.datetime | None
    observed_at: datetime.datetime | None
    carrier_reason_code: str
    canonical_reason: str
    trigger_key: str
    source_event_ids: list[int]
    carrier_id: int | None
    mode: str
    detail: str

    @property
    def key(self) -> tuple[str, int, int | None, int | None]:
        return self.kind, self.shipment_id, self.leg_id, self.house_id

    @property
    def follows(self) -> tuple[str, int, int | None, int | None]:
        return rules.follow_key(self.kind, self.shipment_id, self.leg_id, self.house_id)


def _iso(at: datetime.datetime | None) -> str | None:
    return at.isoformat() if at else None


def _row(finding: rules.Finding, facts: ShipmentFacts) -> dict[str, Any]:
    return {
        "kind": finding.kind, "shipment_id": finding.shipment_id, "house_id": finding.house_id,
        **_detected(finding, facts),
    }  # fmt: skip


def _detected(finding: rules.Finding, facts: ShipmentFacts) -> dict[str, Any]:
    """The finding's _REFRESHED columns, as the database stores them."""
    order_id, customer_id = facts.parties(finding.house_id)
    return {
        "leg_id": finding.leg_id, "order_id": order_id, "customer_id": customer_id,
        "notify_customer": finding.notify_customer, "severity": finding.severity, "rule_id": finding.rule_id,
        "milestone": finding.milestone,
        "expected_at": _iso(finding.expected_at), "observed_at": _iso(finding.observed_at),
        "carrier_reason_code": finding.carrier_reason_code, "canonical_reason": finding.canonical_reason,
        "trigger_key": finding.trigger_key, "source_event_ids": list(finding.source_event_ids),
        "carrier_id": finding.carrier_id, "mode": finding.mode, "detail": finding.detail,
    }  # fmt: skip


def _changed(row: _Existing, finding: rules.Finding, facts: ShipmentFacts) -> bool:
    """Whether the finding says more than the open exception: a later estimate, a moved plan, another attempt, a
    repeated report, the rule edited, another carrier on the late leg, the worst estimate now another leg's, another
    order or customer concerned. The wording alone does not count ("30 h overdue" grows every scan)."""
    return (
        row.leg_id, (row.order_id, row.customer_id), row.notify_customer, row.severity, row.rule_id, row.milestone,
        row.expected_at, row.observed_at, row.carrier_reason_code, row.canonical_reason, row.trigger_key,
        list(row.source_event_ids), row.carrier_id, row.mode,
    ) != (
        finding.leg_id, facts.parties(finding.house_id), finding.notify_customer, finding.severity, finding.rule_id,
        finding.milestone, finding.expected_at, finding.observed_at, finding.carrier_reason_code,
        finding.canonical_reason, finding.trigger_key, list(finding.source_event_ids), finding.carrier_id, finding.mode,
    )  # fmt: skip


def exceptions_detect(
    *, shipment_ids: Sequence[int], now: datetime.datetime | None = None, book: rules.RuleBook | None = None
) -> Outcome:
    """Open what holds and is not open yet; resolve what is open and no longer holds (self-resolving kinds); bring
    up to date what is open and still holds. Idempotent. After commit: one announce task for what opened or
    resolved."""
    now = now or timezone.now()
    book = book or rules.rulebook()
    outcome = Outcome(shipments=len(shipment_ids))
    if not shipment_ids:
        return outcome
    with transaction.atomic():
        with connection.cursor() as cursor:
            # The facts query's cost estimate passes jit_above_cost: compiling it costs more than running it.
            cursor.execute("SET LOCAL jit = off")
        facts = shipment_facts(shipment_ids)
        findings = [finding for info in facts.values() for finding in rules.evaluate(info, book, now)]
        with connection.cursor() as cursor:
            cursor.execute(_EXISTING, {"ids": list(facts)})
            existing = [_Existing(*row) for row in cursor.fetchall()]
        unresolved: dict[tuple[str, int, int | None, int | None], _Existing] = {}
        to_resolve: list[tuple[int, str]] = []
        for row in sorted(existing, key=lambda row: row.id):
            if row.status not in UNRESOLVED_STATUSES:
                continue
            kept = unresolved.setdefault(row.follows, row)
            if kept is not row:  # two ETA slipped on one shipment, opened before findings followed the worst leg
                to_resolve.append((row.id, f"The same delay is followed in exception #{kept.id}."))
        closed_by_hand = {(*row.key, row.trigger_key) for row in existing if row.status == ExceptionStatus.RESOLVED}
        holding = {finding.follows: finding for finding in findings}
        to_refresh: list[dict[str, Any]] = []
        widened: list[int] = []
        narrowed: list[int] = []
        for follows, row in unresolved.items():
            finding = holding.get(follows)
            info = facts.get(row.shipment_id)
            if finding is not None and info is not None and finding.continues(row.milestone):
                if _changed(row, finding, info):
                    reworded = finding.detail != row.detail
                    to_refresh.append({"id": row.id, "reworded": reworded, **_detected(finding, info)})
                if _joined_since_announced(row, info):
                    widened.append(row.id)
                if _left_since_announced(row, info):
                    narrowed.append(row.id)
            elif row.kind in SELF_RESOLVING_KINDS:
                why = rules.why_clear(
                    kind=row.kind, milestone=row.milestone, leg_id=row.leg_id, facts=info, house_id=row.house_id,
                    book=book, expected_at=row.expected_at, observed_at=row.observed_at, now=now,
                )  # fmt: skip
                to_resolve.append((row.id, why))
        # What resolves makes room (the unique index) for what replaces it: "arrival overdue" after "departure".
        replaced = {pk for pk, _ in to_resolve}
        to_open = [
            f for f in findings
            if (f.follows not in unresolved or unresolved[f.follows].id in replaced)
            and (*f.key, f.trigger_key) not in closed_by_hand
        ]  # fmt: skip
        with connection.cursor() as cursor:
            if to_resolve:
                cursor.execute(
                    _RESOLVE,
                    {"now": now, "ids": [pk for pk, _ in to_resolve], "notes": [n[:300] for _, n in to_resolve]},
                )
                outcome.resolved = [pk for (pk,) in cursor.fetchall()]
            if to_open:
                rows = [_row(finding, facts[finding.shipment_id]) for finding in to_open]
                cursor.execute(_OPEN, {"now": now, "rows": json.dumps(rows)})
                outcome.opened = [pk for (pk,) in cursor.fetchall()]
            if to_refresh:
                cursor.execute(_REFRESH, {"now": now, "rows": json.dumps(to_refresh)})
                outcome.updated = [pk for (pk,) in cursor.fetchall()]
        outcome.widened, outcome.narrowed = widened, narrowed
        changed = sorted({*widened, *narrowed})
        if outcome.opened or outcome.resolved or changed:
            announce_on_commit(outcome.opened, outcome.resolved, changed)
    return outcome


def _joined_since_announced(row: _Existing, facts: ShipmentFacts) -> bool:
    """Whether an open exception about the whole shipment (no house) was announced before a house on it joined:
    the order of that house is concerned and was not told (announcing.exception_orders_changed_announce)."""
    return (
        row.house_id is None and row.announced_at is not None and facts.houses_joined_at is not None
        and facts.houses_joined_at > row.announced_at
    )  # fmt: skip


def _left_since_announced(row: _Existing, facts: ShipmentFacts) -> bool:
    """The mirror: whether a house was taken off the shipment of an open exception about the whole shipment after it
    was announced. The order of that house may no longer be concerned, and was told it was: the announcement finds
    which orders left for good (another house of the order may still be on), and workflows cancels their tasks of the
    exception (announcing.exception_orders_changed_announce). The order and customer the exception names have been
    brought up to date above (facts.parties), as for an order that joins."""
    return (
        row.house_id is None and row.announced_at is not None and facts.houses_left_at is not None
        and facts.houses_left_at > row.announced_at
    )  # fmt: skip


def carrying_shipments(*, order_ids: Iterable[int] = (), shipment_ids: Iterable[int] = ()) -> list[int]:
    """The shipments whose legs carry these orders and shipments: a house's live master, else itself."""
    order_ids, shipment_ids = sorted(set(order_ids)), sorted(set(shipment_ids))
    if not order_ids and not shipment_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT coalesce(ch.master_id, s.id)
              FROM tracking_shipment s
              LEFT JOIN tracking_consolidatedhouse ch ON ch.house_id = s.id AND ch.removed_at IS NULL
             WHERE s.order_id = ANY(%(orders)s) OR s.id = ANY(%(shipments)s)
            """,
            {"orders": order_ids, "shipments": shipment_ids},
        )
        return sorted(row[0] for row in cursor.fetchall())


def exceptions_detect_for(
    *, order_ids: Iterable[int] = (), shipment_ids: Iterable[int] = (), now: datetime.datetime | None = None
) -> Outcome:
    """Detection for what these orders and shipments touch (the reaction to new events), in batches."""
    ids = carrying_shipments(order_ids=order_ids, shipment_ids=shipment_ids)
    total = Outcome()
    book = rules.rulebook()
    for start in range(0, len(ids), BATCH):
        outcome = exceptions_detect(shipment_ids=ids[start : start + BATCH], now=now, book=book)
        total.shipments += outcome.shipments
        total.opened += outcome.opened
        total.resolved += outcome.resolved
    return total


# --- the full scan ------------------------------------------------------------------------------------


def _scan_batch(cursor_id: int, size: int) -> list[int]:
    return list(
        Shipment.objects.filter(pk__gt=cursor_id, kind=ShipmentKind.MASTER, status__in=ACTIVE_STATUSES)
        .order_by("pk")
        .values_list("pk", flat=True)[:size]
    )


def _left_behind(*, after: int) -> list[int]:
    """The next BATCH shipments after `after` (by id) that are no longer active (delivered, cancelled, replanned)
    and still have an unresolved exception that can resolve by itself. Those a person closes (damage, returns)
    stay open on finished shipments for as long as a claim takes: counted in, they would fill every batch."""
    return list(
        ShipmentException.objects.filter(
            status__in=UNRESOLVED_STATUSES, kind__in=SELF_RESOLVING_KINDS, shipment_id__gt=after
        )
        .exclude(shipment__status__in=ACTIVE_STATUSES, shipment__kind=ShipmentKind.MASTER)
        .order_by("shipment_id")
        .values_list("shipment_id", flat=True)
        .distinct()[:BATCH]
    )


def exceptions_scan(
    *, batch_size: int = BATCH, now: datetime.datetime | None = None, max_batches: int | None = None
) -> ExceptionScan | None:
    """Detection over every active shipment, `batch_size` at a time, each batch committed with the scan's
    cursor; an unfinished scan (the worker died) is continued from its cursor. One scan at a time (advisory
    lock): returns None when another is running. `max_batches` bounds one call; the next call continues."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [SCAN_LOCK])
        if not cursor.fetchone()[0]:
            return None
    try:
        return _scan(batch_size=batch_size, now=now, max_batches=max_batches)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [SCAN_LOCK])


def _scan(*, batch_size: int, now: datetime.datetime | None, max_batches: int | None) -> ExceptionScan:
    scan = ExceptionScan.objects.filter(finished_at__isnull=True).order_by("started_at", "pk").first()
    scan = scan or ExceptionScan.objects.create()
    book = rules.rulebook()
    done = 0
    while max_batches is None or done < max_batches:
        with transaction.atomic():
            ids = _scan_batch(scan.cursor, batch_size)
            if not ids:
                break
            outcome = exceptions_detect(shipment_ids=ids, now=now or timezone.now(), book=book)
            scan.cursor, scan.batches, scan.shipments = ids[-1], scan.batches + 1, scan.shipments + len(ids)
            scan.opened, scan.resolved = scan.opened + len(outcome.opened), scan.resolved + len(outcome.resolved)
            scan.save(update_fields=["cursor", "batches", "shipments", "opened", "resolved"])
        done += 1
    else:
        return scan  # stopped by max_batches: the next call continues from the cursor
    after = 0  # keyset over the shipments left behind: one that stays (a replanned house still late) holds no place
    while True:
        with transaction.atomic():
            ids = _left_behind(after=after)
            if not ids:
                break
            outcome = exceptions_detect(shipment_ids=ids, now=now or timezone.now(), book=book)
            scan.opened, scan.resolved = scan.opened + len(outcome.opened), scan.resolved + len(outcome.resolved)
            scan.save(update_fields=["opened", "resolved"])
        after = ids[-1]
    scan.finished_at = timezone.now()
    scan.save(update_fields=["finished_at"])
    _announce_missed()
    exception_customer_emails_resend()
    return scan


def _announce_missed() -> None:
    """Exceptions whose announcement never ran (the worker died after the commit, the broker was away): announce
    them now. Opened ones after ANNOUNCE_GRACE; resolved ones at once (exception_resolved_announce is claimed, so a
    second message tells nobody twice), those resolved in the last RESOLVED_LOOKBACK (the index on resolved_at):
    a resolution lost with the broker would otherwise leave the order its rule held on hold for good."""
    now = timezone.now()
    missed = list(
        ShipmentException.objects.filter(announced_at__isnull=True, opened_at__lt=now - ANNOUNCE_GRACE)
        .order_by("opened_at")
        .values_list("pk", flat=True)[:BATCH]
    )
    resolved = list(
        ShipmentException.objects.filter(
            status=ExceptionStatus.RESOLVED,
            resolved_at__gte=now - RESOLVED_LOOKBACK,
            resolved_announced_at__isnull=True,
        )
        .order_by("resolved_at")
        .values_list("pk", flat=True)[:BATCH]
    )
    if missed or resolved:
        announce_on_commit(missed, resolved)
