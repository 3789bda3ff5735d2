"""An edit that changes nothing keeps the order as it was: its branch, its boxes, their types and seals."""

from __future__ import annotations

import re

import pytest

from orders import services
from orders.models import Channel, Equipment, Order
from partners.models import OrganisationKind
from partners.scoping import scope_for_user
from tests.factories import OrganisationFactory
from tests.orders.test_api import LIST_URL, create, detail_url, post
from tests.orders.test_views_entry import LINE, NEW, field_errors, form_post

ONE = {"pieces": 1, "gross_weight_kg": "10", "description": "Spare parts"}
BOX = {**ONE, "container_number": "CSQU3054383", "container_type": "45G1"}


def boxes(order: Order) -> list[tuple[str, str, list[str]]]:
    return [
        (b.container_number, b.iso_type, b.seal_numbers) for b in Equipment.objects.filter(order=order).order_by("id")
    ]


@pytest.fixture
def customer_order_data(order_data):
    def make(**overrides):
        data = order_data(**overrides)
        del data["customer_code"], data["branch_code"]
        return data

    return make


def patch(client, reference: str, data, key: str):
    return client.patch(
        detail_url(reference), data, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )


def resave(order: Order, user) -> Order:
    data = services.order_as_data(Order.objects.get(pk=order.pk))
    return services.order_update(order=order, data=data, scope=scope_for_user(user), by=user, channel=Channel.SCREEN)


# --- Seals of a container named on several lines ---------------------------------------------------


def test_a_no_op_patch_keeps_every_seal_of_a_shared_container(client, acme_key, customer_order_data):
    lines = [{**BOX, "seal_numbers": "S1,S2,S3"}, {**BOX, "seal_numbers": "S4,S5,S6"}]
    reference = create(client, acme_key, customer_order_data(lines=lines))["reference"]
    order = Order.objects.get(reference=reference)
    before = boxes(order)

    response = patch(client, reference, {"special_instructions": "Call first"}, acme_key)

    assert response.status_code == 200, response.json()
    assert before == boxes(order) == [("CSQU3054383", "45G1", ["S1", "S2", "S3", "S4", "S5", "S6"])]


def test_order_as_data_spreads_a_containers_seals_over_its_lines(order_factory):
    lines = [{**BOX, "seal_numbers": "S1,S2,S3"}, {**BOX, "seal_numbers": "S4,S5,S6"}, ONE]
    data = services.order_as_data(order_factory(lines=lines))
    assert [line["seal_numbers"] for line in data["lines"]] == ["S1, S2, S3, S4, S5", "S6", ""]
    assert [line["container_type"] for line in data["lines"]] == ["45G1", "45G1", ""]


# --- Typed containers without a number --------------------------------------------------------------


def test_a_no_op_edit_keeps_typed_unnumbered_containers(order_factory, ops_user):
    lines = [{**ONE, "container_type": "22G1", "seal_numbers": "S1"}, ONE, {**ONE, "container_type": "45R1"}, BOX]
    order = order_factory(lines=lines)
    before = boxes(order)
    assert len(before) == 3

    resave(order, ops_user)

    assert sorted(boxes(order)) == sorted(before)


def test_a_no_op_patch_keeps_a_typed_unnumbered_container(client, acme_key, customer_order_data):
    reference = create(client, acme_key, customer_order_data(lines=[{**ONE, "container_type": "22G1"}]))["reference"]

    response = patch(client, reference, {"special_instructions": "Call first"}, acme_key)

    assert response.status_code == 200
    assert boxes(Order.objects.get(reference=reference)) == [("", "22G1", [])]


def test_the_edit_form_shows_the_type_of_an_unnumbered_container(login, ops_user, order_factory):
    order = order_factory(lines=[{**ONE, "container_type": "22G1"}])
    page = login(ops_user).get(f"/orders/{order.reference}/edit/")
    field = re.search(rb'<input[^>]*name="lines-0-container_type"[^>]*>', page.content).group(0)
    assert b'value="22G1"' in field


# --- Duplicating keeps the boxes --------------------------------------------------------------------


def test_duplicating_keeps_one_box_per_box_of_the_source(order_factory, ops_user):
    lines = [BOX, {**BOX, "description": "Lamps"}, {**ONE, "container_type": "22G1"}, {**ONE, "container_type": "22G1"}]
    source = order_factory(lines=lines)
    data = services.order_duplicate_data(order=source) | {
        "customer_reference": "PO-DUP",
        "requested_pickup_on": "2026-12-20",
    }

    copy = services.order_create(data=data, scope=scope_for_user(ops_user), by=ops_user, channel=Channel.SCREEN)

    assert sorted(boxes(copy)) == [("", "22G1", []), ("", "22G1", []), ("", "45G1", [])]
    assert len(boxes(source)) == 3


