"""The import service: rows grouped into orders, errors back on their rows, the two policies, duplicates,
a preview without side effects, the same history as the single-order path, and a task safe to run twice."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import F

from orders import events
from orders.imports import check, selectors, service, writes
from orders.models import (
    CargoLine,
    Channel,
    ImportedOrder,
    ImportJob,
    ImportStatus,
    Order,
    OrderEvent,
    OrderStatus,
    OrderTransition,
)
from orders.references import _sequence_name
from partners.scoping import scope_for_user
from tests.orders.fixtures.imports import COLUMNS, csv_bytes, errors_of, import_file, order_row, world

__all__ = ["world"]


def _confirm(job: ImportJob, user, mode: str = "all_or_nothing") -> ImportJob:
    return service.import_job_confirm(job=job, by=user, mode=mode)


def _sequence_value(branch_code: str = "HAM") -> int | None:
    from django.utils import timezone

    name = _sequence_name(branch_code, timezone.localdate().year)
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value FROM pg_sequences WHERE sequencename = %s", [name])
        row = cursor.fetchone()
    return None if row is None else row[0]


def test_rows_sharing_a_customer_reference_become_lines_of_one_order(world):
    rows = [
        order_row("PO-1", pieces="2", gross_weight_kg="100", description="Pumps"),
        order_row("PO-2"),
        {"customer_code": "ACME", "customer_reference": "PO-1", "pieces": "3", "gross_weight_kg": "50.5",
         "description": "Spare parts"},
    ]  # fmt: skip
    job = _confirm(import_file(world["ops"], csv_bytes(rows)), world["ops"])
    assert job.status == ImportStatus.IMPORTED
    assert (job.rows_total, job.orders_total, job.orders_created) == (3, 2, 2)
    order = Order.objects.get(customer_reference="PO-1")
    assert list(order.lines.values_list("line_no", "pieces", "description")) == [
        (1, 2, "Pumps"),
        (2, 3, "Spare parts"),
    ]
    assert (order.pieces_total, str(order.gross_weight_kg_total)) == (5, "150.500")
    assert order.description == "Pumps"  # the first row's goods summarise the order
    assert list(ImportedOrder.objects.filter(job=job).order_by("row").values_list("row", flat=True)) == [2, 3]


def test_every_row_error_names_its_row_column_and_value(world):
    rows = [
        order_row("PO-1"),
        order_row("PO-2", requested_pickup_on="31/02/2026"),
        order_row("PO-3", gross_weight_kg="-5"),
        order_row("PO-4", customer="NOPE"),
        order_row("PO-5", consignee_name="<script>alert(1)</script>", origin="XXZZZ"),
    ]
    job = import_file(world["ops"], csv_bytes(rows))
    assert job.status == ImportStatus.CHECKED
    assert (job.orders_valid, job.orders_invalid) == (1, 4)
    found = {(e.row, e.column, e.value) for e in job.errors.all()}
    assert (3, "requested_pickup_on", "31/02/2026") in found
    assert (4, "gross_weight_kg", "-5") in found
    assert (5, "customer_code", "NOPE") in found
    assert (6, "origin", "XXZZZ") in found
    messages = {(e.row, e.column): e.message for e in job.errors.all()}
    assert messages[(4, "gross_weight_kg")] == "Must be greater than zero."  # the intake layer's own words
    assert messages[(5, "customer_code")] == "There is no customer with code NOPE."


def test_a_line_error_lands_on_the_row_that_carried_the_line(world):
    second_line = {"customer_code": "ACME", "customer_reference": "PO-1", "pieces": "1", "gross_weight_kg": "1"}
    rows = [order_row("PO-1"), second_line, {**second_line, "pieces": "abc"}]
    job = import_file(world["ops"], csv_bytes(rows))
    assert errors_of(job) == [(4, "pieces", "abc is not a whole number.")]


def test_conflicting_order_values_in_rows_of_one_order_name_both_rows(world):
    rows = [order_row("PO-1"), order_row("PO-1", consignee_name="Someone Else Ltd")]
    job = import_file(world["ops"], csv_bytes(rows))
    assert job.orders_invalid == 1
    ((row, column, message),) = errors_of(job)
    assert (row, column) == (3, "consignee_name")
    assert "Rows 2 and 3" in message
    assert "Someone Else Ltd" in message


def test_a_blank_customer_code_on_an_orders_first_row_makes_that_row_a_line_of_the_order(world):
    """A later row of an order could leave customer_code blank, but the first could not: ("", PO-1, Pumps) above
    (ACME, PO-1, Valves) was an order of its own ("customer_code: This field is required"), the file was said to
    hold 2 orders, "valid orders only" created PO-1 with Valves alone, and the corrected file then found PO-1 a
    duplicate: the Pumps line could never be imported. The reference names one order in the file: its line."""
    rows = [{**order_row("PO-1", description="Pumps"), "customer_code": ""}, order_row("PO-1", description="Valves")]
    job = import_file(world["ops"], csv_bytes(rows))
    assert (job.orders_total, job.orders_valid) == (1, 1), errors_of(job)

    _confirm(job, world["ops"], mode="valid_only")

    order = Order.objects.get(customer_reference="PO-1")
    assert order.customer == world["acme"]
    assert list(order.lines.order_by("line_no").values_list("description", flat=True)) == ["Pumps", "Valves"]


def test_a_blank_customer_code_before_the_orders_of_two_customers_with_its_reference_holds_back_all_of_them(world):
    """Two customers may use one reference. A row naming it without a customer before any of their rows could be
    a line of either order: importing both without it would lose it for good, so neither is imported (the other
    orders of the file are), and each of the three rows says why."""
    rows = [
        {**order_row("PO-7", description="Spare parts"), "customer_code": ""},
        order_row("PO-7", description="Pumps"),
        order_row("PO-7", customer="GLOBEX", description="Valves"),
        order_row("PO-8"),
    ]
    job = _confirm(import_file(world["ops"], csv_bytes(rows)), world["ops"], mode="valid_only")

    assert list(Order.objects.values_list("customer_reference", flat=True)) == ["PO-8"]
    errors = errors_of(job)
    assert [(row, column) for row, column, _ in errors] == [(2, "customer_code"), (3, "customer_code"),
                                                            (4, "customer_code")]  # fmt: skip
    assert "this file has order PO-7 for ACME and GLOBEX" in errors[0][2]
    assert "Order PO-7 is also named without a customer_code (row 2)" in errors[1][2]


def test_a_blank_customer_code_after_a_row_of_its_reference_stays_with_that_rows_order(world):
    """Merged customer cells: a blank code below ACME's PO-7 is ACME's line, even when GLOBEX has a PO-7 too."""
    rows = [
        order_row("PO-7", description="Pumps"),
        {**order_row("PO-7", description="Spare parts"), "customer_code": ""},
        order_row("PO-7", customer="GLOBEX", description="Valves"),
    ]
    job = _confirm(import_file(world["ops"], csv_bytes(rows)), world["ops"])
    assert job.orders_created == 2, errors_of(job)
    assert Order.objects.get(customer=world["acme"]).lines.count() == 2


def test_a_customer_file_may_leave_customer_code_blank_on_any_row(world, customer_a_user):
    """In a customer's own file the customer is implied: a blank code names it, on the first row as on the others."""
    rows = [{**order_row("PO-1", description="Pumps"), "customer_code": ""}, order_row("PO-1", description="Valves")]
    job = _confirm(import_file(customer_a_user, csv_bytes(rows)), customer_a_user)
    assert (job.status, job.orders_created) == (ImportStatus.IMPORTED, 1), errors_of(job)
    assert Order.objects.get().lines.count() == 2


