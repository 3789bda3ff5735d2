"""`{% order_shipments order %}`: the order's shipments on any page, scoped to whoever is looking.

Lets the order page (orders app) show planning without `orders` importing `tracking`: the template asks,
the tag reads through tracking.selectors.shipments_for_order with the request's scope.
"""

from __future__ import annotations

from typing import Any

from django import template

from partners.scoping import scope_for_request
from partners.time_zones import branch_zone, zone_label
from tracking.selectors import shipments_for_order

register = template.Library()


@register.inclusion_tag("tracking/_order_shipments.html", takes_context=True)
def order_shipments(context: Any, order: Any) -> dict[str, Any]:
    scope = scope_for_request(context["request"])
    zone = branch_zone(order.branch)  # the dates of planning, on the clock of the branch that plans (docs/planning.md)
    return {
        "order": order,
        "order_shipments": shipments_for_order(order, scope),
        "is_staff_user": scope.is_staff,
        "zone": zone,
        "zone_name": zone_label(zone),
    }
