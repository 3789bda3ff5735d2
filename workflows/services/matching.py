"""Which workflow template an order runs on: the most specific active template whose criteria all match."""

from __future__ import annotations

from collections.abc import Iterable

from orders.models import Order
from workflows.models import WorkflowTemplate


def _matches(template: WorkflowTemplate, order: Order, direction: str) -> bool:
    return (
        template.mode in ("", order.mode)
        and template.service_level in ("", order.service_level)
        and template.customer_id in (None, order.customer_id)
        and template.branch_id in (None, order.branch_id)
        and template.trade_direction in ("", direction)
    )


def template_pick(templates: Iterable[WorkflowTemplate], *, order: Order, direction: str) -> WorkflowTemplate | None:
    """The most specific of these templates (active ones with a published version) matching the order."""
    candidates = (template for template in templates if _matches(template, order, direction))
    return max(candidates, key=WorkflowTemplate.specificity, default=None)


def template_match(*, order: Order, direction: str) -> WorkflowTemplate | None:
    """The most specific active, published template matching the order (see WorkflowTemplate.specificity).
    Reads the templates; event handling picks from its kept configuration instead (services.config)."""
    active = WorkflowTemplate.objects.filter(is_active=True, current_version__isnull=False)
    return template_pick(active.select_related("current_version"), order=order, direction=direction)
