"""The stamp of the workflow configuration: one row whose token changes whenever the configuration does.

Every process keeps the configuration it reads on each event in memory (templates, rules, customer
settings, team leads, notification preferences: workflows.services.config) and checks it against this
token, read in the query that loads the event's order. A statement-level trigger on each configuration
table writes a new random token in the same transaction as the change, so:
- whatever writes the change (the admin, a service, a shell, raw SQL) moves the token: nothing to forget;
- the new token becomes visible exactly when the change does (at commit), in every process at once;
- a rolled-back change leaves the old token, whose cached content is still right; a random token is never
  reused, so a token seen inside a rolled-back transaction (tests) can never match later content.
Without the row (a flushed test database) the token reads NULL and nothing is kept.

The tables carrying the trigger: WorkflowTemplate, WorkflowVersion, Rule, RuleCondition, RuleAction,
CustomerSettings, Team, BranchCalendar, NotificationPreference. TeamMember and AccountOwner do not: who
works in a team, with what load, is read live on every assignment (services.assignment).
"""

from __future__ import annotations

import pgtrigger
from django.db import models

STAMP_ID = 1

_BUMP = (
    "INSERT INTO workflows_configstamp (id, token) VALUES (1, gen_random_uuid()) "
    "ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token; RETURN NULL;"
)


def config_changed_trigger() -> pgtrigger.Trigger:
    """The trigger a configuration table carries: any write to it moves the configuration token."""
    return pgtrigger.Trigger(
        name="workflow_config_changed",
        level=pgtrigger.Statement,
        when=pgtrigger.After,
        operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete | pgtrigger.Truncate,
        func=_BUMP,
    )


class ConfigStamp(models.Model):
    """The single row (id 1) holding the current configuration token; written only by the triggers."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=STAMP_ID)
    token = models.UUIDField()

    def __str__(self) -> str:
        return str(self.token)
