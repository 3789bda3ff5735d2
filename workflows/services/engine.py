"""The workflow engine's building blocks: an order's workflow context, creating tasks from definitions,
and closing or reopening tasks with everything that hangs off them (load counts, dependencies, history).

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
from typing import Any, cast

from django.db import connection
from django.db.models import F, Func, Value
from django.utils import timezone

from oms.compiled import model_columns, model_from_row, model_width
from orders.models import STATUS_PATH, Order, OrderStatus, OrderTransition, QueuedTransition
from partners.models import Address, AddressKind, Organisation
from workflows.models import (
    ORDER_DATE_FIELDS,
    AssignRule,
    ConfigStamp,
    NotificationKind,
    OrderKeyDate,
    OrderWorkflow,
    ProcessedTransition,
    Task,
    TaskDefinition,
    TaskEvent,
    TaskState,
    TriggerKind,
    VersionStatus,
    WorkflowVersion,
)
from workflows.models.teams import is_active_staff
from workflows.services.assignment import Draft, LoadChange, PeopleCache, assign_drafts, loads_adjust
from workflows.services.config import WorkflowConfig, config_token, workflow_config
from workflows.services.matching import template_pick
from workflows.services.notify import Notice, notify
from workflows.services.profiles import BranchProfile, branch_profile, trade_direction

logger = logging.getLogger(__name__)

_RANK: dict[str, int] = {status: rank for rank, status in enumerate(STATUS_PATH)}
_SATISFIED = (TaskState.DONE, TaskState.CANCELLED)
# The kinds of auto-completion event the order's binding remembers (OrderWorkflow.events_seen); "state:" needs no
# memory, the order's state says whether it was reached.
_REMEMBERED = ("milestone", "document")


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


def _insert_workflows(workflows: list[OrderWorkflow]) -> set[int]:
    """Insert the bindings of orders that have none yet; one statement, no savepoint. Returns the order ids
    whose binding this inserted (the others had one: their workflow's pk stays None)."""
    table, now = OrderWorkflow._meta.db_table, timezone.now()
    values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(workflows))
    params = [value for w in workflows for value in (w.order_id, w.template_id, w.version_id, w.trade_direction, now)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (order_id, template_id, version_id, trade_direction, bound_at) "  # noqa: S608 - table name from the model
            f"VALUES {values} ON CONFLICT (order_id) DO NOTHING RETURNING order_id, id",
            params,
        )
        inserted = dict(cursor.fetchall())
    for workflow in workflows:
        workflow.pk = inserted.get(workflow.order_id)
    return set(inserted)


def _loaded_binding(order: Order) -> tuple[bool, OrderWorkflow | None]:
    """(True, the binding or None) when the order was loaded for this event (order_for_event), whose
    binding came with it; (False, None) when it has to be read."""
    if not hasattr(order, _STAMP):
        return False, None
    workflow = Order.workflow.related.get_cached_value(order, default=None)
    return True, cast(OrderWorkflow | None, workflow)


def _run_or_unbound(order: Order, now: datetime.datetime, batch: Batch | None) -> tuple[OrderRun, bool]:
    """The order's run; True when the order has no binding yet (the run carries the one to insert)."""
    config = workflow_config(getattr(order, _STAMP) if hasattr(order, _STAMP) else config_token())
    loaded, workflow = _loaded_binding(order)
    if not loaded:
        workflow = OrderWorkflow.objects.select_related("version").filter(order=order).first()
    elif workflow is not None and workflow.version_id is not None:
        workflow.version = config.version(workflow.version_id)
    if workflow is not None:
        return OrderRun(order, workflow, now, config, batch=batch), False
    run = OrderRun(order, OrderWorkflow(order=order), now, config, batch=batch)
    _match(run)
    return run, True


