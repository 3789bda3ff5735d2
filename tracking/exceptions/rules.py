"""The detection rules: given a shipment's facts (facts.py), the configured thresholds (ExceptionRule rows) and
the time, which exceptions hold right now. Pure functions, no queries: the same evaluation serves the
periodic scan and the reaction to new events, and a finding that no longer holds is what resolves an
open exception by itself.

Each finding has a trigger key (the event, planned time or roll behind it): an exception a person resolved
is not reopened for the same trigger, only for a new one.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Max
from django.utils import timezone

from tracking.exceptions import codes
from tracking.exceptions.facts import LegFacts, ShipmentFacts, Signal
from tracking.exceptions.models import ExceptionKind, ExceptionRule

ACTIVE = frozenset({"booked", "in_transit", "arrived"})
MOVING = frozenset({"in_transit", "arrived"})


def _when(at: datetime.datetime | None, zone: datetime.tzinfo) -> str:
    """A moment as the staff screens write it, on `zone`'s clock (the shipment's branch: ShipmentFacts.zone) and
    named by its abbreviation: "4 Dec 2026, 03:00 CET" in Hamburg, "4 Dec 2026, 10:00 CST" in Shanghai. The text is
    stored (an exception's detail, a resolution note, a workflow's reason) and read on screens that run on other
    clocks, so it names its own. A zone without an abbreviation names its offset ("4 Dec 2026, 06:00 UTC+04")."""
    if at is None:
        return "—"
    local = timezone.localtime(at, zone)
    name = local.tzname() or ""
    if name.startswith(("+", "-")):
        name = f"UTC{name}"
    return f"{local.day} {local:%b %Y, %H:%M} {name}"


when_text = _when  # the same wording for what the workflow writes about reports (workflows.services.holds)


def duration_text(delta: datetime.timedelta) -> str:
    """A span as the exception screens write it, rounded down: "40 min", "25 h", "3 d 4 h", "30 d"."""
    minutes = int(abs(delta.total_seconds()) // 60)
    if minutes < 1:
        return "< 1 min"
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d" if days >= 7 or not hours else f"{days} d {hours} h"


def milestone_words(code: str | None) -> str:
    """A milestone code in words, as the seeded milestone names read ("RECEIVED_AT_ORIGIN" → "Received at
    origin"). Rules run without queries; screens show the Milestone table's own names."""
    return (code or "").replace("_", " ").capitalize()


# What the plan-based rules watch on a leg, as a noun that never reads as done ("Leg 1 pickup", "Estimated
# arrival"): each leg's departure and arrival are the milestones of its role (docs/tracking-events.md).
MOVEMENT_NOUNS = {
    "DEPARTED": "departure",
    "ARRIVED": "arrival",
    "PICKED_UP": "pickup",
    "RECEIVED_AT_ORIGIN": "gate-in",
    "OUT_FOR_DELIVERY": "departure",
    "DELIVERED": "delivery",
    "AVAILABLE": "arrival",
}
# The milestones that are a leg's departure (the others a plan-based finding names are its arrival).
DEPARTURES = frozenset({"DEPARTED", "PICKED_UP", "OUT_FOR_DELIVERY"})
# The kinds whose milestone is one still awaited that the kind's name does not say: which movement is overdue,
# which estimate slipped. A roll awaits the booked departure and a missed cut-off the gate-in, which their names
# say already; holds, damage and the like name what was reported, which repeats the kind.
AWAITING_KINDS = frozenset({ExceptionKind.MILESTONE_OVERDUE, ExceptionKind.ETA_DELAY})


def movement_noun(milestone: str | None) -> str:
    """A leg's departure or arrival milestone as a noun ("PICKED_UP" → "pickup"); else its words, lower case."""
    return MOVEMENT_NOUNS.get(milestone or "") or milestone_words(milestone).lower()


def awaited_words(kind: str, milestone: str | None) -> str:
    """What a list shows beside an exception's kind, where the kind alone does not say it: the movement awaited, as
    a noun ("Milestone overdue · Pickup", "ETA slipped · Delivery"), never the milestone's name, which reads as
    done ("Departed"). "" for every other kind and for none."""
    if kind not in AWAITING_KINDS or not milestone:
        return ""
    return movement_noun(milestone).capitalize()


def _moment(milestone: str) -> str:
    return "departure" if milestone in DEPARTURES else "arrival"


# Our reasons (ShipmentException.canonical_reason, set here and in codes.py) in words, for the staff screens.
REASON_LABELS = {
    "late_departure": "Late departure",
    "late_arrival": "Late arrival",
    "eta_slip": "Estimate later than planned",
    "no_events": "No carrier events",
    "booking_rolled": "Booking rolled to a later departure",
    "cargo_cutoff_missed": "Cargo not at the terminal by the cut-off",
    "customs_hold": "Held by customs",
    "customs_inspection": "Customs inspection",
    "discrepancy": "Customs discrepancy",
    "carrier_release_withheld": "Carrier withholds release",
    "payment_hold": "Carrier hold: payment",
    "credit_hold": "Carrier hold: credit",
    "delivery_failed": "Delivery attempt failed",
    "returned_to_sender": "Returned to sender",
    "damaged": "Damaged",
    "damaged_parcel": "Parcel damaged",
}


def reason_label(code: str) -> str:
    """Our reason in words; a code this list does not know yet reads as words too ("some_code" → "Some code")."""
    return REASON_LABELS.get(code) or code.replace("_", " ").capitalize()


@dataclass(frozen=True)
class Finding:
    """An exception condition that holds now."""

    kind: str
    shipment_id: int
    leg_id: int | None
    severity: int
    rule_id: int
    notify_customer: bool
    detail: str
    trigger_key: str
    milestone: str = ""
    expected_at: datetime.datetime | None = None
    observed_at: datetime.datetime | None = None
    carrier_reason_code: str = ""
    canonical_reason: str = ""
    source_event_ids: tuple[int, ...] = ()
    house_id: int | None = None  # the house a carrier's report named; None: the whole shipment
    # Whose movement it is and by what mode: the leg's for a finding about a leg (a late truck is the trucker's and
    # is judged by the road rule), else the shipment's (ShipmentFacts.carrier_of, mode_of).
    carrier_id: int | None = None
    mode: str = ""

    @property
    def key(self) -> tuple[str, int, int | None, int | None]:
        """What one unresolved exception is kept for (the partial unique index): kind, shipment, leg and house."""
        return self.kind, self.shipment_id, self.leg_id, self.house_id

    @property
    def follows(self) -> tuple[str, int, int | None, int | None]:
        """The open exception this finding is (follow_key)."""
        return follow_key(self.kind, self.shipment_id, self.leg_id, self.house_id)

    def continues(self, milestone: str) -> bool:
        """Whether the unresolved exception of this key, about `milestone`, is this finding still holding. An
        overdue milestone is a condition of its own: the departure recorded ends "departure overdue" even when the
        same leg's arrival is overdue by then, which opens as a new exception. Told apart by the moment (departure,
        arrival), not the code: one stored with the main carriage's code for another leg (DEPARTED for a
        pre-carriage's pickup, before findings named the leg's own milestone) is the same condition, and is brought
        up to date rather than resolved and opened again."""
        if self.kind != ExceptionKind.MILESTONE_OVERDUE:
            return True
        return _moment(milestone) == _moment(self.milestone)


def follow_key(
    kind: str, shipment_id: int, leg_id: int | None, house_id: int | None
) -> tuple[str, int, int | None, int | None]:
    """Which open exception a finding continues: the one of its key (kind, shipment, leg, house), except that an ETA
    slipped is the shipment's one delay whichever leg's estimate is the worst now (the vessel's arrival, then the
    last mile's delivery carrying the same delay on): it moves to that leg in place, instead of resolving "by itself"
    and opening again, announced twice for one cause (review A, defect 2)."""
    return kind, shipment_id, None if kind == ExceptionKind.ETA_DELAY else leg_id, house_id


class RuleBook:
    """The active rules, most specific first for each (kind, mode, customer)."""

    def __init__(self, rules: Iterable[ExceptionRule]) -> None:
        self._by_kind: dict[str, list[ExceptionRule]] = {}
        self._chosen: dict[tuple[str, str, int | None], ExceptionRule | None] = {}
        for rule in sorted(rules, key=lambda r: -r.specificity):
            self._by_kind.setdefault(rule.kind, []).append(rule)

    def rule(self, kind: str, *, mode: str, customer_id: int | None) -> ExceptionRule | None:
        key = (kind, mode, customer_id)
        if key not in self._chosen:
            self._chosen[key] = next(
                (
                    rule for rule in self._by_kind.get(kind, ())
                    if (not rule.mode or rule.mode == mode) and rule.customer_id in (None, customer_id)
                ),
                None,
            )  # fmt: skip
        return self._chosen[key]


_cache: dict[str, object] = {}


def rulebook() -> RuleBook:
    """The rules, kept per process until the table changes (its row count or newest change): one small query."""
    stamp = ExceptionRule.objects.aggregate(n=Count("pk"), changed=Max("updated_at"))
    key = (stamp["n"], stamp["changed"])
    if _cache.get("stamp") != key:
        _cache["book"] = RuleBook(ExceptionRule.objects.filter(is_active=True))
        _cache["stamp"] = key
    return _cache["book"]  # type: ignore[return-value]


def _threshold(rule: ExceptionRule) -> datetime.timedelta:
    return datetime.timedelta(hours=float(rule.threshold_hours or Decimal(0)))


class _Evaluation:
    def __init__(self, facts: ShipmentFacts, book: RuleBook, now: datetime.datetime) -> None:
        self.facts, self.book, self.now = facts, book, now
        self.findings: list[Finding] = []

    def rule(self, kind: str, leg: LegFacts | None = None) -> ExceptionRule | None:
        """The rule for the shipment's customer and the mode of what is judged: the leg's for a finding about a leg
        (a road pre-carriage of an ocean shipment waits the road threshold), else the shipment's."""
        return self.book.rule(kind, mode=self.facts.mode_of(leg), customer_id=self.facts.customer_id)

    def when(self, at: datetime.datetime | None) -> str:
        """A moment on the clock of the shipment's branch (_when)."""
        return _when(at, self.facts.zone)

    def add(
        self, rule: ExceptionRule, kind: str, leg_id: int | None, detail: str, trigger: str, **extra: object
    ) -> None:
        leg = self.facts.leg(leg_id)
        self.findings.append(
            Finding(
                kind=kind, shipment_id=self.facts.id, leg_id=leg_id, severity=rule.severity, rule_id=rule.pk,
                notify_customer=rule.notify_customer, detail=detail[:300], trigger_key=trigger[:80],
                carrier_id=self.facts.carrier_of(leg), mode=self.facts.mode_of(leg), **extra,  # type: ignore[arg-type]
            )
        )  # fmt: skip

    # --- movement against the plan ------------------------------------------------------------------

    def overdue(self) -> None:
        """The first leg still missing an actual time: its departure (else arrival) is late against plan. What is
        awaited is the leg's own milestone (a pre-carriage's departure is the pickup, PICKED_UP), judged by the
        rule for the leg's mode."""
        if self.facts.status not in ACTIVE:
            return
        leg = next((leg for leg in self.facts.legs if leg.actual_arrival_at is None), None)
        if leg is None:
            return
        rule = self.rule(ExceptionKind.MILESTONE_OVERDUE, leg)
        if rule is None:
            return
        departing = leg.actual_departure_at is None
        planned = leg.planned_departure_at if departing else leg.planned_arrival_at
        if planned is None or self.now <= planned + _threshold(rule):
            return
        milestone = self.facts.leg_milestone(leg, departure=departing)
        # The trigger names the moment as it always has (DEPARTED/ARRIVED and the planned time), whatever the leg's
        # role: an exception a person closed before findings named the leg's own milestone stays closed.
        moment = "DEPARTED" if departing else "ARRIVED"
        self.add(
            rule, ExceptionKind.MILESTONE_OVERDUE, leg.id,
            f"Leg {leg.sequence} {movement_noun(milestone)} was planned for {self.when(planned)}: "
            f"{duration_text(self.now - planned)} overdue.",
            f"{moment}:{planned.isoformat()}", milestone=milestone, expected_at=planned,
            canonical_reason="late_departure" if departing else "late_arrival",
        )  # fmt: skip

    def eta(self) -> None:
        """The latest estimate of the arrival (else the delivery) is later than planned by more than N h, N the
        rule's for the mode of the leg the estimate is for (the main carriage's arrival, the last leg's delivery)."""
        if self.facts.status not in ACTIVE:
            return
        f = self.facts
        worst: tuple[datetime.timedelta, str, LegFacts, datetime.datetime, datetime.datetime, int | None, str] | None
        worst, chosen = None, None
        for milestone, estimate, leg, event, said in (
            ("ARRIVED", f.eta_arrival, f.main_leg, f.eta_arrival_event, f.eta_arrival_said),
            ("DELIVERED", f.eta_delivery, f.last_leg, f.eta_delivery_event, f.eta_delivery_said),
        ):
            if estimate is None or leg is None or leg.planned_arrival_at is None or leg.actual_arrival_at:
                continue
            rule = self.rule(ExceptionKind.ETA_DELAY, leg)
            slip = estimate - leg.planned_arrival_at
            if rule is not None and slip > _threshold(rule) and (worst is None or slip > worst[0]):
                worst, chosen = (slip, milestone, leg, leg.planned_arrival_at, estimate, event, said), rule
        if worst is None or chosen is None:
            return
        slip, milestone, leg, planned, estimate, event, said = worst
        self.add(
            chosen, ExceptionKind.ETA_DELAY, leg.id,
            f"Estimated {movement_noun(milestone)} {self.when(estimate)}, {duration_text(slip)} later than planned "
            f"({self.when(planned)}).",
            f"{milestone}:{event or estimate.isoformat()}", milestone=milestone, expected_at=planned,
            observed_at=estimate, canonical_reason="eta_slip", source_event_ids=(event,) if event else (),
            carrier_reason_code=said,
        )  # fmt: skip

    def silence(self) -> None:
        """A moving shipment with no actual event for more than N h (counted from the last event, or from the
        next planned milestone when that is later: a vessel at sea is silent until it is due)."""
        rule = self.rule(ExceptionKind.NO_MOVEMENT)
        if rule is None or self.facts.status not in MOVING:
            return
        moments = [self.facts.last_actual_at]
        moments += [at for leg in self.facts.legs for at in (leg.actual_departure_at, leg.actual_arrival_at)]
        # Nothing is expected before the next planned milestone (weeks at sea): silence counts from then.
        leg = next((leg for leg in self.facts.legs if leg.actual_arrival_at is None), None)
        if leg is not None:
            moments.append(leg.planned_arrival_at if leg.actual_departure_at else leg.planned_departure_at)
        last = max(filter(None, moments), default=None)
        if last is None or self.now - last <= _threshold(rule):
            return
        self.add(
            rule, ExceptionKind.NO_MOVEMENT, None,
            f"No event since {self.when(last)} ({duration_text(self.now - last)}).",
            f"silent:{last.isoformat()}", observed_at=last, canonical_reason="no_events",
        )  # fmt: skip

    def roll(self) -> None:
        """The carrier moved the booking to a later departure by more than N h, and it has not left yet."""
        f = self.facts
        main = f.main_leg
        rule = self.rule(ExceptionKind.ROLLED_BOOKING, main)
        if rule is None or f.status not in ACTIVE or f.booking_status != "rolled" or not f.roll_count:
            return
        if main is None or main.actual_departure_at or not (f.original_departure_at and f.confirmed_departure_at):
            return
        delay = f.confirmed_departure_at - f.original_departure_at
        if delay <= _threshold(rule):
            return
        times = "once" if f.roll_count == 1 else f"{f.roll_count} times"
        self.add(
            rule, ExceptionKind.ROLLED_BOOKING, main.id,
            f"Booking rolled {times}: departure {self.when(f.confirmed_departure_at)} instead of "
            f"{self.when(f.original_departure_at)} ({duration_text(delay)} later).",
            f"roll:{f.original_departure_at.isoformat()}", milestone="DEPARTED", expected_at=f.original_departure_at,
            observed_at=f.confirmed_departure_at, canonical_reason="booking_rolled",
        )  # fmt: skip

    def cutoff(self) -> None:
        """The cargo cut-off passed (plus N h) and the cargo is not at the terminal."""
        f = self.facts
        main = f.main_leg
        rule = self.rule(ExceptionKind.MISSED_CUTOFF, main)
        if rule is None or f.status not in ACTIVE or f.cargo_cutoff_at is None or main is None:
            return
        if main.actual_departure_at or self.now <= f.cargo_cutoff_at + _threshold(rule):
            return
        if at_terminal(f) is not None:
            return
        self.add(
            rule, ExceptionKind.MISSED_CUTOFF, main.id,
            f"Cargo cut-off {self.when(f.cargo_cutoff_at)} passed {duration_text(self.now - f.cargo_cutoff_at)} ago "
            "and the cargo is not reported at the terminal.",
            f"cutoff:{f.cargo_cutoff_at.isoformat()}", milestone="RECEIVED_AT_ORIGIN", expected_at=f.cargo_cutoff_at,
            canonical_reason="cargo_cutoff_missed",
        )  # fmt: skip

    # --- what the carrier reports ---------------------------------------------------------------------

    def reports(self) -> None:
        """Holds and failed deliveries still standing; returns and damage (they stand until a person closes them).

        A report counts for what it names. One on the master (the carrier's bill, the container) concerns all the
        cargo on it: its hold is the whole shipment's, its release or delivery clears every house's. One on a house
        concerns that house alone: its hold is an exception of its own, naming the house's order and customer (and
        judged by that customer's rule), cleared by its own release or the master's, never by another house's.
        A hold on the master is cleared by the master's release, or once every live house is released. Houses
        that carry one order (a direct plan's only house) are that order's whole cargo: a report on one of them is
        the whole shipment's, so the carrier's hold on the master and a broker's on the house are one exception
        (ShipmentFacts.houses_apart)."""
        standing, canonical = standing_reports(self.facts.signals, self.facts.houses_apart)
        for (kind, house), signals in standing.items():
            _, customer_id = self.facts.parties(house)
            first = signals[0]
            leg = self.facts.leg(first.leg_id) if kind in _STANDS_ALONE else None  # damage, a return: on its leg
            rule = self.book.rule(kind, mode=self.facts.mode_of(leg), customer_id=customer_id)
            if rule is None or self.now - first.event_at < _threshold(rule):
                continue
            # A failed attempt after another is a new failure: a person who closed the first has not seen it. A hold
            # reported again while it stands is the same hold (carriers repeat the status until the release).
            trigger = signals[-1] if kind == ExceptionKind.FAILED_DELIVERY else first
            label = ExceptionKind(kind).label
            remark = f": {trigger.reason}" if trigger.reason else ""
            several = kind == ExceptionKind.FAILED_DELIVERY and len(signals) > 1
            attempts = f" ({len(signals)} attempts)" if several else ""
            self.add(
                rule, kind, trigger.leg_id if kind in _STANDS_ALONE else None,
                f"{label} reported {self.when(trigger.event_at)}{remark}{attempts}.",
                f"event:{trigger.id}", milestone=trigger.milestone or "", observed_at=trigger.event_at,
                carrier_reason_code=trigger.carrier_code, canonical_reason=canonical.get((kind, house), ""),
                source_event_ids=tuple(signal.id for signal in signals[-20:]), house_id=house,
            )  # fmt: skip


# Reports that stand on their own until a person closes them (each newer one replaces the last).
_STANDS_ALONE = (ExceptionKind.DAMAGE, ExceptionKind.RETURNED_TO_SENDER)
HOLD_KINDS = frozenset({ExceptionKind.CUSTOMS_HOLD, ExceptionKind.CARRIER_HOLD})

ReportKey = tuple[str, int | None]  # (kind, the house it concerns; None: the whole shipment)


def standing_reports(
    signals: Iterable[Signal], houses: frozenset[int] = frozenset()
) -> tuple[dict[ReportKey, list[Signal]], dict[ReportKey, str]]:
    """What the carrier's reports leave standing now, whatever the thresholds: (kind, house) → the reports of it
    since the last release, oldest first, and our reason for each. `signals` in event time order (`event_at`, id):
    a report counts when it happened, not when it arrived, so a hold older than a release recorded before it
    stands for nothing. A hold stands until a later release of its kind (codes.CLEARS); a repeat is the same hold.
    `houses`: the houses whose reports are their own (ShipmentFacts.houses_apart); every other report concerns
    the whole stream (one stream: `houses` empty). The one notion of a "current" hold: detection (reports) and
    the workflow (workflows.services.holds, through selectors.order_report_signals) both use it."""
    standing: dict[ReportKey, list[Signal]] = {}
    canonical: dict[ReportKey, str] = {}
    released: dict[str, set[int]] = {}  # kind → houses released since the master's hold of that kind began
    for signal in signals:
        house = signal.shipment_id if signal.shipment_id in houses else None
        opens = _opens(signal)
        if opens is not None:
            kind, reason = opens
            if kind in _STANDS_ALONE:
                standing[kind, house], canonical[kind, house] = [signal], reason
            else:
                if (kind, house) not in standing:
                    canonical[kind, house] = reason
                    if house is None:
                        released[kind] = set()
                standing.setdefault((kind, house), []).append(signal)
        for kind, clearing in codes.CLEARS.items():
            if signal.milestone not in clearing:
                continue
            if house is None:
                cleared = [key for key in standing if key[0] == kind]
            else:
                released.setdefault(kind, set()).add(house)
                cleared = [(kind, house)] + ([(kind, None)] if released[kind] >= houses else [])
            for key in cleared:
                standing.pop(key, None)
                canonical.pop(key, None)
    return standing, canonical


def holds_standing(signals: Iterable[Signal]) -> list[Signal]:
    """The customs and carrier holds one stream of reports leaves standing (standing_reports, every report
    concerning the whole stream), each hold's reports since its last release, in event time order."""
    standing, _ = standing_reports(signals)
    found = [signal for (kind, _), reports in standing.items() if kind in HOLD_KINDS for signal in reports]
    return sorted(found, key=lambda signal: (signal.event_at, signal.id))


def hold_clearing(signals: Iterable[Signal], hold: Signal) -> Signal | None:
    """The first report after `hold` (in event time) that clears its kind: what released it."""
    kind = hold_kind_of(hold)
    later = (s for s in signals if (s.event_at, s.id) > (hold.event_at, hold.id))
    return next((s for s in later if s.milestone in codes.CLEARS.get(kind, ())), None)


def hold_kind_of(signal: Signal) -> str:
    """The kind of hold a CUSTOMS_HOLD report is (customs or the carrier's)."""
    return codes.hold_kind(signal.raw_code)[0]


def _opens(signal: Signal) -> tuple[str, str] | None:
    """The kind of exception a carrier's report opens, and our reason; None for a report that opens nothing."""
    if signal.milestone == codes.HOLD:
        return codes.hold_kind(signal.raw_code)
    if signal.milestone == codes.ATTEMPT:
        return ExceptionKind.FAILED_DELIVERY, "delivery_failed"
    if signal.milestone == codes.RETURNED:
        return ExceptionKind.RETURNED_TO_SENDER, "returned_to_sender"
    damage = codes.damage_reason(signal.scheme, signal.raw_code)
    return (ExceptionKind.DAMAGE, damage) if damage else None


def at_terminal(facts: ShipmentFacts) -> Signal | None:
    """What says the cargo reached the terminal (gate-in, loaded, departed): a report on the master (all its cargo),
    else one on every live house (the latest of them). None while any house's cargo is not reported there."""
    houses = frozenset(facts.house_ids)
    first: dict[int | None, Signal] = {}
    for signal in facts.signals:
        if signal.milestone in codes.AT_TERMINAL:
            first.setdefault(signal.shipment_id if signal.shipment_id in houses else None, signal)
    if None in first:
        return first[None]
    if houses and houses <= first.keys():
        return max(first.values(), key=lambda signal: (signal.event_at, signal.id))
    return None


def evaluate(facts: ShipmentFacts, book: RuleBook, now: datetime.datetime) -> list[Finding]:
    """Every exception that holds for this shipment now. A shipment that is delivered or cancelled, or whose
    orders all are (delivered or after, or cancelled), is finished: only damage and returns outlive it."""
    run = _Evaluation(facts, book, now)
    if facts.status in ("delivered", "cancelled") or facts.orders_finished:
        run.reports()  # only what a person must close (damage, return) outlives the movement
        run.findings = [f for f in run.findings if f.kind in (ExceptionKind.DAMAGE, ExceptionKind.RETURNED_TO_SENDER)]
        return run.findings
    run.overdue()
    run.eta()
    run.silence()
    run.roll()
    run.cutoff()
    run.reports()
    return run.findings


def _hours(rule: ExceptionRule) -> str:
    return f"{(rule.threshold_hours or Decimal(0)).normalize():f} h"


def _same(a: datetime.datetime | None, b: datetime.datetime | None) -> bool:
    """The same moment, as the facts (epoch seconds) and the exception's row (timestamptz) carry it."""
    return a is not None and b is not None and abs((a - b).total_seconds()) < 1


def why_clear(
    *, kind: str, milestone: str, leg_id: int | None, facts: ShipmentFacts | None, house_id: int | None = None,
    book: RuleBook | None = None, expected_at: datetime.datetime | None = None,
    observed_at: datetime.datetime | None = None, now: datetime.datetime | None = None,
) -> str:  # fmt: skip
    """What cleared an exception's condition, for its record ("resolved itself: …"). With the rules (`book`) and
    the times the exception showed, a rule switched off, or a threshold raised over a delay that did not move,
    says so instead of naming a change that did not happen. "Raised" only when the delay that did not move is within
    the rule's threshold now (for an overdue milestone, at `now`): a delay still over it was not cleared by the rule."""
    if facts is None:
        return "The shipment is no longer followed."

    zone = facts.zone  # the shipment branch's clock, as the exception's detail

    def when(at: datetime.datetime | None) -> str:
        return _when(at, zone)

    if facts.status in ("delivered", "cancelled"):
        return f"The shipment is {facts.status}."
    if facts.orders_finished:
        return "Every order on the shipment is delivered, closed or cancelled."
    if kind in (ExceptionKind.ROLLED_BOOKING, ExceptionKind.MISSED_CUTOFF) and facts.booking_status is None:
        return "The booking was cancelled; the shipment is back in planning."
    leg = facts.leg(leg_id)
    departure = milestone in DEPARTURES
    if kind in (ExceptionKind.MILESTONE_OVERDUE, ExceptionKind.ETA_DELAY, ExceptionKind.ROLLED_BOOKING) and leg:
        if departure and leg.actual_departure_at:
            return f"{movement_noun(milestone).capitalize()} recorded {when(leg.actual_departure_at)}."
        if leg.actual_arrival_at:
            arrival = "arrival" if departure else movement_noun(milestone)
            return f"{arrival.capitalize()} recorded {when(leg.actual_arrival_at)}."
    # The rule detection would choose now: by the leg's mode for what concerns a leg (Finding.mode).
    rule = book.rule(kind, mode=facts.mode_of(leg), customer_id=facts.parties(house_id)[1]) if book else None
    if book is not None and rule is None:
        return f"The rule for “{ExceptionKind(kind).label}” was switched off."
    if kind == ExceptionKind.ETA_DELAY:
        latest = facts.eta_delivery if milestone == "DELIVERED" else facts.eta_arrival
        planned = leg.planned_arrival_at if leg is not None else None
        if latest is not None and planned is not None and _same(latest, observed_at) and _same(planned, expected_at):
            if rule is not None and latest - planned <= _threshold(rule):
                unmoved = f"the latest estimate ({when(latest)}) did not move"
                return f"The rule's threshold was raised to {_hours(rule)}: {unmoved}."
            return "The condition no longer holds."  # the same delay, still over the threshold: no cause to name
        within = f" ({_hours(rule)})" if rule is not None else ""
        return f"The latest estimate ({when(latest)}) is back within the threshold{within}."
    if kind == ExceptionKind.NO_MOVEMENT:
        return f"Not silent any more (last event {when(facts.last_actual_at)}; nothing else is due yet)."
    if kind == ExceptionKind.MISSED_CUTOFF:
        terminal = at_terminal(facts)
        if terminal:
            return f"{milestone_words(terminal.milestone)} on {when(terminal.event_at)}."
        return f"The cargo cut-off is now {when(facts.cargo_cutoff_at)}."
    if house_id is not None and house_id not in facts.house_ids:
        return "The house is no longer on this shipment."
    if house_id is not None and house_id not in facts.houses_apart:
        return "The shipment now carries this house's order alone: a report on its house is the whole shipment's."
    if kind in codes.CLEARS:
        # What counts for a house: its own reports and the master's; for the master: any.
        clearing = [
            s for s in facts.signals
            if s.milestone in codes.CLEARS[kind] and (house_id is None or s.shipment_id in (facts.id, house_id))
        ]  # fmt: skip
        if clearing:
            return f"{milestone_words(clearing[-1].milestone)} on {when(clearing[-1].event_at)}."
    if kind == ExceptionKind.MILESTONE_OVERDUE:
        planned = None
        if leg is not None:
            planned = leg.planned_departure_at if departure else leg.planned_arrival_at
        if planned is not None and _same(planned, expected_at):
            if rule is not None and (now is None or now - planned <= _threshold(rule)):
                return f"The rule's threshold was raised to {_hours(rule)}: the plan ({when(planned)}) did not move."
            return "The condition no longer holds."  # the same plan, still late: no cause to name
        return "The plan moved: the milestone is no longer overdue."
    return "The condition no longer holds (rule changed or switched off)."
