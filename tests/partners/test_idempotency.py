"""Idempotency-Key on POSTs (RELIABILITY C1 to C5): replay, mismatch, bad keys, takeover, concurrency, reaper."""

from __future__ import annotations

import datetime
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import cast

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.request import Request

from orders import services as order_services
from orders.models import Order, OrderStatus, OrderTransition
from partners import idempotency
from partners import services as partner_services
from partners.models import IdempotencyKey, IdempotencyKeyStatus
from partners.tasks import delete_expired_idempotency_keys
from tests.orders.test_api import LIST_URL, detail_url

KEY = "b4a5c3f0-8d3e-4a51-9f2e-1c7f0e6d2a11"


@pytest.fixture
def api_key(customer_a, branch, locations):
    customer_a.account_branch = branch
    customer_a.save(update_fields=["account_branch"])
    return partner_services.api_key_create(organisation=customer_a, name="ERP")


@pytest.fixture
def raw_key(api_key) -> str:
    return api_key[1]


@pytest.fixture
def payload(order_data):
    def make(**overrides):
        data = order_data()
        del data["customer_code"], data["branch_code"]
        return {**data, **overrides}

    return make


def post(client, raw_key: str, data, key: str | None = KEY, url: str = LIST_URL):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post(url, data, content_type="application/json", **headers)


def fingerprint(data, url: str = LIST_URL) -> str:
    return idempotency.request_fingerprint(cast(Request, SimpleNamespace(method="POST", path=url, data=data)))


def in_progress_row(api_key, data, *, locked_ago: datetime.timedelta) -> IdempotencyKey:
    now = timezone.now()
    return IdempotencyKey.objects.create(
        api_key=api_key[0], key=KEY, fingerprint=fingerprint(data), status=IdempotencyKeyStatus.IN_PROGRESS,
        locked_at=now - locked_ago, created_at=now - locked_ago, expires_at=now + idempotency.KEY_TTL,
    )  # fmt: skip


# --- Replay and mismatch -------------------------------------------------------------------------


def test_same_key_and_body_replays_the_response_and_creates_nothing(client, raw_key, payload):
    first = post(client, raw_key, payload())
    again = post(client, raw_key, payload())

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Order.objects.count() == 1
    row = IdempotencyKey.objects.get()
    assert (row.status, row.response_status) == (IdempotencyKeyStatus.COMPLETED, 201)
    assert row.expires_at - row.created_at >= datetime.timedelta(hours=24)


def test_formatting_and_key_order_of_the_body_do_not_matter(client, raw_key, payload):
    data = payload()
    reordered = dict(reversed(list(data.items())))

    first = post(client, raw_key, data)
    again = client.post(
        LIST_URL,
        json.dumps(reordered, indent=2),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw_key}",
        HTTP_IDEMPOTENCY_KEY=KEY,
    )

    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["reference"] == first.json()["reference"]


def test_same_key_with_a_different_body_is_422_and_changes_nothing(client, raw_key, payload):
    first = post(client, raw_key, payload())
    changed = payload()
    changed["lines"][0]["pieces"] = 21

    response = post(client, raw_key, changed)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Order.objects.get().pieces_total == first.json()["pieces_total"] == 20


def test_same_key_on_another_endpoint_is_422(client, raw_key, payload):
    reference = post(client, raw_key, payload()).json()["reference"]

    response = post(client, raw_key, payload(), url=detail_url(reference, "submit"))

    assert response.status_code == 422
    assert Order.objects.get().status == OrderStatus.DRAFT


def test_keys_belong_to_their_api_key(client, raw_key, payload, customer_a):
    other_key = partner_services.api_key_create(organisation=customer_a, name="Shop")[1]
    first = post(client, raw_key, payload())

    second = post(client, other_key, payload(customer_reference="PO-1002"))

    assert second.status_code == 201
    assert not second.has_header("Idempotent-Replayed")
    assert second.json()["reference"] != first.json()["reference"]
    assert IdempotencyKey.objects.filter(key=KEY).count() == 2


def test_session_requests_use_the_users_keys(client, ops_user, order_data):
    client.force_login(ops_user)
    responses = [
        client.post(LIST_URL, order_data(), content_type="application/json", HTTP_IDEMPOTENCY_KEY=KEY) for _ in range(2)
    ]

    assert [r.status_code for r in responses] == [201, 201]
    assert responses[1]["Idempotent-Replayed"] == "true"
    assert IdempotencyKey.objects.get().user == ops_user


