"""Screens for order files: the list, upload, the preview with every error, progress and result.

The same screens serve two audiences: staff under /imports/ (every job; the URL namespace `imports`) and
customers on the portal under /portal/imports/ (their own jobs, in the portal's layout; the instance namespace
`portal_imports` of the same URL module, so `{% url 'imports:…' %}` in the templates and `_url` here resolve
to the audience's own addresses). A customer's file holds that customer's orders only: its template has no
customer_code column, and the import service narrows the job to the customer (`orders.imports.jobs.job_scope`).

Times are on the viewer's clock, which the screens name ("times in Asia/Shanghai"): staff's own branch's, as on
every list over all branches, and a customer's own organisation's on the portal (docs/planning.md, "Which clock a
screen uses"). The zone comes with the scope (partners.time_zones.viewer_zone: no query).

One page per job (`import_detail`) shows what the job is waiting for: a progress bar while the worker
checks or imports (the `poll` fragment, polled by htmx: the progress card and, out of band, the status badge;
it asks for a full reload when the job is done), the preview with Confirm / Import valid only / Cancel when
checked, the result afterwards.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import ResolverMatch, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.datastructures import MultiValueDict
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST

from oms.http import HtmxHttpRequest, declared_size_over
from orders.errors import OrderError
from orders.imports import selectors, service
from orders.imports.forms import ImportUploadForm
from orders.imports.reading import megabytes
from orders.models import Channel, ImportMode, ImportStatus
from orders.resources import order_file_template
from partners.scoping import scope_for_request
from partners.time_zones import viewer_zone, zone_label

ERRORS_SHOWN = 500
PORTAL = "portal_imports"  # the instance namespace of these URLs on the portal (oms/urls.py)

View = Callable[..., HttpResponseBase]  # the error file is a StreamingHttpResponse


def _resolved(request: HttpRequest) -> ResolverMatch:
    """The URL match of a request a view is answering (set by the URL resolver before any view runs)."""
    assert request.resolver_match is not None  # noqa: S101 - only middleware runs before it is set
    return request.resolver_match


def _on_portal(request: HttpRequest) -> bool:
    return getattr(request.resolver_match, "namespace", "") == PORTAL


def _url(request: HttpRequest, name: str, *args: Any) -> str:
    """The address of one of these screens for the audience of `request` (staff's or the portal's)."""
    return reverse(f"imports:{name}", args=args, current_app=_resolved(request).namespace)


def _render(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    portal = _on_portal(request)
    layout = "portal/base.html" if portal else "base.html"
    return render(request, template, {"layout": layout, "on_portal": portal, **context}, status=status)


def _render_on_clock(
    request: HttpRequest, template: str, context: dict[str, Any], zone: datetime.tzinfo
) -> HttpResponse:
    """A screen with a job's times: on the viewer's clock (`zone`), which the page names (`time_zone`)."""
    with timezone.override(zone):
        return _render(request, template, {"time_zone": zone_label(zone), **context})


def import_screen(view: View) -> View:
    """Who may open an import screen: staff under /imports/ (others 403, as on every staff screen), customers under
    /portal/imports/. Staff who follow a portal address are sent to the staff screen, which shows every job;
    partners send no orders and get 403."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        scope = scope_for_request(request)
        if not _on_portal(request):
            if not scope.is_staff:
                raise PermissionDenied("This screen is for OMS staff.")
            return view(request, *args, **kwargs)
        if scope.is_staff:
            query = request.META.get("QUERY_STRING", "")
            url = reverse(f"imports:{_resolved(request).url_name}", args=args, kwargs=kwargs)
            return redirect(f"{url}?{query}" if query else url)
        if not scope.is_customer:
            raise PermissionDenied("Order files are sent by customers; your organisation has none to send.")
        return view(request, *args, **kwargs)

    return wrapper


def _require_importer(request: HttpRequest) -> None:
    if not selectors.may_import(scope_for_request(request)):
        raise PermissionDenied("Your role may not import orders.")


@import_screen
def import_list(request: HttpRequest) -> HttpResponse:
    scope = scope_for_request(request)
    jobs = selectors.import_job_list_for(scope=scope)
    page = Paginator(jobs, 50).get_page(request.GET.get("page"))
    zone = viewer_zone(scope)
    context = {"page": page, "may_import": selectors.may_import(scope)}
    return _render_on_clock(request, "imports/import_list.html", context, zone)


