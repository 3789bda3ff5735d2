"""Order files on the portal (/portal/imports/): a customer's people upload, preview, confirm and follow their own
files in the portal's layout; the file's orders are the customer's; another customer's files stay out of sight."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from django.urls import reverse

from orders.imports import service
from orders.imports.columns import template_columns_for
from orders.models import ImportJob, ImportStatus, Order
from tests.orders.fixtures.imports import COLUMNS, csv_bytes, import_file, order_row, upload, world

__all__ = ["world"]

CUSTOMER_COLUMNS = [name for name in COLUMNS if name != "customer_code"]


def portal(name: str, *args) -> str:
    return reverse(f"portal_imports:{name}", args=args)


def test_a_customer_uploads_previews_and_confirms_on_the_portal(world, login, customer_a_user):
    client = login(customer_a_user)
    content = csv_bytes([order_row("PO-1"), order_row("PO-2", pieces="0")], columns=CUSTOMER_COLUMNS)
    response = client.post(portal("upload"), {"file": upload(content), "mode": "all_or_nothing"})
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == portal("detail", job.pk)
    assert (job.customer, job.created_by) == (world["acme"], customer_a_user)

    page = client.get(portal("detail", job.pk)).content.decode()
    assert 'class="oms-portal"' in page  # the portal's layout, not the staff screens'
    assert "Must be at least 1." in page
    assert "<td>Air</td>" in page  # the mode's name in the preview, not its code
    assert portal("confirm", job.pk) in page
    assert portal("errors", job.pk) in page
    assert f'"{reverse("imports:detail", args=[job.pk])}' not in page  # no staff address on a customer's page

    response = client.post(portal("confirm", job.pk), {"mode": "valid_only"})
    assert response["Location"] == portal("detail", job.pk)
    order = Order.objects.get()
    assert (order.customer, order.customer_reference, order.created_by) == (world["acme"], "PO-1", customer_a_user)
    page = client.get(portal("detail", job.pk)).content.decode()
    assert "1 order created and submitted" in page
    assert order.reference in page
    assert f'href="{order.get_absolute_url()}"' not in page  # the staff order page is not theirs to open

    errors = client.get(portal("errors", job.pk))
    assert errors.status_code == 200
    assert "Must be at least 1." in b"".join(errors.streaming_content).decode("utf-8-sig")


def test_a_customers_file_cannot_hold_another_customers_orders(world, login, customer_a_user):
    client = login(customer_a_user)
    content = csv_bytes([order_row("PO-1", customer="GLOBEX")])
    client.post(portal("upload"), {"file": upload(content), "mode": "all_or_nothing"})
    job = ImportJob.objects.get()
    assert list(job.errors.values_list("message", flat=True)) == ["You can only place orders for ACME."]
    assert job.orders_valid == 0


def test_a_customer_may_not_set_staff_columns(world, login, customer_a_user):
    content = csv_bytes([order_row("PO-1", branch_code="HAM")], columns=[*COLUMNS, "branch_code"])
    login(customer_a_user).post(portal("upload"), {"file": upload(content), "mode": "all_or_nothing"})
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.REJECTED
    assert "branch_code cannot be set in a customer's file" in job.file_error


def test_two_customers_see_only_their_own_files(world, login, customer_a_user, customer_b_user, client):
    mine = import_file(customer_a_user, csv_bytes([order_row("PO-1")], columns=CUSTOMER_COLUMNS), name="acme.csv")
    theirs = import_file(customer_b_user, csv_bytes([order_row("PO-1")], columns=CUSTOMER_COLUMNS), name="gx.csv")
    staffs = import_file(world["ops"], csv_bytes([order_row("PO-9")]), name="staff.csv")

    client.force_login(customer_a_user)
    listing = client.get(portal("list")).content.decode()
    assert "acme.csv" in listing
    assert "gx.csv" not in listing
    assert "staff.csv" not in listing
    for job in (theirs, staffs):
        assert client.get(portal("detail", job.pk)).status_code == 404
        assert client.get(portal("errors", job.pk)).status_code == 404
        assert client.post(portal("confirm", job.pk)).status_code == 404
        assert client.post(portal("cancel", job.pk)).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == ImportStatus.CHECKED
    assert Order.objects.count() == 0

    client.force_login(customer_b_user)
    assert client.get(portal("detail", mine.pk)).status_code == 404
    assert client.get(portal("detail", theirs.pk)).status_code == 200


def test_the_customers_template_has_no_customer_code_and_its_filled_in_example_imports(world, login,
                                                                                       customer_b_user):  # fmt: skip
    client = login(customer_b_user)
    content = client.get(portal("template", "csv")).content
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == [name for name in template_columns_for(is_staff=False) if name != "customer_code"]
    assert "branch_code" not in rows[0]  # staff's column: a customer's file may not hold it
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(portal("template", "xlsx")).content), read_only=True)
    assert "customer_code" not in next(workbook.worksheets[0].iter_rows(values_only=True))

    left_as_is = import_file(customer_b_user, content, name="template.csv")
    assert [error.column for error in left_as_is.errors.all()] == ["customer_reference"]  # the example row
    filled = import_file(customer_b_user, content.replace(b"Nordwind Handel GmbH", b"Hanse Lampen KG"), name="a.csv")
    assert (filled.status, filled.orders_valid) == (ImportStatus.CHECKED, 1)
    assert filled.customer == world["globex"]


def test_partners_and_strangers_have_no_imports(world, login, carrier_user, outsider, client):
    client.force_login(carrier_user)
    assert client.get(portal("list")).status_code == 403
    assert client.post(portal("upload"), {"file": upload(csv_bytes([order_row()]))}).status_code == 403
    home = client.get(reverse("portal:home"))
    assert "Imports" not in [item["label"] for item in home.context["nav_items"]]
    assert portal("upload") not in home.content.decode()
    client.force_login(outsider)
    assert client.get(portal("list")).status_code == 403
    assert ImportJob.objects.count() == 0


def test_customers_stay_out_of_the_staff_screens_and_staff_are_sent_to_theirs(world, login, customer_a_user):
    job = import_file(world["ops"], csv_bytes([order_row("PO-1")]))
    client = login(customer_a_user)
    assert client.get(reverse("imports:list")).status_code == 403
    home = client.get(reverse("portal:home"))
    assert {"label": "Imports", "url": portal("list")}.items() <= next(
        item for item in home.context["nav_items"] if item["label"] == "Imports"
    ).items()
    assert portal("upload") in home.content.decode()

    client = login(world["ops"])
    response = client.get(portal("detail", job.pk) + "?page=2")
    assert (response.status_code, response["Location"]) == (302, reverse("imports:detail", args=[job.pk]) + "?page=2")
    assert client.get(portal("list"))["Location"] == reverse("imports:list")


def test_someone_acting_for_two_customers_is_told_why_the_upload_is_refused(world, login, customer_a_user):
    from partners.models import Membership, Role

    Membership.objects.create(user=customer_a_user, organisation=world["globex"], role=Role.CUSTOMER)
    response = login(customer_a_user).post(portal("upload"), {"file": upload(csv_bytes([order_row()])),
                                                              "mode": "all_or_nothing"})  # fmt: skip
    assert response.status_code == 200
    assert "You act for several customers (ACME, GLOBEX)" in response.content.decode()
    assert ImportJob.objects.count() == 0


@pytest.mark.parametrize("running", [True, False])
def test_the_progress_poll_stays_on_the_portal(world, login, customer_a_user, running):
    job = import_file(customer_a_user, csv_bytes([order_row("PO-1")], columns=CUSTOMER_COLUMNS))
    if running:
        ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.IMPORTING, rows_total=10, rows_done=4)
    response = login(customer_a_user).get(portal("detail", job.pk), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    if running:
        assert f'hx-get="{portal("detail", job.pk)}"' in body
        assert "HX-Refresh" not in response
    else:
        assert response["HX-Refresh"] == "true"


def test_the_portal_list_is_a_fixed_number_of_queries(world, login, customer_a_user, django_assert_max_num_queries):
    jobs = [
        import_file(customer_a_user, csv_bytes([order_row(f"PO-{number}")], columns=CUSTOMER_COLUMNS))
        for number in range(12)
    ]
    client = login(customer_a_user)
    with django_assert_max_num_queries(12):
        response = client.get(portal("list"))
    assert all(portal("detail", job.pk) in response.content.decode() for job in jobs)


def test_the_result_links_to_every_order_the_file_created_in_the_portals_order_list(
    world, login, customer_a_user, customer_b_user, django_assert_max_num_queries
):
    from tests.orders.test_imports_views import walk_list

    client = login(customer_a_user)
    count = 60  # more than the result page lists, and more than a page of the portal's list
    content = csv_bytes([order_row(f"PO-{n}") for n in range(count)], columns=CUSTOMER_COLUMNS)
    client.post(portal("upload"), {"file": upload(content), "mode": "all_or_nothing"})
    job = ImportJob.objects.get()
    client.post(portal("confirm", job.pk), {"mode": "all_or_nothing"})
    other = import_file(world["ops"], csv_bytes([order_row("PO-OTHER")]))  # ACME's too, from another file
    service.import_job_confirm(job=other, by=world["ops"], mode="all_or_nothing")
    assert Order.objects.filter(customer_reference="PO-OTHER").exists()
    created = set(Order.objects.filter(import_record__job=job).values_list("reference", flat=True))
    assert len(created) == count

    link = f"{reverse('portal:orders')}?import={job.pk}"
    page = client.get(portal("detail", job.pk)).content.decode()
    assert f'href="{link}"' in page
    assert f"All {count} in the order list" in page
    with django_assert_max_num_queries(12):  # as the unfiltered portal list
        response = client.get(link)
    assert response.context["page"].paginator.count == count
    assert sorted(walk_list(client, link)) == sorted(created)
    # Another customer naming the job sees none of its orders: the list is theirs alone, as always.
    assert login(customer_b_user).get(link).context["page"].paginator.count == 0


def test_the_result_links_each_created_order_to_its_page_on_the_portal(world, login, customer_a_user):
    """Review E, 8: staff's result page links every created order; the portal's listed them as plain text, though
    each has its page there (its tracking timeline, linked from the portal's order list)."""
    client = login(customer_a_user)
    content = csv_bytes([order_row("PO-1"), order_row("PO-2")], columns=CUSTOMER_COLUMNS)
    client.post(portal("upload"), {"file": upload(content), "mode": "all_or_nothing"})
    job = ImportJob.objects.get()
    client.post(portal("confirm", job.pk), {"mode": "all_or_nothing"})

    page = client.get(portal("detail", job.pk)).content.decode()

    orders = Order.objects.filter(import_record__job=job)
    assert orders.count() == 2
    for order in orders:
        link = reverse("tracking_ingest:order_timeline", args=[order.reference])
        assert f'href="{link}"' in page
        assert client.get(link).status_code == 200  # the customer's own page of the order


def test_a_refused_header_on_the_portal_lists_the_columns_of_the_customers_own_template(world, login, customer_a_user):
    """Acceptance walk (h3): a customer's header refusal said "The columns you may use are those of the template:
    customer_code, customer_reference, …", while the template the portal hands them has no customer_code and its
    help says the file needs none."""
    content = csv_bytes([order_row("PO-1", branch_code="HAM")], columns=[*CUSTOMER_COLUMNS, "branch_code"])
    login(customer_a_user).post(portal("upload"), {"file": upload(content), "mode": "all_or_nothing"})
    job = ImportJob.objects.get()
    listed = job.file_error.split("The columns you may use are those of the template: ", 1)[1].rstrip(".").split(", ")

    template = login(customer_a_user).get(portal("template", "csv"))
    assert listed == next(csv.reader(io.StringIO(template.content.decode("utf-8-sig"))))
    assert "customer_code" not in listed