def test_the_same_un_locode_written_with_its_space_is_no_conflict(world):
    """UN/LOCODEs are published and often written with a space ("DE FRA"); intake reads it as DEFRA, but the
    order-column check compared the texts: "DEFRA" on one row and "DE FRA" on the next was "different origin"."""
    rows = [order_row("PO-1", description="Pumps"), order_row("PO-1", origin="de fra", description="Valves")]
    job = import_file(world["ops"], csv_bytes(rows))
    assert (job.orders_valid, job.orders_invalid) == (1, 0), errors_of(job)


@pytest.mark.parametrize(
    ("column", "first", "later"),
    [
        ("declared_value", "1000", "1000.00"),  # a number cell shown with two decimals on one row only
        ("declared_value", "1000.5", "1000,50"),  # a decimal comma
        ("requested_pickup_on", "2026-12-01", "01.12.2026"),  # a German Excel's date
        ("requested_pickup_on", "2026-12-01", "2026-12-01 00:00:00"),  # a date cell with its time
    ],
)
def test_the_same_value_written_another_way_on_a_later_row_is_no_conflict(world, column, first, later):
    """1000 and 1000.00 EUR are one amount, and 2026-12-01 and 01.12.2026 one day, as intake reads them; the rows
    of one order giving them were refused as "different declared_value"."""
    columns = [*COLUMNS, "declared_value", "currency"]
    same = {"currency": "EUR", "declared_value": "1000"}
    rows = [
        order_row("PO-1", description="Pumps", **{**same, column: first}),
        order_row("PO-1", description="Valves", **{**same, column: later}),
    ]
    job = import_file(world["ops"], csv_bytes(rows, columns=columns))
    assert (job.orders_valid, job.orders_invalid) == (1, 0), errors_of(job)


@pytest.mark.parametrize(
    ("currency", "first", "later"),
    [
        ("JPY", "150", "150.000"),  # intake refuses 150.000 yen: it may be 150,000
        ("EUR", "1000", "1000.01"),
        ("EUR", "0", "0.00"),  # not a declared value intake accepts, however written
    ],
)
def test_amounts_that_are_not_one_value_as_intake_reads_them_are_still_a_conflict(world, currency, first, later):
    columns = [*COLUMNS, "declared_value", "currency"]
    rows = [
        order_row("PO-1", description="Pumps", currency=currency, declared_value=first),
        order_row("PO-1", description="Valves", currency=currency, declared_value=later),
    ]
    job = import_file(world["ops"], csv_bytes(rows, columns=columns))
    assert (3, "declared_value") in [(row, column) for row, column, _ in errors_of(job)]


def test_the_preview_has_no_side_effects(world):
    received = []
    events.order_created.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="test-preview")
    try:
        before = _sequence_value()
        job = import_file(world["ops"], csv_bytes([order_row("PO-1"), order_row("PO-2")]))
    finally:
        events.order_created.disconnect(dispatch_uid="test-preview")
    assert job.status == ImportStatus.CHECKED
    assert job.orders_valid == 2
    assert Order.objects.count() == 0
    assert CargoLine.objects.count() == 0
    assert OrderEvent.objects.count() == 0
    assert OrderTransition.objects.count() == 0
    assert _sequence_value() == before  # no reference issued
    assert received == []
    assert [p["customer_reference"] for p in job.preview] == ["PO-1", "PO-2"]


