"""Exception writes: detection over a batch of shipments (set-wise, idempotent), the full scan (batches
committed one by one behind a cursor), what people do (acknowledge, note, resolve with a root cause, take
ownership) and the owner written back by workflows.

Detection for a batch, in one transaction and at most seven queries whatever its size (the scan adds two: the
batch's ids and its cursor): JIT off for the transaction, the shipments' facts (two), their exceptions (one),
one UPDATE … RETURNING for what resolved itself, one INSERT … ON CONFLICT DO NOTHING RETURNING for what opens
(the partial unique index on unresolved (kind, shipment, leg, house) is the dedupe, so a second run or a
concurrent worker opens nothing twice) and one UPDATE for the open ones whose finding changed (a later
estimate, another attempt), each writing its history rows in the same statement.
After commit: one task announces the batch's changes (tracking.events.exception_opened /
exception_resolved, sent from the worker), so a scan never waits for workflows, notifications or email.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from kombu.exceptions import KombuError

from orders.models import Order
from partners.models import Organisation
from tracking import events
from tracking.exceptions import rules
from tracking.exceptions.facts import ShipmentFacts, shipment_facts
from tracking.exceptions.models import (
    NOTE_LIMIT,
    SELF_RESOLVING_KINDS,
    UNRESOLVED_STATUSES,
    ExceptionEntry,
    ExceptionRule,
    ExceptionScan,
    ExceptionStatus,
    RootCause,
    ShipmentException,
)
from tracking.models import ConsolidatedHouse, Shipment, ShipmentKind

logger = logging.getLogger(__name__)

BATCH = 1000
SCAN_LOCK = 0x0E5C_A7  # pg advisory lock key: one full scan at a time
ACTIVE_STATUSES = ("booked", "in_transit", "arrived")
ANNOUNCE_GRACE = datetime.timedelta(minutes=2)
RESOLVED_LOOKBACK = datetime.timedelta(days=2)  # resolutions whose announcement the scan may still catch up
Entry = ExceptionEntry.Verb


class ExceptionError(Exception):
    """Something asked of an exception cannot be done; the message says why."""


@dataclass
class Outcome:
    shipments: int = 0
    opened: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    widened: list[int] = field(default_factory=list)  # open ones now concerning an order that joined (not told yet)


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
        for follows, row in unresolved.items():
            finding = holding.get(follows)
            info = facts.get(row.shipment_id)
            if finding is not None and info is not None and finding.continues(row.milestone):
                if _changed(row, finding, info):
                    reworded = finding.detail != row.detail
                    to_refresh.append({"id": row.id, "reworded": reworded, **_detected(finding, info)})
                if _joined_since_announced(row, info):
                    widened.append(row.id)
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
        outcome.widened = widened
        if outcome.opened or outcome.resolved or widened:
            _announce_on_commit(outcome.opened, outcome.resolved, widened)
    return outcome


def _joined_since_announced(row: _Existing, facts: ShipmentFacts) -> bool:
    """Whether an open exception about the whole shipment (no house) was announced before a house on it joined:
    the order of that house is concerned and was not told (exception_widen_announce)."""
    return (
        row.house_id is None and row.announced_at is not None and facts.houses_joined_at is not None
        and facts.houses_joined_at > row.announced_at
    )  # fmt: skip


def _announce_on_commit(opened: list[int], resolved: list[int], widened: list[int] | None = None) -> None:
    from tracking.exceptions import tasks  # tasks import services

    args = [opened, resolved, widened] if widened else [opened, resolved]
    transaction.on_commit(
        lambda: _queue(lambda: tasks.announce_exceptions.apply_async(args=args, queue=tasks.QUEUE), what="announcement")
    )


def _queue(send: Callable[[], Any], *, what: str) -> None:
    """Queue a task after the commit. A broker that is away must not fail what was committed (a person's resolve
    answered with an error page): logged, and the scan's sweeps (_announce_missed) announce it later."""
    try:
        send()
    except KombuError:
        logger.warning("exceptions: could not queue the %s; the next scan does it", what, exc_info=True)


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
        _announce_on_commit(missed, resolved)


# --- announcing ---------------------------------------------------------------------------------------


def orders_of(exception: ShipmentException) -> list[int]:
    """Every order the exception concerns: its own, or those of every live house on its shipment."""
    if exception.order_id:
        return [exception.order_id]
    houses = ConsolidatedHouse.objects.filter(master_id=exception.shipment_id, removed_at__isnull=True)
    ids = Shipment.objects.filter(pk__in=houses.values("house_id")).exclude(order__isnull=True)
    own = [exception.shipment.order_id] if exception.shipment.order_id else []
    return sorted(set(own) | set(ids.values_list("order_id", flat=True)))


