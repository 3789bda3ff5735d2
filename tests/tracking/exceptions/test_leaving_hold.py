"""An order taken off an open exception's shipment is no longer concerned by it: the hold that exception's "exception
opened" rule put on the order is released, with a line saying why, and put back while the exception is open the order
is held again by that same rule's run, as its task is reopened (decision 0004, "An order that leaves an open
exception's shipment"). Only that hold: a person's hold, or another exception's, is left; a redelivered message does
nothing twice."""

from __future__ import annotations

from django.utils import timezone

from orders import services as order_services
from orders.models import Channel, Order, OrderStatus, OrderTransition
from partners.scoping import scope_for_user
from tracking import events as tracking_events
from tracking.exceptions.models import ExceptionKind, ShipmentException
from tracking.exceptions.services import handling
from tracking.services import consolidation
from workflows.models import RuleOutcome, RuleRun, Task, TaskState
from workflows.services import exceptions as workflow_exceptions

from .conftest import detect
from .test_consolidation_parties import acme_alone
from .test_holds_released import hold_rule, releases, run
from .test_joined_order_rules import _cutoff_missed

__all__ = ["acme_alone", "hold_rule", "run"]
K = ExceptionKind


def holds(order) -> list[OrderTransition]:
    return list(OrderTransition.objects.filter(order=order, name="hold").order_by("at", "pk"))


def status(order) -> str:
    return Order.objects.get(pk=order.pk).status


def _globex_joined(acme_alone, ocean_carriers, ops_user, ops_scope, run):
    """The cut-off missed on ACME's consolidation, then Globex's order added: the rule holds both orders."""
    master, acme_order, globex_order = acme_alone
    missed = _cutoff_missed(master, ocean_carriers, ops_user, ops_scope, run)
    house = consolidation.order_add_to_master(order=globex_order, master=master, by=ops_user)
    with run():
        assert detect(master).widened == [missed.pk]
    assert status(globex_order) == OrderStatus.ON_HOLD
    return master, acme_order, globex_order, house, missed


def _send(signal, exception: ShipmentException, order) -> None:
    signal.send(
        sender=ShipmentException, exception_id=exception.pk, kind=exception.kind, shipment_id=exception.shipment_id,
        order_ids=[order.pk],
    )  # fmt: skip


def test_an_order_taken_off_is_released_from_the_exceptions_hold_and_held_again_when_put_back(
    acme_alone, ocean_carriers, ops_user, ops_scope, ops_team, hold_rule, run
):
    master, acme_order, globex_order, house, missed = _globex_joined(
        acme_alone, ocean_carriers, ops_user, ops_scope, run
    )

    consolidation.house_remove(master=master, house=house, by=ops_user)
    with run():
        assert detect(master).narrowed == [missed.pk]

    [release] = releases(globex_order)
    assert (release.channel, release.by, release.source) == ("system", None, OrderStatus.ON_HOLD)
    assert release.reason == (
        f"Hold released: taken off {master.reference}: the exception “Missed cut-off” no longer concerns this order."
    )
    assert release.payload["released_by_exception"] == missed.pk
    assert status(globex_order) != OrderStatus.ON_HOLD
    assert status(acme_order) == OrderStatus.ON_HOLD  # ACME's cargo is still on the late box
    assert not releases(acme_order)
    with run():  # a redelivered message releases nothing twice
        _send(tracking_events.exception_orders_removed, missed, globex_order)
    assert len(releases(globex_order)) == 1

    consolidation.house_add(master=master, house=house, by=ops_user)
    with run():
        assert detect(master).widened == [missed.pk]

    assert status(globex_order) == OrderStatus.ON_HOLD
    _first, again = holds(globex_order)
    assert again.reason == f"Back on {master.reference}: the exception “Missed cut-off” concerns this order again."
    assert (again.channel, again.payload["automation"]["rule"]) == ("system", hold_rule.pk)
    assert RuleRun.objects.filter(rule=hold_rule, order=globex_order).count() == 1  # its rules ran once
    with run():  # a redelivered message holds nothing twice
        _send(tracking_events.exception_orders_added, missed, globex_order)
    assert len(holds(globex_order)) == 2

    # The exception's end releases the order again, as it releases ACME's: the rule's run names the exception.
    with run():
        handling.exception_resolve(exception=ShipmentException.objects.get(pk=missed.pk), by=ops_user,
                                   root_cause="carrier")  # fmt: skip
    assert status(globex_order) != OrderStatus.ON_HOLD
    assert status(acme_order) != OrderStatus.ON_HOLD
    assert [r.payload["released_by_exception"] for r in releases(globex_order)] == [missed.pk, missed.pk]