def test_all_or_nothing_imports_nothing_when_one_order_has_an_error(world):
    job = import_file(world["ops"], csv_bytes([order_row("PO-1"), order_row("PO-2", pieces="0")]))
    job = _confirm(job, world["ops"], mode="all_or_nothing")
    assert job.status == ImportStatus.FAILED
    assert Order.objects.count() == 0
    assert errors_of(job) == [(3, "pieces", "Must be at least 1.")]


def test_valid_only_imports_the_valid_orders_and_reports_the_rest(world):
    job = import_file(world["ops"], csv_bytes([order_row("PO-1"), order_row("PO-2", pieces="0")]))
    job = _confirm(job, world["ops"], mode="valid_only")
    assert job.status == ImportStatus.IMPORTED
    assert (job.orders_created, job.orders_invalid) == (1, 1)
    assert list(Order.objects.values_list("customer_reference", flat=True)) == ["PO-1"]
    assert errors_of(job) == [(3, "pieces", "Must be at least 1.")]


def test_an_existing_order_is_reported_as_duplicate_and_left_unchanged(world):
    first = _confirm(import_file(world["ops"], csv_bytes([order_row("PO-1")])), world["ops"])
    existing = Order.objects.get()
    job = import_file(world["ops"], csv_bytes([order_row("PO-1", consignee_name="Changed"), order_row("PO-2")]))
    assert (job.orders_valid, job.orders_duplicate, job.orders_invalid) == (1, 1, 0)
    duplicate = job.errors.get()
    assert duplicate.is_duplicate
    assert duplicate.row == 2
    assert existing.reference in duplicate.message
    assert "a file never changes an existing order" in duplicate.message
    job = _confirm(job, world["ops"])
    assert job.orders_created == 1
    existing.refresh_from_db()
    assert existing.consignee_name == "Great Lakes Supply Co."
    assert first.orders_created == 1


def test_uploading_the_same_corrected_file_twice_creates_its_orders_once(world):
    content = csv_bytes([order_row("PO-1"), order_row("PO-2"), order_row("PO-3", customer="GLOBEX")])
    _confirm(import_file(world["ops"], content), world["ops"])
    second = import_file(world["ops"], content)
    assert (second.orders_valid, second.orders_duplicate) == (0, 3)
    with pytest.raises(service.ImportStateError, match="no new valid orders"):
        _confirm(second, world["ops"])
    assert Order.objects.count() == 3


def test_confirming_twice_imports_once(world):
    job = import_file(world["ops"], csv_bytes([order_row("PO-1")]))
    _confirm(job, world["ops"])
    again = _confirm(job, world["ops"])
    assert again.status == ImportStatus.IMPORTED
    assert again.orders_created == 1
    assert Order.objects.count() == 1


def test_imported_orders_are_submitted_with_the_same_history_as_order_create(world):
    from orders import services

    ops = world["ops"]
    scope = scope_for_user(ops)
    data = {k: v for k, v in order_row("SINGLE").items() if k not in ("pieces", "gross_weight_kg")}
    data["lines"] = [{"pieces": "2", "gross_weight_kg": "120.5", "description": "Medical instruments"}]
    single = services.order_create(data=data, scope=scope, channel=Channel.FILE, by=ops, submit=True)
    job = _confirm(import_file(ops, csv_bytes([order_row("BULK")])), ops)
    bulk = Order.objects.get(customer_reference="BULK")

    def history(order: Order) -> list[tuple]:
        return [
            (e.pgh_label, e.status, e.submitted_at is None, e.pgh_context.metadata.get("user"),
             e.pgh_context.metadata.get("channel"), e.pgh_context.metadata.get("transition"))
            for e in OrderEvent.objects.filter(pgh_obj_id=order.pk).select_related("pgh_context").order_by("pgh_id")
        ]  # fmt: skip

    assert (
        history(bulk)
        == history(single)
        == [
            ("insert", "draft", True, ops.pk, "file", "submit"),
            ("update", "submitted", False, ops.pk, "file", "submit"),
        ]
    )
    for order in (single, bulk):
        order.refresh_from_db()
        transition = order.transitions.get()
        seen = (order.status, transition.name, transition.source, transition.target, transition.by_id)
        assert seen == (OrderStatus.SUBMITTED, "submit", "draft", "submitted", ops.pk)
        assert transition.channel == "file"
        assert order.submitted_at is not None
        assert order.channel == Channel.FILE
        assert order.created_by_id == ops.pk
    assert bulk.search_text.startswith(bulk.reference + " BULK ACME")
    line_event = bulk.lines.get().pk
    assert OrderEvent.objects.filter(pgh_obj_id=bulk.pk).first().pgh_context.metadata["import_job"] == str(job.pk)
    from orders.models import CargoLineEvent

    assert CargoLineEvent.objects.filter(pgh_obj_id=line_event, pgh_label="insert").count() == 1


def test_a_colleague_who_confirms_an_upload_creates_its_orders_with_their_own_name_and_rights(world, sales_user):
    """The uploader is named on the job; the orders, their transition and their history name whoever confirmed."""
    ops = world["ops"]
    job = import_file(ops, csv_bytes([order_row("PO-1")]))
    job = service.import_job_confirm(job=job, by=sales_user, mode="all_or_nothing")
    assert job.status == ImportStatus.IMPORTED, job.file_error
    assert (job.created_by_id, job.confirmed_by_id) == (ops.pk, sales_user.pk)
    order = Order.objects.get(customer_reference="PO-1")
    assert order.created_by_id == sales_user.pk
    assert order.transitions.get().by_id == sales_user.pk
    users = {event.pgh_context.metadata.get("user") for event in OrderEvent.objects.filter(pgh_obj_id=order.pk)}
    assert users == {sales_user.pk}


