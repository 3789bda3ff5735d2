"""What the clock sets in motion: scheduled tasks open when their time comes, and overdue tasks are escalated
to their team's lead (a task of no team: the branch's operations lead, else the admins) and the "task overdue"
rules run, once per overdue episode. One transaction per task; opening a scheduled task and escalating an
overdue one are conditional, so a rerun or a second worker finds nothing left to do.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from oms.templatetags.oms_dates import datetime_text
from partners.models import Role, User
from partners.time_zones import branch_zone, zone_label
from workflows.models import NotificationKind, Rule, RuleEvent, Task, TaskEvent, TaskState, Team, TeamFunction
from workflows.models.teams import active_staff, is_active_staff
from workflows.services.assignment import Draft, assign_drafts, loads_adjust
from workflows.services.binding import order_run
from workflows.services.notify import Notice, notify
from workflows.services.rules import RuleTrigger, rules_fire
from workflows.services.task_creation import create_tasks


def scheduled_tasks_open(*, now: datetime.datetime | None = None, limit: int = 500) -> int:
    """Open the scheduled tasks whose time has come, assign and announce them; one transaction each, so a
    crash keeps what is done and the next run does the rest. Returns how many opened."""
    now = now or timezone.now()
    due = list(
        Task.objects.filter(state=TaskState.SCHEDULED, available_at__lte=now)
        .order_by("available_at")
        .values_list("pk", flat=True)[:limit]
    )
    opened = 0
    for pk in due:
        with transaction.atomic():
            task = (
                Task.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("order", "definition")
                .filter(pk=pk, state=TaskState.SCHEDULED)
                .first()
            )
            if task is None:
                continue
            task.state = TaskState.OPEN
            draft = Draft(task, task.definition.assign_rule if task.definition else "least_loaded",
                          task.definition.assignee_id if task.definition else None)  # fmt: skip
            preassigned = task.assignee_id  # given to someone while scheduled: assign_drafts keeps them
            assign_drafts([draft], order=task.order, now=now)
            if preassigned:  # load counts open tasks only, so theirs grows now (assign_drafts counts only its own)
                loads_adjust([(task.team_id, preassigned, 1)], now=now)
            task.save(update_fields=["state", "team", "assignee", "assigned_at"])
            TaskEvent.objects.create(task=task, verb="opened", at=now)
            if task.assignee_id:
                notify([Notice(task.assignee_id, NotificationKind.ASSIGNED, f"{task.name} · {task.order.reference}",
                               url=task.get_absolute_url(), task=task)])  # fmt: skip
            opened += 1
    return opened


def overdue_tasks_escalate(*, now: datetime.datetime | None = None, limit: int = 500) -> int:
    """Tell each overdue task's team lead, once per overdue episode: `escalated_at` is set by a conditional
    UPDATE in the same transaction as the notification, so a rerun or a second worker finds nothing left to do.
    Reopening a task, or moving its due time later, clears `escalated_at`: going overdue again escalates again."""
    now = now or timezone.now()
    overdue = list(
        Task.objects.filter(state=TaskState.OPEN, escalated_at__isnull=True, due_at__lt=now)
        .order_by("due_at")
        .values_list("pk", flat=True)[:limit]
    )
    with_rules = Rule.objects.filter(event=RuleEvent.TASK_OVERDUE, is_active=True).exists()
    escalated = 0
    for pk in overdue:
        with transaction.atomic():
            claimed = Task.objects.filter(pk=pk, state=TaskState.OPEN, escalated_at__isnull=True).update(
                escalated_at=now
            )
            if not claimed:
                continue
            task = Task.objects.select_related("order__customer", "order__branch", "team__lead", "assignee").get(pk=pk)
            _escalate(task, now=now, with_rules=with_rules)
            escalated += 1
    return escalated


def _told_of(task: Task) -> list[int]:
    """Who hears of the task's escalation: its team's lead. A task of no team (its branch has none for that work)
    goes to the lead of the branch's operations team, else to the admins, who see it in their Overdue list
    (selectors.overdue_tasks); nobody else would. A lead who left (deactivated, or no longer staff: a customer's
    person never reads our orders) is told nothing."""
    if task.team is not None:
        lead_id = task.team.lead_id
        return [lead_id] if lead_id is not None and is_active_staff(lead_id) else []
    operations_lead = (
        Team.objects.filter(branch_id=task.order.branch_id, function=TeamFunction.OPERATIONS, is_active=True)
        .filter(lead__in=User.objects.filter(active_staff()))
        .order_by("pk")
        .values_list("lead_id", flat=True)
        .first()
    )
    if operations_lead is not None:
        return [operations_lead]
    admins = User.objects.filter(
        active_staff(),
        memberships__role=Role.ADMIN,
        memberships__is_active=True,
        memberships__organisation__is_active=True,
    )
    return sorted(set(admins.values_list("pk", flat=True)))


def _escalate(task: Task, *, now: datetime.datetime, with_rules: bool) -> None:
    TaskEvent.objects.create(task=task, verb="escalated", at=now)
    told = _told_of(task)
    if told:
        who = task.assignee or "nobody"
        zone = branch_zone(task.order.branch)  # as the assignment notice gives the due time
        due = (
            f"{datetime_text(timezone.localtime(task.due_at, zone), 'weekday')} ({zone_label(zone)})"
            if task.due_at
            else "—"
        )
        unowned = "" if task.team else f" No team in {task.order.branch.code} does {task.get_team_function_display()}."
        notify(
            Notice(person, NotificationKind.ESCALATED, f"Overdue: {task.name} · {task.order.reference}",
                   body=f"Assigned to {who}; it was due {due}.{unowned}", url=task.get_absolute_url(), task=task)
            for person in told
        )  # fmt: skip
    if with_rules:  # the order's workflow context costs queries; only rules need it
        run = order_run(order=task.order, now=now)
        # once per overdue episode, like the escalation: the escalated_at just claimed names the episode
        episode = f"task_overdue:{task.pk}:{task.escalated_at:%Y%m%dT%H%M%S.%f}"
        rules_fire(run=run, triggers=[RuleTrigger(RuleEvent.TASK_OVERDUE, episode, task.team_function)])
        create_tasks(run, [])
