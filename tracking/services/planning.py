"""Planning writes: houses from orders (whole or split), direct shipments, legs, containers, appointments
and the actual departures and arrivals recorded by operations.

Effects when a departure or arrival is recorded (tracking/events.py): `leg_actual_recording` in the transaction,
`leg_actual_recorded` after its commit. When a leg is added, its plan corrected (planned times, places, role) or
it is removed: `leg_plan_changed` after the commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from orders import cargo
from orders.models import CargoLine, Mode, Order
from partners.models import Organisation
from tracking.equipment import CONTAINER_TYPES
from tracking.errors import CapacityError, PlanningError
from tracking.models import (
    ConsolidatedHouse,
    HouseLine,
    LegRole,
    Shipment,
    ShipmentKind,
    ShipmentStatus,
)
from tracking.services.container_changes import container_add
from tracking.services.leg_changes import leg_add

# Orders are planned once accepted from intake and until their goods move (planned orders may still get
# a split-off part planned). Held, cancelled and moving orders are left alone.
PLANNABLE = frozenset({"submitted", "confirmed", "planned"})
KG = Decimal("0.001")
M3 = Decimal("0.0001")


def order_plan_problem(order: Order) -> str | None:
    """Why the order cannot be put on a shipment now, or None."""
    if order.status not in PLANNABLE:
        return (
            f"{order.reference} is {order.get_status_display().lower()}: "
            "only submitted, confirmed or planned orders go on shipments."
        )
    return None


def shipment_reference_issue(*, kind: str, branch_code: str) -> str:
    """M-HAM-26-000012 for a master, H-HAM-26-000013 for a house (one sequence, gaps possible)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('tracking_shipment_reference')")
        (serial,) = cursor.fetchone()
    prefix = "M" if kind == ShipmentKind.MASTER else "H"
    return f"{prefix}-{branch_code}-{timezone.localdate().year % 100:02d}-{serial:06d}"


def _shipment_create(
    *,
    kind: str,
    branch: Organisation,
    mode: str,
    origin_id: str,
    destination_id: str,
    order: Order | None = None,
    by: Any = None,
) -> Shipment:
    return Shipment.objects.create(
        reference=shipment_reference_issue(kind=kind, branch_code=branch.code),
        kind=kind,
        branch=branch,
        order=order,
        mode=mode,
        origin_id=origin_id,
        destination_id=destination_id,
        created_by=by if getattr(by, "pk", None) else None,
    )


def allocated_pieces(order: Order) -> dict[int, int]:
    """Pieces of each of the order's cargo lines already on a house that is not cancelled."""
    rows = (
        HouseLine.objects.filter(cargo_line__order=order)
        .exclude(house__status=ShipmentStatus.CANCELLED)
        .values("cargo_line_id")
        .annotate(pieces=Sum("pieces"))
    )
    return {row["cargo_line_id"]: row["pieces"] for row in rows}


def unallocated_pieces(order: Order) -> dict[int, int]:
    """Pieces of each cargo line not yet on any house: what is still to plan."""
    taken = allocated_pieces(order)
    return {
        line.pk: line.pieces - taken.get(line.pk, 0)
        for line in order.lines.all()
        if line.pieces > taken.get(line.pk, 0)
    }


def _line_volume(line: CargoLine) -> Decimal:
    """The line's volume as the order counts it (orders.cargo.line_volume_m3): the one given, else its pieces'
    dimensions, to the column's four places. A line measured by its dimensions only weighs on a container's m³."""
    fields = ("volume_m3", "pieces", "length_cm", "width_cm", "height_cm")
    volume = cargo.line_volume_m3({name: getattr(line, name) for name in fields})
    return Decimal(volume).quantize(M3, rounding=ROUND_HALF_UP)


def _share(line: CargoLine, pieces: int) -> tuple[Decimal, Decimal]:
    """Weight and volume of `pieces` of the line, pro rata to its pieces."""
    fraction = Decimal(pieces) / Decimal(line.pieces)
    weight = (line.gross_weight_kg * fraction).quantize(KG, rounding=ROUND_HALF_UP)
    volume = (_line_volume(line) * fraction).quantize(M3, rounding=ROUND_HALF_UP)
    return weight, volume


