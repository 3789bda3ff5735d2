"""Who gets a new task: a named person, the customer's account owner for the team, or the least-loaded
member of the team in the order's branch (on a tie, whoever was given a task longest ago: round-robin).

Load is TeamMember.open_tasks, adjusted here whenever an open task gains, loses or changes its assignee,
so choosing is one read of the team's members instead of a count over every task. That read also brings
the branch's teams and the customer's account owners (one UNION ALL query): who is active, in which team
and with what load is live data, never kept between events.

Every event's transaction changes the load of a handful of people, the same ones for every order of a
branch, and the UPDATE locks their rows until the transaction commits. An event's handler can therefore
collect its load changes (`pending`) and write them in one UPDATE just before its commit, so concurrent
events queue on those rows for the commit only, not for the whole handling.
"""

from __future__ import annotations

import datetime
import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from orders.models import Order
from partners.models import INTERNAL_KINDS, STAFF_ROLES, Membership, Organisation
from workflows.models import AccountOwner, AssignRule, Task, Team, TeamMember, active_staff

_NEVER = datetime.datetime.min.replace(tzinfo=datetime.UTC)


# A change to a member's load: (team id, user id, delta); pairs without a team or a user change nothing.
LoadChange = tuple[int | None, int | None, int]


@dataclass
class Draft:
    """A task about to be created, with how its assignee is to be chosen."""

    task: Task
    assign_rule: str = AssignRule.LEAST_LOADED
    user_id: int | None = None  # for a named person
    # A task made closed instead of open (task_creation.draft_close): the verb and detail its history starts with.
    closed_as: tuple[str, str] | None = None
    # Who the event would rather give it to (the owner of the shipment's other open exceptions), when they can
    # take the team's work: an active member of the task's team, or the customer's account owner for it.
    prefer_user_id: int | None = None


@dataclass
class Member:
    """An active member of a team, with the load least-loaded assignment compares."""

    pk: int
    user_id: int
    open_tasks: int
    last_assigned_at: datetime.datetime | None


def _pick_least_loaded(members: list[Member]) -> Member | None:
    if not members:
        return None
    return min(members, key=lambda m: (m.open_tasks, m.last_assigned_at or _NEVER, m.pk))


@dataclass
class People:
    """Who can take an order's new tasks: the branch's teams by function, their active members by team,
    and the customer's active account owners by function."""

    teams: dict[str, int]
    members: dict[int, list[Member]]
    owners: dict[str, int]

    def count(self, team_id: int | None, user_id: int | None, delta: int, now: datetime.datetime) -> None:
        """Count an assignment (+1) in the member's load as read, so the next pick compares it; a member
        given a task becomes the most recently assigned (round-robin on ties)."""
        for member in self.members.get(team_id, ()) if team_id else ():
            if member.user_id == user_id:
                member.open_tasks = max(member.open_tasks + delta, 0)
                if delta > 0:
                    later = max(now, member.last_assigned_at or now) + datetime.timedelta(microseconds=1)
                    member.last_assigned_at = later


class PeopleCache:
    """The people of every branch and customer of a batch of orders, read in one query on first use and
    shared by the batch: an assignment made for one order is counted in the load the next order's picks
    compare. Load released within the batch (a task auto-completed) counts from the next batch on: the
    members' rows are written once, at the batch's end (loads_adjust), and read afresh by the next."""

    def __init__(self, orders: Iterable[Order]) -> None:
        self._orders = list(orders)
        self._teams: dict[int, dict[str, int]] = {}  # branch -> function -> team
        self._members: dict[int, list[Member]] = defaultdict(list)  # team -> its members
        self._owners: dict[int, dict[str, int]] = {}  # customer -> function -> user

    def people(self, order: Order) -> People:
        if order.branch_id not in self._teams or order.customer_id not in self._owners:
            self._read([*self._orders, order])
        return People(self._teams[order.branch_id], self._members, self._owners[order.customer_id])

    def _read(self, orders: list[Order]) -> None:
        branches = sorted({o.branch_id for o in orders} - set(self._teams))
        customers = sorted({o.customer_id for o in orders} - set(self._owners))
        with connection.cursor() as cursor:
            cursor.execute(_people_of_many_sql(), {"branches": branches, "customers": customers, **_STAFF_PARAMS})
            rows = cursor.fetchall()
        self._teams.update({branch_id: {} for branch_id in branches})
        self._owners.update({customer_id: {} for customer_id in customers})
        for kind, owner_id, team_id, function, member_id, user_id, open_tasks, last_assigned_at in rows:
            if kind == "team":
                self._teams[owner_id][function] = team_id
            elif kind == "member":
                self._members[team_id].append(Member(member_id, user_id, open_tasks, last_assigned_at))
            else:
                self._owners[owner_id].setdefault(function, user_id)


