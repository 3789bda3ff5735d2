"""A handful of UN/LOCODE places, enough for workflow tests and much faster than the demo set of 394."""

from __future__ import annotations

from orders.models import Location

PLACES = {
    "CNSHA": "Shanghai", "DEHAM": "Hamburg", "DEMUC": "Munich", "DEFRA": "Frankfurt am Main",
    "USNYC": "New York", "USCHI": "Chicago", "NLRTM": "Rotterdam", "PLWAW": "Warsaw", "GBLON": "London",
}  # fmt: skip


def create_places() -> None:
    Location.objects.bulk_create(
        [Location(code=code, country=code[:2], name=name, name_ascii=name) for code, name in PLACES.items()],
        ignore_conflicts=True,
    )
