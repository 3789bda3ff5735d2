"""A replay is the first response byte for byte, and keys stored before still replay."""

from __future__ import annotations

import json

import pytest

from partners import services as partner_services
from partners.models import IdempotencyKey, IdempotencyKeyStatus
from tests.orders.test_api import LIST_URL, detail_url

KEY = "6f1d2c7e-0b7a-4e7b-a2a8-5d9a1c3e4f60"


@pytest.fixture
def raw_key(customer_a, branch, locations) -> str:
    customer_a.account_branch = branch
    customer_a.save(update_fields=["account_branch"])
    return partner_services.api_key_create(organisation=customer_a, name="ERP")[1]


@pytest.fixture
def payload(order_data):
    data = order_data()
    del data["customer_code"], data["branch_code"]
    return data


def post(client, raw_key: str, data, url: str = LIST_URL):
    return client.post(
        url, data, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw_key}", HTTP_IDEMPOTENCY_KEY=KEY
    )


def test_a_replayed_create_is_byte_identical(client, raw_key, payload):
    first = post(client, raw_key, payload)
    again = post(client, raw_key, payload)

    assert again["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert list(json.loads(first.content)) == list(json.loads(again.content))  # key order too


def test_a_replayed_transition_is_byte_identical(client, raw_key, payload):
    reference = client.post(
        LIST_URL, payload, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw_key}"
    ).json()["reference"]
    first = post(client, raw_key, {}, url=detail_url(reference, "submit"))
    again = post(client, raw_key, {}, url=detail_url(reference, "submit"))

    assert (first.status_code, again["Idempotent-Replayed"]) == (200, "true")
    assert again.content == first.content


def test_a_key_stored_as_a_json_object_before_still_replays(client, raw_key, payload):
    first = post(client, raw_key, payload)
    stored = IdempotencyKey.objects.get(key=KEY)
    assert stored.status == IdempotencyKeyStatus.COMPLETED
    IdempotencyKey.objects.filter(pk=stored.pk).update(response_body=first.json())  # as rows were written before

    again = post(client, raw_key, payload)

    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