# The parameters of _staff_sql, given with every query of people.
_STAFF_PARAMS: dict[str, list[str]] = {
    "staff_roles": sorted(str(role) for role in STAFF_ROLES),
    "internal_kinds": sorted(str(kind) for kind in INTERNAL_KINDS),
}


def _staff_sql(user: str) -> str:
    """True for the person of the users row `user` (an alias) who is active OMS staff: models.active_staff, the
    rule of the console's choices, reassignment and rules, written for the people queries. The console refuses
    anyone else as a member or account owner; this keeps out those who stopped being staff since (a membership
    ended, a branch closed) and any row written some other way, as no customer's person may get our work."""
    membership, organisation = Membership._meta.db_table, Organisation._meta.db_table
    return (
        f"{user}.is_active AND EXISTS (SELECT 1 FROM {membership} s JOIN {organisation} so ON so.id = "  # noqa: S608 - table names from the models
        f"s.organisation_id WHERE s.user_id = {user}.id AND s.is_active AND so.is_active "
        f"AND s.role = ANY(%(staff_roles)s) AND so.kinds && %(internal_kinds)s::varchar[])"
    )


def _people_sql(*, with_owners: bool) -> str:
    team, member = Team._meta.db_table, TeamMember._meta.db_table
    owner, user = AccountOwner._meta.db_table, get_user_model()._meta.db_table
    sql = (
        f"SELECT 'team', t.id, t.function, NULL::bigint, NULL::bigint, NULL::integer, NULL::timestamptz "  # noqa: S608 - table names from the models
        f"FROM {team} t WHERE t.branch_id = %(branch)s AND t.function = ANY(%(functions)s) AND t.is_active "
        f"UNION ALL SELECT 'member', t.id, t.function, m.id, m.user_id, m.open_tasks, m.last_assigned_at "
        f"FROM {member} m JOIN {team} t ON t.id = m.team_id JOIN {user} u ON u.id = m.user_id "
        f"WHERE t.branch_id = %(branch)s AND t.function = ANY(%(functions)s) AND t.is_active AND m.is_active "
        f"AND {_staff_sql('u')}"
    )
    if with_owners:
        sql += (
            f" UNION ALL SELECT 'owner', NULL, o.function, NULL, o.user_id, NULL, NULL "  # noqa: S608 - as above
            f"FROM {owner} o JOIN {user} u ON u.id = o.user_id "
            f"WHERE o.customer_id = %(customer)s AND o.function = ANY(%(functions)s) AND {_staff_sql('u')}"
        )
    return sql


@functools.cache
def _people_of_many_sql() -> str:
    team, member = Team._meta.db_table, TeamMember._meta.db_table
    owner, user = AccountOwner._meta.db_table, get_user_model()._meta.db_table
    return (
        f"SELECT 'team', t.branch_id, t.id, t.function, NULL::bigint, NULL::bigint, NULL::integer, "  # noqa: S608 - table names from the models
        f"NULL::timestamptz FROM {team} t WHERE t.branch_id = ANY(%(branches)s) AND t.is_active "
        f"UNION ALL SELECT 'member', t.branch_id, t.id, t.function, m.id, m.user_id, m.open_tasks, m.last_assigned_at "
        f"FROM {member} m JOIN {team} t ON t.id = m.team_id JOIN {user} u ON u.id = m.user_id "
        f"WHERE t.branch_id = ANY(%(branches)s) AND t.is_active AND m.is_active AND {_staff_sql('u')} "
        f"UNION ALL SELECT 'owner', o.customer_id, NULL, o.function, NULL, o.user_id, NULL, NULL "
        f"FROM {owner} o JOIN {user} u ON u.id = o.user_id "
        f"WHERE o.customer_id = ANY(%(customers)s) AND {_staff_sql('u')}"
    )


