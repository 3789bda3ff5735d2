"""RELIABILITY.md F1 (b) and (f) for the signed generic order intake (Standard Webhooks): a body changed by one byte,
or re-serialised, does not verify, and nothing of it is stored; the same body as signed does."""

from __future__ import annotations

import json
import time

import pytest

from orders.models import Order, WebhookDelivery
from tests.orders.fixtures.imports import order_row, world
from tests.orders.test_webhooks import _body, _generic_post, _sign, generic

__all__ = ["generic", "world"]


def _payload() -> dict:
    row = order_row("ERP-1")
    lines = [{"pieces": row.pop("pieces"), "gross_weight_kg": row.pop("gross_weight_kg")}]
    row.pop("customer_code")  # implied by the integration
    return {**row, "lines": lines}


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body: body.replace(b"ERP-1", b"ERP-2"),
        lambda body: json.dumps(json.loads(body), indent=1, sort_keys=True).encode(),
    ],
    ids=["one byte changed", "re-serialised"],
)
def test_a_body_other_than_the_signed_bytes_is_401_and_nothing_is_stored(generic, tamper):
    signed = _body(_payload())
    timestamp = str(int(time.time()))  # fresh: only the body is wrong
    signature = _sign(generic.secret, "msg_1", timestamp, signed)
    sent = tamper(signed)
    assert sent != signed

    response = _generic_post(generic, sent, timestamp=int(timestamp), signature=signature)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert not WebhookDelivery.objects.exists()
    assert not Order.objects.exists()
    assert _generic_post(generic, signed, timestamp=int(timestamp), signature=signature).status_code == 200


def test_the_signed_bytes_themselves_create_the_order(generic):
    response = _generic_post(generic, _body(_payload()))
    assert response.status_code == 200, response.json()
    assert list(Order.objects.values_list("customer_reference", flat=True)) == ["ERP-1"]
