"""Reads about orders that staff screens and exports share, already scoped and already joined.

Every read starts from `orders_visible_to`, which applies the one scoping rule
(`scope.restrict(..., customer="customer_id")`; partners see no orders until shipments assign them).
The list pages with a keyset ("seek") cursor instead of OFFSET and never counts: a deep page costs the
same as the first, because the database starts reading the index at the cursor instead of skipping rows.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from django.db.models import Case, F, Prefetch, Q, QuerySet, Subquery, Value, When
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan  # (a, b) < (x, y)
from django.db.models.functions import Upper
from django.shortcuts import get_object_or_404
from django.utils import timezone

from orders import identifiers
from orders.models import (
    Channel,
    DeliveryOutcome,
    Location,
    Order,
    OrderTransition,
    WebhookDelivery,
)
from partners.models import Organisation
from partners.scoping import Scope

PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = 25
# The columns the list shows and sorts by, and those of the rows it joins: nothing wider is read, so a page
# is one narrow query (addresses, instructions and search text stay on disk). The branch is not joined:
# the list does not show it (our reference starts with its code) and every joined row costs a model.
LIST_RELATED = ("customer", "origin", "destination")
LIST_COLUMNS = (
    "reference", "customer_reference", "mode", "status", "requested_pickup_on", "pieces_total",
    "gross_weight_kg_total", "volume_m3_total", "chargeable_weight_kg", "created_at",
    "customer__code", "customer__name", "origin__name", "origin__country", "destination__name",
    "destination__country",
)  # fmt: skip
# A reference we issue: branch code, two-digit year, serial (HAM-26-000123).
REFERENCE_RE = re.compile(r"^[A-Z0-9]{2,10}-\d{2}-\d{4,}$")


# --- Sorting and the keyset cursor ------------------------------------------------------------


@dataclass(frozen=True)
class SortKey:
    """One column of a sort: the ORM path, how to read it from a row, and how to read it from a cursor."""

    path: str
    descending: bool
    read: Callable[[Order], Any]
    parse: Callable[[Any], Any]


def _parse_datetime(value: Any) -> datetime.datetime:
    parsed = datetime.datetime.fromisoformat(str(value))
    if timezone.is_naive(parsed):
        raise ValueError("cursor timestamps carry their offset")
    return parsed


def _parse_date(value: Any) -> datetime.date:
    return datetime.date.fromisoformat(str(value))


def _parse_int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("not an integer")
    return value


def _parse_str(value: Any) -> str:
    if not isinstance(value, str) or "\x00" in value:  # PostgreSQL refuses NUL in text: a forged cursor
        raise ValueError("not a string")
    return value


# For each sortable column: how to read it from a row and from a cursor.
_READERS: dict[str, tuple[Callable[[Order], Any], Callable[[Any], Any]]] = {
    "created_at": (attrgetter("created_at"), _parse_datetime),
    "requested_pickup_on": (attrgetter("requested_pickup_on"), _parse_date),
    "reference": (attrgetter("reference"), _parse_str),
    "customer__code": (attrgetter("customer.code"), _parse_str),
    "id": (attrgetter("pk"), _parse_int),
}


def _key(path: str, descending: bool) -> SortKey:
    read, parse = _READERS[path]
    return SortKey(path, descending, read, parse)


@dataclass(frozen=True)
class Sort:
    label: str
    keys: tuple[SortKey, ...]  # the last key is always the id, so every position is unique

    def reversed(self) -> tuple[SortKey, ...]:
        return tuple(SortKey(k.path, not k.descending, k.read, k.parse) for k in self.keys)


# Every sort that keeps one direction compares whole rows, `(created_at, id) < (%s, %s)`, which
# PostgreSQL turns into an index boundary; the customer sort mixes directions and spells it out.
SORTS: dict[str, Sort] = {
    "-created": Sort("Newest first", (_key("created_at", True), _key("id", True))),
    "created": Sort("Oldest first", (_key("created_at", False), _key("id", False))),
    "pickup": Sort("Pickup date, earliest first", (_key("requested_pickup_on", False), _key("id", False))),
    "-pickup": Sort("Pickup date, latest first", (_key("requested_pickup_on", True), _key("id", True))),
    "reference": Sort("Reference A–Z", (_key("reference", False), _key("id", False))),
    "-reference": Sort("Reference Z–A", (_key("reference", True), _key("id", True))),
    "customer": Sort(
        "Customer A–Z, newest first", (_key("customer__code", False), _key("created_at", True), _key("id", True))
    ),
    "-customer": Sort(
        "Customer Z–A, newest first", (_key("customer__code", True), _key("created_at", True), _key("id", True))
    ),
}
DEFAULT_SORT = "-created"


def _ordering(keys: Sequence[SortKey]) -> list[Any]:
    return [F(k.path).desc() if k.descending else F(k.path).asc() for k in keys]


def _after(keys: Sequence[SortKey], values: Sequence[Any]) -> Q:
    """Rows strictly after `values` in the order `keys` describes."""
    if len({k.descending for k in keys}) == 1:
        row = Tuple(*(F(k.path) for k in keys))
        lookup = TupleLessThan if keys[0].descending else TupleGreaterThan
        return Q(lookup(row, tuple(values)))
    condition, equal_so_far = Q(pk__in=[]), Q()
    for k, value in zip(keys, values, strict=True):
        condition |= equal_so_far & Q(**{f"{k.path}__{'lt' if k.descending else 'gt'}": value})
        equal_so_far &= Q(**{k.path: value})
    return condition


def _encode_cursor(sort: str, direction: str, row: Order) -> str:
    values = [SORTS[sort].keys[i].read(row) for i in range(len(SORTS[sort].keys))]
    payload = {"s": sort, "d": direction, "k": [v.isoformat() if hasattr(v, "isoformat") else v for v in values]}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True)
class Cursor:
    direction: str  # "next": rows after the key; "prev": rows before it
    values: tuple[Any, ...]


def decode_cursor(token: str, *, sort: str) -> Cursor | None:
    """The cursor in `token` when it is well formed and made for this sort; None sends the reader to page 1."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
        if payload["s"] != sort or payload["d"] not in ("next", "prev"):
            return None
        keys = SORTS[sort].keys
        if len(payload["k"]) != len(keys):
            return None
        values = tuple(k.parse(v) for k, v in zip(keys, payload["k"], strict=True))
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        return None
    return Cursor(payload["d"], values)


