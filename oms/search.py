"""The staff screens' search box: one query over orders, shipments and organisations.

A reference written as we write it (HAM-26-000150, M-HAM-26-000012) opens that order or shipment at once: that is
what someone pasting a reference from an email wants. Anything else lists what matches, newest first and at most
SHOWN of each: orders by the order list's own search (references, customer references, parties, goods, container
numbers; the `order_search` GIN index), shipments by their reference, bill of lading or air waybill number or a
carrier's booking confirmation number, organisations by code, name, legal name or tax id. Everything goes through
the scope: what someone may not see is never found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import Q

from orders.models import Order
from orders.selectors import REFERENCE_RE, order_search, orders_visible_to, search_text
from partners.models import Organisation
from partners.scoping import Scope
from partners.selectors import organisation_search
from tracking.models import Shipment
from tracking.selectors import shipments_visible_to

SHOWN = 20
QUERY_LIMIT = 100
SHIPMENT_RE = re.compile(r"^[MH]-[A-Z0-9]{2,10}-\d{2}-\d{4,}$")


@dataclass
class SearchResults:
    query: str
    orders: list[Order]
    shipments: list[Shipment]
    organisations: list[Organisation]

    @property
    def more_orders(self) -> bool:
        return len(self.orders) > SHOWN

    @property
    def nothing(self) -> bool:
        return not (self.orders or self.shipments or self.organisations)


def exact_target(*, scope: Scope, query: str) -> str | None:
    """The address of the order or shipment whose reference `query` is, when this scope may see it."""
    candidate = query.strip().upper()
    if REFERENCE_RE.fullmatch(candidate):
        order = orders_visible_to(scope=scope).filter(reference=candidate).only("reference").first()
        return order.get_absolute_url() if order else None
    if SHIPMENT_RE.fullmatch(candidate):
        shipment = shipments_visible_to(scope=scope).filter(reference=candidate).only("reference").first()
        return shipment.get_absolute_url() if shipment else None
    return None


def search_everything(*, scope: Scope, query: str) -> SearchResults:
    """What matches `query` of each kind this scope may see; shipments and organisations are asked with NUL
    already dropped (`search_text`), as the order search drops it."""
    query = search_text(query).strip()[:QUERY_LIMIT]
    numbers = Q(reference=query.upper()) | Q(bill_number__iexact=query) | Q(bookings__carrier_reference__iexact=query)
    shipments = (
        shipments_visible_to(scope=scope)
        .filter(numbers)
        .select_related("order", "carrier", "origin", "destination")
        .distinct()
        .order_by("-created_at", "-id")[:SHOWN]
    )
    return SearchResults(
        query=query,
        orders=order_search(scope=scope, query=query, limit=SHOWN + 1),
        shipments=list(shipments),
        organisations=list(organisation_search(scope=scope, query=query, limit=SHOWN)),
    )