def _allocated_weight_volume(order: Order) -> dict[int, tuple[Decimal, Decimal]]:
    """Weight and volume of each of the order's cargo lines already on a house that is not cancelled."""
    rows = (
        HouseLine.objects.filter(cargo_line__order=order)
        .exclude(house__status=ShipmentStatus.CANCELLED)
        .values("cargo_line_id")
        .annotate(weight=Sum("gross_weight_kg"), volume=Sum("volume_m3"))
    )
    return {row["cargo_line_id"]: (row["weight"], row["volume"]) for row in rows}


def _lock_order(order: Order) -> Order:
    """Lock the order row: allocations of its cargo to houses are decided one at a time."""
    return Order.objects.select_for_update().select_related("branch").get(pk=order.pk)


@transaction.atomic
def house_create(*, order: Order, allocations: Mapping[int, int] | None = None, by: Any = None) -> Shipment:
    """A house carrying `allocations` (cargo line id → pieces) of the order, or all that is still unplanned."""
    order = _lock_order(order)
    problem = order_plan_problem(order)
    if problem:
        raise PlanningError(problem)
    lines = {line.pk: line for line in order.lines.all()}
    remaining = unallocated_pieces(order)
    wanted = dict(allocations) if allocations is not None else remaining
    wanted = {line_id: pieces for line_id, pieces in wanted.items() if pieces}
    if not wanted:
        raise PlanningError(f"All cargo of {order.reference} is already on a shipment.")
    for line_id, pieces in wanted.items():
        if line_id not in lines:
            raise PlanningError(f"Line {line_id} is not a cargo line of {order.reference}.")
        if pieces < 0 or pieces > remaining.get(line_id, 0):
            line = lines[line_id]
            raise PlanningError(
                f"Line {line.line_no} of {order.reference} has {remaining.get(line_id, 0)} of {line.pieces} pieces "
                f"left to plan; {pieces} asked."
            )
    house = _shipment_create(
        kind=ShipmentKind.HOUSE,
        branch=order.branch,
        mode=order.mode,
        order=order,
        origin_id=order.origin_id,
        destination_id=order.destination_id,
        by=by,
    )
    taken = _allocated_weight_volume(order)
    parts = []
    for line_id, pieces in sorted(wanted.items()):
        line = lines[line_id]
        if pieces == remaining[line_id]:
            # The last pieces of a line take what the earlier parts left, so rounding loses no kilogram:
            # the houses of a line always add up to the line.
            weight, volume = taken.get(line_id, (Decimal(0), Decimal(0)))
            part = (line.gross_weight_kg - weight, _line_volume(line) - volume)
        else:
            part = _share(line, pieces)
        parts.append(HouseLine(house=house, cargo_line=line, pieces=pieces, gross_weight_kg=part[0], volume_m3=part[1]))
    HouseLine.objects.bulk_create(parts)
    return house


def _house_is_movable(house: Shipment) -> None:
    """Only cargo still being planned can be split off: a booked, moving, arrived or cancelled house stays whole."""
    if house.kind != ShipmentKind.HOUSE:
        raise PlanningError(f"{house.reference} is a master, not a house.")
    link = (
        house.consolidations.filter(removed_at__isnull=True, deconsolidated_at__isnull=True)
        .select_related("master")
        .first()
    )
    if link and link.master.status not in (ShipmentStatus.PLANNING,):
        raise PlanningError(
            f"{house.reference} is on {link.master.reference}, which is already "
            f"{link.master.get_status_display().lower()}; remove it from there first."
        )
    if house.status != ShipmentStatus.PLANNING:
        raise PlanningError(
            f"{house.reference} is {house.get_status_display().lower()}; only a house still being planned can be split."
        )