# --- The list ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderFilters:
    """What the order list is asked for. Empty values filter nothing."""

    status: str = ""
    customer: str = ""  # organisation code
    mode: str = ""
    branch: str = ""  # organisation code
    origin: str = ""  # UN/LOCODE
    destination: str = ""  # UN/LOCODE
    created_from: datetime.date | None = None
    created_to: datetime.date | None = None
    pickup_from: datetime.date | None = None
    pickup_to: datetime.date | None = None
    import_job: uuid.UUID | None = None  # the orders an order file created (its ImportJob; `?import=` on the list)
    q: str = ""
    sort: str = DEFAULT_SORT
    cursor: str = ""
    page_size: int = DEFAULT_PAGE_SIZE


@dataclass
class OrderPage:
    """One page of the list, with the cursors of its neighbours (None at either end)."""

    orders: list[Order]
    sort: str
    page_size: int
    next_cursor: str | None = None
    previous_cursor: str | None = None
    is_first: bool = True

    def __iter__(self) -> Iterator[Order]:
        return iter(self.orders)

    def __len__(self) -> int:
        return len(self.orders)


def orders_visible_to(*, scope: Scope) -> QuerySet[Order]:
    """Staff see every order, customers their own; partners none until shipments assign them orders."""
    return scope.restrict(Order.objects.all(), customer="customer_id")