def _match(run: OrderRun) -> None:
    """Set the template that matches the order now, its current version and the trade direction on the run's
    binding (unsaved)."""
    order = run.order
    direction = trade_direction(
        origin_country=order.origin_id[:2], destination_country=order.destination_id[:2],
        branch_country=run.profile.country,
    )  # a UN/LOCODE starts with its ISO country code  # fmt: skip
    template = template_pick(run.config.templates(), order=order, direction=direction)
    run.workflow.template, run.workflow.trade_direction = template, direction
    run.workflow.version = template.current_version if template else None


def order_runs(orders: list[Order], *, now: datetime.datetime, batch: Batch | None = None) -> list[OrderRun]:
    """The orders' workflow contexts, in their order; binds those not bound yet to their matching template
    version, all in one statement. An order listed twice gets one run, listed twice."""
    runs: dict[int, OrderRun] = {}
    unbound: list[OrderRun] = []
    for order in orders:
        if order.pk not in runs:
            runs[order.pk], needs_binding = _run_or_unbound(order, now, batch)
            if needs_binding:
                unbound.append(runs[order.pk])
    inserted = _insert_workflows([run.workflow for run in unbound]) if unbound else set()
    for run in unbound:
        if run.order.pk not in inserted:
            # Two events of one order handled at once both bound it: the first row wins, this one reads it.
            run.workflow = OrderWorkflow.objects.select_related("version").get(order=run.order)
            continue
        run._tasks = {}  # a newly bound order has no workflow tasks yet
        run._seen = set()  # nor any event remembered (its new row is held until commit)
        run.pending = date_drafts(run)
    return [runs[order.pk] for order in orders]


def order_run(*, order: Order, now: datetime.datetime, batch: Batch | None = None) -> OrderRun:
    """The order's workflow context; binds the order to the matching template version the first time."""
    return order_runs([order], now=now, batch=batch)[0]


def order_run_attached(*, order: Order, now: datetime.datetime) -> OrderRun | None:
    """The workflow context of an order that runs on no template (none matched when it started), bound to the
    one that matches it now; None while none does. Its binding is updated in place, so what it remembers
    (events_seen) stays, and its date-triggered tasks are pending as for a new binding. An order bound to a
    version meanwhile keeps it."""
    run = order_run(order=order, now=now)
    if run.workflow.version_id is not None:
        return run
    _match(run)
    if run.workflow.version is None:
        return None
    run.workflow.bound_at = now
    run.workflow.save(update_fields=["template", "version", "trade_direction", "bound_at"])
    run.pending = date_drafts(run)
    return run


def status_reached(order: Order, status: str) -> bool:
    """Whether the order is at or past `status` on the forward path (a held order counts where it was held)."""
    current = order.status_before_hold if order.status == OrderStatus.ON_HOLD else order.status
    return status in _RANK and current in _RANK and _RANK[current] >= _RANK[status]


def draft_from_definition(
    definition: TaskDefinition, run: OrderRun, *, occurrence: str, start: datetime.datetime
) -> Draft:
    task = Task(
        order=run.order, definition=definition, source_key=f"{definition.key}@{occurrence}", key=definition.key,
        name=definition.name, instructions=definition.instructions, team_function=definition.team_function,
        state=TaskState.OPEN, blocks=list(definition.blocks), depends_on=list(definition.depends_on),
        auto_complete_on=definition.auto_complete_on,
    )  # fmt: skip
    task.due_at = run.due_at(
        hours=definition.due_in_hours, anchor=definition.due_anchor, business=definition.due_in_business_hours,
        start=start,
    )  # fmt: skip
    return Draft(task, definition.assign_rule, definition.assignee_id)


