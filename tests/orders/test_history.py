"""The history triggers (django-pghistory, statement level): one event per changed row with the statement's
context, nothing for a change of excluded fields, delete events, COPY; bulk and single creation leave the same
history; the event tables index only what history is read by."""

from __future__ import annotations

from typing import Any

import pghistory
import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone
from pghistory.models import Context

from orders import bulk, services
from orders.history_entries import order_history_for
from orders.intake import validate_order
from orders.models import (
    ORDER_NOTE,
    CargoLine,
    CargoLineEvent,
    Channel,
    Equipment,
    EquipmentEvent,
    Order,
    OrderEvent,
)
from partners.scoping import scope_for_user


@pytest.fixture
def scope(ops_user):
    return scope_for_user(ops_user)


def _events(model: Any, **filters: Any) -> list[Any]:
    return list(model.objects.filter(**filters).select_related("pgh_context").order_by("pgh_id"))


def test_history_triggers_run_once_per_statement(db):
    tables = [model._meta.db_table for model in (Order, CargoLine, Equipment)]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgrelid::regclass::text, tgname, tgtype & 1 = 1 FROM pg_trigger "
            "WHERE tgrelid::regclass::text = ANY(%s) AND tgname LIKE 'pgtrigger_%%'",
            [tables],
        )
        triggers = cursor.fetchall()
    assert len(triggers) == 8  # insert and update on orders; insert, update and delete on lines and equipment
    assert [name for _table, name, row_level in triggers if row_level] == []


def test_a_multi_row_update_records_one_event_per_changed_row_with_its_context(order_factory, ops_user):
    first, second, third = order_factory(), order_factory(), order_factory()
    Order.objects.filter(pk=third.pk).update(special_instructions="Fragile")
    last = OrderEvent.objects.order_by("-pgh_id").values_list("pgh_id", flat=True).first()

    with pghistory.context(user=ops_user.pk, channel="api"):
        updated = Order.objects.filter(pk__in=[first.pk, second.pk, third.pk]).update(special_instructions="Fragile")

    assert updated == 3
    events = _events(OrderEvent, pgh_id__gt=last)
    assert sorted(e.pgh_obj_id for e in events) == [first.pk, second.pk]  # the third did not change
    assert {(e.pgh_label, e.special_instructions, e.status) for e in events} == {("update", "Fragile", "draft")}
    assert {e.pgh_context_id for e in events} == {events[0].pgh_context_id}
    assert events[0].pgh_context.metadata == {"user": ops_user.pk, "channel": "api"}


def test_an_update_of_excluded_fields_only_records_nothing(order_factory, ops_user):
    order = order_factory()
    events, contexts = OrderEvent.objects.count(), Context.objects.count()

    with pghistory.context(user=ops_user.pk):
        Order.objects.filter(pk=order.pk).update(search_text="changed", updated_at=timezone.now())

    assert OrderEvent.objects.count() == events
    assert Context.objects.count() == contexts  # no context is recorded for a statement that records nothing


def test_a_line_updated_to_the_same_values_records_nothing_and_a_change_records_each_line(order_factory):
    order = order_factory(lines=[{"pieces": 1, "gross_weight_kg": "10", "description": "Pumps"},
                                 {"pieces": 2, "gross_weight_kg": "20", "description": "Valves"}])  # fmt: skip
    lines = CargoLine.objects.filter(order=order)
    before = CargoLineEvent.objects.filter(pgh_label="update").count()

    lines.update(description=F("description"))
    assert CargoLineEvent.objects.filter(pgh_label="update").count() == before

    lines.update(pieces=F("pieces") + 1)
    changed = _events(CargoLineEvent, order_id=order.pk, pgh_label="update")
    assert sorted((e.line_no, e.pieces) for e in changed) == [(1, 2), (2, 3)]


def test_deleting_lines_and_equipment_records_a_delete_event_per_row(order_factory, ops_user):
    order = order_factory()  # one line with a container, one container
    line, box = order.lines.get(), order.equipment.get()

    with pghistory.context(user=ops_user.pk, channel="screen"), transaction.atomic():
        CargoLine.objects.filter(order=order).delete()
        Equipment.objects.filter(order=order).delete()

    (line_event,) = _events(CargoLineEvent, pgh_obj_id=line.pk, pgh_label="delete")
    (box_event,) = _events(EquipmentEvent, pgh_obj_id=box.pk, pgh_label="delete")
    assert (line_event.order_id, line_event.description, line_event.container_number) == (
        order.pk, line.description, "CSQU3054383",
    )  # fmt: skip
    assert (box_event.order_id, box_event.container_number, box_event.iso_type) == (order.pk, "CSQU3054383", "45G1")
    assert line_event.pgh_context_id == box_event.pgh_context_id
    assert line_event.pgh_context.metadata == {"user": ops_user.pk, "channel": "screen"}


