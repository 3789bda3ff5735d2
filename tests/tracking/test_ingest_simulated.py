"""The simulated carrier of the demo: realistic sequences per mode, late runs and customs holds, through
the same ingest path, each step stored once however often it is sent."""

import datetime

import pytest
from django.utils import timezone

from orders.models import OrderStatus
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tracking.ingest import polling, tasks
from tracking.ingest.adapters import simulated
from tracking.ingest.models import AdapterKind, CarrierEndpoint, EtaHistory, TrackingEvent, TrackingSubscription
from tracking.models import Shipment

D = datetime.timedelta(days=1)
H = datetime.timedelta(hours=1)
M = datetime.timedelta(minutes=1)
ZERO = datetime.timedelta(0)


def plan(mode, *, late=datetime.timedelta(0), held=False):
    etd = timezone.now() - 20 * D
    return simulated.Plan(
        reference="M-HAM-26-000999",
        mode=mode,
        origin="CNSHA",
        destination="DEHAM",
        etd=etd,
        eta=etd + 10 * D,
        container="CSQU3054383",
        bill="MAEU1",
        late_by=late,
        held=held,
    )


@pytest.mark.parametrize(
    ("mode", "codes"),
    [
        (
            "ocean_fcl",
            [
                "TRANSPORT:ARRI",
                "EQUIPMENT:GTIN:LADEN",
                "EQUIPMENT:LOAD:LADEN",
                "TRANSPORT:DEPA",
                "TRANSPORT:ARRI",
                "EQUIPMENT:DISC:LADEN",
                "EQUIPMENT:GTOT:LADEN",
                "EQUIPMENT:DROP:LADEN",
            ],
        ),
        ("air", ["BKD", "RCS", "DEP", "ARR", "NFD", "DDL"]),
        ("parcel", ["PICKED_UP", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED"]),
        ("road_ftl", ["PICKED_UP", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED"]),
        ("rail", ["13", "24", "40", "21"]),
    ],
)
def test_each_mode_has_its_realistic_sequence(mode, codes):
    steps = simulated.steps_for(plan(mode))
    events = [simulated._read(step, n, "M-HAM-26-000999") for n, step in enumerate(steps)]
    assert [event.raw_code for event in events] == codes
    emitted = [step["emit_at"] for step in steps]
    assert emitted == sorted(emitted)


def test_a_late_run_announces_the_slipped_eta_before_arriving_late():
    steps = simulated.steps_for(plan("ocean_fcl", late=2 * D))
    estimates = [s for s in steps if s["event"]["eventClassifierCode"] == "EST"]
    assert [e["event"]["eventDateTime"][:10] for e in estimates] == [
        (plan("ocean_fcl").eta).date().isoformat(),
        (plan("ocean_fcl").eta + 2 * D).date().isoformat(),
    ]


@pytest.mark.parametrize(
    ("mode", "codes"),
    [
        ("parcel", ["PICKED_UP", "IN_TRANSIT", "ON_HOLD", "OUT_FOR_DELIVERY", "DELIVERED"]),
        ("rail", ["13", "24", "40", "17", "39", "21"]),
    ],
)
def test_a_held_parcel_or_train_is_held_and_released_and_delivered_that_much_later(mode, codes):
    """A parcel waits at the destination hub until it goes out for delivery (Karrio has no release: that clears the
    hold), a train's box at the terminal until customs release it (Rec 24: 17, then 39); both were marked held by
    the hash and had no hold step (review B, defect 5)."""
    held = plan(mode, held=True)
    steps = simulated.steps_for(held)
    events = [simulated._read(step, n, "M-HAM-26-000999") for n, step in enumerate(steps)]
    assert [event.raw_code for event in events] == codes
    assert [step["emit_at"] for step in steps] == sorted(step["emit_at"] for step in steps)
    assert events[-1].event_at == held.eta + simulated.HELD_FOR.get(mode, simulated.HELD_FOR_OTHERWISE)
    assert simulated.arrival_late_by(held) == events[-1].event_at - held.eta


def test_a_customs_hold_comes_after_discharge_and_is_released():
    codes = [
        simulated._read(s, n, "M").raw_code for n, s in enumerate(simulated.steps_for(plan("ocean_fcl", held=True)))
    ]
    assert codes.index("SHIPMENT:CUS:HOLD") > codes.index("EQUIPMENT:DISC:LADEN")
    assert codes.index("SHIPMENT:CUS:RELS") == codes.index("SHIPMENT:CUS:HOLD") + 1


@pytest.fixture
def simulated_feed(booked_fcl, ocean_carriers):
    CarrierEndpoint.objects.create(carrier=ocean_carriers[0], kind=AdapterKind.SIMULATED)
    polling.subscriptions_sync()
    return booked_fcl


def test_the_demo_carrier_moves_a_shipment_along_its_plan(simulated_feed):
    from tracking.models import Leg

    order, master = simulated_feed
    Leg.objects.filter(shipment=master).update(
        planned_departure_at=timezone.now() - 30 * D, planned_arrival_at=timezone.now() - 10 * D
    )
    for _ in range(6):
        TrackingSubscription.objects.update(next_poll_at=timezone.now())
        tasks.advance_simulated_carrier()
    subscription = TrackingSubscription.objects.get()
    assert subscription.state["next"] >= 7
    assert set(TrackingEvent.objects.values_list("milestone", flat=True)) >= {
        "RECEIVED_AT_ORIGIN",
        "LOADED",
        "DEPARTED",
        "ARRIVED",
        "DISCHARGED",
    }
    assert EtaHistory.objects.filter(shipment=master, milestone="ARRIVED").exists()
    order.refresh_from_db()
    assert order.status in (OrderStatus.ARRIVED, OrderStatus.DELIVERED)
    assert Shipment.objects.get(pk=master.pk).status in ("arrived", "delivered")


def test_a_step_sent_again_is_stored_once(simulated_feed):
    TrackingSubscription.objects.update(next_poll_at=timezone.now())
    tasks.advance_simulated_carrier()
    stored = TrackingEvent.objects.count()
    TrackingSubscription.objects.update(state={}, next_poll_at=timezone.now())  # a worker lost what it had saved
    tasks.advance_simulated_carrier()
    assert TrackingEvent.objects.count() == stored


def test_future_steps_wait_for_their_time(simulated_feed):
    _, master = simulated_feed
    from tracking.models import Leg

    Leg.objects.filter(shipment=master).update(
        planned_departure_at=timezone.now() + 10 * D, planned_arrival_at=timezone.now() + 40 * D
    )
    TrackingSubscription.objects.update(next_poll_at=timezone.now())
    tasks.advance_simulated_carrier()
    assert not TrackingEvent.objects.filter(classifier="ACT").exists()
    assert TrackingSubscription.objects.get().next_poll_at > timezone.now()


def test_a_scene_replaces_what_the_hash_picks(simulated_feed):
    """The demo's seed gives a shipment its scene (a late departure, a short hold); the carrier plays it."""
    _, master = simulated_feed
    scene = simulated.Scene(departs_late_by=3 * H, held=True, hold_for=10 * M)
    assert simulated.scene_set(shipment=master, scene=scene) == 1

    played = simulated.plan_for(master)

    assert (played.late_by, played.held, played.departs_late_by, played.held_for) == (ZERO, True, 3 * H, 10 * M)
    steps = {simulated._read(step, n, "M").raw_code: step for n, step in enumerate(simulated.steps_for(played))}
    assert steps["TRANSPORT:DEPA"]["emit_at"] == (played.etd + 3 * H).astimezone(datetime.UTC).isoformat()
    hold, release = (
        datetime.datetime.fromisoformat(steps[code]["emit_at"]) for code in ("SHIPMENT:CUS:HOLD", "SHIPMENT:CUS:RELS")
    )
    assert release - hold == 10 * M
