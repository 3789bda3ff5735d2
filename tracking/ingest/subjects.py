"""What an event is about: container, B/L, booking, AWB, parcel, shipment or order reference → the shipment
(house or master) and order it concerns, with what mapping and status-following need to know about them.

One query per kind of reference present in the batch, then three for the shipments found (their houses or
masters, their legs): the cost of a batch does not grow with its size. A reference that matches several
shipments (container numbers are reused) goes to the open one created last.

`carrier_ids` restricts the batch to shipments those organisations carry (the main carrier or any leg's):
a partner's webhook or file reaches only what is assigned to it, and anything else is as unknown to it
as a reference that does not exist. A partner's reference that names only an order (the order reference, or a
container or AWB known only on the order) is linked to the order's house that partner carries, so the event lands
on the legs carrying that house and the check "a leg you do not carry" (placing._not_carried) runs as when the
shipment is named: an order-only link would reach no leg and let a trucker record the vessel's departure.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from django.db.models import Q

from orders.models import CargoLine, Equipment, Location, Order
from tracking.ingest.formats import IncomingEvent
from tracking.ingest.models import SubjectType
from tracking.models import (
    CONFIRMED_BOOKING_STATUSES,
    OPEN_SHIPMENT_STATUSES,
    Booking,
    ConsolidatedHouse,
    Leg,
    LegRole,
    Shipment,
    ShipmentEquipment,
    ShipmentKind,
    ShipmentStatus,
)


@dataclass
class LegInfo:
    id: int
    sequence: int
    role: str
    origin_id: str
    destination_id: str
    carrier_id: int | None
    actual_departure_at: datetime.datetime | None
    actual_arrival_at: datetime.datetime | None
    mode: str = ""


@dataclass
class ShipmentInfo:
    id: int
    reference: str
    kind: str
    order_id: int | None
    origin_id: str
    destination_id: str
    status: str
    carrier_id: int | None
    masters: list[int] = field(default_factory=list)  # a house's masters (live first)
    apart_from: list[int] = field(default_factory=list)  # the masters a house was deconsolidated from
    houses: list[int] = field(default_factory=list)  # a master's houses
    legs: list[LegInfo] = field(default_factory=list)

    @property
    def has_departed(self) -> bool:
        return self.status in (ShipmentStatus.IN_TRANSIT, ShipmentStatus.ARRIVED, ShipmentStatus.DELIVERED)

    def had_departed(self, made_at: datetime.datetime | None, reported: datetime.datetime | None = None) -> bool:
        """Whether the goods had left when an event was made (`made_at`, its eventCreatedDateTime; None: when it
        came): the first actual departure of the legs, as recorded or as the event's own batch reports it
        (`reported`), is no later. So an event without a place means the same however the carrier batches its
        deliveries: an estimated arrival made after the departure is downstream whether it comes with the departure
        or alone after it, and one made before it stays at the origin (docs/tracking-events.md, "Mapping is data").
        Moving without a recorded departure (a status set by hand): as its status says."""
        times = [leg.actual_departure_at for leg in self.legs if leg.actual_departure_at]
        times += [reported] if reported else []
        if not times:
            return self.has_departed
        return made_at is None or min(times) <= made_at


@dataclass(frozen=True)
class Link:
    shipment_id: int | None
    order_id: int | None


NO_LINK = Link(None, None)


@dataclass
class Resolution:
    """The links of a batch and the shipments behind them."""

    links: dict[tuple[str, str], Link]
    shipments: dict[int, ShipmentInfo]
    order_of_house: dict[int, int]
    iata_to_locode: dict[str, str]
    order_status: dict[int, str] = field(default_factory=dict)  # the orders concerned, as read with the batch
    hinted: dict[tuple[str, str], Link] = field(default_factory=dict)  # unknown references, on a poll's shipment
    _orders_of: dict[Link, list[int]] = field(default_factory=dict)

    def link_for(self, event: IncomingEvent) -> tuple[Link, tuple[str, str]]:
        """The first of the event's references that resolves, and which one it was (else the first). A reference
        only the poll's shipment stands for (`hinted`) counts only when none of them names a shipment itself: an
        event whose container we do not know but whose B/L is another shipment's is that shipment's."""
        for links in (self.links, self.hinted):
            for subject in event.subjects:
                link = links.get(subject)  # only references that resolved are keys
                if link is not None:
                    return link, subject
        return NO_LINK, event.subjects[0]

    def carrying(self, shipment_id: int) -> ShipmentInfo | None:
        """The shipment whose legs carry this one: the master for a house on one, else itself. A house deconsolidated
        at destination travels on by itself (its own on-carriage and delivery legs): its master carries it no more."""
        info = self.shipments.get(shipment_id)
        if info is None:
            return None
        carriers = [master for master in info.masters if master not in info.apart_from]
        if info.kind == ShipmentKind.HOUSE and carriers:
            return self.shipments.get(carriers[0], info)
        return info

    def orders_of(self, link: Link) -> list[int]:
        """Every order the event concerns: its own, its house's, or those of all houses on its master."""
        if link not in self._orders_of:
            self._orders_of[link] = self._find_orders(link)
        return self._orders_of[link]

    def _find_orders(self, link: Link) -> list[int]:
        if link.order_id is not None:
            return [link.order_id]
        info = self.shipments.get(link.shipment_id) if link.shipment_id else None
        if info is None:
            return []
        if info.kind == ShipmentKind.HOUSE:
            return [info.order_id] if info.order_id else []
        return sorted({self.order_of_house[house] for house in info.houses if house in self.order_of_house})


