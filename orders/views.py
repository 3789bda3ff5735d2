"""Staff screens for orders: the list and its exports, the entry form, the detail page, transitions.

Each view serves its page and its htmx fragments (`template#partial`, `Vary: HX-Request`). Reads go
through orders.selectors (scoped); writes through orders.services, the one path every channel shares.
The entry form hands services the raw intake vocabulary and shows intake's messages next to the fields.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.html import format_html_join
from django.utils.timesince import timesince
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from oms.templatetags import oms_dates
from orders import display, export, forms, history_entries, lifecycle, selectors, services
from orders.errors import (
    ConcurrentChange,
    OrderError,
    OrderValidationError,
    OrderVersionConflict,
    TransitionNotAllowed,
)
from orders.models import Channel, Mode, Order, OrderStatus
from orders.templatetags import order_tags
from partners.models import Organisation, OrganisationKind, Role
from partners.permissions import staff_required
from partners.scoping import Scope, scope_for_request
from partners.time_zones import branch_zone, viewer_zone, zone_label

ENTRY_ROLES = (Role.SALES, Role.OPERATIONS)  # admin may do everything (Scope.has_role)
FILTER_PARAMS = (
    "q", "status", "customer", "mode", "branch", "origin", "destination",
    "created_from", "created_to", "pickup_from", "pickup_to", "import",
)  # fmt: skip
_FILTER_ATTRIBUTES = {"import": "import_job"}  # query parameters named unlike their OrderFilters attribute


def _filter_value(filters: selectors.OrderFilters, param: str) -> Any:
    return getattr(filters, _FILTER_ATTRIBUTES.get(param, param))


# Sortable columns of the list, each with the sort a first click on its header gives.
SORT_COLUMNS = (("created", "-created"), ("pickup", "pickup"), ("reference", "reference"), ("customer", "customer"))

View = Callable[..., HttpResponse]


def may_enter_orders(scope: Scope) -> bool:
    return scope.is_staff and scope.has_role(*ENTRY_ROLES)


def order_entry_required(view: View) -> View:
    """Staff whose role creates and edits orders (sales, operations, admin)."""

    @staff_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not may_enter_orders(scope_for_request(request)):
            raise PermissionDenied("Your role may not create or edit orders.")
        return view(request, *args, **kwargs)

    return wrapper


Choices = list[tuple[str, str]]


OrganisationRow = tuple[int, str, str, list[str], str, bool]  # pk, code, name, kinds, time_zone, is_active


def _organisation_rows(*, including: Iterable[str] = ()) -> list[OrganisationRow]:
    """Active customers and our branches, and those of the codes `including` names whatever their state (the
    list filtered by a deactivated customer shows it as its filter), in one query."""
    kinds = [OrganisationKind.CUSTOMER, OrganisationKind.BRANCH]
    wanted = Q(is_active=True) | Q(code__in=[code for code in including if code])
    organisations = Organisation.objects.filter(wanted, kinds__overlap=kinds).order_by("code")
    return list(organisations.values_list("pk", "code", "name", "kinds", "time_zone", "is_active"))


def _organisation_choices(rows: list[OrganisationRow] | None = None) -> tuple[Choices, Choices]:
    """Active customers and our branches as (code, "CODE · Name") pairs, in one query (none if given the rows)."""
    rows = _organisation_rows() if rows is None else rows
    active = [(code, f"{code} · {name}", kinds) for _, code, name, kinds, _, is_active in rows if is_active]
    customers = [(code, label) for code, label, kinds in active if OrganisationKind.CUSTOMER in kinds]
    branches = [(code, label) for code, label, kinds in active if OrganisationKind.BRANCH in kinds]
    return customers, branches


def _fragment_response(response: HttpResponse) -> HttpResponse:
    patch_vary_headers(response, ["HX-Request"])
    return response


def _is_fragment_request(request: HttpRequest) -> bool:
    # A history restore after a cache miss asks for the whole page.
    htmx: Any = getattr(request, "htmx", None)  # set by django_htmx's middleware
    return bool(htmx) and not htmx.history_restore_request


# --- The list ---------------------------------------------------------------------------------


_MODE_LABELS = dict(Mode.choices)
_STATUS_LABELS = dict(OrderStatus.choices)


def _list_rows(orders: list[Order], *, list_path: str) -> list[dict[str, Any]]:
    """The page's rows as plain strings, so the template's row loop resolves each cell with one dict lookup
    (a model attribute lookup, a display method and a filter cost several times as much, 25 rows of 10 cells
    on the busiest screen). The markup stays in the template."""
    return [
        {
            "url": f"{list_path}{order.reference}/",
            "reference": order.reference,
            "customer_code": order.customer.code,
            "customer_name": order.customer.name,
            "customer_reference": order.customer_reference,
            "mode_icon": order_tags.mode_icon(order.mode),
            "mode_label": _MODE_LABELS.get(order.mode, order.mode),
            "mode_short": order_tags.mode_short(order.mode),
            "origin": order.origin_id,
            "destination": order.destination_id,
            "lane_names": f"{order.origin.name} → {order.destination.name}",
            "pickup": oms_dates.oms_date(order.requested_pickup_on),
            # A draft without cargo lines has no totals yet: "—", as on its page.
            "pieces": order_tags.qty(order.pieces_total, 0) if order.pieces_total else display.EMPTY,
            "gross": order_tags.qty(order.gross_weight_kg_total, 1) if order.pieces_total else display.EMPTY,
            "chargeable": order_tags.qty(order.chargeable_weight_kg, 1) if order.pieces_total else display.EMPTY,
            "status": order.status,
            "status_label": _STATUS_LABELS.get(order.status, order.status),
            "created": oms_dates.oms_datetime(timezone.localtime(order.created_at)),
        }
        for order in orders
    ]


def _list_query(filters: selectors.OrderFilters, **changes: Any) -> str:
    """The list's query string with only the parameters in use, e.g. `status=submitted&sort=pickup`."""
    params: dict[str, Any] = {name: _filter_value(filters, name) for name in FILTER_PARAMS}
    params["sort"] = filters.sort if filters.sort != selectors.DEFAULT_SORT else ""
    params["page_size"] = filters.page_size if filters.page_size != selectors.DEFAULT_PAGE_SIZE else ""
    params.update(changes)
    return urlencode({k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in params.items() if v})