def exception_announce(*, exception_id: int) -> bool:
    """Tell higher apps an exception opened (workflows: rules, owner, alerts), once: the claim and what the
    receivers write commit together, so a failure leaves it to be announced again. Then the customer's email.
    Only an unresolved exception is claimed: one that resolved before its (late) announcement ran is stamped
    announced and nobody is told (no task, no notification, no email for what is already over)."""
    with transaction.atomic():
        unannounced = ShipmentException.objects.filter(pk=exception_id, announced_at__isnull=True)
        now = timezone.now()
        claimed = unannounced.filter(status__in=UNRESOLVED_STATUSES).update(announced_at=now)
        if not claimed:
            unannounced.filter(status=ExceptionStatus.RESOLVED).update(announced_at=now)
            return False
        exception = ShipmentException.objects.select_related("shipment").get(pk=exception_id)
        order_ids = orders_of(exception)
        events.exception_opened.send(
            sender=ShipmentException, exception_id=exception.pk, kind=exception.kind,
            shipment_id=exception.shipment_id, order_ids=order_ids,
        )  # fmt: skip
        if _may_email_customers(exception):
            from tracking.exceptions import tasks

            tasks.email_exception_to_customer.delay_on_commit(exception.pk)
    return True


def _may_email_customers(exception: ShipmentException) -> bool:
    """Whether a customer may be emailed: the exception's customer when its rule says so; for one that names no
    customer (a consolidation), also when a customer's own rule for the kind says so (the task decides whom)."""
    if exception.customer_id:
        return exception.notify_customer
    return exception.notify_customer or (
        ExceptionRule.objects.filter(
            kind=exception.kind, customer__isnull=False, notify_customer=True, is_active=True
        ).exists()
    )


def exception_widen_announce(*, exception_id: int) -> bool:
    """Tell the orders that joined an open exception's shipment after it was announced (a house added to the
    consolidation whose cut-off was missed, whose vessel is late): the history says which orders it concerns now,
    and their customers are emailed where a rule says so (each customer once: the ones told before are not told
    again), and higher apps hear of those orders only (events.exception_orders_added: workflows runs the "exception
    opened" rules for them, the owner kept). Claimed by moving `announced_at` to now under the row's lock, so a
    second message does nothing; the event is sent inside that transaction, as exception_opened is, so the claim and
    what the receivers write commit together and a failure leaves the widening to the next detection.
    Detection asks for it (_joined_since_announced) in the batch that sees the house, and it has brought the
    exception's order and customer up to date by then. Returns whether anything was announced."""
    with transaction.atomic():
        exception = (
            ShipmentException.objects.select_for_update(of=("self",))
            .select_related("shipment")
            .filter(pk=exception_id, status__in=UNRESOLVED_STATUSES, announced_at__isnull=False, house__isnull=True)
            .first()
        )
        if exception is None:
            return False
        joined = ConsolidatedHouse.objects.filter(
            master_id=exception.shipment_id, removed_at__isnull=True, added_at__gt=exception.announced_at
        ).values("house__order_id")
        orders = list(
            Order.objects.filter(pk__in=orders_of(exception)).filter(pk__in=joined)
            .select_related("customer").order_by("reference")
        )  # fmt: skip
        exception.announced_at = timezone.now()
        exception.save(update_fields=["announced_at"])
        if not orders:
            return False
        names = ", ".join(f"{order.reference} ({order.customer.code})" for order in orders)
        ExceptionEntry.objects.create(
            exception=exception, verb=Entry.UPDATED, text=f"Now also concerns {names}: added to the shipment."
        )
        events.exception_orders_added.send(
            sender=ShipmentException, exception_id=exception.pk, kind=exception.kind,
            shipment_id=exception.shipment_id, order_ids=[order.pk for order in orders],
        )  # fmt: skip
        if _may_email_customers(exception):
            from tracking.exceptions import tasks

            tasks.email_exception_to_customer.delay_on_commit(exception.pk)
    return True


def exception_resolved_announce(*, exception_id: int) -> None:
    """Tell higher apps a resolved exception resolved, once: the claim and what the receivers write commit
    together, so a redelivered or retried message tells nobody twice, and a failure leaves it to be told."""
    with transaction.atomic():
        claimed = ShipmentException.objects.filter(
            pk=exception_id, status=ExceptionStatus.RESOLVED, resolved_announced_at__isnull=True
        ).update(resolved_announced_at=timezone.now())
        if not claimed:
            return
        exception = ShipmentException.objects.values("kind", "owner_id", "is_auto_resolved").get(pk=exception_id)
        events.exception_resolved.send(
            sender=ShipmentException, exception_id=exception_id, kind=exception["kind"],
            owner_id=exception["owner_id"], automatic=exception["is_auto_resolved"],
        )  # fmt: skip


