"""The orders REST API: create, validation errors, list, retrieve, update while draft, submit and cancel."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from orders import services as order_services
from orders.models import Channel, Order, OrderStatus, OrderTransition
from partners import services as partner_services
from partners.models import Role
from partners.scoping import Audience, Scope

LIST_URL = "/api/v1/orders/"


def detail_url(reference: str, action: str = "") -> str:
    return f"/api/v1/orders/{reference}/" + (f"{action}/" if action else "")


def bearer(raw_key: str) -> dict[str, Any]:  # Any: spread as **kwargs into the test client
    return {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}


@pytest.fixture
def customer_payload(order_data):
    """A customer's order: no customer or branch code (both implied by the key)."""

    def make(**overrides):
        data = order_data()
        del data["customer_code"], data["branch_code"]
        return {**data, **overrides}

    return make


def post(client, url: str, data, key: str, **headers):
    return client.post(url, data, content_type="application/json", **bearer(key), **headers)


def create(client, key: str, data) -> dict:
    response = post(client, LIST_URL, data, key)
    assert response.status_code == 201, response.json()
    return response.json()


# --- Create ---------------------------------------------------------------------------------------


def test_customer_key_creates_a_draft_for_its_own_organisation(client, acme_key, customer_payload):
    response = post(client, LIST_URL, customer_payload(), acme_key)

    assert response.status_code == 201
    body = response.json()
    order = Order.objects.get(reference=body["reference"])
    assert (order.customer.code, order.channel, order.status) == ("ACME", Channel.API, OrderStatus.DRAFT)
    assert order.created_by is None  # a key is no person; the history records the key
    assert body["customer_code"] == "ACME"
    assert body["branch_code"] == "HAM"
    assert body["status"] == "draft"
    assert body["channel"] == "api"
    assert body["lines"][0]["container_number"] == "CSQU3054383"
    assert body["lines"][0]["hs_code"] == "940542"
    assert body["lines"][0]["seal_numbers"] == "SEAL123"
    assert body["gross_weight_kg_total"] == "4200.500"
    assert body["chargeable_weight_kg"] == "4200.500"
    assert body["submitted_at"] is None
    assert [t["name"] for t in body["transitions"]] == ["submit", "cancel"]


def test_staff_key_creates_for_any_customer_and_can_create_it_submitted(client, staff_key, order_data, customer_b):
    response = post(client, LIST_URL, order_data(customer_code="GLOBEX", submit=True), staff_key)

    assert response.status_code == 201
    body = response.json()
    assert (body["customer_code"], body["status"]) == ("GLOBEX", "submitted")
    assert body["submitted_at"] is not None
    transition = OrderTransition.objects.get(order__reference=body["reference"])
    assert (transition.name, transition.channel, transition.api_key.name) == ("submit", "api", "Hamburg BI")


def test_session_staff_user_creates_and_is_recorded_as_creator(client, ops_user, order_data):
    client.force_login(ops_user)
    response = client.post(LIST_URL, order_data(), content_type="application/json")

    assert response.status_code == 201
    assert Order.objects.get(reference=response.json()["reference"]).created_by == ops_user


def test_session_requests_need_the_csrf_token(ops_user, order_data):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(ops_user)
    response = browser.post(LIST_URL, order_data(), content_type="application/json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not Order.objects.exists()


def test_customer_key_cannot_create_for_another_customer(client, acme_key, customer_payload, customer_b):
    response = post(client, LIST_URL, customer_payload(customer_code="GLOBEX"), acme_key)

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"customer_code": ["You can only place orders for ACME."]}
    assert not Order.objects.exists()


def test_partner_key_cannot_create(client, carrier, order_data, locations):
    _key, raw_key = partner_services.api_key_create(organisation=carrier, name="Carrier portal")
    response = post(client, LIST_URL, order_data(), raw_key)

    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "permission_denied",
        "message": "Only our staff and customers can place orders.",
        "fields": {},
    }


