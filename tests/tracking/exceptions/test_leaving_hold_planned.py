"""An order held while planned whose house leaves the booked master ends `confirmed`, whichever comes first: the
unplan (the exception's hold released before the house is taken off) or the release (the house taken off while the
order is held: the release finds nothing booked for it and takes it back to confirmed at once, saying why; so too
when its booking was cancelled while it was held). A
person's hold stays on; put back on a booked master, the order is planned again and held again by the exception
(docs/planning.md, "An order held while planned"). And a hold an "exception opened" rule took before its payload named
the rule's run is released on leaving when the rule's runs say which exception's it is (docs/exceptions.md)."""

from __future__ import annotations

import logging

from orders.history_entries import HistoryEntry, order_history_for
from orders.models import Order, OrderStatus, OrderTransition
from tests.tracking.conftest import lcl_line
from tests.tracking.test_ingest_support import NOW
from tracking import events as tracking_events
from tracking.exceptions.models import ExceptionKind, ShipmentException
from tracking.exceptions.services import handling
from tracking.services import booking as booking_services
from tracking.services import booking_orders, consolidation
from workflows.models import RuleRun

from .conftest import H, detect
from .test_consolidation_parties import acme_alone
from .test_holds_released import hold_rule, releases, run
from .test_leaving_hold import _another_exception, _by_hand, _globex_joined, _send, holds, status

__all__ = ["acme_alone", "hold_rule", "run"]
K = ExceptionKind


def moves(order) -> list[tuple[str, str, str]]:
    """(transition, source, target) of the order's history since it was first put on hold."""
    rows = OrderTransition.objects.filter(order=order).order_by("at", "pk").values_list("name", "source", "target")
    names = [row[0] for row in rows]
    return list(rows)[names.index("hold") :]


def history(order) -> list[HistoryEntry]:
    """The order's history as its page reads it, oldest first."""
    return order_history_for(order=Order.objects.get(pk=order.pk))


def unplans(order) -> list[OrderTransition]:
    return list(OrderTransition.objects.filter(order=order, name="unplan").order_by("at", "pk"))


def _taken_off(master, house, missed, ops_user, run) -> None:
    consolidation.house_remove(master=master, house=house, by=ops_user)
    with run():
        assert detect(master).narrowed == [missed.pk]


def test_a_held_planned_order_taken_off_a_booked_master_is_released_back_to_confirmed_saying_why(
    acme_alone, ocean_carriers, ops_user, ops_scope, ops_team, hold_rule, run
):
    master, _acme_order, globex_order, house, missed = _globex_joined(
        acme_alone, ocean_carriers, ops_user, ops_scope, run
    )
    assert Order.objects.get(pk=globex_order.pk).status_before_hold == OrderStatus.PLANNED

    _taken_off(master, house, missed, ops_user, run)

    assert status(globex_order) == OrderStatus.CONFIRMED
    assert moves(globex_order) == [
        ("hold", OrderStatus.PLANNED, OrderStatus.ON_HOLD),
        ("release", OrderStatus.ON_HOLD, OrderStatus.PLANNED),
        ("unplan", OrderStatus.PLANNED, OrderStatus.CONFIRMED),
    ]
    [unplan] = unplans(globex_order)
    assert (unplan.channel, unplan.by) == ("system", None)
    assert unplan.reason == (
        f"Released with its cargo booked no more, as noted when {house.reference} was taken off {master.reference}"
    )
    assert unplan.payload == {"shipment": master.reference, "house": house.reference}
    assert [entry.title for entry in history(globex_order)][-3:] == [
        "Booked no more while on hold", "Released", "Taken back to confirmed"
    ]  # fmt: skip


def test_the_order_released_before_its_house_is_taken_off_is_unplanned_by_the_taking_off(
    acme_alone, ocean_carriers, ops_user, ops_scope, ops_team, hold_rule, run
):
    """The other way round: the exception ends first (the order is released to planned, still booked), then the house
    leaves the master and takes the order back to confirmed, as any planned order's."""
    master, _acme_order, globex_order, house, missed = _globex_joined(
        acme_alone, ocean_carriers, ops_user, ops_scope, run
    )
    with run():
        handling.exception_resolve(exception=ShipmentException.objects.get(pk=missed.pk), by=ops_user,
                                   root_cause="carrier")  # fmt: skip
    assert status(globex_order) == OrderStatus.PLANNED  # its cargo is still booked

    consolidation.house_remove(master=master, house=house, by=ops_user)

    assert status(globex_order) == OrderStatus.CONFIRMED
    [unplan] = unplans(globex_order)
    assert unplan.reason == f"{house.reference} taken off {master.reference}, booked with its carrier"


