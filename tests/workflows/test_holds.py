"""A carrier's hold and the order (workflows.services.holds, docs/exceptions.md "Holds and the order"): the rule
"Customs hold stops the order" acts only on a hold that stands as exception detection judges it (not on one whose
release happened later but arrived first, nor on a repeat), and once the order's last hold clears, the order that
rule held is released (one transition, naming the release) and the rule's tasks are done; a hold a person put on
stays, and so does the order while another hold still stands."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from orders import services as order_services
from orders.models import Channel, Order, OrderStatus, OrderTransition
from partners.scoping import scope_for_user
from tests.tracking.test_ingest_support import body_of, fresh_mapping, oms_event, signed_headers, webhook_source
from tests.workflows.test_rules import rule
from workflows import tasks
from workflows.models import RuleEvent, RuleOutcome, RuleRun, Task, TaskEvent, TaskState

__all__ = ["fresh_mapping", "webhook_source"]  # fixtures

URL = "/api/v1/tracking/webhooks/acme-tms/"
M = datetime.timedelta(minutes=1)


def deliver(client, committed, *events):
    """POST the events to the signed webhook, then run the workflow's drain (as the worker would)."""
    body = body_of(list(events))
    headers = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in signed_headers(body).items()}
    with committed():
        response = client.post(URL, data=body, content_type="application/json", **headers)
        assert response.status_code == 200, response.content
    with committed():
        tasks.handle_tracking_records()


@pytest.fixture
def hold_rule(db):
    return rule("Customs hold stops the order", RuleEvent.MILESTONE_RECORDED, value="CUSTOMS_HOLD", actions=[
        {"kind": "hold", "message": "Customs hold reported by the carrier."},
        {"kind": "create_task", "task_name": "Resolve the customs hold", "team_function": "operations",
         "due_in_hours": Decimal(4)},
    ])  # fmt: skip


@pytest.fixture
def order(make_order, ops_team, committed, fresh_mapping, webhook_source, hold_rule):
    with committed():
        return make_order(submit=True)


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


def event(order, milestone, at, event_id, **extra):
    return oms_event(milestone, at, place="DEHAM", event_id=event_id, subject=("order", order.reference), **extra)


def carrier_hold(order, at, event_id):
    """The carrier withholds release (documents, payment): DCSA SHIPMENT:SRM:HOLD, a hold of another kind."""
    return oms_event("", at, event_id=event_id, subject=("order", order.reference), scheme="dcsa",
                     code="SHIPMENT:SRM:HOLD")  # fmt: skip


def resolve_tasks(order):
    return Task.objects.filter(order=order, name="Resolve the customs hold")


def test_a_hold_released_before_its_report_arrived_neither_holds_the_order_nor_opens_a_task(
    client, committed, order, now, hold_rule
):
    deliver(client, committed, event(order, "IMPORT_CLEARED", now - 10 * M, "rel"))
    deliver(client, committed, event(order, "CUSTOMS_HOLD", now - 30 * M, "hold"))  # older, arrives later
    order = Order.objects.get(pk=order.pk)
    assert order.status == OrderStatus.SUBMITTED
    assert not resolve_tasks(order).exists()
    run = RuleRun.objects.get(rule=hold_rule)
    assert run.outcome == RuleOutcome.SKIPPED
    assert "was already released (Import cleared on" in run.detail


def test_a_standing_hold_holds_the_order_and_its_release_lets_it_go_with_one_transition(client, committed, order, now):
    deliver(client, committed, event(order, "CUSTOMS_HOLD", now - 30 * M, "hold"))
    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.status_before_hold) == (OrderStatus.ON_HOLD, OrderStatus.SUBMITTED)
    task = resolve_tasks(order).get()
    assert task.state == TaskState.OPEN

    deliver(client, committed, event(order, "IMPORT_CLEARED", now - 10 * M, "rel"))
    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.status_before_hold) == (OrderStatus.SUBMITTED, "")
    [release] = OrderTransition.objects.filter(order=order, name="release")
    assert (release.source, release.target, release.channel, release.by) == ("on_hold", "submitted", "system", None)
    assert release.reason.startswith("Hold released: Import cleared on ")
    task.refresh_from_db()
    assert (task.state, task.completed_by) == (TaskState.DONE, None)
    assert TaskEvent.objects.get(task=task, verb="completed").detail.startswith("The hold was released: Import")

    deliver(client, committed, event(order, "IMPORT_CLEARED", now - 5 * M, "rel2"))  # nothing left to release
    assert OrderTransition.objects.filter(order=order, name="release").count() == 1


def test_a_release_older_than_the_hold_releases_nothing(client, committed, order, now):
    deliver(client, committed, event(order, "CUSTOMS_HOLD", now - 30 * M, "hold"))
    deliver(client, committed, event(order, "IMPORT_CLEARED", now - 40 * M, "old-rel"))  # before the hold
    order = Order.objects.get(pk=order.pk)
    assert order.status == OrderStatus.ON_HOLD
    assert resolve_tasks(order).get().state == TaskState.OPEN


def test_a_repeated_hold_report_is_the_same_hold(client, committed, order, now, hold_rule):
    deliver(client, committed, event(order, "CUSTOMS_HOLD", now - 30 * M, "hold"))
    deliver(client, committed, event(order, "CUSTOMS_HOLD", now - 20 * M, "hold-again"))
    assert resolve_tasks(order).count() == 1
    repeat = RuleRun.objects.filter(rule=hold_rule).order_by("pk").last()
    assert (repeat.outcome, repeat.detail.startswith("Not run: the carrier repeated the hold")) == ("skipped", True)


def test_while_another_hold_stands_the_order_stays_held(client, committed, order, now):
    deliver(client, committed, event(order, "CUSTOMS_HOLD", now - 30 * M, "hold"))
    deliver(client, committed, carrier_hold(order, now - 25 * M, "carrier-hold"))
    deliver(client, committed, event(order, "IMPORT_CLEARED", now - 10 * M, "rel"))  # customs only
    order = Order.objects.get(pk=order.pk)
    assert order.status == OrderStatus.ON_HOLD
    assert not OrderTransition.objects.filter(order=order, name="release").exists()

    deliver(client, committed, event(order, "AVAILABLE", now - 5 * M, "available"))  # clears the carrier's too
    order = Order.objects.get(pk=order.pk)
    assert order.status == OrderStatus.SUBMITTED
    assert OrderTransition.objects.get(order=order, name="release").reason.startswith("Hold released: Available on")
    assert not resolve_tasks(order).filter(state=TaskState.OPEN).exists()


def test_a_hold_a_person_put_on_stays_when_the_customs_hold_clears(client, committed, order, now, ops_user):
    with committed():
        order_services.order_transition(
            order=order, name="hold", scope=scope_for_user(ops_user), channel=Channel.SCREEN, by=ops_user,
            reason="Customer has not paid.",
        )  # fmt: skip
    deliver(client, committed, event(order, "CUSTOMS_HOLD", now - 30 * M, "hold"))
    deliver(client, committed, event(order, "IMPORT_CLEARED", now - 10 * M, "rel"))
    order = Order.objects.get(pk=order.pk)
    assert order.status == OrderStatus.ON_HOLD
    assert not OrderTransition.objects.filter(order=order, name="release").exists()
    assert resolve_tasks(order).get().state == TaskState.DONE  # the customs hold itself is over
