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
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "worker": "ok"}


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
