"""RELIABILITY.md I1/I2: history on the write paths the other history tests leave out (an API PATCH, bulk_update,
raw SQL as a data migration writes it), and no hard delete of an order through the API, nor of a customer that
has orders."""

from __future__ import annotations

import subprocess

import pghistory
import pytest
from django.db import connection, transaction
from django.db.models import ProtectedError

from orders.models import CargoLine, Order, OrderEvent
from partners.models import Organisation
from tests.orders.test_api import bearer, create, customer_payload, detail_url

__all__ = ["customer_payload"]


def _newest_event(order: Order) -> OrderEvent:
    return OrderEvent.objects.filter(pgh_obj_id=order.pk).select_related("pgh_context").latest("pgh_id")


def test_an_api_patch_records_the_change_with_the_key_and_channel(client, acme_key, customer_payload):
    created = create(client, acme_key, customer_payload())
    order = Order.objects.get(reference=created["reference"])
    before = OrderEvent.objects.filter(pgh_obj_id=order.pk).count()

    response = client.patch(
        detail_url(order.reference), {"consignee_name": "Changed Receiver GmbH"}, content_type="application/json",
        **bearer(acme_key),
    )  # fmt: skip

    assert response.status_code == 200
    assert OrderEvent.objects.filter(pgh_obj_id=order.pk).count() == before + 1
    event = _newest_event(order)
    assert (event.pgh_label, event.consignee_name) == ("update", "Changed Receiver GmbH")
    metadata = event.pgh_context.metadata
    assert (metadata["channel"], metadata["user"]) == ("api", None)
    assert metadata["api_key"] == order.customer.api_keys.get().pk


def test_bulk_update_records_one_event_per_order_with_its_context(order_factory, ops_user):
    orders = [order_factory(), order_factory()]
    for order in orders:
        order.special_instructions = f"Call before delivery {order.pk}"

    with pghistory.context(user=ops_user.pk, channel="command"):
        Order.objects.bulk_update(orders, ["special_instructions"])

    for order in orders:
        event = _newest_event(order)
        assert (event.pgh_label, event.special_instructions) == ("update", f"Call before delivery {order.pk}")
        assert event.pgh_context.metadata == {"user": ops_user.pk, "channel": "command"}


def test_raw_sql_as_in_a_data_migration_is_recorded_too(order_factory):
    order = order_factory()
    before = OrderEvent.objects.filter(pgh_obj_id=order.pk).count()

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Order._meta.db_table} SET special_instructions = %s WHERE id = %s",  # noqa: S608 - a model name
            ["Set by a data migration", order.pk],
        )

    assert OrderEvent.objects.filter(pgh_obj_id=order.pk).count() == before + 1
    event = _newest_event(order)
    assert (event.pgh_label, event.special_instructions) == ("update", "Set by a data migration")


def test_an_order_cannot_be_deleted_through_the_api(client, acme_key, customer_payload):
    created = create(client, acme_key, customer_payload(submit=True))
    response = client.delete(detail_url(created["reference"]), **bearer(acme_key))
    assert response.status_code == 405
    assert Order.objects.filter(reference=created["reference"]).exists()


def test_a_customer_with_orders_cannot_be_deleted(order_factory, customer_a):
    order = order_factory(submit=True)
    with pytest.raises(ProtectedError), transaction.atomic():
        Organisation.objects.get(pk=customer_a.pk).delete()
    assert Order.objects.filter(pk=order.pk).exists()


def test_the_console_refuses_to_delete_a_customer_with_orders(order_factory, customer_a, admin_user, login):
    order = order_factory(submit=True)
    page = login(admin_user).post(f"/admin/partners/organisation/{customer_a.pk}/delete/", {"post": "yes"})
    assert page.status_code == 200  # the "cannot delete: protected" page, not a redirect after deleting
    assert "protected" in page.content.decode().lower()
    assert Organisation.objects.filter(pk=customer_a.pk).exists()
    assert Order.objects.filter(pk=order.pk).exists()


# --- I3 a logical backup restored after a destructive statement -----------------------------------------------


def _psql(database: str, sql: str) -> str:
    settings = connection.settings_dict
    command = ["psql", "-h", settings["HOST"] or "127.0.0.1", "-p", str(settings["PORT"] or 5432), "-U",
               settings["USER"], "-d", database, "-AtXq", "-v", "ON_ERROR_STOP=1", "-c", sql]  # fmt: skip
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()  # noqa: S603


_CONSISTENCY = (
    "SELECT (SELECT count(*) FROM orders_order), (SELECT max(id) FROM orders_order), "
    "(SELECT count(*) FROM orders_cargoline), (SELECT count(*) FROM orders_orderevent), "
    "(SELECT count(*) FROM orders_order o WHERE o.gross_weight_kg_total <> "
    "(SELECT coalesce(sum(l.gross_weight_kg), 0) FROM orders_cargoline l WHERE l.order_id = o.id)), "
    "(SELECT count(*) FROM orders_cargoline l WHERE NOT EXISTS (SELECT 1 FROM orders_order o WHERE o.id = l.order_id))"
)


def test_a_pg_dump_restores_the_rows_a_destructive_statement_removed(transactional_db, order_factory, tmp_path):
    for submit in (False, True, True):
        order_factory(submit=submit)
    settings = connection.settings_dict
    name, scratch = settings["NAME"], f"{settings['NAME']}_restore"
    at_backup = _psql(name, _CONSISTENCY)
    dump = tmp_path / "oms.dump"
    host = ["-h", settings["HOST"] or "127.0.0.1", "-p", str(settings["PORT"] or 5432), "-U", settings["USER"]]
    subprocess.run(["pg_dump", *host, "-Fc", "-f", str(dump), name], check=True)  # noqa: S603, S607

    with connection.cursor() as cursor:  # the incident, after the backup
        cursor.execute("DELETE FROM orders_cargoline")
    assert not CargoLine.objects.exists()

    _psql(name, f'DROP DATABASE IF EXISTS "{scratch}"')
    _psql(name, f'CREATE DATABASE "{scratch}"')
    try:
        subprocess.run(["pg_restore", *host, "--exit-on-error", "-d", scratch, str(dump)], check=True)  # noqa: S603, S607
        restored = _psql(scratch, _CONSISTENCY)
    finally:
        _psql(name, f'DROP DATABASE IF EXISTS "{scratch}"')

    counts = at_backup.split("|")
    assert (int(counts[0]), int(counts[2])) == (3, 3)  # three orders, a line each, were backed up
    assert counts[4:] == ["0", "0"]  # totals match their lines, no orphan lines
    assert restored == at_backup  # the same counts, max(id), history rows and checks after the restore