# --- Validation errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "message_part"),
    [
        ({"customer_reference": ""}, "customer_reference", "required"),
        ({"mode": "boat"}, "mode", "boat is not one of"),
        ({"incoterm": "FOB", "mode": "air", "lines": [{"pieces": 1, "gross_weight_kg": "5"}]}, "incoterm", "sea"),
        ({"origin": "XXABC"}, "origin", "not in our UN/LOCODE list"),
        ({"destination": "CNSHA"}, "destination", "must differ"),
        ({"requested_pickup_on": "31/02/2026"}, "requested_pickup_on", "not a date"),
        ({"requested_delivery_on": "2026-11-01"}, "requested_delivery_on", "before pickup"),
        ({"declared_value": "100"}, "currency", "currency"),
        ({"currency": "EURO", "declared_value": "1"}, "currency", "ISO 4217"),
        ({"lines": [], "submit": True}, "lines", "at least one cargo line"),
        ({"lines": {"pieces": 1, "gross_weight_kg": "5", "description": "LED lamps"}}, "lines", "as a list"),
        ({"lines": ["a pallet"]}, "lines[0]", "must be an object"),
        ({"lines": [{"pieces": 0, "gross_weight_kg": "1"}]}, "lines[0].pieces", "at least 1"),
        ({"lines": [{"pieces": 1, "gross_weight_kg": "-5"}]}, "lines[0].gross_weight_kg", "greater than zero"),
        ({"lines": [{"pieces": 1, "gross_weight_kg": "5", "hs_code": "9999"}]}, "lines[0].hs_code", ""),
        (
            {"lines": [{"pieces": 1, "gross_weight_kg": "5", "container_number": "CSQU3054384"}]},
            "lines[0].container_number",
            "",
        ),
        ({"lines": [{"pieces": 1, "gross_weight_kg": "5", "awb_number": "02012345675"}]}, "lines[0].awb_number", "air"),
        ({"lines": [{"pieces": 1, "gross_weight_kg": "5", "un_number": "1203"}]}, "lines[0].dg_class", "class"),
        ({"reference": "HAM-26-999999"}, "reference", "not part of an order"),
        ({"shipper_name": "Nul\u0000byte"}, "shipper_name", "NUL"),
        ({"submit": "yes"}, "submit", "true or false"),
    ],
)
def test_every_kind_of_validation_error_surfaces_with_its_field(
    client, acme_key, customer_payload, overrides, field, message_part
):
    response = post(client, LIST_URL, customer_payload(**overrides), acme_key)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"], error
    assert message_part in " ".join(error["fields"][field])
    assert error["message"].endswith("error.") or error["message"].endswith("errors.")
    assert not Order.objects.exists()


def test_all_errors_of_an_order_are_reported_at_once(client, acme_key, customer_payload):
    data = customer_payload(origin="XXABC", mode="boat")
    data["lines"][0]["hs_code"] = "9999"

    error = post(client, LIST_URL, data, acme_key).json()["error"]

    assert {"origin", "mode", "lines[0].hs_code"} <= set(error["fields"])
    assert error["message"] == f"The order has {sum(len(m) for m in error['fields'].values())} errors."


def test_status_is_never_writable(client, acme_key, customer_payload):
    response = post(client, LIST_URL, customer_payload(status="submitted"), acme_key)

    assert response.status_code == 400
    assert response.json()["error"]["fields"]["status"] == [
        "This field is not part of an order (state and references are set by OMS)."
    ]


def test_a_body_that_is_not_a_json_object_is_a_400(client, acme_key):
    response = post(client, LIST_URL, ["not", "an", "order"], acme_key)

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"non_field_errors": ["Send the order as a JSON object of fields."]}


def test_malformed_json_is_a_parse_error(client, acme_key):
    response = client.post(LIST_URL, "{oops", content_type="application/json", **bearer(acme_key))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_a_form_post_is_415(client, acme_key):
    response = client.post(LIST_URL, {"customer_reference": "X"}, **bearer(acme_key))

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_duplicate_customer_reference_is_a_400_naming_the_existing_order(client, acme_key, customer_payload):
    first = create(client, acme_key, customer_payload())

    response = post(client, LIST_URL, customer_payload(), acme_key)

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "customer_reference": [f"ACME already has an order with reference PO-1001 ({first['reference']})."]
    }
    assert Order.objects.count() == 1


# --- Retrieve ---------------------------------------------------------------------------------------


def test_retrieve_by_reference(client, acme_key, customer_payload):
    created = create(client, acme_key, customer_payload())

    response = client.get(detail_url(created["reference"]), **bearer(acme_key))

    assert response.status_code == 200
    assert response.json() == created


def test_unknown_reference_is_404_in_the_error_shape(client, acme_key):
    response = client.get(detail_url("HAM-26-999999"), **bearer(acme_key))

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}


