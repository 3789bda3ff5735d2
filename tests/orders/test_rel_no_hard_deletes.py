"""RELIABILITY.md I2 in the configuration console: a business record cannot be deleted there, by its delete page or
by "Delete selected".

An import job is the record of who sent which file, in which mode ("import the valid orders only" is an audited
choice, G3), what it created and what it refused; docs/decisions/0002 ("How long uploads are kept") keeps the job,
its counts and errors for good, deleting only the uploaded file. Deleting a job in the console erased all of that
and, with it, the link from each order to the import that created it (ImportedOrder). A customer that has orders
is refused by the database (PROTECT); this file adds the bulk action for it.
"""

from __future__ import annotations

import pytest

from orders.imports import service
from orders.models import ImportedOrder, ImportJob, Order
from partners.models import Organisation
from tests.orders.fixtures.imports import csv_bytes, import_file, order_row, world

__all__ = ["world"]

CHANGELIST = "/admin/orders/importjob/"


@pytest.fixture
def imported(world) -> ImportJob:
    job = import_file(world["ops"], csv_bytes([order_row("PO-1"), order_row("PO-2")]))
    job = service.import_job_confirm(job=job, by=world["ops"], mode="all_or_nothing")
    assert ImportedOrder.objects.filter(job=job).count() == 2
    return job


def _assert_kept(job: ImportJob) -> None:
    assert ImportJob.objects.filter(pk=job.pk).exists()
    assert ImportedOrder.objects.filter(job=job).count() == 2
    assert Order.objects.count() == 2


def test_the_console_offers_no_delete_for_an_import_job(imported, admin_user, login):
    client = login(admin_user)

    page = client.get(f"{CHANGELIST}{imported.pk}/delete/")
    posted = client.post(f"{CHANGELIST}{imported.pk}/delete/", {"post": "yes"})

    assert (page.status_code, posted.status_code) == (403, 403)
    assert "delete_selected" not in client.get(CHANGELIST).content.decode()
    _assert_kept(imported)


def test_delete_selected_cannot_remove_import_jobs(imported, admin_user, login):
    response = login(admin_user).post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [str(imported.pk)], "post": "yes"}
    )

    assert response.status_code in (200, 302, 403)
    _assert_kept(imported)


def test_delete_selected_cannot_remove_a_customer_with_orders(imported, admin_user, login):
    customer = Order.objects.first().customer
    response = login(admin_user).post(
        "/admin/partners/organisation/",
        {"action": "delete_selected", "_selected_action": [str(customer.pk)], "post": "yes"},
    )

    assert response.status_code == 200  # Django's "cannot delete: protected" page
    assert "protected" in response.content.decode().lower()
    assert Organisation.objects.filter(pk=customer.pk).exists()
    _assert_kept(imported)
