"""Consolidation: houses on a master and its containers, the capacity rules, and deconsolidation.

A house joins a master only on the same port pair and mode family, while the master is still being
planned or booked, while its order may be planned (not held, cancelled or moving), only if the master's
containers still hold the cargo, only if the house's customer does not exclude the carrier the master is booked
with, and, at sea, only if none of its dangerous goods must be segregated from those on the master (IMDG Code
7.2.4). The database refuses a house on two live masters
(ConsolidatedHouse.house_on_one_live_master); the service turns that refusal into a sentence.

A cancelled order's cargo does not travel: its houses on masters still being planned are taken off and
cancelled when the order is cancelled (`order_houses_cancel`, from tracking/receivers.py). Cargo on a master the
carrier already knows about (booking sent, confirmed, or moving) is operations' to take off and tell the
carrier; the order cannot be cancelled until they have (tracking/guards.py `order_cancel_problem`).
"""

from __future__ import annotations

import datetime
import logging
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import capfirst

from orders.models import Mode, Order, OrderStatus
from partners.models import Organisation
from partners.scoping import scope_for_user
from tracking.equipment import CONTAINER_TYPES
from tracking.errors import CapacityError, ConsolidationError
from tracking.models import (
    LIVE_BOOKING_STATUSES,
    CarrierPreference,
    ConsolidatedHouse,
    HouseLine,
    LegRole,
    PreferenceKind,
    Shipment,
    ShipmentEquipment,
    ShipmentKind,
    ShipmentStatus,
)
from tracking.services import container_changes, leg_changes, planning

logger = logging.getLogger(__name__)

MODE_FAMILY: dict[str, str] = {
    Mode.OCEAN_FCL: "sea",
    Mode.OCEAN_LCL: "sea",
    Mode.AIR: "air",
    Mode.ROAD_FTL: "road",
    Mode.ROAD_LTL: "road",
    Mode.RAIL: "rail",
    Mode.PARCEL: "parcel",
}
CONTAINER_MODES = frozenset({Mode.OCEAN_FCL, Mode.OCEAN_LCL, Mode.RAIL})
JOINABLE = (ShipmentStatus.PLANNING, ShipmentStatus.BOOKED)


@dataclass(frozen=True)
class Totals:
    """What a master carries against what its containers hold."""

    houses: int
    pieces: int
    gross_weight_kg: Decimal
    volume_m3: Decimal
    teu: Decimal
    payload_kg: int
    capacity_m3: Decimal

    @property
    def weight_pct(self) -> int | None:
        return round(self.gross_weight_kg * 100 / self.payload_kg) if self.payload_kg else None

    @property
    def volume_pct(self) -> int | None:
        return round(self.volume_m3 * 100 / self.capacity_m3) if self.capacity_m3 else None


def live_houses(master: Shipment) -> list[Shipment]:
    """The houses on the master now (uses `live_links` when the selector prefetched it)."""
    links = getattr(master, "live_links", None)
    if links is None:
        links = master.consolidated_houses.filter(removed_at__isnull=True, deconsolidated_at__isnull=True)
        links = links.select_related("house", "house__order").prefetch_related("house__house_lines")
    return [link.house for link in links]


def master_cargo_ready_on(houses: Iterable[Shipment]) -> datetime.date | None:
    """When a master's cargo is ready: the latest requested pickup of its houses' orders (None without houses). A
    container sails only with all its cargo in, so the box is ready when its last house is, not its first: the
    one rule of the ranking's sailings (ranking.request_for_shipment) and the booking request's "Cargo ready"."""
    return max((house.order.requested_pickup_on for house in houses if house.order is not None), default=None)


def house_weight_volume(house: Shipment) -> tuple[Decimal, Decimal, int]:
    lines = house.house_lines.all()
    return (
        sum((hl.gross_weight_kg for hl in lines), Decimal(0)),
        sum((hl.volume_m3 for hl in lines), Decimal(0)),
        sum(hl.pieces for hl in lines),
    )


