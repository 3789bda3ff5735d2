"""The mapping of each standard's codes to our milestones (DOMAIN.md §1.7/§1.8), as seeded data: DCSA with
its location roles, X12 214 (with status reasons) and 315, IATA, UN/ECE Rec 24, AfterShip, EasyPost and
Karrio; partner rules, forced classifiers, known codes that are no milestone, and how DCSA and our JSON
events are read."""

import datetime

import pytest

from tests.factories import OrganisationFactory
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import ETD, dcsa_event
from tracking.ingest import mapping
from tracking.ingest.formats import FormatError
from tracking.ingest.formats import dcsa_event as read_dcsa
from tracking.ingest.formats import oms_event as read_oms
from tracking.ingest.models import MappingRule, MappingStatus, Milestone
from tracking.ingest.standards import MILESTONES, RULES

pytestmark = pytest.mark.usefixtures("fresh_mapping")


def lookup(scheme, code, role="", partner_id=None):
    found = mapping.table().lookup(scheme=scheme, code=code, role=role, partner_id=partner_id)
    return found.milestone, found.classifier


@pytest.mark.django_db
def test_the_canonical_milestones_are_data_in_rank_order():
    assert list(Milestone.objects.values_list("code", flat=True)) == [seed.code for seed in MILESTONES]
    assert Milestone.objects.get(code="DEPARTED").order_status == "in_transit"
    assert Milestone.objects.get(code="CUSTOMS_HOLD").is_exception
    assert MappingRule.objects.count() == len(RULES)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "role", "milestone"),
    [
        ("SHIPMENT:BKG:CONF", "", "BOOKING_CONFIRMED"),
        ("SHIPMENT:CBR:RECE", "", "INFO_RECEIVED"),
        ("SHIPMENT:BKG:REJE", "", "CANCELLED"),
        ("SHIPMENT:CUS:RELS", "origin", "EXPORT_CLEARED"),
        ("SHIPMENT:CUS:RELS", "destination", "IMPORT_CLEARED"),
        ("SHIPMENT:CUS:HOLD", "", "CUSTOMS_HOLD"),
        ("SHIPMENT:SRM:HOLD", "", "CUSTOMS_HOLD"),
        ("SHIPMENT:SRM:RELS", "", "AVAILABLE"),
        ("SHIPMENT:ARN:ISSU", "", "AVAILABLE"),
        ("EQUIPMENT:GTOT:EMPTY", "", "EMPTY_PICKED_UP"),
        ("EQUIPMENT:GTOT:LADEN", "origin", "PICKED_UP"),
        ("EQUIPMENT:GTOT:LADEN", "destination", "OUT_FOR_DELIVERY"),
        ("EQUIPMENT:GTIN:LADEN", "origin", "RECEIVED_AT_ORIGIN"),
        ("EQUIPMENT:GTIN:LADEN", "intermediate", "TRANSSHIPMENT"),
        ("EQUIPMENT:LOAD:LADEN", "origin", "LOADED"),
        ("EQUIPMENT:DISC:LADEN", "destination", "DISCHARGED"),
        ("EQUIPMENT:DISC:LADEN", "intermediate", "TRANSSHIPMENT"),
        ("EQUIPMENT:STRP:LADEN", "destination", "DISCHARGED"),
        ("EQUIPMENT:DROP:LADEN", "destination", "DELIVERED"),
        ("EQUIPMENT:GTIN:EMPTY", "", "EMPTY_RETURNED"),
        ("EQUIPMENT:INSP:LADEN", "", "CUSTOMS_HOLD"),
        ("TRANSPORT:DEPA", "origin", "DEPARTED"),
        ("TRANSPORT:DEPA", "intermediate", "TRANSSHIPMENT"),
        ("TRANSPORT:DEPA", "destination", None),  # the vessel leaves the POD: the goods arrived already
        ("TRANSPORT:ARRI", "destination", "ARRIVED"),
        ("TRANSPORT:ARRI", "intermediate", "TRANSSHIPMENT"),
        ("TRANSPORT:ARRI", "origin", None),  # the vessel calls at the POL: the goods have not left (§1.8)
    ],
)
def test_dcsa_codes_by_where_they_happen(code, role, milestone):
    assert lookup("dcsa", code, role)[0] == milestone