def _applied_organisation(code: str, offered: Choices, rows: list[OrganisationRow], kind: str) -> Choices:
    """The option showing a customer or branch filter the drop-down does not offer, so the screen says which filter
    it applied: a deactivated organisation by name, a code that names none as such (the list then is empty)."""
    if not code or any(value == code for value, _ in offered):
        return []
    for _, row_code, name, kinds, _, _ in rows:
        if row_code == code and kind in kinds:
            return [(code, f"{code} · {name} (inactive)")]
    noun = "customer" if kind == OrganisationKind.CUSTOMER else "branch"
    return [(code, f"{code} · no {noun} has this code")]


def _filter_selects(
    filters: selectors.OrderFilters, *, rows: list[OrganisationRow], customers: Choices, branches: Choices
) -> list[dict[str, Any]]:
    """The filter bar's drop-downs, their options already HTML: a template loop costs a node per option
    attribute, and the customer list alone has dozens of options on every page."""
    customers = customers + _applied_organisation(filters.customer, customers, rows, OrganisationKind.CUSTOMER)
    branches = branches + _applied_organisation(filters.branch, branches, rows, OrganisationKind.BRANCH)
    specs = (
        ("status", "State", "All states", OrderStatus.choices),
        ("customer", "Customer", "All customers", customers),
        ("mode", "Mode", "All modes", Mode.choices),
        ("branch", "Branch", "All branches", branches),
    )
    return [
        {
            "name": name,
            "label": label,
            "options": format_html_join(
                "",
                '<option value="{}"{}>{}</option>',
                (
                    (value, " selected" if value == getattr(filters, name) else "", text)
                    for value, text in [("", everything), *options]
                ),
            ),
        }
        for name, label, everything, options in specs
    ]