def master_totals(
    *, master: Shipment, houses: Sequence[Shipment] | None = None, containers: Sequence[ShipmentEquipment] | None = None
) -> Totals:
    houses = live_houses(master) if houses is None else houses
    boxes = list(master.containers.all()) if containers is None else containers
    weight, volume, pieces = Decimal(0), Decimal(0), 0
    for house in houses:
        w, v, p = house_weight_volume(house)
        weight, volume, pieces = weight + w, volume + v, pieces + p
    return Totals(
        houses=len(houses),
        pieces=pieces,
        gross_weight_kg=weight,
        volume_m3=volume,
        teu=sum((box.spec.teu for box in boxes), Decimal(0)),
        payload_kg=sum(box.max_payload_kg for box in boxes),
        capacity_m3=sum((box.spec.capacity_m3 for box in boxes), Decimal(0)),
    )


def _containers_phrase(boxes: Sequence[ShipmentEquipment]) -> tuple[str, str, str]:
    """("A 40' general purpose container", "takes", "holds") or ("2 containers (…)", "take", "hold")."""
    if len(boxes) == 1:
        return f"A {boxes[0].spec.name} container", "takes", "holds"
    counts = Counter(box.spec.name for box in boxes)
    listed = ", ".join(f"{count} × {name}" for name, count in counts.items())
    return f"{len(boxes)} containers ({listed})", "take", "hold"


def capacity_problems(
    *, containers: Sequence[ShipmentEquipment], weight_kg: Decimal, volume_m3: Decimal, what: str = "these houses"
) -> list[str]:
    """Each way the cargo does not fit the containers, as a sentence; empty when it fits."""
    if not containers:
        return []
    phrase, takes, holds = _containers_phrase(containers)
    payload = sum(box.max_payload_kg for box in containers)
    capacity = sum((box.spec.capacity_m3 for box in containers), Decimal(0))
    problems = []
    if weight_kg > payload:
        problems.append(f"{phrase} {takes} at most {payload:,} kg of cargo; {what} weigh {weight_kg:,.0f} kg.")
    if volume_m3 > capacity:
        problems.append(f"{phrase} {holds} {capacity:,.1f} m³; {what} measure {volume_m3:,.1f} m³.")
    return problems


def master_capacity_problems(
    *, master: Shipment, containers: Sequence[ShipmentEquipment] | None = None, extra: Iterable[Shipment] = ()
) -> list[str]:
    """Capacity problems of the master's live houses (plus `extra` houses) in its (or the given) containers."""
    totals = master_totals(master=master, houses=[*live_houses(master), *extra], containers=containers)
    boxes = list(master.containers.all()) if containers is None else containers
    return capacity_problems(containers=boxes, weight_kg=totals.gross_weight_kg, volume_m3=totals.volume_m3)


def _named(house: Shipment, new_houses: Collection[int]) -> str:
    """What a refusal calls a house: "order SHA-26-000157" for a house made for the refused call (it is rolled back
    with the refusal, so its own reference would lead nowhere; the planner picked the order), else its reference."""
    if house.pk in new_houses and house.order is not None:
        return f"order {house.order.reference}"
    return house.reference


def _join_problem(master: Shipment, house: Shipment, new_houses: Collection[int]) -> str | None:
    name = _named(house, new_houses)
    if master.kind != ShipmentKind.MASTER:
        return f"{master.reference} is a house; houses join masters."
    if house.kind != ShipmentKind.HOUSE:
        return f"{house.reference} is a master; only houses join a master."
    if master.status not in JOINABLE:
        return f"{master.reference} is {master.get_status_display().lower()}; houses join only before departure."
    if house.status == ShipmentStatus.CANCELLED:
        return f"{house.reference} is cancelled."
    if MODE_FAMILY.get(house.mode) != MODE_FAMILY.get(master.mode):
        modes = f"{house.get_mode_display()}; {master.reference} by {master.get_mode_display()}"
        return f"{capfirst(name)} moves by {modes}."
    if (house.origin_id, house.destination_id) != (master.origin_id, master.destination_id):
        return (
            f"{capfirst(name)} goes {house.origin_id} → {house.destination_id}; "
            f"{master.reference} goes {master.origin_id} → {master.destination_id}."
        )
    return None