def _start_of_day(day: datetime.date) -> datetime.datetime:
    """00:00 of `day` on the current time zone's clock, where "created from / to" days begin: the order list and
    its exports run on the viewer's clock (views.order_list), so a Shanghai planner's 7 December is 7 December
    in Shanghai (6 December 16:00 to 7 December 16:00 UTC). Where a clock skips midnight, the day starts when
    the clock jumps."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _organisation_id(code: str) -> Subquery:
    # A sub-select rather than a join: PostgreSQL resolves it once and then seeks the order indexes
    # that start with customer_id or branch_id.
    return Subquery(Organisation.objects.filter(code=code.upper()).values("pk")[:1])


def search_text(query: str) -> str:
    """Typed search text as PostgreSQL can compare it: without NUL, which the database refuses in a query (a
    DataError, so a 500 for `?q=%00`) and which no stored text holds, so dropping it loses no match."""
    return query.replace("\x00", "")


# Container and air waybill numbers as people write them, in groups separated by spaces, hyphens or slashes:
# "CSQU 305438 3", "CSQU-3054383", "020-12345675", "020-1234567 5", "020 1234 5675". Search text holds them in
# one piece, as intake stores them, and PostgreSQL's parser splits a query at those separators.
_CONTAINER_WRITTEN = re.compile(r"(?<![\w-])[A-Za-z]{3}[UJZujz](?:[ /-]?[0-9]){7}(?![\w-])")
_AWB_WRITTEN = re.compile(r"(?<![\w-])[0-9](?:[ -]?[0-9]){10}(?![\w-])")


def _joined_identifiers(query: str) -> str:
    """The query with each container or AWB number written in groups joined as search text holds it. Only a
    number that passes its check digit is joined: other digits and words are searched as they were typed."""

    def join(match: re.Match[str], problem: Callable[[str], str | None]) -> str:
        written = match.group()
        return written if problem(written) else "".join(written.split()).replace("-", "").replace("/", "").upper()

    query = _CONTAINER_WRITTEN.sub(lambda m: join(m, identifiers.container_number_problem), query)
    return _AWB_WRITTEN.sub(lambda m: join(m, identifiers.awb_number_problem), query)


def _search(queryset: QuerySet[Order], q: str) -> QuerySet[Order]:
    q = _joined_identifiers(search_text(q))
    matches = queryset.search(q)  # type: ignore[attr-defined]
    candidate = q.strip().upper()
    if REFERENCE_RE.fullmatch(candidate):
        # Our references are exact keys; the unique index finds them even where search text lags.
        matches = matches | queryset.filter(reference=candidate)
    return matches


def order_search(*, scope: Scope, query: str, limit: int = 20) -> list[Order]:
    """The newest `limit` orders this scope may see that the order list's search finds for `query` (references,
    parties, goods, containers): the global search box's orders."""
    found = _search(orders_visible_to(scope=scope), query).select_related("customer", "origin", "destination")
    return list(found.order_by("-created_at", "-id")[:limit])


def orders_found(*, queryset: QuerySet[Order], query: str) -> QuerySet[Order]:
    """The orders of `queryset` (already scoped) the order list's search finds for `query`: references, parties,
    goods, containers and AWBs as written (the customer portal's order search)."""
    return _search(queryset, query)


def _filtered(queryset: QuerySet[Order], filters: OrderFilters) -> QuerySet[Order]:
    conditions: dict[str, Any] = {}
    if filters.status:
        conditions["status"] = filters.status
    if filters.customer:
        conditions["customer_id"] = _organisation_id(filters.customer)
    if filters.branch:
        conditions["branch_id"] = _organisation_id(filters.branch)
    if filters.mode:
        conditions["mode"] = filters.mode
    if filters.origin:
        conditions["origin_id"] = filters.origin.replace(" ", "").upper()
    if filters.destination:
        conditions["destination_id"] = filters.destination.replace(" ", "").upper()
    if filters.created_from:
        conditions["created_at__gte"] = _start_of_day(filters.created_from)
    if filters.created_to and filters.created_to < datetime.date.max:  # up to the last day: no limit
        conditions["created_at__lt"] = _start_of_day(filters.created_to + datetime.timedelta(days=1))
    if filters.pickup_from:
        conditions["requested_pickup_on__gte"] = filters.pickup_from
    if filters.pickup_to:
        conditions["requested_pickup_on__lte"] = filters.pickup_to
    if filters.import_job:
        conditions["import_record__job_id"] = filters.import_job  # ImportedOrder: one row per order, by job
    queryset = queryset.filter(**conditions)
    if filters.q.strip():
        queryset = _search(queryset, filters.q)
    return queryset


def order_queryset_for(*, scope: Scope, filters: OrderFilters) -> QuerySet[Order]:
    """Every order the scope may see that matches the filters, in the filters' sort; unpaginated (exports)."""
    sort = SORTS.get(filters.sort, SORTS[DEFAULT_SORT])
    return _filtered(orders_visible_to(scope=scope), filters).order_by(*_ordering(sort.keys))


