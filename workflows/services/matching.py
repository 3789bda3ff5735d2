"""Which workflow template an order runs on: the most specific active template whose criteria all match."""

from __future__ import annotations

from django.db.models import Q

from orders.models import Order
from workflows.models import WorkflowTemplate


def template_match(*, order: Order, direction: str) -> WorkflowTemplate | None:
    """The most specific active, published template matching the order (see WorkflowTemplate.specificity)."""
    candidates = WorkflowTemplate.objects.filter(
        Q(mode="") | Q(mode=order.mode),
        Q(service_level="") | Q(service_level=order.service_level),
        Q(customer__isnull=True) | Q(customer_id=order.customer_id),
        Q(branch__isnull=True) | Q(branch_id=order.branch_id),
        Q(trade_direction="") | Q(trade_direction=direction),
        is_active=True,
        current_version__isnull=False,
    ).select_related("current_version")
    return max(candidates, key=WorkflowTemplate.specificity, default=None)