def test_delete_is_not_allowed(client, acme_key, customer_payload):
    created = create(client, acme_key, customer_payload())

    response = client.delete(detail_url(created["reference"]), **bearer(acme_key))

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert Order.objects.filter(reference=created["reference"]).exists()


def test_no_credentials_is_401_in_the_error_shape(client, db):
    response = client.get(LIST_URL)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


# --- Update while draft -----------------------------------------------------------------------------


def patch(client, reference: str, data, key: str):
    return client.patch(detail_url(reference), data, content_type="application/json", **bearer(key))


def test_patch_changes_only_what_is_sent(client, acme_key, customer_payload):
    created = create(client, acme_key, customer_payload())

    response = patch(
        client, created["reference"], {"requested_pickup_on": "2026-12-03", "service_level": "express"}, acme_key
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["requested_pickup_on"], body["service_level"]) == ("2026-12-03", "express")
    assert body["lines"] == created["lines"]
    assert body["shipper_name"] == created["shipper_name"]
    order = Order.objects.get(reference=created["reference"])
    assert order.requested_pickup_on == datetime.date(2026, 12, 3)


def test_containers_on_an_air_order_are_a_400_on_each_field(client, acme_key, customer_payload):
    line = {
        "pieces": 2, "package_type": "PX", "gross_weight_kg": "340", "description": "Spare parts",
        "container_type": "45G1", "seal_numbers": ["SEAL1"],
    }  # fmt: skip
    response = post(client, LIST_URL, customer_payload(mode="air", incoterm="FCA", lines=[line]), acme_key)

    assert response.status_code == 400
    refused = ["Containers belong on Ocean FCL or Rail orders, not Air."]
    assert response.json()["error"]["fields"] == {"lines[0].container_type": refused, "lines[0].seal_numbers": refused}
    assert not Order.objects.exists()


def test_patching_an_fcl_order_to_lcl_names_the_containers_it_still_carries(client, acme_key, customer_payload):
    """The customer's own box has no place on an LCL order (the consolidator's box is planned on the shipment):
    changing the mode alone is refused, naming each field to clear, rather than keeping a 40' box on the order."""
    created = create(client, acme_key, customer_payload())

    response = patch(client, created["reference"], {"mode": "ocean_lcl"}, acme_key)

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert sorted(fields) == ["lines[0].container_number", "lines[0].container_type", "lines[0].seal_numbers"]
    assert fields["lines[0].container_type"] == [
        "Containers belong on Ocean FCL or Rail orders, not Ocean LCL: "
        "the consolidator's box is planned on the shipment."
    ]
    assert Order.objects.get(reference=created["reference"]).mode == "ocean_fcl"


def test_patch_with_lines_replaces_the_cargo(client, acme_key, customer_payload):
    created = create(client, acme_key, customer_payload())
    lines = [{"pieces": 2, "gross_weight_kg": "10"}, {"pieces": 3, "gross_weight_kg": "20", "description": "Spares"}]

    body = patch(client, created["reference"], {"lines": lines}, acme_key).json()

    assert [line["pieces"] for line in body["lines"]] == [2, 3]
    assert body["pieces_total"] == 5
    assert body["gross_weight_kg_total"] == "30.000"


def test_put_replaces_the_whole_order(client, staff_key, order_data):
    created = create(client, staff_key, order_data())
    replacement = order_data(customer_reference="PO-1002", shipper_name="Ningbo Sunpower Ltd.")

    response = client.put(
        detail_url(created["reference"]), replacement, content_type="application/json", **bearer(staff_key)
    )

    assert response.status_code == 200
    assert (response.json()["customer_reference"], response.json()["shipper_name"]) == (
        "PO-1002",
        "Ningbo Sunpower Ltd.",
    )


AIR_FCA = {
    "mode": "air", "incoterm": "FCA", "origin": "DEFRA", "destination": "USCHI",
    "lines": [{"pieces": 1, "gross_weight_kg": "5"}],
}  # fmt: skip


