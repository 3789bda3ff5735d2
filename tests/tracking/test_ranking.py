import datetime
from decimal import Decimal

import pytest

from finance.models import RateBasis
from orders.models import ServiceLevel
from tests.factories import OrganisationFactory
from tests.finance.builders import rate_card, zone
from tests.tracking.conftest import PICKUP, next_weekday
from tracking.models import Booking, CarrierPreference, CarrierRecord, CarrierService
from tracking.services import consolidation, ranking
from tracking.services.ranking import RankingRequest, Weights, rank, ranking_context_load

D = Decimal
MAERSK_SAILS = next_weekday(PICKUP + datetime.timedelta(days=2), 4)  # Fridays, 48 h cargo cut-off


@pytest.fixture
def master(make_order, ops_user, ocean_carriers):
    orders = [make_order(requested_pickup_on=PICKUP) for _ in range(3)]
    return consolidation.consolidation_create(orders=orders, container_type="22G1", by=ops_user)


def test_options_are_ranked_by_cost_transit_and_on_time_with_the_reasons(master, ocean_carriers):
    result = ranking.ranking_for_shipment(shipment=master)
    # Maersk USD 1,404 = EUR 1,300.00 (cheaper, 34 days); Hapag-Lloyd EUR 1,450 (30 days)
    assert [o.carrier.code for o in result.options] == ["MAEU", "HLCU"]
    best, second = result.options
    assert best.cost == D("1300.00")
    assert second.cost == D("1450.00")
    assert best.points == {"cost": 60.0, "transit": 22.1, "on_time": 7.5}
    assert second.points["transit"] == 25.0
    assert best.score == 89.6
    reasons = " ".join(best.reasons())
    assert "Buy cost USD 1,404.00 on MAEU ocean_fcl 2026" in reasons
    assert "= EUR 1,300.00 at 0.9259" in reasons
    assert f"Transit 34 days on MAEU Asia–Europe, next departure {MAERSK_SAILS:%a %d %b}" in reasons
    assert "No on-time record yet: neutral 50%" in reasons
    assert "Score 89.6 = cost 60.0 + transit 22.1 + on-time 7.5" in reasons
    assert result.weights == Weights(D("0.60"), D("0.25"), D("0.15"))


def test_the_conversion_note_names_the_amount_it_converted(master, ocean_carriers):
    """It read "Converted: USD EUR 1,300.00 at 0.9259.": two currency codes side by side, the dollars missing."""
    maersk = ranking.ranking_for_shipment(shipment=master).option_for(ocean_carriers[0].pk)
    (note,) = [n for n in maersk.notes() if n.startswith("Converted")]
    assert note == "Converted from USD 1,404.00 to EUR 1,300.00 (1 USD = 0.9259 EUR)."


def test_one_day_and_one_leg_are_singular(master, ocean_carriers):
    maersk, _ = ocean_carriers
    CarrierService.objects.filter(carrier=maersk).update(transit_days=1)
    CarrierRecord.objects.create(carrier=maersk, on_time_score=D("1.00"), measured_legs=1)
    notes = " ".join(ranking.ranking_for_shipment(shipment=master).option_for(maersk.pk).notes())
    assert "Transit 1 day on MAEU Asia–Europe" in notes
    assert "On time 100% over 1 leg." in notes
    assert str(CarrierRecord.objects.select_related("carrier").get()) == "MAEU: 100% on time over 1 leg"


def test_the_on_time_record_changes_the_order(master, ocean_carriers):
    maersk, hapag = ocean_carriers
    CarrierRecord.objects.create(carrier=maersk, on_time_score=D("0.40"), measured_legs=80)
    CarrierRecord.objects.create(carrier=hapag, on_time_score=D("0.98"), measured_legs=120)
    result = ranking.ranking_for_shipment(shipment=master)
    assert [o.carrier.code for o in result.options] == ["HLCU", "MAEU"]
    assert "On time 98% over 120 legs." in result.options[0].reasons()


def test_a_customer_preference_adds_points_and_an_exclusion_removes_the_carrier(master, ocean_carriers):
    maersk, hapag = ocean_carriers
    customer = master.consolidated_houses.first().house.order.customer
    CarrierPreference.objects.create(carrier=hapag, kind="preferred", customer=customer, reason="ACME contract 2026")
    preferred = ranking.ranking_for_shipment(shipment=master)
    assert preferred.option_for(hapag.pk).points["preferred"] == 5.0
    assert "Preferred: ACME contract 2026 (+5 points)." in preferred.option_for(hapag.pk).reasons()
    CarrierPreference.objects.create(
        carrier=maersk, kind="excluded", origin_code="CN", destination_code="DEHAM", reason="damage claims on this lane"
    )
    excluded = ranking.ranking_for_shipment(shipment=master)
    assert [o.carrier.code for o in excluded.options] == ["HLCU"]
    assert excluded.excluded[0].excluded_reason == "damage claims on this lane"


