"""Holds on an order that automation put on, and their release. Two kinds of rule put an order on hold by
themselves: a "milestone recorded" rule for a hold the carrier reports (the CUSTOMS_HOLD milestone: customs, or the
carrier's own hold), and an "exception opened" rule for an exception tracking opened on the order's cargo. Whether
a hold is current is exception detection's notion (tracking.exceptions.rules.standing_reports), applied to the
reports on the order's cargo (tracking.exceptions.facts.order_signals), never a second one:

- a hold report that no longer stands when the workflow sees it (its release happened later, though it was
  recorded first: out-of-order delivery), or that repeats a hold already reported, runs no "milestone recorded"
  rule: the rules' run says why (hold_report_not_current);
- a report that clears holds (import or export cleared, available, out for delivery, delivered), once no hold
  stands on the order's cargo any more, completes the open tasks the hold's rules made (holds_cleared);
- an exception resolving completes the open tasks its rules made (workflows.services.exceptions);
- either then releases the order when such a rule put it on hold and nothing holds it any more: no hold stands
  on its cargo that a hold rule acted on, and no exception that still concerns the order is unresolved whose rule
  would hold it (held_order_release: one "release" transition, back to the status it was held in, its reason naming
  what cleared; an order released to planned whose cargo is booked no more, its house taken off the booked master
  while it was held, goes back to confirmed right after: tracking's booking_orders.released_order_unplan). A hold a
  person put on is theirs to release;
- an order taken off an open exception's shipment is released from the hold that exception's rule put on it (a
  hold taken before its payload named the rule's run too, when the rule's runs say it was this exception's), when
  nothing else holds it, and held again for the same run when it is put back while the exception is open
  (exception_hold_release, exception_hold_again).
See docs/exceptions.md, "Holds and the order", and decision 0004.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import Exists, OuterRef, Q

from orders import services as order_services
from orders.errors import TransitionNotAllowed
from orders.models import Channel, Order, OrderStatus, OrderTransition
from tracking.exceptions import codes
from tracking.exceptions.facts import Signal, order_signals, order_zone
from tracking.exceptions.models import UNRESOLVED_STATUSES
from tracking.exceptions.rules import HOLD_KINDS, milestone_words, standing_reports, when_text
from tracking.exceptions.services.announcing import concerning
from tracking.models import ShipmentException
from tracking.services import booking_orders
from workflows.models import ActionKind, RuleAction, RuleOutcome, RuleRun, Task, TaskState
from workflows.services.rules import AUTOMATION_SCOPE
from workflows.services.runs import OrderRun
from workflows.services.task_changes import close_tasks

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
        zone = order_zone(order_id)  # the order's page runs on its branch's clock
        later = (s for s in signals if (s.event_at, s.id) > (report.event_at, report.id))
        release = next((s for s in later if s.milestone in CLEARING), None)
        after = f" ({milestone_words(release.milestone)} on {when_text(release.event_at, zone)})" if release else ""
        return (
            f"Not run: the hold reported for {when_text(report.event_at, zone)} was already released{after} when its "
            "report arrived."
        )
    first = min(hold, key=lambda s: s.id)  # the report of this hold that was recorded first
    if first.id != pk:
        at = when_text(first.event_at, order_zone(order_id))
        return f"Not run: the carrier repeated the hold it reported for {at} (the same hold)."
    return ""


def holds_cleared(run: OrderRun, *, code: str, event_id: str | int) -> None:
    """A report that may clear holds was recorded on the order. When no hold stands on its cargo any more: complete
    the open tasks that the rules run on its hold reports made, and release the order if such a rule held it and
    nothing else holds it (held_order_release)."""
    if code not in CLEARING:
        return
    order = run.order
    keys = RuleRun.objects.filter(order=order, event_key__startswith=_report_key(order.pk))
    rule_ids = set(keys.values_list("rule_id", flat=True))
    if not rule_ids:
        return  # no rule ever acted on a hold of this order
    signals = order_signals(order.pk)
    if _standing_holds(signals):
        return  # another hold (or this one, released out of order) still stands
    pk = _event_pk(event_id)
    release = next((s for s in signals if s.id == pk), None)
    when = when_text(release.event_at, order_zone(order.pk)) if release else ""
    what = f"{milestone_words(code)} on {when}" if release else milestone_words(code)
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
    held_order_release(run, reason=f"Hold released: {what}.", cause={"released_by_event": pk}, signals=signals)


# --- releasing an order automation held -------------------------------------------------------------------

# The rule actions that put an order on hold.
HOLDING_ACTIONS = Q(kind=ActionKind.HOLD) | Q(kind=ActionKind.TRANSITION, transition="hold")


def _report_key(order_id: int) -> str:
    """The start of the event key of a "milestone recorded" rule's run on a hold report of the order."""
    return f"milestone:{order_id}:{HOLD}:"


