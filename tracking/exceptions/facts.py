"""What the exception rules look at, read for a whole batch of shipments in two queries whatever its size:

1. per shipment: its branch's time zone (the clock the rules' sentences are written on), its orders, their
   statuses and customers (through its live houses, when the latest of them joined and when one last left), legs
   (planned and actual times), the confirmed or rolled booking (first and current departure, cargo cut-off), the
   latest estimate of the arrival and of the delivery, and when the last actual event happened;
2. the "signal" events of those shipments and their houses: holds, clearances, delivery attempts, returns,
   damage reports, and the gate-in/departure that answer a cut-off.

An actual event its leg's recorded times rule out (`contradiction`, tracking.ingest.contradictions) is read by
neither: it is kept for staff to see, not a fact the rules act on.

The shipments are the carrying ones (masters: they have the legs and the booking); an event reported on a
house counts for its master, and keeps the house it named (a hold on one house is not another house's).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone

from orders.models import OrderStatus
from partners.models import Organisation
from partners.time_zones import zone_named
from tracking.exceptions import codes
from tracking.ingest.following import leg_milestone

# An order in one of these has nothing left to move: delivered and after, or cancelled (orders.models' lifecycle).
FINISHED_ORDER_STATUSES = frozenset(
    {OrderStatus.DELIVERED, OrderStatus.COMPLETED, OrderStatus.INVOICED, OrderStatus.CLOSED, OrderStatus.CANCELLED}
)


@dataclass(frozen=True)
class LegFacts:
    id: int
    sequence: int
    role: str
    mode: str
    carrier_id: int | None
    planned_departure_at: datetime.datetime | None
    planned_arrival_at: datetime.datetime | None
    actual_departure_at: datetime.datetime | None
    actual_arrival_at: datetime.datetime | None


@dataclass(frozen=True)
class Signal:
    """An actual event that can open or close an exception, and the shipment it was reported on (the master, or
    one of its houses)."""

    id: int
    shipment_id: int
    leg_id: int | None
    milestone: str | None
    scheme: str
    raw_code: str
    reason: str
    event_at: datetime.datetime

    @property
    def carrier_code(self) -> str:
        """As the carrier sent it, for the exception's record: scheme:code and its remark."""
        text = f"{self.scheme}:{self.raw_code}"
        return f"{text} ({self.reason})"[:80] if self.reason else text[:80]


