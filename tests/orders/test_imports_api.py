"""The import API: a job per upload, its state, counts and errors, scoped to the key's organisation."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from orders.models import ImportJob, ImportStatus, Order
from partners import services as partner_services
from tests.orders.fixtures.imports import COLUMNS, csv_bytes, order_row, upload, world

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


def test_a_txt_file_is_read_as_csv_as_the_docs_say(acme_api):
    """What an ERP exports, or Excel saves as "Text (Tab delimited)": delimited text under a .txt name."""
    content = csv_bytes([order_row("PO-1"), order_row("PO-2")], delimiter="\t")
    response = acme_api.post(URL, {"file": upload(content, "orders-week-48.txt")}, format="multipart")
    assert response.status_code == 201, response.content
    assert (response.json()["state"], response.json()["counts"]["created"]) == ("imported", 2)


def test_the_schema_names_every_field_of_an_error_and_of_the_counts(client, db):
    schemas = client.get("/api/schema/?format=json").json()["components"]["schemas"]
    job = schemas["ImportJobOutput"]["properties"]
    assert job["errors"]["items"] == {"$ref": "#/components/schemas/ImportErrorOutput"}
    error = schemas["ImportErrorOutput"]["properties"]
    assert set(error) == {"row", "column", "header", "value", "message", "duplicate"}
    assert (error["row"]["type"], error["row"].get("nullable")) == ("integer", True)  # null: the file itself
    assert {"$ref": "#/components/schemas/ImportCountsOutput"} in job["counts"]["allOf"]  # allOf: read-only
    counts = schemas["ImportCountsOutput"]["properties"]
    assert set(counts) == {"rows", "rows_done", "orders", "valid", "invalid", "duplicates", "created", "errors"}
    assert {field["type"] for field in counts.values()} == {"integer"}
    upload_400 = client.get("/api/schema/?format=json").json()["paths"][URL]["post"]["responses"]["400"]
    assert ".txt (read as CSV)" in upload_400["description"]


def test_errors_come_as_row_column_value_message(acme_api):
    job = _post(acme_api, csv_bytes([order_row("PO-1"), order_row("PO-2", gross_weight_kg="-5")]))
    assert job["state"] == "failed"
    assert Order.objects.count() == 0
    assert job["errors"] == [
        {"row": 3, "column": "gross_weight_kg", "header": "gross_weight_kg", "value": "-5",
         "message": "Must be greater than zero.", "duplicate": False}
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
    assert [job["id"] for job in acme_api.get(URL).json()["results"]] == [mine["id"]]
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
    assert "can no longer import these orders" in job.file_error
    assert Order.objects.count() == 0


# --- Idempotency-Key -----------------------------------------------------------------------------------------

KEY = "3f1d2c4b-0a9e-4e8b-9c7d-6b5a4f3e2d1c"


def _post_with_key(client: APIClient, content: bytes, key: str = KEY, name: str = "orders.csv", **fields):
    return client.post(URL, {"file": upload(content, name), **fields}, format="multipart", HTTP_IDEMPOTENCY_KEY=key)


def test_a_retried_upload_with_the_same_idempotency_key_replays_the_first_answer(acme_api):
    """An ERP that retries after a timeout got a second job saying "0 created, 2 duplicates", never the first
    job's id or result. The same key and file replay the first 201, and nothing is imported twice."""
    content = csv_bytes([order_row("PO-1"), order_row("PO-2")])
    first = _post_with_key(acme_api, content)
    second = _post_with_key(acme_api, content)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.content == first.content
    assert second["Idempotent-Replayed"] == "true"
    assert second["Location"] == first["Location"]
    assert second.json()["counts"]["created"] == 2
    assert ImportJob.objects.count() == 1
    assert Order.objects.count() == 2


@pytest.mark.parametrize(
    "retry",
    [
        {"content": csv_bytes([order_row("PO-9")])},  # another file under the same name
        {"name": "other.csv"},
        {"mode": "valid_only"},
        {"dry_run": "true"},
    ],
)
def test_the_same_idempotency_key_for_another_upload_is_refused(acme_api, retry):
    content = csv_bytes([order_row("PO-1")])
    assert _post_with_key(acme_api, content).status_code == 201
    response = _post_with_key(acme_api, retry.pop("content", content), **retry)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert ImportJob.objects.count() == 1


def test_the_options_are_compared_as_meant_not_as_typed(acme_api):
    content = csv_bytes([order_row("PO-1")])
    first = _post_with_key(acme_api, content, dry_run="true")
    second = _post_with_key(acme_api, content, dry_run="1", mode="all_or_nothing")  # the same request
    assert second.status_code == 201
    assert second.json()["id"] == first.json()["id"]