def _exception_key(exception_id: int) -> str:
    """The start of the event key of an "exception opened" rule's run on the exception (one per order on it:
    "exception:<exception>:<order>", services.exceptions)."""
    return f"exception:{exception_id}:"


def orders_held_for_exception(exception_id: int) -> list[int]:
    """The orders on hold on which a rule that puts orders on hold ran for this exception (held_order_release
    decides whether it was that rule, and whether anything else still holds them). One query."""
    holding = RuleAction.objects.filter(HOLDING_ACTIONS).values("rule_id")
    runs = RuleRun.objects.filter(
        rule_id__in=holding, event_key__startswith=_exception_key(exception_id), order__status=OrderStatus.ON_HOLD
    )
    return sorted(set(runs.values_list("order_id", flat=True)))


def _exception_of(key: str) -> int | None:
    """The exception's id in an "exception opened" rule's event key ("exception:<exception>:<order>")."""
    parts = key.split(":")
    return int(parts[1]) if len(parts) > 2 and parts[0] == "exception" and parts[1].isdigit() else None


def _still_held_by(order_id: int, runs: list[tuple[int, str, bool]], signals: list[Signal] | None) -> bool:
    """Whether something the automation acted on still holds the order: a hold standing on its cargo, when a rule
    that puts orders on hold ran on one of its hold reports; or an unresolved exception that still concerns the order
    (announcing.concerning: an order taken off its shipment is concerned no more) on which such a rule ran (whether
    its hold was taken or found the order held already). A rule that only made a task holds nothing.
    `runs`: (rule, event key, whether the rule holds) of the order's runs; `signals`: its reports, if read."""
    on_reports = any(holds and key.startswith("milestone:") for _, key, holds in runs)
    if on_reports and _standing_holds(order_signals(order_id) if signals is None else signals):
        return True
    exception_ids = {pk for _, key, holds in runs if holds and (pk := _exception_of(key)) is not None}
    return bool(exception_ids) and (
        ShipmentException.objects.filter(pk__in=exception_ids, status__in=UNRESOLVED_STATUSES)
        .filter(concerning(order_id))
        .exists()
    )


def _last_hold(order: Order) -> OrderTransition | None:
    """The transition that put the order on hold last."""
    return OrderTransition.objects.filter(order=order, target=OrderStatus.ON_HOLD).order_by("-at", "-pk").first()


def _automation(transition: OrderTransition | None) -> dict[str, Any]:
    """What a rule's transition says of the rule that took it (rules._take_transition): rule, chain, event."""
    return ((transition.payload or {}).get("automation") or {}) if transition else {}


def _runs_on_holds(order: Order) -> list[tuple[int, str, bool]]:
    """(rule, event key, whether the rule holds) of the order's runs on its hold reports and its exceptions."""
    return list(
        RuleRun.objects.filter(order=order)
        .filter(Q(event_key__startswith=_report_key(order.pk)) | Q(event_key__startswith="exception:"))
        .annotate(holds=Exists(RuleAction.objects.filter(HOLDING_ACTIONS, rule_id=OuterRef("rule_id"))))
        .values_list("rule_id", "event_key", "holds")
    )


