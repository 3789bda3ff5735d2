"""Holds the carrier reports (the CUSTOMS_HOLD milestone: customs, or the carrier's own hold), as the workflow acts
on them. Whether a hold is current is exception detection's notion (tracking.exceptions.rules.standing_reports),
applied to the reports on the order's cargo (tracking.exceptions.facts.order_signals), never a second one:

- a hold report that no longer stands when the workflow sees it (its release happened later, though it was
  recorded first: out-of-order delivery), or that repeats a hold already reported, runs no "milestone recorded"
  rule: the rules' run says why (hold_report_not_current);
- a report that clears holds (import or export cleared, available, out for delivery, delivered), once no hold
  stands on the order's cargo any more, completes the open tasks the hold's rules made and releases the order
  when one of those rules put it on hold (holds_cleared). A hold a person put on is theirs to release.
See docs/exceptions.md, "Holds and the order".
"""

from __future__ import annotations

import logging

from orders import services as order_services
from orders.errors import TransitionNotAllowed
from orders.models import Channel, OrderStatus, OrderTransition
from tracking.exceptions import codes
from tracking.exceptions.facts import Signal, order_signals
from tracking.exceptions.rules import HOLD_KINDS, milestone_words, standing_reports, when_text
from workflows.models import RuleRun, Task, TaskState
from workflows.services.engine import OrderRun, close_tasks
from workflows.services.rules import AUTOMATION_SCOPE

logger = logging.getLogger(__name__)

HOLD = codes.HOLD
# Reports that clear a customs or a carrier hold.
CLEARING = frozenset(code for kind in HOLD_KINDS for code in codes.CLEARS[kind])


def _event_pk(event_id: str | int) -> int | None:
    text = str(event_id)
    return int(text) if text.isdigit() else None


def _standing_holds(signals: list[Signal]) -> list[list[Signal]]:
    """Each hold standing on the order's cargo: its reports since its last release, oldest first."""
    standing, _ = standing_reports(signals)
    return [reports for (kind, _), reports in standing.items() if kind in HOLD_KINDS]


def hold_report_not_current(*, order_id: int, event_id: str | int) -> str:
    """Why the rules must not act on this hold report ("" when they may): it no longer stands, or it repeats a
    hold already reported. A report that is not a stored hold on the order's cargo is not judged ("")."""
    pk = _event_pk(event_id)
    if pk is None:
        return ""
    signals = order_signals(order_id)
    report = next((s for s in signals if s.id == pk and s.milestone == HOLD), None)
    if report is None:
        return ""
    hold = next((reports for reports in _standing_holds(signals) if report in reports), None)
    if hold is None:
        later = (s for s in signals if (s.event_at, s.id) > (report.event_at, report.id))
        release = next((s for s in later if s.milestone in CLEARING), None)
        after = f" ({milestone_words(release.milestone)} on {when_text(release.event_at)})" if release else ""
        return (
            f"Not run: the hold reported for {when_text(report.event_at)} was already released{after} when its "
            "report arrived."
        )
    first = min(hold, key=lambda s: s.id)  # the report of this hold that was recorded first
    if first.id != pk:
        return f"Not run: the carrier repeated the hold it reported for {when_text(first.event_at)} (the same hold)."
    return ""


def holds_cleared(run: OrderRun, *, code: str, event_id: str | int) -> None:
    """A report that may clear holds was recorded on the order. When no hold stands on its cargo any more: complete
    the open tasks that the rules run on its hold reports made, and release the order if such a rule held it (one
    "release" transition, back to the status it was held in, its reason naming the release)."""
    if code not in CLEARING:
        return
    order = run.order
    keys = RuleRun.objects.filter(order=order, event_key__startswith=f"milestone:{order.pk}:{HOLD}:")
    rule_ids = set(keys.values_list("rule_id", flat=True))
    if not rule_ids:
        return  # no rule ever acted on a hold of this order
    signals = order_signals(order.pk)
    if _standing_holds(signals):
        return  # another hold (or this one, released out of order) still stands
    pk = _event_pk(event_id)
    release = next((s for s in signals if s.id == pk), None)
    what = f"{milestone_words(code)} on {when_text(release.event_at)}" if release else milestone_words(code)
    if run.batch is not None:
        run.batch.flush()
    tasks = list(
        Task.objects.select_for_update()
        .filter(order=order, rule_id__in=rule_ids, state__in=[TaskState.OPEN, TaskState.SCHEDULED])
        .filter(source_key__contains=f":milestone:{order.pk}:{HOLD}:")
    )
    if tasks:
        close_tasks(
            tasks, state=TaskState.DONE, by=None, now=run.now, verb="completed",
            detail=f"The hold was released: {what}.", pending=run.load_changes,
        )  # fmt: skip
        run.forget_tasks()
    if order.status != OrderStatus.ON_HOLD:
        return
    held = OrderTransition.objects.filter(order=order, target=OrderStatus.ON_HOLD).order_by("-at", "-pk").first()
    rule_id = ((held.payload or {}).get("automation") or {}).get("rule") if held else None
    if rule_id not in rule_ids:
        return  # a person (or a rule for something else) put it on hold: theirs to release
    try:
        moved = order_services.order_transition(
            order=order, name="release", scope=AUTOMATION_SCOPE, channel=Channel.SYSTEM,
            reason=f"Hold released: {what}.",
            payload={"automation": {"rule": rule_id, "chain": [rule_id]}, "released_by_event": pk},
        )  # fmt: skip
    except TransitionNotAllowed as exc:
        logger.info("Order %s stays on hold after its hold cleared: %s", order.reference, exc)
        return
    run.order_moved(moved)
