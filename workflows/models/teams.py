"""Who does the work: teams per branch and function, their members, customers' account owners, and the
business hours each branch keeps."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, F, OuterRef, Q

from partners.models import INTERNAL_KINDS, STAFF_ROLES, Membership, Organisation
from workflows.models.config import config_changed_trigger


def active_staff() -> Q:
    """The people work can go to (a User filter): active accounts with an active staff membership of the
    company or a branch that is open (a closed one's memberships grant nothing, as in partners.scoping). Task
    reassignment, rule actions (checked when saved and again when they run), teams, their leads, account owners
    and the admin's pickers all use it, and assignment reads the same rule in SQL (services.assignment), so
    automation can never reach a customer's person or a deactivated one."""
    staff_membership = Membership.objects.filter(
        user=OuterRef("pk"),
        is_active=True,
        role__in=sorted(STAFF_ROLES),
        organisation__kinds__overlap=sorted(INTERNAL_KINDS),
        organisation__is_active=True,
    )
    return Q(is_active=True) & Q(Exists(staff_membership))  # EXISTS: one row per person, whatever their memberships


def is_active_staff(user_id: int) -> bool:
    """Whether work may go to this person now (active_staff)."""
    return get_user_model()._default_manager.filter(active_staff(), pk=user_id).exists()


def staff_only(field: str, user_id: int | None, *, where: str) -> None:
    """Refuse, in words on `field`, a person who is not active OMS staff (`where` says the rule): the place would
    give them other customers' orders, with their tasks, notifications and emails."""
    if problem := staff_problem(user_id, where=where):
        raise ValidationError({field: problem})


def staff_problem(user_id: int | None, *, where: str) -> str:
    """What staff_only says of this person, or "" for active OMS staff (and for nobody)."""
    if user_id is None or is_active_staff(user_id):
        return ""
    person = get_user_model()._default_manager.filter(pk=user_id).first()
    return (
        f"{person or 'This person'} is not active OMS staff (an active staff role in our company or an open branch): "
        f"{where}."
    )


class TeamFunction(models.TextChoices):
    SALES = "sales", "Sales"
    OPERATIONS = "operations", "Operations"
    DOCUMENTATION = "documentation", "Documentation"
    CUSTOMS = "customs", "Customs"
    FINANCE = "finance", "Finance"


class Team(models.Model):
    """The people of one branch who do one kind of work; task definitions name the function, and the
    order's branch decides which team that is."""

    name = models.CharField(max_length=100)
    function = models.CharField(max_length=20, choices=TeamFunction.choices)
    branch = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="teams", limit_choices_to={"kinds__contains": ["branch"]}
    )
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="led_teams",
        help_text="Sees the team's overdue tasks and is told when one escalates (active OMS staff only).",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        triggers = [config_changed_trigger()]
        ordering = ["branch__code", "function"]
        constraints = [models.UniqueConstraint(fields=["branch", "function"], name="team_one_per_branch_function")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        staff_only("lead", self.lead_id, where="only active OMS staff lead a team")


class TeamMember(models.Model):
    """A person in a team. `open_tasks` is their current load in this team, kept by workflows.services so
    that picking the least-loaded member is one indexed read rather than a count over every task."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="team_memberships",
        help_text="Active OMS staff only.",
    )
    is_active = models.BooleanField(default=True, help_text="Untick to stop new tasks going to this person.")
    open_tasks = models.PositiveIntegerField(default=0, editable=False)
    last_assigned_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["team", "user__email"]
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="team_member_once")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"

    def clean(self) -> None:
        if self.is_active:  # a leaver's row may stay, unticked: assignment passes over it
            staff_only(
                "user", self.user_id, where="only active OMS staff are active members of a team (untick a leaver's row)"
            )


class AccountOwner(models.Model):
    """The person who looks after a customer for one team: their tasks go to this person first."""

    customer = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="account_owners",
        limit_choices_to={"kinds__contains": ["customer"]},
    )
    function = models.CharField("team", max_length=20, choices=TeamFunction.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="owned_accounts",
        help_text="Active OMS staff only.",
    )

    class Meta:
        ordering = ["customer__code", "function"]
        constraints = [models.UniqueConstraint(fields=["customer", "function"], name="account_owner_per_team")]

    def __str__(self) -> str:
        return f"{self.customer.code} · {self.get_function_display()}: {self.user}"

    def clean(self) -> None:
        staff_only("user", self.user_id, where="only active OMS staff own a customer's account")


def _weekdays() -> list[int]:
    return [0, 1, 2, 3, 4]


class BranchCalendar(models.Model):
    """A branch's business hours, in the branch's time zone (Organisation.time_zone). Without a row a
    branch works Monday to Friday, 08:00 to 18:00."""

    branch = models.OneToOneField(
        Organisation,
        on_delete=models.CASCADE,
        related_name="calendar",
        limit_choices_to={"kinds__contains": ["branch"]},
    )
    opens_at = models.TimeField(
        default=datetime.time(8),
        help_text="When the branch opens on a workday, on the branch's own clock (its organisation's time zone); task "
        "due times in business hours count from here.",
    )
    closes_at = models.TimeField(
        default=datetime.time(18),
        help_text="When the branch closes, on the branch's own clock, the same day (after it opens).",
    )
    workdays = ArrayField(
        models.PositiveSmallIntegerField(), default=_weekdays, help_text="0 = Monday … 6 = Sunday, e.g. 0,1,2,3,4."
    )
    holidays = ArrayField(models.DateField(), default=list, blank=True, help_text="Dates the branch is closed.")
    country = models.CharField(
        max_length=2,
        blank=True,
        help_text="ISO country for trade direction (import/export); blank: the branch's registered address.",
    )

    class Meta:
        triggers = [config_changed_trigger()]
        constraints = [
            models.CheckConstraint(condition=Q(closes_at__gt=F("opens_at")), name="calendar_closes_after_opening"),
            models.CheckConstraint(condition=~Q(workdays=[]), name="calendar_has_workdays"),
        ]

    def __str__(self) -> str:
        return f"{self.branch.code} {self.opens_at:%H:%M}–{self.closes_at:%H:%M}"


class CustomerSettings(models.Model):
    """Workflow settings per customer, read by automation rules (e.g. "auto-accept")."""

    customer = models.OneToOneField(
        Organisation,
        on_delete=models.CASCADE,
        related_name="workflow_settings",
        limit_choices_to={"kinds__contains": ["customer"]},
    )
    auto_accept = models.BooleanField(
        default=False, help_text="Rules may confirm this customer's orders as soon as they are submitted."
    )

    class Meta:
        triggers = [config_changed_trigger()]
        verbose_name_plural = "customer settings"

    def __str__(self) -> str:
        return f"{self.customer.code} workflow settings"
