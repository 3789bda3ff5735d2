"""Duplicate deliveries create one order, also when they arrive at the same moment: real threads, real
connections, real commits (the issue: "Duplicate deliveries create one order")."""

from __future__ import annotations

import contextlib
import threading

import pytest
from django.db import connection

from orders import webhooks_generic, webhooks_shopify
from orders.models import Order, WebhookDelivery
from tests.orders.fixtures.imports import world
from tests.orders.test_webhooks import (
    SHOPIFY_ORDER,
    _body,
    _generic_post,
    _intake_order,
    _shopify_post,
    generic,
    shopify,
)

__all__ = ["generic", "shopify", "world"]  # the fixtures, used by name
pytestmark = pytest.mark.django_db(transaction=True)


def _both_checked_first(monkeypatch, module, name, *, may_go_alone_after: float | None = None):
    """Each thread's first call of `module`.`name` (as that module calls it) waits for the other's: both pass it
    before either goes on (a duplicate look-up: both checked before either writes). With `may_go_alone_after`, a
    thread whose partner cannot arrive (it waits on this one's row lock) goes on alone after that many seconds."""
    original = getattr(module, name)
    barrier = threading.Barrier(2)
    local = threading.local()

    def checked(*args, **kwargs):
        found = original(*args, **kwargs)
        if not getattr(local, "waited", False):
            local.waited = True
            if may_go_alone_after is None:
                barrier.wait(timeout=10)
            else:
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait(timeout=may_go_alone_after)
        return found

    monkeypatch.setattr(module, name, checked)


def _run_two(post):
    results = {}

    def attempt(i):
        try:
            results[i] = post(i)
        except Exception as exc:  # reported by the assertions
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_concurrent_generic_deliveries_of_one_order_create_it_once(generic, monkeypatch):
    _both_checked_first(monkeypatch, webhooks_generic, "_existing")
    body = _body(_intake_order("SO-RACE"))
    results = _run_two(lambda i: _generic_post(generic, body, msg_id=f"msg_{i}"))
    statuses = sorted(getattr(r, "status_code", repr(r)) for r in results.values())
    assert statuses == [200, 200], results
    assert sorted(r.json()["results"][0]["status"] for r in results.values()) == ["created", "duplicate"]
    assert Order.objects.filter(customer_reference="SO-RACE").count() == 1


def test_two_concurrent_shopify_deliveries_of_one_order_create_it_once(shopify, monkeypatch):
    _both_checked_first(monkeypatch, webhooks_shopify, "_delivered")
    body = _body(SHOPIFY_ORDER)
    results = _run_two(lambda i: _shopify_post(shopify, body, webhook_id=f"wh-{i}"))
    statuses = sorted(getattr(r, "status_code", repr(r)) for r in results.values())
    assert statuses == [200, 200], results
    assert Order.objects.count() == 1, list(Order.objects.values_list("customer_reference", flat=True))
    assert sorted(r.json()["status"] for r in results.values()) == ["created", "duplicate"]


def test_the_same_delivery_twice_at_once_creates_one_order(shopify):
    body = _body(SHOPIFY_ORDER)
    results = _run_two(lambda i: _shopify_post(shopify, body, webhook_id="wh-same"))
    statuses = sorted(getattr(r, "status_code", repr(r)) for r in results.values())
    assert statuses == [200, 200], results
    assert Order.objects.count() == 1
    assert WebhookDelivery.objects.count() == 1


def test_two_deliveries_of_the_same_orders_in_opposite_order_do_not_deadlock(generic, monkeypatch):
    """[A, B] and [B, A] at the same moment: each delivery creates its orders in the order of their references,
    so the second waits for the first's A instead of holding B while asking for A (a deadlock PostgreSQL would
    break with a 500). Each thread pauses after its first order, so without the ordering both hold one."""
    # The other may be waiting for our A.
    _both_checked_first(monkeypatch, webhooks_generic, "_create", may_go_alone_after=3)
    a, b = _intake_order("SO-A"), _intake_order("SO-B")
    bodies = {1: _body([a, b]), 2: _body([b, a])}
    results = _run_two(lambda i: _generic_post(generic, bodies[i], msg_id=f"msg_{i}"))
    statuses = sorted(getattr(r, "status_code", repr(r)) for r in results.values())
    assert statuses == [200, 200], results
    assert sorted(Order.objects.values_list("customer_reference", flat=True)) == ["SO-A", "SO-B"]
    second = results[2].json()["results"]
    assert [r["customer_reference"] for r in second] == ["SO-B", "SO-A"]  # answered in the order sent
