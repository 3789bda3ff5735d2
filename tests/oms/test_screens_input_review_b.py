"""The exception, order-file, organisation and notification screens with odd input (NUL bytes, non-ASCII digits,
huge ids, over-long values, tampered cursors, a GET on a POST-only action): each answers the screen, a 404 or a
405, never a server error."""

from __future__ import annotations

import pytest

from tests.factories import OrganisationFactory

ODD_GETS = [
    "/exceptions/?kind=%00&severity=%00&customer=%00&q=%00&sort=%00&view=%00&after=%00",
    "/exceptions/?severity=%C2%B2",
    "/exceptions/?severity=%D9%A3&sort=bogus",
    "/exceptions/?after=%C2%B2|2026-01-01T00:00:00%2B00:00|%D9%A3",
    "/exceptions/?sort=customer&after=%00|3|2026-01-01T00:00:00%2B00:00|5",
    "/exceptions/?sort=oldest&after=9999-12-31T23:59:59-14:00|5",
    "/exceptions/?q=" + "x" * 5000,
    "/exceptions/99999999999999999999/",
    "/exceptions/weekly/?week=2026-W60",
    "/exceptions/weekly/?week=0000-W01",
    "/exceptions/weekly/?week=%D9%A3%D9%A3%D9%A3%D9%A3-W01",
    "/imports/?page=%C2%B2",
    "/imports/template.%00",
    "/imports/00000000-0000-0000-0000-000000000000/errors.csv",
    "/organisations/?page=%D9%A3&kind=%00",
    "/organisations/?q=" + "x" * 5000,
    "/tasks/notifications/?show=%00&page=%00",
]


@pytest.mark.parametrize("path", ODD_GETS)
def test_odd_input_never_answers_a_server_error(login, ops_user, path):
    response = login(ops_user).get(path)
    assert response.status_code in (200, 404)


@pytest.mark.parametrize(
    "path",
    ["/exceptions/1/acknowledge/", "/exceptions/1/take/", "/exceptions/1/notes/", "/exceptions/1/resolve/",
     "/imports/00000000-0000-0000-0000-000000000000/confirm/", "/imports/00000000-0000-0000-0000-000000000000/cancel/",
     "/tasks/notifications/1/open/", "/tasks/notifications/read-all/"],
)  # fmt: skip
def test_a_get_on_a_post_only_action_is_405(login, ops_user, path):
    assert login(ops_user).get(path).status_code == 405


@pytest.mark.parametrize("q", ["\x00", "Acme\x00"])
def test_a_nul_in_the_organisation_search_matches_nothing(login, ops_user, customer_a, q):
    response = login(ops_user).get("/organisations/", {"q": q})
    assert response.status_code == 200
    assert customer_a not in response.context["page"].object_list


@pytest.mark.parametrize("code", ["ACME%00", "%00", "A" * 300, "AC%20ME", "ACME%0A"])
def test_an_organisation_code_no_code_can_be_is_404(login, ops_user, customer_a, code):
    assert login(ops_user).get(f"/organisations/{code}/").status_code == 404


def test_an_organisation_is_found_by_its_code_in_any_case(login, ops_user):
    organisation = OrganisationFactory(code="ORG7")
    response = login(ops_user).get("/organisations/org7/")
    assert response.status_code == 200
    assert response.context["organisation"] == organisation
