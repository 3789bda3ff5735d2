"""What people do with tasks: claim, complete, reopen, reassign, comment (with @mentions), in bulk too.

Each service locks the task row, re-checks its state and the person's right to act, and writes the task's
history (TaskEvent). Notifications are written in the same transaction; their emails go after commit.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from partners.models import INTERNAL_KINDS, STAFF_ROLES, Role, User
from partners.scoping import Scope
from workflows.errors import TaskAssigneeNotStaff, TaskChangedMeanwhile, TaskNotAllowed, TaskPermissionDenied
from workflows.models import NotificationKind, Task, TaskComment, TaskState, Team, active_staff
from workflows.services.notify import Notice, notify
from workflows.services.task_changes import close_tasks, reopen_task, set_assignee, task_time_text

_MENTION = re.compile(r"(?<![\w.])@([A-Za-z0-9._+-]+(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?)")


def _lock(task: Task) -> Task:
    return Task.objects.select_for_update(of=("self",)).select_related("order__branch", "team").get(pk=task.pk)


def worked_team_ids(*, user: Any) -> set[int]:
    """The teams whose tasks this person may work on (may_work): those they lead or are an active member of."""
    teams = Team.objects.filter(Q(lead=user) | Q(members__user=user, members__is_active=True))
    return set(teams.values_list("pk", flat=True))


def may_work(*, scope: Scope, user: Any, task: Task, team_ids: Collection[int] | None = None) -> bool:
    """Whether this person (or staff API key) may act on the task: admins, its assignee, and members or the
    lead of its team. Tasks without a team are open to all staff. `team_ids`: the person's worked_team_ids,
    when the caller asks for many tasks (no query then)."""
    if not scope.is_staff:
        return False
    if Role.ADMIN in scope.roles or not getattr(user, "pk", None):
        return True  # admins; staff API keys act for the whole company
    if task.assignee_id == user.pk or task.team_id is None:
        return True
    if team_ids is not None:
        return task.team_id in team_ids
    return Team.objects.filter(Q(lead=user) | Q(members__user=user, members__is_active=True), pk=task.team_id).exists()


def _check(scope: Scope, user: Any, task: Task, *, seen_state: str | None, allowed: tuple[str, ...]) -> None:
    if seen_state is not None and task.state != seen_state:
        raise TaskChangedMeanwhile(f"The task changed meanwhile: it is now {task.get_state_display().lower()}.")
    if task.state not in allowed:
        raise TaskNotAllowed(f"This task is {task.get_state_display().lower()}.")
    if not may_work(scope=scope, user=user, task=task):
        raise TaskPermissionDenied("Only the assignee, the team and its lead can work on this task.")


def task_claim(*, task: Task, scope: Scope, by: Any) -> Task:
    """Take an unassigned open task from the team queue."""
    with transaction.atomic():
        locked = _lock(task)
        _check(scope, by, locked, seen_state=task.state, allowed=(TaskState.OPEN,))
        if locked.assignee_id and locked.assignee_id != by.pk:
            raise TaskChangedMeanwhile(f"{locked.assignee} already has this task.")
        set_assignee(locked, user_id=by.pk, by=by, now=timezone.now(), verb="claimed")
    return locked


def _names_of(task: Task, keys: list[str]) -> str:
    """The names of the order's tasks with these keys, in that order (a key no task has: the key)."""
    names = dict(Task.objects.filter(order_id=task.order_id, key__in=keys).values_list("key", "name"))
    return ", ".join(names.get(key, key) for key in keys)


def task_complete(*, task: Task, scope: Scope, by: Any = None, note: str = "", api_key: Any = None) -> Task:
    """Mark an open task done (by a person, else by `api_key`); the tasks that waited on it may start. A scheduled
    task can be done early, before it opens (the shipping instructions sent before the date they were timed from):
    it blocks its steps until then, so those who may work it must be able to finish it; its history says "Done
    before opening" (and, without a note, when it was to open). After commit: nothing else."""
    with transaction.atomic():
        locked = _lock(task)
        _check(scope, by, locked, seen_state=task.state, allowed=(TaskState.OPEN, TaskState.SCHEDULED))
        if locked.waiting_on:
            raise TaskNotAllowed(f"This task waits for {_names_of(locked, locked.waiting_on)} to be done first.")
        verb, detail = "completed", note
        if locked.state == TaskState.SCHEDULED:
            verb, detail = EARLY, note or _opens_text(locked)
        close_tasks(
            [locked], state=TaskState.DONE, by=by, now=timezone.now(), verb=verb, detail=detail, api_key=api_key
        )
    return locked


# The history verb of a task done while it was scheduled (it had not opened yet).
EARLY = "done before opening"


def task_opening_text(task: Task) -> str:
    """ "Fri 18 Dec 2026, 09:00 Europe/Berlin": when the task opens (opened, was to open), on the order branch's
    clock, as its page says it; "" for a task that was never scheduled."""
    return task_time_text(task, task.available_at) if task.available_at is not None else ""


