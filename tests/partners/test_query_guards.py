"""Query guards: the organisation list and an organisation's page cost as many queries with many people, contacts,
addresses and child organisations as with a few (STYLE.md, Tests: every list screen is guarded, few versus many)."""

from __future__ import annotations

import itertools

import pytest
from django.urls import reverse

from partners.models import Address, AddressKind, Contact, Membership, Organisation, OrganisationKind, Role, User

serial = itertools.count(1)


@pytest.fixture
def grow_customer(customer_a, branch):
    """`grow_customer(n)`: n more people at ACME (one of them gone), contacts and addresses of ACME, subsidiaries
    of ACME handled by our branch, and carriers; each row names its own person or organisation."""

    def grow(n: int) -> None:
        numbers = [next(serial) for _ in range(n)]
        people = User.objects.bulk_create(User(email=f"p{i}@acme.test", full_name=f"Person {i}") for i in numbers)
        Membership.objects.bulk_create(
            Membership(user=user, organisation=customer_a, role=Role.CUSTOMER, is_active=i % 4 != 0)
            for i, user in zip(numbers, people, strict=True)
        )
        Contact.objects.bulk_create(
            Contact(organisation=customer_a, name=f"Contact {i}", email=f"c{i}@acme.test") for i in numbers
        )
        Address.objects.bulk_create(
            Address(organisation=customer_a, kind=(AddressKind.REGISTERED, AddressKind.BILLING)[i % 2],
                    line1=f"{i} Dock Road", city="Hamburg", country="DE")
            for i in numbers
        )  # fmt: skip
        Organisation.objects.bulk_create(
            Organisation(code=f"SUB{i}", name=f"Acme Unit {i}", kinds=[OrganisationKind.CUSTOMER], parent=customer_a,
                         account_branch=branch)
            for i in numbers
        )  # fmt: skip
        Organisation.objects.bulk_create(
            Organisation(code=f"CAR{i}", name=f"Carrier {i}", kinds=[OrganisationKind.CARRIER]) for i in numbers
        )

    return grow


def _linked(response) -> int:
    """How many organisations the page links to."""
    return response.content.decode().count('href="/organisations/')


# name: (address, request headers, what the larger page must list)
PAGES = {
    "list": (reverse("partners:organisation_list"), {}, _linked),
    "list (htmx)": (reverse("partners:organisation_list"), {"HTTP_HX_REQUEST": "true"}, _linked),
    "list of customers": (f"{reverse('partners:organisation_list')}?kind=customer", {}, _linked),
    "ACME's page": (
        reverse("partners:organisation_detail", args=["ACME"]), {},
        lambda response: min(len(response.context["organisation"].active_memberships),
                             len(response.context["organisation"].children.all())),
    ),
}  # fmt: skip
# Each page's ceiling for the larger case: what it ran when these guards were written (it runs the same for the
# few). A page that needs more must say why; more rows never may.
CEILINGS = {"list": 5, "list (htmx)": 5, "list of customers": 5, "ACME's page": 8}


@pytest.mark.parametrize("page", list(PAGES))
def test_an_organisation_screen_costs_the_same_queries_for_few_and_many_rows(
    page, grow_customer, login, ops_user, django_assert_max_num_queries
):
    url, headers, listed = PAGES[page]
    client = login(ops_user)
    grow_customer(3)
    client.get(url, **headers)  # warm the session
    with django_assert_max_num_queries(CEILINGS[page]) as few:
        client.get(url, **headers)
    grow_customer(9)

    with django_assert_max_num_queries(CEILINGS[page]) as many:
        response = client.get(url, **headers)

    assert response.status_code == 200
    assert len(many) == len(few)
    assert listed(response) >= 9
