"""RELIABILITY.md B5, the role matrix over every screen: each staff role (sales, operations, documentation, finance)
opens every staff screen route of the resolver, naming real objects (the scope crawl's side A), and gets exactly
what the rule in partners/permissions.py says:

- a screen guarded by `role_required(...)` or `order_entry_required` (the views that change things) is 403 for the
  roles they do not name;
- a screen that checks the role inside its view (IN_VIEW_GUARDS, the order-file upload) is 403 when that check says;
- every other staff screen (`staff_required`: the screens that only show) opens for every staff role;
- nothing is ever a 500.
The guard of each route is read from its view (the roles `role_required` closed over), so a new route is in the
matrix the day it is added, and a view that refuses a role its decorator allows, or lets in one it refuses, fails.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from django.urls import resolve

from orders.imports.selectors import may_import
from orders.views import ENTRY_ROLES
from partners.models import Role
from partners.scoping import Scope, scope_for_user
from tests.conftest import _member
from tests.oms.test_scope_crawl import (
    ROUTES,
    _ask,
    _signed_in,
    account_branches,
    acme_key,
    make_order,
    ops_scope,
    second_carrier,
    sides,
    staff_key,
)

__all__ = ["account_branches", "acme_key", "make_order", "ops_scope", "second_carrier", "sides", "staff_key"]

STAFF_ROLES = [Role.SALES, Role.OPERATIONS, Role.DOCUMENTATION, Role.FINANCE]
# Screens whose role check is inside the view rather than a decorator: the check each one makes.
IN_VIEW_GUARDS: dict[str, Callable[[Scope], bool]] = {
    "imports:upload": may_import,  # "Finance cannot import CSV" (B5): roles with the right to submit orders
}


def _required_roles(view: Any) -> tuple[str, ...] | None:
    """The roles the role guards in the view's chain of decorators let in, or None for any staff. The guards:
    `role_required(*roles)` (partners/permissions.py) and `order_entry_required` (orders/views.py, ENTRY_ROLES)."""
    while view is not None:
        if inspect.isfunction(view):
            guard = view.__code__.co_qualname
            if guard == "role_required.<locals>.decorator.<locals>.wrapper":
                return tuple(inspect.getclosurevars(view).nonlocals["roles"])
            if guard == "order_entry_required.<locals>.wrapper":
                return tuple(ENTRY_ROLES)
        view = getattr(view, "__wrapped__", None)
    return None


def _screens(side) -> list[tuple[str, str, tuple[str, ...] | None]]:
    """(name, address, roles) of every staff screen route that names objects the crawl knows (or none)."""
    screens = []
    for route in ROUTES:
        if route.api or not route.staff_screen or route.unknown():
            continue
        url = route.url(side)
        screens.append((route.name or route.pattern, url, _required_roles(resolve(url.split("?")[0]).func)))
    return screens


def _refused(name: str, roles: tuple[str, ...] | None, role: str, scope: Scope) -> bool:
    if name in IN_VIEW_GUARDS:
        return not IN_VIEW_GUARDS[name](scope)
    return roles is not None and role not in roles


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_each_staff_role_opens_exactly_the_screens_its_role_allows(sides, branch, role):
    a, _b = sides
    person = _member(f"{role}-matrix@oms.test", branch, role, is_staff=True)
    client, scope = _signed_in(person), scope_for_user(person)
    screens = _screens(a)
    assert len(screens) > 40  # the crawl reached the screens
    assert {"orders:new", "tracking:booking_send"} <= {name for name, _, roles in screens if roles}  # guards read

    wrong = []
    for name, url, roles in screens:
        status, _page = _ask(client, "get", url)
        if status >= 500 or (status == 403) != _refused(name, roles, role, scope):
            wrong.append(f"{role} GET {url} ({name}): {status}, guarded for {roles or 'any staff'}")
    assert wrong == []