@pytest.mark.django_db
def test_a_bill_of_lading_surrendered_is_not_delivery():
    found = mapping.table().lookup(scheme="dcsa", code="SHIPMENT:TRD:SURR")
    assert (found.status, found.milestone) == (MappingStatus.NOT_A_MILESTONE, None)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "role", "expected"),
    [
        ("XB", "", ("INFO_RECEIVED", "")),
        ("AF", "", ("PICKED_UP", "")),
        ("CP", "", ("LOADED", "")),
        ("X3", "", (None, "")),
        ("X4", "origin", ("RECEIVED_AT_ORIGIN", "")),
        ("X4", "destination", ("ARRIVED", "")),
        ("P1", "origin", ("DEPARTED", "")),
        ("AV", "", ("AVAILABLE", "")),
        ("X6", "", ("OUT_FOR_DELIVERY", "")),
        ("AH", "", ("DELIVERY_ATTEMPTED", "")),
        ("A7", "", ("DELIVERY_ATTEMPTED", "")),
        ("D1", "", ("DELIVERED", "")),
        ("A3", "", ("RETURNED_TO_SENDER", "")),
        ("CA", "", ("CANCELLED", "")),
        ("K1:AS", "", ("CUSTOMS_HOLD", "")),
        ("K1:NS", "", (None, "")),
        ("PR", "", ("CUSTOMS_HOLD", "")),
        ("AG", "", ("DELIVERED", "EST")),
        ("X2", "", ("DELIVERED", "EST")),
        ("B6", "", ("ARRIVED", "EST")),
        ("C1", "", ("DEPARTED", "EST")),
    ],
)
def test_x12_214_status_codes_and_reasons(code, role, expected):
    assert lookup("x12_214", code, role) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "role", "milestone"),
    [
        ("BF", "", "BOOKING_CONFIRMED"),
        ("EE", "", "EMPTY_PICKED_UP"),
        ("I", "", "RECEIVED_AT_ORIGIN"),
        ("AE", "origin", "LOADED"),
        ("VD", "origin", "DEPARTED"),
        ("VD", "destination", None),
        ("VA", "destination", "ARRIVED"),
        ("VA", "origin", None),
        ("UV", "destination", "DISCHARGED"),
        ("UV", "intermediate", "TRANSSHIPMENT"),
        ("CT", "origin", "EXPORT_CLEARED"),
        ("CT", "destination", "IMPORT_CLEARED"),
        ("CR", "", "AVAILABLE"),
        ("OA", "", "OUT_FOR_DELIVERY"),
        ("D", "", "DELIVERED"),
        ("RD", "", "EMPTY_RETURNED"),
    ],
)
def test_x12_315_ocean_status_codes(code, role, milestone):
    assert lookup("x12_315", code, role)[0] == milestone


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "role", "expected"),
    [
        ("BKD", "", ("BOOKING_CONFIRMED", "")),
        ("RCS", "", ("RECEIVED_AT_ORIGIN", "")),
        ("DPU", "", ("PICKED_UP", "")),
        ("MAN", "", ("LOADED", "PLN")),
        ("DEP", "origin", ("DEPARTED", "")),
        ("DEP", "intermediate", ("TRANSSHIPMENT", "")),
        ("ARR", "destination", ("ARRIVED", "")),
        ("RCF", "destination", ("DISCHARGED", "")),
        ("NFD", "", ("AVAILABLE", "")),
        ("CCD", "destination", ("IMPORT_CLEARED", "")),
        ("TFD", "", ("TRANSSHIPMENT", "")),
        ("DLV", "", ("DELIVERED", "")),
        ("DDL", "", ("DELIVERED", "")),
        ("CRC", "", ("CUSTOMS_HOLD", "")),
    ],
)
def test_iata_status_codes(code, role, expected):
    assert lookup("iata", code, role) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("scheme", "code", "milestone"),
    [
        ("edifact", "24", "DEPARTED"),
        ("edifact", "21", "DELIVERED"),
        ("edifact", "13", "PICKED_UP"),
        ("edifact", "23", "DELIVERY_ATTEMPTED"),
        ("edifact", "45", "AVAILABLE"),
        ("edifact", "20", None),
        ("aftership", "InfoReceived", "INFO_RECEIVED"),
        ("aftership", "OutForDelivery", "OUT_FOR_DELIVERY"),
        ("aftership", "AttemptFail", "DELIVERY_ATTEMPTED"),
        ("aftership", "Exception_004", "CUSTOMS_HOLD"),
        ("easypost", "pre_transit", "INFO_RECEIVED"),
        ("easypost", "return_to_sender", "RETURNED_TO_SENDER"),
        ("easypost", "available_for_pickup", "AVAILABLE"),
        ("karrio", "pending", "INFO_RECEIVED"),
        ("karrio", "picked_up", "PICKED_UP"),
        ("karrio", "in_transit", "DEPARTED"),
        ("karrio", "ready_for_pickup", "AVAILABLE"),
        ("karrio", "on_hold", "CUSTOMS_HOLD"),
        ("karrio", "delivery_failed", "DELIVERY_ATTEMPTED"),
        ("karrio", "delivery_delayed", None),
        ("oms", "DEPARTED", "DEPARTED"),
    ],
)
def test_rec_24_and_parcel_statuses(scheme, code, milestone):
    assert lookup(scheme, code)[0] == milestone