@dataclass
class ShipmentFacts:
    id: int
    reference: str
    mode: str
    status: str
    branch_id: int
    carrier_id: int | None
    order_ids: list[int]
    customer_ids: list[int]
    legs: list[LegFacts]
    booking_status: str | None
    roll_count: int
    original_departure_at: datetime.datetime | None
    confirmed_departure_at: datetime.datetime | None
    cargo_cutoff_at: datetime.datetime | None
    eta_arrival: datetime.datetime | None
    eta_arrival_event: int | None
    eta_delivery: datetime.datetime | None
    eta_delivery_event: int | None
    last_actual_at: datetime.datetime | None
    # What the carrier said with the latest estimate of the arrival, of the delivery (estimate_said).
    eta_arrival_said: str = ""
    eta_delivery_said: str = ""
    house_ids: list[int] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    order_statuses: list[str] = field(default_factory=list)
    # live house → (its order, that order's customer)
    house_parties: dict[int, tuple[int | None, int | None]] = field(default_factory=dict)
    # The clock of the shipment's branch: the rules write their times on it ("4 Dec 2026, 03:00 CET").
    zone: datetime.tzinfo = field(default_factory=timezone.get_default_timezone)
    # When the latest of its live houses joined, and when a house was last taken off it: an open exception announced
    # before concerns an order that was not told, or no longer concerns one that was (services.detection
    # .exceptions_detect, services.announcing.exception_orders_changed_announce).
    houses_joined_at: datetime.datetime | None = None
    houses_left_at: datetime.datetime | None = None

    @property
    def orders_finished(self) -> bool:
        """Every order it carries is delivered or past it, or cancelled: nothing is followed any more, whatever
        the shipment's own status (cancelling a planned order leaves its booked master "booked")."""
        return bool(self.order_statuses) and all(status in FINISHED_ORDER_STATUSES for status in self.order_statuses)

    @property
    def order_id(self) -> int | None:
        return self.order_ids[0] if len(self.order_ids) == 1 else None

    @property
    def customer_id(self) -> int | None:
        return self.customer_ids[0] if len(self.customer_ids) == 1 else None

    @property
    def houses_apart(self) -> frozenset[int]:
        """The live houses whose reports are their own (rules.reports): all of them when they carry more than one
        order. One house, or houses of one order, are that order's cargo: a report on any of them is a report on
        the whole shipment, as one on the master is (one exception however the carrier and a broker split it).
        A house without an order counts for no order (migration 0009's NAME_HOUSES counts alike)."""
        orders = {order_id for order_id, _ in self.house_parties.values() if order_id is not None}
        return frozenset(self.house_ids) if len(orders) > 1 else frozenset()

    def parties(self, house_id: int | None) -> tuple[int | None, int | None]:
        """The order and customer an exception names: a house's own for what was reported on that house; for what
        concerns the whole shipment, its order when it carries one (none on a consolidation: every order on it)."""
        if house_id is not None:
            return self.house_parties.get(house_id, (None, None))
        return self.order_id, self.customer_id

    @property
    def main_leg(self) -> LegFacts | None:
        return next((leg for leg in self.legs if leg.role == "main"), self.legs[0] if self.legs else None)

    @property
    def last_leg(self) -> LegFacts | None:
        return self.legs[-1] if self.legs else None

    def leg(self, leg_id: int | None) -> LegFacts | None:
        """One of its legs by id; None for none, or a leg that is not the carrying shipment's (a house's)."""
        return next((leg for leg in self.legs if leg.id == leg_id), None) if leg_id is not None else None

    def mode_of(self, leg: LegFacts | None) -> str:
        """The mode a finding is judged by (its rule) and kept under: the leg's for what concerns a leg (a road
        pre-carriage of an ocean shipment is a truck's), else the shipment's."""
        return leg.mode if leg is not None else self.mode

    def carrier_of(self, leg: LegFacts | None) -> int | None:
        """The carrier a finding names: the leg's for what concerns a leg, so a late pre-carriage is the trucker's,
        not the shipping line's. A main carriage without its own carrier is the shipment's (its main carrier); a
        pre- or on-carriage without one names none. What concerns no leg names the shipment's carrier."""
        if leg is None:
            return self.carrier_id
        if leg.carrier_id is not None:
            return leg.carrier_id
        main = self.main_leg
        return self.carrier_id if main is not None and leg.id == main.id else None

    def leg_milestone(self, leg: LegFacts, *, departure: bool) -> str:
        """The milestone the leg's departure or arrival is, by its role (following.leg_milestone: a pre-carriage
        departs with PICKED_UP, arrives with RECEIVED_AT_ORIGIN; an on-carriage OUT_FOR_DELIVERY, DELIVERED or
        AVAILABLE), as ingest records it: the last leg of a shipment carrying one order (one live house at most)
        delivers, another arrives where the goods become available."""
        return leg_milestone(
            kind="departure" if departure else "arrival", role=leg.role,
            is_last=self.legs[-1].id == leg.id, single_order=len(self.house_ids) <= 1,
        )  # fmt: skip