def test_a_preference_for_another_customer_or_lane_does_not_apply(master, ocean_carriers, customer_b):
    maersk, _ = ocean_carriers
    CarrierPreference.objects.create(carrier=maersk, kind="excluded", customer=customer_b, reason="not for us")
    CarrierPreference.objects.create(carrier=maersk, kind="excluded", destination_code="NLRTM", reason="elsewhere")
    assert ranking.ranking_for_shipment(shipment=master).best.carrier == maersk


def test_carriers_without_a_valid_rate_are_listed_with_the_reason(master, ocean_carriers):
    cosco = OrganisationFactory(code="COSU", name="COSCO", kinds=["carrier"])
    rate_card(
        cosco,
        mode="ocean_fcl",
        expires_on=PICKUP - datetime.timedelta(days=30),
        lines=[
            {
                "origin_code": "CNSHA",
                "destination_code": "DEHAM",
                "equipment_type": "22G1",
                "basis": RateBasis.PER_CONTAINER,
                "breaks": [(0, 900)],
            }
        ],
    )
    result = ranking.ranking_for_shipment(shipment=master)
    assert [o.carrier.code for o in result.excluded] == ["COSU"]
    assert f"expired on {PICKUP - datetime.timedelta(days=30):%Y-%m-%d}" in result.excluded[0].excluded_reason


def test_a_deactivated_carrier_is_left_out_and_never_picked(master, ocean_carriers):
    """The admin closes Maersk (Organisation → Active unticked), the cheapest on the lane: it must not be booked."""
    maersk, hapag = ocean_carriers
    maersk.is_active = False
    maersk.save()

    result = ranking.ranking_for_shipment(shipment=master)

    assert [o.carrier.code for o in result.options] == ["HLCU"]
    assert [(o.carrier.code, o.excluded_reason) for o in result.excluded] == [("MAEU", "carrier is inactive")]
    assert result.excluded[0].reasons() == ["Excluded: carrier is inactive."]
    assert result.option_for(maersk.pk) is None
    assert ranking.pick_best(shipment=master).carrier == hapag


def test_a_lane_only_an_inactive_carrier_covers_is_uncovered(master, ocean_carriers):
    for carrier in ocean_carriers:
        carrier.is_active = False
        carrier.save()

    result = ranking.ranking_for_shipment(shipment=master)

    assert result.options == []
    assert result.lane_uncovered
    assert {o.excluded_reason for o in result.excluded} == {"carrier is inactive"}
    assert ranking.pick_best(shipment=master) is None


def test_a_missing_exchange_rate_excludes_the_offer_instead_of_guessing(master, ocean_carriers):
    yangming = OrganisationFactory(code="YMLU", name="Yang Ming", kinds=["carrier"])
    rate_card(
        yangming,
        mode="ocean_fcl",
        currency="JPY",
        lines=[
            {
                "origin_code": "CNSHA",
                "destination_code": "DEHAM",
                "equipment_type": "22G1",
                "basis": RateBasis.PER_CONTAINER,
                "breaks": [(0, 150000)],
            }
        ],
    )
    excluded = {o.carrier.code: o for o in ranking.ranking_for_shipment(shipment=master).excluded}
    assert excluded["YMLU"].excluded_reason == f"no JPY/EUR exchange rate on {PICKUP:%Y-%m-%d}"


def test_express_service_weighs_transit_more(make_order, ops_user, ocean_carriers):
    orders = [make_order(service_level=ServiceLevel.EXPRESS, requested_pickup_on=PICKUP)]
    master = consolidation.consolidation_create(orders=orders, container_type="22G1", by=ops_user)
    result = ranking.ranking_for_shipment(shipment=master)
    assert result.weights.transit == D("0.55")
    assert result.best.carrier.code == "HLCU"


def test_fcl_order_is_ranked_from_its_own_containers(make_order, order_data, ocean_carriers):
    order = make_order(mode="ocean_fcl", lines=order_data()["lines"])  # one 45G1
    result = ranking.ranking_for_order(order=order)
    assert result.request.measures.containers == (("45G1", 1),)
    assert result.option_for(ocean_carriers[1].pk).quote.total_amount == D("2900.00")


