"""Planning rules the thirteenth session added, held where review I found them open: an exclusion for every customer,
one order's own dangerous goods, and the console's containers (docs/planning.md)."""

import datetime
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.tracking.test_planning_review_b import booked_acme_master  # noqa: F401 - fixture
from tracking.errors import PlanningError
from tracking.models import CarrierPreference, PreferenceKind, Shipment, ShipmentEquipment, ShipmentStatus
from tracking.services import consolidation, container_changes, leg_changes


def test_a_company_wide_carrier_exclusion_keeps_cargo_off_a_master_booked_with_it(
    make_order,
    ops_user,
    ocean_carriers,
    booked_acme_master,  # noqa: F811 - a fixture
):
    """A carrier preference with no customer ("Our carrier rules", blank fields match all) excludes the carrier for
    every customer: _excluded_carrier_problem has a branch for it ("Our carrier rules exclude ..."), yet its query
    `customer_id__in=[customer_id, None]` never finds such a row: Django drops None from an IN list (NULL = NULL is
    never true), so the global exclusion is silently ignored and the cargo joins the excluded carrier's master."""
    CarrierPreference.objects.create(
        carrier=ocean_carriers[0], kind=PreferenceKind.EXCLUDED, customer=None,
        reason="Sanctions screening: no Maersk until cleared",
    )  # fmt: skip
    with pytest.raises(PlanningError, match=r"Our carrier rules exclude Maersk"):
        consolidation.order_add_to_master(order=make_order(), master=booked_acme_master, by=ops_user)


def _dg_line(un_number: str, dg_class: str, packing_group: str = "", description: str = "Goods") -> dict:
    return {
        "pieces": 2,
        "package_type": "PX",
        "gross_weight_kg": "500",
        "volume_m3": "2",
        "description": description,
        "hs_code": "9405.42",
        "un_number": un_number,
        "dg_class": dg_class,
        "packing_group": packing_group,
    }


def test_a_house_whose_own_dangerous_goods_must_be_segregated_does_not_go_into_one_container(make_order, ops_user):
    """IMDG Code 7.2.4 (f4cb083): explosives 1.1D and an oxidizer 5.1 must be "separated longitudinally by an
    intervening complete compartment or hold"; they may not share a container, and the master is one stuffing at sea.
    _dangerous_goods_problem compares only the joining house's lines with lines of *other* houses already on the
    master, never the lines of one house with each other: an order carrying both goes into one 20' box unchallenged
    (as the first house of a consolidation, on its own via consolidation_create, or joining a master)."""
    order = make_order(
        lines=[
            _dg_line("0065", "1.1D", description="Detonating cord"),
            _dg_line("1942", "5.1", "III", description="Ammonium nitrate"),
        ]
    )
    with pytest.raises(PlanningError, match="may not share a container"):
        consolidation.consolidation_create(orders=[order], container_type="22G1", by=ops_user)


class _Form(HTMLParser):
    """The change form's fields as the browser would send them (inputs, selects' chosen options, textareas)."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._select: str | None = None
        self._textarea: str | None = None
        self._chosen: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.data.setdefault(name, []).append(a.get("value", "on" if a.get("type") == "checkbox" else ""))
        elif tag == "select" and name:
            self._select, self._chosen = name, []
        elif tag == "option" and self._select is not None and "selected" in a:
            self._chosen.append(a.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = [""]

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea] = [self.data[self._textarea][0] + data]

    def handle_endtag(self, tag):
        if tag == "select" and self._select is not None:
            self.data[self._select] = self._chosen or [""]
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def _add_container_in_console(client, shipment: Shipment):
    url = reverse("admin:tracking_shipment_change", args=[shipment.pk])
    page = client.get(url)
    assert page.status_code == 200
    form = _Form()
    form.feed(page.content.decode())
    data: dict[str, str | list[str]] = {
        k: v if len(v) > 1 else v[0] for k, v in form.data.items() if not k.startswith("containers-__prefix__")
    }
    data = {k: v for k, v in data.items() if "__prefix__" not in k}
    total = int(form.data["containers-TOTAL_FORMS"][0])
    data["containers-TOTAL_FORMS"] = str(total + 1)
    data[f"containers-{total}-iso_type"] = "22G1"
    data[f"containers-{total}-shipment"] = str(shipment.pk)
    data["_continue"] = "Save"
    return client.post(url, data)


def test_the_console_adds_no_container_to_a_master_that_has_sailed(client, admin_user, make_order, ops_user):
    """docs/planning.md and container_changes.container_add_problem (f4cb083): containers are added to a master only
    while it is being planned or booked ("a box added once the master moves never went on board"), and the shipment page
    no longer offers "Add container" then. The console's Shipment page keeps its Containers inline (ContainerInline,
    extra=0 but add allowed), which saves a new box on the master in transit all the same: the rule holds on the
    screen and service only, not on the console that writes the same rows."""
    master = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    leg_changes.leg_record_actual(
        leg=master.legs.get(), departed_at=timezone.now() - datetime.timedelta(days=2), by=ops_user
    )
    master = Shipment.objects.get(pk=master.pk)
    assert master.status == ShipmentStatus.IN_TRANSIT
    assert container_changes.container_add_problem(master)  # the service refuses it
    before = ShipmentEquipment.objects.filter(shipment=master).count()
    client.force_login(admin_user)
    response = _add_container_in_console(client, master)
    assert ShipmentEquipment.objects.filter(shipment=master).count() == before, response.status_code
    page = client.get(reverse("admin:tracking_shipment_change", args=[master.pk])).content.decode()
    assert f'href="/planning/shipments/{master.reference}/#containers">Change on the shipment page</a>' in page
    assert 'name="containers-0-iso_type"' not in page  # shown, not editable
