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