def _excluded_carrier_problem(master: Shipment, house: Shipment, new_houses: Collection[int]) -> str | None:
    """Why the house's customer may not travel with the carrier the master is booked with (a live booking): a
    carrier preference "excluded" for that customer, mode and lane, as the ranking applies it to the master's
    customers (ranking._preference). Cargo added after the carrier was chosen is held to the same contract."""
    if house.order is None:
        return None
    booking = master.bookings.filter(status__in=LIVE_BOOKING_STATUSES).select_related("carrier").first()
    if booking is None:
        return None
    customer_id = house.order.customer_id
    for preference in CarrierPreference.objects.filter(
        Q(customer_id=customer_id) | Q(customer__isnull=True), carrier=booking.carrier, kind=PreferenceKind.EXCLUDED
    ).select_related("customer"):  # hers and ours for every customer (an IN list with None never matches NULL)
        if preference.matches(
            customer_id=customer_id, mode=master.mode, origin=master.origin_id, destination=master.destination_id
        ):
            who = preference.customer.name if preference.customer else "Our carrier rules"
            return (
                f"{who} {'excludes' if preference.customer else 'exclude'} {booking.carrier.name} "
                f"({preference.reason}), and {master.reference} is booked with {booking.carrier.name}: put "
                f"{_named(house, new_houses)} on another master."
            )
    return None


# IMDG Code 7.2.4, the segregation table: how far apart two classes of dangerous goods must stow. 1 "away from",
# 2 "separated from", 3 "separated by a complete compartment or hold from", 4 "separated longitudinally by an
# intervening complete compartment or hold from"; None (the table's X) "none in general, see the Dangerous Goods
# List". Explosives among themselves (the table's *) go by compatibility group (7.2.7), not checked here.
_SEGREGATION_CLASSES = (
    "1.1", "1.3", "1.4", "2.1", "2.2", "2.3", "3", "4.1", "4.2", "4.3", "5.1", "5.2", "6.1", "6.2", "7", "8", "9"
)  # fmt: skip
_SEGREGATION_TABLE = (  # rows and columns in the order of _SEGREGATION_CLASSES, as the Code prints them
    "* * * 4 2 2 4 4 4 4 4 4 2 4 2 4 X",  # 1.1, 1.2, 1.5
    "* * * 4 2 2 4 3 3 4 4 4 2 4 2 2 X",  # 1.3, 1.6
    "* * * 2 1 1 2 2 2 2 2 2 X 4 2 2 X",  # 1.4
    "4 4 2 X X X 2 1 2 X 2 2 X 4 2 1 X",  # 2.1
    "2 2 1 X X X 1 X 1 X X 1 X 2 1 X X",  # 2.2
    "2 2 1 X X X 2 X 2 X X 2 X 2 1 X X",  # 2.3
    "4 4 2 2 1 2 X X 2 1 2 2 X 3 2 X X",  # 3
    "4 3 2 1 X X X X 1 X 1 2 X 3 2 1 X",  # 4.1
    "4 3 2 2 1 2 2 1 X 1 2 2 1 3 2 1 X",  # 4.2
    "4 4 2 X X X 1 X 1 X 2 2 X 2 2 1 X",  # 4.3
    "4 4 2 2 X X 2 1 2 2 X 2 1 3 1 2 X",  # 5.1
    "4 4 2 2 1 2 2 2 2 2 2 X 1 3 2 2 X",  # 5.2
    "2 2 X X X X X X 1 X 1 1 X 1 X X X",  # 6.1
    "4 4 4 4 2 2 3 3 3 2 3 3 1 X 3 3 X",  # 6.2
    "2 2 2 2 1 1 2 2 2 2 1 2 X 3 X 2 X",  # 7
    "4 2 2 1 X X X 1 1 1 2 2 X 3 2 X X",  # 8
    "X X X X X X X X X X X X X X X X X",  # 9
)
_SEGREGATION = [[int(cell) if cell.isdigit() else 0 for cell in row.split()] for row in _SEGREGATION_TABLE]
SEGREGATION_TERMS = {
    1: "kept away from",
    2: "separated from",
    3: "separated by a complete compartment or hold from",
    4: "separated longitudinally by an intervening complete compartment or hold from",
}


def _segregation_column(dg_class: str) -> int | None:
    """The table's row and column for a class as intake stores it (3, 5.1, 1.1D); None for a class it lacks."""
    value = dg_class.strip().upper()
    if value.startswith("1"):
        division = value[:3]
        value = {"1.2": "1.1", "1.5": "1.1", "1.6": "1.3"}.get(division, division)
    return _SEGREGATION_CLASSES.index(value) if value in _SEGREGATION_CLASSES else None


