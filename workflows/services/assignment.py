"""Who gets a new task: a named person, the customer's account owner for the team, or the least-loaded
member of the team in the order's branch (on a tie, whoever was given a task longest ago: round-robin).

Load is TeamMember.open_tasks, adjusted here whenever an open task gains, loses or changes its assignee,
so choosing is one read of the team's members instead of a count over every task.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Case, Count, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, Greatest

from orders.models import Order
from workflows.models import AccountOwner, AssignRule, Task, Team, TeamMember

_NEVER = datetime.datetime.min.replace(tzinfo=datetime.UTC)


@dataclass
class Draft:
    """A task about to be created, with how its assignee is to be chosen."""

    task: Task
    assign_rule: str = AssignRule.LEAST_LOADED
    user_id: int | None = None  # for a named person


def _pick_least_loaded(members: list[TeamMember], now: datetime.datetime) -> TeamMember | None:
    if not members:
        return None
    chosen = min(members, key=lambda m: (m.open_tasks, m.last_assigned_at or _NEVER, m.pk))
    chosen.open_tasks += 1
    # Later picks in the same batch must see this one as the most recently assigned.
    chosen.last_assigned_at = max(now, (chosen.last_assigned_at or now)) + datetime.timedelta(microseconds=1)
    return chosen


def _teams_and_members(*, branch_id: int, functions: set[str]) -> tuple[dict[str, Team], dict[int, list[TeamMember]]]:
    """The branch's teams for these functions and their active members: one query, two when a team has
    nobody active (its tasks still belong to it)."""
    members: dict[int, list[TeamMember]] = defaultdict(list)
    teams: dict[str, Team] = {}
    rows = TeamMember.objects.filter(
        team__branch_id=branch_id, team__function__in=functions, team__is_active=True, is_active=True,
        user__is_active=True,
    ).select_related("team")  # fmt: skip
    for member in rows:
        teams[member.team.function] = member.team
        members[member.team_id].append(member)
    missing = functions - set(teams)
    if missing:
        teams.update(
            {t.function: t for t in Team.objects.filter(branch_id=branch_id, function__in=missing, is_active=True)}
        )
    return teams, members


def assign_drafts(drafts: list[Draft], *, order: Order, now: datetime.datetime) -> None:
    """Set team and (for open tasks) assignee on unsaved tasks, and count the new load (two queries, three
    with account owners)."""
    if not drafts:
        return
    functions = {d.task.team_function for d in drafts}
    teams, members = _teams_and_members(branch_id=order.branch_id, functions=functions)
    for draft in drafts:
        draft.task.team = teams.get(draft.task.team_function)
    to_assign = [d for d in drafts if d.task.state == "open" and d.task.assignee_id is None]
    owners: dict[str, int] = {}
    if any(d.assign_rule == AssignRule.ACCOUNT_OWNER for d in to_assign):
        owners = dict(
            AccountOwner.objects.filter(
                customer_id=order.customer_id, function__in=functions, user__is_active=True
            ).values_list("function", "user_id")
        )
    for draft in to_assign:
        task = draft.task
        if draft.assign_rule == AssignRule.NAMED_USER:
            task.assignee_id = draft.user_id
        elif draft.assign_rule == AssignRule.ACCOUNT_OWNER and task.team_function in owners:
            task.assignee_id = owners[task.team_function]
        elif draft.assign_rule in (AssignRule.LEAST_LOADED, AssignRule.ACCOUNT_OWNER) and task.team is not None:
            # an account without an owner for this team falls back to the least-loaded member
            chosen = _pick_least_loaded(members[task.team.pk], now)
            task.assignee_id = chosen.user_id if chosen else None
        if task.assignee_id:
            task.assigned_at = now
    loads_adjust(((t.team_id, t.assignee_id, 1) for t in (d.task for d in to_assign)), now=now)


def loads_adjust(changes: Iterable[tuple[int | None, int | None, int]], *, now: datetime.datetime) -> None:
    """Add each (team, user, delta) to that member's open-task count, in one UPDATE. Pairs without a team,
    without a user, or where the user is not a member of the team change nothing."""
    deltas: dict[tuple[int, int], int] = defaultdict(int)
    for team_id, user_id, delta in changes:
        if team_id and user_id and delta:
            deltas[(team_id, user_id)] += delta
    deltas = {pair: delta for pair, delta in deltas.items() if delta}
    if not deltas:
        return
    match = {pair: Q(team_id=pair[0], user_id=pair[1]) for pair in deltas}
    any_pair = Q()
    for condition in match.values():
        any_pair |= condition
    TeamMember.objects.filter(any_pair).update(
        open_tasks=Greatest(
            F("open_tasks") + Case(*(When(match[p], then=Value(d)) for p, d in deltas.items()), default=Value(0)),
            Value(0),
        ),
        last_assigned_at=Case(
            *(When(match[p], then=Value(now)) for p, d in deltas.items() if d > 0), default=F("last_assigned_at")
        ),
    )


def team_loads_recount(*, team_ids: Iterable[int] | None = None) -> int:
    """Recompute open-task counts from the tasks themselves (a repair tool; services keep them right)."""
    open_count = (
        Task.objects.filter(team_id=OuterRef("team_id"), assignee_id=OuterRef("user_id"), state="open")
        .order_by()
        .values("team_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    members = TeamMember.objects.all()
    if team_ids is not None:
        members = members.filter(team_id__in=list(team_ids))
    return members.update(open_tasks=Coalesce(Subquery(open_count), Value(0)))
