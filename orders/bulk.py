"""The fast creation path for many orders that `orders.intake.validate_order` has already cleaned.

It writes exactly what `orders.services.order_create(..., submit=True)` writes, in bulk:
- references: one `issue_references` call per branch for the whole set (`nextval` over
  `generate_series`: one round trip for any count);
- primary keys of orders and submit transitions: one `nextval` query each for the whole set, so rows
  written by COPY can refer to each other at once;
- orders, cargo lines, equipment and transitions: PostgreSQL COPY (measured in bench/import_orders.py:
  several times faster than `bulk_create`, which adapts every value through the ORM), rows built as
  plain lists in column order;
- search_text and totals from the same functions the single-order path uses;
- the submit: orders are written submitted, and one OrderTransition row per order is written, so the history
  (insert event of the draft, update event of the submit, transition row, context with who, channel and
  transition) matches `order_create(..., submit=True)` order for order. No row locks are needed: nobody else
  can see rows this transaction has just inserted. `lifecycle.blocked_reason` is still asked (`SubmitCheck`),
  so the registered guards keep their say.
- history: django-pghistory's statement-level triggers record the COPYs of lines and equipment (and of
  orders that stay drafts): one trigger call per COPY, reading the rows from its transition table. A submitted
  order's two events are written by `_record_submitted_orders`, two INSERT ... SELECT per batch with its insert
  trigger ignored, because letting the trigger see them would take inserting drafts and updating every one
  (a second version of each order row in all its indexes: +7 s for 100,000 rows, measured). The context
  (who, channel, job) is set once before the first COPY, because COPY bypasses Django's execute wrappers.
- events: after commit, one callback sends `order_created` and `order_status_changed` for each order
  (the same signals, with the same arguments, as the single-order path). Each submit's transition is queued
  (QueuedTransition, one COPY) as lifecycle.apply queues one, so the workflow worker handles an import's
  orders in batches (docs/decisions/0004) while the events' task merely asks for it.

Duplicates: (customer, UPPER(customer_reference)) is unique in the database. `existing_references` looks any
number of pairs up in one query (the import asks once per batch of 1,000 orders). When a concurrent writer
wins a reference between the caller's check and our insert, the batch is rolled back to its savepoint, the
winners are reported as duplicates, and the rest is inserted again with the same references.

Where the time goes (bench/import_orders.py --statements, 100,000 rows, 44,497 orders): PostgreSQL's own
work dominates — the orders' 17 indexes, of which the full-text GIN index alone costs about 45 µs an order;
two history rows per order into an event table with three indexes (object, context, key); and about
600,000 deferred foreign-key checks at commit. See docs/decisions/0002-orders-and-intake.md, "Bulk import
performance".
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

import pghistory
import pgtrigger
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from kombu.exceptions import KombuError
from pghistory import config as pghistory_config
from psycopg.types.json import Jsonb

from orders import events, lifecycle
from orders.errors import TransitionNotAllowed
from orders.intake import CleanOrder
from orders.models import CargoLine, Equipment, Order, OrderEvent, OrderStatus, OrderTransition, QueuedTransition
from orders.references import issue_references
from orders.services import search_text_for
from partners.scoping import Scope

logger = logging.getLogger(__name__)

BATCH_SIZE = 2000
_UNIQUE_REFERENCE = "order_customer_reference_unique"


@dataclass(frozen=True)
class CreatedOrder:
    index: int  # position in the caller's sequence
    order_id: int
    reference: str


@dataclass(frozen=True)
class DuplicateOrder:
    index: int
    existing_reference: str
    written: str  # the customer reference as the existing order writes it (in any case, it is the same)


@dataclass
class BulkResult:
    created: list[CreatedOrder] = field(default_factory=list)
    duplicates: list[DuplicateOrder] = field(default_factory=list)


class SubmitCheck:
    """`lifecycle.blocked_reason(order, "submit", scope)` for orders that are about to be created.

    Asked once per customer, with the first order of that customer: the permission and state rules depend
    only on the scope and the customer, and the registered guards (today: workflows' open blocking tasks)
    look at rows attached to an existing order, which a new order cannot have yet. Asking per order would
    cost one guard query each (3 ms measured), i.e. minutes for a large file, for the same answers.
    A guard that judged an order by its own field values would be asked about the first order only.
    """

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.by_customer: dict[int, str | None] = {}

    def problem(self, clean: CleanOrder) -> str | None:
        customer_id = clean.order["customer"].pk
        if customer_id not in self.by_customer:
            draft = Order(**clean.order)
            self.by_customer[customer_id] = lifecycle.blocked_reason(draft, "submit", self.scope)
        return self.by_customer[customer_id]


def existing_references(pairs: Iterable[tuple[int, str]]) -> dict[tuple[int, str], tuple[int, str, str]]:
    """{(customer_id, customer_reference): (order id, our reference, the reference as that order writes it)} for the
    pairs an order has already, in any case ("po-1" finds "PO-1"), keyed by the pair as asked. One query for any
    number of pairs, served by the (customer, UPPER(customer_reference)) unique index."""
    keys = set(pairs)
    if not keys:
        return {}
    customer_ids, references = zip(*keys, strict=True)
    table = connection.ops.quote_name(Order._meta.db_table)
    sql = (
        f"SELECT k.customer_id, k.customer_reference, o.id, o.reference, o.customer_reference FROM {table} o "  # noqa: S608 - from the model
        "JOIN unnest(%s::bigint[], %s::text[]) AS k(customer_id, customer_reference) "
        "ON o.customer_id = k.customer_id AND UPPER(o.customer_reference) = UPPER(k.customer_reference)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(customer_ids), list(references)])
        return {
            (customer_id, asked): (pk, reference, written)
            for customer_id, asked, pk, reference, written in cursor.fetchall()
        }


def copy_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """COPY rows (values in `columns` order, by column name) into the model's table, in this transaction.
    Errors arrive as Django's (IntegrityError and friends), as from any query: COPY runs on the raw cursor."""
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(column) for column in columns)
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _next_ids(model: type[models.Model], count: int) -> list[int]:
    """Primary keys from the table's own sequence, so rows written by COPY can be referred to at once.
    One row holding an array: fetching 45,000 keys as rows took half as long again (0.25 s against 0.16 s)."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT array_agg(nextval(pg_get_serial_sequence(%s, 'id'))) FROM generate_series(1, %s)", [table, count]
        )
        return cursor.fetchone()[0] or []


def _set_history_context() -> None:
    """Set pghistory's and pgtrigger's transaction-local variables (the context: who, channel, job; the ignored
    trigger) for the rest of the transaction.

    Both libraries prefix each statement Django runs with them; COPY does not go through Django's execute
    wrappers, so one wrapped no-op sets them before the first COPY.
    """
    with connection.cursor() as cursor:
        cursor.execute("DO $$ BEGIN END $$")


# Submitted orders are written submitted, with this trigger ignored; _record_submitted_orders writes their
# two events (the module docstring says why).
_ORDER_INSERT_TRIGGER = f"{Order._meta.label}:insert_insert"
_DRAFT = {"status": OrderStatus.DRAFT, "submitted_at": None}  # the order as order_create inserts it


def _column(field: models.Field[Any, Any]) -> str:
    """A concrete field's column: Field.column is None only for fields without one, which concrete_fields leaves out."""
    assert field.column is not None  # noqa: S101 - a concrete field has a column
    return field.column