def test_an_order_taken_off_and_put_back_on_the_booked_master_is_planned_and_held_again(
    acme_alone, ocean_carriers, ops_user, ops_scope, ops_team, hold_rule, run
):
    master, _acme_order, globex_order, house, missed = _globex_joined(
        acme_alone, ocean_carriers, ops_user, ops_scope, run
    )
    _taken_off(master, house, missed, ops_user, run)
    assert status(globex_order) == OrderStatus.CONFIRMED

    consolidation.house_add(master=master, house=house, by=ops_user)
    assert status(globex_order) == OrderStatus.PLANNED  # booked again
    with run():
        assert detect(master).widened == [missed.pk]

    globex = Order.objects.get(pk=globex_order.pk)
    assert (globex.status, globex.status_before_hold) == (OrderStatus.ON_HOLD, OrderStatus.PLANNED)
    assert holds(globex_order)[-1].payload["automation"]["event"] == f"exception:{missed.pk}:{globex_order.pk}"

    # Its exception's end releases it to planned: it is booked.
    with run():
        handling.exception_resolve(exception=ShipmentException.objects.get(pk=missed.pk), by=ops_user,
                                   root_cause="carrier")  # fmt: skip
    assert status(globex_order) == OrderStatus.PLANNED
    assert len(unplans(globex_order)) == 1  # the one of its leaving


def test_an_order_a_person_held_stays_held_when_taken_off_and_its_hold_still_remembers_planned(
    acme_alone, ocean_carriers, ops_user, ops_scope, ops_team, hold_rule, run
):
    """A person's hold is theirs: taken off the booked master, the order stays on hold (the unplan cannot move it,
    and the exception's leaving releases nothing of theirs). Its hold still remembers `planned`: the lifecycle keeps
    only that (Order.status_before_hold), and a held order goes on no shipment until it is released."""
    master, _acme_order, globex_order, house, missed = _globex_joined(
        acme_alone, ocean_carriers, ops_user, ops_scope, run
    )
    _by_hand(globex_order, ops_user, run, ("release", "Checked with the carrier."), ("hold", "Customer asked to wait."))

    _taken_off(master, house, missed, ops_user, run)

    globex = Order.objects.get(pk=globex_order.pk)
    assert (globex.status, globex.status_before_hold) == (OrderStatus.ON_HOLD, OrderStatus.PLANNED)
    assert [r.channel for r in releases(globex_order)] == ["screen"]  # the person's own release only
    assert not unplans(globex_order)


def test_a_person_held_order_taken_off_a_booked_master_says_so_in_its_history_at_once_and_once(
    acme_alone, ocean_carriers, ops_user, ops_scope, ops_team, hold_rule, run
):
    """The order's history said nothing when its house left the booked master while a person held it: not a word of
    its cargo until the release, however long the hold lasted, and then the unplan told the taking off as news of
    the release. It says so when it happens, by whoever took the house off; the release's unplan points back to it."""
    master, _acme_order, globex_order, house, missed = _globex_joined(
        acme_alone, ocean_carriers, ops_user, ops_scope, run
    )
    _by_hand(globex_order, ops_user, run, ("release", "Checked with the carrier."), ("hold", "Customer asked to wait."))
    taken_off = f"{house.reference} taken off {master.reference} while the order was on hold"

    _taken_off(master, house, missed, ops_user, run)

    entry = history(globex_order)[-1]
    assert (entry.title, entry.who, entry.channel) == ("Booked no more while on hold", ops_user.email, "Staff screen")
    assert entry.reason == f"{taken_off}: its cargo is booked no more; it goes back to confirmed when released"
    assert entry.changes == []
    assert status(globex_order) == OrderStatus.ON_HOLD

    _by_hand(globex_order, ops_user, run, ("release", "Customer paid."))

    entries = history(globex_order)
    assert [(e.title, e.who) for e in entries[-3:]] == [
        ("Booked no more while on hold", ops_user.email), ("Released", ops_user.email),
        ("Taken back to confirmed", "System"),
    ]  # fmt: skip
    assert entries[-1].reason == (
        f"Released with its cargo booked no more, as noted when {house.reference} was taken off {master.reference}"
    )
    assert sum(taken_off in entry.reason for entry in entries) == 1
    assert status(globex_order) == OrderStatus.CONFIRMED