@pytest.mark.django_db
def test_a_code_nobody_mapped_is_unmapped():
    found = mapping.table().lookup(scheme="x12_214", code="Q7")
    assert (found.status, found.milestone) == (MappingStatus.UNMAPPED, None)


@pytest.mark.django_db
def test_a_partners_own_rule_wins_for_that_partner_only():
    partner = OrganisationFactory(code="ACMEXP", kinds=["carrier"])
    MappingRule.objects.create(
        scheme="x12_214",
        code="X6",
        partner=partner,
        milestone_id="TRANSSHIPMENT",
        note="ACME Express uses X6 for hub transfers",
    )
    mapping.invalidate()
    assert lookup("x12_214", "X6", partner_id=partner.pk)[0] == "TRANSSHIPMENT"
    assert lookup("x12_214", "X6")[0] == "OUT_FOR_DELIVERY"


@pytest.mark.django_db
def test_a_switched_off_milestone_maps_nothing():
    Milestone.objects.filter(code="LOADED").update(is_active=False)
    mapping.invalidate()
    assert lookup("dcsa", "EQUIPMENT:LOAD:LADEN", "origin")[0] is None


def test_a_dcsa_equipment_event_is_read_with_its_container_first():
    event = read_dcsa(dcsa_event("EQUIPMENT", "LOAD", ETD, event_id="e-1", empty="LADEN"))
    assert event.raw_code == "EQUIPMENT:LOAD:LADEN"
    assert event.subjects[0] == ("container", "CSQU3054383")
    assert ("bill", "MAEU262000001") in event.subjects
    assert (event.classifier, event.source_event_id, event.location_code) == ("ACT", "e-1", "CNSHA")


def test_a_dcsa_shipment_event_names_its_document_and_accepts_the_yaml_spelling():
    raw = dcsa_event("SHIPMENT", "RELS", ETD, document="CUS")
    raw["documentReferences"] = [{"documentReferenceType": "BKG (Booking)", "documentReferenceValue": "BK1"}]
    event = read_dcsa(raw)
    assert event.raw_code == "SHIPMENT:CUS:RELS"
    assert ("booking", "BK1") in event.subjects


def test_a_transport_call_that_names_its_port_only_in_its_location_is_read_with_that_port():
    """DCSA 2.2: transportCall.UNLocationCode is optional, the facility's `location` may carry the port instead.
    Read without it, a vessel's arrival at a transhipment port had no place, and after departure counted as the
    arrival at the destination: the order became arrived mid-voyage (acceptance review G)."""
    raw = dcsa_event("TRANSPORT", "ARRI", ETD)
    del raw["transportCall"]["UNLocationCode"]
    raw["transportCall"]["location"] = {"locationName": "Singapore, PSA Pasir Panjang", "UNLocationCode": "SGSIN"}
    assert read_dcsa(raw).location_code == "SGSIN"
    raw["transportCall"]["location"] = {"locationName": "Pasir Panjang Terminal"}
    assert (read_dcsa(raw).location_code, read_dcsa(raw).location_text) == ("", "Pasir Panjang Terminal")