def date_drafts(run: OrderRun, *, anchors: set[str] | None = None) -> list[Draft]:
    """The order's date-triggered tasks whose date is known: scheduled to open at the date plus its offset
    (or open now when that moment has passed)."""
    drafts = []
    for definition in run.definitions():
        if definition.trigger_kind != TriggerKind.DATE or (
            anchors is not None and definition.date_anchor not in anchors
        ):
            continue
        anchor_at = run.anchor_at(definition.date_anchor)
        if anchor_at is None:
            continue
        opens_at = anchor_at + datetime.timedelta(hours=definition.date_offset_hours)
        draft = draft_from_definition(definition, run, occurrence="date", start=max(opens_at, run.now))
        if opens_at > run.now:
            draft.task.state, draft.task.available_at = TaskState.SCHEDULED, opens_at
        drafts.append(draft)
    return drafts


def draft_close(draft: Draft, *, state: str, verb: str, detail: str, now: datetime.datetime) -> None:
    """Have the draft's task made closed (done or cancelled) instead of open, its history starting with
    `verb` and `detail`: a task whose reason to be open passed before it was made (triggers._tasks_left_behind).
    Made, not left out: the order's task list keeps showing what its workflow asked for, and why it is closed."""
    draft.task.state, draft.task.completed_at = state, now
    draft.closed_as = (verb, detail)


def create_tasks(run: OrderRun, drafts: list[Draft], *, by: Any = None) -> list[Task]:
    """Save the drafts the order does not have yet (by source key), with their dependencies, team, assignee
    and load; notify the assignees. Tasks whose auto-completion already happened are created done (_done_already);
    drafts closed by draft_close are created so, with their history line. A task created closed counts as finished
    for the tasks that depend on it, made now or before (those waiting on it stop waiting). In a batch
    (run.batch) the tasks are saved and announced when the batch flushes; returned unsaved."""
    drafts, run.pending = run.pending + drafts, []
    if not drafts:
        return []
    existing = run.existing_tasks()
    drafts = [d for d in drafts if not d.task.source_key or d.task.source_key not in existing]
    if not drafts:
        return []
    _done_already(run, drafts)
    closed = [d.task for d in drafts if d.task.state in _SATISFIED]
    satisfied = {task.key for task in existing.values() if task.state in _SATISFIED and task.key}
    satisfied |= {task.key for task in closed if task.key}
    for draft in drafts:
        draft.task.waiting_on = [key for key in draft.task.depends_on if key not in satisfied]
    batch = run.batch
    if closed:
        _release_waiting(run, closed, existing)
    assign_drafts(drafts, order=run.order, now=run.now, pending=run.load_changes, cache=batch.people if batch else None)
    tasks = [d.task for d in drafts]
    for task in tasks:
        existing[task.source_key or f"#new{id(task)}"] = ExistingTask(
            task.key, task.state, task.auto_complete_on, list(task.waiting_on)
        )
    if batch is not None:
        batch.add(run, drafts, by=by)
        return tasks
    alone = Batch(run.now)
    alone.add(run, drafts, by=by)
    return alone.flush()


def _done_already(run: OrderRun, drafts: list[Draft]) -> None:
    """Make done the drafts whose own completion has happened, whatever else would have closed them: a state the
    order has reached (as ever, with no history line), or a milestone or document it has had before the task was
    made (event_remember), with a line saying so.

    Auto-completion otherwise reacts to the event only (auto_complete), and which comes first is chance: the
    "departure" task is made when the order goes in transit, and the DEPARTED milestone that completes it is
    acted on by another worker, before or after (decision 0004: the transition may wait on the queue). Made open
    after its milestone, the task would stay open for good, and hold back the step it blocks. The milestones
    and documents are read only when a draft is completed by one: one statement then."""
    remembered = []
    for draft in drafts:
        kind, _, value = draft.task.auto_complete_on.partition(":")
        if kind == "state" and status_reached(run.order, value):
            draft.task.state, draft.task.completed_at, draft.closed_as = TaskState.DONE, run.now, None
        elif kind in _REMEMBERED and draft.task.state != TaskState.DONE:
            remembered.append(draft)
    if not remembered:
        return
    seen = run.events_seen()
    for draft in remembered:
        event = draft.task.auto_complete_on
        if event in seen:
            draft.task.state, draft.task.completed_at = TaskState.DONE, run.now
            draft.closed_as = ("auto-completed", f"{event} (before this task was made)")