@pytest.mark.parametrize("method", ["patch", "put"])
@pytest.mark.parametrize(("change", "place"), [({"incoterm": "DAP"}, "Chicago"), ({"origin": "DEMUC"}, "München")])
def test_an_edit_derives_the_named_place_again_when_oms_derived_it(
    client, acme_key, customer_payload, method, change, place
):
    created = create(client, acme_key, customer_payload(**AIR_FCA))
    assert created["named_place"] == "Frankfurt am Main"  # derived from the origin (FCA): the client sent none
    fresh = create(client, acme_key, customer_payload(**(AIR_FCA | change), customer_reference="PO-FRESH"))
    assert fresh["named_place"] == place
    # A PUT sends back what it read, the derived place included (GET, change, PUT).
    body = change if method == "patch" else {name: created[name] for name in customer_payload()} | change

    response = getattr(client, method)(
        detail_url(created["reference"]), body, content_type="application/json", **bearer(acme_key)
    )

    assert response.status_code == 200, response.json()
    assert response.json()["named_place"] == place


def test_an_edit_keeps_a_named_place_the_client_gave(client, acme_key, customer_payload):
    created = create(client, acme_key, customer_payload(**AIR_FCA, named_place="Frankfurt Airport, CargoCity Süd"))

    body = patch(client, created["reference"], {"incoterm": "DAP", "origin": "DEMUC"}, acme_key).json()

    assert body["named_place"] == "Frankfurt Airport, CargoCity Süd"


def test_put_without_required_fields_reports_them(client, staff_key, order_data):
    created = create(client, staff_key, order_data())

    response = client.put(
        detail_url(created["reference"]),
        {"customer_code": "ACME"},
        content_type="application/json",
        **bearer(staff_key),
    )

    assert response.status_code == 400
    fields = set(response.json()["error"]["fields"])
    assert {"customer_reference", "mode", "origin", "destination", "requested_pickup_on"} <= fields
    assert "lines" not in fields  # a draft may have none yet (submitting needs one)


def test_update_validation_errors_name_their_fields(client, acme_key, customer_payload):
    created = create(client, acme_key, customer_payload())

    response = patch(client, created["reference"], {"origin": "XXABC", "status": "cancelled"}, acme_key)

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"origin", "status"}
    assert Order.objects.get(reference=created["reference"]).status == OrderStatus.DRAFT


def test_update_cannot_submit(client, acme_key, customer_payload):
    created = create(client, acme_key, customer_payload())

    response = patch(client, created["reference"], {"submit": True}, acme_key)

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"submit": ["To submit an order, POST to its submit/ action."]}


def test_update_is_refused_after_submit(client, acme_key, customer_payload):
    created = create(client, acme_key, customer_payload(submit=True))

    response = patch(client, created["reference"], {"requested_pickup_on": "2026-12-03"}, acme_key)

    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "conflict",
        "message": f"Only draft orders can be edited; {created['reference']} is submitted.",
        "fields": {},
    }
    assert Order.objects.get(reference=created["reference"]).requested_pickup_on == datetime.date(2026, 12, 1)


# --- Submit and cancel ------------------------------------------------------------------------------


def test_submit_hands_a_draft_to_operations(client, acme_key, customer_payload):
    created = create(client, acme_key, customer_payload())

    response = post(client, detail_url(created["reference"], "submit"), {}, acme_key)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "submitted"
    assert body["submitted_at"] is not None
    assert [t["name"] for t in body["transitions"]] == ["cancel"]
    transition = OrderTransition.objects.get(order__reference=created["reference"])
    assert (transition.source, transition.target, transition.channel) == ("draft", "submitted", "api")


def test_an_orders_transitions_are_every_one_the_caller_may_take_now(client, staff_key, order_factory):
    order = order_factory(submit=True)

    listed = client.get(detail_url(order.reference), **bearer(staff_key)).json()["transitions"]
    available = client.get(detail_url(order.reference, "transitions"), **bearer(staff_key)).json()
    confirmed = post(client, detail_url(order.reference, "confirm"), {}, staff_key).json()["transitions"]
    after_confirm = client.get(detail_url(order.reference, "transitions"), **bearer(staff_key)).json()

    assert listed == available
    assert {t["name"] for t in listed} >= {"confirm", "hold", "cancel"}
    assert confirmed == after_confirm
    assert {t["name"] for t in confirmed} >= {"plan", "hold", "cancel"}


