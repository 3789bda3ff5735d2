"""Who made a tracking link, as the order's customer reads it: its own people by name, ours as "the OMS team". The
portal names none of our staff to a customer (the delays and holds name no owner either: tracking.exceptions
.selectors.exceptions_for_customer); staff read every name."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.links import tracking_link_create
from tests.conftest import _member
from tests.tracking.conftest import make_order, ops_scope

__all__ = ["make_order", "ops_scope"]

pytestmark = pytest.mark.usefixtures("fresh_rate_window")


@pytest.fixture
def links(make_order, ops_user, customer_a_user):
    """An order of ACME's with a link made by operations and one by ACME's own person."""
    order = make_order()
    by_us, _ = tracking_link_create(order=order, by=ops_user, note="for the consignee")
    by_them, _ = tracking_link_create(order=order, by=customer_a_user, note="for the shipper")
    return order, by_us, by_them


def _pages(client, order, link) -> list[str]:
    return [
        client.get(reverse("portal:tracking_links", args=[order.reference])).content.decode(),
        client.get(reverse("portal:tracking_link_revoke", args=[order.reference, link.pk])).content.decode(),
    ]


def test_the_customer_reads_our_team_not_the_name_of_our_staff(links, login, ops_user, customer_a_user):
    order, by_us, by_them = links
    client = login(customer_a_user)
    for page in _pages(client, order, by_us):
        assert ops_user.full_name not in page
        assert ops_user.email not in page
        assert "the OMS team" in page
    assert customer_a_user.full_name in _pages(client, order, by_them)[1]


def test_the_customer_reads_the_name_of_a_colleague_who_has_left(links, login, customer_a_user, customer_a):
    order, _by_us, by_them = links
    customer_a_user.memberships.update(is_active=False)  # she left ACME; the link she made stays
    colleague = _member("dora@acme.test", customer_a, "customer")
    page = _pages(login(colleague), order, by_them)[1]
    assert customer_a_user.full_name in page


def test_staff_read_every_name(links, login, ops_user, customer_a_user):
    order, by_us, by_them = links
    client = login(ops_user)
    assert ops_user.full_name in _pages(client, order, by_us)[1]
    assert customer_a_user.full_name in _pages(client, order, by_them)[1]