def order_list_for(*, scope: Scope, filters: OrderFilters) -> OrderPage:
    """One page of the orders the scope may see, in one query whatever the page size or depth."""
    sort_name = filters.sort if filters.sort in SORTS else DEFAULT_SORT
    sort = SORTS[sort_name]
    size = filters.page_size if filters.page_size in PAGE_SIZES else DEFAULT_PAGE_SIZE
    cursor = decode_cursor(filters.cursor, sort=sort_name)
    backwards = cursor is not None and cursor.direction == "prev"
    keys = sort.reversed() if backwards else sort.keys

    queryset = _filtered(orders_visible_to(scope=scope), filters)
    if cursor is not None:
        queryset = queryset.filter(_after(keys, cursor.values))
    queryset = queryset.select_related(*LIST_RELATED).only(*LIST_COLUMNS).order_by(*_ordering(keys))
    rows = list(queryset[: size + 1])  # one extra row says whether another page follows
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()

    page = OrderPage(orders=rows, sort=sort_name, page_size=size, is_first=cursor is None)
    if not rows:
        return page
    has_next = more if not backwards else True
    has_previous = cursor is not None and (more if backwards else True)
    if has_next:
        page.next_cursor = _encode_cursor(sort_name, "next", rows[-1])
    if has_previous:
        page.previous_cursor = _encode_cursor(sort_name, "prev", rows[0])
    page.is_first = not has_previous
    return page


# --- One order --------------------------------------------------------------------------------


def order_get_for(*, scope: Scope, reference: str) -> Order:
    """The order with that reference, with its parties, cargo, equipment and transitions; 404 when not visible."""
    transitions = Prefetch("transitions", queryset=OrderTransition.objects.select_related("by", "api_key"))
    queryset = orders_visible_to(scope=scope).select_related(
        "customer", "branch", "origin", "destination", "created_by", "shipper", "consignee", "notify_party"
    )
    return get_object_or_404(
        queryset.prefetch_related("lines", "equipment", transitions), reference=reference.strip().upper()
    )


def location_search(*, query: str, limit: int = 10) -> list[Location]:
    """Active locations for a picker: by UN/LOCODE prefix, IATA code or name, best matches first."""
    return list(locations_matching(Location.objects.filter(is_active=True), query)[:limit])


def locations_matching(locations: QuerySet[Location], query: str) -> QuerySet[Location]:
    """Those of `locations` found by what was typed (UN/LOCODE prefix, IATA code or name), best matches first;
    none for blank text. The pickers of the screens and of the console (orders.admin.LocationAdmin) use it."""
    text = search_text(query).strip().upper()
    if not text:
        return locations.none()
    code = text.replace(" ", "")
    # UPPER(name_ascii) LIKE '%...%' is what the location_name_trgm index serves.
    rank = [When(name_upper__startswith=text, then=Value(3))]
    condition = Q(name_upper__contains=text)
    if code.isalnum() and len(code) <= 5:
        condition |= Q(code__startswith=code)
        rank = [When(code=code, then=Value(0)), When(code__startswith=code, then=Value(2)), *rank]
    if len(code) == 3 and code.isalpha():
        condition |= Q(iata=code)
        rank.insert(1, When(iata=code, then=Value(1)))
    return (
        locations.alias(name_upper=Upper("name_ascii"))
        .filter(condition)
        .annotate(rank=Case(*rank, default=Value(4)))
        .order_by("rank", "name_ascii", "code")
    )


def locations_by_code(codes: Sequence[str]) -> dict[str, Location]:
    """The places of these codes, as typed on a form (spaces and case ignored); a code holding a NUL names none."""
    wanted = {c.replace(" ", "").upper() for c in codes if c and "\x00" not in c}
    if not wanted:
        return {}
    return {location.code: location for location in Location.objects.filter(code__in=wanted)}


@dataclass(frozen=True)
class StoreCancellation:
    """A store's word that it cancelled an order that was already ours (webhooks_shopify._cancelled_after_intake)."""

    received_at: datetime.datetime
    integration: str
    why: str  # "This order was cancelled in the store (cancelled_at …)", or its payment was voided or refunded


def store_cancellation_for(*, order: Order) -> StoreCancellation | None:
    """The latest delivery in which the order's store said it cancelled the order after it became ours, or None.

    Such a delivery is answered as a duplicate with a `detail`, and the order is not cancelled here: it is held
    before its goods move, and left as it is once they do. The order page shows this so that whoever opens the order
    sees what the store said, which only the store read before. Orders that came in another way cost no query."""
    if order.channel != Channel.WEBHOOK:
        return None
    row = (
        WebhookDelivery.objects.filter(order=order, outcome=DeliveryOutcome.DUPLICATE, response__has_key="detail")
        .order_by("-received_at")
        .values("received_at", "integration__name", "response")
        .first()
    )
    if row is None:
        return None
    # The answer reads "<why>, after it became order <reference>…" (addressed to the store): the why is for us.
    why = str(row["response"]["detail"]).partition(", after it became order")[0]
    return StoreCancellation(row["received_at"], row["integration__name"], why)