def test_a_confirmer_without_the_right_to_import_creates_nothing(world, customer_b_user):
    """Rights are the confirmer's: a file checked under staff rights is re-checked under the confirmer's."""
    job = import_file(world["ops"], csv_bytes([order_row("PO-1", customer="ACME")]))
    job = service.import_job_confirm(job=job, by=customer_b_user, mode="all_or_nothing")
    assert job.status == ImportStatus.FAILED
    assert Order.objects.count() == 0


def test_one_cell_that_breaks_one_rule_is_one_error(world):
    """A file's order description is its first line's: intake checks the one cell as both, and reports it once."""
    job = import_file(world["ops"], csv_bytes([order_row("PO-1", description="x" * 301)]))
    assert errors_of(job) == [(2, "description", "Use at most 300 characters (this value has 301).")]
    assert job.error_count == 1


def test_events_are_sent_after_commit_for_each_created_order(world, eager_celery, django_capture_on_commit_callbacks):
    created, changed = [], []
    events.order_created.connect(lambda **kw: created.append(kw["order_id"]), weak=False, dispatch_uid="t-created")
    events.order_status_changed.connect(lambda **kw: changed.append(kw), weak=False, dispatch_uid="t-changed")
    try:
        job = import_file(world["ops"], csv_bytes([order_row("PO-1"), order_row("PO-2")]))
        with django_capture_on_commit_callbacks(execute=True):
            _confirm(job, world["ops"])
    finally:
        events.order_created.disconnect(dispatch_uid="t-created")
        events.order_status_changed.disconnect(dispatch_uid="t-changed")
    assert sorted(created) == sorted(Order.objects.values_list("pk", flat=True))
    assert {(c["transition"], c["source"], c["target"], c["channel"]) for c in changed} == {
        ("submit", "draft", "submitted", "file")
    }
    assert {c["transition_id"] for c in changed} == set(OrderTransition.objects.values_list("pk", flat=True))


def test_a_customer_imports_only_its_own_orders(world, customer_a_user):
    content = csv_bytes([order_row("PO-1", customer="ACME"), order_row("PO-2", customer="GLOBEX")])
    job = import_file(customer_a_user, content)
    assert job.customer == world["acme"]
    assert errors_of(job) == [(3, "customer_code", "You can only place orders for ACME.")]


def test_a_customer_file_may_leave_out_customer_code(world, customer_a_user):
    columns = ["customer_reference", "mode", "incoterm", "origin", "destination", "shipper_name", "consignee_name",
               "pieces", "gross_weight_kg", "description", "requested_pickup_on"]  # fmt: skip
    job = _confirm(import_file(customer_a_user, csv_bytes([order_row("PO-1")], columns=columns)), customer_a_user)
    assert job.status == ImportStatus.IMPORTED
    assert Order.objects.get().customer == world["acme"]


def test_a_customer_may_not_choose_the_branch(world, customer_a_user):
    rows = [{**order_row(), "branch_code": "HAM"}]
    job = import_file(customer_a_user, csv_bytes(rows, columns=[*list(rows[0])]))
    assert job.status == ImportStatus.REJECTED
    assert "branch_code cannot be set" in job.file_error


def test_the_task_is_safe_to_run_twice(world, settings, django_capture_on_commit_callbacks):
    from orders import tasks

    settings.OMS_IMPORT_INLINE_MAX_BYTES = 0  # everything goes to the worker
    with django_capture_on_commit_callbacks(execute=False) as queued:
        job = import_file(world["ops"], csv_bytes([order_row("PO-1"), order_row("PO-2")]))
    assert job.status == ImportStatus.PENDING
    assert len(queued) == 1
    tasks.process_order_import(str(job.pk))
    tasks.process_order_import(str(job.pk))
    job.refresh_from_db()
    assert job.status == ImportStatus.CHECKED
    assert job.orders_valid == 2
    with django_capture_on_commit_callbacks(execute=False):
        job = _confirm(job, world["ops"])
    assert job.status == ImportStatus.QUEUED
    tasks.process_order_import(str(job.pk))
    tasks.process_order_import(str(job.pk))
    job.refresh_from_db()
    assert (job.status, job.orders_created) == (ImportStatus.IMPORTED, 2)
    assert Order.objects.count() == 2


def test_a_rerun_after_an_interrupted_import_counts_the_jobs_own_orders(world):
    job = import_file(world["ops"], csv_bytes([order_row("PO-1"), order_row("PO-2")]))
    job = _confirm(job, world["ops"])
    # The worker died after committing but before recording the outcome: the job is still "importing".
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.IMPORTING)
    service.import_job_process(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.orders_created, job.orders_duplicate) == (ImportStatus.IMPORTED, 2, 0)
    assert Order.objects.count() == 2


def test_a_running_job_is_left_to_the_run_that_holds_it(world, transactional_db):
    import threading

    job = import_file(world["ops"], csv_bytes([order_row("PO-1")]))
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.QUEUED)

    def other_worker() -> None:
        try:
            service.import_job_process(job_id=job.pk)
        finally:
            connection.close()

    with service._exclusive(job.pk) as mine:  # this run holds the job
        assert mine
        thread = threading.Thread(target=other_worker)
        thread.start()
        thread.join(10)
    job.refresh_from_db()
    assert job.status == ImportStatus.QUEUED  # the other run saw the lock and left the job alone
    assert Order.objects.count() == 0
    other_worker_after_release = threading.Thread(target=other_worker)
    other_worker_after_release.start()
    other_worker_after_release.join(10)
    job.refresh_from_db()
    assert job.status == ImportStatus.IMPORTED