def test_a_draft_without_incoterm_parties_or_cargo_is_created_and_submitted_once_complete(
    client, acme_key, customer_payload
):
    partial = customer_payload(incoterm="", shipper_name="", consignee_name="", description="", lines=[])
    created = create(client, acme_key, partial)
    assert (created["status"], created["lines"], created["shipper_name"], created["pieces_total"]) == (
        "draft", [], "", 0
    )  # fmt: skip
    submit = next(t for t in created["transitions"] if t["name"] == "submit")
    needs = "Before it can be submitted, the order needs the Incoterm, the shipper, the consignee and a cargo line"
    assert (submit["allowed"], submit["reason"].startswith(needs)) == (False, True)
    refused = post(client, detail_url(created["reference"], "submit"), {}, acme_key)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "transition_not_allowed")
    assert refused.json()["error"]["message"].startswith(needs)
    submitted_at_once = post(client, LIST_URL, {**partial, "customer_reference": "PO-2", "submit": True}, acme_key)
    assert set(submitted_at_once.json()["error"]["fields"]) == {"incoterm", "shipper_name", "consignee_name", "lines"}

    completed = patch(client, created["reference"], customer_payload(), acme_key)
    assert completed.status_code == 200, completed.json()

    assert post(client, detail_url(created["reference"], "submit"), {}, acme_key).json()["status"] == "submitted"


def test_submitting_twice_is_a_409_with_the_reason(client, acme_key, customer_payload):
    created = create(client, acme_key, customer_payload(submit=True))

    response = post(client, detail_url(created["reference"], "submit"), {}, acme_key)

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "transition_not_allowed"
    assert "submitted" in error["message"]
    assert OrderTransition.objects.filter(order__reference=created["reference"]).count() == 1


def test_cancel_records_the_reason(client, acme_key, customer_payload):
    created = create(client, acme_key, customer_payload())

    response = post(client, detail_url(created["reference"], "cancel"), {"reason": "Postponed"}, acme_key)

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["cancel_reason"], body["transitions"]) == ("cancelled", "Postponed", [])
    assert OrderTransition.objects.get(order__reference=created["reference"]).reason == "Postponed"


def test_cancel_needs_a_reason(client, acme_key, customer_payload):
    created = create(client, acme_key, customer_payload())

    response = post(client, detail_url(created["reference"], "cancel"), {}, acme_key)

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"reason": ["This field is required."]}
    assert Order.objects.get(reference=created["reference"]).status == OrderStatus.DRAFT


@pytest.mark.parametrize("action", ["submit", "cancel"])
def test_actions_on_a_cancelled_order_are_409(client, acme_key, customer_payload, action):
    created = create(client, acme_key, customer_payload())
    post(client, detail_url(created["reference"], "cancel"), {"reason": "Postponed"}, acme_key)

    response = post(client, detail_url(created["reference"], action), {"reason": "Again"}, acme_key)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "transition_not_allowed"


def test_a_transition_lost_to_a_concurrent_change_is_409_concurrent_change(
    client, acme_key, customer_payload, monkeypatch
):
    """The order changes between the view reading it and the service locking it."""
    from orders import lifecycle

    created = create(client, acme_key, customer_payload())
    apply = lifecycle.apply

    def apply_after_someone_else(order, name, **kwargs):
        Order.objects.filter(pk=order.pk).update(status=OrderStatus.CANCELLED)
        return apply(order, name, **kwargs)

    monkeypatch.setattr(lifecycle, "apply", apply_after_someone_else)

    response = post(client, detail_url(created["reference"], "submit"), {}, acme_key)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "concurrent_change"
    assert "changed meanwhile" in response.json()["error"]["message"]


# --- List -------------------------------------------------------------------------------------------


@pytest.fixture
def five_orders(client, staff_key, order_data, customer_b):
    """ACME: PO-1..3 (PO-3 air DEFRA→USNYC, submitted), GLOBEX: PO-4, PO-5; created oldest first."""
    air = {
        "mode": "air",
        "incoterm": "FCA",
        "origin": "DEFRA",
        "destination": "USNYC",
        "lines": [{"pieces": 1, "gross_weight_kg": "5", "description": "Spares"}],
    }
    specs: list[dict[str, Any]] = [
        {"customer_reference": "PO-1"},
        {"customer_reference": "PO-2"},
        {"customer_reference": "PO-3", "submit": True, **air},
        {"customer_reference": "PO-4", "customer_code": "GLOBEX"},
        {"customer_reference": "PO-5", "customer_code": "GLOBEX"},
    ]
    return [create(client, staff_key, order_data(**spec))["reference"] for spec in specs]


def list_orders(client, key: str, **params) -> dict:
    response = client.get(LIST_URL, params, **bearer(key))
    assert response.status_code == 200, response.json()
    return response.json()


