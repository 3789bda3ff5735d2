from django.urls import reverse


def test_customer_sees_only_their_own_organisation_on_the_portal(login, customer_a_user, customer_b_user):
    response = login(customer_a_user).get(reverse("portal:home"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Acme Industrial" in body
    assert "alice@acme.test" in body
    assert "Globex" not in body
    assert "bob@globex.test" not in body


def test_the_other_customer_sees_only_theirs(login, customer_a_user, customer_b_user):
    body = login(customer_b_user).get(reverse("portal:home")).content.decode()
    assert "Globex Retail" in body
    assert "Acme" not in body
    assert "alice@acme.test" not in body


def test_partner_user_lands_on_the_portal(login, carrier_user):
    response = login(carrier_user).get(reverse("home"))
    assert response.status_code == 302
    assert response.url == reverse("portal:home")
    assert login(carrier_user).get(reverse("portal:home")).status_code == 200


def test_a_user_without_organisation_is_refused_by_the_portal(login, outsider):
    assert login(outsider).get(reverse("portal:home")).status_code == 403


def test_customers_see_only_their_own_orders_on_the_portal(
    login, order_data, ops_user, customer_a_user, customer_b_user
):
    from orders import services
    from partners.scoping import scope_for_user

    scope = scope_for_user(ops_user)
    mine = services.order_create(data=order_data(), scope=scope, by=ops_user, channel="screen")
    theirs = services.order_create(
        data=order_data(customer_code="GLOBEX", customer_reference="GX-1"), scope=scope, by=ops_user, channel="screen"
    )
    body = login(customer_a_user).get("/portal/").content.decode()
    assert mine.reference in body
    assert theirs.reference not in body
    assert "GX-1" not in body
