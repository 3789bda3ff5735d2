"""Milestone files (CSV/XLSX) by operations and partners: row-level errors like the order import,
all-or-nothing unless asked otherwise, a partner reaching only the shipments it carries, and a re-uploaded row
correcting the time its source recorded."""

import datetime
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from orders.models import OrderStatus
from partners import services as partner_services
from partners.models import Role
from tests.factories import UserFactory
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import BILL, CONTAINER, ETD
from tracking.ingest import files, mapping, selectors
from tracking.ingest.models import EventUpload, TrackingEvent
from tracking.leg_history import leg_history_for
from tracking.models import LegRole

WHEN = ETD.strftime("%Y-%m-%d %H:%M")


def csv_file(*rows, header="reference,reference_type,milestone,occurred_at,classifier,location,note"):
    text = "\r\n".join([header, *rows]) + "\r\n"
    return SimpleUploadedFile("milestones.csv", text.encode(), content_type="text/csv")


def upload(client, file, **extra):
    return client.post("/tracking/uploads/", {"file": file, "time_zone": "UTC", **extra})


@pytest.fixture
def maersk_user(ocean_carriers):
    user = UserFactory(email="desk@maersk.test")
    partner_services.membership_grant(user=user, organisation=ocean_carriers[0], role=Role.PARTNER)
    return user


@pytest.fixture
def hapag_user(ocean_carriers):
    user = UserFactory(email="desk@hapag.test")
    partner_services.membership_grant(user=user, organisation=ocean_carriers[1], role=Role.PARTNER)
    return user


def test_operations_upload_milestones_and_the_order_follows(login, ops_user, booked_fcl):
    order, _ = booked_fcl
    response = upload(
        login(ops_user),
        csv_file(f"{CONTAINER},container,LOADED,{WHEN},ACT,CNSHA,", f"{BILL},,DEPARTED,{WHEN},ACT,CNSHA,On time"),
    )
    result = EventUpload.objects.get()
    assert response.url == f"/tracking/uploads/{result.pk}/"
    assert (result.rows_total, result.events_stored, result.error_count) == (2, 2, 0)
    assert set(TrackingEvent.objects.values_list("source", "milestone")) == {
        ("file:ops", "LOADED"),
        ("file:ops", "DEPARTED"),
    }
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_TRANSIT


def test_every_problem_is_reported_by_row_and_column_and_nothing_is_recorded(login, ops_user, booked_fcl):
    upload(
        login(ops_user),
        csv_file(
            f"{CONTAINER},container,DEPARTED,{WHEN},ACT,CNSHA,",
            f"{CONTAINER},container,SAILED,{WHEN},ACT,CNSHA,",
            f"{CONTAINER},container,ARRIVED,31/02/2026,ACT,DEHAM,",
            f"MSKU9070323,container,ARRIVED,{WHEN},ACT,DEHAM,",
            f"{CONTAINER},container,DELIVERED,2027-06-01 10:00,ACT,DEHAM,",
            f"{CONTAINER},container,ARRIVED,{WHEN},MAYBE,DEHAM,",
        ),
    )
    result = EventUpload.objects.get()
    assert result.events_stored == 0
    assert not TrackingEvent.objects.exists()
    assert [(e["row"], e["column"]) for e in result.errors] == [
        (3, "milestone"),
        (4, "occurred_at"),
        (5, "reference"),
        (6, "occurred_at"),
        (7, "classifier"),
    ]
    assert "SAILED is not one of our milestones" in result.errors[0]["message"]
    assert "No shipment or order of yours has container number MSKU9070323" in result.errors[2]["message"]
    assert "cannot lie in the future" in result.errors[3]["message"]


def test_a_bad_time_is_quoted_back_as_the_file_wrote_it(login, ops_user, booked_fcl):
    client = login(ops_user)
    upload(client, csv_file(f"{CONTAINER},container,DEPARTED,not a date,ACT,CNSHA,"))
    result = EventUpload.objects.get()
    assert [(e["column"], e["message"]) for e in result.errors] == [
        ("occurred_at", "occurred_at 'not a date' is not an ISO 8601 time.")
    ]
    assert "notTa date" not in client.get(f"/tracking/uploads/{result.pk}/").content.decode()