def references(page: dict) -> list[str]:
    return [order["customer_reference"] for order in page["results"]]


def test_list_is_newest_first(client, staff_key, five_orders):
    assert references(list_orders(client, staff_key)) == ["PO-5", "PO-4", "PO-3", "PO-2", "PO-1"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "submitted"}, ["PO-3"]),
        ({"customer_code": "globex"}, ["PO-5", "PO-4"]),
        ({"mode": "air"}, ["PO-3"]),
        ({"origin": "DEFRA"}, ["PO-3"]),
        ({"destination": "deham"}, ["PO-5", "PO-4", "PO-2", "PO-1"]),
        ({"customer_reference": "PO-2"}, ["PO-2"]),
        ({"status": "draft", "customer_code": "ACME"}, ["PO-2", "PO-1"]),
    ],
)
def test_list_filters(client, staff_key, five_orders, params, expected):
    assert references(list_orders(client, staff_key, **params)) == expected


def test_list_filters_by_creation_time(client, staff_key, five_orders):
    middle = Order.objects.get(customer_reference="PO-3").created_at
    after = list_orders(client, staff_key, created_after=middle.isoformat())
    before = list_orders(client, staff_key, created_before=middle.isoformat())

    assert references(after) == ["PO-5", "PO-4", "PO-3"]
    assert references(before) == ["PO-2", "PO-1"]


def test_a_bad_filter_value_is_a_400(client, staff_key, five_orders):
    response = client.get(LIST_URL, {"status": "shipped", "created_after": "yesterday"}, **bearer(staff_key))

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"status", "created_after"}


def test_cursor_pagination_walks_every_order_once(client, staff_key, five_orders):
    page = list_orders(client, staff_key, page_size=2)
    seen = references(page)
    while page["next"]:
        response = client.get(page["next"], **bearer(staff_key))
        page = response.json()
        seen += references(page)

    assert seen == ["PO-5", "PO-4", "PO-3", "PO-2", "PO-1"]
    assert set(page) == {"next", "previous", "results"}  # no COUNT(*): deep pages cost what the first does


def test_an_invalid_cursor_is_a_404(client, staff_key, five_orders):
    response = client.get(LIST_URL, {"cursor": "garbage"}, **bearer(staff_key))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def _orders_for_acme(count: int) -> None:
    """`count` ACME draft orders with a line and a container each, straight through the service."""
    staff = Scope(Audience.STAFF, frozenset(), frozenset({Role.OPERATIONS}))
    base = {
        "customer_code": "ACME",
        "branch_code": "HAM",
        "mode": "ocean_fcl",
        "incoterm": "FOB",
        "origin": "CNSHA",
        "destination": "DEHAM",
        "shipper_name": "Shipper",
        "consignee_name": "Consignee",
        "requested_pickup_on": "2026-12-01",
        "lines": [{"pieces": 1, "gross_weight_kg": "5", "description": "Goods", "container_number": "CSQU3054383"}],
    }
    for number in range(count):
        order_services.order_create(
            data={**base, "customer_reference": f"Q-{number}"}, scope=staff, channel=Channel.API
        )


@pytest.mark.parametrize("page_size", [5, 50])
def test_list_runs_a_constant_number_of_queries(
    client, acme_key, django_assert_max_num_queries, page_size, branch, customer_a
):
    _orders_for_acme(50)
    list_orders(client, acme_key)  # warm: the key's last_used_at update happens once a minute

    # API key 1; rate limit 8 (the key's advisory lock and its release 2, the database cache 6: read; count,
    # savepoint, read, write, release); orders with customer and branch 1, lines 1, equipment 1. The same for 5
    # orders and for 50.
    with django_assert_max_num_queries(12):
        page = list_orders(client, acme_key, page_size=page_size)

    assert len(page["results"]) == page_size
    assert all(order["lines"] for order in page["results"])


def test_created_timestamps_are_timezone_aware_iso(client, acme_key, customer_payload):
    created = create(client, acme_key, customer_payload())
    parsed = datetime.datetime.fromisoformat(created["created_at"])
    assert parsed.tzinfo is not None
    assert abs(parsed - timezone.now()) < datetime.timedelta(minutes=1)


def test_the_reverse_names_resolve(db):
    assert reverse("api-order-list") == LIST_URL
    assert reverse("api-order-submit", args=["HAM-26-000001"]) == detail_url("HAM-26-000001", "submit")