def test_a_file_error_found_at_import_time_rejects_the_job(world):
    job = import_file(world["ops"], csv_bytes([order_row("PO-1")]))
    with job.file.open("wb") as handle:  # the stored file was damaged since the check
        handle.write(b"\x89PNG\r\n")
    ImportJob.objects.filter(pk=job.pk).update(file_size=6)
    job = _confirm(ImportJob.objects.get(pk=job.pk), world["ops"])
    assert job.status == ImportStatus.REJECTED
    assert Order.objects.count() == 0


def test_two_concurrent_imports_of_one_file_create_its_orders_once(world, transactional_db):
    import threading

    from django.db import transaction

    content = csv_bytes([order_row("PO-1"), order_row("PO-2"), order_row("PO-3")])
    job_a, job_b = import_file(world["ops"], content), import_file(world["ops"], content)
    assert job_a.orders_valid == job_b.orders_valid == 3  # both checks saw no duplicates
    a_inserted, release_a, failures = threading.Event(), threading.Event(), []

    def confirm_a() -> None:
        try:
            with transaction.atomic():  # A's orders stay uncommitted until B is blocked on them
                _confirm(job_a, world["ops"])
                a_inserted.set()
                release_a.wait(10)
        except Exception as exc:
            failures.append(exc)
        finally:
            connection.close()

    def confirm_b() -> None:
        try:
            _confirm(job_b, world["ops"])
        except Exception as exc:
            failures.append(exc)
        finally:
            connection.close()

    thread_a = threading.Thread(target=confirm_a)
    thread_a.start()
    assert a_inserted.wait(10)
    thread_b = threading.Thread(target=confirm_b)
    thread_b.start()
    thread_b.join(1.0)
    assert thread_b.is_alive()  # B waits on the unique index entries A holds
    release_a.set()
    thread_a.join(10)
    thread_b.join(10)
    assert failures == []
    job_a.refresh_from_db()
    job_b.refresh_from_db()
    assert Order.objects.count() == 3
    assert (job_a.orders_created, job_b.orders_created, job_b.orders_duplicate) == (3, 0, 3)
    assert job_b.status == ImportStatus.IMPORTED
    assert all(error.is_duplicate for error in job_b.errors.all())


def test_the_done_when_story_mistakes_then_corrected_file_then_the_same_file_again(world):
    """Windows-1252, semicolons and decimal commas, as Excel saves them in much of Europe."""
    from tests.orders.fixtures.imports import HERE

    ops = world["ops"]
    draft = import_file(ops, (HERE / "orders_with_mistakes.csv").read_bytes(), name="orders_with_mistakes.csv")
    assert (draft.encoding, draft.delimiter) == ("cp1252", ";")
    assert {(row, column) for row, column, _message in errors_of(draft)} == {
        (6, "incoterm"), (6, "gross_weight_kg"), (6, "requested_pickup_on"),  # PO-48-103
        (7, "consignee_name"),  # contradicts row 2 of PO-48-101
        (8, "customer_code"),  # NOPE
        (9, "destination"), (9, "container_number"),  # GX-7783
    }  # fmt: skip
    assert (draft.orders_valid, draft.orders_invalid) == (2, 4)
    corrected = (HERE / "orders_corrected.csv").read_bytes()
    first = _confirm(import_file(ops, corrected, name="orders_corrected.csv"), ops)
    assert (first.status, first.orders_created) == (ImportStatus.IMPORTED, 5)
    assert Order.objects.get(customer_reference="PO-48-102").consignee_name == "Müller Medizintechnik"
    assert Order.objects.get(customer_reference="PO-48-101").lines.count() == 3
    again = import_file(ops, corrected, name="orders_corrected.csv")
    assert (again.orders_valid, again.orders_duplicate) == (0, 5)
    assert Order.objects.count() == 5


def test_a_reference_longer_than_its_column_is_an_error_never_cut(world):
    long_a, long_b = "R" * 64 + "-A", "R" * 64 + "-B"  # the same first 64 characters
    job = import_file(world["ops"], csv_bytes([order_row(long_a), order_row(long_b), order_row("R" * 64)]))
    assert errors_of(job) == [
        (2, "customer_reference", "Use at most 64 characters (this value has 66)."),
        (3, "customer_reference", "Use at most 64 characters (this value has 66)."),
    ]
    assert job.orders_valid == 1  # 64 characters fit


def test_a_date_with_trailing_characters_is_an_error(world):
    rows = [
        order_row("PO-1", requested_pickup_on="2026-12-015"),
        order_row("PO-2", requested_pickup_on="2026-12-01 08:30"),
    ]
    job = import_file(world["ops"], csv_bytes(rows))
    assert errors_of(job) == [(2, "requested_pickup_on", "2026-12-015 is not a date: use YYYY-MM-DD, e.g. 2026-12-01.")]


def _deadlock(**kwargs):
    import psycopg
    from django.db import OperationalError

    try:
        raise psycopg.errors.DeadlockDetected("deadlock detected")
    except psycopg.errors.DeadlockDetected as exc:
        raise OperationalError("deadlock detected") from exc


