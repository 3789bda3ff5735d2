"""An event without a place means the same when it is mapped again or attached later as when it came.

Ingest judges such an event by whether the shipment had departed when the event was made (its eventCreatedDateTime,
else when it came: subjects.ShipmentInfo.had_departed, docs/tracking-events.md "Mapping is data"). Re-mapping (a rule
changed) and relinking (an event held for a reference not known yet) read the shipment's status as it was then, so an
estimated arrival the carrier made before the vessel sailed (its call at the port of loading) became the ETA once
re-mapped or attached after the departure, and a held one made after the departure stayed at the origin when the
departure was held with it. Both now ask ingest's own rule (placing.departed_when_made).
"""

from __future__ import annotations

import datetime

import pytest

from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import ETA, ETD, dcsa_event
from tests.tracking.test_relinking import HELD_BILL, post
from tracking.ingest import relinking, remapping, services
from tracking.ingest.formats import dcsa_event as read_dcsa
from tracking.ingest.models import EtaHistory, SourceKind, TrackingEvent
from tracking.models import Leg, LegRole, Shipment

H = datetime.timedelta(hours=1)
FEED = services.Source(kind=SourceKind.WEBHOOK, name="feed")


def _placeless_eta(made: datetime.datetime, *, bill: str | None = None, event_id: str = "eta") -> dict:
    raw = dcsa_event("TRANSPORT", "ARRI", ETA, classifier="EST", event_id=event_id, created=made,
                     **({"bill": bill} if bill else {}))  # fmt: skip
    del raw["transportCall"]["UNLocationCode"]  # optional in DCSA 2.2
    return raw


def _departure(*, bill: str | None = None) -> dict:
    return dcsa_event("TRANSPORT", "DEPA", ETD + H, event_id="dep", created=ETD + 2 * H,
                      **({"bill": bill} if bill else {}))  # fmt: skip


def _etas(master: Shipment) -> list[datetime.datetime]:
    return list(EtaHistory.objects.filter(shipment=master, milestone="ARRIVED").values_list("estimated_at", flat=True))


def _placed(event_id: str = "eta") -> tuple[int | None, str | None, str]:
    return TrackingEvent.objects.values_list("shipment_id", "milestone_id", "location_role").get(
        source_event_id=event_id
    )


@pytest.mark.parametrize(("made", "eta"), [(ETD - 3 * H, None), (ETD + 3 * H, ETA)])
def test_re_mapping_judges_an_event_without_a_place_by_when_it_was_made(booked_fcl, made, eta):
    """The estimate comes before the departure is reported: at the origin (the shipment had not left as far as
    anyone knew). Re-mapped after the departure, the one made before the vessel sailed stays the vessel's call at the
    port of loading (it used to become the ETA: the shipment's status then said "in transit"), and the one made after
    it is the ETA, as ingest would have read either had the departure come first."""
    _, master = booked_fcl
    services.events_ingest(events=[read_dcsa(_placeless_eta(made))], source=FEED)
    assert _placed()[1:] == (None, "origin")
    services.events_ingest(events=[read_dcsa(_departure())], source=FEED)
    assert Leg.objects.get(shipment=master, role=LegRole.MAIN).actual_departure_at == ETD + H

    remapping.events_remap(scheme="dcsa", code="TRANSPORT:ARRI")

    assert _placed() == ((master.pk, "ARRIVED", "destination") if eta else (master.pk, None, "origin"))
    assert _etas(master) == ([eta] if eta else [])


def test_attaching_a_held_event_without_a_place_made_before_the_departure_keeps_it_at_the_origin(
    client, booked_fcl, webhook_source
):
    """Held for a B/L not recorded yet, the carrier's estimate of the vessel's call at the port of loading is attached
    after the vessel sailed: it stays that call, and the shipment's ETA stays the plan's (it used to become the ETA)."""
    _, master = booked_fcl
    assert post(client, [_placeless_eta(ETD - 3 * H, bill=HELD_BILL)]).json()["unlinked"] == 1
    assert post(client, [_departure()]).json()["stored"] == 1
    Shipment.objects.filter(pk=master.pk).update(bill_number=HELD_BILL)

    assert relinking.events_relink(references=relinking.bill_references(HELD_BILL)) == 1

    assert _placed() == (master.pk, None, "origin")
    assert _etas(master) == []


@pytest.mark.parametrize("departure", ["recorded before", "held with it"])
def test_attaching_a_held_event_without_a_place_made_after_the_departure_makes_it_the_eta(
    client, booked_fcl, webhook_source, departure
):
    """Made after the vessel sailed, the held estimate is the ETA once attached, whether the departure was recorded
    before or was held under the same B/L and is attached with it (as ingest reads a delivery that brings both; the
    status before the relink said "planned", and the estimate stayed at the origin)."""
    _, master = booked_fcl
    held = [_placeless_eta(ETD + 3 * H, bill=HELD_BILL)]
    if departure == "held with it":
        held.insert(0, _departure(bill=HELD_BILL))
    else:
        assert post(client, [_departure()]).json()["stored"] == 1
    assert post(client, held).json()["unlinked"] == len(held)
    Shipment.objects.filter(pk=master.pk).update(bill_number=HELD_BILL)

    assert relinking.events_relink(references=relinking.bill_references(HELD_BILL)) == len(held)

    assert Leg.objects.get(shipment=master, role=LegRole.MAIN).actual_departure_at == ETD + H
    assert _placed() == (master.pk, "ARRIVED", "destination")
    assert _etas(master) == [ETA]
