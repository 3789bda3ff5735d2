"""Fixtures for workflows: orders through the real intake service, teams in the HAM branch, templates
published through the real version services, and on-commit effects run on demand."""

from __future__ import annotations

import datetime
import itertools
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from orders import lifecycle
from orders import services as order_services
from orders.models import Channel, Order, OrderStatus
from partners import services as partner_services
from partners.models import Organisation, Role, User
from partners.scoping import Scope, scope_for_user
from tests.factories import UserFactory
from tests.workflows.places import create_places
from tracking.ingest.models import MappingRule
from tracking.ingest.standards import seed_reference_data
from tracking.models import Milestone
from workflows import services
from workflows.guards import _GUARDS
from workflows.models import (
    BranchCalendar,
    Task,
    TaskDefinition,
    TaskState,
    Team,
    TeamFunction,
    TeamMember,
    WorkflowTemplate,
)


@pytest.fixture
def locations(db) -> None:
    """Overrides the demo set: only the places these tests use."""
    create_places()


@pytest.fixture(autouse=True)
def _only_workflow_guards(monkeypatch) -> None:
    """Other apps' guards (tracking's booking check on plan) are theirs to test; here only ours apply."""
    monkeypatch.setattr(lifecycle, "_guards", defaultdict(list, {name: [g] for name, g in _GUARDS.items()}))


@pytest.fixture(autouse=True)
def _celery_eager(eager_celery) -> None:
    """Queued work (notification emails) runs inline in every workflows test."""


@pytest.fixture
def committed(django_capture_on_commit_callbacks) -> Callable[[], Any]:
    """`with committed(): ...` runs what the block queued on commit (the workflow receiver) at its end."""

    def run() -> Any:
        return django_capture_on_commit_callbacks(execute=True)

    return run


@pytest.fixture
def ham(branch) -> Organisation:
    """The HAM branch, in Germany, Monday to Friday 08:00 to 18:00 Europe/Berlin."""
    branch.time_zone = "Europe/Berlin"
    branch.save(update_fields=["time_zone"])
    BranchCalendar.objects.create(branch=branch, country="DE")
    return branch


def staff(email: str, branch: Organisation, role: str = Role.OPERATIONS, **extra: Any) -> User:
    user = UserFactory(email=email, **extra)
    partner_services.membership_grant(user=user, organisation=branch, role=role)
    return user


@pytest.fixture
def ops2_user(ham) -> User:
    return staff("ops2@oms.test", ham, full_name="Otto Two")


@pytest.fixture
def docs_user(ham) -> User:
    return staff("docs@oms.test", ham, Role.DOCUMENTATION, full_name="Dana Docs")


@pytest.fixture
def ops_team(ham, ops_user, ops2_user) -> Team:
    team = Team.objects.create(name="HAM Operations", function=TeamFunction.OPERATIONS, branch=ham, lead=ops_user)
    TeamMember.objects.create(team=team, user=ops_user)
    TeamMember.objects.create(team=team, user=ops2_user)
    return team


@pytest.fixture
def docs_team(ham, docs_user) -> Team:
    team = Team.objects.create(
        name="HAM Documentation", function=TeamFunction.DOCUMENTATION, branch=ham, lead=docs_user
    )
    TeamMember.objects.create(team=team, user=docs_user)
    return team


@pytest.fixture
def sales_team(ham, sales_user) -> Team:
    team = Team.objects.create(name="HAM Sales", function=TeamFunction.SALES, branch=ham, lead=sales_user)
    TeamMember.objects.create(team=team, user=sales_user)
    return team


@pytest.fixture
def admin_scope(admin_user) -> Scope:
    return scope_for_user(admin_user)


@pytest.fixture
def make_order(order_data, ops_user, ham) -> Callable[..., Order]:
    """`make_order(submit=False, **intake_fields)`: a new ACME order (CNSHA → DEHAM ocean FCL unless told)."""
    scope = scope_for_user(ops_user)
    numbers = itertools.count(1)

    def make(*, submit: bool = False, **overrides: Any) -> Order:
        overrides.setdefault("customer_reference", f"WF-{next(numbers):05d}")
        data = order_data(**overrides)
        return order_services.order_create(data=data, scope=scope, by=ops_user, channel=Channel.SCREEN, submit=submit)

    return make


def definition(key: str, **fields: Any) -> dict[str, Any]:
    """A task definition's fields: state trigger on `submitted`, operations, 8 business hours, unless told."""
    values = {
        "key": key, "name": key.replace("-", " ").capitalize(), "team_function": TeamFunction.OPERATIONS,
        "trigger_kind": "state", "trigger_state": "submitted", "due_in_hours": Decimal(8),
    }  # fmt: skip
    values.update(fields)
    return values


@pytest.fixture
def make_template(admin_user) -> Callable[..., WorkflowTemplate]:
    """`make_template(name, [definition(...), ...], **criteria)`: a template with one published version."""

    def make(name: str, definitions: list[dict[str, Any]], **criteria: Any) -> WorkflowTemplate:
        # Publishing checks milestone codes against the milestones, which the migrations seed and a transactional
        # test's flush empties: put back what is missing (four queries when nothing is).
        seed_reference_data(Milestone, MappingRule)
        template = WorkflowTemplate.objects.create(name=name, **criteria)
        draft = services.version_draft_start(template=template, by=admin_user)
        for position, fields in enumerate(definitions):
            TaskDefinition.objects.create(version=draft, position=position, **fields)
        services.version_publish(version=draft, by=admin_user)
        template.refresh_from_db()
        return template

    return make


def tasks_of(order: Order) -> dict[str, Task]:
    """The order's tasks by key."""
    return {task.key: task for task in Task.objects.filter(order=order).select_related("assignee", "team")}


def force_status(order: Order, status: str, *, before_hold: str = "") -> Order:
    """Put an order in a state directly (tests only: real code goes through lifecycle.apply)."""
    Order.objects.filter(pk=order.pk).update(status=status, status_before_hold=before_hold)
    return Order.objects.get(pk=order.pk)


@pytest.fixture
def scheduled_blocker(make_template, make_order, ops_team, committed) -> tuple[Order, Task]:
    """(order, task): the Ocean FCL export's "Collect shipping instructions and VGM", timed from the requested pickup
    (opens 72 h before it, 40 days ahead) and blocking "depart"; the order is planned (booked on an earlier sailing)."""
    make_template("Ocean FCL export", [
        definition("si-vgm", name="Collect shipping instructions and VGM", trigger_kind="date", trigger_state="",
                   date_anchor="requested_pickup", date_offset_hours=-72, due_in_hours=Decimal(8), blocks=["depart"]),
    ])  # fmt: skip
    pickup = (timezone.now() + datetime.timedelta(days=40)).date().isoformat()
    with committed():
        order = make_order(submit=True, requested_pickup_on=pickup)
    order = force_status(order, OrderStatus.PLANNED)
    task = tasks_of(order)["si-vgm"]
    assert task.state == TaskState.SCHEDULED
    return order, task