def test_a_transient_error_in_the_request_hands_the_job_to_the_worker(
    world, monkeypatch, django_capture_on_commit_callbacks
):
    from orders import bulk, tasks

    job = import_file(world["ops"], csv_bytes([order_row("PO-1")]))
    real = bulk.orders_bulk_create
    monkeypatch.setattr(bulk, "orders_bulk_create", _deadlock)
    queued: list[Any] = []
    monkeypatch.setattr(tasks.process_order_import, "delay_on_commit", queued.append)
    job = _confirm(job, world["ops"])  # no exception reaches the request
    assert job.status == ImportStatus.IMPORTING  # the page keeps polling
    assert queued == [str(job.pk)]
    monkeypatch.setattr(bulk, "orders_bulk_create", real)
    tasks.process_order_import(queued[0])  # what the worker runs
    job.refresh_from_db()
    assert (job.status, job.orders_created) == (ImportStatus.IMPORTED, 1)


def test_a_job_whose_retries_run_out_is_marked_not_imported(world, monkeypatch, settings):
    from orders import bulk, tasks

    settings.OMS_IMPORT_INLINE_MAX_BYTES = 0  # every file goes to the worker
    settings.CELERY_TASK_ALWAYS_EAGER = True
    job = import_file(world["ops"], csv_bytes([order_row("PO-1")]))
    job.refresh_from_db()
    monkeypatch.setattr(bulk, "orders_bulk_create", _deadlock)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.QUEUED)
    task = tasks.process_order_import
    with pytest.raises(service.TransientImportError):
        task.apply(args=[str(job.pk)], retries=task.max_retries, throw=True)
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert "nothing was imported" in job.file_error
    assert Order.objects.count() == 0


def test_stalled_jobs_are_queued_again_and_finish(world, monkeypatch, settings):
    import datetime

    from django.utils import timezone

    from orders import tasks

    job = import_file(world["ops"], csv_bytes([order_row("PO-1")]))
    fresh = import_file(world["ops"], csv_bytes([order_row("PO-2")]))
    ImportJob.objects.filter(pk__in=[job.pk, fresh.pk]).update(status=ImportStatus.IMPORTING)
    ImportJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - datetime.timedelta(minutes=20))
    queued: list[Any] = []
    monkeypatch.setattr(tasks.process_order_import, "delay", queued.append)
    assert "orders.tasks.requeue_stalled_imports" in {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert tasks.requeue_stalled_imports() == 1
    assert queued == [str(job.pk)]
    assert tasks.requeue_stalled_imports() == 0  # queued once per stall, not on every run
    service.import_job_process(job_id=job.pk)  # what the worker runs: the import resumes
    job.refresh_from_db()
    assert (job.status, job.orders_created) == (ImportStatus.IMPORTED, 1)


def test_an_upload_cancelled_while_the_worker_starts_stays_cancelled(world, settings):
    settings.OMS_IMPORT_INLINE_MAX_BYTES = 0  # checked by the worker
    job = import_file(world["ops"], csv_bytes([order_row("PO-1")]))
    worker_view = ImportJob.objects.get(pk=job.pk)  # the worker has read the job: still pending
    assert worker_view.status == ImportStatus.PENDING
    service.import_job_cancel(job=job)  # the user cancels in that moment
    writes._check_job(worker_view)  # the worker goes on with what it read
    job.refresh_from_db()
    assert (job.status, job.orders_total) == (ImportStatus.CANCELLED, 0)


def test_a_weight_with_a_thousands_comma_is_an_error_on_its_row_not_a_thousandth(world):
    rows = [
        order_row("PO-1", gross_weight_kg="1,000"),  # 1,000 kg or 1.000 kg: not guessed
        order_row("PO-2", gross_weight_kg="1,000.5"),  # both marks: one thousand and a half
        order_row("PO-3", gross_weight_kg="120,5"),  # a decimal comma
    ]
    job = import_file(world["ops"], csv_bytes(rows))
    assert errors_of(job) == [
        (
            2,
            "gross_weight_kg",
            "1,000 could be 1000 or 1: write it without a thousands separator, with a point for decimals.",
        )
    ]
    job = _confirm(import_file(world["ops"], csv_bytes(rows[1:])), world["ops"])
    assert job.status == ImportStatus.IMPORTED
    weights = {o.customer_reference: o.lines.get().gross_weight_kg for o in Order.objects.all()}
    assert weights == {"PO-2": Decimal("1000.500"), "PO-3": Decimal("120.500")}


def test_every_run_that_ends_counts_itself_out_however_it_ends(world, monkeypatch):
    from orders import bulk

    job = import_file(world["ops"], csv_bytes([order_row("PO-1")]))  # checked: one run, ended
    assert ImportJob.objects.get(pk=job.pk).runs_unfinished == 0
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.QUEUED)
    monkeypatch.setattr(bulk, "orders_bulk_create", _deadlock)
    with pytest.raises(service.TransientImportError):
        service.import_job_process(job_id=job.pk)
    assert ImportJob.objects.get(pk=job.pk).runs_unfinished == 0

    def broken(**_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(bulk, "orders_bulk_create", broken)
    with pytest.raises(RuntimeError):
        service.import_job_process(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.runs_unfinished) == (ImportStatus.FAILED, 0)


def test_a_job_whose_runs_died_three_times_is_given_up_without_reading_its_file(world, monkeypatch):
    job = import_file(world["ops"], csv_bytes([order_row("PO-1")]))
    # Three runs started and never ended: their processes were killed.
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.IMPORTING, runs_unfinished=3)
    monkeypatch.setattr(writes, "check_file", lambda *a, **k: pytest.fail("the file was read again"))
    service.import_job_process(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert job.file_error == (
        "The import stopped 3 times because the process working on it was killed (most often by running out of "
        "memory); nothing was imported. Split the file into smaller files, or ask an administrator to look at the "
        "workers' memory."
    )
    assert Order.objects.count() == 0


def test_two_dead_runs_still_leave_the_job_its_third(world):
    job = import_file(world["ops"], csv_bytes([order_row("PO-1")]))
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.QUEUED, runs_unfinished=2)
    service.import_job_process(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.orders_created, job.runs_unfinished) == (ImportStatus.IMPORTED, 1, 0)