def held_order_release(
    run: OrderRun, *, reason: str, cause: dict[str, int | None], signals: list[Signal] | None = None
) -> bool:
    """Release the order when it is on hold, the transition that put it there was taken by a rule that ran on its
    hold reports or on its exceptions (its payload names the rule), and nothing holds it any more (_still_held_by).
    One "release" transition, channel system, back to the status it was held in, with `reason`; `cause` (what
    cleared: the event, the exception) goes into its payload. Released to planned while its cargo is booked no more
    (its house was taken off the booked master while it was held), it is taken back to confirmed at once, saying why
    (booking_orders.released_order_unplan: the unplan its leaving could not take). A hold a person put on is theirs
    to release; a release the lifecycle refuses (a task blocking it) leaves the order held, logged. True when the
    order was released."""
    order = run.order
    if order.status != OrderStatus.ON_HOLD:
        return False
    rule_id = _automation(_last_hold(order)).get("rule")
    if rule_id is None:
        return False  # a person put it on hold: theirs to release
    runs = _runs_on_holds(order)
    if rule_id not in {ran for ran, _, _ in runs}:
        return False  # a rule for something else (an order entering a state …) put it on hold
    if _still_held_by(order.pk, runs, signals):
        return False  # another hold or exception still holds it; its own end releases the order
    return _release(run, rule_id=rule_id, reason=reason, cause=cause)


def _release(run: OrderRun, *, rule_id: int, reason: str, cause: dict[str, int | None]) -> bool:
    order = run.order
    if run.batch is not None:
        run.batch.flush()  # the release's guards read the order's tasks
    try:
        moved = order_services.order_transition(
            order=order, name="release", scope=AUTOMATION_SCOPE, channel=Channel.SYSTEM, reason=reason[:300],
            payload={"automation": {"rule": rule_id, "chain": [rule_id]}, **cause},
        )  # fmt: skip
    except TransitionNotAllowed as exc:
        logger.info("Order %s stays on hold after what held it cleared: %s", order.reference, exc)
        return False
    run.order_moved(moved)
    # Back to planned with nothing booked for it any more (its house left the booked master while it was held):
    # back to confirmed at once, as it would have gone unheld.
    run.order_moved(booking_orders.released_order_unplan(order=moved, scope=AUTOMATION_SCOPE, channel=Channel.SYSTEM))
    return True


# --- an order taken off an open exception's shipment, and put back -----------------------------------------

# What a release by the automation names as its cause (held_order_release's callers, exception_hold_release).
_RELEASE_CAUSES = frozenset({"released_by_event", "released_by_exception", "taken_off_exception"})


def exception_hold_release(run: OrderRun, *, exception_id: int, reason: str) -> bool:
    """The order was taken off the shipment of an open exception, which concerns it no more: release the hold that
    exception's "exception opened" rule put on it (the hold's payload names the rule's run: rules._take_transition;
    a hold taken before it did is known by the rule's runs: _exception_hold_rule) when nothing else holds the order
    (_still_held_by). A hold a person put on, or another exception's rule, or a hold-report rule, is left as it is.
    The release's payload says which exception's leaving released it, so that the order put back is held again
    (exception_hold_again). True when the order was released."""
    order = run.order
    if order.status != OrderStatus.ON_HOLD:
        return False
    rule_id = _exception_hold_rule(order, _last_hold(order), exception_id=exception_id)
    if rule_id is None:
        return False  # not this exception's hold, or not known to be
    if _still_held_by(order.pk, _runs_on_holds(order), None):
        return False
    cause: dict[str, int | None] = {"released_by_exception": exception_id, "taken_off_exception": exception_id}
    return _release(run, rule_id=rule_id, reason=reason, cause=cause)


