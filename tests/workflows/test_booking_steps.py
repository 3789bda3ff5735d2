"""The booking task that blocks `plan` completes on the carrier's confirmation (milestone BOOKING_CONFIRMED): in the
templates the demo ships, and, through migration 0009, in the shipped templates an installation seeded before;
an admin's own definitions are left alone. The end-to-end walk (confirmation → task done → order planned) is in
tests/tracking/test_booking_workflow.py, where tracking's guards apply."""

from __future__ import annotations

import importlib

from django.apps import apps

from orders.models import OrderStatus
from tests.workflows.conftest import definition, force_status, tasks_of
from workflows import services
from workflows.demo import BOOKING_STEPS, TEMPLATES, seed_templates
from workflows.models import TaskDefinition, TaskState, WorkflowTemplate

BOOKED = "milestone:BOOKING_CONFIRMED"


def migrate() -> None:
    importlib.import_module(
        "workflows.migrations.0009_booking_steps_complete_on_confirmation"
    ).complete_on_confirmation(apps, None)


def test_every_shipped_step_that_blocks_plan_completes_on_the_confirmation(admin_user):
    seed_templates(admin_user)
    blocking = TaskDefinition.objects.filter(blocks__contains=["plan"])
    assert sorted(blocking.values_list("key", flat=True)) == sorted(BOOKING_STEPS)
    assert {d.auto_complete_on for d in blocking} == {BOOKED}
    assert len(TEMPLATES) == blocking.count()


def test_the_booking_milestone_completes_the_task_and_one_made_later_is_made_done(
    admin_user, make_order, ops_team, committed
):
    seed_templates(admin_user)
    with committed():
        order = make_order(submit=True)
    with committed():
        services.milestone_record(order_id=order.pk, code="BOOKING_CONFIRMED", event_id=1)  # before `confirmed`
    force_status(order, OrderStatus.SUBMITTED)
    from orders import services as order_services
    from partners.scoping import scope_for_user

    with committed():
        order_services.order_transition(
            order=order, name="confirm", scope=scope_for_user(admin_user), by=admin_user, channel="screen"
        )
    (book,) = [task for key, task in tasks_of(order).items() if key in BOOKING_STEPS]
    assert (book.state, book.auto_complete_on) == (TaskState.DONE, BOOKED)


def test_the_migration_gives_the_shipped_booking_steps_their_completion_and_leaves_the_admins_alone(
    admin_user, make_order, make_template, ops_team, committed, customer_b
):
    seed_templates(admin_user)
    shipped = TaskDefinition.objects.filter(key__in=BOOKING_STEPS)
    shipped.update(auto_complete_kind="", auto_complete_value="")  # as seeded before
    own = make_template("Our own FCL flow", [
        definition("book-space", name="Book container space with the shipping line", trigger_state="confirmed",
                   blocks=["plan"]),
    ], customer=customer_b)  # fmt: skip
    renamed = WorkflowTemplate.objects.get(name="Air export")
    TaskDefinition.objects.filter(version__template=renamed, key="book-flight").update(
        name="Book the flight (our wording)"
    )  # an admin's edit: not the shipped step any more
    with committed():
        order = make_order(submit=True)
    order = force_status(order, OrderStatus.SUBMITTED)
    from orders import services as order_services
    from partners.scoping import scope_for_user

    with committed():
        order_services.order_transition(
            order=order, name="confirm", scope=scope_for_user(admin_user), by=admin_user, channel="screen"
        )
    (task,) = [task for key, task in tasks_of(order).items() if key in BOOKING_STEPS]
    assert (task.state, task.auto_complete_on) == (TaskState.OPEN, "")  # made before the upgrade

    migrate()

    booked = TaskDefinition.objects.filter(auto_complete_value="BOOKING_CONFIRMED")
    completed = {d.version.template.name for d in booked.select_related("version__template")}
    assert completed == {name for name, _criteria, _steps in TEMPLATES} - {"Air export"}
    assert TaskDefinition.objects.get(version__template=own).auto_complete_kind == ""
    task.refresh_from_db()
    assert task.auto_complete_on == BOOKED
    with committed():
        services.milestone_record(order_id=order.pk, code="BOOKING_CONFIRMED", event_id=2)
    task.refresh_from_db()
    assert task.state == TaskState.DONE