# A claim on a customer's email is a lease (exception_customer_email_claim_for): one older than this was held by a
# worker that died during the send (the task's hard time limit is shorter), and another run may take it over.
EMAIL_LEASE = datetime.timedelta(minutes=30)


def _sending(customer: Organisation) -> str:
    return f"Customer {customer.code} being emailed"


@transaction.atomic
def exception_customer_email_claim_for(
    *, exception_id: int, customer: Organisation, take_over: bool = False
) -> int | None:
    """Claim one customer's email of an exception (each customer it concerns is told once: the one it names, or each
    on a consolidation, and one whose order joined while it was open). The claim is a history entry written under the
    exception's lock before the send, "Customer <code> being emailed (<address>).", which
    `exception_customer_email_sent` turns into "Customer <code> emailed (<address>)." once the mail server took it,
    and `exception_customer_email_unclaim_for` deletes if the send fails. So a retry or a second message emails nobody
    twice. The claim is a lease: a worker killed during the send leaves it, and its redelivered message
    (`take_over`) or, after EMAIL_LEASE, any run takes it over and sends (a rare duplicate, instead of a mail lost
    for good). Returns the entry's id, or None when this customer was told already (also as "Customer emailed
    (<address>).", written before entries named the customer) or is being emailed by a live run."""
    ShipmentException.objects.select_for_update().filter(pk=exception_id).first()
    said = f"Customer {customer.code} emailed"
    claims = ExceptionEntry.objects.filter(exception_id=exception_id, verb=Entry.NOTIFIED)
    if claims.filter(Q(text__startswith=said) | Q(text=f"Customer emailed ({customer.email}).")).exists():
        return None
    now = timezone.now()
    held = claims.filter(text__startswith=_sending(customer)).order_by("pk").first()
    if held is not None:
        if not take_over and held.at >= now - EMAIL_LEASE:
            return None
        logger.warning("Exception %s: taking over the email to customer %s left by a worker", exception_id, customer)
        held.at = now
        held.save(update_fields=["at"])
        return held.pk
    entry = ExceptionEntry.objects.create(
        exception_id=exception_id, verb=Entry.NOTIFIED, text=f"{_sending(customer)} ({customer.email}).", at=now
    )
    return entry.pk


def exception_customer_email_sent(*, entry_id: int, customer: Organisation) -> None:
    """The mail server took the customer's email: the claim becomes the record "Customer <code> emailed …"."""
    ExceptionEntry.objects.filter(pk=entry_id, verb=Entry.NOTIFIED).update(
        text=f"Customer {customer.code} emailed ({customer.email}).", at=timezone.now()
    )


def exception_customer_email_unclaim_for(*, entry_id: int) -> None:
    ExceptionEntry.objects.filter(pk=entry_id, verb=Entry.NOTIFIED).delete()


# The sweep of customers' emails not sent (exception_customer_emails_resend): what it looks at, and how often it
# may start an exception's email task again (a task's retries last about an hour) and how many times in all.
EMAIL_SWEEP_AGE = datetime.timedelta(minutes=2)
EMAIL_SWEEP_WINDOW = datetime.timedelta(days=1)
EMAIL_SWEEP_EVERY = datetime.timedelta(minutes=70)
EMAIL_SWEEPS = 3


def exception_customer_emails_resend(*, limit: int = 200) -> list[int]:
    """Queue the customer emails of exceptions that should have gone and did not (run after each scan): an open
    exception announced more than EMAIL_SWEEP_AGE ago, that a rule says to tell the customer about, with no
    customer told yet, and any with a claim left by a worker that died (older than EMAIL_LEASE). The email task
    decides whom, and its claims make a second message harmless. An exception is queued again at most every
    EMAIL_SWEEP_EVERY (its task retries for about an hour) and EMAIL_SWEEPS times, then given up (logged at
    ERROR). Returns the ids queued."""
    from django.core.cache import cache

    from tracking.exceptions import tasks

    now = timezone.now()
    recent = ShipmentException.objects.filter(
        status__in=UNRESOLVED_STATUSES, opened_at__gte=now - EMAIL_SWEEP_WINDOW, announced_at__lt=now - EMAIL_SWEEP_AGE
    )
    claims = ExceptionEntry.objects.filter(
        exception_id=OuterRef("pk"), verb=Entry.NOTIFIED, text__contains=" being emailed "
    )
    stale = Exists(claims.filter(at__lt=now - EMAIL_LEASE))
    live = Exists(claims.filter(at__gte=now - EMAIL_LEASE))  # a worker is sending: not ours to queue
    not_told = Q(customer_notified_at__isnull=True) & (Q(notify_customer=True) | Q(customer__isnull=True)) & ~live
    unsent = recent.filter(not_told | stale).select_related("shipment")
    queued = []
    for exception in unsent.order_by("opened_at")[:limit]:
        if not _may_email_customers(exception):
            continue
        key = f"tracking:exception-email-sweeps:{exception.pk}"
        sweeps, last = cache.get(key, (0, None))
        if sweeps >= EMAIL_SWEEPS or (last is not None and last > now - EMAIL_SWEEP_EVERY):
            continue
        cache.set(key, (sweeps + 1, now), timeout=int(EMAIL_SWEEP_WINDOW.total_seconds()) * 2)
        if sweeps + 1 == EMAIL_SWEEPS:
            logger.error(
                "Exception %s: its customer email is sent again a last time (sweep %d)", exception.pk, sweeps + 1
            )
        _queue(
            functools.partial(tasks.email_exception_to_customer.delay, exception.pk), what=f"email of {exception.pk}"
        )
        queued.append(exception.pk)
    return queued