def _opens_text(task: Task) -> str:
    """ "It was to open Fri 18 Dec 2026, 09:00 Europe/Berlin." """
    return f"It was to open {task_opening_text(task)}." if task.available_at is not None else ""


def task_reopen(*, task: Task, scope: Scope, by: Any = None, reason: str = "") -> Task:
    """Put a done task back (it was not really done): open, or scheduled when the time it was to open is still
    ahead (it was done early), to be opened by the clock then (task_changes.reopen_task)."""
    with transaction.atomic():
        locked = _lock(task)
        _check(scope, by, locked, seen_state=task.state, allowed=(TaskState.DONE,))
        # final states (transition_handling._FINAL): nothing reacts any more
        if locked.order.status in ("cancelled", "closed"):
            raise TaskNotAllowed(f"The order is {locked.order.status}; its tasks stay closed.")
        reopen_task(locked, by=by, now=timezone.now(), detail=reason)
    return locked


def _staff_user(user_id: int) -> User:
    user = User.objects.filter(active_staff(), pk=user_id).first()
    if user is None:
        raise TaskAssigneeNotStaff("Tasks can only go to active OMS staff.")
    return user


def task_reassign(
    *, task: Task, scope: Scope, assignee_id: int | None, by: Any = None, note: str = "", api_key: Any = None
) -> Task:
    """Give the task to another staff member (None: back to the team queue); they are notified of who gave it
    (a person, else `api_key`)."""
    with transaction.atomic():
        locked = _lock(task)
        _check(scope, by, locked, seen_state=None, allowed=(TaskState.OPEN, TaskState.SCHEDULED))
        if assignee_id is not None:
            _staff_user(assignee_id)
        verb = "reassigned" if assignee_id else "unassigned"
        changed = set_assignee(locked, user_id=assignee_id, by=by, now=timezone.now(), verb=verb, api_key=api_key)
        if changed and note:
            TaskComment.objects.create(task=locked, author=by if getattr(by, "pk", None) else None, body=note)
    return locked


def mentioned_users(body: str, *, exclude_id: int | None = None) -> list[User]:
    """Staff named in the text as @local-part (unique among staff) or @full@address."""
    tokens = {token.lower().rstrip(".") for token in _MENTION.findall(body)}
    if not tokens:
        return []
    query = Q()
    for token in tokens:
        query |= Q(email__iexact=token) if "@" in token else Q(email__istartswith=f"{token}@")
    candidates = User.objects.filter(
        query,
        is_active=True,
        memberships__is_active=True,
        memberships__role__in=STAFF_ROLES,
        memberships__organisation__kinds__overlap=sorted(INTERNAL_KINDS),
    ).distinct()
    by_local: dict[str, list[User]] = {}
    found: dict[int, User] = {}
    for user in candidates:
        email = user.email.lower()
        if email in tokens:
            found[user.pk] = user
        by_local.setdefault(email.split("@")[0], []).append(user)
    for token in tokens:
        matches = by_local.get(token, [])
        if "@" not in token and len(matches) == 1:  # an ambiguous @name names nobody rather than the wrong person
            found[matches[0].pk] = matches[0]
    return [user for pk, user in found.items() if pk != exclude_id]


def task_comment(*, task: Task, scope: Scope, by: Any, body: str) -> TaskComment:
    """Add a comment; everyone @mentioned in it is notified."""
    body = body.strip()
    if not body:
        raise TaskNotAllowed("Write something first.")
    if not scope.is_staff:
        raise TaskNotAllowed("Only OMS staff comment on tasks.")
    with transaction.atomic():
        locked = _lock(task)
        comment = TaskComment.objects.create(task=locked, author=by, body=body[:5000])
        title = f"{by} mentioned you on {locked.name} · {locked.order.reference}"
        notify(
            Notice(
                user.pk, NotificationKind.MENTIONED, title, body=body[:500], url=locked.get_absolute_url(), task=locked
            )
            for user in mentioned_users(body, exclude_id=by.pk)
        )
    return comment


@dataclass
class BulkResult:
    done: list[Task] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def tasks_bulk_complete(*, tasks: list[Task], scope: Scope, by: Any) -> BulkResult:
    """Complete each task that can be; say why for each that cannot."""
    result = BulkResult()
    for task in tasks:
        try:
            result.done.append(task_complete(task=task, scope=scope, by=by))
        except TaskNotAllowed as exc:
            result.problems.append(f"{task.name} ({task.order.reference}): {exc}")
    return result


def tasks_bulk_reassign(*, tasks: list[Task], scope: Scope, by: Any, assignee_id: int | None) -> BulkResult:
    """Reassign each task that can be; say why for each that cannot."""
    result = BulkResult()
    for task in tasks:
        try:
            result.done.append(task_reassign(task=task, scope=scope, by=by, assignee_id=assignee_id))
        except TaskNotAllowed as exc:
            result.problems.append(f"{task.name} ({task.order.reference}): {exc}")
    return result
