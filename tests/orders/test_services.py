"""The order services: creation, update while draft, history, duplication, references."""

import re
from decimal import Decimal

import pghistory.models
import pytest
from django.db import connection
from django.utils import timezone

from orders import services
from orders.errors import OrderError, OrderValidationError
from orders.models import CargoLine, Channel, Equipment, Order, OrderStatus, OrderTransition
from orders.references import issue_references
from partners.scoping import scope_for_user


@pytest.fixture
def scope(ops_user):
    return scope_for_user(ops_user)


def create(order_data, scope, ops_user, **kwargs):
    return services.order_create(data=order_data(**kwargs), scope=scope, by=ops_user, channel=Channel.SCREEN)


def test_create_makes_a_draft_with_our_reference_lines_equipment_and_totals(order_data, scope, ops_user):
    order = create(order_data, scope, ops_user)
    year = timezone.localdate().year % 100
    assert re.fullmatch(rf"HAM-{year:02d}-\d{{6}}", order.reference)
    assert order.status == OrderStatus.DRAFT
    assert order.created_by == ops_user
    assert order.channel == Channel.SCREEN
    assert CargoLine.objects.get(order=order).container_number == "CSQU3054383"
    assert Equipment.objects.get(order=order).iso_type == "45G1"
    assert order.gross_weight_kg_total == Decimal("4200.5")


