"""Re-mapping stored events after the rules change, per sender: mapping rules and alerts are per partner (X12
partners redefine codes), so each event is mapped again with its own sender's rules, and an alert's re-map and
its "still unmapped" check stay with its own sender's events."""

import datetime

from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import ETD, oms_event
from tracking.ingest import formats, mapping, remapping, services
from tracking.ingest.models import MappingAlert, MappingRule, MappingStatus, SourceKind, TrackingEvent
from tracking.ingest.services import Source

H = datetime.timedelta(hours=1)
FEED = Source(kind=SourceKind.WEBHOOK, name="feed")  # our own feed: no partner, the generic rules


def maersk_edi(maersk):
    return Source(kind=SourceKind.WEBHOOK, name="maeu-edi", partner_id=maersk.pk, carrier_ids=frozenset({maersk.pk}))


def send_zz9(source, at, event_id):
    raw = oms_event("X", at, code="ZZ9", scheme="x12_214", place="CNSHA", event_id=event_id) | {"milestone": None}
    return services.events_ingest(events=[formats.oms_event(raw)], source=source)


def milestone_of(event_id):
    event = TrackingEvent.objects.get(source_event_id=event_id)
    return event.mapping_status, event.milestone_id


def test_each_event_remembers_whose_mapping_rules_it_follows(booked_fcl, ocean_carriers):
    maersk, _ = ocean_carriers
    send_zz9(FEED, ETD, "feed-1")
    send_zz9(maersk_edi(maersk), ETD + H, "maeu-1")
    assert TrackingEvent.objects.get(source_event_id="feed-1").partner_id is None
    assert TrackingEvent.objects.get(source_event_id="maeu-1").partner_id == maersk.pk


def test_resolving_a_partners_alert_maps_only_that_partners_events(booked_fcl, ocean_carriers, admin_user):
    """Before the fix, re-mapping Maersk's alert after adding Maersk's own rule for X12 ZZ9 mapped the generic feed's
    ZZ9 with that rule too: an event Maersk never sent became a departure."""
    maersk, _ = ocean_carriers
    send_zz9(FEED, ETD, "feed-1")
    send_zz9(maersk_edi(maersk), ETD + H, "maeu-1")
    assert MappingAlert.objects.count() == 2  # one per (scheme, code, partner)
    MappingRule.objects.create(scheme="x12_214", code="ZZ9", partner=maersk, milestone_id="DEPARTED")

    changed, resolved = remapping.alert_resolve(alert=MappingAlert.objects.get(partner=maersk), by=admin_user)

    assert (changed, resolved) == (1, True)
    assert milestone_of("maeu-1") == (MappingStatus.MAPPED, "DEPARTED")
    assert milestone_of("feed-1") == (MappingStatus.UNMAPPED, None)
    assert MappingAlert.objects.get(partner=None).is_open


def test_resolving_the_generic_alert_leaves_what_a_partners_own_rule_mapped(booked_fcl, ocean_carriers, admin_user):
    """Before the fix, re-mapping the generic feed's alert after adding a generic rule mapped Maersk's ZZ9 with it
    too: Maersk's own rule was overridden and its departure became a customs hold."""
    maersk, _ = ocean_carriers
    MappingRule.objects.create(scheme="x12_214", code="ZZ9", partner=maersk, milestone_id="DEPARTED")
    mapping.invalidate()
    send_zz9(maersk_edi(maersk), ETD, "maeu-1")
    send_zz9(FEED, ETD + H, "feed-1")
    MappingRule.objects.create(scheme="x12_214", code="ZZ9", milestone_id="CUSTOMS_HOLD")

    changed, resolved = remapping.alert_resolve(alert=MappingAlert.objects.get(partner=None), by=admin_user)

    assert (changed, resolved) == (1, True)
    assert milestone_of("feed-1") == (MappingStatus.MAPPED, "CUSTOMS_HOLD")
    assert milestone_of("maeu-1") == (MappingStatus.MAPPED, "DEPARTED")


def test_re_mapping_a_generic_rule_maps_every_senders_events_each_with_its_own_rules(booked_fcl, ocean_carriers):
    """The console's "Re-map the stored events" on a generic rule (a partner without a rule of its own falls back to
    it). Before the fix it mapped every sender's events with the generic rules only, overriding Maersk's own."""
    maersk, hapag = ocean_carriers
    send_zz9(FEED, ETD, "feed-1")
    send_zz9(maersk_edi(maersk), ETD + H, "maeu-1")
    hapag_edi = Source(kind=SourceKind.WEBHOOK, name="hlcu-edi", partner_id=hapag.pk)
    send_zz9(hapag_edi, ETD + 2 * H, "hlcu-1")
    MappingRule.objects.create(scheme="x12_214", code="ZZ9", partner=maersk, milestone_id="DEPARTED")
    MappingRule.objects.create(scheme="x12_214", code="ZZ9", milestone_id="CUSTOMS_HOLD")

    assert remapping.events_remap(scheme="x12_214", code="ZZ9", partner_id=maersk.pk) == 1  # Maersk's rule: its own
    assert remapping.events_remap(scheme="x12_214", code="ZZ9") == 2

    assert milestone_of("maeu-1") == (MappingStatus.MAPPED, "DEPARTED")
    assert milestone_of("feed-1") == (MappingStatus.MAPPED, "CUSTOMS_HOLD")
    assert milestone_of("hlcu-1") == (MappingStatus.MAPPED, "CUSTOMS_HOLD")  # no rule of its own: the generic one
