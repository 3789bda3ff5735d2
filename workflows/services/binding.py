"""Binding an order to its workflow (the template version that matches it now, with its date-triggered tasks
pending) and the order's workflow context for an event (runs.OrderRun).

Callers hold a transaction; nothing here commits or talks to the network.
"""

from __future__ import annotations

import datetime
from typing import cast

from django.db import connection
from django.utils import timezone

from orders.models import Order
from workflows.models import OrderWorkflow
from workflows.services.config import config_token, workflow_config
from workflows.services.matching import template_pick
from workflows.services.profiles import trade_direction
from workflows.services.runs import _STAMP, Batch, OrderRun
from workflows.services.task_creation import date_drafts


def _insert_workflows(workflows: list[OrderWorkflow]) -> set[int]:
    """Insert the bindings of orders that have none yet; one statement, no savepoint. Returns the order ids
    whose binding this inserted (the others had one: their workflow's pk stays None)."""
    table, now = OrderWorkflow._meta.db_table, timezone.now()
    values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(workflows))
    params = [value for w in workflows for value in (w.order_id, w.template_id, w.version_id, w.trade_direction, now)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (order_id, template_id, version_id, trade_direction, bound_at) "  # noqa: S608 - table name from the model
            f"VALUES {values} ON CONFLICT (order_id) DO NOTHING RETURNING order_id, id",
            params,
        )
        inserted = dict(cursor.fetchall())
    for workflow in workflows:
        workflow.pk = inserted.get(workflow.order_id)
    return set(inserted)


def _loaded_binding(order: Order) -> tuple[bool, OrderWorkflow | None]:
    """(True, the binding or None) when the order was loaded for this event (order_for_event), whose
    binding came with it; (False, None) when it has to be read."""
    if not hasattr(order, _STAMP):
        return False, None
    workflow = Order.workflow.related.get_cached_value(order, default=None)
    return True, cast(OrderWorkflow | None, workflow)


def _run_or_unbound(order: Order, now: datetime.datetime, batch: Batch | None) -> tuple[OrderRun, bool]:
    """The order's run; True when the order has no binding yet (the run carries the one to insert)."""
    config = workflow_config(getattr(order, _STAMP) if hasattr(order, _STAMP) else config_token())
    loaded, workflow = _loaded_binding(order)
    if not loaded:
        workflow = OrderWorkflow.objects.select_related("version").filter(order=order).first()
    elif workflow is not None and workflow.version_id is not None:
        workflow.version = config.version(workflow.version_id)
    if workflow is not None:
        return OrderRun(order, workflow, now, config, batch=batch), False
    run = OrderRun(order, OrderWorkflow(order=order), now, config, batch=batch)
    _match(run)
    return run, True


def _match(run: OrderRun) -> None:
    """Set the template that matches the order now, its current version and the trade direction on the run's
    binding (unsaved)."""
    order = run.order
    direction = trade_direction(
        origin_country=order.origin_id[:2], destination_country=order.destination_id[:2],
        branch_country=run.profile.country,
    )  # a UN/LOCODE starts with its ISO country code  # fmt: skip
    template = template_pick(run.config.templates(), order=order, direction=direction)
    run.workflow.template, run.workflow.trade_direction = template, direction
    run.workflow.version = template.current_version if template else None


def order_runs(orders: list[Order], *, now: datetime.datetime, batch: Batch | None = None) -> list[OrderRun]:
    """The orders' workflow contexts, in their order; binds those not bound yet to their matching template
    version, all in one statement. An order listed twice gets one run, listed twice."""
    runs: dict[int, OrderRun] = {}
    unbound: list[OrderRun] = []
    for order in orders:
        if order.pk not in runs:
            runs[order.pk], needs_binding = _run_or_unbound(order, now, batch)
            if needs_binding:
                unbound.append(runs[order.pk])
    inserted = _insert_workflows([run.workflow for run in unbound]) if unbound else set()
    for run in unbound:
        if run.order.pk not in inserted:
            # Two events of one order handled at once both bound it: the first row wins, this one reads it.
            run.workflow = OrderWorkflow.objects.select_related("version").get(order=run.order)
            continue
        run._tasks = {}  # a newly bound order has no workflow tasks yet
        run._seen = set()  # nor any event remembered (its new row is held until commit)
        run.pending = date_drafts(run)
    return [runs[order.pk] for order in orders]


def order_run(*, order: Order, now: datetime.datetime, batch: Batch | None = None) -> OrderRun:
    """The order's workflow context; binds the order to the matching template version the first time."""
    return order_runs([order], now=now, batch=batch)[0]


def order_run_attached(*, order: Order, now: datetime.datetime) -> OrderRun | None:
    """The workflow context of an order that runs on no template (none matched when it started), bound to the
    one that matches it now; None while none does. Its binding is updated in place, so what it remembers
    (events_seen) stays, and its date-triggered tasks are pending as for a new binding. An order bound to a
    version meanwhile keeps it."""
    run = order_run(order=order, now=now)
    if run.workflow.version_id is not None:
        return run
    _match(run)
    if run.workflow.version is None:
        return None
    run.workflow.bound_at = now
    run.workflow.save(update_fields=["template", "version", "trade_direction", "bound_at"])
    run.pending = date_drafts(run)
    return run