def test_a_dcsa_time_keeps_its_offset():
    raw = dcsa_event("TRANSPORT", "DEPA", ETD)
    raw["eventDateTime"] = "2026-03-05T08:55:00+08:00"
    event = read_dcsa(raw)
    assert event.event_at == datetime.datetime(2026, 3, 5, 0, 55, tzinfo=datetime.UTC)
    assert event.offset_minutes == 480


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"eventType": "VESSEL"}, "is not TRANSPORT, EQUIPMENT or SHIPMENT"),
        ({"eventClassifierCode": "GUESS"}, "is not one of ACT, EST, PLN"),
        ({"eventClassifierCode": ["ACT"]}, r"eventClassifierCode \['ACT'\] is not one of ACT, EST, PLN"),
        ({"eventClassifierCode": {"code": "ACT"}}, r"eventClassifierCode \{'code': 'ACT'\} is not one of"),
        ({"eventDateTime": "0001-01-01T00:30:00+01:00"}, "eventDateTime '0001-01-01T00:30:00.*outside the calendar"),
        ({"eventDateTime": "9999-12-31T23:30:00-01:00"}, "eventDateTime '9999-12-31T23:30:00.*outside the calendar"),
        ({"eventCreatedDateTime": "9999-12-31T23:30:00-01:00"}, "eventCreatedDateTime .*outside the calendar"),
        ({"eventDateTime": "2026-03-05 08:55"}, "has no UTC offset"),
        ({"transportCall": None}, "needs its transportCall"),
        ({"transportEventTypeCode": None}, "needs transportEventTypeCode"),
        ({"documentReferences": [], "references": []}, "names no equipmentReference, B/L, booking or FF"),
    ],
)
def test_a_malformed_dcsa_event_says_what_is_wrong(change, message):
    raw = dcsa_event("TRANSPORT", "DEPA", ETD) | change
    with pytest.raises(FormatError, match=message):
        read_dcsa(raw)


def test_our_json_event_with_a_standard_code():
    event = read_oms(
        {
            "code": "vd",
            "scheme": "x12_315",
            "occurred_at": "2026-03-05T08:55:00Z",
            "location": "CN SHA",
            "bill_of_lading": "maeu 262000001",
            "id": "edi-1",
        }
    )
    assert (event.scheme, event.raw_code, event.location_code, event.subjects) == (
        "x12_315",
        "VD",
        "CNSHA",
        [("bill", "MAEU262000001")],
    )


def test_an_awb_is_kept_as_its_eleven_digits():
    event = read_oms({"milestone": "DEPARTED", "occurred_at": "2026-03-05T08:55:00Z", "awb": "020-1234 5675"})
    assert event.subjects == [("awb", "02012345675")]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"classifier": ["ACT"]}, r"classifier \['ACT'\] is not one of ACT, EST, PLN"),
        ({"classifier": {"ACT": 1}}, r"classifier \{'ACT': 1\} is not one of ACT, EST, PLN"),
        ({"occurred_at": "0001-01-01T00:30:00+01:00"}, "occurred_at '0001-01-01T00:30:00.*outside the calendar"),
        ({"reported_at": "9999-12-31T23:30:00-01:00"}, "reported_at '9999-12-31T23:30:00.*outside the calendar"),
    ],
)
def test_a_malformed_event_of_ours_says_what_is_wrong(change, message):
    raw = {"milestone": "DEPARTED", "occurred_at": "2026-03-05T08:55:00Z", "container": "CSQU3054383"} | change
    with pytest.raises(FormatError, match=message):
        read_oms(raw)


def test_a_classifier_in_lower_case_or_with_spaces_is_still_read():
    event = read_oms({"milestone": "ARRIVED", "occurred_at": "2026-03-05T08:55:00Z", "container": "CSQU3054383",
                      "classifier": " est "})  # fmt: skip
    assert event.classifier == "EST"