def test_copy_is_recorded_like_an_insert(order_factory, ops_user):
    order = order_factory()
    with transaction.atomic(), pghistory.context(user=ops_user.pk, channel="file"):
        with connection.cursor() as cursor:
            cursor.execute("DO $$ BEGIN END $$")  # COPY bypasses Django's wrappers: set the context first
        bulk.copy_rows(Equipment, ["order_id", "container_number", "iso_type", "seal_numbers"],
                       [[order.pk, "MSCU1234566", "22G1", []], [order.pk, "", "45G1", []]])  # fmt: skip

    events = _events(EquipmentEvent, order_id=order.pk, pgh_label="insert")[1:]  # the first came with the order
    assert sorted((e.container_number, e.iso_type) for e in events) == [("", "45G1"), ("MSCU1234566", "22G1")]
    assert {e.pgh_context.metadata["channel"] for e in events} == {"file"}


# Columns that differ between two orders created alike: identity, our reference and the times.
_OWN = {"pgh_id", "pgh_obj", "pgh_obj_id", "pgh_created_at", "pgh_context", "pgh_context_id", "id", "order",
        "order_id", "reference", "customer_reference", "created_at", "submitted_at"}  # fmt: skip


def _history(order: Order) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Every event of the order, its lines and its equipment, without what is the order's own, with its context."""
    rows = []
    for model, key in ((OrderEvent, "pgh_obj_id"), (CargoLineEvent, "order_id"), (EquipmentEvent, "order_id")):
        for event in _events(model, **{key: order.pk}):
            values = {f.attname: getattr(event, f.attname) for f in model._meta.concrete_fields if f.name not in _OWN}
            values["submitted"] = event.submitted_at is not None if model is OrderEvent else None
            context = {k: v for k, v in event.pgh_context.metadata.items() if k != "import_job"}
            rows.append((model.__name__, values, context, event.pgh_context_id))
    contexts = {context_id for *_rest, context_id in rows}
    assert len(contexts) == 1  # one service call, one context
    return [(name, values, context) for name, values, context, _id in rows]


def test_bulk_creation_leaves_the_history_of_order_create_with_submit(order_data, scope, ops_user):
    single = services.order_create(data=order_data(customer_reference="SINGLE"), scope=scope, by=ops_user,
                                   channel=Channel.FILE, submit=True)  # fmt: skip
    clean, errors = validate_order(order_data(customer_reference="BULK"), scope=scope)
    assert not errors
    result = bulk.orders_bulk_create(orders=[clean], scope=scope, channel=Channel.FILE, by=ops_user)
    bulk_order = Order.objects.get(pk=result.created[0].order_id)

    assert _history(bulk_order) == _history(single)
    labels = [(name, values["pgh_label"]) for name, values, _context in _history(single)]
    assert labels == [("OrderEvent", "insert"), ("OrderEvent", "update"), ("CargoLineEvent", "insert"),
                      ("EquipmentEvent", "insert")]  # fmt: skip
    assert [values["status"] for name, values, _context in _history(bulk_order) if name == "OrderEvent"] == [
        "draft",
        "submitted",
    ]


def test_bulk_creation_of_drafts_leaves_the_history_of_order_create(order_data, scope, ops_user):
    single = services.order_create(data=order_data(customer_reference="SINGLE"), scope=scope, by=ops_user,
                                   channel=Channel.API)  # fmt: skip
    clean, _errors = validate_order(order_data(customer_reference="BULK"), scope=scope)
    result = bulk.orders_bulk_create(orders=[clean], scope=scope, channel=Channel.API, by=ops_user, submit=False)

    assert _history(Order.objects.get(pk=result.created[0].order_id)) == _history(single)


def test_after_a_bulk_submit_the_order_insert_trigger_records_again(order_data, scope, ops_user):
    clean, _errors = validate_order(order_data(customer_reference="BULK"), scope=scope)
    with transaction.atomic():
        bulk.orders_bulk_create(orders=[clean], scope=scope, channel=Channel.FILE, by=ops_user)
        later = services.order_create(data=order_data(customer_reference="LATER"), scope=scope, by=ops_user,
                                      channel=Channel.SCREEN)  # fmt: skip

    assert [e.pgh_label for e in _events(OrderEvent, pgh_obj_id=later.pk)] == ["insert"]


