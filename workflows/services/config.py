"""The workflow configuration a process keeps in memory between events, and when it must read it again.

Handling an order's event needs the templates and their versions (to bind the order, and to find the
version's task definitions), the branches' business hours, the active rules with their conditions and
actions, which customers are flagged auto-accept, the team leads rules notify, and the notification
preferences of the people told about new tasks. These change rarely, and reading them for every event
cost five to seven queries an order. So a process keeps one `WorkflowConfig` and trusts it only while the
database's configuration token (workflows.models.config: a trigger on each of those tables writes a new
random token in the changing transaction) is the one it was read under.

The token is read with the event's order (runs.order_for_event, no extra query), before anything of the
configuration is; parts are then read on first use. In READ COMMITTED a part may be newer than the
token it is kept under, never older, and a newer token always replaces the whole configuration: a change
committed anywhere is seen by every process at its next event. Callers outside an event (a screen, the
dry run) read the database directly.

What is never kept: anything about people's load or whether they are active (teams' members, account
owners: one live query when tasks are assigned), and what belongs to the partners app (a branch's time
zone and address country, read with the order as two small subqueries). Task definitions have their own
cache, keyed on the published, immutable version (runs).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from workflows.models import (
    DEFAULT_PREFERENCE,
    BranchCalendar,
    ConfigStamp,
    CustomerSettings,
    NotificationPreference,
    Rule,
    Team,
    WorkflowTemplate,
    WorkflowVersion,
)
from workflows.services.profiles import BranchProfile, profile_from


def config_token() -> uuid.UUID | None:
    """The current configuration token on its own (one query), for callers that load no order."""
    return ConfigStamp.objects.filter(pk=1).values_list("token", flat=True).first()


@dataclass
class WorkflowConfig:
    """The configuration as of `token`; each part is read on first use. token None: keep nothing."""

    token: uuid.UUID | None
    _templates: list[WorkflowTemplate] | None = None
    _rules: list[Rule] | None = None
    _auto_accept: frozenset[int] | None = None
    _team_leads: dict[tuple[int, str], int | None] | None = None
    _preferences: dict[int, NotificationPreference] = field(default_factory=dict)
    _versions: dict[int, WorkflowVersion] = field(default_factory=dict)
    _calendars: dict[int, BranchCalendar] | None = None
    _profiles: dict[tuple[int, str, str | None], BranchProfile] = field(default_factory=dict)

    def templates(self) -> list[WorkflowTemplate]:
        """Active templates that have a published version, with that version."""
        if self._templates is None:
            self._templates = list(
                WorkflowTemplate.objects.filter(is_active=True, current_version__isnull=False).select_related(
                    "current_version"
                )
            )
        return self._templates

    def version(self, pk: int) -> WorkflowVersion:
        """A template version by id (read on first use)."""
        if pk not in self._versions:
            self._versions[pk] = WorkflowVersion.objects.get(pk=pk)
        return self._versions[pk]

    def branch_profile(self, *, branch_id: int, time_zone: str, address_country: str | None) -> BranchProfile:
        """The branch's business calendar and country, from its calendar row (kept) and the time zone and
        address country the caller read with the order."""
        key = (branch_id, time_zone, address_country)
        if key not in self._profiles:
            if self._calendars is None:
                self._calendars = {row.branch_id: row for row in BranchCalendar.objects.all()}
            calendar = self._calendars.get(branch_id)
            self._profiles[key] = profile_from(time_zone=time_zone, calendar=calendar, address_country=address_country)
        return self._profiles[key]

    def rules(self) -> list[Rule]:
        """Active rules with their conditions and actions, in the order they run."""
        if self._rules is None:
            self._rules = list(
                Rule.objects.filter(is_active=True).prefetch_related("conditions", "actions").order_by("position", "id")
            )
        return self._rules

    def is_auto_accept(self, customer_id: int) -> bool:
        if self._auto_accept is None:
            self._auto_accept = frozenset(
                CustomerSettings.objects.filter(auto_accept=True).values_list("customer_id", flat=True)
            )
        return customer_id in self._auto_accept

    def team_lead(self, *, branch_id: int, function: str) -> int | None:
        """The lead of the branch's active team for this function (None: no such team, or it has no active lead).
        A lead deactivated since this was read is still returned: callers check the person live (rules._notify)."""
        if self._team_leads is None:
            leads = Team.objects.filter(is_active=True, lead__is_active=True)
            self._team_leads = {
                (branch, team_function): lead
                for branch, team_function, lead in leads.values_list("branch_id", "function", "lead_id")
            }
        return self._team_leads.get((branch_id, function))

    def preferences(self, user_ids: Iterable[int]) -> dict[int, NotificationPreference]:
        """Each person's notification preferences (the defaults for those who never set theirs)."""
        wanted = set(user_ids)
        missing = wanted - self._preferences.keys()
        if missing:
            found = {p.user_id: p for p in NotificationPreference.objects.filter(user_id__in=missing)}
            self._preferences.update({user_id: found.get(user_id, DEFAULT_PREFERENCE) for user_id in missing})
        return {user_id: self._preferences[user_id] for user_id in wanted}


@dataclass
class _Kept:
    config: WorkflowConfig


_kept = _Kept(WorkflowConfig(token=None))  # the process's one kept configuration


def workflow_config(token: uuid.UUID | None) -> WorkflowConfig:
    """The configuration as of `token` (read in the current transaction): the kept one while the token is
    unchanged, else a fresh one that is kept from now on."""
    if token is None:
        return WorkflowConfig(token=None)
    if _kept.config.token != token:
        _kept.config = WorkflowConfig(token=token)
    return _kept.config
