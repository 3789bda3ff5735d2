"""oms.compiled: rows read by statements compiled once come back exactly as the ORM builds them, and the two
per-request queries compiled once answer as their querysets do."""

from __future__ import annotations

import pytest
from django.db import connection
from django.forms.models import model_to_dict

from oms.compiled import MARKER, compile_once, model_columns, model_from_row, model_width
from orders.models import Order
from partners.backends import MembershipModelBackend
from partners.models import User
from partners.scoping import MEMBERSHIPS_ATTRIBUTE, membership_rows, scope_for_user


@pytest.fixture
def order_factory(order_data, ops_user):
    from orders import services

    scope = scope_for_user(ops_user)

    def make(**overrides):
        overrides.setdefault("customer_reference", f"PO-{Order.objects.count() + 1:05d}")
        return services.order_create(
            data=order_data(**overrides), scope=scope, by=ops_user, channel="screen", submit=True
        )

    return make


def _read(order_id: int, extra: str = "") -> tuple:
    with connection.cursor() as cursor:
        sql = f"SELECT {model_columns(Order, 'o')}{extra} FROM orders_order o WHERE o.id = %s"  # noqa: S608 - test's own
        cursor.execute(sql, [order_id])
        return cursor.fetchone()


def test_an_order_from_its_row_equals_the_orms_in_every_field(order_factory):
    made = order_factory(declared_value="1250.50", currency="EUR")
    expected = Order.objects.get(pk=made.pk)

    built = model_from_row(Order, _read(made.pk))

    for field in Order._meta.concrete_fields:
        assert getattr(built, field.attname) == getattr(expected, field.attname), field.name
        assert type(getattr(built, field.attname)) is type(getattr(expected, field.attname)), field.name
    assert model_to_dict(built) == model_to_dict(expected)
    assert not built._state.adding  # a saved row, as the ORM marks it
    assert built._state.db == expected._state.db


def test_extra_columns_after_the_models_own_are_left_to_the_caller(order_factory):
    made = order_factory()

    row = _read(made.pk, ", 42 AS answer")

    assert len(row) == model_width(Order) + 1
    assert row[model_width(Order)] == 42
    assert model_from_row(Order, row).pk == made.pk


def test_a_compiled_query_runs_with_each_value_it_is_given(ops_user, sales_user):
    compiled = compile_once(lambda pk: User.objects.filter(pk=pk, is_active=True).values("email"))

    assert compiled.first_dict(ops_user.pk) == {"email": ops_user.email}
    assert compiled.first_dict(sales_user.pk) == {"email": sales_user.email}
    assert compiled.first_row(-1) is None


def test_the_marker_must_land_in_exactly_one_parameter(db):
    with pytest.raises(ValueError, match="once"):
        compile_once(lambda pk: User.objects.filter(pk=pk).exclude(pk=pk))
    with pytest.raises(ValueError, match="once"):
        compile_once(lambda pk: User.objects.filter(is_active=True))
    assert MARKER < 0  # never a primary key


def test_the_login_backend_loads_the_person_with_their_memberships(ops_user, customer_a_user, outsider):
    backend = MembershipModelBackend()

    for user in (ops_user, customer_a_user, outsider):
        loaded = backend.get_user(user.pk)
        expected = [row["row"] for row in membership_rows(user=user.pk).order_by("organisation_id")]
        assert model_to_dict(loaded) == model_to_dict(User.objects.get(pk=user.pk))
        assert getattr(loaded, MEMBERSHIPS_ATTRIBUTE) == expected
        assert scope_for_user(loaded) == scope_for_user(User.objects.get(pk=user.pk))


def test_the_login_backend_refuses_unknown_inactive_and_malformed_ids(ops_user):
    backend = MembershipModelBackend()
    assert backend.get_user(-5) is None
    assert backend.get_user("not-a-number") is None
    User.objects.filter(pk=ops_user.pk).update(is_active=False)
    assert backend.get_user(ops_user.pk) is None
    assert backend.get_user(str(ops_user.pk)) is None