_SHIPMENTS = """
SELECT s.id, s.reference, s.mode, s.status, s.branch_id, s.carrier_id,
       coalesce(o.order_ids, '{}'), coalesce(o.customer_ids, '{}'),
       l.ids, l.seqs, l.roles, l.modes, l.carriers, l.pd, l.pa, l.ad, l.aa,
       b.status, coalesce(b.roll_count, 0), date_part('epoch', b.original_departure_at),
       date_part('epoch', b.confirmed_departure_at), date_part('epoch', b.cargo_cutoff_at),
       date_part('epoch', ea.estimated_at), ea.event_id, date_part('epoch', ed.estimated_at), ed.event_id,
       date_part('epoch', ev.last_actual_at), coalesce(hh.house_ids, '{}'), coalesce(o.statuses, '{}'),
       coalesce(hh.house_orders, '{}'), coalesce(hh.house_customers, '{}'),
       ea.scheme, ea.reason, ea.delay_code, ed.scheme, ed.reason, ed.delay_code, br.time_zone,
       date_part('epoch', hh.joined_at), date_part('epoch', hl.left_at)
FROM tracking_shipment s
JOIN partners_organisation br ON br.id = s.branch_id
LEFT JOIN LATERAL (
    SELECT array_agg(ch.house_id ORDER BY ch.house_id) AS house_ids,
           array_agg(h.order_id ORDER BY ch.house_id) AS house_orders,
           array_agg(ho.customer_id ORDER BY ch.house_id) AS house_customers, max(ch.added_at) AS joined_at
    FROM tracking_consolidatedhouse ch
    JOIN tracking_shipment h ON h.id = ch.house_id
    LEFT JOIN orders_order ho ON ho.id = h.order_id
    WHERE ch.master_id = s.id AND ch.removed_at IS NULL
) hh ON true
LEFT JOIN LATERAL (
    SELECT max(ch.removed_at) AS left_at FROM tracking_consolidatedhouse ch
    WHERE ch.master_id = s.id AND ch.removed_at IS NOT NULL
) hl ON true
LEFT JOIN LATERAL (
    SELECT array_agg(o.id ORDER BY o.id) AS order_ids, array_agg(DISTINCT o.customer_id) AS customer_ids,
           array_agg(o.status ORDER BY o.id) AS statuses
    FROM orders_order o
    WHERE o.id = ANY(array_remove(ARRAY[s.order_id], NULL) || hh.house_orders)
) o ON true
LEFT JOIN LATERAL (
    SELECT array_agg(l.id ORDER BY l.sequence) AS ids, array_agg(l.sequence ORDER BY l.sequence) AS seqs,
           array_agg(l.role ORDER BY l.sequence) AS roles, array_agg(l.mode ORDER BY l.sequence) AS modes,
           array_agg(l.carrier_id ORDER BY l.sequence) AS carriers,
           array_agg(date_part('epoch', l.planned_departure_at) ORDER BY l.sequence) AS pd,
           array_agg(date_part('epoch', l.planned_arrival_at) ORDER BY l.sequence) AS pa,
           array_agg(date_part('epoch', l.actual_departure_at) ORDER BY l.sequence) AS ad,
           array_agg(date_part('epoch', l.actual_arrival_at) ORDER BY l.sequence) AS aa
    FROM tracking_leg l WHERE l.shipment_id = s.id
) l ON true
LEFT JOIN tracking_booking b ON b.shipment_id = s.id AND b.status IN ('confirmed', 'rolled')
LEFT JOIN LATERAL (
    SELECT h.estimated_at, h.event_id, e.scheme, e.reason, e.raw_payload ->> 'delayReasonCode' AS delay_code
    FROM (
        SELECT h.estimated_at, h.event_id FROM tracking_etahistory h
        WHERE h.shipment_id = ANY(ARRAY[s.id] || hh.house_ids) AND h.milestone_id = 'ARRIVED'
        ORDER BY h.reported_at DESC, h.id DESC LIMIT 1
    ) h LEFT JOIN tracking_trackingevent e ON e.id = h.event_id
) ea ON true
LEFT JOIN LATERAL (
    SELECT h.estimated_at, h.event_id, e.scheme, e.reason, e.raw_payload ->> 'delayReasonCode' AS delay_code
    FROM (
        SELECT h.estimated_at, h.event_id FROM tracking_etahistory h
        WHERE h.shipment_id = ANY(ARRAY[s.id] || hh.house_ids) AND h.milestone_id = 'DELIVERED'
        ORDER BY h.reported_at DESC, h.id DESC LIMIT 1
    ) h LEFT JOIN tracking_trackingevent e ON e.id = h.event_id
) ed ON true
LEFT JOIN LATERAL (
    SELECT max(e.event_at) AS last_actual_at FROM tracking_trackingevent e
    WHERE e.shipment_id = ANY(ARRAY[s.id] || hh.house_ids) AND e.classifier = 'ACT' AND e.contradiction = ''
      -- news of the booking is no sign of the goods (planning records BOOKING_CONFIRMED when the confirmation is
      -- typed in, which may be after the sailing): silence is about the goods moving
      AND (e.milestone_id IS NULL OR e.milestone_id <> ALL(ARRAY['INFO_RECEIVED', 'BOOKING_CONFIRMED']))
) ev ON true
WHERE s.id = ANY(%(ids)s)
ORDER BY s.id
"""

