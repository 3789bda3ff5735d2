"""The import screens show their times on the viewer's clock and name it: staff's own branch's (/imports/), a
customer's own organisation's on the portal (/portal/imports/). From review I: "Uploaded 7 Dec 2026, 03:19" and
"created and submitted at 03:20:04" read in UTC, with no zone, to every branch."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.urls import reverse

from oms.templatetags.oms_dates import oms_datetime
from orders.models import ImportJob, ImportStatus

UTC = datetime.UTC
CREATED = datetime.datetime(2026, 12, 6, 23, 30, tzinfo=UTC)  # Mon 7 Dec 07:30 in Shanghai, Sun 6 Dec in UTC
IN_SHANGHAI = oms_datetime(CREATED.astimezone(zoneinfo.ZoneInfo("Asia/Shanghai")))  # "7 Dec, 07:30" in 2026
IN_UTC = oms_datetime(CREATED)
IN_CHICAGO = oms_datetime(CREATED.astimezone(zoneinfo.ZoneInfo("America/Chicago")))


@pytest.fixture
def shanghai_ops(ops_user, branch):
    branch.time_zone = "Asia/Shanghai"
    branch.save(update_fields=["time_zone"])
    return ops_user


def imported_job(customer, by) -> ImportJob:
    job = ImportJob.objects.create(
        customer=customer, created_by=by, source="screen", file_name="orders.csv",
        status=ImportStatus.IMPORTED, orders_total=1, orders_created=1, finished_at=CREATED,
    )  # fmt: skip
    ImportJob.objects.filter(pk=job.pk).update(created_at=CREATED)
    return job


def test_the_import_screens_show_times_on_the_viewers_clock(login, shanghai_ops, customer_a):
    job = imported_job(customer_a, shanghai_ops)
    client = login(shanghai_ops)
    listing = client.get(reverse("imports:list")).content.decode()
    assert IN_SHANGHAI in listing, f"the upload time is shown in UTC ({IN_UTC})"
    assert "Times in Asia/Shanghai." in listing
    detail = client.get(reverse("imports:detail", args=[job.pk])).content.decode()
    assert f"Uploaded {IN_SHANGHAI}" in detail
    assert "created and submitted</strong> at 07:30:00" in detail, "“created and submitted at” is shown in UTC"
    assert "· times in Asia/Shanghai" in detail


def test_an_empty_import_list_names_no_clock(login, shanghai_ops):
    listing = login(shanghai_ops).get(reverse("imports:list")).content.decode()
    assert "No order files yet" in listing
    assert "Times in" not in listing  # no time to read


def test_the_polled_progress_is_on_the_viewers_clock_for_no_query_more(
    login, shanghai_ops, customer_a, django_assert_max_num_queries
):
    job = imported_job(customer_a, shanghai_ops)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.QUEUED, updated_at=CREATED)  # no worker since
    client = login(shanghai_ops)
    client.get(reverse("imports:list"))  # the session is warm, as it is while a page polls
    with django_assert_max_num_queries(4):  # session, user, the job with the viewer's zone, the menu's task count
        body = client.get(reverse("imports:detail", args=[job.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "No worker has taken this file since 07:30:00" in body


def test_the_portal_shows_a_customer_its_own_organisations_clock(login, customer_a, customer_a_user, shanghai_ops):
    customer_a.time_zone = "America/Chicago"  # 6 Dec 17:30 there
    customer_a.save(update_fields=["time_zone"])
    job = imported_job(customer_a, customer_a_user)
    client = login(customer_a_user)
    listing = client.get(reverse("portal_imports:list")).content.decode()
    assert IN_CHICAGO in listing
    assert "Times in America/Chicago." in listing
    detail = client.get(reverse("portal_imports:detail", args=[job.pk])).content.decode()
    assert f"Uploaded {IN_CHICAGO}" in detail
    assert "at 17:30:00" in detail
    assert "· times in America/Chicago" in detail
    # Staff read the same job on their own clock.
    staff_detail = login(shanghai_ops).get(reverse("imports:detail", args=[job.pk])).content.decode()
    assert f"Uploaded {IN_SHANGHAI}" in staff_detail