def segregation_required(first_class: str, second_class: str) -> int:
    """The IMDG segregation (1 to 4) between two classes, 0 when the table asks none."""
    row, column = _segregation_column(first_class), _segregation_column(second_class)
    return 0 if row is None or column is None else _SEGREGATION[row][column]


def _dangerous_goods_problem(master: Shipment, house: Shipment, new_houses: Collection[int]) -> str | None:
    """Why the house's dangerous goods may not go on the sea master with the dangerous goods already on it: classes
    the IMDG Code keeps apart by any distance may not share a container (IMDG 7.3.4.1; "away from" only with the
    competent authority's approval, which OMS does not record). OMS does not plan which house goes in which box,
    so at sea a master is one stuffing, and a house's own lines are held to the rule among themselves too."""
    if MODE_FAMILY.get(master.mode) != "sea":
        return None
    lines = list(
        HouseLine.objects.filter(
            Q(house=house)
            | Q(
                house__consolidations__master=master,
                house__consolidations__removed_at__isnull=True,
                house__consolidations__deconsolidated_at__isnull=True,
            )
        )
        .exclude(cargo_line__dg_class="")
        .select_related("cargo_line", "house", "house__order")
    )
    joining = [hl for hl in lines if hl.house_id == house.pk]
    on_board = [hl for hl in lines if hl.house_id != house.pk]
    # The house's own lines against each other too: one order's explosives and oxidiser go into the same stuffing.
    pairs = [(new, old) for index, new in enumerate(joining) for old in joining[index + 1 :]]
    pairs += [(new, old) for new in joining for old in on_board]
    for new, old in pairs:
        level = segregation_required(new.cargo_line.dg_class, old.cargo_line.dg_class)
        if level:
            name = _named(house, new_houses)
            where = "with it" if old.house_id == house.pk else f"on {_named(old.house, new_houses)}"
            advice = (
                "Split the order so they travel on separate masters."
                if old.house_id == house.pk
                else f"Put {name} on another master."
            )
            return (
                f"{_dg_label(new)} on {name} must be {SEGREGATION_TERMS[level]} {_dg_label(old)} {where} "
                f"(IMDG Code segregation table); they may not share a container. {advice}"
            )
    return None


def _dg_label(house_line: HouseLine) -> str:
    line = house_line.cargo_line
    return f"UN{line.un_number} (class {line.dg_class})" if line.un_number else f"Class {line.dg_class}"


def _by(by: Any) -> Any:
    return by if getattr(by, "pk", None) else None


@transaction.atomic
def house_add(
    *, master: Shipment, house: Shipment, by: Any = None, new_houses: Collection[int] = ()
) -> ConsolidatedHouse:
    """Put a house on a master, if lane, mode, state, its order and capacity allow; raises ConsolidationError
    saying why not. A house joining a master whose booking is confirmed is booked like the rest: its order moves
    to planned through the lifecycle (booking_orders.master_orders_plan) when the lifecycle lets it.

    `new_houses`: the ids of houses the caller made for this in its transaction (from the orders the planner
    picked). A refusal rolls them back, so it names their orders, never their references (`_named`)."""
    master = Shipment.objects.select_for_update().get(pk=master.pk)  # one capacity decision at a time per master
    house = Shipment.objects.select_related("order").get(pk=house.pk)
    problem = (
        _join_problem(master, house, new_houses)
        or (planning.order_plan_problem(house.order) if house.order else None)
        or _excluded_carrier_problem(master, house, new_houses)
        or _dangerous_goods_problem(master, house, new_houses)
    )
    if problem:
        raise ConsolidationError(problem)
    problems = master_capacity_problems(master=master, extra=[house])
    if problems:
        raise CapacityError(problems)
    try:
        with transaction.atomic():
            link = ConsolidatedHouse.objects.create(master=master, house=house, added_by=_by(by))
    except IntegrityError as exc:
        other = (
            ConsolidatedHouse.objects.filter(house=house, removed_at__isnull=True, deconsolidated_at__isnull=True)
            .select_related("master")
            .first()
        )
        where = other.master.reference if other else "another master"
        raise ConsolidationError(f"{house.reference} is already on {where}; remove it there first.") from exc
    if house.status != master.status:
        Shipment.objects.filter(pk=house.pk).update(status=master.status)
    if master.status == ShipmentStatus.BOOKED and house.order is not None:
        from tracking.services.booking_orders import master_orders_plan  # booking builds on consolidation

        master_orders_plan(master=master, orders=[house.order], by=by)
    return link


