"""An open exception about a consolidation's movement names what the shipment carries now (review A, defects 1 and
3): an order added to the master sees it on its page and its customer's portal, its customer is told, and the inbox
finds a consolidation's exception by any order or customer on it, as the order's panel and the portal do."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from partners.scoping import scope_for_user
from tests.tracking.conftest import lcl_line
from tests.tracking.test_ingest_support import NOW
from tracking.exceptions import selectors
from tracking.exceptions.models import ExceptionKind, ExceptionRule
from tracking.models import ConsolidatedHouse
from tracking.services import consolidation

from .conftest import detect, open_exceptions
from .test_consolidation import book_with_cutoff_passed, consolidated

__all__ = ["consolidated"]
K = ExceptionKind


@pytest.fixture
def acme_alone(make_order, ops_user, customer_b, fresh_mapping):
    """(master, acme_order, globex_order): a consolidation carrying one ACME order; a Globex order not planned."""
    acme_order = make_order(lines=[lcl_line(1500, 5)])
    globex_order = make_order(lines=[lcl_line(1500, 5)], customer_code="GLOBEX", consignee_name="Globex Retail")
    master = consolidation.consolidation_create(orders=[acme_order], container_type="22G1", by=ops_user)
    return master, acme_order, globex_order


def test_an_order_added_to_a_consolidation_sees_its_open_exception(
    acme_alone, ocean_carriers, ops_user, ops_scope, customer_b_user
):
    master, acme_order, globex_order = acme_alone
    book_with_cutoff_passed(master, ocean_carriers, ops_user, ops_scope)
    detect(master)
    [missed] = open_exceptions(master, K.MISSED_CUTOFF)
    assert (missed.order_id, missed.customer.code) == (acme_order.pk, "ACME")

    consolidation.order_add_to_master(order=globex_order, master=master, by=ops_user)
    detect(master)
    [missed] = open_exceptions(master, K.MISSED_CUTOFF)  # the same exception: the Globex cargo is late too
    assert (missed.order_id, missed.customer_id) == (None, None)  # every order on the master
    globex_order.refresh_from_db()
    assert missed in selectors.exceptions_for_order(scope=ops_scope, order=globex_order)
    notices = selectors.exceptions_for_customer(scope=scope_for_user(customer_b_user))
    assert [n.kind for n in notices] == [K.MISSED_CUTOFF]


def test_a_house_taken_off_leaves_the_exception_naming_the_order_that_remains(consolidated, ocean_carriers, ops_user,
                                                                              ops_scope):  # fmt: skip
    master, acme_house, globex_house = consolidated
    book_with_cutoff_passed(master, ocean_carriers, ops_user, ops_scope)
    detect(master)
    [missed] = open_exceptions(master, K.MISSED_CUTOFF)
    assert missed.order_id is None
    ConsolidatedHouse.objects.filter(master=master, house=globex_house).update(removed_at=NOW)
    outcome = detect(master)
    missed.refresh_from_db()
    assert outcome.opened == []
    assert missed.status == "open"
    assert (missed.order_id, missed.customer.code) == (acme_house.order_id, "ACME")


@pytest.fixture
def customers_with_email(customer_a, customer_b):
    customer_a.email, customer_b.email = "ops@acme.test", "ops@globex.test"
    customer_a.save(), customer_b.save()
    return customer_a, customer_b


def test_the_customer_of_an_order_added_to_a_consolidation_is_told_once(
    acme_alone, customers_with_email, ocean_carriers, ops_user, ops_scope, django_capture_on_commit_callbacks
):
    master, _acme_order, globex_order = acme_alone
    ExceptionRule.objects.filter(kind=K.MISSED_CUTOFF).update(notify_customer=True)
    book_with_cutoff_passed(master, ocean_carriers, ops_user, ops_scope)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        detect(master)
    assert [m.to for m in mail.outbox] == [["ops@acme.test"]]

    consolidation.order_add_to_master(order=globex_order, master=master, by=ops_user)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = detect(master)
    [missed] = open_exceptions(master, K.MISSED_CUTOFF)
    assert outcome.widened == [missed.pk]
    assert [m.to for m in mail.outbox] == [["ops@acme.test"], ["ops@globex.test"]]  # ACME is not told again
    assert globex_order.reference in mail.outbox[1].body
    said = missed.entries.filter(verb="updated").values_list("text", flat=True)
    assert list(said) == [f"Now also concerns {globex_order.reference} (GLOBEX): added to the shipment."]

    with django_capture_on_commit_callbacks(execute=True):
        again = detect(master)
    assert again.widened == []
    assert len(mail.outbox) == 2


def test_the_inbox_finds_a_consolidations_exception_by_an_order_or_customer_on_it(
    consolidated, ocean_carriers, ops_user, ops_scope, login
):
    master, _acme_house, globex_house = consolidated
    book_with_cutoff_passed(master, ocean_carriers, ops_user, ops_scope)
    detect(master)
    [missed] = open_exceptions(master, K.MISSED_CUTOFF)
    globex_order = globex_house.order
    assert missed in selectors.exceptions_for_order(scope=ops_scope, order=globex_order)
    client = login(ops_user)
    inbox = reverse("tracking_exceptions:inbox")

    def listed(**query):
        return [row for row, _, _ in client.get(inbox, query).context["rows"]]

    assert listed(q=globex_order.reference) == [missed]
    assert listed(customer="GLOBEX") == [missed]
    assert listed(customer="globex") == [missed]
    assert listed(customer="INITECH") == []
    ConsolidatedHouse.objects.filter(master=master, house=globex_house).update(removed_at=NOW)  # taken off
    assert listed(q=globex_order.reference) == []


def test_the_weekly_view_counts_a_consolidations_exception_for_every_customer_on_it(
    consolidated, ocean_carriers, ops_user, ops_scope, login
):
    master, *_ = consolidated
    book_with_cutoff_passed(master, ocean_carriers, ops_user, ops_scope)
    detect(master)
    client = login(ops_user)
    page = client.get(reverse("tracking_exceptions:weekly"))
    by_customer = {row.code: row for _, dimension, rows in page.context["groups"] if dimension == "customer"
                   for row in rows}  # fmt: skip
    assert {code: row.still_open for code, row in by_customer.items()} == {"ACME": 1, "GLOBEX": 1}
    for row in by_customer.values():  # each count lists what it counts
        listed = client.get(f"{reverse('tracking_exceptions:inbox')}?{row.still_open_link}").context["rows"]
        assert len(listed) == row.still_open