_SIGNALS = """
SELECT e.id, e.shipment_id, e.leg_id, e.milestone_id, e.scheme, e.raw_code, e.reason, date_part('epoch', e.event_at)
FROM tracking_trackingevent e
WHERE e.shipment_id = ANY(%(ids)s) AND e.classifier = 'ACT' AND e.contradiction = ''
  AND (e.milestone_id = ANY(%(milestones)s) OR e.raw_code = ANY(%(codes)s))
ORDER BY e.event_at, e.id
"""


def estimate_said(scheme: str | None, remark: str | None, delay_code: str | None) -> str:
    """What the carrier said with an estimate, for the exception's record as a report's is kept (Signal.carrier_code):
    "scheme:delay code (remark)", e.g. "dcsa:CON (Port congestion New York)" from DCSA's delayReasonCode and
    changeRemark; "" when it said neither. Ingest keeps the remark (else the code) as the event's reason."""
    code, remark = (delay_code or "").strip(), (remark or "").strip()
    if remark == code:
        remark = ""  # the code stood in for a missing remark
    if not (code or remark):
        return ""
    text = f"{scheme}:{code}" if code else f"{scheme or ''}"
    return (f"{text} ({remark})" if remark else text)[:80]


def _at(epoch: float | None) -> datetime.datetime | None:
    """Times travel as epoch seconds (double precision): parsed in C, where timestamptz text costs ~10 µs each."""
    return None if epoch is None else datetime.datetime.fromtimestamp(epoch, datetime.UTC)


def _legs(row: Sequence) -> list[LegFacts]:  # type: ignore[type-arg]
    ids = row[8] or []
    return [
        LegFacts(
            ids[i], row[9][i], row[10][i], row[11][i], row[12][i],
            _at(row[13][i]), _at(row[14][i]), _at(row[15][i]), _at(row[16][i]),
        )
        for i in range(len(ids))
    ]  # fmt: skip


