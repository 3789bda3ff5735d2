"""The orders API and lost updates: GET, PUT and PATCH answer with the order's version as ETag; PUT and PATCH
with If-Match change only that version (412 otherwise, in the one error shape); without If-Match they work as
before, and a PATCH never puts back a field someone else changed while it waited for the order's lock."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection

from orders import services
from orders.models import Channel, Order
from partners.scoping import scope_for_user
from tests.orders.test_api import bearer, create, detail_url, post
from tests.workflows.places import create_places


def put(client, reference: str, data: dict, key: str, **headers):
    return client.put(detail_url(reference), data, content_type="application/json", **bearer(key), **headers)


def patch(client, reference: str, data: dict, key: str, **headers):
    return client.patch(detail_url(reference), data, content_type="application/json", **bearer(key), **headers)


def if_match(value: str) -> dict[str, str]:
    return {"HTTP_IF_MATCH": value}


def etag_of(reference: str) -> str:
    return f'"{services.order_version(Order.objects.get(reference=reference))}"'


def staff_edit(reference: str, user: Any, **changes: Any) -> Order:
    """A colleague saves the order on the staff screen."""
    order = Order.objects.get(reference=reference)
    return services.order_update(
        order=order, data={**services.order_as_data(order), **changes}, scope=scope_for_user(user), by=user,
        channel=Channel.SCREEN,
    )  # fmt: skip


@pytest.fixture
def draft(client, staff_key, order_data) -> dict:
    return create(client, staff_key, order_data())


# --- ETag -------------------------------------------------------------------------------------------------------


def test_get_answers_with_the_orders_version_as_etag(client, staff_key, draft):
    response = client.get(detail_url(draft["reference"]), **bearer(staff_key))

    assert response["ETag"] == etag_of(draft["reference"])


@pytest.mark.parametrize("send", [put, patch])
def test_a_change_answers_with_the_new_version(client, staff_key, draft, order_data, send):
    before = etag_of(draft["reference"])

    response = send(client, draft["reference"], order_data(shipper_name="Ningbo Sunpower Ltd."), staff_key)

    assert response.status_code == 200
    assert response["ETag"] == etag_of(draft["reference"]) != before


def test_creation_and_transitions_answer_with_the_version_too(client, staff_key, order_data):
    created = post(client, "/api/v1/orders/", order_data(), staff_key)
    reference = created.json()["reference"]
    submitted = post(client, detail_url(reference, "submit"), {}, staff_key)

    assert created["ETag"] != submitted["ETag"] == etag_of(reference)


# --- If-Match ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("send", [put, patch])
def test_a_change_with_the_current_etag_is_saved(client, staff_key, draft, order_data, send):
    etag = client.get(detail_url(draft["reference"]), **bearer(staff_key))["ETag"]

    response = send(client, draft["reference"], order_data(shipper_name="Ningbo"), staff_key, **if_match(etag))

    assert response.status_code == 200
    assert Order.objects.get(reference=draft["reference"]).shipper_name == "Ningbo"


@pytest.mark.parametrize("send", [put, patch])
def test_a_change_with_an_older_etag_is_412_and_saves_nothing(client, staff_key, draft, order_data, ops_user, send):
    etag = client.get(detail_url(draft["reference"]), **bearer(staff_key))["ETag"]
    staff_edit(draft["reference"], ops_user, consignee_name="Globex Retail")

    response = send(client, draft["reference"], order_data(shipper_name="Ningbo"), staff_key, **if_match(etag))

    assert response.status_code == 412
    error = response.json()["error"]
    assert (error["code"], error["fields"]) == ("precondition_failed", {})
    assert error["message"].startswith(f"{draft['reference']} was changed since you opened it: {ops_user.full_name}")
    assert error["message"].endswith("GET the order for its current data and ETag, then send your change again.")
    saved = Order.objects.get(reference=draft["reference"])
    assert (saved.consignee_name, saved.shipper_name) == ("Globex Retail", "Shanghai Bright Lighting Co.")
    assert "ETag" not in response  # the current version is for a client that has read the current data


@pytest.mark.parametrize("send", [put, patch])
def test_a_change_without_if_match_is_saved_as_before(client, staff_key, draft, order_data, ops_user, send):
    staff_edit(draft["reference"], ops_user, consignee_name="Globex Retail")

    response = send(client, draft["reference"], order_data(shipper_name="Ningbo"), staff_key)

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("*", 200),  # any current version
        ('"19990101T000000.000000Z", {etag}', 200),  # one of them is current
        ("W/{etag}", 412),  # a weak tag never matches a change
        ("{bare}", 412),  # not an entity tag: quotes are part of it
    ],
)
def test_if_match_follows_rfc_9110(client, staff_key, draft, header, status):
    etag = etag_of(draft["reference"])

    response = patch(
        client, draft["reference"], {"notify_name": "X"}, staff_key,
        **if_match(header.format(etag=etag, bare=etag.strip('"'))),
    )  # fmt: skip

    assert response.status_code == status
    if status == 412:
        assert "If-Match names no version of this order" in response.json()["error"]["message"]


def test_a_stale_if_match_is_412_before_the_body_is_looked_at(client, staff_key, draft, ops_user):
    etag = etag_of(draft["reference"])
    staff_edit(draft["reference"], ops_user, consignee_name="Globex Retail")

    response = patch(client, draft["reference"], {"submit": True}, staff_key, **if_match(etag))  # a 400 otherwise

    assert response.status_code == 412


def test_a_submitted_order_is_409_with_a_current_etag(client, staff_key, draft):
    etag = etag_of(draft["reference"])
    post(client, detail_url(draft["reference"], "submit"), {}, staff_key)

    response = patch(
        client, draft["reference"], {"notify_name": "X"}, staff_key, **if_match(etag_of(draft["reference"]))
    )
    stale = patch(client, draft["reference"], {"notify_name": "X"}, staff_key, **if_match(etag))

    assert response.status_code == 409
    assert stale.status_code == 412  # the precondition comes before the action (RFC 9110 §13.2.1)


# --- Customers --------------------------------------------------------------------------------------------------


@pytest.fixture
def customer_draft(client, acme_key, order_data) -> dict:
    data = order_data()
    del data["customer_code"], data["branch_code"]
    return create(client, acme_key, data)


def test_a_customer_key_gets_the_same_precondition_and_learns_no_staff_names(
    client, acme_key, customer_draft, ops_user
):
    etag = client.get(detail_url(customer_draft["reference"]), **bearer(acme_key))["ETag"]
    staff_edit(customer_draft["reference"], ops_user, consignee_name="Globex Retail")

    stale = patch(client, customer_draft["reference"], {"notify_name": "X"}, acme_key, **if_match(etag))
    current = patch(
        client,
        customer_draft["reference"],
        {"notify_name": "X"},
        acme_key,
        **if_match(etag_of(customer_draft["reference"])),
    )

    assert stale.status_code == 412
    assert "the OMS team saved it on" in stale.json()["error"]["message"]
    assert ops_user.email not in stale.json()["error"]["message"]
    assert current.status_code == 200
    assert current.json()["consignee_name"] == "Globex Retail"  # the PATCH left it as the colleague saved it
    assert current.json()["branch_code"] == "HAM"


def test_a_signed_in_customer_gets_the_same_precondition(login, customer_a_user, customer_draft, ops_user):
    client = login(customer_a_user)
    etag = client.get(detail_url(customer_draft["reference"]))["ETag"]
    staff_edit(customer_draft["reference"], ops_user, consignee_name="Globex Retail")

    response = client.patch(
        detail_url(customer_draft["reference"]), {"notify_name": "X"}, content_type="application/json",
        **if_match(etag),
    )  # fmt: skip

    assert response.status_code == 412
    assert response.json()["error"]["code"] == "precondition_failed"


def test_another_customers_order_stays_a_404_whatever_if_match_says(client, customer_b, order_data, staff_key):
    from partners import services as partner_services

    globex_key = partner_services.api_key_create(organisation=customer_b, name="Globex ERP")[1]
    acme_order = create(client, staff_key, order_data())

    response = patch(client, acme_order["reference"], {"notify_name": "X"}, globex_key, **if_match("*"))

    assert response.status_code == 404


# --- Cost --------------------------------------------------------------------------------------------------------


def test_a_patch_with_if_match_runs_a_bounded_number_of_queries(
    client, acme_key, customer_draft, django_assert_max_num_queries
):
    reference = customer_draft["reference"]
    patch(client, reference, {"notify_name": "warm"}, acme_key)  # the key's last_used_at is written once a minute
    current = if_match(etag_of(reference))

    # Key 1; rate limit 8 (its advisory lock 2, the cache 6); the order with customer and branch 1; If-Match 0 (the
    # version is on the row). In the transaction: savepoint 1, lock with customer and branch 1, the cargo merged
    # onto 2, validation 3, save 3, the cargo rewritten 6 (with the house-line check of the delete), release 1. The
    # answer: cargo 2, transitions 2.
    # 31 (29 before the rate limit's lock); before If-Match and the merge under the lock, the same PATCH without
    # If-Match ran 32.
    with django_assert_max_num_queries(31):
        response = patch(client, reference, {"notify_name": "X"}, acme_key, **current)

    assert response.status_code == 200


# --- Races (real threads and commits) ---------------------------------------------------------------------------


@pytest.fixture
def locations(db) -> None:
    """Overrides the demo set of 394 places: these tests need two."""
    create_places()


@pytest.fixture
def colleague_saving_slowly(monkeypatch, ops_user):
    """`save(reference, **changes)`: a colleague's screen save in another thread that holds the order's row lock
    for a moment; returns once the lock is held (and the thread, to join)."""

    def save(reference: str, **changes: Any) -> threading.Thread:
        locked = threading.Event()
        write_lines = services._write_lines

        def slow(order: Order, clean: Any) -> None:
            if threading.current_thread() is thread and not locked.is_set():
                locked.set()
                time.sleep(0.4)
            write_lines(order, clean)

        def run() -> None:
            try:
                staff_edit(reference, ops_user, **changes)
            finally:
                connection.close()

        monkeypatch.setattr(services, "_write_lines", slow)
        thread = threading.Thread(target=run)
        thread.start()
        assert locked.wait(timeout=10)
        return thread

    return save


@pytest.mark.django_db(transaction=True)
def test_a_patch_racing_another_edit_does_not_put_back_the_field_that_edit_changed(
    client, acme_key, customer_draft, colleague_saving_slowly
):
    reference = customer_draft["reference"]
    colleague = colleague_saving_slowly(reference, consignee_name="Globex Retail")

    response = patch(client, reference, {"requested_pickup_on": "2026-12-03"}, acme_key)  # reads, then waits
    colleague.join(timeout=30)

    assert response.status_code == 200
    saved = Order.objects.get(reference=reference)
    assert (str(saved.requested_pickup_on), saved.consignee_name) == ("2026-12-03", "Globex Retail")
    assert response.json()["consignee_name"] == "Globex Retail"


@pytest.mark.django_db(transaction=True)
def test_if_match_is_checked_again_under_the_lock(client, acme_key, customer_draft, colleague_saving_slowly):
    """The If-Match read before the colleague's save commits is current when the request checks it first;
    the service's check under the row lock is what refuses it."""
    reference = customer_draft["reference"]
    etag = etag_of(reference)
    colleague = colleague_saving_slowly(reference, consignee_name="Globex Retail")

    body = services.order_as_data(Order.objects.get(reference=reference))  # as read before the colleague's commit
    del body["branch_code"]  # customers do not name one
    response = put(client, reference, {**body, "notify_name": "X"}, acme_key, **if_match(etag))
    colleague.join(timeout=30)

    assert response.status_code == 412
    saved = Order.objects.get(reference=reference)
    assert (saved.consignee_name, saved.notify_name) == ("Globex Retail", "")