def test_a_time_with_a_space_for_the_t_is_read(login, ops_user, booked_fcl):
    upload(login(ops_user), csv_file(f"{CONTAINER},container,DEPARTED,{ETD:%Y-%m-%d %H:%M},ACT,CNSHA,"))
    assert TrackingEvent.objects.get(milestone="DEPARTED").event_at == ETD.replace(second=0, microsecond=0)


def test_the_result_page_lists_the_problems(login, ops_user, booked_fcl):
    client = login(ops_user)
    upload(client, csv_file(f"{CONTAINER},container,SAILED,{WHEN},ACT,CNSHA,"))
    html = client.get(f"/tracking/uploads/{EventUpload.objects.get().pk}/").content.decode()
    assert "Nothing was recorded" in html
    assert "SAILED is not one of our milestones" in html


def test_valid_rows_only_records_those_and_lists_the_rest(login, ops_user, booked_fcl):
    upload(
        login(ops_user),
        csv_file(
            f"{CONTAINER},container,DEPARTED,{WHEN},ACT,CNSHA,", f"{CONTAINER},container,SAILED,{WHEN},ACT,CNSHA,"
        ),
        valid_only="on",
    )
    result = EventUpload.objects.get()
    assert (result.events_stored, result.error_count) == (1, 1)


def test_the_same_file_twice_records_nothing_new(login, ops_user, booked_fcl):
    client = login(ops_user)
    upload(client, csv_file(f"{CONTAINER},container,DEPARTED,{WHEN},ACT,CNSHA,"))
    upload(client, csv_file(f"{CONTAINER},container,DEPARTED,{WHEN},ACT,CNSHA,"))
    second = EventUpload.objects.order_by("created_at").last()
    assert (second.events_stored, second.duplicates) == (0, 1)
    assert TrackingEvent.objects.count() == 1


def test_a_partner_records_milestones_for_what_it_carries(login, maersk_user, booked_fcl):
    order, _ = booked_fcl
    response = upload(login(maersk_user), csv_file(f"{CONTAINER},container,DEPARTED,{WHEN},ACT,CNSHA,"))
    assert response.status_code == 302
    assert TrackingEvent.objects.get().source == "file:MAEU"
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_TRANSIT


def test_another_partner_cannot_touch_shipments_it_does_not_carry(login, hapag_user, booked_fcl):
    order, _ = booked_fcl
    upload(login(hapag_user), csv_file(f"{CONTAINER},container,DEPARTED,{WHEN},ACT,CNSHA,"))
    result = EventUpload.objects.get()
    assert result.events_stored == 0
    assert "No shipment or order of yours has container number" in result.errors[0]["message"]
    order.refresh_from_db()
    assert order.status == OrderStatus.PLANNED


def test_a_partner_sees_only_its_own_uploads(login, client, ops_user, maersk_user, hapag_user, booked_fcl):
    upload(login(maersk_user), csv_file(f"{CONTAINER},container,DEPARTED,{WHEN},ACT,CNSHA,"))
    mine = EventUpload.objects.get()
    client.logout()
    assert login(hapag_user).get(f"/tracking/uploads/{mine.pk}/").status_code == 404


@pytest.mark.parametrize("zone", ["Europe", "Europe/Hamburg"])
def test_a_time_zone_that_is_no_zone_is_a_form_error_not_a_500(login, ops_user, booked_fcl, zone):
    client = login(ops_user)
    client.raise_request_exception = False
    response = client.post("/tracking/uploads/", {"file": csv_file(f"{CONTAINER},container,DEPARTED,{WHEN},ACT,,"),
                                                  "time_zone": zone})  # fmt: skip
    assert response.status_code == 200, f"upload gave {response.status_code}"
    assert "is not a time zone name" in response.content.decode()
    assert not TrackingEvent.objects.exists()


def test_customers_may_not_upload_milestones(login, customer_a_user, booked_fcl):
    response = upload(login(customer_a_user), csv_file(f"{CONTAINER},container,DEPARTED,{WHEN},ACT,CNSHA,"))
    assert response.status_code == 403
    assert not EventUpload.objects.exists()