def shipment_facts(shipment_ids: Sequence[int]) -> dict[int, ShipmentFacts]:
    """The facts of these shipments (ids of masters or stand-alone shipments), two queries in all."""
    if not shipment_ids:
        return {}
    facts: dict[int, ShipmentFacts] = {}
    zones: dict[str, datetime.tzinfo] = {}  # a batch's shipments belong to a few branches
    with connection.cursor() as cursor:
        cursor.execute(_SHIPMENTS, {"ids": list(shipment_ids)})
        for row in cursor.fetchall():
            zone = zones.get(row[37])
            if zone is None:
                zone = zones[row[37]] = zone_named(row[37])
            facts[row[0]] = ShipmentFacts(
                id=row[0], reference=row[1], mode=row[2], status=row[3], branch_id=row[4], carrier_id=row[5],
                order_ids=list(row[6]), customer_ids=[c for c in row[7] if c is not None], legs=_legs(row),
                booking_status=row[17], roll_count=row[18], original_departure_at=_at(row[19]),
                confirmed_departure_at=_at(row[20]), cargo_cutoff_at=_at(row[21]), eta_arrival=_at(row[22]),
                eta_arrival_event=row[23], eta_delivery=_at(row[24]), eta_delivery_event=row[25],
                last_actual_at=_at(row[26]),
                house_ids=list(row[27]), order_statuses=list(row[28]),
                house_parties=dict(zip(row[27], zip(row[29], row[30], strict=True), strict=True)),
                eta_arrival_said=estimate_said(row[31], row[32], row[33]),
                eta_delivery_said=estimate_said(row[34], row[35], row[36]), zone=zone,
                houses_joined_at=_at(row[38]), houses_left_at=_at(row[39]),
            )  # fmt: skip
        carrying = {shipment_id: shipment_id for shipment_id in facts}
        carrying.update({house: info.id for info in facts.values() for house in info.house_ids})
        cursor.execute(
            _SIGNALS,
            {"ids": list(carrying), "milestones": sorted(codes.SIGNAL_MILESTONES), "codes": sorted(codes.SIGNAL_CODES)},
        )
        for event_id, shipment_id, leg_id, milestone, scheme, raw_code, reason, event_at in cursor.fetchall():
            at = datetime.datetime.fromtimestamp(event_at, datetime.UTC)  # as _at, for a column that is NOT NULL
            facts[carrying[shipment_id]].signals.append(
                Signal(event_id, shipment_id, leg_id, milestone, scheme, raw_code, reason or "", at)
            )
    return facts


# The reports on one order's cargo: on the order itself, on its own shipments (direct, or its houses) and on the
# masters carrying them. Another order's house is not this order's cargo; a cancelled shipment carries nothing.
_ORDER_SIGNALS = """
WITH own AS (
    SELECT s.id FROM tracking_shipment s WHERE s.order_id = %(order)s AND s.status <> 'cancelled'
), carrying AS (
    SELECT id FROM own
    UNION SELECT ch.master_id FROM tracking_consolidatedhouse ch
    JOIN tracking_shipment m ON m.id = ch.master_id
    WHERE ch.house_id IN (SELECT id FROM own) AND ch.removed_at IS NULL AND m.status <> 'cancelled'
)
SELECT e.id, e.shipment_id, e.leg_id, e.milestone_id, e.scheme, e.raw_code, e.reason, e.event_at
FROM tracking_trackingevent e
WHERE (e.order_id = %(order)s OR e.shipment_id IN (SELECT id FROM carrying))
  AND e.classifier = 'ACT' AND e.contradiction = ''
  AND (e.milestone_id = ANY(%(milestones)s) OR e.raw_code = ANY(%(codes)s))
ORDER BY e.event_at, e.id
"""


def order_signals(order_id: int) -> list[Signal]:
    """The signal events on one order's cargo as one stream, in event time order (rules.holds_standing judges
    which holds stand on it). A report on the order itself names no shipment (`shipment_id` 0). One query."""
    with connection.cursor() as cursor:
        cursor.execute(
            _ORDER_SIGNALS,
            {"order": order_id, "milestones": sorted(codes.SIGNAL_MILESTONES), "codes": sorted(codes.SIGNAL_CODES)},
        )
        return [
            Signal(event_id, shipment_id or 0, leg_id, milestone, scheme, raw_code, reason or "", event_at)
            for event_id, shipment_id, leg_id, milestone, scheme, raw_code, reason, event_at in cursor.fetchall()
        ]


def order_zone(order_id: int) -> datetime.tzinfo:
    """The clock of the order's branch, for what the workflow writes about the reports on its cargo
    (workflows.services.holds, with rules.when_text): the order's page runs on it. One query."""
    name = Organisation.objects.filter(branch_orders=order_id).values_list("time_zone", flat=True).first()
    return zone_named(name)