def test_create_and_submit(order_data, scope, ops_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        order = services.order_create(data=order_data(), scope=scope, by=ops_user, channel=Channel.API, submit=True)
    assert order.status == OrderStatus.SUBMITTED
    assert order.submitted_at is not None
    transition = OrderTransition.objects.get(order=order)
    assert (transition.source, transition.target, transition.channel, transition.by) == (
        "draft",
        "submitted",
        "api",
        ops_user,
    )
    assert len(callbacks) == 2  # order_created, order_status_changed


def test_invalid_data_creates_nothing_and_reports_every_error(order_data, scope, ops_user):
    with pytest.raises(OrderValidationError) as excinfo:
        create(order_data, scope, ops_user, origin="XXXXX", mode="boat")
    assert set(excinfo.value.errors) == {"origin", "mode"}
    assert not Order.objects.exists()


def test_a_customer_reference_is_unique_per_customer(order_data, scope, ops_user, customer_b):
    first = create(order_data, scope, ops_user)
    with pytest.raises(OrderValidationError) as excinfo:
        create(order_data, scope, ops_user)
    assert excinfo.value.errors["customer_reference"] == [
        f"ACME already has an order with reference PO-1001 ({first.reference})."
    ]
    create(order_data, scope, ops_user, customer_code="GLOBEX")  # the same number at another customer is fine


def test_history_records_who_and_which_channel(order_data, scope, ops_user):
    order = create(order_data, scope, ops_user)
    event = pghistory.models.Events.objects.tracks(order).order_by("pgh_created_at").first()
    assert event.pgh_label == "insert"
    assert event.pgh_context["user"] == ops_user.pk
    assert event.pgh_context["channel"] == "screen"


def test_history_captures_bulk_writes_too(order_data, scope, ops_user):
    order = create(order_data, scope, ops_user)
    Order.objects.filter(pk=order.pk).update(special_instructions="Call before delivery")  # a queryset update
    labels = list(
        pghistory.models.Events.objects.tracks(order).order_by("pgh_created_at").values_list("pgh_label", flat=True)
    )
    assert labels == ["insert", "update"]


def test_update_replaces_a_drafts_data_and_lines(order_data, scope, ops_user):
    order = create(order_data, scope, ops_user)
    data = order_data(destination="NLRTM")
    data["lines"] = [{"pieces": 3, "gross_weight_kg": "90", "description": "Spare parts"}]
    updated = services.order_update(order=order, data=data, scope=scope, by=ops_user, channel=Channel.SCREEN)
    assert updated.destination_id == "NLRTM"
    assert list(updated.lines.values_list("description", flat=True)) == ["Spare parts"]
    assert not updated.equipment.exists()
    assert updated.pieces_total == 3


def test_update_refuses_a_submitted_order(order_data, scope, ops_user):
    order = services.order_create(data=order_data(), scope=scope, by=ops_user, channel=Channel.SCREEN, submit=True)
    with pytest.raises(OrderError, match="Only draft orders can be edited"):
        services.order_update(order=order, data=order_data(), scope=scope, by=ops_user, channel=Channel.SCREEN)


def test_update_cannot_move_an_order_to_another_customer(order_data, scope, ops_user, customer_b):
    order = create(order_data, scope, ops_user)
    with pytest.raises(OrderValidationError) as excinfo:
        services.order_update(
            order=order, data=order_data(customer_code="GLOBEX"), scope=scope, by=ops_user, channel="screen"
        )
    assert "cannot change" in excinfo.value.errors["customer_code"][0]


def test_cancel_needs_a_reason_and_records_it(order_data, scope, ops_user):
    order = create(order_data, scope, ops_user)
    with pytest.raises(OrderError, match="Say why"):
        services.order_cancel(order=order, scope=scope, by=ops_user, channel=Channel.SCREEN, reason=" ")
    cancelled = services.order_cancel(order=order, scope=scope, by=ops_user, channel=Channel.SCREEN, reason="Duplicate")
    assert (cancelled.status, cancelled.cancel_reason) == (OrderStatus.CANCELLED, "Duplicate")


def test_duplicate_copies_parties_lane_and_cargo_but_not_identifiers(order_data, scope, ops_user):
    order = create(order_data, scope, ops_user)
    data = services.order_duplicate_data(order=order)
    assert data["customer_reference"] == ""
    assert data["requested_pickup_on"] is None
    assert data["origin"] == "CNSHA"
    assert data["lines"][0]["container_number"] == ""
    assert data["lines"][0]["description"] == "LED lamps"
    copy = services.order_create(
        data={**data, "customer_reference": "PO-1002", "requested_pickup_on": "2026-12-10"},
        scope=scope,
        by=ops_user,
        channel=Channel.SCREEN,
    )
    assert copy.reference != order.reference


def test_order_as_data_round_trips_through_update(order_data, scope, ops_user):
    order = create(order_data, scope, ops_user)
    again = services.order_update(
        order=order, data=services.order_as_data(order), scope=scope, by=ops_user, channel=Channel.SCREEN
    )
    assert services.order_as_data(again) == services.order_as_data(order)


# --- The named place OMS derived follows the Incoterm and the lane; one someone gave stays ---------


def update(order, data, scope, ops_user, **kwargs):
    return services.order_update(order=order, data=data, scope=scope, by=ops_user, channel=Channel.SCREEN, **kwargs)


@pytest.mark.parametrize("partial", [False, True], ids=["whole", "partial"])
@pytest.mark.parametrize(
    ("change", "place"),
    [
        ({"incoterm": "CIF"}, "Hamburg"),  # C and D rules name the destination
        ({"origin": "CNNGB"}, "Ningbo"),
        ({"incoterm": "CIF", "destination": "NLRTM"}, "Rotterdam"),
        ({"incoterm": ""}, ""),  # a draft without a term has no place for it
        ({"notify_name": "Acme Logistics"}, "Shanghai"),  # nothing it depends on changed
    ],
)
def test_a_named_place_oms_derived_follows_a_new_term_or_lane(order_data, scope, ops_user, change, place, partial):
    order = create(order_data, scope, ops_user)  # FOB CNSHA → DEHAM, no named place given
    assert order.named_place == "Shanghai"
    # A whole replacement sends the order as read, derived place included (the edit form, a GET then PUT).
    data = change if partial else {**services.order_as_data(order), **change}

    updated = update(order, data, scope, ops_user, partial=partial)

    assert updated.named_place == place
    fresh = services.order_create(
        data={**order_data(customer_reference="PO-FRESH"), **change}, scope=scope, by=ops_user, channel=Channel.SCREEN
    )
    assert fresh.named_place == place  # what the same data gets as a new order


@pytest.mark.parametrize("partial", [False, True], ids=["whole", "partial"])
def test_a_named_place_someone_gave_stays_when_the_term_or_lane_changes(order_data, scope, ops_user, partial):
    order = create(order_data, scope, ops_user, named_place="Yangshan Deep Water Port")
    change = {"incoterm": "CIF", "origin": "CNNGB"}
    data = change if partial else {**services.order_as_data(order), **change}

    assert update(order, data, scope, ops_user, partial=partial).named_place == "Yangshan Deep Water Port"


def test_a_named_place_given_with_the_change_is_kept(order_data, scope, ops_user):
    order = create(order_data, scope, ops_user)
    change = {"incoterm": "CIF", "named_place": "Hamburg, Burchardkai"}
    assert update(order, change, scope, ops_user, partial=True).named_place == "Hamburg, Burchardkai"


# --- Drafts: saved with what files them; submitting needs the rest ---------------------------------


def test_a_draft_is_saved_without_incoterm_parties_or_cargo(order_data, scope, ops_user):
    blank = {"incoterm": "", "shipper_name": "", "consignee_name": "", "description": "", "lines": []}

    order = create(order_data, scope, ops_user, **blank)

    assert (order.status, order.incoterm, order.named_place, order.shipper_name) == (OrderStatus.DRAFT, "", "", "")
    assert (order.pieces_total, order.gross_weight_kg_total, order.lines.count()) == (0, 0, 0)


def test_a_draft_still_needs_what_files_it_and_what_it_has_must_be_right(order_data, scope, ops_user):
    data = order_data(customer_reference="", origin="", requested_pickup_on="", lines=[{"pieces": 1}])
    with pytest.raises(OrderValidationError) as excinfo:
        services.order_create(data=data, scope=scope, by=ops_user, channel=Channel.SCREEN)
    errors = excinfo.value.errors
    assert set(errors) == {"customer_reference", "origin", "requested_pickup_on", "lines[0].gross_weight_kg"}


def test_creating_an_order_submitted_needs_everything(order_data, scope, ops_user):
    data = order_data(incoterm="", shipper_name="", consignee_name="", lines=[])
    with pytest.raises(OrderValidationError) as excinfo:
        services.order_create(data=data, scope=scope, by=ops_user, channel=Channel.SCREEN, submit=True)
    assert set(excinfo.value.errors) == {"incoterm", "shipper_name", "consignee_name", "lines"}
    assert not Order.objects.exists()


def test_an_incomplete_draft_cannot_be_submitted_until_it_is_completed(order_data, scope, ops_user):
    order = create(order_data, scope, ops_user, shipper_name="", incoterm="", lines=[])

    with pytest.raises(OrderError) as excinfo:
        services.order_submit(order=order, scope=scope, by=ops_user, channel=Channel.SCREEN)
    assert str(excinfo.value) == (
        "Before it can be submitted, the order needs the Incoterm, the shipper and a cargo line: edit the draft first."
    )
    assert Order.objects.get(pk=order.pk).status == OrderStatus.DRAFT

    completed = update(order, order_data(), scope, ops_user)
    assert services.order_submit(order=completed, scope=scope, by=ops_user, channel=Channel.SCREEN).status == (
        OrderStatus.SUBMITTED
    )


def test_an_update_made_to_submit_checks_everything_submitting_needs(order_data, scope, ops_user):
    order = create(order_data, scope, ops_user, consignee_name="", lines=[])
    with pytest.raises(OrderValidationError) as excinfo:
        update(order, {"notify_name": "Ops"}, scope, ops_user, partial=True, submitting=True)
    assert set(excinfo.value.errors) == {"consignee_name", "lines"}
    assert Order.objects.get(pk=order.pk).notify_name == ""


def test_search_finds_orders_by_reference_party_and_goods(order_data, scope, ops_user):
    order = create(order_data, scope, ops_user)
    create(
        order_data,
        scope,
        ops_user,
        customer_reference="PO-2",
        shipper_name="Ningbo Sunpower",
        description="Solar panels",
    )
    for query in (order.reference, "PO-1001", "Bright Lighting", "Shanghai Bright", "ACME PO-1001"):
        assert list(Order.objects.search(query)) == [order], query


def test_search_text_holds_each_part_once(order_data, scope, ops_user):
    line = order_data()["lines"][0]
    order = create(order_data, scope, ops_user, lines=[line, {**line, "pieces": 3}])
    assert order.search_text.count("LED lamps") == 1  # the order's description and both lines' are the same
    assert order.search_text.count("940542") == 1
    for query in ("LED lamps", '"LED lamps"', "940542"):
        assert list(Order.objects.search(query)) == [order], query


def test_references_are_unique_and_increasing_per_branch_and_year(db):
    first = issue_references(branch_code="HAM", year=2031, count=3)
    second = issue_references(branch_code="HAM", year=2031)
    assert len(set(first + second)) == 4
    assert first == sorted(first)
    assert second[0] > first[-1]
    assert issue_references(branch_code="SHA", year=2031)[0] == "SHA-31-000001"


def test_reference_sequences_survive_a_rollback_with_a_gap(db):
    from django.db import transaction

    (before,) = issue_references(branch_code="HAM", year=2032)
    with transaction.atomic():
        issue_references(branch_code="HAM", year=2032)
        transaction.set_rollback(True)
    (after,) = issue_references(branch_code="HAM", year=2032)
    assert int(after[-6:]) == int(before[-6:]) + 2  # gap-tolerant: the rolled-back number is not reused
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