def test_a_hold_a_person_put_on_stays_when_the_order_is_taken_off_and_is_not_entered_again_after_their_release(
    acme_alone, ocean_carriers, ops_user, ops_scope, ops_team, hold_rule, run
):
    """The rule held Globex's order; a person released it and held it again for a reason of their own. Taken off, the
    order stays on the person's hold. The person releases it and it is put back: the exception's rule does not hold it
    again over the person's decision (their release is the order's last)."""
    master, _acme_order, globex_order, house, missed = _globex_joined(
        acme_alone, ocean_carriers, ops_user, ops_scope, run
    )
    _by_hand(globex_order, ops_user, run, ("release", "Checked with the carrier."), ("hold", "Customer asked to wait."))

    consolidation.house_remove(master=master, house=house, by=ops_user)
    with run():
        assert detect(master).narrowed == [missed.pk]
    assert status(globex_order) == OrderStatus.ON_HOLD
    assert [r.channel for r in releases(globex_order)] == ["screen"]  # the person's own release only

    _by_hand(globex_order, ops_user, run, ("release", "Customer paid."))
    consolidation.house_add(master=master, house=house, by=ops_user)
    with run():
        assert detect(master).widened == [missed.pk]
    assert status(globex_order) != OrderStatus.ON_HOLD
    assert [h.channel for h in holds(globex_order)] == ["system", "screen"]  # no hold entered after the person's


def _by_hand(order, person, run, *steps: tuple[str, str]) -> None:
    for name, reason in steps:
        with run():
            order_services.order_transition(
                order=Order.objects.get(pk=order.pk), name=name, scope=scope_for_user(person), channel=Channel.SCREEN,
                by=person, reason=reason,
            )  # fmt: skip


def _another_exception(master, globex_order, *, names_the_order: bool) -> ShipmentException:
    """A second open exception, announced, whose "exception opened" rule ran on Globex's order (found it held)."""
    other = ShipmentException.objects.create(
        kind=K.DAMAGE, shipment=master, order=globex_order if names_the_order else None, mode=master.mode,
        detail="Damage reported on the box.", announced_at=timezone.now(),
    )  # fmt: skip
    workflow_exceptions.exception_orders_added_handle(
        exception_id=other.pk, kind=other.kind, order_ids=[globex_order.pk]
    )
    return other


def test_another_exception_leaving_releases_nothing_of_the_hold_this_one_put_on(
    acme_alone, ocean_carriers, ops_user, ops_scope, ops_team, hold_rule, run
):
    """The cut-off's rule held Globex's order; the damage's rule found it held. The damage no longer concerning the
    order releases nothing: the hold is the cut-off's, which still concerns it."""
    master, _acme_order, globex_order, _house, _missed = _globex_joined(
        acme_alone, ocean_carriers, ops_user, ops_scope, run
    )
    other = _another_exception(master, globex_order, names_the_order=False)
    assert RuleRun.objects.get(rule=hold_rule, event_key=f"exception:{other.pk}:{globex_order.pk}").outcome == (
        RuleOutcome.PARTLY
    )

    with run():
        _send(tracking_events.exception_orders_removed, other, globex_order)

    assert status(globex_order) == OrderStatus.ON_HOLD
    assert not releases(globex_order)
    other_task = Task.objects.get(rule=hold_rule, source_key__contains=f":exception:{other.pk}:")
    assert other_task.state == TaskState.CANCELLED  # its own task is cancelled, as before


def test_an_order_taken_off_stays_held_while_another_exception_that_names_it_holds_it(
    acme_alone, ocean_carriers, ops_user, ops_scope, ops_team, hold_rule, run
):
    """Taken off the cut-off's box, Globex's order is still concerned by a damage exception that names it (whose
    rule would hold it): the cut-off's hold is not released then. Once that exception resolves, nothing holds the
    order any more (the cut-off no longer concerns it), and the damage's end releases it."""
    master, _acme_order, globex_order, house, missed = _globex_joined(
        acme_alone, ocean_carriers, ops_user, ops_scope, run
    )
    damage = _another_exception(master, globex_order, names_the_order=True)

    consolidation.house_remove(master=master, house=house, by=ops_user)
    with run():
        _send(tracking_events.exception_orders_removed, missed, globex_order)
    assert status(globex_order) == OrderStatus.ON_HOLD
    assert not releases(globex_order)

    with run():
        handling.exception_resolve(exception=damage, by=ops_user, root_cause="carrier")
    [release] = releases(globex_order)
    assert release.payload["released_by_exception"] == damage.pk
    assert status(globex_order) != OrderStatus.ON_HOLD