def event_remember(run: OrderRun, event: str) -> bool:
    """Remember that the order has had `event` ("milestone:DEPARTED", "document:HBL"), so that a task made later
    which the event completes is made done (_done_already). Idempotent: True the first time, False when the order
    had the event already (its rules do not run again: triggers.milestone_record).

    Call it before auto_complete reads the order's tasks. Its UPDATE holds the order's binding until commit, and a
    task maker reads the events under a share lock of that row (OrderRun.events_seen): of a task being made and its
    event being recorded at the same time, one waits for the other's commit and then sees it, the task or the
    event. Nothing is ever forgotten: no document can be withdrawn yet (a hook that does would take it out here)."""
    if run._seen is not None:
        run._seen.add(event)
    appended = (
        OrderWorkflow.objects.filter(order_id=run.order.pk)
        .exclude(events_seen__contains=[event])
        .update(events_seen=Func(F("events_seen"), Value(event), function="array_append"))
    )
    return appended > 0


def _release_waiting(run: OrderRun, closed: list[Task], existing: dict[str, ExistingTask]) -> None:
    """The order's earlier tasks that wait on tasks created closed stop waiting (a task of `planned` made
    before the `confirmed` one it depends on was made closed). Nothing is read unless one of them waits."""
    keys = {task.key for task in closed if task.key}
    if not any(t.state not in _SATISFIED and keys & set(t.waiting_on) for t in existing.values()):
        return
    if run.batch is not None:
        run.batch.flush()  # the waiting tasks are read back from the database
    _unblock_dependents(closed, known=existing)


def _due_text(task: Task, profile: BranchProfile) -> str:
    if task.due_at is None:
        return "No due time."
    local = task.due_at.astimezone(profile.calendar.time_zone)
    return f"Due {local:%a %d %b %H:%M} ({profile.calendar.time_zone.key})."


def close_tasks(
    tasks: list[Task], *, state: str, by: Any, now: datetime.datetime, verb: str, detail: str = "",
    pending: list[LoadChange] | None = None,
) -> None:  # fmt: skip
    """Mark tasks done or cancelled; release their load and the tasks that waited on them. `pending`: the
    caller's held load changes (OrderRun.load_changes), which the release joins; else it is written now."""
    tasks = [t for t in tasks if t.state in (TaskState.OPEN, TaskState.SCHEDULED)]
    if not tasks:
        return
    by_id = getattr(by, "pk", None)
    Task.objects.filter(pk__in=[t.pk for t in tasks]).update(state=state, completed_at=now, completed_by_id=by_id)
    _after_close(tasks, state=state, by_id=by_id, now=now, verb=verb, detail=detail, pending=pending)


def _after_close(
    tasks: list[Task], *, state: str, by_id: int | None, now: datetime.datetime, verb: str, detail: str,
    known: dict[str, ExistingTask] | None = None, pending: list[LoadChange] | None = None,
) -> None:  # fmt: skip
    """What follows closing tasks (`tasks` still carry the state they had): load, dependents, history."""
    released = [(t.team_id, t.assignee_id, -1) for t in tasks if t.state == TaskState.OPEN]
    if pending is None:
        loads_adjust(released, now=now)
    else:
        pending += released
    for task in tasks:
        task.state, task.completed_at, task.completed_by_id = state, now, by_id
    _unblock_dependents(tasks, known=known)
    TaskEvent.objects.bulk_create(TaskEvent(task=t, verb=verb, by_id=by_id, detail=detail[:300], at=now) for t in tasks)