def _record_submitted_orders(order_ids: list[int]) -> None:
    """The insert event (the draft) and the update event (the submit) of each order, as the trigger records them:
    the columns OrderEvent copies from Order, label, creation time, object and the transaction's context."""
    quote = connection.ops.quote_name
    copied = {f.name for f in Order._meta.concrete_fields}
    fields = [f for f in OrderEvent._meta.concrete_fields if f.name in copied]
    columns = ", ".join(quote(_column(f)) for f in fields)
    event_table, table = quote(OrderEvent._meta.db_table), quote(Order._meta.db_table)
    for label, overrides in (("insert", _DRAFT), ("update", {})):
        values = ", ".join("%s" if f.name in overrides else f"o.{quote(_column(f))}" for f in fields)
        params = [overrides[f.name] for f in fields if f.name in overrides]
        sql = (
            f"INSERT INTO {event_table} ({columns}, pgh_created_at, pgh_label, pgh_obj_id, pgh_context_id) "  # noqa: S608 - names from models
            f"SELECT {values}, {pghistory_config.created_at_function()}, %s, o.id, (SELECT _pgh_attach_context()) "
            f"FROM {table} o WHERE o.id = ANY(%s) ORDER BY o.id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, label, order_ids])


class _Columns:
    """Column order and defaults of a model's table, computed once."""

    def __init__(self, model: type[models.Model], *, skip: Iterable[str] = ()) -> None:
        skipped = set(skip)
        self.fields = [f for f in model._meta.concrete_fields if f.attname not in skipped]
        self.names = [_column(f) for f in self.fields]
        self.defaults = {f.attname: (None if f.null and not f.has_default() else f.get_default()) for f in self.fields}
        self._items = list(self.defaults.items())
        self.position = {attname: index for index, attname in enumerate(self.defaults)}

    def row(self, values: Mapping[str, Any]) -> list[Any]:
        """The values in column order, the field's default for each one missing."""
        get = values.get
        return [get(attname, default) for attname, default in self._items]


def _order_values(clean: CleanOrder) -> dict[str, Any]:
    """The cleaned order keyed by column attname (foreign keys as ids)."""
    values = dict(clean.order)
    values["customer_id"] = values.pop("customer").pk
    values["branch_id"] = values.pop("branch").pk
    return values


@dataclass
class _Plan:
    """What one call writes: the cleaned orders, their references and primary keys."""

    orders: Sequence[CleanOrder]
    references: dict[int, str]
    channel: str
    by_id: int | None
    api_key_id: int | None
    submit: bool
    now: datetime
    # Primary keys taken from the tables' sequences in one query each, by position in `orders`
    # (a batch written again after losing a reference to a concurrent writer reuses its own).
    order_ids: list[int] = field(default_factory=list)
    submit_ids: list[int] = field(default_factory=list)
    transition_ids: dict[int, int] = field(default_factory=dict)  # order id -> its submit OrderTransition id


def orders_bulk_create(
    *,
    orders: Sequence[CleanOrder],
    scope: Scope,
    channel: str,
    by: Any = None,
    api_key: Any = None,
    submit: bool = True,
    history: Mapping[str, Any] | None = None,
    batch_size: int = BATCH_SIZE,
) -> BulkResult:
    """Create clean orders (submitted when `submit`) in one transaction; see the module docstring.
    After commit: order_created and order_status_changed for each order. Raises TransitionNotAllowed
    when the scope may not submit an order or a guard refuses (callers report `SubmitCheck` problems first)."""
    result = BulkResult()
    if not orders:
        return result
    by_id = getattr(by, "pk", None)
    api_key_id = getattr(api_key, "pk", None)
    if submit:
        check = SubmitCheck(scope)
        for clean in orders:
            problem = check.problem(clean)
            if problem:
                raise TransitionNotAllowed(problem)
    references = _reserve_references(orders)
    context = {"user": by_id, "api_key": api_key_id, "channel": channel, **(history or {})}
    if submit:
        context["transition"] = "submit"  # what lifecycle.apply adds to the context of a single submit
    ignored = pgtrigger.ignore(_ORDER_INSERT_TRIGGER) if submit else nullcontext()
    with transaction.atomic(), pghistory.context(**context), ignored:
        _set_history_context()
        plan = _Plan(
            orders=orders, references=references, channel=channel, by_id=by_id, api_key_id=api_key_id,
            submit=submit, now=timezone.now(), order_ids=_next_ids(Order, len(orders)),
            submit_ids=_next_ids(OrderTransition, len(orders)) if submit else [],
        )  # fmt: skip
        pending = list(range(len(orders)))
        for start in range(0, len(pending), batch_size):
            _write_batch(plan, pending[start : start + batch_size], result)
        created = list(result.created)
        transaction.on_commit(lambda: _send_events(created, plan))
    return result


def _reserve_references(orders: Sequence[CleanOrder]) -> dict[int, str]:
    """One sequence call per branch for the whole set (gap-tolerant, never blocking other writers)."""
    year = timezone.localdate().year
    counts = Counter(clean.order["branch"].code for clean in orders)
    issued = {code: iter(issue_references(branch_code=code, year=year, count=n)) for code, n in counts.items()}
    return {index: next(issued[clean.order["branch"].code]) for index, clean in enumerate(orders)}


def _write_batch(plan: _Plan, indexes: list[int], result: BulkResult) -> None:
    while indexes:
        try:
            with transaction.atomic():  # a savepoint: a concurrent writer may own a reference by now
                created, transition_ids = _insert(plan, indexes)
        except IntegrityError as exc:
            if _UNIQUE_REFERENCE not in str(exc):
                raise
            keys = {index: _key(plan.orders[index]) for index in indexes}
            existing = existing_references(keys.values())
            lost = [index for index in indexes if keys[index] in existing]
            if not lost:
                raise
            for index in lost:
                _pk, reference, written = existing[keys[index]]
                result.duplicates.append(DuplicateOrder(index, reference, written))
            indexes = [index for index in indexes if keys[index] not in existing]
            continue
        result.created.extend(created)
        plan.transition_ids.update(transition_ids)
        return


def _key(clean: CleanOrder) -> tuple[int, str]:
    return clean.order["customer"].pk, clean.order["customer_reference"]


@cache
def _columns() -> tuple[_Columns, _Columns, _Columns, _Columns]:
    return (
        _Columns(Order),
        _Columns(CargoLine, skip=["id"]),
        _Columns(Equipment, skip=["id"]),
        _Columns(OrderTransition),
    )


def _insert(plan: _Plan, indexes: list[int]) -> tuple[list[CreatedOrder], dict[int, int]]:
    order_cols, line_cols, box_cols, transition_cols = _columns()
    ids = [plan.order_ids[index] for index in indexes]
    now = plan.now
    order_rows, line_rows, box_rows, created = [], [], [], []
    line_row, box_row = line_cols.row, box_cols.row
    line_order, box_order = line_cols.position["order_id"], box_cols.position["order_id"]
    for index, order_id in zip(indexes, ids, strict=True):
        clean = plan.orders[index]
        reference = plan.references[index]
        values = _order_values(clean)
        values.update(
            id=order_id, reference=reference, channel=plan.channel, created_by_id=plan.by_id,
            updated_by_id=plan.by_id, updated_by_key_id=plan.api_key_id,
            status=OrderStatus.SUBMITTED if plan.submit else OrderStatus.DRAFT,
            submitted_at=now if plan.submit else None, created_at=now, updated_at=now,
            search_text=search_text_for(clean.order, clean.lines, reference=reference),
        )  # fmt: skip
        order_rows.append(order_cols.row(values))
        for line in clean.lines:
            row = line_row(line)
            row[line_order] = order_id
            line_rows.append(row)
        for box in clean.equipment:
            row = box_row(box)
            row[box_order] = order_id
            box_rows.append(row)
        created.append(CreatedOrder(index=index, order_id=order_id, reference=reference))
    copy_rows(Order, order_cols.names, order_rows)
    copy_rows(CargoLine, line_cols.names, line_rows)
    if box_rows:
        copy_rows(Equipment, box_cols.names, box_rows)
    transition_ids = {}
    if plan.submit:
        _record_submitted_orders(ids)
        transition_ids = _record_submits(plan, indexes, ids, transition_cols)
    return created, transition_ids


def _record_submits(plan: _Plan, indexes: list[int], order_ids: list[int], transition_cols: _Columns) -> dict[int, int]:
    """One OrderTransition per order, as lifecycle.apply writes it; returns {order id: transition id}."""
    transition_ids = [plan.submit_ids[index] for index in indexes]
    common = {
        "name": "submit", "source": OrderStatus.DRAFT, "target": OrderStatus.SUBMITTED, "by_id": plan.by_id,
        "api_key_id": plan.api_key_id, "channel": plan.channel, "reason": "", "at": plan.now,
    }  # fmt: skip
    rows = (
        transition_cols.row({**common, "id": transition_id, "order_id": order_id, "payload": Jsonb({})})
        for order_id, transition_id in zip(order_ids, transition_ids, strict=True)
    )
    copy_rows(OrderTransition, transition_cols.names, rows)
    # Their events are queued, as lifecycle.apply queues one: the workflow worker handles them in batches.
    copy_rows(QueuedTransition, ["transition_id", "queued_at"], ((pk, plan.now) for pk in transition_ids))
    return dict(zip(order_ids, transition_ids, strict=True))


EVENT_CHUNK = 500


def _send_events(created: list[CreatedOrder], plan: _Plan) -> None:
    """Hand the per-order events to the worker in chunks: receivers (workflows creates each order's tasks,
    about 60 ms an order measured) must not hold an import, or a web request, for minutes.

    The orders are committed when this runs: a broker that cannot take a chunk must not turn the import into
    an error. What matters of these events is durable elsewhere: the submit transitions are queued in
    orders_queuedtransition with the orders, and the workflow's catch-up sweep handles them within a minute."""
    from orders import tasks  # tasks import the import service, which imports this module

    for start in range(0, len(created), EVENT_CHUNK):
        chunk = created[start : start + EVENT_CHUNK]
        order_ids = [item.order_id for item in chunk]
        transition_ids = [plan.transition_ids.get(item.order_id) for item in chunk]
        try:
            tasks.send_order_created_events.delay(
                order_ids=order_ids, channel=plan.channel, by_id=plan.by_id,
                transition_ids=transition_ids if plan.submit else None,
            )  # fmt: skip
        except KombuError:
            logger.warning(
                "Could not queue the events of %d created orders; their queued transitions are handled by the "
                "workflow's catch-up sweep", len(order_ids), exc_info=True,
            )  # fmt: skip


def send_created_events(
    *, order_ids: list[int], channel: str, by_id: int | None, transition_ids: list[int | None] | None
) -> None:
    """order_created, and order_status_changed for the submit when there was one, for each order, exactly as
    the single-order path sends them. Receivers must be idempotent: a retried chunk sends its events again."""
    for position, order_id in enumerate(order_ids):
        events.order_created.send(sender=Order, order_id=order_id, channel=channel)
        if transition_ids is not None:
            events.order_status_changed.send(
                sender=Order, order_id=order_id, transition="submit", source=OrderStatus.DRAFT,
                target=OrderStatus.SUBMITTED, by_id=by_id, channel=channel, transition_id=transition_ids[position],
                queued=True,
            )  # fmt: skip
