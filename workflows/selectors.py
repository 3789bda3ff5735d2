"""Reads the task screens, the order page partial and the API share: already scoped and prefetched.

Tasks are the company's own work, so they are visible to staff only; customers and partners see none.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, F, Func, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from oms.compiled import CompiledQuery, compile_once
from orders.models import Order, QueuedTransition
from partners.models import INTERNAL_KINDS, STAFF_ROLES, User
from partners.scoping import Scope
from tracking.models import ExceptionStatus, ShipmentException
from workflows.models import Notification, Task, TaskState, Team, TeamFunction, TeamMember
from workflows.services.task_changes import actor_name
from workflows.services.tasks import may_work, worked_team_ids

_TASK_RELATED = ("order", "order__customer", "order__branch", "team", "assignee")


@dataclass(frozen=True)
class TaskFilters:
    due: str = ""  # "", "overdue", "today", "week", "upcoming" (scheduled: not open yet), "done"
    order: str = ""  # order reference (or part of it)
    customer: str = ""  # customer code
    assignee: str = ""  # user id, or "none" for the team queue
    team: str = ""  # team id, or "none" for the tasks of no team (their branch has no team for their function)

    @classmethod
    def from_query(cls, query: Any) -> TaskFilters:
        """The filters from a query string; NUL bytes are dropped (PostgreSQL text cannot hold them: a 500)."""
        return cls(**{name: (query.get(name) or "").replace("\x00", "").strip() for name in cls.__dataclass_fields__})


def _visible(scope: Scope) -> QuerySet[Task]:
    if not scope.is_staff:
        return Task.objects.none()
    return Task.objects.select_related(*_TASK_RELATED)


def _apply(tasks: QuerySet[Task], filters: TaskFilters, *, now: datetime.datetime) -> QuerySet[Task]:
    if filters.due == "done":  # rows say who did them
        tasks = tasks.filter(state=TaskState.DONE).select_related("completed_by", "completed_by_key")
        tasks = tasks.order_by("-completed_at", "-id")
    elif filters.due == "upcoming":  # what comes to the person: soonest opening first (see _upcoming)
        tasks = _upcoming(tasks)
    else:
        tasks = tasks.filter(state=TaskState.OPEN)
    if filters.due == "overdue":
        tasks = tasks.filter(due_at__lt=now)
    elif filters.due in ("today", "week"):
        horizon = now + datetime.timedelta(days=1 if filters.due == "today" else 7)
        tasks = tasks.filter(due_at__lt=horizon)
    if filters.order:
        tasks = tasks.filter(order__reference__icontains=filters.order)
    if filters.customer:
        tasks = tasks.filter(order__customer__code__iexact=filters.customer)
    if filters.assignee == "none":
        tasks = tasks.filter(assignee__isnull=True)
    elif (assignee_id := _id(filters.assignee)) is not None:
        tasks = tasks.filter(assignee_id=assignee_id)
    if filters.team == "none":
        tasks = tasks.filter(team__isnull=True)
    elif (team_id := _id(filters.team)) is not None:
        tasks = tasks.filter(team_id=team_id)
    return tasks


def _upcoming(tasks: QuerySet[Task]) -> QuerySet[Task]:
    """The scheduled tasks (timed from a date, or done early and scheduled again: services.task_changes.reopen_task),
    soonest opening first. The open lists leave them out, so before this they were found only from their order and
    nobody could see what was coming to them (decision 0004, "Upcoming"). Each list keeps its own scope: Upcoming in
    My tasks is the person's, in My teams their teams' and the no-team tasks of their branches."""
    return tasks.filter(state=TaskState.SCHEDULED).order_by("available_at", "id")


def _id(text: str) -> int | None:
    """A row id written in ASCII digits, else None (the filter is ignored): str.isdigit also accepts "²", which
    int() refuses, and an id never has more than 18 digits (bigint)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def teams_of(*, user: Any) -> QuerySet[Team]:
    """The teams the person works in or leads."""
    return (
        Team.objects.filter(Q(members__user=user, members__is_active=True) | Q(lead=user), is_active=True)
        .select_related("branch")
        .distinct()
        .order_by("branch__code", "function")
    )