@transaction.atomic
def house_split(*, house: Shipment, allocations: Mapping[int, int], by: Any = None) -> Shipment:
    """Move `allocations` (cargo line id → pieces) out of the house into a new house of the same order.

    The new house is on no master yet, so it can travel on another shipment.
    """
    if house.order is None:  # a master (a house always has its order): the screen's split takes any shipment
        raise PlanningError(f"{house.reference} is a master; only a house can be split.")
    order = _lock_order(house.order)  # the order lock also serialises splits of its houses
    problem = order_plan_problem(order)
    if problem:
        raise PlanningError(problem)
    house = Shipment.objects.get(pk=house.pk)
    _house_is_movable(house)
    current = {hl.cargo_line_id: hl for hl in house.house_lines.select_related("cargo_line")}
    wanted = {line_id: pieces for line_id, pieces in allocations.items() if pieces}
    if not wanted:
        raise PlanningError("Say how many pieces of which line go to the new house.")
    for line_id, pieces in wanted.items():
        house_line = current.get(line_id)
        if house_line is None or pieces < 0 or pieces > house_line.pieces:
            have = house_line.pieces if house_line else 0
            raise PlanningError(f"{house.reference} carries {have} pieces of that line; {pieces} asked.")
    if all(wanted.get(line_id, 0) == hl.pieces for line_id, hl in current.items()):
        raise PlanningError("That would move everything; keep at least one piece on the original house.")
    new_house = _shipment_create(
        kind=ShipmentKind.HOUSE,
        branch=order.branch,
        mode=house.mode,
        order=order,
        origin_id=house.origin_id,
        destination_id=house.destination_id,
        by=by,
    )
    for line_id, pieces in wanted.items():
        house_line = current[line_id]
        if pieces == house_line.pieces:  # the whole part moves, exactly as it weighed
            weight, volume = house_line.gross_weight_kg, house_line.volume_m3
        else:
            weight, volume = _share(house_line.cargo_line, pieces)
        HouseLine.objects.create(
            house=new_house, cargo_line_id=line_id, pieces=pieces, gross_weight_kg=weight, volume_m3=volume
        )
        if pieces == house_line.pieces:
            house_line.delete()
        else:  # what stays is what was there less what moved: the two parts add up to the one before
            house_line.pieces -= pieces
            house_line.gross_weight_kg -= weight
            house_line.volume_m3 -= volume
            house_line.save(update_fields=["pieces", "gross_weight_kg", "volume_m3"])
    return new_house


def _default_containers(order: Order) -> list[dict[str, Any]]:
    """The order's own FCL equipment (type, number, seals, VGM) as containers for its master."""
    return [
        {
            "iso_type": box.iso_type,
            "container_number": box.container_number,
            "seal_numbers": list(box.seal_numbers),
            "vgm_kg": box.vgm_kg,
        }
        for box in order.equipment.all()
        if box.iso_type in CONTAINER_TYPES
    ]


@transaction.atomic
def shipment_plan_direct(*, order: Order, by: Any = None) -> Shipment:
    """Ship an order on its own: a house with all its unplanned cargo on a new master with one main leg.

    FCL orders bring their containers along, and the cargo must fit them as on a consolidation (CapacityError,
    nothing left behind): 35 t declared in one 40' box is a booking no carrier may load. Returns the master.
    """
    from tracking.services.consolidation import master_capacity_problems  # consolidation builds on planning

    house = house_create(order=order, by=by)
    master = _shipment_create(
        kind=ShipmentKind.MASTER,
        branch=order.branch,
        mode=order.mode,
        by=by,
        origin_id=order.origin_id,
        destination_id=order.destination_id,
    )
    ConsolidatedHouse.objects.create(master=master, house=house, added_by=by if getattr(by, "pk", None) else None)
    leg_add(
        shipment=master,
        data={
            "role": LegRole.MAIN,
            "mode": order.mode,
            "origin_id": order.origin_id,
            "destination_id": order.destination_id,
        },
    )
    for box in _default_containers(order) if order.mode in (Mode.OCEAN_FCL, Mode.RAIL) else []:
        container_add(shipment=master, data=box)
    problems = master_capacity_problems(master=master)
    if problems:
        raise CapacityError(problems)
    return master