def _sort_links(filters: selectors.OrderFilters) -> dict[str, dict[str, str]]:
    """For each sortable column: the link that sorts by it (or flips it) and the current direction."""
    links = {}
    for column, first in SORT_COLUMNS:
        current = filters.sort.lstrip("-") == column
        target = (filters.sort[1:] if filters.sort.startswith("-") else f"-{column}") if current else first
        direction = ("desc" if filters.sort.startswith("-") else "asc") if current else ""
        links[column] = {"url": "?" + _list_query(filters, sort=target, cursor=""), "direction": direction}
    return links


@staff_required
@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    """A list over every branch, so on the viewer's own branch's clock (docs/planning.md, "Which clock a screen
    uses"): the Created column, and the days "created from / to" count (selectors._start_of_day)."""
    scope = scope_for_request(request)
    filters = forms.OrderFilterForm(request.GET).to_filters()
    rows = _organisation_rows(including=(filters.customer, filters.branch))
    zone = viewer_zone(scope)  # read with the memberships: no query
    with timezone.override(zone):
        return _order_list(request, scope, filters, rows, zone)


def _order_list(
    request: HttpRequest,
    scope: Scope,
    filters: selectors.OrderFilters,
    organisations: list[OrganisationRow],
    zone: datetime.tzinfo,
) -> HttpResponse:
    customers, branches = _organisation_choices(organisations)
    page = selectors.order_list_for(scope=scope, filters=filters)
    query = _list_query(filters)
    context = {
        "time_zone": zone_label(zone),
        "list_path": reverse("orders:list"),
        "search_max_length": forms.SEARCH_MAX_LENGTH,
        "selects": _filter_selects(filters, rows=organisations, customers=customers, branches=branches),
        "filters": filters,
        "page": page,
        "rows": _list_rows(page.orders, list_path=reverse("orders:list")),
        "sort_label": selectors.SORTS[page.sort].label,
        "sort_links": _sort_links(filters),
        "export_query": query,
        "next_url": "?" + _list_query(filters, cursor=page.next_cursor) if page.next_cursor else "",
        "previous_url": "?" + _list_query(filters, cursor=page.previous_cursor) if page.previous_cursor else "",
        "first_url": "?" + query if not page.is_first else "",
        "size_links": [
            {
                "size": size,
                "url": "?" + _list_query(filters, page_size=size if size != selectors.DEFAULT_PAGE_SIZE else ""),
                "current": size == page.page_size,
            }
            for size in selectors.PAGE_SIZES
        ],
        "has_filters": any(_filter_value(filters, name) for name in FILTER_PARAMS),
        "without_import_url": "?" + _list_query(filters, **{"import": "", "cursor": ""}),
        "may_enter": may_enter_orders(scope),
    }
    if _is_fragment_request(request):
        # The results alone, without the request's context processors: the fragment shows no navigation,
        # and computing it (menu counts, the user's organisation) would double the cost of each filter change.
        response = HttpResponse(get_template("orders/order_list.html#results").render(context))
        # The address bar shows the tidy query (no empty parameters), so it can be bookmarked and shared.
        canonical = _list_query(filters, cursor=filters.cursor)
        response["HX-Push-Url"] = reverse("orders:list") + (f"?{canonical}" if canonical else "")
        return _fragment_response(response)
    return _fragment_response(render(request, "orders/order_list.html", context))