def led_teams(*, user: Any, scope: Scope) -> QuerySet[Team]:
    """The teams whose overdue work this person watches: the ones they lead (admins: all)."""
    teams = Team.objects.filter(is_active=True).select_related("branch").order_by("branch__code", "function")
    return teams if "admin" in scope.roles else teams.filter(lead=user)


def my_tasks(*, user: Any, scope: Scope, filters: TaskFilters) -> QuerySet[Task]:
    """Tasks assigned to the person."""
    return _apply(_visible(scope).filter(assignee=user), filters, now=timezone.now())


def _unowned(branch_ids: Any) -> Q:
    """Tasks of no team (their order's branch has no team for their function) at these branches."""
    return Q(team__isnull=True, order__branch_id__in=branch_ids)


def team_tasks(*, user: Any, scope: Scope, filters: TaskFilters) -> QuerySet[Task]:
    """Tasks of the teams the person works in or leads, including the unassigned queue, and the tasks of no team
    at the branches they work at (their staff memberships' and their teams'): the branch has no team for that
    work (no customs team in HAM), so its staff are the ones to pick it up (may_work lets any staff member)."""
    teams = list(teams_of(user=user).values_list("pk", "branch_id"))
    branch_ids = set(scope.organisation_ids) | {branch_id for _, branch_id in teams}  # staff memberships: branches
    tasks = _visible(scope).filter(Q(team_id__in=[pk for pk, _ in teams]) | _unowned(sorted(branch_ids)))
    return _apply(tasks, filters, now=timezone.now())


def overdue_tasks(*, user: Any, scope: Scope, filters: TaskFilters) -> QuerySet[Task]:
    """Overdue tasks of the teams the person leads (every team for admins), most overdue first, and the tasks of no
    team at the branches whose operations team they lead (every branch for admins): the people their escalation
    tells (services.clock)."""
    teams = led_teams(user=user, scope=scope)
    if "admin" in scope.roles:
        owned = Q(team_id__in=list(teams.values_list("pk", flat=True))) | Q(team__isnull=True)
    else:
        branch_ids = list(teams.filter(function=TeamFunction.OPERATIONS).values_list("branch_id", flat=True))
        owned = Q(team_id__in=list(teams.values_list("pk", flat=True))) | _unowned(branch_ids)
    tasks = _visible(scope).filter(owned)
    return _apply(tasks, TaskFilters(**{**filters.__dict__, "due": "overdue"}), now=timezone.now()).order_by(
        "due_at", "id"
    )


def task_get_for(*, scope: Scope, pk: int) -> Task:
    """One task with what its page shows; 404 for what this scope may not see."""
    task = (
        _visible(scope)
        .select_related("order__branch", "definition", "completed_by", "completed_by_key")
        .filter(pk=pk)
        .first()
    )
    if task is None:
        raise Http404("No such task.")
    return task


def tasks_get_for(*, scope: Scope, ids: list[int]) -> list[Task]:
    return list(_visible(scope).filter(pk__in=ids))


def tasks_for_order(*, order: Order, scope: Scope, user: Any) -> list[Task]:
    """The order's tasks for its page: open ones first (by due time), then scheduled, then closed; each says
    whether the person may work on it (`may_work`: the panel offers its actions only then), read in one query."""
    rank = {TaskState.OPEN: 0, TaskState.SCHEDULED: 1, TaskState.DONE: 2, TaskState.CANCELLED: 3}
    tasks = list(_visible(scope).filter(order=order).select_related("completed_by", "completed_by_key"))
    far = timezone.now() + datetime.timedelta(days=3650)
    names = {task.key: task.name for task in tasks if task.key}
    team_ids = worked_team_ids(user=user) if tasks and getattr(user, "pk", None) else set()
    for task in tasks:
        task.waiting_names = [names.get(key, key) for key in task.waiting_on]  # type: ignore[attr-defined]
        task.may_work = may_work(scope=scope, user=user, task=task, team_ids=team_ids)  # type: ignore[attr-defined]
    return sorted(tasks, key=lambda t: (rank[TaskState(t.state)], t.due_at or t.available_at or far, t.pk))


