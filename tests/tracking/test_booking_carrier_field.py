"""Choosing a carrier: the carrier field is an id in ASCII digits; anything else is refused, never a 500."""

import pytest
from django.contrib.messages import get_messages

from tests.tracking.conftest import PICKUP
from tracking.models import Booking
from tracking.services import consolidation


@pytest.fixture
def master(make_order, ops_user, ocean_carriers):
    orders = [make_order(requested_pickup_on=PICKUP) for _ in range(3)]
    return consolidation.consolidation_create(orders=orders, container_type="22G1", by=ops_user)


@pytest.mark.parametrize(
    "carrier", ["\u00b2", "\u0663", "１", "-1", " 1", ""]
)  # superscript 2, Arabic-Indic 3, fullwidth 1
def test_choosing_a_carrier_that_is_not_an_ascii_id_is_refused_with_a_message(master, ops_user, client, carrier):
    client.force_login(ops_user)
    client.raise_request_exception = False
    response = client.post(f"/planning/shipments/{master.reference}/book/", {"carrier": carrier})
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "That carrier is not among the options any more; look at the ranking again."
    ]
    assert not Booking.objects.exists()


def test_choosing_a_ranked_carrier_by_its_id_books_it(master, ops_user, client, ocean_carriers):
    client.force_login(ops_user)
    maersk = ocean_carriers[0]
    response = client.post(f"/planning/shipments/{master.reference}/book/", {"carrier": str(maersk.pk)})
    assert response.status_code == 302
    assert Booking.objects.get().carrier == maersk