@staff_required  # type: ignore[arg-type]  # typed for HttpResponse; streamed responses pass through alike
@require_GET
def order_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """Every order matching the list's filters (not only the page shown), as CSV or XLSX, on the list's clock: the
    filters' days are the viewer's, and so are the file's times and name (the export says which: orders.export)."""
    scope = scope_for_request(request)
    zone = viewer_zone(scope)  # read with the memberships: no query
    filters = forms.OrderFilterForm(request.GET).to_filters()
    with timezone.override(zone):  # the filters' days; the rows are read later, as the response streams
        queryset = selectors.order_queryset_for(scope=scope, filters=filters)
    filename = f"orders-{timezone.localtime(timezone=zone):%Y%m%d-%H%M}.{fmt}"
    if fmt == "csv":
        return export.csv_response(queryset, filename=filename, zone=zone)
    if fmt == "xlsx":
        return export.xlsx_response(queryset, filename=filename, zone=zone)
    raise Http404("Export as csv or xlsx.")


# --- Entry form -------------------------------------------------------------------------------


def _render_entry(
    request: HttpRequest,
    entry: forms.OrderEntry,
    *,
    order: Order | None = None,
    source: Order | None = None,
    version: str = "",
    conflict: dict[str, Any] | None = None,
) -> HttpResponse:
    codes = [entry.order[name].value() or "" for name in ("origin", "destination")]
    context = {
        "entry": entry,
        "order": order,
        "version": version,
        "conflict": conflict,
        "saved_values": conflict["saved_values"] if conflict else {},
        "source": source,
        "locations": selectors.locations_by_code(codes),
        "customer_name": order.customer.name if order else "",
        "action": reverse("orders:edit", args=[order.reference]) if order else reverse("orders:new"),
        "container_types": forms.COMMON_CONTAINER_TYPES,
        "next_line_key": entry.next_line_key,
    }
    status = 422 if entry.error_count else 409 if conflict else 200
    return render(request, "orders/order_form.html", context, status=status)


def _wants_submit(request: HttpRequest) -> bool:
    return request.POST.get("action") == "submit"


@order_entry_required
@require_http_methods(["GET", "POST"])
def order_new(request: HttpRequest) -> HttpResponse:
    scope = scope_for_request(request)
    customers, branches = _organisation_choices()
    if request.method != "POST":
        return _render_entry(request, forms.entry_from_data({}, customers=customers, branches=branches))
    entry = forms.entry_from_post(request.POST, customers=customers, branches=branches)
    submit = _wants_submit(request)
    try:
        order = services.order_create(
            data=entry.as_intake_data(draft=not submit), scope=scope, by=request.user, channel=Channel.SCREEN,
            submit=submit,
        )  # fmt: skip
    except OrderValidationError as exc:
        entry.attach_errors(exc.errors)
        return _render_entry(request, entry)
    except OrderError as exc:  # e.g. the role may save drafts but not submit them
        entry.errors.append(str(exc))
        return _render_entry(request, entry)
    messages.success(request, f"{order.reference} {'submitted' if submit else 'saved as a draft'}.")
    return redirect(order)


@order_entry_required
@require_http_methods(["GET", "POST"])
def order_edit(request: HttpRequest, reference: str) -> HttpResponse:
    """Edit a draft. The form carries the version it was opened at; a save after someone else's is refused and the
    form comes back with everything typed, what changed and the new version, so saving again overwrites knowingly."""
    scope = scope_for_request(request)
    order = selectors.order_get_for(scope=scope, reference=reference)
    if not order.is_editable:
        messages.info(request, f"{order.reference} is {order.get_status_display().lower()}; only drafts can be edited.")
        return redirect(order)
    customers, branches = _organisation_choices()
    if request.method != "POST":
        data = services.order_as_data(order)
        entry = forms.entry_from_data(data, customers=customers, branches=branches, customer_locked=True)
        return _render_entry(request, entry, order=order, version=services.order_version(order))
    entry = forms.entry_from_post(
        request.POST, customers=customers, branches=branches, locked_customer=order.customer.code
    )
    version = request.POST.get("version", "")  # absent from a page opened before versions existed: no check
    submit = _wants_submit(request)
    try:
        order = services.order_update(
            order=order, data=entry.as_intake_data(draft=not submit), scope=scope, by=request.user,
            channel=Channel.SCREEN, expected_version=version or None, submitting=submit,
        )  # fmt: skip
    except OrderVersionConflict:
        return _edit_conflict(
            request, entry, reference=order.reference, version=version, scope=scope, customers=customers,
            branches=branches,
        )  # fmt: skip
    except OrderValidationError as exc:
        entry.attach_errors(exc.errors)
        return _render_entry(request, entry, order=order, version=version)
    except OrderError as exc:  # it stopped being a draft while the form was open
        messages.error(request, str(exc))
        return redirect(order)
    if not submit:
        messages.success(request, f"{order.reference} saved.")
        return redirect(order)
    try:
        order = services.order_submit(order=order, scope=scope, by=request.user, channel=Channel.SCREEN)
    except TransitionNotAllowed as exc:
        messages.warning(request, f"{order.reference} saved, but not submitted: {exc}")
        return redirect(order)
    messages.success(request, f"{order.reference} saved and submitted.")
    return redirect(order)


