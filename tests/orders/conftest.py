"""Fixtures for the order screens: orders made through the real intake service, by an ops user."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from orders import services
from orders.models import Channel, Order
from partners.scoping import scope_for_user


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
