"""A customer's reference names one order whatever its case: "PO-123" and "po-123" of one customer are the same order,
on every channel, and the database refuses the second (docs/decisions/0002, "Customer references without case")."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction

from orders import bulk, services
from orders.errors import OrderValidationError
from orders.imports import service
from orders.models import Channel, ImportJob, ImportMode, Order
from partners.scoping import scope_for_user
from tests.orders.fixtures.imports import csv_bytes, errors_of, import_file, order_row, world
from tests.orders.test_webhooks import _body, _generic_post, _intake_order, generic

__all__ = ["generic", "world"]

LIST_URL = "/api/v1/orders/"
case_check = importlib.import_module("orders.migrations.0017_customer_reference_case_insensitive")


def test_the_database_refuses_a_second_order_whose_reference_differs_only_in_case(order_factory):
    order = Order.objects.get(pk=order_factory(customer_reference="PO-123").pk)
    order.pk, order.reference, order.customer_reference = None, "HAM-26-999999", "po-123"
    with pytest.raises(IntegrityError, match="order_customer_reference_unique"), transaction.atomic():
        order.save()


def test_the_reference_is_kept_as_typed(order_factory):
    assert Order.objects.get(pk=order_factory(customer_reference="po-Mixed-7").pk).customer_reference == "po-Mixed-7"


def test_a_second_order_in_another_case_is_refused_naming_the_first(order_factory):
    first = order_factory(customer_reference="PO-123")
    with pytest.raises(OrderValidationError) as refused:
        order_factory(customer_reference="po-123")
    assert refused.value.errors == {
        "customer_reference": [f"ACME already has an order with reference PO-123 ({first.reference})."]
    }
    assert Order.objects.count() == 1


def test_another_customer_may_use_the_same_reference_in_any_case(order_factory, customer_b):
    order_factory(customer_reference="PO-123")
    order_factory(customer_reference="po-123", customer_code=customer_b.code)
    assert Order.objects.count() == 2


def test_an_edit_to_another_order_s_reference_in_another_case_is_refused(order_factory, ops_user):
    first = order_factory(customer_reference="PO-1")
    second = order_factory(customer_reference="PO-2")
    data = {**services.order_as_data(second), "customer_reference": "po-1"}
    with pytest.raises(OrderValidationError) as refused:
        services.order_update(order=second, data=data, scope=scope_for_user(ops_user), by=ops_user,
                              channel=Channel.SCREEN)  # fmt: skip
    assert refused.value.errors == {
        "customer_reference": [f"ACME already has an order with reference PO-1 ({first.reference})."]
    }


def test_an_order_may_change_the_case_of_its_own_reference(order_factory, ops_user):
    order = order_factory(customer_reference="po-1")
    data = {**services.order_as_data(order), "customer_reference": "PO-1"}
    saved = services.order_update(order=order, data=data, scope=scope_for_user(ops_user), by=ops_user,
                                  channel=Channel.SCREEN)  # fmt: skip
    assert saved.customer_reference == "PO-1"


def test_the_api_answers_a_case_only_duplicate_as_a_duplicate(client, acme_key, order_data):
    def body(reference: str) -> dict:
        data = order_data(customer_reference=reference)
        del data["customer_code"], data["branch_code"]
        return data

    auth = {"HTTP_AUTHORIZATION": f"Bearer {acme_key}"}
    first = client.post(LIST_URL, body("PO-1001"), content_type="application/json", **auth).json()
    response = client.post(LIST_URL, body("po-1001"), content_type="application/json", **auth)
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "customer_reference": [f"ACME already has an order with reference PO-1001 ({first['reference']})."]
    }


def test_the_api_list_finds_an_order_by_its_reference_in_any_case(client, acme_key, order_factory):
    """The integrator who is told "ACME already has an order with reference PO-1001" looks it up as it typed it."""
    order = order_factory(customer_reference="PO-1001")
    order_factory(customer_reference="PO-1002")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {acme_key}"}
    for asked in ("po-1001", "PO-1001", "Po-1001"):
        response = client.get(LIST_URL, {"customer_reference": asked}, **auth)
        assert response.status_code == 200
        assert [found["reference"] for found in response.json()["results"]] == [order.reference], asked


# --- Files ----------------------------------------------------------------------------------------------------------


def _imported(user, content: bytes) -> ImportJob:
    return service.import_job_confirm(job=import_file(user, content), by=user, mode=ImportMode.VALID_ONLY)


def test_a_file_row_whose_reference_exists_in_another_case_is_a_duplicate(world, order_factory):
    existing = order_factory(customer_reference="PO-1")
    job = _imported(world["ops"], csv_bytes([order_row("po-1"), order_row("PO-2")]))
    assert (job.orders_created, job.orders_duplicate) == (1, 1)
    assert errors_of(job) == [
        (2, "customer_reference",
         f"ACME already has an order with reference PO-1 ({existing.reference}); "
         "a file never changes an existing order."),
    ]  # fmt: skip
    assert sorted(Order.objects.values_list("customer_reference", flat=True)) == ["PO-1", "PO-2"]


def test_rows_of_one_file_whose_references_differ_only_in_case_are_lines_of_one_order(world):
    rows = [
        order_row("PO-7", description="Pumps"),
        {"customer_code": "ACME", "customer_reference": "po-7", "pieces": "3", "gross_weight_kg": "10",
         "description": "Valves"},
        order_row("PO-8"),
    ]  # fmt: skip
    job = _imported(world["ops"], csv_bytes(rows))
    assert errors_of(job) == []
    assert (job.orders_total, job.orders_created) == (2, 2)
    order = Order.objects.get(customer_reference="PO-7")  # as its first row writes it
    assert [line.description for line in order.lines.order_by("line_no")] == ["Pumps", "Valves"]


def test_a_row_without_a_customer_joins_its_order_whatever_the_case_of_its_reference(world):
    rows = [order_row("PO-7"), {"customer_reference": "po-7", "pieces": "1", "gross_weight_kg": "5",
                                "description": "Valves"}]  # fmt: skip
    job = _imported(world["ops"], csv_bytes(rows))
    assert errors_of(job) == []
    assert Order.objects.get().lines.count() == 2


def test_existing_references_finds_pairs_in_any_case_under_the_spelling_asked(
    order_factory, customer_a, django_assert_max_num_queries
):
    order = order_factory(customer_reference="PO-9")
    with django_assert_max_num_queries(1):
        found = bulk.existing_references([(customer_a.pk, "po-9"), (customer_a.pk, "PO-10")])
    assert found == {(customer_a.pk, "po-9"): (order.pk, order.reference, "PO-9")}


def test_the_duplicate_look_up_uses_the_unique_index(order_factory, customer_a):
    order_factory(customer_reference="PO-9")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM orders_order WHERE customer_id = %s AND UPPER(customer_reference) = UPPER(%s)",
            [customer_a.pk, "po-9"],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    condition = next(line for line in plan.splitlines() if "Index Cond" in line)
    assert "order_customer_reference_unique" in plan, plan
    assert "upper(" in condition, plan  # the index itself compares without case, not a filter after it


# --- Webhooks -------------------------------------------------------------------------------------------------------


def test_a_webhook_order_whose_reference_exists_in_another_case_is_a_duplicate(generic):
    first = _generic_post(generic, _body(_intake_order("SO-77")), msg_id="first").json()
    response = _generic_post(generic, _body(_intake_order("so-77")), msg_id="second")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "duplicate"
    assert response.json()["results"][0]["reference"] == first["results"][0]["reference"]
    assert Order.objects.count() == 1


def test_two_orders_of_one_delivery_whose_references_differ_only_in_case_are_a_422(generic):
    response = _generic_post(generic, _body([_intake_order("SO-77"), _intake_order("so-77")]))
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"[1].customer_reference": [
        "Order [0] of this delivery has the customer reference so-77 too: give each order its own reference, or send "
        "one order with all its cargo lines."
    ]}  # fmt: skip
    assert not Order.objects.exists()


# --- The migration --------------------------------------------------------------------------------------------------


def test_the_migration_stops_naming_the_orders_whose_references_differ_only_in_case(order_factory, customer_a):
    """A database made before the rule may hold such pairs: the index cannot be built, and the migration says which
    orders to tell apart rather than failing on PostgreSQL's error (or merging them)."""
    with connection.cursor() as cursor:  # the state before the migration, within this test's transaction
        cursor.execute("DROP INDEX order_customer_reference_unique")
    first, second = order_factory(customer_reference="PO-5"), order_factory(customer_reference="po-5")
    order_factory(customer_reference="PO-6")
    with pytest.raises(RuntimeError) as stopped:
        case_check.refuse_case_only_duplicates(apps, SimpleNamespace(connection=connection))
    message = str(stopped.value)
    assert f"ACME: PO-5 ({first.reference}), po-5 ({second.reference})" in message
    assert "PO-6" not in message


def test_the_migration_check_passes_a_database_without_such_pairs(order_factory):
    order_factory(customer_reference="PO-5")
    order_factory(customer_reference="PO-6")
    case_check.refuse_case_only_duplicates(apps, SimpleNamespace(connection=connection))
