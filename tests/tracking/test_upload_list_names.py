"""The list of milestone files names who uploaded each as the file's own page does (review D): by name, not by
e-mail address, and without a query for each row."""

from __future__ import annotations

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import UserFactory
from tracking.ingest.models import EventUpload


def _uploaders(body: str) -> list[str]:
    return re.findall(r'<div class="small text-secondary">(.*?)</div>', body)


def test_the_list_of_files_names_the_people_who_uploaded_them(login, ops_user):
    ops_user.full_name = "Mette Sørensen"
    ops_user.save(update_fields=["full_name"])
    EventUpload.objects.create(uploaded_by=ops_user, file_name="milestones.csv", rows_total=1, events_stored=1)
    EventUpload.objects.create(uploaded_by=None, file_name="old.csv")  # an uploader deleted since
    body = login(ops_user).get("/tracking/uploads/").content.decode()
    assert _uploaders(body) == ["—", "Mette Sørensen"]  # newest first
    assert ops_user.email not in body.split('id="recent-heading"', 1)[1]


def test_the_list_of_files_reads_no_uploader_row_by_row(login, ops_user):
    client = login(ops_user)

    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get("/tracking/uploads/").status_code == 200
        return len(context.captured_queries)

    EventUpload.objects.create(uploaded_by=UserFactory(full_name="First Uploader"), file_name="a.csv")
    one = queries()
    for n in range(3):
        EventUpload.objects.create(uploaded_by=UserFactory(full_name=f"Uploader {n}"), file_name=f"{n}.csv")
    assert queries() == one
