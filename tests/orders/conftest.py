"""Fixtures for the order screens: orders made through the real intake service, by an ops user."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from orders import services
from orders.models import Channel, Order
from partners import services as partner_services
from partners.scoping import scope_for_user


@pytest.fixture
def staff_scope(ops_user):
    """What operations may do: the scope most intake tests validate with."""
    return scope_for_user(ops_user)


@pytest.fixture
def order_factory(order_data, ops_user) -> Callable[..., Order]:
    """`order_factory(submit=False, **intake_fields)`: a new order of ACME (unless told) with its own PO number."""
    scope = scope_for_user(ops_user)
    numbers = itertools.count(1)

    def make(*, submit: bool = False, **overrides: Any) -> Order:
        overrides.setdefault("customer_reference", f"PO-{next(numbers):05d}")
        data = order_data(**overrides)
        return services.order_create(data=data, scope=scope, by=ops_user, channel=Channel.SCREEN, submit=submit)

    return make


# API keys for the API tests of this folder (orders API, edits, intake limits).
@pytest.fixture
def account_branches(customer_a, customer_b, branch):
    """Customers' orders are handled by the Hamburg branch unless staff name another."""
    for customer in (customer_a, customer_b):
        customer.account_branch = branch
        customer.save(update_fields=["account_branch"])


@pytest.fixture
def acme_key(customer_a, account_branches, locations) -> str:
    return partner_services.api_key_create(organisation=customer_a, name="ACME ERP")[1]


@pytest.fixture
def staff_key(branch, locations) -> str:
    return partner_services.api_key_create(organisation=branch, name="Hamburg BI")[1]
