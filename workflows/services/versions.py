"""Template versions: start a draft, publish it, and migrate in-flight orders onto it.

Publishing never touches orders already running: they keep their version. Migrating is an explicit admin
action: open tasks whose definition still exists (same key) follow the new definition, open tasks whose
definition is gone are cancelled, and new tasks for the order's current state are created. An order that joins a
workflow part-way, migrated or attached, gets no tasks for the states it has passed, except skipped ones that
other tasks depend on (_current_state_tasks).
"""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from orders.models import STATUS_PATH, Order, OrderStatus, OrderTransition
from workflows.errors import WorkflowError
from workflows.models import (
    AutoComplete,
    OrderWorkflow,
    Task,
    TaskDefinition,
    TaskState,
    Team,
    TriggerKind,
    VersionStatus,
    WorkflowTemplate,
    WorkflowVersion,
)
from workflows.models.templates import FORWARD_STEPS
from workflows.services.assignment import LoadChange, loads_adjust
from workflows.services.auto_completion import status_reached
from workflows.services.binding import order_run, order_run_attached
from workflows.services.runs import OrderRun
from workflows.services.task_changes import close_tasks
from workflows.services.task_creation import create_tasks, date_drafts, draft_close, draft_from_definition

_FINISHED = (OrderStatus.CLOSED, OrderStatus.CANCELLED)
_COPIED_FIELDS = (
    "position", "key", "name", "instructions", "team_function", "trigger_kind", "trigger_state", "trigger_code",
    "date_anchor", "date_offset_hours", "due_in_hours", "due_anchor", "due_in_business_hours", "assign_rule",
    "assignee_id", "depends_on", "blocks", "auto_complete_kind", "auto_complete_value",
)  # fmt: skip