def xlsx_file(*rows: list[object]) -> SimpleUploadedFile:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return SimpleUploadedFile(
        "milestones.xlsx",
        buffer.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


def test_an_xlsx_file_with_codes_of_a_standard(login, ops_user, booked_fcl):
    file = xlsx_file(
        ["Reference", "Code", "Scheme", "Occurred at", "Location", "Event ID"],
        [BILL, "VD", "x12_315", ETD.replace(tzinfo=None), "CNSHA", "edi-42"],
    )
    upload(login(ops_user), file)
    result = EventUpload.objects.get()
    assert (result.events_stored, result.errors) == (1, [])
    event = TrackingEvent.objects.get()
    assert (event.scheme, event.raw_code, event.milestone_id, event.source_event_id) == (
        "x12_315",
        "VD",
        "DEPARTED",
        "edi-42",
    )


def test_an_excel_error_cell_is_a_problem_on_its_row_not_a_value(login, ops_user, booked_fcl):
    # A lookup that found nothing: openpyxl writes "#N/A" as an error cell (t="e"), as Excel does.
    file = xlsx_file(["Reference", "Milestone", "Occurred at", "Location"], [BILL, "DEPARTED", "#N/A", "CNSHA"])
    upload(login(ops_user), file)
    result = EventUpload.objects.get()
    assert result.events_stored == 0
    (error,) = result.errors
    assert (error["row"], error["column"], error["value"]) == (2, "occurred_at", "#N/A")
    assert error["message"].startswith("This cell is an Excel error (#N/A)")
    assert not TrackingEvent.objects.exists()


def test_a_file_that_is_not_a_spreadsheet_is_one_file_level_error(login, ops_user, booked_fcl):
    pdf = SimpleUploadedFile("milestones.csv", b"%PDF-1.4 not a spreadsheet", content_type="text/csv")
    upload(login(ops_user), pdf)
    (error,) = EventUpload.objects.get().errors
    assert "This is a PDF" in error["message"]


def test_unknown_and_missing_columns_are_named(login, ops_user, booked_fcl):
    upload(login(ops_user), csv_file(f"{CONTAINER},x", header="reference,vessel"))
    (error,) = EventUpload.objects.get().errors
    assert "Unknown columns: vessel" in error["message"]


def test_the_template_is_a_valid_file(login, ops_user, booked_fcl):
    response = login(ops_user).get("/tracking/uploads/template.csv")
    assert response["Content-Disposition"] == 'attachment; filename="milestones-template.csv"'
    header = response.content.decode().splitlines()[0]
    assert header == ",".join(files.COLUMNS)


@pytest.mark.parametrize(
    ("reference", "kind"),
    [
        ("MSCU 1234565", "container"),
        ("M-HAM-26-000012", "shipment"),
        ("HAM-26-000123", "order"),
        ("020-12345675", "awb"),
        ("MAEU262000001", "bill"),
    ],
)
def test_a_reference_without_a_type_is_recognised_by_its_shape(reference, kind):
    assert files.guess_subject_type(reference) == kind


def _departed_on_timeline(order):
    return next(row for row in selectors.order_timeline(order=order, customer_safe=True).milestones
                if row.code == "DEPARTED").actual_at  # fmt: skip


@pytest.mark.parametrize("typo", [datetime.timedelta(hours=2), -datetime.timedelta(hours=2)])
def test_a_partner_corrects_its_own_departure_by_uploading_the_row_again(login, maersk_user, booked_fcl, typo):
    """Review A, defect 3: the second file said "1 milestone recorded", the timeline showed the corrected time and the
    leg kept the mistyped one for good. The source that recorded a leg's time corrects it: the leg, its history and
    the timeline all take the new time, earlier or later."""
    order, master = booked_fcl
    right = ETD.replace(second=0)
    client = login(maersk_user)
    for at in (right + typo, right):
        upload(client, csv_file(f"{BILL},bill,DEPARTED,{at:%Y-%m-%d %H:%M},ACT,CNSHA,"))

    assert [u.events_stored for u in EventUpload.objects.order_by("pk")] == [1, 1]
    main = master.legs.get(role=LegRole.MAIN)
    assert main.actual_departure_at == right
    assert _departed_on_timeline(order) == right
    correction = TrackingEvent.objects.get(event_at=right)
    assert correction.effect.startswith("Corrects the departure recorded at")
    (change,) = next(entry for entry in leg_history_for(shipment=master) if entry.title == "Leg changed").changes
    assert change.label == "Actual departure"


@pytest.mark.parametrize("typo", [datetime.timedelta(hours=2), -datetime.timedelta(hours=2)])
def test_a_file_with_a_row_and_its_correction_records_the_corrected_row(login, maersk_user, booked_fcl, typo):
    """Review H, defect 1: the leg had no departure, and one file carried the mistyped row and, below it, the
    corrected one. The leg took the earliest of the two for good (re-sending the correction is a duplicate). A
    person's latest report wins within their source, as it does across files: the row written last."""
    order, master = booked_fcl
    right = ETD.replace(second=0)

    upload(
        login(maersk_user),
        csv_file(
            f"{BILL},bill,DEPARTED,{right + typo:%Y-%m-%d %H:%M},ACT,CNSHA,",
            f"{BILL},bill,DEPARTED,{right:%Y-%m-%d %H:%M},ACT,CNSHA,",
        ),
    )

    assert EventUpload.objects.get().events_stored == 2
    assert master.legs.get(role=LegRole.MAIN).actual_departure_at == right
    assert _departed_on_timeline(order) == right
    assert TrackingEvent.objects.get(event_at=right + typo).effect.startswith(
        f"The leg takes the departure at {right:%Y-%m-%d %H:%M} UTC from a later report of this source."
    )


def test_another_source_never_overwrites_a_recorded_departure(login, ops_user, maersk_user, booked_fcl):
    """Operations recorded the departure; the carrier's file says two hours earlier. The leg keeps the time operations
    recorded (they correct it on the shipment's legs), the carrier's event is kept with a note saying so, and the
    timeline shows the leg's time, not the earliest event's."""
    order, master = booked_fcl
    recorded = ETD.replace(second=0)
    upload(login(ops_user), csv_file(f"{BILL},bill,DEPARTED,{recorded:%Y-%m-%d %H:%M},ACT,CNSHA,"))
    other = recorded - datetime.timedelta(hours=2)

    upload(login(maersk_user), csv_file(f"{BILL},bill,DEPARTED,{other:%Y-%m-%d %H:%M},ACT,CNSHA,"))

    assert master.legs.get(role=LegRole.MAIN).actual_departure_at == recorded
    assert _departed_on_timeline(order) == recorded
    assert "from another report" in TrackingEvent.objects.get(source="file:MAEU").effect


def test_an_unknown_milestone_names_the_codes_a_file_may_use(login, maersk_user, booked_fcl):
    """Review A, defect 5: "DELIVERY is not one of our milestones." left the partner stuck: the upload page listed no
    code, and the timeline shows names."""
    client = login(maersk_user)
    page = client.get("/tracking/uploads/").content.decode()
    assert "OUT_FOR_DELIVERY" in page
    assert "Out for delivery" in page

    upload(client, csv_file(f"{BILL},bill,DELIVERY,{WHEN},ACT,DEHAM,"))

    (error,) = EventUpload.objects.get().errors
    assert error["message"].startswith("DELIVERY is not one of our milestones. Did you mean DELIVERED? Use one of ")
    assert "DEPARTED" in error["message"]
    assert "OUT_FOR_DELIVERY" in error["message"]


@pytest.mark.parametrize("written", ["departed", "Departed", "departed "])
def test_a_milestone_may_be_written_in_any_case_or_by_its_name(login, ops_user, booked_fcl, written):
    upload(login(ops_user), csv_file(f"{BILL},bill,{written},{WHEN},ACT,CNSHA,"))
    assert EventUpload.objects.get().errors == []
    assert TrackingEvent.objects.get().milestone_id == "DEPARTED"


def test_a_milestone_name_with_spaces_is_read_as_its_code(booked_fcl):
    milestones = mapping.table().milestones
    assert files.milestone_code("Out for delivery", milestones) == "OUT_FOR_DELIVERY"
    assert files.milestone_code("out-for-delivery", milestones) == "OUT_FOR_DELIVERY"
    assert files.milestone_code("POD", milestones) == ""


def test_the_milestone_form_offers_and_explains_the_files_it_reads(login, ops_user, booked_fcl):
    """One rule with the order files: .csv, .txt (read as CSV) and .xlsx, said by the picker, the help and the
    refusal alike."""
    client = login(ops_user)
    page = client.get("/tracking/uploads/").content.decode()
    assert 'accept=".csv,.txt,.xlsx,text/csv"' in page
    assert ".txt read as CSV" in page
    refused = client.post("/tracking/uploads/", {"file": SimpleUploadedFile("m.exe", b"x"), "time_zone": "UTC"})
    assert "Upload a .csv, .txt (read as CSV) or .xlsx file" in refused.content.decode()


def test_a_row_wider_than_the_header_is_an_error_not_a_silent_duplicate(login, maersk_user, booked_fcl):
    """Review B, defect 1: a TMS export wrote the vessel in the note, "MAERSK ESSEN, 612W", without quotes, so each row
    had one cell more than the header. The cells were taken by position: the note was cut at the comma and "612W"
    became the event id of both rows, the DEPARTED row was dropped as "already known" and the file said all was
    well. Such a row is a problem on its row, as in the order import, and nothing is recorded."""
    header = ",".join(files.COLUMNS)
    rows = [
        f"{BILL},bill,LOADED,,,{WHEN},ACT,CNSHA,MAERSK ESSEN, 612W,",
        f"{BILL},bill,DEPARTED,,,{WHEN},ACT,CNSHA,MAERSK ESSEN, 612W,",
    ]

    upload(login(maersk_user), csv_file(*rows, header=header))

    result = EventUpload.objects.get()
    assert (result.events_stored, result.duplicates) == (0, 0)
    assert [(e["row"], e["column"]) for e in result.errors] == [(2, ""), (3, "")]
    assert result.errors[0]["message"] == (
        "This row has 11 values but the header names only 10 columns: a value holds an unquoted delimiter (write such "
        "a value in double quotes), or a column has no header."
    )
    assert not TrackingEvent.objects.exists()


def test_the_same_note_in_quotes_is_read_whole(login, maersk_user, booked_fcl):
    header = ",".join(files.COLUMNS)
    upload(
        login(maersk_user), csv_file(f'{BILL},bill,DEPARTED,,,{WHEN},ACT,CNSHA,"MAERSK ESSEN, 612W",', header=header)
    )
    assert EventUpload.objects.get().errors == []
    assert TrackingEvent.objects.get().reason == "MAERSK ESSEN, 612W"


def test_a_row_short_of_a_delimiter_is_an_error_on_its_row(login, ops_user, booked_fcl):
    upload(login(ops_user), csv_file(f"{CONTAINER},container,DEPARTED,{WHEN},CNSHA,"), valid_only="on")
    (error,) = EventUpload.objects.get().errors
    assert (error["row"], error["message"]) == (
        2,
        "This row has 6 values but the header names 7 columns: a delimiter is missing (every row needs as many "
        "separators as the header).",
    )


def test_a_stray_quote_that_runs_into_the_next_row_is_named(login, ops_user, booked_fcl):
    late, departed = (
        f'{CONTAINER},container,LOADED,{WHEN},ACT,CNSHA,"Late',
        f'{CONTAINER},container,DEPARTED,{WHEN},ACT,CNSHA",',
    )
    upload(login(ops_user), csv_file(late, departed), valid_only="on")
    result = EventUpload.objects.get()
    assert result.events_stored == 0
    (error,) = result.errors
    assert error["message"].startswith(
        'A quote (") opens in column 7 of this row and is closed only 1 line further down: everything up to that '
        "closing quote, line breaks included, was read as that one value, so this row has 8 values where the header "
        "names 7."
    )


def test_a_spreadsheet_value_beside_the_table_is_an_error_and_its_empty_cells_are_not(login, ops_user, booked_fcl):
    file = xlsx_file(
        ["Reference", "Milestone", "Occurred at", "Location"],
        [BILL, "DEPARTED", ETD.replace(tzinfo=None), "CNSHA", None],
        [BILL, "LOADED", ETD.replace(tzinfo=None), "CNSHA", None, "called the agent"],
    )
    upload(login(ops_user), file, valid_only="on")
    result = EventUpload.objects.get()
    assert result.events_stored == 1
    (error,) = result.errors
    assert (error["row"], error["message"]) == (
        3,
        "Cell F3 holds a value, but its column has no header: delete the value, or name the column in row 1.",
    )


@pytest.mark.parametrize(
    ("written", "message"),
    [
        (
            "2026-03-29 02:30",
            "occurred_at '2026-03-29 02:30' does not exist in Europe/Berlin: the clocks jump from +01:00 to +02:00 "
            "past it. Write the time with its UTC offset (e.g. 2026-03-29 02:30+01:00), or give it in UTC.",
        ),
        (
            "2026-10-25 02:30",
            "occurred_at '2026-10-25 02:30' happens twice in Europe/Berlin: the clocks go back from +02:00 to +01:00 "
            "and repeat it. Write the time with its UTC offset to say which, 2026-10-25 02:30+02:00 (the first) or "
            "2026-10-25 02:30+01:00 (the second), or give it in UTC.",
        ),
    ],
)
def test_a_local_time_the_clock_skips_or_repeats_is_a_row_error(db, fresh_mapping, written, message):
    """Review B, defect 2: a file's times without an offset are read on the upload's time zone. Berlin's clocks jump
    from 02:00 to 03:00 on 29 Mar 2026, so "02:30" names no moment there; it was recorded as 01:30 UTC, an hour off
    the wall clock. On 25 Oct they go back and 02:30 comes twice; the first was picked without a word. Only the
    sender knows which moment was meant."""
    rows = iter([(1, ["reference", "milestone", "occurred_at", "location"]), (2, [BILL, "DEPARTED", written, "CNSHA"])])
    checked = files.check_rows(rows, time_zone="Europe/Berlin")
    assert [(e.row, e.column, e.message) for e in checked.errors] == [(2, "occurred_at", message)]
    assert checked.events == []


@pytest.mark.parametrize(("written", "utc"), [("2026-03-29 03:30", "01:30"), ("2026-03-29 02:30+01:00", "01:30")])
def test_a_local_time_after_the_change_or_with_its_offset_is_read(db, fresh_mapping, written, utc):
    rows = iter([(1, ["reference", "milestone", "occurred_at", "location"]), (2, [BILL, "DEPARTED", written, "CNSHA"])])
    (event,) = files.check_rows(rows, time_zone="Europe/Berlin").events
    assert f"{event.event_at:%H:%M}" == utc


def test_the_result_counts_the_rows_skipped_not_the_problems(login, maersk_user, booked_fcl):
    """Review B, defect 3: "record the valid rows" with one good row and one row with two problems (an unknown
    milestone and a time that is no time) read "1 milestone recorded; 2 rows skipped": the partner went looking for
    a second row that was not there."""
    client = login(maersk_user)
    upload(
        client,
        csv_file(f"{BILL},bill,LOADED,{WHEN},ACT,CNSHA,", f"{BILL},bill,DEPARTURE,yesterday,ACT,CNSHA,"),
        valid_only="on",
    )
    page = client.get(f"/tracking/uploads/{EventUpload.objects.get().pk}/").content.decode()
    said = page.split("alert-warning", 1)[1].split("</div>", 1)[0]
    assert "1 milestone recorded; 1 row skipped (below)." in said


def test_the_problems_table_fits_a_phone(login, maersk_user, booked_fcl):
    """Review B, defect 4: at 390 px the result page scrolled sideways (399 px): the Problems table, with its long
    references and list of codes, was neither in `table-responsive` nor stacked, and ran out of its card. Below
    576 px each problem is a card of labelled lines, as in the portal's tables."""
    client = login(maersk_user)
    upload(client, csv_file(f"{BILL},bill,DELIVERY,{WHEN},ACT,CNSHA,"))
    page = client.get(f"/tracking/uploads/{EventUpload.objects.get().pk}/").content.decode()
    problems = page.split('id="errors-heading"', 1)[1].split("</section>", 1)[0]
    assert 'class="table table-sm mb-0 oms-table-stack"' in problems
    for label in ("Row", "Column", "Value", "Problem"):
        assert f'data-label="{label}"' in problems