def exception_customers_notified(*, exception_id: int) -> None:
    """Keep when the first customer of an exception was told (the inbox's "customer notified")."""
    ShipmentException.objects.filter(pk=exception_id, customer_notified_at__isnull=True).update(
        customer_notified_at=timezone.now()
    )


# --- what people do -----------------------------------------------------------------------------------


def _lock(exception: ShipmentException) -> ShipmentException:
    return ShipmentException.objects.select_for_update().get(pk=exception.pk)


def _name(user: Any) -> str:
    return (user.get_full_name() or user.email) if user else "nobody"


@transaction.atomic
def exception_assign_owner(*, exception_id: int, owner: Any, by: Any = None, how: str = "") -> ShipmentException:
    """Give the exception an owner (workflows' assignment on opening, or a person taking it)."""
    exception = ShipmentException.objects.select_for_update().get(pk=exception_id)
    if exception.owner_id == getattr(owner, "pk", None):
        return exception
    exception.owner = owner
    exception.save(update_fields=["owner"])
    text = f"Owner: {_name(owner)}" + (f" ({how})" if how else "")
    ExceptionEntry.objects.create(exception=exception, verb=Entry.ASSIGNED, by=by, text=text)
    return exception


@transaction.atomic
def exception_acknowledge(*, exception: ShipmentException, by: Any) -> ShipmentException:
    """Someone has seen it and is on it: open → acknowledged (it stays in the inbox until resolved)."""
    exception = _lock(exception)
    if exception.status != ExceptionStatus.OPEN:
        raise ExceptionError(f"This exception is already {exception.get_status_display().lower()}.")
    exception.status = ExceptionStatus.ACKNOWLEDGED
    exception.acknowledged_at, exception.acknowledged_by = timezone.now(), by
    if exception.owner_id is None:
        exception.owner = by  # who acknowledges an unowned exception takes it
    exception.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "owner"])
    ExceptionEntry.objects.create(exception=exception, verb=Entry.ACKNOWLEDGED, by=by)
    return exception


@transaction.atomic
def exception_note_add(*, exception: ShipmentException, by: Any, text: str) -> ExceptionEntry:
    """What was done or learnt (called the carrier, broker has the documents …)."""
    text = text.strip()
    if not text:
        raise ExceptionError("Write the note first.")
    if len(text) > NOTE_LIMIT:
        raise ExceptionError(f"A note holds up to {NOTE_LIMIT:,} characters (this one has {len(text):,}): shorten it.")
    return ExceptionEntry.objects.create(exception=exception, verb=Entry.NOTED, by=by, text=text)


@transaction.atomic
def exception_resolve(*, exception: ShipmentException, by: Any, root_cause: str, note: str = "") -> ShipmentException:
    """Close it by hand with a root cause. After commit: exception_resolved."""
    exception = _lock(exception)
    if exception.status == ExceptionStatus.RESOLVED:
        raise ExceptionError("This exception is already resolved.")
    if root_cause not in RootCause.values:
        raise ExceptionError("Pick the root cause.")
    exception.status, exception.resolved_at, exception.resolved_by = ExceptionStatus.RESOLVED, timezone.now(), by
    exception.root_cause, exception.resolution_note, exception.is_auto_resolved = root_cause, note.strip()[:300], False
    exception.save(
        update_fields=["status", "resolved_at", "resolved_by", "root_cause", "resolution_note", "is_auto_resolved"]
    )
    text = RootCause(root_cause).label + (f": {exception.resolution_note}" if exception.resolution_note else "")
    ExceptionEntry.objects.create(exception=exception, verb=Entry.RESOLVED, by=by, text=text)
    _announce_on_commit([], [exception.pk])
    return exception