def _unblock_dependents(finished: list[Task], *, known: dict[str, ExistingTask] | None = None) -> None:
    """Take the finished tasks' keys off the waiting lists of their orders' unfinished tasks. `known`: the
    order's tasks as read in this transaction; when none of them waits on a finished key, nothing is read."""
    keys_by_order: dict[int, set[str]] = {}
    for task in finished:
        if task.key:
            keys_by_order.setdefault(task.order_id, set()).add(task.key)
    if not keys_by_order:
        return
    if known is not None:
        finished_keys = set().union(*keys_by_order.values())
        if not any(t.state not in _SATISFIED and finished_keys & set(t.waiting_on) for t in known.values()):
            return
    waiting = []
    for order_id, keys in keys_by_order.items():
        waiting += list(
            Task.objects.filter(order_id=order_id, waiting_on__overlap=sorted(keys)).exclude(state__in=_SATISFIED)
        )
    for task in waiting:
        task.waiting_on = [key for key in task.waiting_on if key not in keys_by_order[task.order_id]]
    if waiting:
        Task.objects.bulk_update(waiting, ["waiting_on"])
    if known is not None:
        for existing in known.values():
            existing.waiting_on = [key for key in existing.waiting_on if key not in finished_keys]


def reopen_task(task: Task, *, by: Any, now: datetime.datetime, detail: str = "", announce: bool = True) -> None:
    """Put a done task back to open: its assignee carries it again and tasks after it wait again. Its
    escalation is cleared: escalation happens once per overdue episode, and a reopened task that goes (or
    still is) overdue is a new episode, escalated again by the next overdue_tasks_escalate.

    An assignee who is no longer active OMS staff (left, deactivated, no staff role any more) does not get it back:
    they would never see it, and the team would not either (it is not unassigned). It is assigned as a new task of
    its kind would be (assign_drafts: its definition's rule, a rule's task the account owner first, else the
    least-loaded member; the team queue stays the queue), its history saying why, and the new assignee is told
    (unless `announce` is False: the caller tells them itself, as a cancelled booking does)."""
    by_id = getattr(by, "pk", None)
    left = task.assignee_id is not None and not is_active_staff(task.assignee_id)
    Task.objects.filter(pk=task.pk).update(
        state=TaskState.OPEN, completed_at=None, completed_by=None, escalated_at=None
    )
    task.state, task.completed_at, task.completed_by_id, task.escalated_at = TaskState.OPEN, None, None, None
    TaskEvent.objects.create(task=task, verb="reopened", by_id=by_id, detail=detail[:300], at=now)
    if left:
        _assign_again(task, by_id=by_id, now=now, announce=announce)
    else:
        loads_adjust([(task.team_id, task.assignee_id, 1)], now=now)
    if task.key:
        dependents = list(
            Task.objects.filter(order_id=task.order_id, depends_on__contains=[task.key]).exclude(state__in=_SATISFIED)
        )
        for dependent in dependents:
            if task.key not in dependent.waiting_on:
                dependent.waiting_on = [*dependent.waiting_on, task.key]
        Task.objects.bulk_update(dependents, ["waiting_on"])


def _assign_again(task: Task, *, by_id: int | None, now: datetime.datetime, announce: bool) -> None:
    """Give a reopened task whose assignee left to whoever its assignment picks now (see reopen_task)."""
    leaver = task.assignee
    definition = task.definition
    rule = definition.assign_rule if definition is not None else AssignRule.ACCOUNT_OWNER  # as services.rules
    draft = Draft(task, rule, definition.assignee_id if definition is not None else None)
    task.assignee_id, task.assigned_at = None, None
    assign_drafts([draft], order=task.order, now=now)  # counts the new assignee's load
    Task.objects.filter(pk=task.pk).update(
        team_id=task.team_id, assignee_id=task.assignee_id, assigned_at=task.assigned_at
    )
    given = f"given to {task.assignee}" if task.assignee_id else "back to the team queue"
    TaskEvent.objects.create(
        task=task, verb="reassigned", detail=f"{leaver} is no longer active OMS staff: {given}.", at=now
    )
    if announce and task.assignee_id and task.assignee_id != by_id:
        notify([
            Notice(task.assignee_id, NotificationKind.ASSIGNED, f"{task.name} · {task.order.reference}",
                   body=f"Reopened; {leaver}, who had it, is no longer active OMS staff.", url=task.get_absolute_url(),
                   task=task)
        ])  # fmt: skip