# --- Branch -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["patch", "put"])
def test_a_customer_edit_keeps_the_branch_staff_chose(
    client, acme_key, staff_key, order_data, customer_order_data, method
):
    OrganisationFactory(code="SHA", name="OMS Shanghai", kinds=[OrganisationKind.BRANCH])
    reference = create(client, staff_key, order_data(branch_code="SHA"))["reference"]

    if method == "patch":
        response = patch(client, reference, {"special_instructions": "Call first"}, acme_key)
    else:
        response = client.put(
            detail_url(reference), customer_order_data(), content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {acme_key}",
        )  # fmt: skip

    assert response.status_code == 200, response.json()
    assert Order.objects.get(reference=reference).branch.code == "SHA"


@pytest.mark.parametrize("method", ["patch", "put"])
def test_a_customer_still_cannot_name_another_branch_on_edit(client, acme_key, customer_order_data, method):
    OrganisationFactory(code="SHA", name="OMS Shanghai", kinds=[OrganisationKind.BRANCH])
    reference = create(client, acme_key, customer_order_data())["reference"]
    body = {"branch_code": "SHA"} if method == "patch" else {**customer_order_data(), "branch_code": "SHA"}
    response = getattr(client, method)(
        detail_url(reference), body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {acme_key}"
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"branch_code": ["Only our staff choose the handling branch."]}
    assert Order.objects.get(reference=reference).branch.code == "HAM"


@pytest.mark.parametrize("method", ["patch", "put"])
def test_a_customer_may_send_back_its_orders_own_branch(client, acme_key, customer_order_data, method):
    """GET, change, PUT: the order as read names its branch, which the customer did not choose and does not change."""
    reference = create(client, acme_key, customer_order_data())["reference"]
    read = client.get(detail_url(reference), HTTP_AUTHORIZATION=f"Bearer {acme_key}").json()
    assert read["branch_code"] == "HAM"
    written = {name: read[name] for name in customer_order_data()} | {"branch_code": " ham ", "notify_name": "Ops"}
    body = {"branch_code": "HAM", "notify_name": "Ops"} if method == "patch" else written

    response = getattr(client, method)(
        detail_url(reference), body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {acme_key}"
    )

    assert response.status_code == 200, response.json()
    order = Order.objects.get(reference=reference)
    assert (order.branch.code, order.notify_name) == ("HAM", "Ops")


def test_a_customer_may_clone_an_order_it_read_naming_its_own_branch(client, acme_key, customer_order_data):
    """GET, then POST under a new reference: the body names the account branch the new order gets anyway."""
    reference = create(client, acme_key, customer_order_data())["reference"]
    read = client.get(detail_url(reference), HTTP_AUTHORIZATION=f"Bearer {acme_key}").json()
    clone = {name: read[name] for name in customer_order_data()} | {"branch_code": read["branch_code"]}

    response = post(client, LIST_URL, {**clone, "customer_reference": "PO-1002"}, acme_key)

    assert response.status_code == 201, response.json()
    assert Order.objects.get(reference=response.json()["reference"]).branch.code == "HAM"


def test_a_customer_clone_still_cannot_name_another_branch(client, acme_key, customer_order_data):
    OrganisationFactory(code="SHA", name="OMS Shanghai", kinds=[OrganisationKind.BRANCH])
    response = post(client, LIST_URL, {**customer_order_data(), "branch_code": "SHA"}, acme_key)
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"branch_code": ["Only our staff choose the handling branch."]}
    assert not Order.objects.exists()


def test_staff_may_still_move_an_order_to_another_branch(client, staff_key, order_data):
    OrganisationFactory(code="SHA", name="OMS Shanghai", kinds=[OrganisationKind.BRANCH])
    reference = create(client, staff_key, order_data())["reference"]
    assert patch(client, reference, {"branch_code": "SHA"}, staff_key).status_code == 200
    assert Order.objects.get(reference=reference).branch.code == "SHA"


# --- The staff form refuses NUL as the API does -----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "error_id"), [("shipper_address", "shipper_address"), ("lines-0-description", "lines-0-description")]
)
def test_the_form_shows_intakes_nul_message_and_saves_nothing(
    login, ops_user, locations, customer_a, branch, name, error_id
):
    data = form_post(lines=(LINE,))
    data[name] = "Room 1\x00 Shanghai"

    response = login(ops_user).post(NEW, data)

    assert response.status_code == 422
    assert not Order.objects.exists()
    assert field_errors(response)[error_id] == "Contains a NUL character; remove it."


def test_the_api_refuses_the_same_nul(client, staff_key, order_data):
    response = post(client, LIST_URL, order_data(shipper_address="Room 1\x00 Shanghai"), staff_key)
    assert response.status_code == 400
    assert not Order.objects.exists()