@transaction.atomic
def order_add_to_master(*, order: Order, master: Shipment, by: Any = None) -> Shipment:
    """A new house with the order's unplanned cargo, put on the master: both or neither. Returns the house."""
    house = planning.house_create(order=order, by=by)
    house_add(master=master, house=house, by=by, new_houses={house.pk})
    return house


@transaction.atomic
def house_remove(*, master: Shipment, house: Shipment, by: Any = None) -> None:
    """Take a house off a master before departure; it goes back to planning, ready for another master. Taken off a
    booked master, its cargo is booked no more: a planned order goes back to confirmed through the lifecycle
    (booking_orders.orders_unplan), and is planned again when its house joins another booked master. An order held
    while planned cannot be moved (its hold remembers `planned`): its history says so now ("H-… taken off M-… while
    the order was on hold: …; it goes back to confirmed when released"), and when it is released (by the automation,
    its exception's hold released as the house leaves, or by a person) it goes back to confirmed right after the
    release (released_order_unplan)."""
    master = Shipment.objects.select_for_update().get(pk=master.pk)
    if master.status not in JOINABLE:
        raise ConsolidationError(f"{master.reference} is {master.get_status_display().lower()}; its houses stay on.")
    updated = ConsolidatedHouse.objects.filter(
        master=master, house=house, removed_at__isnull=True, deconsolidated_at__isnull=True
    ).update(removed_at=timezone.now())
    if not updated:
        raise ConsolidationError(f"{house.reference} is not on {master.reference}.")
    Shipment.objects.filter(pk=house.pk).update(status=ShipmentStatus.PLANNING)
    order = Order.objects.filter(pk=house.order_id).first() if house.order_id else None
    if master.status == ShipmentStatus.BOOKED and order is not None:
        from tracking.services.booking_orders import HELD_CARGO_UNBOOKED, orders_unplan  # booking builds on this

        orders_unplan(
            orders=[order],
            scope=scope_for_user(_by(by)),
            by=by,
            reason=f"{house.reference} taken off {master.reference}, booked with its carrier",
            payload={"shipment": master.reference, "house": house.reference},
            held_note=f"{house.reference} taken off {master.reference} while the order was on hold: "
            f"{HELD_CARGO_UNBOOKED}; it goes back to confirmed when released",
        )


@transaction.atomic
def order_houses_cancel(*, order_id: int) -> list[Shipment]:
    """Cancel the houses of a cancelled order: off the masters still being planned, and out of planning.

    Safe to run twice. A house on a master that is no longer being planned is left for operations and logged:
    the cancel guard refuses such orders, so only a booking confirmed between the cancellation's check and this
    gets here, and booking_confirm then reports the order as not planned.
    """
    if not Order.objects.filter(pk=order_id, status=OrderStatus.CANCELLED).exists():
        return []
    houses = list(Shipment.objects.houses().filter(order_id=order_id).exclude(status=ShipmentStatus.CANCELLED))
    links = {
        link.house_id: link
        for link in ConsolidatedHouse.objects.filter(
            house__in=houses, removed_at__isnull=True, deconsolidated_at__isnull=True
        )
    }
    # Their masters locked (in one order) as house_add locks them: capacity and booking decisions wait for this.
    locked = Shipment.objects.select_for_update().filter(pk__in=[link.master_id for link in links.values()])
    masters = {master.pk: master for master in locked.order_by("pk")}
    now = timezone.now()
    cancelled = []
    for house in houses:
        link = links.get(house.pk)
        if link is not None and masters[link.master_id].status != ShipmentStatus.PLANNING:
            master = masters[link.master_id]
            logger.warning(
                "tracking: %s of cancelled order %s stays on %s, which is %s: operations must take it off",
                house.reference, order_id, master.reference, master.status,
            )  # fmt: skip
            continue
        if link is None and house.status != ShipmentStatus.PLANNING:
            continue  # deconsolidated at destination: its record stays as it is
        if link is not None:
            ConsolidatedHouse.objects.filter(pk=link.pk).update(removed_at=now)
        cancelled.append(house)
    Shipment.objects.filter(pk__in=[house.pk for house in cancelled]).update(
        status=ShipmentStatus.CANCELLED, updated_at=now
    )
    return cancelled


