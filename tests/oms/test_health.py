from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from oms.health import record_heartbeat
from oms.models import WorkerHeartbeat


def test_healthz_says_ok_without_touching_anything(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_green_with_database_broker_and_a_recent_worker_heartbeat(client, db):
    record_heartbeat(name="celery@test")
    response = client.get(reverse("readyz"))
    assert response.status_code == 200, response.json()
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "worker": "ok", "workflow_queue": "ok"}


def test_readyz_is_red_without_a_worker_heartbeat(client, db):
    response = client.get(reverse("readyz"))
    assert response.status_code == 503
    assert response.json()["checks"]["worker"] == "no worker heartbeat recorded yet"


def test_readyz_is_red_when_the_last_heartbeat_is_stale(client, db):
    WorkerHeartbeat.objects.create(name="celery@old", beat_at=timezone.now() - timedelta(minutes=10))
    response = client.get(reverse("readyz"))
    assert response.status_code == 503
    assert "s ago" in response.json()["checks"]["worker"]


def test_readyz_is_red_when_the_broker_is_unreachable(client, db, settings):
    record_heartbeat(name="celery@test")
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = client.get(reverse("readyz"))
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("broker unreachable")


def test_readyz_is_red_when_an_order_transition_waits_too_long_for_the_workflow_worker(
    client, order_data, ops_user, settings
):
    from orders import services
    from orders.models import Channel, QueuedTransition
    from partners.scoping import scope_for_user

    record_heartbeat(name="celery@test")
    services.order_create(data=order_data(), scope=scope_for_user(ops_user), by=ops_user, channel=Channel.API,
                          submit=True)  # fmt: skip
    assert client.get(reverse("readyz")).json()["checks"]["workflow_queue"] == "ok"  # just queued
    QueuedTransition.objects.update(
        queued_at=timezone.now() - timedelta(seconds=settings.OMS_WORKFLOW_QUEUE_MAX_AGE + 5)
    )
    response = client.get(reverse("readyz"))
    assert response.status_code == 503
    assert response.json()["checks"]["workflow_queue"].startswith("an order transition has waited")


def test_readyz_is_red_when_a_carrier_milestone_waits_too_long_for_the_workflow_worker(client, settings, db):
    from django.db import transaction

    from workflows.models import QueuedTrackingRecord
    from workflows.services import milestones

    record_heartbeat(name="celery@test")
    with transaction.atomic():
        milestones.tracking_records_queue(kind="milestone", rows=[(1, "DEPARTED", 11, None)])
    assert client.get(reverse("readyz")).json()["checks"]["workflow_queue"] == "ok"
    late = timezone.now() - timedelta(seconds=settings.OMS_WORKFLOW_QUEUE_MAX_AGE + 5)
    QueuedTrackingRecord.objects.update(available_at=late)
    response = client.get(reverse("readyz"))
    assert response.status_code == 503
    assert response.json()["checks"]["workflow_queue"].startswith("a carrier milestone has waited")
    QueuedTrackingRecord.objects.update(available_at=timezone.now() + timedelta(minutes=5))  # leased: not late
    assert client.get(reverse("readyz")).json()["checks"]["workflow_queue"] == "ok"
    QueuedTrackingRecord.objects.update(available_at=late, given_up_at=timezone.now())  # support's, not the drain's
    assert client.get(reverse("readyz")).json()["checks"]["workflow_queue"] == "ok"
