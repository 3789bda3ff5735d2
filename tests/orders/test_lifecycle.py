"""The order lifecycle: every transition from every state (allowed and refused), who may take each one,
hold and release, guards with their messages, and the race between two people.

The expected tables below are written out by hand, from the issue, not derived from the code under test.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest

from orders import events, lifecycle
from orders.errors import ConcurrentChange, TransitionNotAllowed
from orders.models import Channel, Order, OrderStatus, OrderTransition
from partners.models import Role
from partners.scoping import Audience, Scope, scope_for_user
from tests.workflows.places import create_places

S = OrderStatus
LIVE = (S.SUBMITTED, S.CONFIRMED, S.PLANNED, S.IN_TRANSIT, S.ARRIVED, S.DELIVERED, S.COMPLETED)
BEFORE_GOODS_MOVE = (S.DRAFT, S.SUBMITTED, S.CONFIRMED, S.PLANNED)

# transition -> {source: target}; release and cancel-from-hold depend on where the order was held.
EXPECTED: dict[str, dict[str, str]] = {
    "submit": {S.DRAFT: S.SUBMITTED},
    "confirm": {S.SUBMITTED: S.CONFIRMED},
    "plan": {S.CONFIRMED: S.PLANNED},
    "unplan": {S.PLANNED: S.CONFIRMED},  # the one step back: the plan fell through before the goods moved
    "depart": {S.PLANNED: S.IN_TRANSIT},
    "arrive": {S.IN_TRANSIT: S.ARRIVED},
    "deliver": {S.ARRIVED: S.DELIVERED},
    "complete": {S.DELIVERED: S.COMPLETED},
    "invoice": {S.COMPLETED: S.INVOICED},
    "close": {S.INVOICED: S.CLOSED},
    "hold": dict.fromkeys(LIVE, S.ON_HOLD),
    "release": {S.ON_HOLD: S.CONFIRMED},  # held while confirmed, in these tables
    "cancel": {**dict.fromkeys(BEFORE_GOODS_MOVE, S.CANCELLED), S.ON_HOLD: S.CANCELLED},
}
REASONS = {
    "hold": "Waiting for the letter of credit.",
    "cancel": "Customer withdrew the order.",
    "unplan": "Carrier booking cancelled: blank sailing.",
}
STAFF_ROLES = {
    "submit": {Role.SALES, Role.OPERATIONS},
    "confirm": {Role.SALES, Role.OPERATIONS},
    "plan": {Role.OPERATIONS},
    "unplan": {Role.OPERATIONS},
    "depart": {Role.OPERATIONS},
    "arrive": {Role.OPERATIONS},
    "deliver": {Role.OPERATIONS},
    "complete": {Role.OPERATIONS},
    "invoice": {Role.FINANCE},
    "close": {Role.FINANCE},
    "hold": {Role.SALES, Role.OPERATIONS, Role.DOCUMENTATION, Role.FINANCE},
    "release": {Role.SALES, Role.OPERATIONS, Role.DOCUMENTATION, Role.FINANCE},
    "cancel": {Role.SALES, Role.OPERATIONS},
}
ALLOWED = [(name, source) for name, sources in EXPECTED.items() for source in sources]
FORBIDDEN = [(name, state) for name in EXPECTED for state in S.values if state not in EXPECTED[name]]
ADMIN = Scope(Audience.STAFF, frozenset(), frozenset({Role.ADMIN}))


@pytest.fixture
def locations(db) -> None:
    """Overrides the demo set of 394 places: these tests need two."""
    create_places()


@pytest.fixture(autouse=True)
def _only_lifecycle_guards(monkeypatch):
    """Other apps' guards (bookings, open tasks) are theirs to test; here the lifecycle stands alone."""
    monkeypatch.setattr(lifecycle, "_guards", defaultdict(list))


@pytest.fixture
def order_in(order_data, ops_user) -> Callable[..., Order]:
    """`order_in(status)`: a fresh order put straight into `status` (held orders were confirmed)."""
    numbers = itertools.count(1)
    scope = scope_for_user(ops_user)

    def make(status: str = S.DRAFT, *, before_hold: str = S.CONFIRMED) -> Order:
        from orders import services

        data = order_data(customer_reference=f"LC-{next(numbers):04d}")
        order = services.order_create(data=data, scope=scope, by=ops_user, channel=Channel.SCREEN)
        held = before_hold if status == S.ON_HOLD else ""
        Order.objects.filter(pk=order.pk).update(status=status, status_before_hold=held)
        return Order.objects.get(pk=order.pk)

    return make