def _master_mode(orders: Sequence[Order], container_type: str) -> str:
    families = {MODE_FAMILY[order.mode] for order in orders}
    if len(families) > 1:
        raise ConsolidationError("These orders travel by different modes; consolidate one mode at a time.")
    family = families.pop()
    if container_type and family == "sea":
        return Mode.OCEAN_FCL  # the forwarder's consol box goes to the carrier as an FCL booking
    if container_type and family != "rail":
        raise ConsolidationError(f"Containers are planned for sea and rail; these orders go by {family}.")
    return orders[0].mode


@transaction.atomic
def consolidation_create(
    *,
    orders: Sequence[Order],
    container_type: str = "",
    containers: int = 1,
    branch: Organisation | None = None,
    by: Any = None,
) -> Shipment:
    """A new master with a main leg and `containers` x `container_type`, carrying a house for each order.

    All or nothing: a lane, mode or capacity problem with any order leaves nothing behind.
    """
    if not orders:
        raise ConsolidationError("Pick the orders to consolidate.")
    lanes = {(order.origin_id, order.destination_id) for order in orders}
    if len(lanes) > 1:
        listed = ", ".join(f"{o.reference} {o.origin_id} → {o.destination_id}" for o in orders)
        raise ConsolidationError(f"A master goes from one port to one port; these orders do not: {listed}.")
    if container_type and container_type not in CONTAINER_TYPES:
        raise ConsolidationError(f"{container_type} is not a container type we plan with.")
    mode = _master_mode(orders, container_type)
    first = orders[0]
    master = planning._shipment_create(
        kind=ShipmentKind.MASTER,
        branch=branch or first.branch,
        mode=mode,
        by=by,
        origin_id=first.origin_id,
        destination_id=first.destination_id,
    )
    leg_changes.leg_add(
        shipment=master,
        data={"role": LegRole.MAIN, "mode": mode, "origin_id": first.origin_id, "destination_id": first.destination_id},
    )
    for _ in range(containers if container_type else 0):
        container_changes.container_add(shipment=master, data={"iso_type": container_type})
    houses = [planning.house_create(order=order, by=by) for order in orders]
    problems = master_capacity_problems(master=master, extra=houses)
    if problems:
        raise CapacityError(problems)
    new_houses = {house.pk for house in houses}
    for house in houses:
        house_add(master=master, house=house, by=by, new_houses=new_houses)
    return master


@transaction.atomic
def master_deconsolidate(*, master: Shipment, by: Any = None) -> list[Shipment]:
    """Separate the houses of an arrived master at destination; each continues on its own (on-carriage, delivery)."""
    master = Shipment.objects.select_for_update().get(pk=master.pk)
    if master.kind != ShipmentKind.MASTER:
        raise ConsolidationError(f"{master.reference} is not a master.")
    if master.status != ShipmentStatus.ARRIVED:
        raise ConsolidationError(
            f"{master.reference} has not arrived yet: record the arrival of its last leg, then deconsolidate."
        )
    links = list(master.consolidated_houses.filter(removed_at__isnull=True, deconsolidated_at__isnull=True))
    if not links:
        raise ConsolidationError(f"{master.reference} has no houses left to deconsolidate.")
    now = timezone.now()
    ConsolidatedHouse.objects.filter(pk__in=[link.pk for link in links]).update(deconsolidated_at=now)
    houses = list(Shipment.objects.filter(pk__in=[link.house_id for link in links]).order_by("reference"))
    # Forward only: a house delivered first (a CFS box is delivered drop by drop) or cancelled stays so.
    Shipment.objects.filter(pk__in=[house.pk for house in houses]).exclude(
        status__in=leg_changes.CLOSED_SHIPMENT_STATUSES
    ).update(status=ShipmentStatus.ARRIVED, updated_at=now)
    return houses
