import pytest
from django.urls import reverse

from tests.factories import OrganisationFactory


@pytest.mark.parametrize("persona", ["customer_a_user", "customer_b_user", "carrier_user", "outsider"])
@pytest.mark.parametrize("url_name", ["home_staff", "partners:organisation_list", "search"])
def test_staff_screens_are_forbidden_to_everyone_else(request, login, persona, url_name, customer_a):
    client = login(request.getfixturevalue(persona))
    url = reverse("partners:organisation_list") if url_name == "home_staff" else reverse(url_name)
    assert client.get(url).status_code == 403


def test_organisation_detail_is_forbidden_to_customers_even_for_their_own(login, customer_a_user, customer_a):
    client = login(customer_a_user)
    assert client.get(reverse("partners:organisation_detail", args=["ACME"])).status_code == 403


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get(reverse("partners:organisation_list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_staff_see_the_organisation_list_with_filters(login, ops_user, customer_a, customer_b, carrier):
    client = login(ops_user)
    response = client.get(reverse("partners:organisation_list"), {"kind": "customer"})
    assert response.status_code == 200
    codes = [organisation.code for organisation in response.context["page"]]
    assert codes == ["ACME", "GLOBEX"]


def test_organisation_list_search_finds_by_name(login, ops_user, customer_a, customer_b):
    response = login(ops_user).get(reverse("partners:organisation_list"), {"q": "globex"})
    assert [o.code for o in response.context["page"]] == ["GLOBEX"]


def test_organisation_list_htmx_request_returns_only_the_results_fragment(login, ops_user, customer_a):
    response = login(ops_user).get(reverse("partners:organisation_list"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert 'id="results"' in body
    assert "<html" not in body
    assert "HX-Request" in response["Vary"]


def test_organisation_list_runs_a_constant_number_of_queries(login, ops_user, django_assert_max_num_queries):
    client = login(ops_user)
    for n in range(40):
        OrganisationFactory(code=f"C{n:03d}")
    client.get(reverse("partners:organisation_list"))  # warm the session
    with django_assert_max_num_queries(8):  # session, user with its memberships, nav counts, the page itself
        response = client.get(reverse("partners:organisation_list"))
    assert len(response.context["page"]) > 40


def test_organisation_detail_shows_people_and_contacts(login, ops_user, customer_a_user, customer_a):
    response = login(ops_user).get(reverse("partners:organisation_detail", args=["acme"]))
    assert response.status_code == 200
    assert "alice@acme.test" in response.content.decode()


def test_unknown_organisation_is_404(login, ops_user):
    assert login(ops_user).get(reverse("partners:organisation_detail", args=["NOPE"])).status_code == 404


def test_global_search_finds_organisations(login, ops_user, customer_a, customer_b):
    response = login(ops_user).get(reverse("search"), {"q": "Acme"})
    assert [o.code for o in response.context["results"].organisations] == ["ACME"]