def test_an_order_released_off_the_master_is_planned_again_on_another_booked_master_and_not_held(
    acme_alone, make_order, ocean_carriers, ops_user, ops_scope, ops_team, hold_rule, run
):
    """Released and unplanned on leaving, the order's house joins another booked master: planned again, as any
    confirmed order whose cargo joins a booked master; the cut-off's exception is not about that box."""
    master, _acme_order, globex_order, house, missed = _globex_joined(
        acme_alone, ocean_carriers, ops_user, ops_scope, run
    )
    _taken_off(master, house, missed, ops_user, run)
    other = consolidation.consolidation_create(
        orders=[make_order(lines=[lcl_line(1500, 5)])], container_type="22G1", by=ops_user
    )
    booking = booking_services.booking_request(shipment=other, carrier=ocean_carriers[0], by=ops_user)
    booking_services.booking_confirm(
        booking=booking, carrier_reference="OTHER-1", departure_at=NOW + 72 * H, arrival_at=NOW + 30 * 24 * H,
        scope=ops_scope, by=ops_user, vessel_name="Maersk Elba", voyage_number="251W",
    )  # fmt: skip

    consolidation.house_add(master=other, house=house, by=ops_user)
    with run():
        detect(master)

    assert status(globex_order) == OrderStatus.PLANNED
    assert [name for name, _source, _target in moves(globex_order)] == ["hold", "release", "unplan", "plan"]


def test_an_order_a_person_releases_with_nothing_booked_goes_back_to_confirmed_by_the_system(
    acme_alone, ocean_carriers, ops_user, ops_scope, ops_team, hold_rule, run
):
    """A person's release of an order taken off the booked master while they held it returns it to planned (the
    lifecycle's release); the release's event takes it back to confirmed at once, by the system, saying why
    (tracking.receivers: booking_orders.released_order_unplan). Given that order again, it does nothing."""
    master, _acme_order, globex_order, house, missed = _globex_joined(
        acme_alone, ocean_carriers, ops_user, ops_scope, run
    )
    _by_hand(globex_order, ops_user, run, ("release", "Checked with the carrier."), ("hold", "Customer asked to wait."))
    _taken_off(master, house, missed, ops_user, run)

    _by_hand(globex_order, ops_user, run, ("release", "Customer paid."))

    assert status(globex_order) == OrderStatus.CONFIRMED
    assert [name for name, _source, _target in moves(globex_order)][-2:] == ["release", "unplan"]
    [unplan] = unplans(globex_order)
    assert (unplan.by, unplan.channel) == (None, "system")
    assert unplan.reason == (
        f"Released with its cargo booked no more, as noted when {house.reference} was taken off {master.reference}"
    )
    assert unplan.payload == {"shipment": master.reference, "house": house.reference}
    again = booking_orders.released_order_unplan(order=Order.objects.get(pk=globex_order.pk), scope=ops_scope)
    assert again.status == OrderStatus.CONFIRMED  # not planned: nothing to do
    assert len(unplans(globex_order)) == 1


def test_released_order_unplan_leaves_a_booked_planned_order(
    acme_alone, ocean_carriers, ops_user, ops_scope, ops_team, hold_rule, run
):
    _master, _acme_order, globex_order, _house, _missed = _globex_joined(
        acme_alone, ocean_carriers, ops_user, ops_scope, run
    )
    _by_hand(globex_order, ops_user, run, ("release", "Checked with the carrier."))
    planned = Order.objects.get(pk=globex_order.pk)
    assert planned.status == OrderStatus.PLANNED

    assert booking_orders.released_order_unplan(order=planned, scope=ops_scope, by=ops_user) is planned
    assert not unplans(globex_order)


# --- holds taken before the hold's payload named the rule's run -------------------------------------------------


def _as_taken_before_the_payload_named_the_run(order) -> None:
    """The order's rule-taken holds as rules._take_transition wrote them before it named the run (rule and chain)."""
    for hold in OrderTransition.objects.filter(order=order, name="hold", channel="system"):
        automation = {key: value for key, value in hold.payload["automation"].items() if key != "event"}
        OrderTransition.objects.filter(pk=hold.pk).update(payload={**hold.payload, "automation": automation})


def test_an_older_hold_of_the_exceptions_rule_is_released_on_leaving_and_held_again_on_return(
    acme_alone, ocean_carriers, ops_user, ops_scope, ops_team, hold_rule, run
):
    """The hold names the rule, not its run: the rule ran for one exception of the order, this one, so the hold is
    its own. Released on leaving (and unplanned: its house left the booked master), held again when put back."""
    master, _acme_order, globex_order, house, missed = _globex_joined(
        acme_alone, ocean_carriers, ops_user, ops_scope, run
    )
    _as_taken_before_the_payload_named_the_run(globex_order)
    assert "event" not in holds(globex_order)[-1].payload["automation"]

    _taken_off(master, house, missed, ops_user, run)

    [release] = releases(globex_order)
    assert release.payload["taken_off_exception"] == missed.pk
    assert release.payload["automation"]["rule"] == hold_rule.pk
    assert status(globex_order) == OrderStatus.CONFIRMED

    consolidation.house_add(master=master, house=house, by=ops_user)
    with run():
        assert detect(master).widened == [missed.pk]
    assert status(globex_order) == OrderStatus.ON_HOLD
    again = holds(globex_order)[-1]
    assert again.reason == f"Back on {master.reference}: the exception “Missed cut-off” concerns this order again."
    assert again.payload["automation"]["event"] == f"exception:{missed.pk}:{globex_order.pk}"