def take(order: Order, name: str, scope: Scope = ADMIN, **extra: Any) -> Order:
    extra.setdefault("reason", REASONS.get(name, ""))
    return lifecycle.apply(order, name, scope=scope, channel=Channel.SCREEN, **extra)


def test_the_model_offers_exactly_the_expected_transitions():
    declared = {
        (t.name, t.source)
        for t in Order._meta.get_field("status").get_all_transitions(Order)  # type: ignore[attr-defined]
    }
    assert declared == set(ALLOWED)
    assert set(lifecycle.TRANSITIONS) == set(EXPECTED)


@pytest.mark.parametrize(("name", "source"), ALLOWED)
def test_transition_moves_the_order_from_an_allowed_state(order_in, name, source, django_capture_on_commit_callbacks):
    order = order_in(source)
    with django_capture_on_commit_callbacks() as callbacks:
        result = take(order, name)
    assert result.status == EXPECTED[name][source]
    assert Order.objects.get(pk=order.pk).status == EXPECTED[name][source]
    record = OrderTransition.objects.get(order=order)
    assert (record.name, record.source, record.target) == (name, source, EXPECTED[name][source])
    assert len(callbacks) == 1  # order_status_changed, after commit


@pytest.mark.parametrize(("name", "state"), FORBIDDEN)
def test_transition_is_refused_from_every_other_state(order_in, name, state, django_capture_on_commit_callbacks):
    order = order_in(state, before_hold=S.IN_TRANSIT)  # a hold while moving cannot be cancelled either
    with pytest.raises(TransitionNotAllowed), django_capture_on_commit_callbacks() as callbacks:
        take(order, name)
    assert Order.objects.get(pk=order.pk).status == state
    assert not OrderTransition.objects.filter(order=order).exists()
    assert callbacks == []


@pytest.mark.parametrize("name", list(EXPECTED))
@pytest.mark.parametrize("role", [Role.SALES, Role.OPERATIONS, Role.DOCUMENTATION, Role.FINANCE, Role.ADMIN])
def test_each_role_may_take_exactly_its_transitions(order_in, name, role):
    order = order_in(next(iter(EXPECTED[name])))
    scope = Scope(Audience.STAFF, frozenset({1}), frozenset({role}))
    if role == Role.ADMIN or role in STAFF_ROLES[name]:
        assert take(order, name, scope).status == EXPECTED[name][order.status]
    else:
        with pytest.raises(TransitionNotAllowed, match="Your role may not"):
            take(order, name, scope)


