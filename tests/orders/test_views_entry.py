"""The order entry form: create, submit, intake's messages next to their fields, edit drafts, duplicate,
cargo-line rows and the location picker."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from orders import services
from orders.intake import LINE_FIELDS, ORDER_FIELDS
from orders.models import Channel, Order, OrderStatus

NEW = reverse("orders:new")

ORDER = {
    "customer_code": "ACME",
    "customer_reference": "PO-9001",
    "branch_code": "HAM",
    "mode": "ocean_fcl",
    "service_level": "standard",
    "incoterm": "FOB",
    "origin": "CNSHA",
    "destination": "DEHAM",
    "shipper_name": "Shanghai Bright Lighting Co.",
    "consignee_name": "Acme Industrial",
    "requested_pickup_on": "2026-12-01",
    "description": "LED lamps",
}
LINE = {
    "pieces": "20",
    "package_type": "PX",
    "gross_weight_kg": "4200.5",
    "volume_m3": "28.4",
    "hs_code": "940542",
    "container_number": "CSQU3054383",
    "container_type": "45G1",
    "seal_numbers": "SEAL1, SEAL2",
}


def form_post(*, action: str = "draft", lines=(LINE,), keys=None, **fields) -> dict[str, str]:
    """The POST the entry form sends: every order field, then each line's fields under lines-<key>-."""
    data = dict.fromkeys(ORDER_FIELDS, "") | ORDER | fields
    for key, line in zip(keys or range(len(lines)), lines, strict=True):
        data |= {f"lines-{key}-{name}": "" for name in LINE_FIELDS}
        data |= {f"lines-{key}-{name}": value for name, value in line.items()}
    data["action"] = action
    return data


class _ErrorsById(HTMLParser):
    """Collects the text of every element whose id ends in _error: intake's messages, by field."""

    def __init__(self) -> None:
        super().__init__()
        self.errors: dict[str, str] = {}
        self._stack: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        element_id = dict(attrs).get("id") or ""
        self._stack.append(element_id if element_id.endswith("_error") else None)

    def handle_endtag(self, tag):
        if self._stack:
            self._stack.pop()

    def handle_data(self, data):
        for element_id in self._stack:
            if element_id:
                self.errors[element_id] = (self.errors.get(element_id, "") + data).strip()


def field_errors(response) -> dict[str, str]:
    parser = _ErrorsById()
    parser.feed(response.content.decode())
    return {key.removeprefix("id_").removesuffix("_error"): text for key, text in parser.errors.items()}


def message_texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def ops(login, ops_user):
    return login(ops_user)


# --- New order ---------------------------------------------------------------------------------


def test_the_form_offers_every_field_of_the_intake_vocabulary(ops, locations):
    page = ops.get(NEW).content.decode()
    for name in ORDER_FIELDS:
        assert f'name="{name}"' in page, name
    for name in LINE_FIELDS:
        assert f'name="lines-0-{name}"' in page, name
    assert 'hx-get="/orders/new/line/?key=1"' in page


def test_save_draft_creates_a_draft_through_the_screen_channel(ops, ops_user, locations, customer_a):
    response = ops.post(NEW, form_post())
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == order.get_absolute_url()
    assert (order.status, order.channel, order.created_by) == (OrderStatus.DRAFT, Channel.SCREEN, ops_user)
    assert order.equipment.get().seal_numbers == ["SEAL1", "SEAL2"]
    assert message_texts(response) == [f"{order.reference} saved as a draft."]


def test_submit_creates_a_submitted_order(ops, locations, customer_a):
    ops.post(NEW, form_post(action="submit"))
    order = Order.objects.get()
    assert order.status == OrderStatus.SUBMITTED
    assert order.transitions.get().channel == Channel.SCREEN