def test_an_older_hold_is_left_when_another_exceptions_run_of_the_rule_could_have_taken_it(
    acme_alone, ocean_carriers, ops_user, ops_scope, ops_team, hold_rule, run, caplog
):
    """The damage's run of the same rule came before the hold was taken (recorded after the order's last release):
    either exception's run may have taken it, so leaving the cut-off's box releases nothing; said in the log. The
    order leaves the damage too: its hold is not the damage's either, for the same reason. Its exception's end
    releases it (held_order_release)."""
    master, _acme_order, globex_order, house, missed = _globex_joined(
        acme_alone, ocean_carriers, ops_user, ops_scope, run
    )
    damage = _another_exception(master, globex_order, names_the_order=False)
    _as_taken_before_the_payload_named_the_run(globex_order)
    hold = holds(globex_order)[-1]
    RuleRun.objects.filter(rule=hold_rule, event_key=f"exception:{damage.pk}:{globex_order.pk}").update(
        at=hold.at  # recorded by the time of the hold: it could have been the one
    )

    consolidation.house_remove(master=master, house=house, by=ops_user)
    with caplog.at_level(logging.INFO, logger="workflows.services.holds"), run():
        assert detect(master).narrowed == [missed.pk]
        _send(tracking_events.exception_orders_removed, damage, globex_order)

    assert status(globex_order) == OrderStatus.ON_HOLD
    assert not releases(globex_order)
    assert f"the rule ran for other exceptions of the order too (exception:{damage.pk}:{globex_order.pk})" in (
        caplog.text
    )

    with run():
        handling.exception_resolve(exception=ShipmentException.objects.get(pk=missed.pk), by=ops_user,
                                   root_cause="carrier")  # fmt: skip
        handling.exception_resolve(exception=ShipmentException.objects.get(pk=damage.pk), by=ops_user,
                                   root_cause="carrier")  # fmt: skip
    assert status(globex_order) == OrderStatus.CONFIRMED  # released, and back to confirmed: nothing is booked


def test_an_older_hold_is_released_though_another_exceptions_run_of_the_rule_came_after_it(
    acme_alone, ocean_carriers, ops_user, ops_scope, ops_team, hold_rule, run
):
    """The damage's run of the rule was recorded after the hold (it found the order held): it cannot have taken it.
    The hold is the cut-off's, released on leaving (the damage, about the whole box, concerns the order no more)."""
    master, _acme_order, globex_order, house, missed = _globex_joined(
        acme_alone, ocean_carriers, ops_user, ops_scope, run
    )
    damage = _another_exception(master, globex_order, names_the_order=False)
    _as_taken_before_the_payload_named_the_run(globex_order)

    _taken_off(master, house, missed, ops_user, run)

    assert status(globex_order) == OrderStatus.CONFIRMED
    [release] = releases(globex_order)
    assert release.payload["taken_off_exception"] == missed.pk
    assert RuleRun.objects.get(rule=hold_rule, event_key=f"exception:{damage.pk}:{globex_order.pk}").at > (
        holds(globex_order)[-1].at
    )


def test_held_orders_whose_booking_is_cancelled_are_released_back_to_confirmed_when_the_exception_ends(
    acme_alone, ocean_carriers, ops_user, ops_scope, ops_team, hold_rule, run
):
    """The booking cancelled while the rule held the orders: the cancellation cannot unplan them (reported). Its
    missed cut-off resolves with it, which releases them: back to planned with nothing booked, then to confirmed, the
    history giving the planning guard's reason."""
    master, acme_order, globex_order, _house, missed = _globex_joined(
        acme_alone, ocean_carriers, ops_user, ops_scope, run
    )
    booking = master.bookings.get()
    with run():
        outcome = booking_services.booking_cancel(booking=booking, reason="Blank sailing", by=ops_user)
        detect(master)
    assert sorted(order.pk for order, _why in outcome.not_unplanned) == sorted([acme_order.pk, globex_order.pk])

    assert ShipmentException.objects.get(pk=missed.pk).status == "resolved"
    for order in (acme_order, globex_order):
        assert status(order) == OrderStatus.CONFIRMED
        assert [name for name, _source, _target in moves(order)] == ["hold", "release", "unplan"]
        [unplan] = unplans(order)
        assert unplan.reason.startswith("Released with its cargo booked no more: No confirmed carrier booking yet for")
        [noted] = [entry for entry in history(order) if entry.title == "Booked no more while on hold"]
        assert noted.reason == (
            f"Carrier booking {booking.carrier_reference} with Maersk cancelled while the order was on hold (Blank "
            "sailing): its cargo is booked no more; it goes back to confirmed when released"
        )
        assert noted.who == ops_user.email
