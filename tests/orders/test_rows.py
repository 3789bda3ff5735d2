"""orders.rows builds an order from hand-written SQL exactly as the ORM builds it."""

from __future__ import annotations

from django.db import connection
from django.forms.models import model_to_dict

from orders.models import Order
from orders.rows import order_columns, order_count_columns, order_from_row


def _read(order_id: int, extra: str = "") -> tuple:
    with connection.cursor() as cursor:
        sql = f"SELECT {order_columns('o')}{extra} FROM orders_order o WHERE o.id = %s"  # noqa: S608 - test's own
        cursor.execute(sql, [order_id])
        return cursor.fetchone()


def test_an_order_from_its_row_equals_the_orms_in_every_field(order_factory):
    made = order_factory(submit=True, declared_value="1250.50", currency="EUR")
    expected = Order.objects.get(pk=made.pk)

    built = order_from_row(_read(made.pk))

    for field in Order._meta.concrete_fields:
        assert getattr(built, field.attname) == getattr(expected, field.attname), field.name
        assert type(getattr(built, field.attname)) is type(getattr(expected, field.attname)), field.name
    assert model_to_dict(built) == model_to_dict(expected)
    assert not built._state.adding  # a saved row, as the ORM marks it
    assert built._state.db == expected._state.db


def test_extra_columns_after_the_orders_own_are_left_to_the_caller(order_factory):
    made = order_factory()

    row = _read(made.pk, ", 42 AS answer")

    assert len(row) == order_count_columns() + 1
    assert row[order_count_columns()] == 42
    assert order_from_row(row).pk == made.pk