# Lock, complete and return the due tasks with the state each had, in one statement: FOR UPDATE in the CTE
# waits for a concurrent change to a task and re-checks it, so a task closed meanwhile is left alone.
_AUTO_COMPLETE_SQL = (
    f"WITH due AS (SELECT id, state FROM {Task._meta.db_table} WHERE order_id = %s AND state IN (%s, %s) "  # noqa: S608 - table name from the model
    "AND auto_complete_on = ANY(%s) FOR UPDATE) "
    f"UPDATE {Task._meta.db_table} t SET state = %s, completed_at = %s, completed_by_id = NULL FROM due "
    "WHERE t.id = due.id RETURNING t.id, t.order_id, t.source_key, t.key, t.team_id, t.assignee_id, due.state"
)


def auto_complete(run: OrderRun, events: list[str]) -> list[Task]:
    """Complete the order's open and scheduled tasks that these events ("state:planned", "document:HBL")
    complete."""
    live = (TaskState.OPEN, TaskState.SCHEDULED)
    wanted = set(events)
    existing = run.existing_tasks()
    if not any(t.state in live and t.auto_complete_on in wanted for t in existing.values()):
        return []  # the order's tasks were just read: nothing to lock or complete
    with connection.cursor() as cursor:
        cursor.execute(
            _AUTO_COMPLETE_SQL,
            [run.order.pk, TaskState.OPEN, TaskState.SCHEDULED, list(events), TaskState.DONE, run.now],
        )
        rows = cursor.fetchall()
    due = [
        Task(id=pk, order_id=order_id, source_key=source_key, key=key, team_id=team_id, assignee_id=assignee_id,
             state=state)
        for pk, order_id, source_key, key, team_id, assignee_id, state in rows
    ]  # fmt: skip
    _after_close(
        due, state=TaskState.DONE, by_id=None, now=run.now, verb="auto-completed", detail=", ".join(events),
        known=existing, pending=run.load_changes,
    )  # fmt: skip
    for task in due:
        if task.source_key in existing:
            existing[task.source_key].state = TaskState.DONE
        else:
            run.forget_tasks()  # a task without a source key: read them all again when next needed
    return due


def state_events(order: Order) -> list[str]:
    """The "state:<status>" auto-completion events an order at this state has reached."""
    return [f"state:{status}" for status in STATUS_PATH if status_reached(order, status)]


def set_assignee(
    task: Task, *, user_id: int | None, by: Any, now: datetime.datetime, verb: str,
    pending: list[LoadChange] | None = None,
) -> bool:  # fmt: skip
    """Give an open (or scheduled) task to `user_id` (None: back to the team queue), moving the load (into
    `pending` when the caller holds its load changes) and telling the new assignee. Returns False when
    nothing changed."""
    if task.assignee_id == user_id:
        return False
    previous = task.assignee_id
    Task.objects.filter(pk=task.pk).update(assignee_id=user_id, assigned_at=now if user_id else None)
    if task.state == TaskState.OPEN:
        moved = [(task.team_id, previous, -1), (task.team_id, user_id, 1)]
        if pending is None:
            loads_adjust(moved, now=now)
        else:
            pending += moved
    task.assignee_id, task.assigned_at = user_id, now if user_id else None
    TaskEvent.objects.create(task=task, verb=verb, by_id=getattr(by, "pk", None), at=now)
    if user_id and user_id != getattr(by, "pk", None):
        notify([
            Notice(user_id, NotificationKind.ASSIGNED, f"{task.name} · {task.order.reference}",
                   body=f"{by or 'Automation'} gave you this task.", url=task.get_absolute_url(), task=task)
        ])  # fmt: skip
    return True