def test_an_order_put_back_is_held_again_by_the_other_open_exception_when_the_one_that_held_it_ended_meanwhile(
    acme_alone, ocean_carriers, ops_user, ops_scope, ops_team, hold_rule, run
):
    """Two exceptions on the master: the cut-off's rule held Globex's order, the damage's found it held (it holds the
    order too, docs/exceptions.md "What still holds an order"). Taken off, nothing concerns the order and it is
    released. The cut-off resolves while it is off; put back, the damage, still open, concerns it again: the order is
    held again for the damage's run, as it would have stayed held had it never left (review, sixteenth session)."""
    master, _acme_order, globex_order, house, missed = _globex_joined(
        acme_alone, ocean_carriers, ops_user, ops_scope, run
    )
    damage = _another_exception(master, globex_order, names_the_order=False)

    consolidation.house_remove(master=master, house=house, by=ops_user)
    with run():
        assert detect(master).narrowed == [missed.pk]
        _send(tracking_events.exception_orders_removed, damage, globex_order)  # (detection tells it the same way)
    assert status(globex_order) != OrderStatus.ON_HOLD
    with run():
        handling.exception_resolve(exception=ShipmentException.objects.get(pk=missed.pk), by=ops_user,
                                   root_cause="carrier")  # fmt: skip

    consolidation.house_add(master=master, house=house, by=ops_user)
    with run():
        _send(tracking_events.exception_orders_added, damage, globex_order)

    assert status(globex_order) == OrderStatus.ON_HOLD
    again = holds(globex_order)[-1]
    assert again.reason == f"Back on {master.reference}: the exception “Damage” concerns this order again."
    assert again.payload["automation"]["event"] == f"exception:{damage.pk}:{globex_order.pk}"
    with run():  # the damage's end releases it, as any exception's hold
        handling.exception_resolve(exception=ShipmentException.objects.get(pk=damage.pk), by=ops_user,
                                   root_cause="carrier")  # fmt: skip
    assert status(globex_order) != OrderStatus.ON_HOLD
    assert releases(globex_order)[-1].payload["released_by_exception"] == damage.pk


def test_an_order_released_by_another_exceptions_end_while_off_is_held_again_when_put_back(
    acme_alone, ocean_carriers, ops_user, ops_scope, ops_team, hold_rule, run
):
    """Taken off the cut-off's box while a damage exception that names it held it too, the order stayed held; the
    damage's end then released it, the cut-off no longer concerning it. Put back while the cut-off is open, it is
    concerned again: held again for the cut-off's run, as had it never left (review, sixteenth session)."""
    master, _acme_order, globex_order, house, missed = _globex_joined(
        acme_alone, ocean_carriers, ops_user, ops_scope, run
    )
    damage = _another_exception(master, globex_order, names_the_order=True)
    consolidation.house_remove(master=master, house=house, by=ops_user)
    with run():
        _send(tracking_events.exception_orders_removed, missed, globex_order)
        handling.exception_resolve(exception=damage, by=ops_user, root_cause="carrier")
    assert status(globex_order) != OrderStatus.ON_HOLD

    consolidation.house_add(master=master, house=house, by=ops_user)
    with run():
        _send(tracking_events.exception_orders_added, missed, globex_order)

    assert status(globex_order) == OrderStatus.ON_HOLD
    assert holds(globex_order)[-1].payload["automation"]["event"] == f"exception:{missed.pk}:{globex_order.pk}"


def test_an_order_resolved_off_or_held_by_a_person_after_the_release_is_not_held_again_by_the_exception(
    acme_alone, ocean_carriers, ops_user, ops_scope, ops_team, hold_rule, run
):
    """Released on leaving, the order is held by a person; the exception resolving releases nothing of theirs, and
    once it has resolved, putting the order back holds nothing (nothing is announced for a resolved exception)."""
    master, acme_order, globex_order, house, missed = _globex_joined(
        acme_alone, ocean_carriers, ops_user, ops_scope, run
    )
    consolidation.house_remove(master=master, house=house, by=ops_user)
    with run():
        assert detect(master).narrowed == [missed.pk]
    _by_hand(globex_order, ops_user, run, ("hold", "Customer asked to wait."))

    with run():
        handling.exception_resolve(exception=ShipmentException.objects.get(pk=missed.pk), by=ops_user,
                                   root_cause="carrier")  # fmt: skip
    assert status(globex_order) == OrderStatus.ON_HOLD  # the person's hold stays
    assert status(acme_order) != OrderStatus.ON_HOLD
    _by_hand(globex_order, ops_user, run, ("release", "Customer paid."))

    consolidation.house_add(master=master, house=house, by=ops_user)
    with run():
        assert detect(master).widened == []
        _send(tracking_events.exception_orders_added, missed, globex_order)  # a late message finds it resolved
    assert status(globex_order) != OrderStatus.ON_HOLD
    assert [h.channel for h in holds(globex_order)] == ["system", "screen"]
