"""The import API: a job per upload, its state, counts and errors, scoped to the key's organisation."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from orders.models import ImportJob, ImportStatus, Order
from partners import services as partner_services
from tests.orders.fixtures.imports import csv_bytes, order_row, upload, world

__all__ = ["world"]
URL = "/api/v1/order-imports/"


def _client(organisation) -> APIClient:
    _key, raw = partner_services.api_key_create(organisation=organisation, name="ERP")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def acme_api(world) -> APIClient:
    return _client(world["acme"])


@pytest.fixture
def globex_api(world) -> APIClient:
    return _client(world["globex"])


def _post(client: APIClient, content: bytes, **fields) -> dict:
    response = client.post(URL, {"file": upload(content), **fields}, format="multipart")
    assert response.status_code == 201, response.content
    assert response["Location"].endswith(f"/api/v1/order-imports/{response.json()['id']}/")
    return response.json()


def test_upload_imports_and_returns_the_job(acme_api):
    job = _post(acme_api, csv_bytes([order_row("PO-1"), order_row("PO-2")]))
    assert job["state"] == "imported"
    assert job["counts"]["created"] == 2
    assert job["errors"] == []
    assert job["url"] == "http://testserver" + reverse("api-order-import-detail", args=[job["id"]])
    assert set(Order.objects.values_list("customer__code", flat=True)) == {"ACME"}


def test_errors_come_as_row_column_value_message(acme_api):
    job = _post(acme_api, csv_bytes([order_row("PO-1"), order_row("PO-2", gross_weight_kg="-5")]))
    assert job["state"] == "failed"
    assert Order.objects.count() == 0
    assert job["errors"] == [
        {"row": 3, "column": "gross_weight_kg", "value": "-5", "message": "Must be greater than zero.",
         "duplicate": False}
    ]  # fmt: skip


def test_dry_run_only_checks(acme_api):
    job = _post(acme_api, csv_bytes([order_row("PO-1")]), dry_run="true")
    assert (job["state"], job["dry_run"], job["counts"]["valid"]) == ("checked", True, 1)
    assert Order.objects.count() == 0


def test_valid_only_mode(acme_api):
    job = _post(acme_api, csv_bytes([order_row("PO-1"), order_row("PO-2", pieces="0")]), mode="valid_only")
    assert (job["state"], job["counts"]["created"], job["counts"]["invalid"]) == ("imported", 1, 1)


def test_a_customer_key_cannot_import_for_another_customer(acme_api):
    job = _post(acme_api, csv_bytes([order_row("PO-1", customer="GLOBEX")]))
    assert job["errors"][0]["message"] == "You can only place orders for ACME."
    assert Order.objects.count() == 0


def test_a_customer_key_sees_only_its_own_jobs(acme_api, globex_api):
    mine = _post(acme_api, csv_bytes([order_row("PO-1")]))
    theirs = _post(globex_api, csv_bytes([order_row("PO-1", customer="GLOBEX")]))
    assert acme_api.get(f"{URL}{theirs['id']}/").status_code == 404
    assert globex_api.get(f"{URL}{mine['id']}/").status_code == 404
    assert [job["id"] for job in acme_api.get(URL).json()] == [mine["id"]]
    assert acme_api.get(f"{URL}{mine['id']}/").json()["state"] == "imported"


def test_a_file_level_problem_is_a_rejected_job(acme_api):
    job = _post(acme_api, b"\x89PNG\r\n\x1a\n")
    assert job["state"] == "rejected"
    assert "image" in job["file_error"]
    assert job["errors"][0]["row"] is None


def test_the_same_file_twice_creates_its_orders_once(acme_api):
    content = csv_bytes([order_row("PO-1")])
    _post(acme_api, content)
    second = _post(acme_api, content)
    assert (second["state"], second["counts"]["created"], second["counts"]["duplicates"]) == ("imported", 0, 1)
    assert second["errors"][0]["duplicate"] is True
    assert Order.objects.count() == 1


def test_partner_keys_and_anonymous_callers_are_refused(world, carrier):
    assert APIClient().post(URL, {}, format="multipart").status_code in (401, 403)
    response = _client(carrier).post(URL, {"file": upload(csv_bytes([order_row()]))}, format="multipart")
    assert response.status_code == 403
    assert ImportJob.objects.count() == 0


def test_a_file_without_a_known_extension_is_a_400(acme_api):
    response = acme_api.post(URL, {"file": upload(b"x", "orders.exe")}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()["error"]["fields"]


def test_staff_key_imports_for_any_customer(world, company):
    staff = _client(company)
    job = _post(staff, csv_bytes([order_row("PO-1"), order_row("PO-2", customer="GLOBEX")]))
    assert job["state"] == ImportStatus.IMPORTED
    assert job["counts"]["created"] == 2


@pytest.mark.parametrize("what", ["key revoked", "organisation deactivated"])
def test_a_queued_job_imports_nothing_once_its_key_no_longer_works(world, what, settings):
    """The import runs with the key's rights as they are when it runs, exactly as a request would."""
    from django.utils import timezone

    from orders.imports import service
    from partners.models import ApiKey

    settings.OMS_IMPORT_INLINE_MAX_BYTES = 0  # the worker imports it later
    client = _client(world["acme"])
    job_id = _post(client, csv_bytes([order_row("PO-1", customer="ACME")]))["id"]
    job = ImportJob.objects.get(pk=job_id)
    assert job.status == ImportStatus.QUEUED  # waiting for the worker
    if what == "key revoked":
        ApiKey.objects.filter(pk=job.api_key_id).update(revoked_at=timezone.now())
    else:
        world["acme"].is_active = False
        world["acme"].save(update_fields=["is_active"])
    service.import_job_process(job_id=job_id)  # the worker, after the change
    job.refresh_from_db()
    assert job.status == ImportStatus.REJECTED
    assert "can no longer import orders" in job.file_error
    assert Order.objects.count() == 0
