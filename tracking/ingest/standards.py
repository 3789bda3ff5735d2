"""The starting data: canonical milestones (DOMAIN.md §1.7) and the mapping of each standard's codes to them
(§1.8), loaded by the tracking_events migration and by `seed_reference_data` (idempotent: rows that exist
are left as operations edited them). After that the admin owns both lists.

Raw codes are written as the adapters compose them (tracking/ingest/formats.py):
- DCSA: `TRANSPORT:DEPA`, `EQUIPMENT:GTOT:EMPTY` (type, code, empty indicator), `SHIPMENT:CUS:RELS`
  (type, documentTypeCode, shipmentEventTypeCode).
- X12 214: AT7-01, or `AT7-01:AT7-02` when a status reason changes the meaning (K1:AS customs hold).
- the rest: the code as the standard spells it (IATA `DEP`, Rec 24 `24`, Karrio `in_transit`).

A location role ("origin", "intermediate", "destination") narrows a rule to where the event happened
relative to the shipment (DEPA at the port of loading is DEPARTED, at a transhipment port TRANSSHIPMENT, at the
port of discharge no milestone); a rule without one applies anywhere. A `None` milestone marks a known code that
is not a milestone.

The role-less rule stays for the place we cannot place (an event that reaches no shipment), and the exceptions
are rules of their own rather than a role on the general rule: `seed_reference_data` adds missing
(scheme, code, role) rows to a database seeded before and never edits one, so a new exception reaches it, a
changed role would not.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class MilestoneSeed(NamedTuple):
    rank: int
    code: str
    name: str
    definition: str
    modes: tuple[str, ...]
    is_exception: bool
    order_status: str


_SEA = ("ocean_fcl", "ocean_lcl")
_FCL = ("ocean_fcl",)
_CROSS_BORDER: tuple[str, ...] = ()  # all modes can cross a border

MILESTONES: tuple[MilestoneSeed, ...] = (
    MilestoneSeed(
        10,
        "INFO_RECEIVED",
        "Information received",
        "Order, booking request or label data received. Nothing has moved physically.",
        (),
        False,
        "",
    ),
    MilestoneSeed(
        20,
        "BOOKING_CONFIRMED",
        "Booking confirmed",
        "Carrier or airline confirmed space or booking (carrier booking ref / flight known).",
        ("ocean_fcl", "ocean_lcl", "air", "rail", "road_ftl"),
        False,
        "",
    ),
    MilestoneSeed(
        25,
        "EMPTY_PICKED_UP",
        "Empty container picked up",
        "Empty container released to the shipper or haulier (starts the detention clock at origin).",
        _FCL,
        False,
        "",
    ),
    MilestoneSeed(
        30,
        "PICKED_UP",
        "Picked up",
        "Goods collected from the shipper's premises (first physical custody).",
        (),
        False,
        "in_transit",
    ),
    MilestoneSeed(
        40,
        "RECEIVED_AT_ORIGIN",
        "Received at origin",
        "Accepted at the origin terminal, CFS, airline warehouse or hub (gate-in, RCS, origin scan).",
        (),
        False,
        "in_transit",
    ),
    MilestoneSeed(45, "EXPORT_CLEARED", "Export cleared", "Export customs release obtained.", _CROSS_BORDER, False, ""),
    MilestoneSeed(
        50,
        "LOADED",
        "Loaded",
        "Loaded onto the main-carriage conveyance (vessel, aircraft, train, truck).",
        ("ocean_fcl", "ocean_lcl", "air", "rail", "road_ftl", "road_ltl"),
        False,
        "in_transit",
    ),
    MilestoneSeed(
        60,
        "DEPARTED",
        "Departed",
        "Main conveyance left the origin port, airport or terminal.",
        (),
        False,
        "in_transit",
    ),
    MilestoneSeed(
        65,
        "TRANSSHIPMENT",
        "Transhipment",
        "Arrived at or left an intermediate hub or transhipment port, or transferred to another carrier.",
        (),
        False,
        "in_transit",
    ),
    MilestoneSeed(
        70,
        "ARRIVED",
        "Arrived",
        "Main conveyance arrived at the destination port, airport or terminal.",
        (),
        False,
        "arrived",
    ),
    MilestoneSeed(
        75,
        "DISCHARGED",
        "Discharged",
        "Cargo unloaded at destination (vessel discharge, RCF, CFS strip).",
        ("ocean_fcl", "ocean_lcl", "air", "rail"),
        False,
        "arrived",
    ),
    MilestoneSeed(
        78,
        "CUSTOMS_HOLD",
        "Customs hold",
        "Held by customs or another authority, or by the carrier for documents or payment.",
        _CROSS_BORDER,
        True,
        "",
    ),
    MilestoneSeed(
        80, "IMPORT_CLEARED", "Import cleared", "Import customs release obtained.", _CROSS_BORDER, False, "arrived"
    ),
    MilestoneSeed(
        85,
        "AVAILABLE",
        "Available",
        "Released and available for pick-up or delivery (carrier release, NFD, parcel at locker).",
        (),
        False,
        "arrived",
    ),
    MilestoneSeed(
        90,
        "OUT_FOR_DELIVERY",
        "Out for delivery",
        "On the final-mile vehicle or gated out for delivery.",
        (),
        False,
        "arrived",
    ),
    MilestoneSeed(
        92,
        "DELIVERY_ATTEMPTED",
        "Delivery attempted",
        "Delivery attempted and not completed (closed, refused, no access…).",
        ("road_ftl", "road_ltl", "parcel"),
        True,
        "",
    ),
    MilestoneSeed(
        100,
        "DELIVERED",
        "Delivered",
        "Proof of delivery obtained at the consignee. Terminal status.",
        (),
        False,
        "delivered",
    ),
    MilestoneSeed(
        110,
        "EMPTY_RETURNED",
        "Empty returned",
        "Empty container returned to the depot (stops the detention clock).",
        _FCL,
        False,
        "delivered",
    ),
    MilestoneSeed(
        120,
        "RETURNED_TO_SENDER",
        "Returned to sender",
        "Shipment is going back to, or has reached, the shipper. Terminal status.",
        ("parcel", "road_ftl", "road_ltl"),
        True,
        "",
    ),
    MilestoneSeed(
        130,
        "CANCELLED",
        "Cancelled",
        "Booking or shipment cancelled, rejected or declined before movement. Terminal status.",
        (),
        True,
        "",
    ),
)


class RuleSeed(NamedTuple):
    scheme: str
    code: str
    milestone: str | None
    role: str = ""
    classifier: str = ""
    note: str = ""


ORIGIN, BETWEEN, DESTINATION = "origin", "intermediate", "destination"
_NOT_A_MILESTONE = None
# A vessel calls at the port of loading (arrives, then leaves with the goods) and at the port of discharge
# (arrives with them, then leaves): only DEPA @POL and ARRI @POD are the goods' DEPARTED and ARRIVED (§1.8). The
# other two calls are the vessel's, not the goods': as milestones they made an order "arrived" before it left
# and, as estimates, replaced the ETD/ETA with the vessel's times at the wrong port.
_VESSEL_CALLS_AT_POL = "Vessel arriving at the port of loading: the goods have not left yet."
_VESSEL_LEAVES_POD = "Vessel leaving the port of discharge: the goods already arrived."


def _rules(scheme: str, rows: list[tuple[Any, ...]]) -> list[RuleSeed]:
    return [RuleSeed(scheme, *row) for row in rows]


_DCSA = _rules(
    "dcsa",
    [
        ("SHIPMENT:CBR:RECE", "INFO_RECEIVED"),
        ("SHIPMENT:BKG:RECE", "INFO_RECEIVED"),
        ("SHIPMENT:BKG:CONF", "BOOKING_CONFIRMED"),
        ("SHIPMENT:BKG:REJE", "CANCELLED"),
        ("SHIPMENT:CBR:REJE", "CANCELLED"),
        ("SHIPMENT:CUS:RELS", "EXPORT_CLEARED", ORIGIN),
        ("SHIPMENT:CUS:RELS", "IMPORT_CLEARED", DESTINATION),
        ("SHIPMENT:CUS:HOLD", "CUSTOMS_HOLD"),
        ("SHIPMENT:SRM:HOLD", "CUSTOMS_HOLD", "", "", "Carrier hold (documents or payment)."),
        ("SHIPMENT:SRM:RELS", "AVAILABLE"),
        ("SHIPMENT:ARN:ISSU", "AVAILABLE"),
        ("SHIPMENT:TRD:ISSU", _NOT_A_MILESTONE, "", "", "B/L issued: a document, not a movement."),
        ("SHIPMENT:TRD:SURR", _NOT_A_MILESTONE, "", "", "B/L surrendered: not delivery (DOMAIN.md §1.8)."),
        ("SHIPMENT:SHI:RECE", _NOT_A_MILESTONE),
        ("SHIPMENT:VGM:RECE", _NOT_A_MILESTONE),
        ("EQUIPMENT:GTOT:EMPTY", "EMPTY_PICKED_UP"),
        ("EQUIPMENT:PICK:EMPTY", "EMPTY_PICKED_UP"),
        ("EQUIPMENT:PICK:LADEN", "PICKED_UP"),
        ("EQUIPMENT:GTOT:LADEN", "PICKED_UP", ORIGIN, "", "Carrier haulage from the shipper."),
        (
            "EQUIPMENT:GTOT:LADEN",
            "OUT_FOR_DELIVERY",
            DESTINATION,
            "",
            "Gated out of the discharge terminal for delivery.",
        ),
        ("EQUIPMENT:GTIN:LADEN", "RECEIVED_AT_ORIGIN"),
        ("EQUIPMENT:GTIN:LADEN", "TRANSSHIPMENT", BETWEEN),
        ("EQUIPMENT:STUF:LADEN", "RECEIVED_AT_ORIGIN", "", "", "LCL stuffed at the origin CFS."),
        ("EQUIPMENT:LOAD:LADEN", "LOADED"),
        ("EQUIPMENT:LOAD:LADEN", "TRANSSHIPMENT", BETWEEN),
        ("EQUIPMENT:DISC:LADEN", "DISCHARGED"),
        ("EQUIPMENT:DISC:LADEN", "TRANSSHIPMENT", BETWEEN),
        ("EQUIPMENT:STRP:LADEN", "DISCHARGED", "", "", "Stripped at the destination CFS."),
        ("EQUIPMENT:INSP:LADEN", "CUSTOMS_HOLD"),
        ("EQUIPMENT:DROP:LADEN", "DELIVERED", "", "", "Carrier haulage to the consignee."),
        ("EQUIPMENT:GTIN:EMPTY", "EMPTY_RETURNED"),
        ("EQUIPMENT:DROP:EMPTY", "EMPTY_RETURNED"),
        ("EQUIPMENT:RSEA:LADEN", _NOT_A_MILESTONE),
        ("EQUIPMENT:RMVD:LADEN", _NOT_A_MILESTONE),
        ("TRANSPORT:DEPA", "DEPARTED"),
        ("TRANSPORT:DEPA", "TRANSSHIPMENT", BETWEEN),
        ("TRANSPORT:DEPA", _NOT_A_MILESTONE, DESTINATION, "", _VESSEL_LEAVES_POD),
        ("TRANSPORT:ARRI", "ARRIVED"),
        ("TRANSPORT:ARRI", _NOT_A_MILESTONE, ORIGIN, "", _VESSEL_CALLS_AT_POL),
        ("TRANSPORT:ARRI", "TRANSSHIPMENT", BETWEEN),
    ],
)

_X12_214 = _rules(
    "x12_214",
    [
        ("XB", "INFO_RECEIVED"),
        ("AF", "PICKED_UP"),
        ("CP", "LOADED"),
        ("AM", "LOADED"),
        ("L1", "LOADED"),
        ("I1", "RECEIVED_AT_ORIGIN"),
        ("R1", "RECEIVED_AT_ORIGIN"),
        ("X4", "RECEIVED_AT_ORIGIN", ORIGIN),
        ("X4", "TRANSSHIPMENT", BETWEEN),
        ("X4", "ARRIVED", DESTINATION),
        ("P1", "DEPARTED", ORIGIN),
        ("P1", "TRANSSHIPMENT", BETWEEN),
        ("RL", "DEPARTED"),
        ("AR", "ARRIVED"),
        ("J1", "TRANSSHIPMENT"),
        ("K1:AS", "CUSTOMS_HOLD"),
        ("K1:CA", "CUSTOMS_HOLD"),
        ("PR", "CUSTOMS_HOLD"),
        ("K1", _NOT_A_MILESTONE, "", "", "Arrived at customs; a hold only with reason AS or CA."),
        ("AV", "AVAILABLE"),
        ("X6", "OUT_FOR_DELIVERY"),
        ("AJ", "OUT_FOR_DELIVERY"),
        ("X1", "OUT_FOR_DELIVERY", "", "", "Arrived at the delivery location: not yet delivered."),
        ("AH", "DELIVERY_ATTEMPTED"),
        ("AP", "DELIVERY_ATTEMPTED"),
        ("A7", "DELIVERY_ATTEMPTED"),
        ("D1", "DELIVERED"),
        ("A3", "RETURNED_TO_SENDER"),
        ("CA", "CANCELLED"),
        ("AG", "DELIVERED", "", "EST", "Estimated delivery."),
        ("X2", "DELIVERED", "", "EST", "ETA at consignee."),
        ("B6", "ARRIVED", "", "EST", "ETA at terminal."),
        ("C1", "DEPARTED", "", "EST", "Estimated departure."),
        ("SD", _NOT_A_MILESTONE, "", "", "Delayed: an exception, not a status change."),
        ("X3", _NOT_A_MILESTONE),
        ("X8", _NOT_A_MILESTONE),
        ("CD", _NOT_A_MILESTONE),
        ("S1", _NOT_A_MILESTONE),
    ],
)

_X12_315 = _rules(
    "x12_315",
    [
        ("BF", "BOOKING_CONFIRMED"),
        ("EE", "EMPTY_PICKED_UP"),
        ("I", "RECEIVED_AT_ORIGIN"),
        ("AE", "LOADED"),
        ("AE", "TRANSSHIPMENT", BETWEEN),
        ("AL", "LOADED"),
        ("VD", "DEPARTED"),
        ("VD", "TRANSSHIPMENT", BETWEEN),
        ("VD", _NOT_A_MILESTONE, DESTINATION, "", _VESSEL_LEAVES_POD),
        ("VA", "ARRIVED"),
        ("VA", _NOT_A_MILESTONE, ORIGIN, "", _VESSEL_CALLS_AT_POL),
        ("VA", "TRANSSHIPMENT", BETWEEN),
        ("AR", "ARRIVED"),
        ("UV", "DISCHARGED"),
        ("UV", "TRANSSHIPMENT", BETWEEN),
        ("CT", "EXPORT_CLEARED", ORIGIN),
        ("CT", "IMPORT_CLEARED", DESTINATION),
        ("CU", "IMPORT_CLEARED"),
        ("CR", "AVAILABLE"),
        ("AV", "AVAILABLE"),
        ("OA", "OUT_FOR_DELIVERY"),
        ("D", "DELIVERED"),
        ("RD", "EMPTY_RETURNED"),
    ],
)

_IATA = _rules(
    "iata",
    [
        ("BKD", "BOOKING_CONFIRMED"),
        ("DPU", "PICKED_UP"),
        ("FOH", "RECEIVED_AT_ORIGIN"),
        ("RCS", "RECEIVED_AT_ORIGIN"),
        ("MAN", "LOADED", "", "PLN", "Manifested: a plan, not a physical event."),
        ("PRE", "LOADED", "", "PLN", "Prepared for loading: a plan."),
        ("DEP", "DEPARTED"),
        ("DEP", "TRANSSHIPMENT", BETWEEN),
        ("ARR", "ARRIVED"),
        ("ARR", "TRANSSHIPMENT", BETWEEN),
        ("RCF", "DISCHARGED"),
        ("RCF", "TRANSSHIPMENT", BETWEEN),
        ("TFD", "TRANSSHIPMENT"),
        ("RCT", "TRANSSHIPMENT"),
        ("TRM", "TRANSSHIPMENT"),
        ("CRC", "CUSTOMS_HOLD"),
        ("TGC", "CUSTOMS_HOLD"),
        ("DIS", "CUSTOMS_HOLD", "", "", "Discrepancy."),
        ("CCD", "EXPORT_CLEARED", ORIGIN),
        ("CCD", "IMPORT_CLEARED", DESTINATION),
        ("NFD", "AVAILABLE"),
        ("AWD", _NOT_A_MILESTONE, "", "", "Arrival documents delivered."),
        ("AWR", _NOT_A_MILESTONE),
        ("DLV", "DELIVERED", "", "", "At the airport; for door-to-door jobs DELIVERED comes from the last-mile POD."),
        ("DDL", "DELIVERED"),
        ("FIW", _NOT_A_MILESTONE),
        ("FOW", _NOT_A_MILESTONE),
        ("OCI", _NOT_A_MILESTONE),
        ("OSI", _NOT_A_MILESTONE),
    ],
)

_EDIFACT = _rules(
    "edifact",
    [
        ("1", "ARRIVED"),
        ("1", "RECEIVED_AT_ORIGIN", ORIGIN),
        ("6", "BOOKING_CONFIRMED"),
        ("7", "CANCELLED"),
        ("9", "EXPORT_CLEARED"),
        ("12", "EXPORT_CLEARED", ORIGIN),
        ("12", "IMPORT_CLEARED", DESTINATION),
        ("13", "PICKED_UP"),
        ("17", "CUSTOMS_HOLD"),
        ("21", "DELIVERED"),
        ("22", "DELIVERED"),
        ("23", "DELIVERY_ATTEMPTED"),
        ("24", "DEPARTED"),
        ("28", "DISCHARGED"),
        ("29", "DISCHARGED"),
        ("31", "OUT_FOR_DELIVERY"),
        ("35", "TRANSSHIPMENT"),
        ("41", "TRANSSHIPMENT"),
        ("39", "IMPORT_CLEARED"),
        ("40", "ARRIVED"),
        ("45", "AVAILABLE"),
        ("20", _NOT_A_MILESTONE, "", "", "Delayed in transport: an exception."),
        ("25", _NOT_A_MILESTONE, "", "", "Departure delayed: an exception."),
    ],
)

_AFTERSHIP = _rules(
    "aftership",
    [
        ("InfoReceived", "INFO_RECEIVED"),
        ("Pending", _NOT_A_MILESTONE),
        ("InTransit", "DEPARTED"),
        ("OutForDelivery", "OUT_FOR_DELIVERY"),
        ("AttemptFail", "DELIVERY_ATTEMPTED"),
        ("Delivered", "DELIVERED"),
        ("AvailableForPickup", "AVAILABLE"),
        ("Exception_004", "CUSTOMS_HOLD"),
        ("Expired", _NOT_A_MILESTONE),
    ],
)

_EASYPOST = _rules(
    "easypost",
    [
        ("pre_transit", "INFO_RECEIVED"),
        ("in_transit", "DEPARTED"),
        ("out_for_delivery", "OUT_FOR_DELIVERY"),
        ("delivered", "DELIVERED"),
        ("available_for_pickup", "AVAILABLE"),
        ("return_to_sender", "RETURNED_TO_SENDER"),
        ("failure", "DELIVERY_ATTEMPTED"),
        ("cancelled", "CANCELLED"),
        ("unknown", _NOT_A_MILESTONE),
    ],
)

# Karrio folds seven of our milestones into in_transit (§1.8); the way back can only pick one, and DEPARTED
# is the one that matters for the order (it is moving).
_KARRIO = _rules(
    "karrio",
    [
        ("pending", "INFO_RECEIVED"),
        ("picked_up", "PICKED_UP"),
        ("in_transit", "DEPARTED"),
        ("out_for_delivery", "OUT_FOR_DELIVERY"),
        ("delivery_failed", "DELIVERY_ATTEMPTED"),
        ("delivered", "DELIVERED"),
        ("ready_for_pickup", "AVAILABLE"),
        ("on_hold", "CUSTOMS_HOLD"),
        ("return_to_sender", "RETURNED_TO_SENDER"),
        ("cancelled", "CANCELLED"),
        ("delivery_delayed", _NOT_A_MILESTONE, "", "", "A delay exception, not a status."),
        ("unknown", _NOT_A_MILESTONE),
    ],
)

_OMS = [RuleSeed("oms", seed.code, seed.code) for seed in MILESTONES]

RULES: tuple[RuleSeed, ...] = (
    *_OMS,
    *_DCSA,
    *_X12_214,
    *_X12_315,
    *_IATA,
    *_EDIFACT,
    *_AFTERSHIP,
    *_EASYPOST,
    *_KARRIO,
)


def seed_reference_data(milestone_model: Any, rule_model: Any) -> tuple[int, int]:
    """Create the milestones and generic mapping rules that do not exist yet (rows that exist are left as
    operations edited them); returns (milestones, rules) made. Four queries, whatever is missing.

    Takes the model classes so the data migration can pass its historical models.
    """
    have = set(milestone_model.objects.values_list("code", flat=True))
    milestones = [
        milestone_model(
            code=seed.code,
            name=seed.name,
            rank=seed.rank,
            definition=seed.definition,
            modes=list(seed.modes),
            is_exception=seed.is_exception,
            order_status=seed.order_status,
        )
        for seed in MILESTONES
        if seed.code not in have
    ]
    milestone_model.objects.bulk_create(milestones)
    known = set(rule_model.objects.filter(partner__isnull=True).values_list("scheme", "code", "location_role"))
    rules = [
        rule_model(
            scheme=rule.scheme,
            code=rule.code.upper(),
            partner=None,
            location_role=rule.role,
            milestone_id=rule.milestone,
            classifier=rule.classifier,
            note=rule.note,
        )
        for rule in RULES
        if (rule.scheme, rule.code.upper(), rule.role) not in known
    ]
    rule_model.objects.bulk_create(rules)
    return len(milestones), len(rules)