def test_parcel_ranks_cheapest_and_fastest_by_weight_and_zone(db, settings):
    settings.OMS_BASE_CURRENCY = "EUR"
    dhl = OrganisationFactory(code="DHLX", name="DHL Express", kinds=["carrier"])
    ups = OrganisationFactory(code="UPSX", name="UPS", kinds=["carrier"])
    for carrier, bands, transit in ((dhl, [(0, "14.90"), (5, "22.50")], 1), (ups, [(0, "12.40"), (5, "19.90")], 3)):
        uk = zone(carrier, "EU-WEST", countries=["GB", "IE"])
        rate_card(
            carrier,
            mode="parcel",
            lines=[
                {
                    "origin_code": "DE",
                    "destination_zone": uk,
                    "basis": RateBasis.PER_SHIPMENT,
                    "maximum_quantity": D("31.5"),
                    "breaks": bands,
                }
            ],
        )
        CarrierService.objects.create(
            carrier=carrier,
            mode="parcel",
            name=f"{carrier.code} Europe",
            origin_code="DE",
            destination_code="GB",
            transit_days=transit,
            cargo_cutoff_hours=0,
        )
    request = RankingRequest(
        mode="parcel",
        origin="DEHAM",
        destination="GBLON",
        ready_on=PICKUP,
        measures=ranking.Measures("parcel", D(6), D("0.02")),
        currency="EUR",
    )
    context = ranking_context_load(modes=["parcel"], lane=("DEHAM", "GBLON"))
    economy = rank(RankingRequest(**{**request.__dict__, "service_level": ServiceLevel.ECONOMY}), context)
    express = rank(RankingRequest(**{**request.__dict__, "service_level": ServiceLevel.EXPRESS}), context)
    assert economy.best.carrier == ups
    assert economy.best.cost == D("19.90")
    assert express.best.carrier == dhl
    assert express.best.transit_days == 1
    heavy = rank(RankingRequest(**{**request.__dict__, "measures": ranking.Measures("parcel", D(40), D(0))}), context)
    assert heavy.options == []
    assert all("at most 31.5 kg" in o.excluded_reason for o in heavy.excluded)


def test_ranking_runs_a_constant_number_of_queries(master, ocean_carriers, django_assert_num_queries):
    request = ranking.request_for_shipment(master)
    with django_assert_num_queries(9):
        few = rank(request, ranking_context_load(modes=["ocean_fcl"], lane=("CNSHA", "DEHAM")))
    for n in range(15):
        carrier = OrganisationFactory(code=f"CAR{n:02d}", kinds=["carrier"])
        rate_card(
            carrier,
            mode="ocean_fcl",
            lines=[
                {
                    "origin_code": "CNSHA",
                    "destination_code": "DEHAM",
                    "equipment_type": "22G1",
                    "basis": RateBasis.PER_CONTAINER,
                    "breaks": [(0, 1500 + n)],
                },
                {
                    "origin_code": "CN",
                    "destination_code": "DE",
                    "equipment_type": "22G1",
                    "basis": RateBasis.PER_CONTAINER,
                    "breaks": [(0, 1900)],
                },
            ],
        )
    with django_assert_num_queries(9):
        many = rank(request, ranking_context_load(modes=["ocean_fcl"], lane=("CNSHA", "DEHAM")))
    assert len(few.options) == 2
    assert len(many.options) == 17


def test_a_consolidation_is_offered_only_sailings_its_last_house_can_make(make_order, ops_user, ocean_carriers):
    """Review C: pickups on D, D+14 and D+21 were ranked from the earliest, and the master booked on the Friday after
    D, whose cut-off two of its three orders could never make. The box sails with its last house."""
    last = PICKUP + datetime.timedelta(days=21)
    pickups = [PICKUP, PICKUP + datetime.timedelta(days=14), last]
    orders = [make_order(requested_pickup_on=day) for day in pickups]
    master = consolidation.consolidation_create(orders=orders, container_type="22G1", by=ops_user)

    result = ranking.ranking_for_shipment(shipment=master)

    assert result.request.ready_on == last
    assert [(o.carrier.code, o.departure_on) for o in result.options] == [
        ("MAEU", next_weekday(last + datetime.timedelta(days=2), 4)),  # Fridays, 48 h cargo cut-off
        ("HLCU", next_weekday(last + datetime.timedelta(days=2), 1)),  # Tuesdays
    ]


def test_pick_best_books_the_top_option_and_pins_its_quote(master, ocean_carriers):
    booking = ranking.pick_best(shipment=master)
    assert isinstance(booking, Booking)
    assert booking.carrier.code == "MAEU"
    assert booking.status == "requested"
    assert (booking.quoted_amount, booking.quoted_currency) == (D("1404.00"), "USD")
    assert booking.selection["automatic"] is True
    assert booking.selection["rank"] == 1
    assert booking.requested_departure_on == MAERSK_SAILS
    main = master.legs.get()
    assert main.carrier.code == "MAEU"
    assert main.planned_departure_at.date() == MAERSK_SAILS


def test_pick_best_returns_none_when_no_carrier_qualifies(make_order, ops_user):
    master = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    assert ranking.pick_best(shipment=master) is None


def test_a_service_switched_off_is_not_offered_for_a_new_booking(master, ocean_carriers):
    """A service the carrier no longer runs is switched off, not deleted (bookings made on it keep it): the ranking,
    which gives a booking its service (booking.booking_request), no longer offers its departures."""
    maersk, _ = ocean_carriers
    CarrierService.objects.filter(carrier=maersk).update(is_active=False)

    result = ranking.ranking_for_shipment(shipment=master)

    services = {o.carrier.code: o.service for o in result.options}
    assert services["MAEU"] is None
    assert services["HLCU"] == CarrierService.objects.get(carrier=ocean_carriers[1])