def order_changes_waiting(*, order: Order) -> int:
    """How many of the order's transitions still wait for the workflow worker (orders.QueuedTransition):
    their tasks are about to appear."""
    return QueuedTransition.objects.filter(transition__order=order).count()


def order_get_for(*, scope: Scope, reference: str) -> Order:
    """The order a task screen talks about; staff only. References read case-blind (stored upper case)."""
    order = Order.objects.select_related("customer", "branch").filter(reference=reference.strip().upper()).first()
    if order is None or not scope.is_staff:
        raise Http404("No such order.")
    return order


def assignable_people(*, team: Team | None = None) -> QuerySet[User]:
    """Who a task can be given to: the team's active members first when there is a team, else all staff."""
    staff = User.objects.filter(
        is_active=True,
        memberships__is_active=True,
        memberships__role__in=STAFF_ROLES,
        memberships__organisation__kinds__overlap=sorted(INTERNAL_KINDS),
    ).distinct()
    if team is not None:
        in_team = TeamMember.objects.filter(team=team, user=OuterRef("pk"), is_active=True)
        staff = staff.annotate(in_team=Exists(in_team)).order_by(F("in_team").desc(), "full_name", "email")
    return staff.order_by("full_name", "email") if team is None else staff


def _nav_counts_query(user_id: Any) -> QuerySet[Any, Any]:
    open_tasks = (
        Task.objects.filter(assignee=OuterRef("pk"), state=TaskState.OPEN)
        .order_by()
        .values("assignee")
        .annotate(n=Count("pk"))
        .values("n")
    )
    unread = (
        Notification.objects.filter(recipient=OuterRef("pk"), read_at__isnull=True)
        .order_by()
        .values("recipient")
        .annotate(n=Count("pk"))
        .values("n")
    )
    # tracking's exceptions not yet acknowledged that are the person's or nobody's (the inbox's "act on these")
    exceptions = (
        ShipmentException.objects.filter(Q(owner=OuterRef("pk")) | Q(owner__isnull=True), status=ExceptionStatus.OPEN)
        .order_by()
        .values(n=Func(F("pk"), function="COUNT"))
    )
    return User.objects.filter(pk=user_id).values(
        open_n=Coalesce(Subquery(open_tasks), 0),
        unread_n=Coalesce(Subquery(unread), 0),
        exceptions_n=Coalesce(Subquery(exceptions), 0),
    )


@functools.cache
def _nav_counts_compiled() -> CompiledQuery:
    return compile_once(_nav_counts_query)


def nav_counts(*, user: Any) -> dict[str, int]:
    """The person's open tasks, unread notifications and open exceptions, in one query (navigation badges),
    compiled once per process (oms.compiled: it runs on every staff page)."""
    row = _nav_counts_compiled().first_dict(user.pk)
    if not row:
        return {"tasks": 0, "notifications": 0, "exceptions": 0}
    return {"tasks": row["open_n"], "notifications": row["unread_n"], "exceptions": row["exceptions_n"]}


def notifications_for(*, user: Any, unread_only: bool = False) -> QuerySet[Notification]:
    notifications = Notification.objects.filter(recipient=user).select_related("task__order")
    return notifications.filter(read_at__isnull=True) if unread_only else notifications


def task_history(*, task: Task) -> list[dict[str, Any]]:
    """The task's events and comments, oldest first, for its page; `who` is a person, else an API key's name, else
    automation (services.task_changes.actor_name)."""
    items = [{"at": e.at, "who": actor_name(e.by, e.api_key), "verb": e.verb, "text": e.detail, "is_comment": False}
             for e in task.events.select_related("by", "api_key")]  # fmt: skip
    items += [{"at": c.created_at, "who": c.author, "verb": "commented", "text": c.body, "is_comment": True}
              for c in task.comments.select_related("author")]  # fmt: skip
    return sorted(items, key=lambda item: item["at"])