def _newest_open(rows: Iterable[tuple[str, int, str]]) -> dict[str, int]:
    """value → shipment id, preferring open shipments, then the newest (rows come newest first)."""
    chosen: dict[str, tuple[bool, int]] = {}
    for value, shipment_id, status in rows:
        is_open = status in OPEN_SHIPMENT_STATUSES
        if value not in chosen or (is_open and not chosen[value][0]):
            chosen[value] = (is_open, shipment_id)
    return {value: shipment_id for value, (_, shipment_id) in chosen.items()}


def _by_kind(events: Iterable[IncomingEvent]) -> dict[str, set[str]]:
    wanted: dict[str, set[str]] = defaultdict(set)
    for event in events:
        for kind, value in event.subjects:
            wanted[kind].add(value)
    return wanted


def _shipment_links(wanted: dict[str, set[str]]) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    if wanted.get(SubjectType.SHIPMENT):
        for ref, pk in Shipment.objects.filter(reference__in=wanted[SubjectType.SHIPMENT]).values_list(
            "reference", "pk"
        ):
            found[(SubjectType.SHIPMENT, ref)] = pk
    bills = {kind: wanted.get(kind, set()) for kind in (SubjectType.BILL, SubjectType.PARCEL, SubjectType.AWB)}
    if any(bills.values()):
        spelled: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for kind, values in bills.items():
            for value in values:
                spelled[value].append((kind, value))
                if kind == SubjectType.AWB and len(value) == 11:  # stored as 020-12345675 or as digits
                    spelled[f"{value[:3]}-{value[3:]}"].append((kind, value))
        matches = (
            Shipment.objects.filter(bill_number__in=list(spelled))
            .order_by("-created_at")
            .values_list("bill_number", "pk", "status")
        )
        for spelling, pk in _newest_open(matches).items():
            for key in spelled[spelling]:
                found.setdefault(key, pk)
    if wanted.get(SubjectType.BOOKING):
        bookings = (
            Booking.objects.filter(
                carrier_reference__in=wanted[SubjectType.BOOKING], status__in=CONFIRMED_BOOKING_STATUSES
            )
            .order_by("-requested_at")
            .values_list("carrier_reference", "shipment_id", "shipment__status")
        )
        found.update({(SubjectType.BOOKING, ref): pk for ref, pk in _newest_open(bookings).items()})
    if wanted.get(SubjectType.CONTAINER):
        boxes = (
            ShipmentEquipment.objects.filter(container_number__in=wanted[SubjectType.CONTAINER])
            .order_by("-shipment__created_at")
            .values_list("container_number", "shipment_id", "shipment__status")
        )
        found.update({(SubjectType.CONTAINER, number): pk for number, pk in _newest_open(boxes).items()})
    return found