def version_draft_start(*, template: WorkflowTemplate, by: Any = None, note: str = "") -> WorkflowVersion:
    """The template's draft version, started as a copy of the current one if there is no draft yet."""
    with transaction.atomic():
        template = WorkflowTemplate.objects.select_for_update().get(pk=template.pk)
        draft = template.versions.filter(status=VersionStatus.DRAFT).first()
        if draft is not None:
            return draft
        number = (template.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        draft = WorkflowVersion.objects.create(
            template=template, number=number, note=note, created_by=by if getattr(by, "pk", None) else None
        )
        if template.current_version_id:
            TaskDefinition.objects.bulk_create(
                TaskDefinition(version=draft, **{name: getattr(d, name) for name in _COPIED_FIELDS})
                for d in TaskDefinition.objects.filter(version_id=template.current_version_id)
            )
    return draft


def version_problems(version: WorkflowVersion) -> list[str]:
    """What would make this version misbehave: invalid definitions, unknown or circular dependencies."""
    definitions = list(version.definitions.all())
    problems = []
    if not definitions:
        problems.append("A version needs at least one task.")
    for definition in definitions:
        try:
            definition.full_clean(exclude=["version"])
        except ValidationError as exc:
            problems += [f"{definition.name}: {message}" for message in exc.messages]
    keys = Counter(d.key for d in definitions)
    problems += [f"The key {key} is used by {n} tasks." for key, n in keys.items() if n > 1]
    graph = {d.key: set(d.depends_on) for d in definitions}
    for definition in definitions:
        unknown = set(definition.depends_on) - set(graph)
        if unknown:
            problems.append(f"{definition.name} depends on unknown task keys: {', '.join(sorted(unknown))}.")
    problems += [f"Tasks depend on each other in a circle: {' → '.join(cycle)}." for cycle in _cycles(graph)]
    problems += _waits_that_never_end(definitions)
    return problems


_RANK: dict[str, int] = {status: rank for rank, status in enumerate(STATUS_PATH)}


def _waits_that_never_end(definitions: list[TaskDefinition]) -> list[str]:
    """Tasks that block a step on the way to the state whose task they wait for (directly, or through tasks that wait
    in turn): that task is made only once the order has taken the step, and the step waits for this task. No cycle
    between the keys shows it: "check the invoice" (on submit, blocks confirm) waiting for "book the courier" (made on
    entering confirmed) published, and every order stayed in submitted, its only way out a cancellation.

    Each task's earliest possible finish is placed on the forward path (STATUS_PATH): the latest state it waits for a
    task of, through tasks a person completes. A task a milestone, a document or a date makes may come at any time,
    and one a milestone or document completes may be finished by it whatever it waits for: neither holds anything."""
    by_key = {d.key: d for d in definitions}
    ready: dict[str, tuple[int, TaskDefinition | None]] = {}

    def finish(definition: TaskDefinition, visiting: frozenset[str]) -> tuple[int, TaskDefinition | None]:
        """(the rank from which the task can be finished, the state task it waits for that is made latest)."""
        if definition.key in ready:
            return ready[definition.key]
        made = _RANK.get(definition.trigger_state, -1) if definition.trigger_kind == TriggerKind.STATE else -1
        result: tuple[int, TaskDefinition | None] = (made, definition if made >= 0 else None)
        if definition.auto_complete_kind not in (AutoComplete.MILESTONE, AutoComplete.DOCUMENT):
            for key in definition.depends_on:
                if key in by_key and key not in visiting:  # unknown keys and circles are reported on their own
                    waited = finish(by_key[key], visiting | {definition.key})
                    if waited[0] > result[0]:
                        result = waited
        if definition.auto_complete_kind == AutoComplete.STATE and definition.auto_complete_value in _RANK:
            completed_at = _RANK[definition.auto_complete_value]
            if completed_at < result[0]:
                result = (completed_at, None)
        ready[definition.key] = result
        return result

    problems = []
    for definition in definitions:
        if definition.trigger_kind != TriggerKind.STATE or definition.trigger_state not in _RANK:
            continue
        made = _RANK[definition.trigger_state]
        rank, waited = finish(definition, frozenset())
        for step in definition.blocks:
            entered = _RANK.get(FORWARD_STEPS.get(step, ""), -1)
            if waited is not None and waited is not definition and made < entered <= rank:
                problems.append(
                    f"{definition.name} blocks {step}, but waits for {waited.name}, which is made only when the order "
                    f"enters {waited.trigger_state}: the order could never move on. Make the task wait for an earlier "
                    "one, or block a later step."
                )
    return problems


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles, state = [], dict.fromkeys(graph, 0)  # 0 new, 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif state.get(nxt) == 0:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if state[node] == 0:
            visit(node, [node])
    return cycles


def version_publish(*, version: WorkflowVersion, by: Any = None) -> WorkflowVersion:
    """Make a draft the version new orders start on; the previous one is retired (its orders keep it)."""
    with transaction.atomic():
        template = WorkflowTemplate.objects.select_for_update().get(pk=version.template_id)
        version = WorkflowVersion.objects.select_for_update().get(pk=version.pk)
        if version.status != VersionStatus.DRAFT:
            raise WorkflowError(f"Version {version.number} is {version.get_status_display().lower()}, not a draft.")
        problems = version_problems(version)
        if problems:
            raise WorkflowError(" ".join(problems))
        if template.current_version_id:
            WorkflowVersion.objects.filter(pk=template.current_version_id).update(status=VersionStatus.RETIRED)
        version.status, version.published_at = VersionStatus.PUBLISHED, timezone.now()
        version.save(update_fields=["status", "published_at"])
        template.current_version = version
        template.save(update_fields=["current_version", "updated_at"])
    return version


@dataclass(frozen=True)
class MigrationResult:
    orders: int
    tasks_moved: int
    tasks_cancelled: int
    tasks_created: int


def _last_entry(order: Order) -> int | None:
    return (
        OrderTransition.objects.filter(order=order, target=order.status)
        .exclude(name="release")
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )


def _current_state_tasks(order: Order, run: OrderRun, *, joined: str) -> list[Task]:
    """The tasks of the state the order is in, for an order joining its workflow part-way (`joined`: how, as its
    history says it: "joined this workflow", "moved onto …").

    The tasks of the states it has passed are not made: nobody was asked for them then. Except one that a task of
    the version depends on: that one is made skipped (cancelled, no assignee, its history saying why), so its
    dependents do not wait for a task that would never exist. task_complete refuses a task that waits, even an
    admin's, and one blocking a step would hold the order there for good. Made, not dropped from the dependents'
    waiting lists: the tasks of the states still ahead depend on it too and are made later, by the transitions'
    handling, which finds it closed, as it finds a task closed by transition_handling._tasks_left_behind. Not done:
    nobody did it. A held order has passed the state it was held in as well: its release makes none of that state's
    tasks.
    A dependency on a task that a milestone, a document or a date makes still waits: that task can still come."""
    occurrence = order.status
    if order.status == OrderStatus.ON_HOLD:
        occurrence = f"{order.status}#{_last_entry(order)}"
    definitions = run.definitions()
    drafts = [
        draft_from_definition(d, run, occurrence=occurrence, start=run.now)
        for d in definitions
        if d.trigger_kind == TriggerKind.STATE and d.trigger_state == order.status
    ]
    depended_on = {key for d in definitions for key in d.depends_on}
    have = {task.key for task in run.existing_tasks().values()}
    why = f"Not needed: the order was already {OrderStatus(order.status).label.lower()} when it {joined}."
    for definition in definitions:
        if (
            definition.trigger_kind == TriggerKind.STATE and definition.key in depended_on
            and definition.key not in have and definition.trigger_state != order.status
            and status_reached(order, definition.trigger_state)
        ):  # fmt: skip
            draft = draft_from_definition(definition, run, occurrence=definition.trigger_state, start=run.now)
            draft_close(draft, state=TaskState.CANCELLED, verb="skipped", detail=why, now=run.now)
            drafts.append(draft)
    return create_tasks(run, drafts)


def _follow_definitions(
    moved: list[Task], new_by_key: dict[str, TaskDefinition], *, order: Order, now: datetime.datetime
) -> None:
    """Make the moved tasks what the new version defines: texts, blocks, auto-completion, dependencies (what
    each waits on is recomputed: the new dependencies whose tasks are not done or cancelled yet) and, when the
    team function changed, the branch's team for it. An assignee keeps the task; their load moves teams."""
    satisfied = set(
        Task.objects.filter(order=order, state__in=[TaskState.DONE, TaskState.CANCELLED])
        .exclude(key="")
        .values_list("key", flat=True)
    )
    functions = {new_by_key[t.key].team_function for t in moved if t.team_function != new_by_key[t.key].team_function}
    teams: dict[str, int] = {}
    if functions:
        active = Team.objects.filter(branch_id=order.branch_id, function__in=functions, is_active=True)
        teams = dict(active.values_list("function", "pk"))
    load: list[LoadChange] = []
    for task in moved:
        definition = new_by_key[task.key]
        task.definition, task.name, task.instructions = definition, definition.name, definition.instructions
        task.blocks, task.auto_complete_on = list(definition.blocks), definition.auto_complete_on
        task.depends_on = list(definition.depends_on)
        task.waiting_on = [key for key in task.depends_on if key not in satisfied]
        if task.team_function != definition.team_function:
            team_id = teams.get(definition.team_function)
            if task.state == TaskState.OPEN and task.assignee_id:
                load += [(task.team_id, task.assignee_id, -1), (team_id, task.assignee_id, 1)]
            task.team_function, task.team_id = definition.team_function, team_id
    Task.objects.bulk_update(
        moved,
        ["definition", "name", "instructions", "blocks", "auto_complete_on", "depends_on", "waiting_on",
         "team_function", "team"],
    )  # fmt: skip
    loads_adjust(load, now=now)


def order_workflow_migrate(*, workflow: OrderWorkflow, version: WorkflowVersion) -> MigrationResult:
    """Move one in-flight order onto `version` (see the module docstring)."""
    with transaction.atomic():
        workflow = (
            OrderWorkflow.objects.select_for_update()
            .select_related("order__customer", "order__branch")
            .get(pk=workflow.pk)
        )
        if workflow.version_id == version.pk or workflow.order.status in _FINISHED:
            return MigrationResult(0, 0, 0, 0)
        now = timezone.now()
        workflow.template_id, workflow.version, workflow.migrated_at = version.template_id, version, now
        workflow.save(update_fields=["template", "version", "migrated_at"])
        new_by_key = {d.key: d for d in version.definitions.all()}
        live = list(
            Task.objects.select_for_update().filter(
                order=workflow.order, state__in=[TaskState.OPEN, TaskState.SCHEDULED], definition__isnull=False
            )
        )
        moved = [t for t in live if t.key in new_by_key]
        _follow_definitions(moved, new_by_key, order=workflow.order, now=now)
        gone = [t for t in live if t.key not in new_by_key]
        close_tasks(gone, state=TaskState.CANCELLED, by=None, now=now, verb="cancelled",
                    detail=f"Not in {version} any more")  # fmt: skip
        run = order_run(order=workflow.order, now=now)
        created = _current_state_tasks(workflow.order, run, joined=f"moved onto version {version.number}")
        created += create_tasks(run, date_drafts(run))
    return MigrationResult(1, len(moved), len(gone), len(created))


def version_migrate_orders(*, version: WorkflowVersion) -> MigrationResult:
    """Move every in-flight order on an older version of the template onto this published version."""
    version = WorkflowVersion.objects.get(pk=version.pk)
    if version.status != VersionStatus.PUBLISHED:
        raise WorkflowError("Only a published version can take over orders; publish it first.")
    workflows = OrderWorkflow.objects.filter(version__template_id=version.template_id).exclude(version=version)
    workflows = workflows.exclude(order__status__in=_FINISHED)
    totals = [0, 0, 0, 0]
    for workflow in workflows.iterator():
        result = order_workflow_migrate(workflow=workflow, version=version)
        totals = [a + b for a, b in zip(totals, (result.orders, result.tasks_moved, result.tasks_cancelled,
                                                   result.tasks_created), strict=True)]  # fmt: skip
    return MigrationResult(*totals)


def orders_attach_workflows(*, order_ids: list[int] | None = None, limit: int = 5000) -> int:
    """Give in-flight orders that run on no template (none matched when they started) the template that
    matches them now, with the tasks of their current state. Returns how many orders got a workflow."""
    unbound = Order.objects.exclude(status__in=[*_FINISHED, OrderStatus.DRAFT]).exclude(workflow__version__isnull=False)
    if order_ids is not None:
        unbound = unbound.filter(pk__in=order_ids)
    unbound = unbound.select_related("customer", "branch").order_by("pk")[:limit]
    attached = 0
    for order in unbound:
        with transaction.atomic():
            run = order_run_attached(order=order, now=timezone.now())
            if run is None:
                continue
            _current_state_tasks(order, run, joined="joined this workflow")
            attached += 1
    return attached
