"""Planning fixtures: confirmed orders made through the real intake, ocean carriers with rate cards and services."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

import pytest

from finance.models import ExchangeRate, RateBasis
from orders import services as order_services
from orders.models import Channel, Order
from partners.scoping import scope_for_user
from tests.factories import OrganisationFactory
from tests.finance.builders import rate_card
from tracking.models import CarrierService, Leg, LegRole, Shipment
from tracking.services import leg_changes

D = Decimal
PICKUP = datetime.datetime.now(tz=datetime.UTC).date() + datetime.timedelta(
    days=30
)  # in the future whenever the suite runs


def add_on_carriage(master: Shipment, carrier_id: int | None, destination: str = "PLWAW") -> Leg:
    """An on-carriage leg by road from Hamburg, run by this carrier (None: by the master's own)."""
    data: dict[str, object] = {"role": LegRole.ON_CARRIAGE, "mode": "road_ftl", "origin_id": "DEHAM"}
    data["destination_id"] = destination
    if carrier_id is not None:
        data["carrier_id"] = carrier_id
    return leg_changes.leg_add(shipment=master, data=data)


def next_weekday(day: datetime.date, weekday: int) -> datetime.date:
    """The first date on or after `day` falling on `weekday` (0 = Monday)."""
    return day + datetime.timedelta(days=(weekday - day.weekday()) % 7)


@pytest.fixture
def ops_scope(ops_user):
    return scope_for_user(ops_user)


def lcl_line(weight: int | str, volume: int | str, pieces: int = 10, description: str = "LED lamps") -> dict:
    return {
        "pieces": pieces,
        "package_type": "PX",
        "gross_weight_kg": str(weight),
        "volume_m3": str(volume),
        "description": description,
        "hs_code": "9405.42",
    }


@pytest.fixture
def make_order(order_data, ops_user, ops_scope):
    """A submitted (and by default confirmed) order; LCL CNSHA → DEHAM unless told otherwise."""
    numbers = itertools.count(1)

    def make(*, confirm: bool = True, lines=None, **overrides) -> Order:
        data = order_data(
            customer_reference=f"PO-{next(numbers):04d}",
            mode="ocean_lcl",
            lines=lines or [lcl_line(1800, 6)],
            requested_pickup_on=PICKUP,
            requested_delivery_on=PICKUP + datetime.timedelta(days=60),
        )
        data.update(overrides)
        order = order_services.order_create(
            data=data, scope=ops_scope, channel=Channel.SCREEN, by=ops_user, submit=True
        )
        if confirm:
            order = order_services.order_transition(
                order=order, name="confirm", scope=ops_scope, channel=Channel.SCREEN, by=ops_user
            )
        return Order.objects.get(pk=order.pk)

    return make


@pytest.fixture
def ocean_carriers(db):
    """Maersk (USD, cheaper, slower) and Hapag-Lloyd (EUR, dearer, faster) for 20' boxes CNSHA → DEHAM."""
    maersk = OrganisationFactory(code="MAEU", name="Maersk", kinds=["carrier", "vendor"], email="book@maeu.test")
    hapag = OrganisationFactory(code="HLCU", name="Hapag-Lloyd", kinds=["carrier", "vendor"], email="book@hlcu.test")
    ExchangeRate.objects.create(
        base_currency="EUR", quote_currency="USD", rate=D("1.0800"), rate_on=datetime.date(2026, 1, 1)
    )
    for carrier, currency, rate, transit, weekdays in ((maersk, "USD", 1404, 34, [4]), (hapag, "EUR", 1450, 30, [1])):
        rate_card(
            carrier,
            mode="ocean_fcl",
            currency=currency,
            lines=[
                {
                    "origin_code": "CNSHA",
                    "destination_code": "DEHAM",
                    "equipment_type": iso,
                    "basis": RateBasis.PER_CONTAINER,
                    "breaks": [(0, rate * factor)],
                }
                for iso, factor in (("22G1", 1), ("42G1", 2), ("45G1", 2))
            ],
        )
        CarrierService.objects.create(
            carrier=carrier,
            mode="ocean_fcl",
            name=f"{carrier.code} Asia–Europe",
            origin_code="CNSHA",
            destination_code="DEHAM",
            transit_days=transit,
            departure_weekdays=weekdays,
            cargo_cutoff_hours=48,
        )
    return maersk, hapag