def test_only_dead_runs_in_a_row_count_a_completed_check_clears_them(world, monkeypatch):
    """A check killed twice by deploys, then completed; its import killed once: the next run imports."""

    def a_run_dies(status: str) -> None:  # a run counted itself in, then its process was SIGKILLed
        ImportJob.objects.filter(pk=job.pk).update(status=status, runs_unfinished=F("runs_unfinished") + 1)

    job = import_file(world["ops"], csv_bytes([order_row("PO-1")]))
    a_run_dies(ImportStatus.CHECKING)
    a_run_dies(ImportStatus.CHECKING)
    service.import_job_process(job_id=job.pk)  # the third check run completes
    job.refresh_from_db()
    assert (job.status, job.runs_unfinished) == (ImportStatus.CHECKED, 0)
    monkeypatch.setattr(service, "_dispatch", lambda job: None)  # the worker picks the import up later
    service.import_job_confirm(job=job, by=world["ops"], mode="all_or_nothing")
    a_run_dies(ImportStatus.IMPORTING)
    service.import_job_process(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.file_error, job.orders_created) == (ImportStatus.IMPORTED, "", 1)


def test_in_a_semicolon_file_a_point_before_three_digits_is_not_read_as_a_decimal_point(world):
    """Excel writes semicolons where the comma is the decimal mark; there "1.500" may well be 1,500 kg."""
    rows = [order_row("PO-1", gross_weight_kg="1.500", volume_m3="28,5"), order_row("PO-2", gross_weight_kg="1500,5")]
    job = import_file(world["ops"], csv_bytes(rows, delimiter=";"))
    assert errors_of(job) == [
        (
            2,
            "gross_weight_kg",
            "1.500 could be 1500 or 1.5: write it without a thousands separator, with a point for decimals.",
        )
    ]
    comma_file = import_file(world["ops"], csv_bytes([order_row("PO-3", gross_weight_kg="1.500")]))
    assert errors_of(comma_file) == []  # written with commas: the point is the decimal point


@pytest.mark.django_db(transaction=True)
def test_a_broker_outage_after_the_commit_leaves_the_import_imported(world, monkeypatch):
    """The orders are committed, then their events go to the broker, which is down: the job stays imported,
    the person gets no error, and the submits are in the transitions queue for the workflow's sweep."""
    from kombu.exceptions import OperationalError as BrokerError

    from orders import tasks
    from orders.models import QueuedTransition

    job = import_file(world["ops"], csv_bytes([order_row("PO-1"), order_row("PO-2")]))

    def broker_down(*args, **kwargs):
        raise BrokerError("Error 111 connecting to redis:6379. Connection refused.")

    from orders import bulk

    warned = []  # the logger itself: another test's logging setup may stop it propagating to caplog
    monkeypatch.setattr(bulk.logger, "warning", lambda message, *args, **kwargs: warned.append(message % args))
    monkeypatch.setattr(tasks.send_order_created_events, "delay", broker_down)
    job = service.import_job_confirm(job=job, by=world["ops"], mode=job.mode)
    assert (job.status, job.orders_created, job.file_error) == (ImportStatus.IMPORTED, 2, "")
    assert Order.objects.count() == 2
    assert QueuedTransition.objects.count() == 2
    assert [message.split(";")[0] for message in warned] == ["Could not queue the events of 2 created orders"]


def test_an_error_after_the_job_ended_does_not_rewrite_its_outcome(world):
    job = import_file(world["ops"], csv_bytes([order_row("PO-1")]))
    job = _confirm(job, world["ops"])
    assert job.status == ImportStatus.IMPORTED
    try:
        raise RuntimeError("an on-commit callback failed")
    except RuntimeError:
        service._fail(job)
    job.refresh_from_db()
    assert (job.status, job.file_error) == (ImportStatus.IMPORTED, "")


def test_an_error_file_cut_at_the_stored_limit_says_how_many_errors_it_leaves_out(world, settings):
    import csv
    import io

    settings.OMS_IMPORT_MAX_STORED_ERRORS = 3
    job = import_file(world["ops"], csv_bytes([order_row(f"PO-{n}", pieces="0") for n in range(6)]))
    assert job.error_count == 6
    lines = list(csv.reader(io.StringIO("".join(selectors.import_job_error_file(job)).lstrip("\ufeff"))))
    assert len(lines) == 1 + 3 + 1
    assert lines[-1] == [
        "", "", "",
        "3 more errors were found and not kept; only the first 3 are listed. Correct these and check the file "
        "again to see the rest.",
        "", "note",
    ]  # fmt: skip


# --- Whose rights a confirmed file is imported with, once that person is gone --------------------------


def _confirmed_then_queued(world, confirmer, settings) -> ImportJob:
    job = import_file(world["ops"], csv_bytes([order_row("PO-1")]))
    assert job.status == ImportStatus.CHECKED
    settings.OMS_IMPORT_INLINE_MAX_BYTES = 0  # the confirmed import waits for the worker
    job = service.import_job_confirm(job=job, by=confirmer, mode="all_or_nothing")
    assert (job.status, job.confirmed_by_id) == (ImportStatus.QUEUED, confirmer.pk)
    return job