# What a refusal says one may not do, as a person would say it (not the button's label pasted into the sentence).
REFUSED: dict[str, tuple[str, str]] = {
    "submit": ("Your role may not submit orders.", "You may not submit this order."),
    "confirm": ("Your role may not confirm orders.", "You may not confirm this order."),
    "plan": ("Your role may not mark orders as planned.", "You may not mark this order as planned."),
    "unplan": ("Your role may not take orders back to confirmed.", "You may not take this order back to confirmed."),
    "depart": ("Your role may not mark orders as departed.", "You may not mark this order as departed."),
    "arrive": ("Your role may not mark orders as arrived.", "You may not mark this order as arrived."),
    "deliver": ("Your role may not mark orders as delivered.", "You may not mark this order as delivered."),
    "complete": ("Your role may not complete orders.", "You may not complete this order."),
    "invoice": ("Your role may not mark orders as invoiced.", "You may not mark this order as invoiced."),
    "close": ("Your role may not close orders.", "You may not close this order."),
    "hold": ("Your role may not put orders on hold.", "You may not put this order on hold."),
    "release": ("Your role may not release orders from hold.", "You may not release this order from hold."),
    "cancel": ("Your role may not cancel orders.", "You may not cancel this order."),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_a_refusal_says_in_a_sentence_what_the_person_may_not_do(order_in, customer_b_user, name):
    order = order_in(next(iter(EXPECTED[name])))
    no_role = Scope(Audience.STAFF, frozenset({1}), frozenset())
    assert lifecycle.blocked_reason(order, name, no_role) == REFUSED[name][0]
    assert lifecycle.blocked_reason(order, name, scope_for_user(customer_b_user)) == REFUSED[name][1]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_available_transitions_list_only_what_the_role_may_take(order_in, name):
    order = order_in(next(iter(EXPECTED[name])))
    for role in (Role.SALES, Role.OPERATIONS, Role.DOCUMENTATION, Role.FINANCE):
        scope = Scope(Audience.STAFF, frozenset({1}), frozenset({role}))
        listed = {t["name"] for t in lifecycle.available_transitions(order, scope)}
        assert (name in listed) == (role in STAFF_ROLES[name])


@pytest.mark.parametrize(
    ("name", "status", "may"),
    [
        ("submit", S.DRAFT, True), ("cancel", S.DRAFT, True), ("cancel", S.SUBMITTED, True),
        ("cancel", S.CONFIRMED, False), ("confirm", S.SUBMITTED, False), ("hold", S.SUBMITTED, False),
        ("release", S.ON_HOLD, False), ("deliver", S.ARRIVED, False),
    ],
)  # fmt: skip
def test_customers_may_submit_and_cancel_their_own_orders_until_confirmed(order_in, customer_a_user, name, status, may):
    order = order_in(status)
    scope = scope_for_user(customer_a_user)
    if may:
        assert take(order, name, scope).status == EXPECTED[name][status]
    else:
        with pytest.raises(TransitionNotAllowed):
            take(order, name, scope)


def test_customer_may_not_touch_another_customers_order(order_in, customer_b_user):
    order = order_in(S.DRAFT)
    with pytest.raises(TransitionNotAllowed, match="You may not"):
        take(order, "submit", scope_for_user(customer_b_user))


def test_partners_and_outsiders_take_no_transition(order_in, carrier_user, outsider):
    order = order_in(S.SUBMITTED)
    for user in (carrier_user, outsider):
        assert lifecycle.available_transitions(order, scope_for_user(user)) == []
        with pytest.raises(TransitionNotAllowed):
            take(order, "cancel", scope_for_user(user))


@pytest.mark.parametrize("held_in", LIVE)
def test_release_returns_the_order_to_where_it_was_held(order_in, held_in):
    order = order_in(held_in)
    held = take(order, "hold")
    assert (held.status, held.status_before_hold) == (S.ON_HOLD, held_in)
    released = take(held, "release")
    assert (released.status, released.status_before_hold) == (held_in, "")
    assert list(OrderTransition.objects.filter(order=order).values_list("name", "target")) == [
        ("hold", S.ON_HOLD),
        ("release", held_in),
    ]


@pytest.mark.parametrize("held_in", LIVE)
def test_a_held_order_can_be_cancelled_only_if_held_before_the_goods_moved(order_in, held_in):
    order = take(order_in(held_in), "hold")
    if held_in in BEFORE_GOODS_MOVE:
        assert take(order, "cancel").status == S.CANCELLED
        assert Order.objects.get(pk=order.pk).status_before_hold == ""
    else:
        with pytest.raises(TransitionNotAllowed, match="held after it was planned"):
            take(order, "cancel")


@pytest.mark.parametrize("name", ["hold", "cancel"])
def test_hold_and_cancel_need_a_reason(order_in, name):
    order = order_in(S.SUBMITTED)
    with pytest.raises(TransitionNotAllowed, match="Say why"):
        take(order, name, reason="  ")
    assert take(order, name, reason="Credit limit reached.").status in (S.ON_HOLD, S.CANCELLED)
    assert OrderTransition.objects.get(order=order).reason == "Credit limit reached."


def test_submitting_stamps_submitted_at_and_cancelling_keeps_the_reason(order_in):
    submitted = take(order_in(S.DRAFT), "submit")
    assert submitted.submitted_at is not None
    cancelled = take(order_in(S.CONFIRMED), "cancel", reason="Duplicate of another order.")
    assert (cancelled.cancelled_at is not None, cancelled.cancel_reason) == (True, "Duplicate of another order.")


def test_a_registered_guard_blocks_with_its_message_and_the_screen_shows_why(order_in, ops_user):
    lifecycle.register_guard("depart", lambda order: "Export declaration not filed yet.")
    order = order_in(S.PLANNED)
    with pytest.raises(TransitionNotAllowed, match=re.escape("Export declaration not filed yet.")):
        take(order, "depart")
    depart = next(t for t in lifecycle.available_transitions(order, scope_for_user(ops_user)) if t["name"] == "depart")
    assert (depart["allowed"], depart["reason"]) == (False, "Export declaration not filed yet.")


def test_a_guard_that_allows_lets_the_transition_through(order_in):
    lifecycle.register_guard("arrive", lambda order: None)
    assert take(order_in(S.IN_TRANSIT), "arrive").status == S.ARRIVED


def test_guards_are_registered_only_for_real_transitions():
    with pytest.raises(ValueError, match="no transition called ship"):
        lifecycle.register_guard("ship", lambda order: None)


def test_a_stale_view_of_the_order_is_refused_as_a_concurrent_change(order_in):
    order = order_in(S.SUBMITTED)
    take(Order.objects.get(pk=order.pk), "confirm")
    with pytest.raises(ConcurrentChange, match="changed meanwhile: it is now confirmed"):
        take(order, "cancel")  # the caller still holds the submitted copy
    assert OrderTransition.objects.filter(order=order).count() == 1


def test_an_unknown_transition_is_refused(order_in):
    with pytest.raises(TransitionNotAllowed, match="no transition called teleport"):
        take(order_in(S.SUBMITTED), "teleport")


def test_the_event_carries_the_transition_row(order_in, django_capture_on_commit_callbacks):
    received: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        received.append(kwargs)

    events.order_status_changed.connect(receiver, dispatch_uid="test-lifecycle-event")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            take(order_in(S.SUBMITTED), "confirm", payload={"source": "test"})
    finally:
        events.order_status_changed.disconnect(dispatch_uid="test-lifecycle-event")
    (event,) = received
    record = OrderTransition.objects.get(pk=event["transition_id"])
    assert (event["transition"], event["source"], event["target"]) == ("confirm", S.SUBMITTED, S.CONFIRMED)
    assert record.payload == {"source": "test"}


def test_every_guard_that_blocks_is_named(order_in):
    lifecycle.register_guard("deliver", lambda order: "Customs not cleared.")
    lifecycle.register_guard("deliver", lambda order: None)
    lifecycle.register_guard("deliver", lambda order: "No delivery slot booked.")
    with pytest.raises(TransitionNotAllowed, match=r"^Customs not cleared\. No delivery slot booked\.$"):
        take(order_in(S.ARRIVED), "deliver")


def test_a_transition_writes_its_fields_its_row_and_its_history_with_who_and_how(order_in, ops_user):
    from django.apps import apps

    order = order_in(S.DRAFT)
    before = Order.objects.get(pk=order.pk)

    moved = lifecycle.apply(
        order, "submit", scope=scope_for_user(ops_user), by=ops_user, channel=Channel.API, payload={"via": "test"}
    )

    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.submitted_at) == (S.SUBMITTED, moved.submitted_at)
    assert stored.updated_at == moved.updated_at
    assert stored.updated_at > before.updated_at
    untouched = {f.attname for f in Order._meta.concrete_fields} - {"status", "submitted_at", "updated_at"}
    assert {name: getattr(stored, name) for name in untouched} == {name: getattr(before, name) for name in untouched}
    record = OrderTransition.objects.get(order=order)
    assert (record.name, record.source, record.target, record.by_id, record.api_key_id, record.channel) == (
        "submit", S.DRAFT, S.SUBMITTED, ops_user.pk, None, Channel.API,
    )  # fmt: skip
    assert (record.payload, record.at) == ({"via": "test"}, moved.submitted_at)
    event = apps.get_model("orders", "OrderEvent").objects.filter(pgh_obj_id=order.pk).latest("pgh_id")
    assert (event.pgh_label, event.status) == ("update", S.SUBMITTED)
    context = {"user": ops_user.pk, "api_key": None, "channel": "api", "transition": "submit"}
    assert event.pgh_context.metadata == context


def test_a_transition_on_an_order_deleted_meanwhile_says_it_does_not_exist(order_in):
    order = order_in(S.SUBMITTED)
    Order.objects.filter(pk=order.pk).delete()

    with pytest.raises(Order.DoesNotExist):
        take(order, "confirm")
