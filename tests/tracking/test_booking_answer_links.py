"""A booking's answer forms open only while the booking can take that answer (walk of 2026-12-07): the form to record
a confirmation opened for a booking cancelled since (an old link, the back button), was filled in, and only then
refused with "A booking that is cancelled cannot be confirmed."."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from tests.tracking.conftest import PICKUP
from tests.tracking.test_booking import confirm
from tracking.services import booking as booking_services
from tracking.services import consolidation, ranking


@pytest.fixture
def master(make_order, ops_user, ocean_carriers):
    orders = [make_order(requested_pickup_on=PICKUP) for _ in range(2)]
    return consolidation.consolidation_create(orders=orders, container_type="22G1", by=ops_user)


@pytest.fixture
def booking(master, ops_user):
    option = ranking.ranking_for_shipment(shipment=master).best
    return booking_services.booking_request(shipment=master, option=option, by=ops_user)


def _open(client, name: str, booking):
    response = client.get(reverse(f"tracking:booking_{name}", args=[booking.pk]))
    return response, [str(message) for message in get_messages(response.wsgi_request)]


@pytest.mark.parametrize(
    ("name", "refusal"),
    [
        ("confirm", "A booking that is cancelled cannot be confirmed."),
        ("reject", "A booking that is cancelled cannot be rejected."),
        ("roll", "A booking that is cancelled cannot be rolled."),
        ("cancel", "A booking that is cancelled cannot be cancelled."),
    ],
)
def test_an_answer_form_for_a_cancelled_booking_goes_back_to_the_shipment_saying_why(
    login, ops_user, booking, master, name, refusal
):
    booking_services.booking_cancel(booking=booking, reason="Shipper postponed", by=ops_user)

    response, said = _open(login(ops_user), name, booking)

    assert response.status_code == 302
    assert response["Location"] == master.get_absolute_url()
    assert said == [refusal]


def test_a_confirmed_booking_opens_the_roll_and_cancel_forms_but_not_another_confirmation(
    login, ops_user, ops_scope, booking
):
    confirm(booking, ops_scope, ops_user)
    client = login(ops_user)

    assert _open(client, "roll", booking)[0].status_code == 200
    assert _open(client, "cancel", booking)[0].status_code == 200
    response, said = _open(client, "confirm", booking)
    assert response.status_code == 302
    assert said == ["A booking that is confirmed cannot be confirmed."]


def test_a_booking_to_send_opens_its_answer_forms_but_not_the_roll(login, ops_user, booking):
    client = login(ops_user)

    for name in ("confirm", "reject", "cancel"):
        assert _open(client, name, booking)[0].status_code == 200, name
    response, said = _open(client, "roll", booking)
    assert response.status_code == 302
    assert said == ["A booking that is to send cannot be rolled."]