def test_without_a_key_each_post_executes(client, raw_key, payload):
    post(client, raw_key, payload(), key=None)
    response = post(client, raw_key, payload(), key=None)

    assert response.status_code == 400  # the customer reference now exists: the second line of defence
    assert not IdempotencyKey.objects.exists()


# --- Bad keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["", "k" * 256, "schlüssel", "tab\there"])
def test_an_empty_overlong_or_non_ascii_key_is_a_400(client, raw_key, payload, key):
    response = post(client, raw_key, payload(), key=key)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_invalid"
    assert not Order.objects.exists()


def test_a_key_of_255_characters_is_fine(client, raw_key, payload):
    assert post(client, raw_key, payload(), key="k" * 255).status_code == 201


# --- What is stored ------------------------------------------------------------------------------


def test_validation_errors_are_not_stored_so_a_corrected_body_may_reuse_the_key(client, raw_key, payload):
    bad = post(client, raw_key, payload(origin="XXABC"))
    assert bad.status_code == 400
    assert not IdempotencyKey.objects.exists()

    good = post(client, raw_key, payload())

    assert good.status_code == 201
    assert IdempotencyKey.objects.get().status == IdempotencyKeyStatus.COMPLETED


def test_a_refused_transition_is_not_stored_and_a_retry_executes_again(client, raw_key, payload):
    reference = post(client, raw_key, payload(submit=True), key=None).json()["reference"]
    url = detail_url(reference, "submit")

    responses = [post(client, raw_key, {}, url=url) for _ in range(2)]

    assert [r.status_code for r in responses] == [409, 409]
    assert not responses[1].has_header("Idempotent-Replayed")
    assert not IdempotencyKey.objects.exists()


def test_a_transition_is_replayed_not_repeated(client, raw_key, payload):
    reference = post(client, raw_key, payload(), key=None).json()["reference"]
    url = detail_url(reference, "cancel")

    first = post(client, raw_key, {"reason": "Postponed"}, url=url)
    again = post(client, raw_key, {"reason": "Postponed"}, url=url)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again["Idempotent-Replayed"] == "true"
    assert OrderTransition.objects.filter(order__reference=reference).count() == 1


def test_an_unexpected_error_releases_the_key_so_the_retry_executes(client, raw_key, payload, monkeypatch):
    create = order_services.order_create

    def broken_create(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(order_services, "order_create", broken_create)
    with pytest.raises(RuntimeError):
        post(client, raw_key, payload())
    assert not IdempotencyKey.objects.exists()
    assert not Order.objects.exists()

    monkeypatch.setattr(order_services, "order_create", create)
    response = post(client, raw_key, payload())

    assert response.status_code == 201
    assert not response.has_header("Idempotent-Replayed")


# --- In progress, stale claims, takeover ---------------------------------------------------------


def test_a_retry_while_the_first_is_running_is_409_with_retry_after(client, api_key, raw_key, payload):
    in_progress_row(api_key, payload(), locked_ago=datetime.timedelta(seconds=5))

    response = post(client, raw_key, payload())

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_progress"
    assert response["Retry-After"] == "1"
    assert not Order.objects.exists()


def test_a_stale_claim_of_a_request_that_died_is_taken_over(client, api_key, raw_key, payload):
    in_progress_row(api_key, payload(), locked_ago=idempotency.LOCK_TIMEOUT + datetime.timedelta(seconds=1))

    response = post(client, raw_key, payload())

    assert response.status_code == 201
    assert Order.objects.count() == 1
    assert IdempotencyKey.objects.get().status == IdempotencyKeyStatus.COMPLETED


@pytest.mark.django_db(transaction=True)
def test_a_request_whose_claim_was_taken_over_rolls_its_work_back(client, raw_key, payload, monkeypatch):
    """The slow first request finishes after a retry took its stale claim: only the retry's work counts."""
    create = order_services.order_create

    def retry_takes_over_from_another_connection() -> None:
        try:
            IdempotencyKey.objects.update(locked_at=timezone.now() + datetime.timedelta(seconds=1))
        finally:
            connection.close()

    def create_then_lose_the_claim(**kwargs):
        order = create(**kwargs)
        thread = threading.Thread(target=retry_takes_over_from_another_connection)
        thread.start()
        thread.join()
        return order

    monkeypatch.setattr(order_services, "order_create", create_then_lose_the_claim)

    response = post(client, raw_key, payload())

    assert response.status_code == 409
    assert not Order.objects.exists()
    assert IdempotencyKey.objects.get().status == IdempotencyKeyStatus.IN_PROGRESS  # the retry's claim stays


def test_an_expired_key_counts_as_unused(client, api_key, raw_key, payload):
    row = in_progress_row(api_key, payload(customer_reference="OLD"), locked_ago=datetime.timedelta(days=2))
    IdempotencyKey.objects.filter(pk=row.pk).update(expires_at=timezone.now() - datetime.timedelta(hours=1))

    response = post(client, raw_key, payload())

    assert response.status_code == 201
    assert IdempotencyKey.objects.get().fingerprint == fingerprint(payload())


# --- Reaper --------------------------------------------------------------------------------------


def test_the_reaper_deletes_only_expired_keys(client, raw_key, payload):
    post(client, raw_key, payload(), key="old")
    post(client, raw_key, payload(customer_reference="PO-2"), key="fresh")
    IdempotencyKey.objects.filter(key="old").update(expires_at=timezone.now() - datetime.timedelta(seconds=1))

    assert delete_expired_idempotency_keys() == 1
    assert delete_expired_idempotency_keys() == 0  # safe to run twice
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]


