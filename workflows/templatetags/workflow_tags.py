"""How task screens say when something is due: relative ("in 3 h", "2 d late") at a glance, the exact time in
the branch's own time zone on hover; and `{% blocked_reason order t %}`, which lets the order page (orders app) link
the tasks a step waits for without `orders` importing `workflows`."""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

from oms.templatetags.oms_dates import datetime_text
from partners.scoping import scope_for_request
from workflows import guards
from workflows.models import Task

register = template.Library()


def _span(delta: datetime.timedelta) -> str:
    seconds = abs(delta.total_seconds())
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min"
    if seconds < 48 * 3600:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} d"


@register.filter
def due_relative(task: Task) -> str:
    """ "in 3 h", "2 d late", "opens in 5 d" or ""."""
    now = timezone.now()
    if task.state == "scheduled" and task.available_at:
        return f"opens in {_span(task.available_at - now)}"
    if task.due_at is None or task.state != "open":
        return ""
    delta = task.due_at - now
    return f"{_span(delta)} late" if delta.total_seconds() < 0 else f"in {_span(delta)}"


@register.filter
def time_ago(moment: datetime.datetime | None) -> str:
    """ "just now", "5 minutes ago", "2 days, 3 hours ago": how long ago, at a glance (the exact time goes beside it,
    on a named clock). Django's timesince says "0 minutes" under a minute, which reads as a fault, and a notice that
    came this instant (a "Due earlier" brought up to date) is the one most often read so."""
    if moment is None:
        return ""
    if (timezone.now() - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment)} ago"


@register.filter
def branch_time(moment: datetime.datetime | None, order: object) -> str:
    """The moment on the wall clock of the order's branch, in the house style: "Fri 14 Mar, 16:00 Europe/Berlin"."""
    if moment is None:
        return ""
    branch = getattr(order, "branch", None)
    try:
        zone = ZoneInfo(getattr(branch, "time_zone", "") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return f"{datetime_text(moment.astimezone(zone), 'weekday')} {zone.key}"


@register.filter
def auto_complete_text(spec: str) -> str:
    """ "state:planned" → "the order is planned"; "document:HBL" → "a HBL document is uploaded"."""
    kind, _, value = spec.partition(":")
    if kind == "state":
        return f"the order is {value.replace('_', ' ')}"
    if kind == "document":
        return f"a {value} document is uploaded"
    if kind == "milestone":
        return f"milestone {value} is recorded"
    return spec


@register.inclusion_tag("workflows/_blocked_reason.html", takes_context=True)
def blocked_reason(context: Any, order: Any, step: dict[str, Any]) -> dict[str, Any]:
    """Why the order cannot take `step` (of lifecycle.available_transitions) yet, the tasks the workflow's guard
    names in it ("Finish first: …") linked to their pages, as the workflow's own screens link them. For the order
    page's status panel: its template asks, as it asks tracking for the order's shipments. Staff only (the links are
    to staff screens; lifecycle tells anyone else no task names anyway). One query for the whole render, however
    many steps tasks block (_blocking_by_step), and none when no task blocks a step."""
    if guards.FINISH_FIRST in (step.get("reason") or "") and scope_for_request(context["request"]).is_staff:
        step = guards.with_task_links(step, _blocking_by_step(context, order).get(step["name"], []))
    return {"t": step}


def _blocking_by_step(context: Any, order: Any) -> dict[str, list[tuple[int, str]]]:
    """The order's blocking tasks of every step (guards.blocking_tasks_by_step), read once per render: kept in the
    template's render context (as Django keeps an inclusion tag's template there), so the steps of one page share
    the query and the next request, or the status panel asking again, reads them afresh."""
    key = (__name__, "blocking", order.pk)
    found: dict[str, list[tuple[int, str]]] | None = context.render_context.get(key)
    if found is None:
        found = context.render_context[key] = guards.blocking_tasks_by_step(order)
    return found
