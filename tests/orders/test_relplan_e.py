"""RELIABILITY (b) area E on the order paths: work is queued only by a commit, a submitted order's event is stored
with it (the outbox the workers drain), and a database lost mid-request leaves nothing half-written.
"""

from __future__ import annotations

import pytest
from django.db import OperationalError, transaction
from kombu.exceptions import OperationalError as BrokerOperationalError

from orders import services
from orders.models import Channel, Order, OrderStatus, OrderTransition, QueuedTransition
from partners.models import IdempotencyKey
from tests.orders.test_api import LIST_URL, bearer, detail_url


class Abandoned(Exception):
    pass


# --- E1: enqueue only after commit ----------------------------------------------------------------------------


def test_an_order_created_in_a_rolled_back_transaction_queues_nothing(
    order_data, staff_scope, ops_user, django_capture_on_commit_callbacks
):
    def create_then_fail() -> None:
        with transaction.atomic():
            services.order_create(
                data=order_data(), scope=staff_scope, by=ops_user, channel=Channel.SCREEN, submit=True
            )
            raise Abandoned

    with django_capture_on_commit_callbacks() as queued, pytest.raises(Abandoned):
        create_then_fail()

    assert queued == []
    assert not Order.objects.exists()
    assert not QueuedTransition.objects.exists()


def test_a_committed_order_queues_its_events_after_the_commit(
    order_data, staff_scope, ops_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        services.order_create(data=order_data(), scope=staff_scope, by=ops_user, channel=Channel.SCREEN, submit=True)

    assert len(queued) == 2  # order_created, then order_status_changed for the submit


# --- E3: the outbox reconciles with the orders ----------------------------------------------------------------


def test_every_order_submitted_over_the_api_has_its_queued_event_committed_with_it(client, staff_key, order_data):
    """No after-commit work runs here (as if the broker were down or the process died right after each commit):
    the queued transitions the workflow worker drains are still there, one per submitted order."""
    for number in range(5):
        body = order_data(customer_reference=f"OUTBOX-{number}", submit=number % 2 == 0)
        assert client.post(LIST_URL, body, content_type="application/json", **bearer(staff_key)).status_code == 201

    submitted = Order.objects.filter(status=OrderStatus.SUBMITTED)
    assert submitted.count() == 3
    queued = QueuedTransition.objects.values_list("transition__order_id", flat=True)
    assert sorted(queued) == sorted(submitted.values_list("pk", flat=True))
    assert OrderTransition.objects.count() == 3


# --- E4: the database lost mid-request ------------------------------------------------------------------------


def test_a_database_lost_mid_creation_leaves_no_partial_order_and_frees_the_key(
    client, staff_key, order_data, monkeypatch
):
    real_write_lines = services._write_lines

    def connection_lost(order, clean):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(services, "_write_lines", connection_lost)
    client.raise_request_exception = False
    headers = {**bearer(staff_key), "HTTP_IDEMPOTENCY_KEY": "relplan-e4"}

    failed = client.post(LIST_URL, order_data(submit=True), content_type="application/json", **headers)

    assert failed.status_code >= 500
    assert not Order.objects.exists()
    assert not OrderTransition.objects.exists()
    assert not IdempotencyKey.objects.exists()

    monkeypatch.setattr(services, "_write_lines", real_write_lines)
    retried = client.post(LIST_URL, order_data(submit=True), content_type="application/json", **headers)

    assert retried.status_code == 201
    assert not retried.has_header("Idempotent-Replayed")
    assert Order.objects.get().lines.count() == 1


# --- E3: a broker that is down after the commit ---------------------------------------------------------------


def _broker_down(*args, **kwargs):
    raise BrokerOperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


@pytest.fixture
def broker_down_for_the_workflow_wake_up(monkeypatch):
    from workflows.services import transition_queue
    from workflows.tasks import handle_queued_transitions

    monkeypatch.setattr(handle_queued_transitions, "delay", _broker_down)
    monkeypatch.setattr(transition_queue, "_last_wake", -1.0)  # no wake-up asked for in the last WAKE_EVERY seconds


@pytest.mark.django_db(transaction=True)  # after-commit receivers run inside the request, as in production
def test_an_api_order_created_submitted_while_the_broker_is_down_is_201(
    client, staff_key, order_data, broker_down_for_the_workflow_wake_up
):
    client.raise_request_exception = False
    response = client.post(LIST_URL, order_data(submit=True), content_type="application/json", **bearer(staff_key))
    assert response.status_code == 201
    assert Order.objects.get().status == OrderStatus.SUBMITTED
    assert QueuedTransition.objects.count() == 1  # its event is durable: the beat's sweep handles it


@pytest.mark.django_db(transaction=True)
def test_an_api_submit_while_the_broker_is_down_is_200(
    client, staff_key, order_data, broker_down_for_the_workflow_wake_up
):
    client.raise_request_exception = False
    created = client.post(LIST_URL, order_data(), content_type="application/json", **bearer(staff_key)).json()
    response = client.post(detail_url(created["reference"], "submit"), **bearer(staff_key))
    assert response.status_code == 200
    assert Order.objects.get().status == OrderStatus.SUBMITTED
    assert QueuedTransition.objects.count() == 1