def _order_links(
    wanted: dict[str, set[str]], missing: Collection[tuple[str, str]], status: dict[int, str]
) -> dict[tuple[str, str], int]:
    """References that name an order, or a container or AWB known only on an order not yet planned
    (`status` gets each order's status)."""
    found: dict[tuple[str, str], int] = {}
    if wanted.get(SubjectType.ORDER):
        orders = Order.objects.filter(reference__in=wanted[SubjectType.ORDER]).values_list("reference", "pk", "status")
        for ref, pk, state in orders:
            found[(SubjectType.ORDER, ref)], status[pk] = pk, state
    containers = [value for kind, value in missing if kind == SubjectType.CONTAINER]
    if containers:
        equipment = Equipment.objects.filter(container_number__in=containers).order_by("-order__created_at")
        for number, order_id, state in equipment.values_list("container_number", "order_id", "order__status"):
            found.setdefault((SubjectType.CONTAINER, number), order_id)
            status[order_id] = state
    awbs = [value for kind, value in missing if kind == SubjectType.AWB]
    if awbs:
        lines = CargoLine.objects.filter(awb_number__in=awbs).order_by("-order__created_at")
        for number, order_id, state in lines.values_list("awb_number", "order_id", "order__status"):
            found.setdefault((SubjectType.AWB, number), order_id)
            status[order_id] = state
    return found


def _shipment_infos(ids: set[int], status: dict[int, str]) -> tuple[dict[int, ShipmentInfo], dict[int, int]]:
    """The shipments with their houses or masters and the legs that carry them (three queries); `status`
    gets the status of every order on them."""
    links = list(
        ConsolidatedHouse.objects.filter(Q(master_id__in=ids) | Q(house_id__in=ids), removed_at__isnull=True)
        .order_by("deconsolidated_at", "-added_at")
        .values_list("master_id", "house_id", "house__order_id", "house__order__status", "deconsolidated_at")
    )
    all_ids = ids | {link[0] for link in links} | {link[1] for link in links}
    fields = ("pk", "reference", "kind", "order_id", "origin_id", "destination_id", "status", "carrier_id")
    infos: dict[int, ShipmentInfo] = {}
    for pk, reference, kind, order_id, origin, destination, state, carrier, order_state in Shipment.objects.filter(
        pk__in=all_ids
    ).values_list(*fields, "order__status"):
        infos[pk] = ShipmentInfo(pk, reference, kind, order_id, origin, destination, state, carrier)
        if order_id:
            status[order_id] = order_state
    order_of_house: dict[int, int] = {}
    for master, house, order_id, order_state, apart in links:
        if master in infos and house in infos:
            infos[master].houses.append(house)
            infos[house].masters.append(master)
            if apart is not None:
                infos[house].apart_from.append(master)
            order_of_house[house] = order_id
            status[order_id] = order_state
    legs = Leg.objects.filter(shipment_id__in=list(infos)).order_by("shipment_id", "sequence")
    for shipment_id, *leg in legs.values_list(
        "shipment_id",
        "pk",
        "sequence",
        "role",
        "origin_id",
        "destination_id",
        "carrier_id",
        "actual_departure_at",
        "actual_arrival_at",
        "mode",
    ):
        infos[shipment_id].legs.append(LegInfo(*leg))  # type: ignore[arg-type]  # the columns, in field order
    return infos, order_of_house


def _carried_by(info: ShipmentInfo, infos: dict[int, ShipmentInfo], carrier_ids: Collection[int]) -> bool:
    chain = [info, *(infos[m] for m in info.masters if m in infos)]
    return any(s.carrier_id in carrier_ids or any(leg.carrier_id in carrier_ids for leg in s.legs) for s in chain)


def _reached(link: Link, infos: dict[int, ShipmentInfo], carrier_ids: Collection[int]) -> bool:
    return link.shipment_id is not None and _carried_by(infos[link.shipment_id], infos, carrier_ids)