def test_a_large_upload_with_an_idempotency_key_is_queued_once_after_its_commit(
    acme_api, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """A file for the worker is queued when the key's transaction commits (the job exists for the worker then),
    and a retry replays the "queued" answer without queueing it again."""
    from orders import tasks

    settings.OMS_IMPORT_INLINE_MAX_BYTES = 0
    queued: list[str] = []
    monkeypatch.setattr(tasks.process_order_import, "delay", queued.append)
    content = csv_bytes([order_row("PO-1")])
    with django_capture_on_commit_callbacks(execute=True):
        first = _post_with_key(acme_api, content)
    with django_capture_on_commit_callbacks(execute=True):
        second = _post_with_key(acme_api, content)
    assert first.json()["state"] == second.json()["state"] == "queued"
    assert queued == [first.json()["id"]]
    assert ImportJob.objects.count() == 1


def test_a_refused_upload_leaves_its_idempotency_key_free(acme_api):
    """Errors are not stored (partners.idempotency): a corrected retry with the same key is imported."""
    assert _post_with_key(acme_api, b"x", name="orders.exe").status_code == 400
    response = _post_with_key(acme_api, csv_bytes([order_row("PO-1")]))
    assert response.status_code == 201
    assert response.json()["counts"]["created"] == 1


def test_idempotency_keys_belong_to_their_api_key(acme_api, globex_api):
    _post_with_key(acme_api, csv_bytes([order_row("PO-1")]))
    response = _post_with_key(globex_api, csv_bytes([order_row("PO-1", customer="GLOBEX")]))
    assert response.status_code == 201
    assert ImportJob.objects.count() == 2


# --- The job list --------------------------------------------------------------------------------------------


def _jobs(organisation, count: int) -> list[str]:
    return [
        str(ImportJob.objects.create(customer=organisation, source="api", file_name=f"f{n}.csv").pk)
        for n in range(count)
    ]


def test_the_job_list_reaches_every_job(world, acme_api, django_assert_max_num_queries):
    """The list used to end at the newest 100 jobs, with no way to the 101st. It is cursor-paginated like the
    orders list, newest first, and its queries do not grow with the page."""
    mine = _jobs(world["acme"], 101)
    _jobs(world["globex"], 3)
    listed: list[str] = []
    url: str | None = URL
    while url:
        with django_assert_max_num_queries(11):  # the key and its last use (2), the rate limit (8), the page
            response = acme_api.get(url, {"page_size": 100} if url == URL else None)
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"next", "previous", "results"}
        listed += [job["id"] for job in body["results"]]
        url = body["next"]
    assert listed == mine[::-1]  # newest first, each once, only this customer's


def test_the_job_list_pages_as_the_orders_list_does(world, acme_api):
    _jobs(world["acme"], 30)
    body = acme_api.get(URL).json()
    assert len(body["results"]) == 25
    assert body["previous"] is None
    assert "cursor=" in body["next"]
    assert acme_api.get(URL, {"cursor": "bogus"}).status_code == 404


def test_the_schema_documents_the_job_list_page_and_the_idempotency_key(db, client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operations = schema["paths"]["/api/v1/order-imports/"]
    listing = operations["get"]
    assert {"cursor", "page_size"} <= {p["name"] for p in listing["parameters"]}
    page = listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][page]["properties"]) == {"next", "previous", "results"}
    upload_operation = operations["post"]
    assert [p["name"] for p in upload_operation["parameters"] if p["in"] == "header"] == ["Idempotency-Key"]
    assert {"201", "409", "422"} <= set(upload_operation["responses"])


def test_a_listed_job_leaves_out_its_errors_rather_than_claiming_it_has_none(acme_api, client):
    """The list is documented to leave out `errors`, yet gave every job `"errors": []` and `errors_truncated: false`,
    a failed job full of errors included: a client generated from the schema (ImportJobOutput, `errors` required)
    read that as "no errors". Items have neither key, and the schema says so."""
    created = _post(acme_api, csv_bytes([order_row("PO-1", gross_weight_kg="-5")]))
    assert created["errors"]

    (item,) = acme_api.get(URL).json()["results"]

    assert item["id"] == created["id"]
    assert not {"errors", "errors_truncated"} & set(item)
    assert item["counts"]["errors"] == 1  # how many there are; the job's url gives them
    assert acme_api.get(item["url"]).json()["errors"] == created["errors"]
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    schemas = schema["components"]["schemas"]
    page = schema["paths"][URL]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    listed = schemas[page.rsplit("/", 1)[-1]]["properties"]["results"]["items"]["$ref"].rsplit("/", 1)[-1]
    left_out = set(schemas["ImportJobOutput"]["properties"]) - set(schemas[listed]["properties"])
    assert left_out == {"errors", "errors_truncated"}