def test_a_confirmer_deactivated_before_the_worker_runs_imports_nothing(world, sales_user, settings):
    job = _confirmed_then_queued(world, sales_user, settings)
    sales_user.is_active = False
    sales_user.save(update_fields=["is_active"])
    service.import_job_process(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ImportStatus.REJECTED  # passes: the confirmer's rights are gone, nothing is imported
    assert Order.objects.count() == 0


def test_a_confirmer_deleted_before_the_worker_runs_does_not_hand_the_import_to_the_uploader(
    world, sales_user, settings
):
    job = _confirmed_then_queued(world, sales_user, settings)
    sales_user.delete()  # ImportJob.confirmed_by is SET_NULL: confirmed_at stays, confirmed_by_id becomes None
    job.refresh_from_db()
    assert job.confirmed_at is not None
    assert job.confirmed_by_id is None
    service.import_job_process(job_id=job.pk)
    job.refresh_from_db()
    # The uploader (ops) never confirmed this file: no order may be created in their name or with their rights.
    assert not Order.objects.filter(created_by=world["ops"]).exists(), (
        f"job {job.status}: {Order.objects.count()} order(s) created by the uploader {world['ops']}, "
        "who did not confirm the file"
    )


def test_a_workbooks_progress_only_moves_forward(world, monkeypatch):
    """Review E, 5: a workbook is first copied row by row ("reading the workbook: 3,000 rows"), then checked. The
    check set rows_total while rows_done still held the copy's count: the bar showed 100 %, then fell back to 33 %."""
    import io

    import openpyxl

    from tests.orders.fixtures.imports import COLUMNS

    monkeypatch.setattr(check, "PROGRESS_EVERY_S", 0)  # every step, as a long file does every half second
    shown: list[int] = []
    original_set = check._set

    def recording_set(job: ImportJob, **values: Any) -> None:
        original_set(job, **values)
        stored = ImportJob.objects.get(pk=job.pk)
        if stored.is_running and stored.rows_total:  # what the polled progress card shows as its percentage
            shown.append(stored.progress_percent)

    monkeypatch.setattr(check, "_set", recording_set)
    workbook = openpyxl.Workbook()
    workbook.active.append(COLUMNS)
    for number in range(3000):
        workbook.active.append([order_row(f"PO-{number:05d}")[name] for name in COLUMNS])
    content = io.BytesIO()
    workbook.save(content)

    job = import_file(world["ops"], content.getvalue(), name="week-50.xlsx")

    assert job.status == ImportStatus.CHECKED
    assert shown[0] == 0
    assert shown == sorted(shown), f"the progress bar went backwards: {shown}"


def test_the_import_tells_the_page_every_row_is_checked_before_it_saves_the_orders(world, monkeypatch):
    """Acceptance walk (h3): a 100,000-row import showed "Checking the rows once more, then importing 98,821 of
    100,000 rows · 99%" for the nine seconds its 44,539 orders took to save, and never "Saving the orders". The check
    wrote its progress only when half a second had passed since the last, so the rows of its last batches were never
    counted, and the page's "Saving" state (rows_done = rows_total) was never reached."""
    monkeypatch.setattr(check, "PROGRESS_EVERY_S", 3600)  # no batch reaches the interval, as a file's last ones do not
    job = import_file(
        world["ops"], csv_bytes([order_row("PO-1"), order_row("PO-1", description="Spares"), order_row("PO-2")])
    )
    seen_when_saving: list[tuple[str, int, int]] = []
    real_create = writes.bulk.orders_bulk_create

    def watching_create(**kwargs: Any) -> Any:
        stored = ImportJob.objects.get(pk=job.pk)  # what the polled progress card reads while the orders are saved
        seen_when_saving.append((stored.status, stored.rows_done, stored.rows_total))
        return real_create(**kwargs)

    monkeypatch.setattr(writes.bulk, "orders_bulk_create", watching_create)
    job = _confirm(job, world["ops"])

    assert job.status == ImportStatus.IMPORTED
    assert seen_when_saving == [(ImportStatus.IMPORTING, 3, 3)]


def test_an_order_whose_rows_all_leave_the_order_columns_blank_gets_one_error_saying_why(world):
    """Acceptance walk (h3): the first row of order PO-2 was given another reference by mistake, so PO-2's second row
    stood alone, its order columns blank as a later row's are. It was told "This field is required." eight times,
    once per order column, and nothing pointed at the row whose reference was wrong."""
    later_row = {"customer_reference": "PO-2", "pieces": "3", "gross_weight_kg": "50", "description": "Spare parts"}
    job = import_file(world["ops"], csv_bytes([order_row("PO-1"), order_row("PO-9"), later_row]))

    assert errors_of(job) == [
        (
            4,
            "customer_reference",
            "Order PO-2 has none of its order columns filled in (customer_code, mode, incoterm, origin, destination, "
            "shipper_name, consignee_name, requested_pickup_on): its rows read as the later lines of an order. If the "
            "order's first row is in this file, its customer_reference differs from PO-2; otherwise fill in the order "
            "columns on row 4.",
        )
    ]
    assert (job.orders_valid, job.orders_invalid) == (2, 1)


def test_an_order_missing_only_some_order_columns_is_told_each_one(world):
    job = import_file(world["ops"], csv_bytes([order_row("PO-1", mode="", incoterm="")]))
    assert errors_of(job) == [(2, "mode", "This field is required."), (2, "incoterm", "This field is required.")]