def test_each_service_write_inside_a_request_context_has_a_context_of_its_own(order_data, scope, ops_user):
    """HistoryMiddleware opens a context per request; pghistory would merge every service's context into it, and
    the last write of the request would name who did all of them (orders.history.write_context)."""
    with pghistory.context(user=ops_user.pk, url="/orders/new/") as request:
        order = services.order_create(data=order_data(), scope=scope, by=ops_user, channel=Channel.SCREEN, submit=True)
        services.order_cancel(order=order, scope=scope, by=None, channel=Channel.SYSTEM, reason="Duplicate")
        Order.objects.filter(pk=order.pk).update(special_instructions="Call first")  # not through a service

    created, submitted, cancelled, edited = _events(OrderEvent, pgh_obj_id=order.pk)
    assert created.pgh_context_id == submitted.pgh_context_id  # one service call: created and submitted
    assert submitted.pgh_context.metadata == {
        "user": ops_user.pk, "url": "/orders/new/", "api_key": None, "channel": "screen", "transition": "submit"
    }  # fmt: skip
    assert cancelled.pgh_context.metadata == {
        "user": None, "url": "/orders/new/", "api_key": None, "channel": "system", "transition": "cancel"
    }  # fmt: skip
    assert edited.pgh_context_id == request.id
    assert edited.pgh_context.metadata == {"user": ops_user.pk, "url": "/orders/new/"}


@pytest.mark.parametrize(
    ("model", "indexed"),
    [
        (OrderEvent, {"pgh_obj_id", "pgh_context_id"}),
        (CargoLineEvent, {"pgh_obj_id", "pgh_context_id", "order_id"}),
        (EquipmentEvent, {"pgh_obj_id", "pgh_context_id", "order_id"}),
    ],
)
def test_event_tables_index_only_what_history_is_read_by(db, model, indexed):
    """By object (pghistory's diffs, `tracks`), by order (`references`: the history screen) and by context."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    indexes = [c["columns"] for c in constraints.values() if c["index"] and not c["primary_key"]]
    assert {column for columns in indexes for column in columns} == indexed
    assert [name for name, c in constraints.items() if c["foreign_key"]] == []  # history outlives what it names


@pytest.mark.parametrize("model", [OrderEvent, CargoLineEvent, EquipmentEvent])
@pytest.mark.parametrize("write", ["update", "delete", "raw sql"])
def test_the_history_is_append_only(order_factory, model, write):
    """RELIABILITY.md I1: no path rewrites or removes history, the console, a queryset or a data migration's SQL."""
    order = order_factory(submit=True)
    rows = model.objects.filter(order_id=order.pk) if model is not OrderEvent else model.objects.filter(
        pgh_obj_id=order.pk)  # fmt: skip
    before = list(rows.values_list("pgh_id", flat=True))
    assert before
    writes = {
        "update": lambda: rows.update(pgh_label="forged"),
        "delete": lambda: rows.delete(),
        "raw sql": lambda: connection.cursor().execute(f"DELETE FROM {model._meta.db_table}"),  # noqa: S608
    }
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        writes[write]()
    assert list(rows.values_list("pgh_id", flat=True)) == before
    assert not rows.filter(pgh_label="forged").exists()
    order.lines.update(description="Still recorded")  # and history keeps being written
    assert CargoLineEvent.objects.filter(order_id=order.pk, description="Still recorded").exists()


def test_a_note_is_a_line_of_the_orders_history_that_changes_nothing(order_factory, ops_user):
    """services.order_note_record: what happened elsewhere (tracking: the cargo of an order on hold booked no more),
    said in the order's history when it happens, by whom and through which channel; the order's row is copied as it
    is, so the next change's difference is read against the same values."""
    order = order_factory()
    services.order_note_record(
        order=order, title="Booked no more while on hold", text="H-1 taken off M-1 while the order was on hold",
        channel=Channel.SCREEN, by=ops_user, payload={"house": "H-1"},
    )  # fmt: skip
    Order.objects.filter(pk=order.pk).update(special_instructions="Call first")

    *_, noted, edited = order_history_for(order=Order.objects.get(pk=order.pk))

    assert (noted.title, noted.reason, noted.who, noted.channel, noted.changes) == (
        "Booked no more while on hold", "H-1 taken off M-1 while the order was on hold", ops_user.email,
        "Staff screen", [],
    )  # fmt: skip
    assert [(change.label, change.new) for change in edited.changes] == [("Special instructions", "Call first")]
    note = OrderEvent.objects.get(pgh_obj_id=order.pk, pgh_label=ORDER_NOTE)
    assert (note.status, note.reference) == (order.status, order.reference)
    assert note.pgh_context.metadata["note_payload"] == {"house": "H-1"}