def people_for(
    *, order: Order, functions: set[str], with_owners: bool, pending: list[LoadChange] | None = None
) -> People:
    """The branch's active teams for these functions, their active members, and (when asked) the customer's
    active account owners for them: one query. `pending`: load changes of this transaction not written yet,
    counted in as if they were."""
    people = People({}, defaultdict(list), {})
    params: dict[str, Any] = {
        "branch": order.branch_id, "customer": order.customer_id, "functions": sorted(functions), **_STAFF_PARAMS
    }  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_people_sql(with_owners=with_owners), params)
        rows = cursor.fetchall()
    for kind, team_id, function, member_id, user_id, open_tasks, last_assigned_at in rows:
        if kind == "team":
            people.teams[function] = team_id
        elif kind == "member":
            people.members[team_id].append(Member(member_id, user_id, open_tasks, last_assigned_at))
        else:
            people.owners[function] = user_id
    if pending:
        members = {(team_id, m.user_id): m for team_id, team in people.members.items() for m in team}
        for team_id, user_id, delta in pending:
            if team_id and user_id and (member := members.get((team_id, user_id))) is not None:
                member.open_tasks = max(member.open_tasks + delta, 0)
    return people


def assign_drafts(
    drafts: list[Draft], *, order: Order, now: datetime.datetime, pending: list[LoadChange] | None = None,
    cache: PeopleCache | None = None,
) -> None:  # fmt: skip
    """Set team and (for open tasks) assignee on unsaved tasks, and count the new load (two queries, three when a
    task names its person). With
    `pending`, the load changes are added to it for the caller to write at the end of its transaction; with
    `cache`, the people come from the batch's (see PeopleCache) instead of a query of their own."""
    if not drafts:
        return
    to_assign = [d for d in drafts if d.task.state == "open" and d.task.assignee_id is None]
    if cache is not None:
        people = cache.people(order)
    else:
        people = people_for(
            order=order, functions={d.task.team_function for d in drafts},
            with_owners=any(d.assign_rule == AssignRule.ACCOUNT_OWNER or d.prefer_user_id for d in to_assign),
            pending=pending,
        )  # fmt: skip
    for draft in drafts:
        draft.task.team_id = people.teams.get(draft.task.team_function)
    # whether a named person may still get work is read live, like everyone's (one more query, only then)
    named = {d.user_id for d in to_assign if d.assign_rule == AssignRule.NAMED_USER and d.user_id}
    users = get_user_model()._default_manager
    staff = set(users.filter(active_staff(), pk__in=named).values_list("pk", flat=True)) if named else set()
    for draft in to_assign:
        task = draft.task
        preferred = draft.prefer_user_id
        if preferred and (
            people.owners.get(task.team_function) == preferred
            or any(m.user_id == preferred for m in people.members.get(task.team_id or 0, ()))
        ):
            task.assignee_id = preferred
        elif draft.assign_rule == AssignRule.NAMED_USER and draft.user_id in staff:
            task.assignee_id = draft.user_id
        elif draft.assign_rule == AssignRule.ACCOUNT_OWNER and task.team_function in people.owners:
            task.assignee_id = people.owners[task.team_function]
        elif draft.assign_rule != AssignRule.TEAM_QUEUE and task.team_id is not None:
            # an account without an owner for this team, or a named person who is not active OMS staff (left,
            # deactivated, a customer's account), falls back to the least-loaded member
            chosen = _pick_least_loaded(people.members.get(task.team_id, []))
            task.assignee_id = chosen.user_id if chosen else None
        if task.assignee_id:
            task.assigned_at = now
            people.count(task.team_id, task.assignee_id, 1, now)
    changes = [(t.team_id, t.assignee_id, 1) for t in (d.task for d in to_assign)]
    if pending is None:
        loads_adjust(changes, now=now)
    else:
        pending += changes


def loads_adjust(changes: Iterable[LoadChange], *, now: datetime.datetime) -> None:
    """Add each (team, user, delta) to that member's open-task count, in one UPDATE. Pairs without a team,
    without a user, or where the user is not a member of the team change nothing. Written as SQL (a join on
    a VALUES list) because it runs for nearly every event and the ORM's CASE expression took a millisecond
    and a half to compile."""
    deltas: dict[tuple[int, int], int] = defaultdict(int)
    for team_id, user_id, delta in changes:
        if team_id and user_id and delta:
            deltas[(team_id, user_id)] += delta
    rows = sorted((team_id, user_id, delta) for (team_id, user_id), delta in deltas.items() if delta)
    if not rows:
        return
    values = ", ".join(["(%s::bigint, %s::bigint, %s::integer)"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TeamMember._meta.db_table} m SET open_tasks = GREATEST(m.open_tasks + d.delta, 0), "  # noqa: S608 - table name from the model
            "last_assigned_at = CASE WHEN d.delta > 0 THEN %s ELSE m.last_assigned_at END "
            f"FROM (VALUES {values}) AS d (team_id, user_id, delta) "
            "WHERE m.team_id = d.team_id AND m.user_id = d.user_id",
            [now, *(value for row in rows for value in row)],
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