def test_a_queued_customer_file_creates_that_customer_s_orders_or_none(world, customer_a_user, settings):
    """A person's membership moved from ACME to GLOBEX while ACME's file (no customer_code column: implied) waited
    for the worker: the job is ACME's, so it imports nothing rather than GLOBEX's orders."""
    from orders.imports import service
    from orders.models import Channel
    from partners.models import Membership
    from partners.scoping import scope_for_user
    from tests.orders.fixtures.imports import COLUMNS

    settings.OMS_IMPORT_INLINE_MAX_BYTES = 0  # the worker checks and imports it later
    content = csv_bytes([order_row("PO-1")], columns=[c for c in COLUMNS if c != "customer_code"])
    job = service.import_job_create(
        upload=upload(content), scope=scope_for_user(customer_a_user), source=Channel.API, by=customer_a_user,
        confirm=True,
    )  # fmt: skip
    assert (job.status, job.customer) == (ImportStatus.QUEUED, world["acme"])
    partner_services.membership_revoke(membership=Membership.objects.get(user=customer_a_user))
    partner_services.membership_grant(user=customer_a_user, organisation=world["globex"], role="customer")
    service.import_job_process(job_id=job.pk)
    job.refresh_from_db()
    assert Order.objects.count() == 0
    assert job.status == ImportStatus.REJECTED
    assert "no longer acts for the file's customer" in job.file_error
    # A file queued while the person acted for ACME alone, processed once they act for both: ACME's orders only.
    Membership.objects.filter(user=customer_a_user).delete()
    partner_services.membership_grant(user=customer_a_user, organisation=world["acme"], role="customer")
    job = service.import_job_create(
        upload=upload(content, "again.csv"), scope=scope_for_user(customer_a_user), source=Channel.API,
        by=customer_a_user, confirm=True,
    )  # fmt: skip
    partner_services.membership_grant(user=customer_a_user, organisation=world["globex"], role="customer")
    service.import_job_process(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ImportStatus.IMPORTED, job.file_error
    assert list(Order.objects.values_list("customer__code", flat=True)) == ["ACME"]


def test_a_customer_person_of_two_customers_is_told_why_an_upload_is_refused(world, customer_a_user):
    partner_services.membership_grant(user=customer_a_user, organisation=world["globex"], role="customer")
    client = APIClient()
    client.force_authenticate(customer_a_user)
    response = client.post(URL, {"file": upload(csv_bytes([order_row("PO-1")]))}, format="multipart")
    assert response.status_code == 403
    assert "You act for several customers (ACME, GLOBEX)" in response.json()["error"]["message"]
    assert ImportJob.objects.count() == 0


# --- Acceptance findings on the import API (2026-12-06) -----------------------------------------------------


def test_a_finished_dry_run_says_when_it_finished(acme_api):
    posted = _post(acme_api, csv_bytes([order_row("PO-1")]), dry_run="true")
    job = acme_api.get(posted["url"]).json()
    assert (job["state"], job["dry_run"]) == ("checked", True)
    assert job["finished_at"] is not None
    assert job["finished_at"] == posted["finished_at"]
    stored = ImportJob.objects.get(pk=job["id"])
    assert stored.checked_at <= stored.finished_at


def test_a_checked_upload_waiting_for_its_confirmation_has_not_finished(world, login):
    from tests.orders.fixtures.imports import import_file

    job = import_file(world["ops"], csv_bytes([order_row("PO-1")]))
    assert (job.status, job.finished_at) == (ImportStatus.CHECKED, None)


def test_a_refused_header_gives_its_row_in_the_row_field_only(acme_api):
    from tests.orders.fixtures.imports import COLUMNS

    job = _post(acme_api, csv_bytes([{**order_row(), "status": "x"}], columns=[*COLUMNS, "status"]))
    assert job["state"] == "rejected"
    (error,) = job["errors"]
    assert error["row"] == 1
    assert error["message"].startswith("The header cannot be used.")
    assert error["message"] == job["file_error"]
    assert "branch_code" not in error["message"]  # a customer's key may not name the branch


@pytest.mark.parametrize(
    ("name", "fragment"),
    [("orders.xls", "This is an old Excel (.xls) workbook"), ("orders.ods", "save it as .xlsx or CSV"),
     ("orders.exe", "Upload a .csv, .txt (read as CSV) or .xlsx file")],
)  # fmt: skip
def test_an_upload_in_another_spreadsheet_format_is_told_how_to_save_it(acme_api, name, fragment):
    response = acme_api.post(URL, {"file": upload(b"\xd0\xcf\x11\xe0", name)}, format="multipart")
    assert response.status_code == 400
    assert fragment in str(response.json()["error"]["fields"]["file"])
    assert ImportJob.objects.count() == 0


def test_an_error_names_its_column_in_the_vocabulary_and_as_the_files_header_writes_it(acme_api):
    """Programs match on `column`; a person reads `header`, as the file they sent writes it."""
    friendly = [name.replace("_", " ").title() for name in COLUMNS]
    content = csv_bytes([order_row("PO-1"), order_row("PO-2", gross_weight_kg="-5")])
    content = ",".join(friendly).encode() + content[content.index(b"\r\n") :]
    job = _post(acme_api, content)
    assert [(e["row"], e["column"], e["header"]) for e in job["errors"]] == [(3, "gross_weight_kg", "Gross Weight Kg")]