def _exception_hold_rule(order: Order, hold: OrderTransition | None, *, exception_id: int) -> int | None:
    """The rule whose run for this exception put the order on hold (`hold`: its last hold), else None. A hold the
    rule took names its run (`automation.event`, rules._take_transition). One taken before the payload named it
    (`automation.rule` only) is this exception's when the only run of that rule for an exception of this order that
    can have taken it is this exception's (_older_hold_runs); when another exception's run of the rule could have
    too, it is left held, logged: its own exception's end releases it (held_order_release), or a person."""
    automation = _automation(hold)
    rule_id = automation.get("rule")
    key = f"{_exception_key(exception_id)}{order.pk}"
    if hold is None or rule_id is None:
        return None  # never held, or a person's hold: theirs to release
    if "event" in automation:
        return rule_id if automation["event"] == key else None
    keys = _older_hold_runs(order, hold, rule_id=rule_id)
    if keys == {key}:
        return rule_id
    if key in keys:
        logger.info(
            "Order %s stays on hold after leaving exception %s: its hold names rule %s but not the run, and the rule "
            "ran for other exceptions of the order too (%s)", order.reference, exception_id, rule_id,
            ", ".join(sorted(keys - {key})),
        )  # fmt: skip
    return None


def _older_hold_runs(order: Order, hold: OrderTransition, *, rule_id: int) -> set[str]:
    """The event keys of the rule's runs for the order's exceptions that can have taken `hold`, a hold whose payload
    names the rule but not its run: recorded by the time of the hold (a run is recorded, then its actions taken, in
    one transaction) and after the release before it, if any (a run recorded earlier met an earlier hold, or the
    order as it was then); not skipped (a skipped run took nothing)."""
    runs = RuleRun.objects.filter(rule_id=rule_id, order=order, event_key__startswith="exception:", at__lte=hold.at)
    released = (
        OrderTransition.objects.filter(order=order, source=OrderStatus.ON_HOLD, at__lte=hold.at)
        .order_by("-at", "-pk")
        .values_list("at", flat=True)
        .first()
    )
    if released is not None:
        runs = runs.filter(at__gt=released)
    return set(runs.exclude(outcome=RuleOutcome.SKIPPED).values_list("event_key", flat=True))


def exception_hold_again(run: OrderRun, *, exception_id: int, reason: str) -> bool:
    """The order is back on the shipment of an open exception on which a rule that puts orders on hold ran for it
    (whether its hold was taken or found the order held already): hold it again for that rule's run (one "hold"
    transition naming the run, as the rule's own would), so the exception's end or the order's next leaving releases
    it as before. Only when the order's last hold or release is the automation's release (held_order_release,
    exception_hold_release): made while this exception did not concern it (its leaving, or another exception or a
    carrier's hold ending meanwhile), which had it stayed would have kept it held. A person who held or released it
    since decided. Once: a second message finds the order held. True when held."""
    order = run.order
    if order.status == OrderStatus.ON_HOLD:
        return False
    last = (
        OrderTransition.objects.filter(order=order)
        .filter(Q(target=OrderStatus.ON_HOLD) | Q(source=OrderStatus.ON_HOLD))
        .order_by("-at", "-pk")
        .first()
    )
    payload = (last.payload or {}) if last else {}
    released = last is not None and last.source == OrderStatus.ON_HOLD and _automation(last).get("rule") is not None
    if not released or not _RELEASE_CAUSES & payload.keys():
        return False
    rule_id = (
        RuleRun.objects.filter(order=order, event_key=f"{_exception_key(exception_id)}{order.pk}")
        .filter(Exists(RuleAction.objects.filter(HOLDING_ACTIONS, rule_id=OuterRef("rule_id"))))
        .order_by("pk")
        .values_list("rule_id", flat=True)
        .first()
    )
    if rule_id is None:
        return False  # no rule of this exception holds the order
    if run.batch is not None:
        run.batch.flush()  # the hold's guards read the order's tasks
    automation = {"rule": rule_id, "chain": [rule_id], "event": f"{_exception_key(exception_id)}{order.pk}"}
    try:
        moved = order_services.order_transition(
            order=order, name="hold", scope=AUTOMATION_SCOPE, channel=Channel.SYSTEM, reason=reason[:300],
            payload={"automation": automation, "held_for_exception": exception_id},
        )  # fmt: skip
    except TransitionNotAllowed as exc:
        logger.info("Order %s is not held again for exception %s: %s", order.reference, exception_id, exc)
        return False
    run.order_moved(moved)
    return True