def _ago(moment: datetime.datetime) -> str:
    if timezone.now() - moment < datetime.timedelta(minutes=1):
        return "less than a minute ago"
    return f"{timesince(moment)} ago"


def _edit_conflict(
    request: HttpRequest,
    entry: forms.OrderEntry,
    *,
    reference: str,
    version: str,
    scope: Scope,
    customers: Choices,
    branches: Choices,
) -> HttpResponse:
    """The edit form again after a refused save: the person's input as they typed it, an alert saying who saved
    the order when, the saved value under each field that differs, and the order's current version, which the
    next save is made against."""
    current = selectors.order_get_for(scope=scope, reference=reference)  # as it is now, saved by the other person
    if not current.is_editable:
        messages.error(
            request, f"{current.reference} is {current.get_status_display().lower()}; only drafts can be edited."
        )
        return redirect(current)
    # Said of the version read here, which the form carries from now on (a third save may have come in between).
    conflict = services.order_version_conflict(order=current, expected_version=version, scope=scope, by=request.user)
    if conflict is None:  # cannot happen (versions only move on); nothing to warn about then
        return _render_entry(request, entry, order=current, version=version)
    saved = forms.entry_from_data(
        services.order_as_data(current), customers=customers, branches=branches, customer_locked=True
    )
    saved_values, lines_differ = forms.entry_differences(entry, saved)
    context = {
        "changed_at": conflict.changed_at,
        "changed_by": conflict.changed_by,
        "ago": _ago(conflict.changed_at),
        "saved_values": saved_values,
        "fields": [(entry.order[name].label, entry.order[name].auto_id) for name in saved_values],
        "lines_differ": lines_differ,
    }
    return _render_entry(request, entry, order=current, version=conflict.current_version, conflict=context)


@order_entry_required
@require_GET
def order_duplicate(request: HttpRequest, reference: str) -> HttpResponse:
    """The entry form prefilled from an existing order: same parties, lane and cargo; new references and dates."""
    source = selectors.order_get_for(scope=scope_for_request(request), reference=reference)
    data = services.order_duplicate_data(order=source)
    customers, branches = _organisation_choices()
    entry = forms.entry_from_data(data, customers=customers, branches=branches)
    return _render_entry(request, entry, source=source)


@order_entry_required
@require_GET
def order_line_row(request: HttpRequest) -> HttpResponse:
    """A blank cargo-line row for the entry form, and the "Add line" button that will ask for the next one."""
    try:
        key = int(request.GET.get("key", ""))
    except ValueError:
        key = -1
    if not 0 <= key < 10_000:
        raise Http404("Line key out of range.")
    context = {"line": forms.LineForm(prefix=f"lines-{key}"), "next_line_key": key + 1}
    return _fragment_response(render(request, "orders/order_form.html#new-line", context))


@staff_required
@require_GET
def location_options(request: HttpRequest) -> HttpResponse:
    """The location picker's dropdown: locations matching `q` by code, IATA code or name."""
    query = request.GET.get("q", "")[:60]
    context = {"locations": selectors.location_search(query=query), "query": query.strip()}
    return _fragment_response(render(request, "orders/location_options.html", context))