def test_every_intake_message_is_shown_next_to_its_field(ops, locations, customer_a):
    second = LINE | {"pieces": "0", "container_number": "CSQU3054384", "hs_code": "12"}
    response = ops.post(NEW, form_post(origin="XXZZZ", currency="EURO", lines=(LINE, second)))

    assert response.status_code == 422
    assert not Order.objects.exists()
    errors = field_errors(response)
    assert "not in our UN/LOCODE list" in errors["origin"]
    assert "not an ISO 4217 currency" in errors["currency"]
    assert "ISO 6346 check digit" in errors["lines-1-container_number"]  # line 2, under its own input
    assert "Must be at least 1" in errors["lines-1-pieces"]
    assert "HS code" in errors["lines-1-hs_code"]
    assert "lines-0-container_number" not in errors  # line 1 is fine
    page = response.content.decode()
    assert "things need fixing" in page
    assert 'value="CSQU3054384"' in page  # what was typed stays in the form
    control = re.search(r'<input[^>]*id="id_lines-1-container_number"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in control
    assert "is-invalid" in control


AIR = {"customer_reference": "PO-AIR-1", "mode": "air", "incoterm": "FCA", "origin": "DEHAM", "destination": "CNSHA"}


def test_an_air_order_refuses_a_container_type_and_seals_on_their_fields(login, sales_user, locations, customer_a):
    """Copied from an ocean order, a 40' box and its seal would be saved as the air order's own container while its
    container number alone was refused: all three are refused alike, each on its field."""
    line = LINE | {"container_number": "", "container_type": "45G1", "seal_numbers": "SEAL1"}
    response = login(sales_user).post(NEW, form_post(action="submit", lines=(line,), **AIR))

    assert response.status_code == 422
    assert not Order.objects.exists()
    refused = "Containers belong on Ocean FCL or Rail orders, not Air."
    assert field_errors(response) == {"lines-0-container_type": refused, "lines-0-seal_numbers": refused}


def test_a_packing_group_without_a_un_number_is_refused_on_its_field(login, sales_user, locations, customer_a):
    response = login(sales_user).post(NEW, form_post(action="submit", lines=(LINE | {"packing_group": "II"},)))

    assert response.status_code == 422
    assert not Order.objects.exists()
    assert field_errors(response) == {
        "lines-0-packing_group": "A packing group needs the UN number and class too, e.g. 1203 / 3 / II."
    }


def test_blank_rows_are_dropped_and_messages_still_find_their_row(ops, locations, customer_a):
    blank = dict.fromkeys(LINE, "") | {"package_type": "PK"}
    bad = LINE | {"hs_code": "99"}
    response = ops.post(NEW, form_post(lines=(blank, bad), keys=(0, 5)))
    errors = field_errors(response)
    assert list(errors) == ["lines-5-hs_code"]  # the second row shown is lines[0] for intake
    assert 'id="lines-0"' not in response.content.decode()


def test_submitting_an_order_without_cargo_lines_says_so_above_the_lines(ops, locations, customer_a):
    response = ops.post(NEW, form_post(action="submit", lines=()))
    assert response.status_code == 422
    assert "An order needs at least one cargo line." in response.content.decode()


UNTIL_SUBMIT = {"incoterm": "", "shipper_name": "", "consignee_name": "", "description": ""}


def test_the_form_says_what_a_draft_needs_and_what_can_wait_until_submit(ops, locations):
    page = ops.get(NEW).content.decode()
    assert "are needed to save the order, as a draft too" in page
    assert "can wait until you submit it" in page
    assert "A draft can be completed later" in page
    for name in ("customer_reference", "mode", "origin", "destination", "requested_pickup_on"):
        assert re.search(rf'for="id_{name}">[^<]*<span class="oms-required"', page), name
    for name in UNTIL_SUBMIT.keys() - {"description"}:
        assert re.search(rf'for="id_{name}">[^<]*<span class="oms-needed-to-submit"', page), name


def test_save_draft_keeps_an_order_without_incoterm_parties_or_cargo(ops, locations, customer_a):
    """What the form promises: the * fields save a draft, the rest can be completed later."""
    response = ops.post(NEW, form_post(lines=[dict.fromkeys(LINE, "") | {"package_type": "PK"}], **UNTIL_SUBMIT))

    order = Order.objects.get()
    assert response.status_code == 302
    assert (order.status, order.incoterm, order.shipper_name, order.lines.count()) == (OrderStatus.DRAFT, "", "", 0)
    page = ops.get(order.get_absolute_url()).content.decode()
    assert "Before it can be submitted, the order needs the Incoterm, the shipper, the consignee and a cargo line" in (
        page
    )
    edit = ops.get(reverse("orders:edit", args=[order.reference]))
    assert edit.status_code == 200
    assert 'id="lines-0"' in edit.content.decode()  # an empty row to start the cargo with


def test_save_draft_still_names_what_a_draft_needs(ops, locations, customer_a):
    response = ops.post(NEW, form_post(origin="", requested_pickup_on="", lines=(), **UNTIL_SUBMIT))
    assert response.status_code == 422
    assert set(field_errors(response)) == {"origin", "requested_pickup_on"}
    assert not Order.objects.exists()


def test_save_and_submit_of_an_incomplete_draft_shows_what_is_missing_on_the_fields(ops, order_factory):
    order = order_factory(shipper_name="", lines=[])
    response = ops.post(reverse("orders:edit", args=[order.reference]), form_post(action="submit", shipper_name=""))
    assert response.status_code == 422
    assert field_errors(response) == {"shipper_name": "This field is required."}
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT


def test_a_duplicate_customer_reference_is_reported_on_its_field(ops, order_factory):
    existing = order_factory(customer_reference="PO-9001")
    response = ops.post(NEW, form_post())
    assert (
        f"ACME already has an order with reference PO-9001 ({existing.reference})."
        in field_errors(response)["customer_reference"]
    )


# --- Edit, duplicate ---------------------------------------------------------------------------


def test_edit_form_starts_from_the_draft(ops, order_factory):
    order = order_factory(customer_reference="PO-EDIT")
    page = ops.get(reverse("orders:edit", args=[order.reference])).content.decode()
    assert 'value="PO-EDIT"' in page
    assert 'value="CSQU3054383"' in page
    assert '<input type="hidden" name="customer_code" value="ACME"' in page  # the customer cannot change


def test_edit_saves_the_draft_and_keeps_its_customer(ops, order_factory, customer_b):
    order = order_factory(customer_reference="PO-EDIT")
    data = form_post(customer_code="GLOBEX", customer_reference="PO-EDIT-2", requested_pickup_on="2026-12-05")
    response = ops.post(reverse("orders:edit", args=[order.reference]), data)
    order.refresh_from_db()
    assert response.status_code == 302
    assert (order.customer.code, order.customer_reference, str(order.requested_pickup_on)) == (
        "ACME",
        "PO-EDIT-2",
        "2026-12-05",
    )
    assert order.status == OrderStatus.DRAFT


def test_edit_and_submit(ops, order_factory):
    order = order_factory()
    ops.post(reverse("orders:edit", args=[order.reference]), form_post(action="submit"))
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED


def test_edit_shows_messages_next_to_fields_and_changes_nothing(ops, order_factory):
    order = order_factory(customer_reference="PO-KEEP")
    bad = LINE | {"awb_number": "020-1234567 1"}
    response = ops.post(reverse("orders:edit", args=[order.reference]), form_post(lines=(LINE, bad)))
    assert response.status_code == 422
    assert "Air waybill numbers belong on air orders." in field_errors(response)["lines-1-awb_number"]
    order.refresh_from_db()
    assert order.customer_reference == "PO-KEEP"


def test_an_edit_of_the_term_or_lane_derives_the_named_place_again_unless_someone_typed_it(ops, order_factory):
    derived = order_factory(customer_reference="PO-DERIVED")  # FOB CNSHA → DEHAM: "Shanghai"
    typed = order_factory(customer_reference="PO-TYPED", named_place="Yangshan Deep Water Port")
    for order in (derived, typed):
        page = ops.get(reverse("orders:edit", args=[order.reference])).content.decode()
        shown = re.search(r'name="named_place" value="([^"]*)"', page).group(1)  # posted back as it is shown
        data = form_post(customer_reference=order.customer_reference, named_place=shown, incoterm="CIF")
        assert ops.post(reverse("orders:edit", args=[order.reference]), data).status_code == 302
        order.refresh_from_db()
    assert (derived.named_place, typed.named_place) == ("Hamburg", "Yangshan Deep Water Port")


def test_a_submitted_order_cannot_be_edited(ops, order_factory):
    order = order_factory(submit=True)
    response = ops.get(reverse("orders:edit", args=[order.reference]))
    assert response.status_code == 302
    assert "only drafts can be edited" in message_texts(response)[0]
    response = ops.post(reverse("orders:edit", args=[order.reference]), form_post())
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.customer_reference != ORDER["customer_reference"]


def test_duplicate_opens_the_new_order_form_prefilled(ops, order_factory):
    source = order_factory(customer_reference="PO-ORIG", shipper_name="Ningbo Sunpower Ltd.", submit=True)
    response = ops.get(reverse("orders:duplicate", args=[source.reference]))
    page = response.content.decode()
    assert response.status_code == 200
    assert f'action="{NEW}"' in page
    assert 'value="Ningbo Sunpower Ltd."' in page
    assert 'value="CNSHA"' in page
    assert 'value="PO-ORIG"' not in page  # a new order needs its own customer reference
    assert 'value="CSQU3054383"' not in page  # and its own container
    assert "Copied from" in page


def test_a_duplicate_is_saved_as_a_new_order(ops, order_factory):
    source = order_factory(customer_reference="PO-ORIG")
    data = services.order_duplicate_data(order=source)
    post = form_post(customer_reference="PO-COPY", shipper_name=data["shipper_name"])
    ops.post(NEW, post)
    assert Order.objects.filter(customer_reference="PO-COPY").exclude(pk=source.pk).exists()


# --- Cargo-line rows and the location picker ---------------------------------------------------


def test_a_new_line_row_and_the_next_add_button(ops, locations):
    response = ops.get(reverse("orders:line_row"), {"key": "3"}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert response.status_code == 200
    assert 'name="lines-3-pieces"' in page
    assert 'id="add-line" hx-swap-oob="true"' in page
    assert "key=4" in page
    assert "<html" not in page


@pytest.mark.parametrize("key", ["", "x", "-1", "10000"])
def test_a_line_row_needs_a_sensible_key(ops, locations, key):
    assert ops.get(reverse("orders:line_row"), {"key": key}).status_code == 404


def test_location_picker_suggests_places(ops, locations):
    page = ops.get(reverse("orders:locations"), {"q": "hamburg"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-code="DEHAM"' in page
    assert 'role="option"' in page
    assert ops.get(reverse("orders:locations"), {"q": ""}).content.decode().strip() == ""
    assert "No active location matches" in ops.get(reverse("orders:locations"), {"q": "zzzzqq"}).content.decode()


# --- Who may enter orders ----------------------------------------------------------------------


def test_sales_may_enter_orders(login, sales_user, locations, customer_a):
    response = login(sales_user).post(NEW, form_post())
    assert response.status_code == 302
    assert Order.objects.get().created_by == sales_user


def test_finance_may_not_enter_or_edit_orders(login, finance_user, order_factory):
    order = order_factory()
    client = login(finance_user)
    for url in (
        NEW,
        reverse("orders:line_row") + "?key=1",
        reverse("orders:edit", args=[order.reference]),
        reverse("orders:duplicate", args=[order.reference]),
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(NEW, form_post(customer_reference="PO-FIN")).status_code == 403
    assert not Order.objects.filter(customer_reference="PO-FIN").exists()


def test_any_entering_role_may_edit_a_colleagues_draft(login, sales_user, order_factory):
    order = order_factory()  # made by ops
    response = login(sales_user).get(reverse("orders:edit", args=[order.reference]))
    assert response.status_code == 200
    assert f'Edit draft <span class="oms-code">{order.reference}</span>' in response.content.decode()


def test_messages_that_belong_to_no_field_are_shown_on_top(ops, locations, customer_a, monkeypatch):
    from orders.errors import OrderValidationError

    def refuse(**kwargs):
        raise OrderValidationError(
            {"non_field_errors": ["Send the order as an object of fields."], "lines[7].pieces": ["Must be at least 1."]}
        )

    monkeypatch.setattr(services, "order_create", refuse)
    response = ops.post(NEW, form_post())
    page = response.content.decode()
    summary = page[page.index('id="entry-errors"') : page.index("</div>\n  </div>", page.index('id="entry-errors"'))]
    assert "Send the order as an object of fields." in summary
    assert "lines[7].pieces: Must be at least 1." in summary  # no such row on the page: said on top, not lost


def test_the_forms_follow_the_intake_vocabulary_exactly():
    from orders.forms import LineForm, OrderForm

    assert set(OrderForm().fields) == set(ORDER_FIELDS)
    assert set(LineForm().fields) == set(LINE_FIELDS)
