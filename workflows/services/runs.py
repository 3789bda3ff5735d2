"""An order's workflow context while an event is handled (OrderRun), the writes its handling gathers over
the transaction's orders (Batch), and the one query an event starts from.

Callers hold a transaction; nothing here commits or talks to the network.

An event's handling starts from one query (`order_for_event`, `transition_for_event`): the order with its
workflow binding, its branch's time zone and address country, and the configuration token. Everything
else it reads is configuration kept per process (services.config: templates, versions, calendars, rules),
so binding a new order and creating its first tasks costs the writes it makes plus one read of the teams'
current load. That query joins as little as it can (Postgres plans each statement afresh, and planning an
eight-table join cost more than running it: 0.7 ms against 0.1 ms); the branch's data are subqueries.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from oms.compiled import model_columns, model_from_row, model_width
from oms.templatetags.oms_dates import datetime_text
from orders.models import Order, OrderTransition, QueuedTransition
from partners.models import Address, AddressKind, Organisation
from workflows.models import (
    ORDER_DATE_FIELDS,
    ConfigStamp,
    NotificationKind,
    OrderKeyDate,
    OrderWorkflow,
    ProcessedTransition,
    Task,
    TaskDefinition,
    TaskEvent,
    TaskState,
    VersionStatus,
    WorkflowVersion,
)
from workflows.services.assignment import Draft, LoadChange, PeopleCache, loads_adjust
from workflows.services.config import WorkflowConfig
from workflows.services.notify import Notice, notify
from workflows.services.profiles import BranchProfile, branch_profile

logger = logging.getLogger(__name__)


# A published version never changes (its tasks are read-only in the console), so its definitions can be
# kept per process; the key includes the publication time, so a reused id cannot serve stale rows.
_DEFINITIONS: dict[tuple[int, datetime.datetime | None], list[TaskDefinition]] = {}
_DEFINITIONS_KEPT = 256


def _definitions_of(version: WorkflowVersion) -> list[TaskDefinition]:
    key = (version.pk, version.published_at)
    if version.status == VersionStatus.DRAFT:
        return list(TaskDefinition.objects.filter(version=version))
    if key not in _DEFINITIONS:
        if len(_DEFINITIONS) >= _DEFINITIONS_KEPT:
            _DEFINITIONS.clear()
        _DEFINITIONS[key] = list(TaskDefinition.objects.filter(version=version))
    return _DEFINITIONS[key]


@dataclass
class ExistingTask:
    key: str
    state: str
    auto_complete_on: str
    waiting_on: list[str] = field(default_factory=list)


# The attributes an order loaded for an event carries (their presence marks it as so loaded).
_STAMP = "workflow_config_token"
_COUNTRY = "workflow_branch_country"
_TIME_ZONE = "workflow_branch_time_zone"
_WORKFLOW_FIELDS = ("id", "template_id", "version_id", "trade_direction", "bound_at", "migrated_at")
_TRANSITION_FIELDS = ("id", "name", "source", "target", "by_id", "api_key_id", "channel", "reason", "payload", "at")


@functools.cache
def _event_sql(source: str) -> tuple[str, tuple[str, ...]]:
    """The one statement an event starts from, by `source`: "order" (its id), "transition" (the transition's
    id; its columns come too), "claim" (as "transition" for an array of ids, after claiming each in
    ProcessedTransition and taking it off the queue in the same statement: no row for one claimed before)
    or "queued" (as "claim", for up to %s transitions off the queue that no other worker holds), with the
    names of the columns after the order's own. Transitions come in their order (by id).
    Written as SQL because it runs for every event and the ORM took several times longer to compile it than
    Postgres to run it (2 ms against 0.3 ms measured); table and column names come from the models, and the
    order is built from its columns as oms.compiled builds it."""
    order, workflow = Order._meta.db_table, OrderWorkflow._meta.db_table
    transition, stamp = OrderTransition._meta.db_table, ConfigStamp._meta.db_table
    organisation, address = Organisation._meta.db_table, Address._meta.db_table
    queue, processed = QueuedTransition._meta.db_table, ProcessedTransition._meta.db_table
    columns = [f"w.{name} AS event_workflow_{name}" for name in _WORKFLOW_FIELDS]
    claim, where, order_by = "", "o.id = %s", ""
    if source == "order":
        origin = f"{order} o"
    else:
        columns += [f"t.{name} AS event_transition_{name}" for name in _TRANSITION_FIELDS]
        origin, where = f"{transition} t JOIN {order} o ON o.id = t.order_id", "t.id = %s"
    if source == "claim":
        # A concurrent claimer waits on the unique key until the first commits (then gets no row) or rolls
        # back (then claims it); a transition that does not exist is not claimed. The queue row goes too
        # (a worker holding it makes this wait for the worker's commit, then find it gone).
        claim = (
            f"WITH dequeued AS (DELETE FROM {queue} WHERE transition_id = ANY(%s)), "  # noqa: S608
            f"claim AS (INSERT INTO {processed} (transition_id, processed_at) "
            f"SELECT id, %s FROM {transition} WHERE id = ANY(%s) ON CONFLICT DO NOTHING RETURNING transition_id) "
        )
    elif source == "queued":
        # The oldest queued transitions no other worker holds (SKIP LOCKED), taken off the queue and claimed.
        claim = (
            f"WITH picked AS (SELECT transition_id FROM {queue} ORDER BY transition_id LIMIT %s "  # noqa: S608
            f"FOR UPDATE SKIP LOCKED), dequeued AS (DELETE FROM {queue} q USING picked "
            f"WHERE q.transition_id = picked.transition_id RETURNING q.transition_id), "
            f"claim AS (INSERT INTO {processed} (transition_id, processed_at) SELECT transition_id, %s "
            f"FROM dequeued ON CONFLICT DO NOTHING RETURNING transition_id) "
        )
    if claim:
        origin, where, order_by = f"claim JOIN {origin} ON t.id = claim.transition_id", "TRUE", " ORDER BY t.id"
    sql = (
        f"{claim}SELECT {model_columns(Order, 'o')}, {', '.join(columns)}, "  # noqa: S608 - names from the models
        f"(SELECT token FROM {stamp} WHERE id = 1) AS {_STAMP}, "
        f"(SELECT time_zone FROM {organisation} WHERE id = o.branch_id) AS {_TIME_ZONE}, "
        f"(SELECT country FROM {address} a WHERE a.organisation_id = o.branch_id "
        f"ORDER BY CASE WHEN a.kind = '{AddressKind.REGISTERED}' THEN 0 ELSE 1 END, a.id LIMIT 1) AS {_COUNTRY} "
        f"FROM {origin} LEFT JOIN {workflow} w ON w.order_id = o.id WHERE {where}{order_by}"
    )
    names = (*(column.rsplit(" AS ", 1)[1] for column in columns), _STAMP, _TIME_ZONE, _COUNTRY)
    return sql, names


def _orders_for_event(source: str, params: list[Any]) -> list[Order]:
    """The orders with their binding, their branch's time zone and address country and the configuration
    token (and the transition's columns): one statement, see _event_sql."""
    sql, names = _event_sql(source)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    orders = []
    width = model_width(Order)
    for row in rows:
        order = model_from_row(Order, row)
        for name, value in zip(names, row[width:], strict=True):
            setattr(order, name, value)
        values = [getattr(order, f"event_workflow_{name}") for name in _WORKFLOW_FIELDS]
        binding = OrderWorkflow.from_db("default", _WORKFLOW_FIELDS, values) if values[0] is not None else None
        Order.workflow.related.set_cached_value(order, binding)
        if binding is not None:
            OrderWorkflow.order.field.set_cached_value(binding, order)
        orders.append(order)
    return orders


def _transition_of(order: Order) -> OrderTransition:
    values = [getattr(order, f"event_transition_{name}") for name in _TRANSITION_FIELDS]
    record = OrderTransition.from_db("default", _TRANSITION_FIELDS, values)
    record.payload = json.loads(record.payload) if isinstance(record.payload, str) else record.payload
    record.order = order
    return record


def order_for_event(order_id: int) -> Order:
    """The order loaded with everything handling an event on it reads (see the module docstring)."""
    orders = _orders_for_event("order", [order_id])
    if not orders:
        raise Order.DoesNotExist(f"There is no order {order_id}.")
    return orders[0]


def transition_for_event(transition_id: int) -> OrderTransition:
    """The transition with its order loaded as `order_for_event` loads it: one query."""
    orders = _orders_for_event("transition", [transition_id])
    if not orders:
        raise OrderTransition.DoesNotExist(f"There is no transition {transition_id}.")
    return _transition_of(orders[0])


def transitions_claim(transition_ids: list[int]) -> list[OrderTransition]:
    """Claim these transitions for handling and load them as `transition_for_event` does, in one statement,
    in their order; those handled (or being handled) already, or that do not exist, are left out."""
    orders = _orders_for_event("claim", [transition_ids, timezone.now(), transition_ids])
    return [_transition_of(order) for order in orders]


def transitions_claim_queued(limit: int) -> list[OrderTransition]:
    """Take up to `limit` transitions off the queue (orders.QueuedTransition) that no other worker holds,
    claim them and load them as `transitions_claim` does: one statement."""
    orders = _orders_for_event("queued", [limit, timezone.now()])
    return [_transition_of(order) for order in orders]


@dataclass
class _NewTask:
    task: Task
    run: OrderRun
    notify_unless: int | None  # who acted: they are not told about a task they made themselves
    closed_as: tuple[str, str] | None = None  # made closed: the (verb, detail) of its first history line


class Batch:
    """The writes of one transaction's event handling, gathered over its orders and made together.

    New tasks are inserted in one statement and their assignees told in one more when the batch is
    flushed: before anything reads tasks back from the database (a rule's transition asks the blocking-
    tasks guard; a second event of the same order reads its tasks), and at the end. Load changes are
    written once, at the end (`finish`), so concurrent handlers queue on the members' rows for the commit
    only (see services.assignment). The people who can be assigned are read once for every branch and
    customer of the batch (assignment.PeopleCache). A batch of one is what a single event costs; a
    worker's batch of a hundred shares each statement."""

    def __init__(self, now: datetime.datetime, orders: list[Order] | None = None) -> None:
        self.now = now
        self.load_changes: list[LoadChange] = []
        self.people = PeopleCache(orders or [])
        self._new: list[_NewTask] = []

    def add(self, run: OrderRun, drafts: list[Draft], *, by: Any) -> None:
        by_id = getattr(by, "pk", None)
        self._new += [_NewTask(draft.task, run, by_id, draft.closed_as) for draft in drafts]

    def flush(self) -> list[Task]:
        """Insert the tasks gathered so far, the first history line of those made closed (draft_close), and
        notify the assignees of the open ones; the tasks, saved."""
        new, self._new = self._new, []
        if not new:
            return []
        created = Task.objects.bulk_create([item.task for item in new])
        history = [(item.task, item.closed_as) for item in new if item.closed_as is not None]
        if history:
            TaskEvent.objects.bulk_create(
                TaskEvent(task=task, verb=verb, detail=detail[:300], at=self.now) for task, (verb, detail) in history
            )
        notices = [
            Notice(
                item.task.assignee_id, NotificationKind.ASSIGNED, f"{item.task.name} · {item.run.order.reference}",
                body=_due_text(item.task, item.run.profile), url=item.task.get_absolute_url(), task=item.task,
            )
            for item in new
            if item.task.assignee_id and item.task.state == TaskState.OPEN
            and item.task.assignee_id != item.notify_unless
        ]  # fmt: skip
        notify(notices, config=new[0].run.config)
        return created

    def finish(self) -> None:
        """Flush, and write the load changes of the whole batch in one UPDATE."""
        self.flush()
        if self.load_changes:
            loads_adjust(self.load_changes, now=self.now)
        self.load_changes = []


@dataclass
class OrderRun:
    """One order's workflow context while an event is handled: loaded on first use, shared by every step."""

    order: Order
    workflow: OrderWorkflow
    now: datetime.datetime
    config: WorkflowConfig
    _profile: BranchProfile | None = None
    _key_dates: dict[str, datetime.datetime] | None = None
    _tasks: dict[str, ExistingTask] | None = field(default=None)
    _seen: set[str] | None = None
    # Tasks found when the order was bound (date-triggered ones), saved with the next batch: one insert.
    pending: list[Draft] = field(default_factory=list)
    # Load changes held back until the batch's end (Batch.finish), or None to write each at once.
    load_changes: list[LoadChange] | None = None
    # The batch this run's writes go to (a worker's batch of events, or one event's): see Batch.
    batch: Batch | None = None

    def __post_init__(self) -> None:
        if self.batch is not None:
            self.load_changes = self.batch.load_changes

    @property
    def profile(self) -> BranchProfile:
        if self._profile is None:
            if hasattr(self.order, _TIME_ZONE):  # loaded for the event (order_for_event)
                self._profile = self.config.branch_profile(
                    branch_id=self.order.branch_id, time_zone=getattr(self.order, _TIME_ZONE),
                    address_country=getattr(self.order, _COUNTRY),
                )  # fmt: skip
            else:
                self._profile = branch_profile(branch_id=self.order.branch_id)
        return self._profile

    def definitions(self) -> list[TaskDefinition]:
        version = self.workflow.version
        return _definitions_of(version) if version is not None else []

    def anchor_at(self, anchor: str) -> datetime.datetime | None:
        """When a date anchor falls: an order date at the branch's opening time, or a recorded key date."""
        if anchor in ORDER_DATE_FIELDS:
            day = getattr(self.order, ORDER_DATE_FIELDS[anchor])
            return self.profile.calendar.opening_on(day) if day else None
        if self._key_dates is None:
            self._key_dates = dict(OrderKeyDate.objects.filter(order=self.order).values_list("anchor", "at"))
        return self._key_dates.get(anchor)

    def existing_tasks(self) -> dict[str, ExistingTask]:
        """source_key → the order's task (key, state, auto-completion); read once, kept up to date here."""
        if self._tasks is None:
            rows = Task.objects.filter(order=self.order).values_list(
                "source_key", "key", "state", "auto_complete_on", "waiting_on"
            )
            self._tasks = {
                source or f"#{n}": ExistingTask(key, state, auto, waiting)
                for n, (source, key, state, auto, waiting) in enumerate(rows)
            }
        return self._tasks

    def events_seen(self) -> set[str]:
        """The milestones and documents the order has had ("milestone:DEPARTED", OrderWorkflow.events_seen), read
        once, under a share lock of its binding held until commit: see event_remember."""
        if self._seen is None:
            # FOR SHARE, which the ORM cannot say (select_for_update would also queue concurrent task makers).
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT events_seen FROM {OrderWorkflow._meta.db_table} WHERE order_id = %s FOR SHARE",  # noqa: S608 - table name from the model
                    [self.order.pk],
                )
                row = cursor.fetchone()
            self._seen = set(row[0]) if row else set()
        return self._seen

    def order_moved(self, moved: Order) -> None:
        """The order took a transition during this event (a rule's action): carry on with the fresh row,
        and what was loaded with the old one."""
        for name in (_STAMP, _COUNTRY, _TIME_ZONE):
            if hasattr(self.order, name):
                setattr(moved, name, getattr(self.order, name))
        Order.workflow.related.set_cached_value(moved, self.workflow)
        self.order = moved

    def forget_tasks(self) -> None:
        """Tasks changed outside create_tasks (closed, cancelled): read them again when next needed."""
        self._tasks = None

    def due_at(
        self, *, hours: Decimal, anchor: str, business: bool, start: datetime.datetime
    ) -> datetime.datetime | None:
        """When a task is due: `hours` (business hours of the branch, or plain ones) from the anchor date or from
        `start`. None without the anchor's date, or when the branch's calendar does not reach that many business
        hours within ten years (open an hour a week, say): the task is still made, with no due time, rather than
        failing the event (the console refuses more than MAX_BUSINESS_HOURS; a calendar can change afterwards)."""
        base = self.anchor_at(anchor) if anchor else start
        if base is None:
            return None
        if business:
            try:
                return self.profile.calendar.add(base, hours)
            except ValueError as exc:
                logger.warning("No due time for %s business hours on order %s: %s", hours, self.order.pk, exc)
                return None
        return base + datetime.timedelta(hours=float(hours))


def _due_text(task: Task, profile: BranchProfile) -> str:
    if task.due_at is None:
        return "No due time."
    local = task.due_at.astimezone(profile.calendar.time_zone)
    return f"Due {datetime_text(local, 'weekday')} ({profile.calendar.time_zone.key})."