def test_keys_live_at_least_24_hours():
    assert datetime.timedelta(hours=24) <= idempotency.KEY_TTL


def test_the_reaper_is_scheduled(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "partners.tasks.delete_expired_idempotency_keys" in tasks


# --- Concurrency (real threads, each with its own database connection) ---------------------------


def _post_from_thread(raw_key: str, data, key: str | None, barrier: threading.Barrier):
    try:
        barrier.wait(timeout=10)
        response = post(Client(), raw_key, data, key=key)
        return response.status_code, response.json(), response.headers.get("Idempotent-Replayed")
    finally:
        connection.close()


def _retry_until_settled(raw_key: str, data, key: str) -> tuple[int, dict]:
    for _ in range(100):
        response = post(Client(), raw_key, data, key=key)
        if response.status_code != 409:
            return response.status_code, response.json()
        time.sleep(float(response["Retry-After"]) / 10)
    raise AssertionError("the key stayed in progress")


@pytest.mark.django_db(transaction=True)
def test_parallel_duplicates_create_exactly_one_order(raw_key, payload, monkeypatch):
    """20 clients send the same key and body at once: one order; everyone else gets a replay or a 409
    (with Retry-After) that a retry turns into the replay."""
    create = order_services.order_create

    def slow_create(**kwargs):
        time.sleep(0.3)  # keep the first request running while the others arrive
        return create(**kwargs)

    monkeypatch.setattr(order_services, "order_create", slow_create)
    data, workers = payload(), 20
    barrier = threading.Barrier(workers)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda _: _post_from_thread(raw_key, data, KEY, barrier), range(workers)))

    statuses = sorted(status for status, _, _ in results)
    assert set(statuses) <= {201, 409}, statuses
    assert statuses.count(201) >= 1
    assert 409 in statuses, "the requests did not overlap; the test proves nothing"
    assert [replayed for status, _, replayed in results if status == 201].count(None) == 1  # one executed
    assert all(body["error"]["code"] == "idempotency_key_in_progress" for s, body, _ in results if s == 409)
    try:
        settled = [_retry_until_settled(raw_key, data, KEY) for status, _, _ in results if status == 409]
    finally:
        connection.close()
    references = {body["reference"] for status, body, _ in results if status == 201}
    references |= {body["reference"] for status, body in settled}
    assert all(status == 201 for status, _ in settled)
    assert len(references) == 1
    assert Order.objects.count() == 1
    assert IdempotencyKey.objects.get().status == IdempotencyKeyStatus.COMPLETED


@pytest.mark.django_db(transaction=True)
def test_parallel_different_keys_with_one_customer_reference_create_one_order(raw_key, payload):
    """The second line of defence: the (customer, customer_reference) constraint, whatever the keys."""
    data, workers = payload(), 6
    barrier = threading.Barrier(workers)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda n: _post_from_thread(raw_key, data, f"key-{n}", barrier), range(workers)))

    statuses = sorted(status for status, _, _ in results)
    assert statuses == [201] + [400] * (workers - 1)
    duplicates = [body["error"]["fields"] for status, body, _ in results if status == 400]
    assert all("already has an order with reference PO-1001" in f["customer_reference"][0] for f in duplicates)
    assert Order.objects.count() == 1
    assert IdempotencyKey.objects.count() == 1  # the 400s were released, not stored
