"""A carrier that declined a master's booking is not the ranking's suggestion any more (walk of 2026-12-07: after
"Hapag-Lloyd declined. Choose another carrier from the ranking", Hapag-Lloyd was still rank 1 with the highlighted
"Choose", and `pick_best` would have asked it again)."""

import pytest
from django.urls import reverse

from tests.tracking.conftest import PICKUP
from tracking.models import Booking, BookingStatus
from tracking.services import booking as booking_services
from tracking.services import consolidation, ranking


@pytest.fixture
def master(make_order, ops_user, ocean_carriers):
    orders = [make_order(requested_pickup_on=PICKUP) for _ in range(2)]
    return consolidation.consolidation_create(orders=orders, container_type="22G1", by=ops_user)


def _declined_by_best(master, ops_user):
    """The rank-1 carrier is asked and declines; returns that carrier."""
    best = ranking.ranking_for_shipment(shipment=master).best
    booking = booking_services.booking_request(shipment=master, option=best, by=ops_user)
    booking_services.booking_reject(booking=booking, reason="No space on the sailing", by=ops_user)
    return best.carrier


def test_a_carrier_that_declined_the_master_is_listed_after_the_others_with_its_answer(master, ops_user):
    declined = _declined_by_best(master, ops_user)

    result = ranking.ranking_for_shipment(shipment=master)

    assert [option.carrier for option in result.options][-1] == declined
    assert result.best.carrier != declined
    last = result.options[-1]
    assert last.rank == len(result.options)
    assert last.declined is not None
    assert last.notes()[0].startswith("Declined this master on ")
    assert "No space on the sailing" in last.notes()[0]
    assert result.best.declined is None


def test_a_declined_carrier_can_still_be_chosen_by_hand(login, master, ops_user):
    declined = _declined_by_best(master, ops_user)

    response = login(ops_user).post(
        reverse("tracking:booking_choose", args=[master.reference]), {"carrier": declined.pk}
    )

    assert response.status_code == 302
    assert Booking.objects.filter(shipment=master, carrier=declined, status=BookingStatus.REQUESTED).exists()


def test_pick_best_skips_a_carrier_that_declined_and_picks_nobody_when_all_did(master, ops_user):
    first = _declined_by_best(master, ops_user)

    booking = ranking.pick_best(shipment=master, by=ops_user)

    assert booking is not None
    assert booking.carrier != first
    booking_services.booking_reject(booking=booking, reason="Blank sailing", by=ops_user)
    assert ranking.pick_best(shipment=master, by=ops_user) is None


def test_the_ranking_on_the_masters_page_marks_the_declined_carrier_and_highlights_another(
    login, master, ops_user, ocean_carriers
):
    declined = _declined_by_best(master, ops_user)
    (other,) = [carrier for carrier in ocean_carriers if carrier != declined]

    page = login(ops_user).get(reverse("tracking:shipment_ranking", args=[master.reference]), HTTP_HX_REQUEST="true")

    body = page.content.decode()
    assert page.status_code == 200
    assert "Declined</span>" in body
    assert "No space on the sailing" in body
    assert f'btn-primary" type="submit" aria-label="Choose {other.name}"' in body
    assert f'btn-outline-secondary" type="submit" aria-label="Choose {declined.name}"' in body