def _iata_codes(events: Iterable[IncomingEvent]) -> dict[str, str]:
    codes = {event.location_code for event in events if len(event.location_code) == 3}
    if not codes:
        return {}
    return dict(Location.objects.filter(iata__in=codes, is_active=True).order_by("code").values_list("iata", "code"))


def resolve(
    events: list[IncomingEvent], *, carrier_ids: Collection[int] | None = None, shipment_hint: int | None = None
) -> Resolution:
    """Link the batch's references to shipments and orders. `shipment_hint` (a poll for one shipment) is
    used for references the carrier uses that we do not store (its own container numbers)."""
    wanted = _by_kind(events)
    shipment_found = _shipment_links(wanted)
    missing = [
        (kind, value) for kind, values in wanted.items() for value in values if (kind, value) not in shipment_found
    ]
    status: dict[int, str] = {}
    order_found = _order_links(wanted, missing, status)
    house_of_order = _houses_carried_by(order_found.values(), carrier_ids) if carrier_ids is not None else {}
    ids = set(shipment_found.values()) | set(house_of_order.values()) | ({shipment_hint} if shipment_hint else set())
    infos, order_of_house = _shipment_infos(ids, status) if ids else ({}, {})
    links: dict[tuple[str, str], Link] = {}
    for key, pk in shipment_found.items():
        info = infos.get(pk)
        if info is not None:
            links[key] = Link(pk, info.order_id if info.kind == ShipmentKind.HOUSE else None)
    for key, order_id in order_found.items():
        if carrier_ids is None:
            links.setdefault(key, Link(None, order_id))
        elif order_id in house_of_order and house_of_order[order_id] in infos:  # a partner: on the house it carries
            links.setdefault(key, Link(house_of_order[order_id], order_id))
    hinted: dict[tuple[str, str], Link] = {}
    if shipment_hint and shipment_hint in infos:
        hint = infos[shipment_hint]
        for key in missing:
            if key not in links:
                hinted[key] = Link(shipment_hint, hint.order_id if hint.kind == ShipmentKind.HOUSE else None)
    if carrier_ids is not None:
        links = {key: link for key, link in links.items() if _reached(link, infos, carrier_ids)}
        hinted = {key: link for key, link in hinted.items() if _reached(link, infos, carrier_ids)}
    return Resolution(
        links=links,
        shipments=infos,
        order_of_house=order_of_house,
        iata_to_locode=_iata_codes(events),
        order_status=status,
        hinted=hinted,
    )


def _houses_carried_by(order_ids: Iterable[int], carrier_ids: Collection[int]) -> dict[int, int]:
    """order → its house these organisations carry (the house's carrier or a leg of it, or those of a master the
    house is on): an open one before a closed one, then the oldest, as the order page picks the house of an order's
    milestone (recording.event_record_for_order). Orders carried by none of them are left out."""
    ids = set(order_ids)
    if not ids:
        return {}
    carried = Q(carrier_id__in=carrier_ids) | Q(legs__carrier_id__in=carrier_ids)
    on_master = Q(consolidations__removed_at__isnull=True) & (
        Q(consolidations__master__carrier_id__in=carrier_ids)
        | Q(consolidations__master__legs__carrier_id__in=carrier_ids)
    )
    rows = (
        Shipment.objects.houses()
        .filter(order_id__in=ids)
        .filter(carried | on_master)
        .order_by("created_at", "pk")
        .values_list("order_id", "pk", "status")
    )
    chosen: dict[int, tuple[bool, int]] = {}
    for order_id, pk, state in rows:  # joins repeat a house: the first row of each decides
        is_open = state in OPEN_SHIPMENT_STATUSES
        if order_id not in chosen or (is_open and not chosen[order_id][0]):
            chosen[order_id] = (is_open, pk)
    return {order_id: pk for order_id, (_, pk) in chosen.items()}


def main_leg(info: ShipmentInfo) -> LegInfo | None:
    return next((leg for leg in info.legs if leg.role == LegRole.MAIN), info.legs[0] if info.legs else None)
