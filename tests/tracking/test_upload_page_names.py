"""A milestone file's page names who uploaded it as every other screen names a person (review D): by name, not by
the email address it showed ("by carrier@oms.example")."""

from __future__ import annotations

from tests.tracking.test_ingest_files import WHEN, csv_file, maersk_user, upload
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import CONTAINER
from tracking.ingest.models import EventUpload

__all__ = ["maersk_user"]


def test_the_file_page_names_the_person_who_uploaded_it(login, maersk_user, booked_fcl):
    maersk_user.full_name = "Mette Sørensen"
    maersk_user.save(update_fields=["full_name"])
    client = login(maersk_user)
    upload(client, csv_file(f"{CONTAINER},container,DEPARTED,{WHEN},ACT,CNSHA,"))
    page = client.get(f"/tracking/uploads/{EventUpload.objects.get().pk}/").content.decode()
    subtitle = page.split('class="oms-page-subtitle">', 1)[1].split("</p>", 1)[0]
    assert subtitle.endswith("by Mette Sørensen")
