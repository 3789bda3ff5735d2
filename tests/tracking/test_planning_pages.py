"""The planning screen's "To plan" list pages through every order still to plan, keeping the filters."""

from __future__ import annotations

from django.urls import reverse

from tracking import views


def test_every_order_to_plan_can_be_reached_page_by_page(make_order, login, ops_user, monkeypatch):
    monkeypatch.setattr(views, "ORDERS_TO_PLAN_PER_PAGE", 2)
    orders = [make_order() for _ in range(3)]
    client = login(ops_user)

    first = client.get(reverse("tracking:index"), {"mode": "ocean_lcl"})
    body = first.content.decode()
    assert "1–2 of 3" in body  # the pager
    assert "mode=ocean_lcl&amp;page=2" in body
    shown = [order.reference for order in first.context["orders"]]
    second = client.get(reverse("tracking:index"), {"mode": "ocean_lcl", "page": 2})
    shown += [order.reference for order in second.context["orders"]]
    assert sorted(shown) == sorted(order.reference for order in orders)
    assert "3–3 of 3" in second.content.decode()