@import_screen
def import_upload(request: HttpRequest) -> HttpResponse:
    _require_importer(request)
    limits = {"max_size": megabytes(settings.OMS_IMPORT_MAX_BYTES), "max_rows": settings.OMS_IMPORT_MAX_ROWS}
    if request.method == "POST" and (declared := declared_size_over(request, settings.OMS_IMPORT_MAX_BYTES)):
        # Far over the limit by its declared length alone: refused unread, not spooled to disk and refused after.
        form = ImportUploadForm(data={"mode": ImportMode.ALL_OR_NOTHING}, files=MultiValueDict())
        form.errors["file"] = form.error_class([
            f"The upload is {megabytes(declared)}; an order file may be at most {limits['max_size']}. Split it into "
            "smaller files."
        ])  # fmt: skip
        return _render(request, "imports/import_upload.html", {"form": form, **limits}, status=413)
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = service.import_job_create(
                upload=form.cleaned_data["file"], scope=scope_for_request(request), source=Channel.SCREEN,
                by=request.user, mode=form.cleaned_data["mode"],
            )  # fmt: skip
        except OrderError as exc:  # the file (ImportFileError), or who may send it (several customers)
            form.add_error("file", str(exc))
        else:
            return redirect(_url(request, "detail", job.pk))
    return _render(request, "imports/import_upload.html", {"form": form, **limits})


@import_screen
def import_template(request: HttpRequest, file_format: str) -> HttpResponse:
    if file_format not in ("csv", "xlsx"):
        raise Http404("Templates come as csv or xlsx.")
    content, content_type, filename = order_file_template(file_format=file_format, for_customer=_on_portal(request))
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


@import_screen
def import_detail(request: HtmxHttpRequest, pk: Any) -> HttpResponse:
    scope = scope_for_request(request)
    job = selectors.import_job_get_for(scope=scope, pk=pk)
    zone = viewer_zone(scope)
    if request.htmx:
        # The progress card, and out of band the status badge beside the file name: both from the one job row.
        response = _render_on_clock(request, "imports/import_detail.html#poll", {"job": job}, zone)
        if not job.is_running:
            response["HX-Refresh"] = "true"  # the job is done: show its preview or result page
        patch_vary_headers(response, ["HX-Request"])
        return response
    errors = list(selectors.import_job_errors(job)[:ERRORS_SHOWN])
    context = {
        "job": job,
        "preview": sorted(job.preview, key=lambda order: order["row"]),  # as the file has them, not as checked
        "errors": errors,
        "errors_hidden": max(0, job.error_count - len(errors)),
        "created": selectors.import_job_created_orders(job=job) if job.status == ImportStatus.IMPORTED else [],
        "may_import": selectors.may_import(scope),
        "modes": ImportMode,
        "file_days": settings.OMS_IMPORT_FILE_DAYS,
    }
    response = _render_on_clock(request, "imports/import_detail.html", context, zone)
    patch_vary_headers(response, ["HX-Request"])
    return response


@import_screen
@require_POST
def import_confirm(request: HttpRequest, pk: Any) -> HttpResponse:
    _require_importer(request)
    job = selectors.import_job_get_for(scope=scope_for_request(request), pk=pk)
    mode = request.POST.get("mode", job.mode)
    if mode not in ImportMode.values:
        mode = job.mode
    try:
        service.import_job_confirm(job=job, by=request.user, mode=mode)
    except OrderError as exc:
        messages.error(request, str(exc))
    return redirect(_url(request, "detail", job.pk))


@import_screen
@require_POST
def import_cancel(request: HttpRequest, pk: Any) -> HttpResponse:
    _require_importer(request)
    job = selectors.import_job_get_for(scope=scope_for_request(request), pk=pk)
    try:
        service.import_job_cancel(job=job)
    except OrderError as exc:
        messages.error(request, str(exc))
        return redirect(_url(request, "detail", job.pk))
    messages.info(request, f"The upload of {job.file_name} was cancelled; nothing was imported.")
    return redirect(_url(request, "list"))


@import_screen
def import_error_file(request: HttpRequest, pk: Any) -> StreamingHttpResponse:
    job = selectors.import_job_get_for(scope=scope_for_request(request), pk=pk)
    response = StreamingHttpResponse(selectors.import_job_error_file(job), content_type="text/csv; charset=utf-8")
    stem = job.file_name.rsplit(".", 1)[0][:80] or "import"
    # RFC 6266: a name that is not plain ASCII goes as filename*=utf-8''…, which browsers read; the header as a
    # whole would otherwise be MIME-encoded (=?utf-8?b?…?=), and the download would lose its name.
    response["Content-Disposition"] = content_disposition_header(True, f"{stem}-errors.csv")
    return response
