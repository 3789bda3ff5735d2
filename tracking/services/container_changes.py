"""Containers on a sea or rail master: adding, correcting and removing them, with the cargo they hold kept
within their capacity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from tracking.errors import CapacityError, PlanningError
from tracking.models import (
    Shipment,
    ShipmentEquipment,
    ShipmentKind,
    ShipmentStatus,
)

CONTAINER_FIELDS = ("iso_type", "container_number", "seal_numbers", "vgm_kg", "tare_kg", "max_gross_kg")


# What a container holds depends on these; changing one re-checks that the cargo still fits.
CAPACITY_FIELDS = ("iso_type", "tare_kg", "max_gross_kg")


def _clean_container(box: ShipmentEquipment, master: Shipment) -> None:
    """Validate a container of `master`. The caller holds the master's lock, so two saves cannot both pass the
    check for a number already on it (the database would refuse the second with an IntegrityError)."""
    try:
        box.full_clean(exclude=["shipment"])
    except ValidationError as exc:
        raise PlanningError(" ".join(" ".join(messages) for messages in exc.message_dict.values())) from exc
    if (
        box.container_number
        and master.containers.filter(container_number=box.container_number).exclude(pk=box.pk).exists()
    ):
        raise PlanningError(f"{box.container_number} is already on {master.reference}.")


def container_add_problem(shipment: Shipment) -> str | None:
    """Why no container may be added to the shipment now, or None; the shipment page offers "Add container" only
    when this is None. Containers are planned for sea and rail masters (as consolidation plans them), and only
    while a house may still join: a box added once the master moves never went on board."""
    from tracking.services.consolidation import CONTAINER_MODES, JOINABLE  # consolidation builds on planning

    if shipment.kind != ShipmentKind.MASTER:
        return "Containers belong to the master shipment."
    if shipment.mode not in CONTAINER_MODES:
        return (
            f"{shipment.reference} goes by {shipment.get_mode_display()}; containers are planned for sea and rail "
            "masters only."
        )
    if shipment.status not in JOINABLE:
        return (
            f"{shipment.reference} is {shipment.get_status_display().lower()}; containers are added only while it is "
            "being planned or booked."
        )
    return None


@transaction.atomic
def container_add(*, shipment: Shipment, data: Mapping[str, Any]) -> ShipmentEquipment:
    """Add a container (ISO size-type, and once known its ISO 6346 number, seals and VGM) to a master, where
    container_add_problem allows. After commit: the events held for its number are attached
    (tracking.ingest.relinking)."""
    if shipment.kind != ShipmentKind.MASTER:
        raise PlanningError("Containers belong to the master shipment.")
    master = Shipment.objects.select_for_update().get(pk=shipment.pk)
    problem = container_add_problem(master)
    if problem:
        raise PlanningError(problem)
    box = ShipmentEquipment(shipment=master, **{k: v for k, v in data.items() if k in CONTAINER_FIELDS})
    _clean_container(box, master)
    box.save()
    _container_number_recorded(box)
    return box


def _container_number_recorded(box: ShipmentEquipment) -> None:
    """The carrier's events held for this box before its number was known are attached after the commit."""
    from tracking.ingest.models import SubjectType
    from tracking.ingest.relinking import events_relink_on_commit  # ingest builds on planning (following.py)

    if box.container_number:
        events_relink_on_commit(references=[(SubjectType.CONTAINER, box.container_number)])


@transaction.atomic
def container_update(*, container: ShipmentEquipment, data: Mapping[str, Any]) -> ShipmentEquipment:
    """Assign the number, seals, VGM or plate figures of a container. A new size-type or plate must still hold
    the master's cargo (CapacityError); a number or seal alone is never refused for cargo already too heavy.
    After commit, when the number changed: the events held for the new number are attached (relinking)."""
    from tracking.services.consolidation import master_capacity_problems  # consolidation builds on planning

    master = Shipment.objects.select_for_update().get(pk=container.shipment_id)
    box = ShipmentEquipment.objects.get(pk=container.pk)
    number_before = box.container_number
    before = [getattr(box, key) for key in CAPACITY_FIELDS]
    for key, value in data.items():
        if key in CONTAINER_FIELDS:
            setattr(box, key, value)
    _clean_container(box, master)
    if [getattr(box, key) for key in CAPACITY_FIELDS] != before:
        boxes = [box if other.pk == box.pk else other for other in master.containers.all()]
        problems = master_capacity_problems(master=master, containers=boxes)
        if problems:
            raise CapacityError(problems)
    box.save()
    if box.container_number != number_before:
        _container_number_recorded(box)
    return box


@transaction.atomic
def container_remove(*, container: ShipmentEquipment) -> None:
    """Take a container off a master that is still being planned; the rest must still hold the cargo."""
    from tracking.services.consolidation import master_capacity_problems  # consolidation builds on planning

    master = Shipment.objects.select_for_update().get(pk=container.shipment_id)
    if master.status != ShipmentStatus.PLANNING:
        raise PlanningError(f"{master.reference} is {master.get_status_display().lower()}; its containers stay.")
    remaining = [box for box in master.containers.all() if box.pk != container.pk]
    problems = master_capacity_problems(master=master, containers=remaining) if remaining else []
    if problems:
        raise PlanningError(" ".join(problems))
    container.delete()