# --- Detail and transitions -------------------------------------------------------------------


def _detail_context(order: Order, scope: Scope) -> dict[str, Any]:
    return {
        "order": order,
        "time_zone": zone_label(branch_zone(order.branch)),
        "transitions": lifecycle.available_transitions(order, scope),
        "history": history_entries.order_history_for(order=order),
        "may_enter": may_enter_orders(scope),
        "store_cancellation": selectors.store_cancellation_for(order=order),
        "lines": list(order.lines.all()),
        "equipment": list(order.equipment.all()),
        "parties": [
            ("Shipper", order.shipper_name, order.shipper_address),
            ("Consignee", order.consignee_name, order.consignee_address),
            ("Notify party", order.notify_name, order.notify_address),
        ],
        "route": [
            ("Origin", order.origin, order.origin_address),
            ("Destination", order.destination, order.destination_address),
        ],
    }


@staff_required
@require_GET
def order_detail(request: HttpRequest, reference: str) -> HttpResponse:
    scope = scope_for_request(request)
    order = selectors.order_get_for(scope=scope, reference=reference)
    if _is_fragment_request(request) and request.GET.get("part") == "status":
        # The status panel asks again when another panel changed the order (`oms:order-changed`: a task done on
        # the tasks panel opens a step); the badge, header actions and history come out of band with it.
        context = {
            "order": order,
            "transitions": lifecycle.available_transitions(order, scope),
            "history": history_entries.order_history_for(order=order),
            "may_enter": may_enter_orders(scope),
        }
        with timezone.override(branch_zone(order.branch)):
            return _fragment_response(render(request, "orders/order_detail.html#status-refresh", context))
    # One order's page runs on its branch's clock, as its tracking card and shipments do (docs/planning.md).
    with timezone.override(branch_zone(order.branch)):
        return _fragment_response(render(request, "orders/order_detail.html", _detail_context(order, scope)))


def _take_transition(*, order: Order, name: str, reason: str, request: HttpRequest, scope: Scope) -> Order:
    common: dict[str, Any] = {"order": order, "scope": scope, "by": request.user, "channel": Channel.SCREEN}
    if name == "submit":
        return services.order_submit(**common)
    if name == "cancel":
        return services.order_cancel(**common, reason=reason)
    return services.order_transition(**common, name=name, reason=reason)


@staff_required
@require_POST
def order_transition(request: HttpRequest, reference: str, name: str) -> HttpResponse:
    """Take one lifecycle transition; the form says which state its user saw, so a stale page cannot win."""
    if name not in lifecycle.TRANSITIONS:
        raise Http404("No such transition.")
    scope = scope_for_request(request)
    order = selectors.order_get_for(scope=scope, reference=reference)
    posted = forms.TransitionForm(request.POST)
    try:
        if refusal := posted.refusal():
            raise TransitionNotAllowed(f"Not done. {refusal}")
        seen = posted.cleaned_data["seen_status"]
        if seen and seen != order.status:
            # The page was older than the order: the same refusal lifecycle.apply gives a lost race.
            now = OrderStatus(order.status).label.lower()
            raise ConcurrentChange(f"The order changed meanwhile: it is now {now}. Reload it and try again.")
        reason = posted.cleaned_data["reason"]
        order = _take_transition(order=order, name=name, reason=reason, request=request, scope=scope)
    except TransitionNotAllowed as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{order.reference} is now {OrderStatus(order.status).label.lower()}.")
    if _is_fragment_request(request):
        order = selectors.order_get_for(scope=scope, reference=order.reference)
        context = _detail_context(order, scope)
        with timezone.override(branch_zone(order.branch)):
            response = _fragment_response(render(request, "orders/order_detail.html#transition-response", context))
        response["HX-Trigger"] = "oms:tasks-changed"  # the tasks panel (workflows) reloads itself on it
        return response
    return redirect(order)
