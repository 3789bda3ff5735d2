"""Editing a draft never silently overwrites someone else's change: order_update checks the version the editor
read under the row lock (OrderVersionConflict, saying when and by whom), and a partial update is merged onto the
locked row, never onto a copy read before it. Race tests use real threads, connections and commits."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from orders import services
from orders.errors import OrderError, OrderVersionConflict
from orders.models import Channel, Order
from partners import services as partner_services
from partners.scoping import scope_for_api_key, scope_for_user
from tests.workflows.places import create_places


@pytest.fixture
def staff(ops_user):
    return scope_for_user(ops_user)


def edit(order: Order, scope: Any, by: Any = None, *, api_key: Any = None, version: str | None = None, **changes):
    """Save `changes` over the order as it is in the database now, made against `version` (None: unchecked)."""
    data = {**services.order_as_data(Order.objects.get(pk=order.pk)), **changes}
    if not scope.is_staff:
        data.pop("branch_code")
    return services.order_update(
        order=order, data=data, scope=scope, by=by, api_key=api_key, channel=Channel.SCREEN, expected_version=version
    )


# --- The version ----------------------------------------------------------------------------------------------


def test_the_version_changes_with_every_save_and_every_transition(order_factory, staff, ops_user):
    order = order_factory()
    created = services.order_version(order)

    edited = edit(order, staff, ops_user, shipper_name="Ningbo Sunpower Ltd.")
    cancelled = services.order_cancel(order=edited, scope=staff, by=ops_user, channel=Channel.SCREEN, reason="Dup")

    versions = [created, services.order_version(edited), services.order_version(cancelled)]
    assert len(set(versions)) == 3
    assert services.order_version(Order.objects.get(pk=order.pk)) == versions[-1]  # what a later read sees


def test_every_version_records_who_wrote_it(order_factory, staff, ops_user, sales_user, customer_a):
    """Who saved the order is read from the row, as its version is: not every save leaves a history row to read it
    from (a draft without cargo lines writes no line event)."""
    order = order_factory()
    assert (order.updated_by_id, order.updated_by_key_id) == (ops_user.pk, None)

    edited = edit(order, scope_for_user(sales_user), sales_user, shipper_name="Ningbo Sunpower Ltd.")
    assert (edited.updated_by_id, edited.updated_by_key_id) == (sales_user.pk, None)

    key = partner_services.api_key_create(organisation=customer_a, name="ACME ERP")[0]
    edited = edit(order, scope_for_api_key(key), api_key=key, consignee_name="Globex Retail")
    assert (edited.updated_by_id, edited.updated_by_key_id) == (None, key.pk)

    submitted = services.order_submit(order=edited, scope=staff, by=ops_user, channel=Channel.SCREEN)
    assert (submitted.updated_by_id, submitted.updated_by_key_id) == (ops_user.pk, None)
    stored = Order.objects.get(pk=order.pk)
    assert (stored.updated_by_id, stored.updated_by_key_id) == (ops_user.pk, None)


def test_an_edit_against_the_version_read_saves(order_factory, staff, ops_user):
    order = order_factory()

    saved = edit(order, staff, ops_user, version=services.order_version(order), shipper_name="Ningbo Sunpower Ltd.")

    assert Order.objects.get(pk=order.pk).shipper_name == "Ningbo Sunpower Ltd."
    assert services.order_version(saved) != services.order_version(order)


# --- A stale edit is refused ----------------------------------------------------------------------------------


def test_an_edit_against_an_older_version_is_refused_and_keeps_the_other_change(
    order_factory, staff, ops_user, sales_user
):
    order = order_factory()
    opened = services.order_version(order)  # both open the draft
    edit(order, scope_for_user(sales_user), sales_user, version=opened, consignee_name="Globex Retail")

    with pytest.raises(OrderVersionConflict) as refused:
        edit(order, staff, ops_user, version=opened, shipper_name="Ningbo Sunpower Ltd.")

    now = Order.objects.get(pk=order.pk)
    assert (now.consignee_name, now.shipper_name) == ("Globex Retail", "Shanghai Bright Lighting Co.")
    conflict = refused.value
    assert isinstance(conflict, OrderError)  # every interface already handles the family
    assert conflict.current_version == services.order_version(now)
    assert conflict.changed_at == now.updated_at
    assert conflict.changed_by == f"{sales_user.full_name} ({sales_user.email})"
    local = timezone.localtime(now.updated_at)
    assert str(conflict) == (
        f"{order.reference} was changed since you opened it: {sales_user.full_name} ({sales_user.email}) saved it on "
        f"{local.day} {local:%b %Y} at {local:%H:%M:%S} {local.tzname()}."
    )


def test_the_check_comes_after_the_draft_check(order_factory, staff, ops_user):
    order = order_factory()
    opened = services.order_version(order)
    services.order_submit(order=order, scope=staff, by=ops_user, channel=Channel.SCREEN)

    with pytest.raises(OrderError, match="Only draft orders can be edited") as refused:
        edit(order, staff, ops_user, version=opened)

    assert not isinstance(refused.value, OrderVersionConflict)  # "it is submitted" says more than "it changed"


def test_without_a_version_the_last_save_wins_as_before(order_factory, staff, ops_user, sales_user):
    order = order_factory()
    edit(order, scope_for_user(sales_user), sales_user, consignee_name="Globex Retail")

    edit(order, staff, ops_user, shipper_name="Ningbo Sunpower Ltd.")

    assert Order.objects.get(pk=order.pk).shipper_name == "Ningbo Sunpower Ltd."


def test_the_conflict_says_when_you_saved_it_yourself_elsewhere(order_factory, staff, ops_user):
    order = order_factory()
    opened = services.order_version(order)
    edit(order, staff, ops_user, version=opened, consignee_name="Globex Retail")  # another tab

    with pytest.raises(OrderVersionConflict) as refused:
        edit(order, staff, ops_user, version=opened, shipper_name="Ningbo Sunpower Ltd.")

    assert refused.value.changed_by == "you (in another tab or window)"


def test_customers_learn_the_names_of_their_own_keys_but_not_of_our_staff(order_factory, ops_user, customer_a):
    order = order_factory()
    key = partner_services.api_key_create(organisation=customer_a, name="ACME ERP")[0]
    other_key = partner_services.api_key_create(organisation=customer_a, name="ACME shop")[0]
    customer = scope_for_api_key(key)
    opened = services.order_version(order)
    edit(order, scope_for_user(ops_user), ops_user, consignee_name="Globex Retail")

    with pytest.raises(OrderVersionConflict) as by_staff:
        edit(order, customer, api_key=key, version=opened)
    opened = services.order_version(Order.objects.get(pk=order.pk))
    edit(order, scope_for_api_key(other_key), api_key=other_key, consignee_name="Initech")
    with pytest.raises(OrderVersionConflict) as by_their_key:
        edit(order, customer, api_key=key, version=opened)
    with pytest.raises(OrderVersionConflict) as by_themselves:
        edit(order, scope_for_api_key(other_key), api_key=other_key, version=opened)
    with pytest.raises(OrderVersionConflict) as seen_by_staff:
        edit(order, scope_for_user(ops_user), ops_user, version=opened)

    assert by_staff.value.changed_by == "the OMS team"
    assert ops_user.email not in str(by_staff.value)
    assert by_their_key.value.changed_by == "API key “ACME shop”"
    assert by_themselves.value.changed_by == "this API key (in another request)"
    assert seen_by_staff.value.changed_by == "API key “ACME shop”"


def test_a_partial_update_changes_only_what_it_names(order_factory, staff, ops_user):
    order = order_factory()

    services.order_update(
        order=order, data={"shipper_name": "Ningbo Sunpower Ltd."}, scope=staff, by=ops_user,
        channel=Channel.SCREEN, partial=True,
    )  # fmt: skip

    now = Order.objects.get(pk=order.pk)
    assert (now.shipper_name, now.consignee_name) == ("Ningbo Sunpower Ltd.", "Acme Industrial")
    assert now.lines.get().container_number == "CSQU3054383"


# --- Races (real threads and commits) ---------------------------------------------------------------------------


@pytest.fixture
def locations(db) -> None:
    """Overrides the demo set of 394 places: these tests need two."""
    create_places()


@pytest.fixture
def slow_next_save(monkeypatch):
    """`slow_next_save()`: the next save to write its cargo lines holds the order's row lock for a moment and says
    so (the event it returns), so another writer certainly reads, then waits on the lock before that save commits."""

    def arm() -> threading.Event:
        locked = threading.Event()
        write_lines = services._write_lines

        def slow(order: Order, clean: Any) -> None:
            if not locked.is_set():
                locked.set()
                time.sleep(0.4)
            write_lines(order, clean)

        monkeypatch.setattr(services, "_write_lines", slow)
        return locked

    return arm


def _in_thread(work: Any) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = work()
        except Exception as exc:  # handed to the test, which asserts on it
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


@pytest.mark.django_db(transaction=True)
def test_a_partial_update_waiting_for_the_lock_merges_onto_what_the_other_save_wrote(
    order_data, ops_user, sales_user, slow_next_save
):
    staff = scope_for_user(ops_user)
    order = services.order_create(data=order_data(), scope=staff, by=ops_user, channel=Channel.SCREEN)
    stale = Order.objects.get(pk=order.pk)  # read before the other save commits
    locked = slow_next_save()

    thread, outcome = _in_thread(lambda: edit(order, scope_for_user(sales_user), sales_user, consignee_name="Globex"))
    assert locked.wait(timeout=10)
    services.order_update(
        order=stale, data={"shipper_name": "Ningbo Sunpower Ltd."}, scope=staff, by=ops_user,
        channel=Channel.SCREEN, partial=True,
    )  # fmt: skip
    thread.join(timeout=30)

    assert "error" not in outcome, outcome
    now = Order.objects.get(pk=order.pk)
    assert (now.shipper_name, now.consignee_name) == ("Ningbo Sunpower Ltd.", "Globex")


@pytest.mark.django_db(transaction=True)
def test_two_saves_of_the_same_version_at_once_one_wins_and_the_other_is_refused(order_data, ops_user, sales_user):
    staff = scope_for_user(ops_user)
    order = services.order_create(data=order_data(), scope=staff, by=ops_user, channel=Channel.SCREEN)
    opened = services.order_version(order)
    barrier = threading.Barrier(2)

    def save(user: Any, **changes: Any) -> Any:
        def work() -> Any:
            barrier.wait(timeout=10)
            return edit(order, scope_for_user(user), user, version=opened, **changes)

        return work

    runs = [
        _in_thread(save(ops_user, shipper_name="Ningbo Sunpower Ltd.")),
        _in_thread(save(sales_user, notify_name="X")),
    ]
    for thread, _outcome in runs:
        thread.join(timeout=30)

    outcomes = [outcome for _thread, outcome in runs]
    winners = [outcome["result"] for outcome in outcomes if "result" in outcome]
    losers = [outcome["error"] for outcome in outcomes if "error" in outcome]
    assert len(winners) == 1, outcomes
    assert len(losers) == 1, outcomes
    assert isinstance(losers[0], OrderVersionConflict), losers
    now = Order.objects.get(pk=order.pk)
    assert services.order_version(now) == services.order_version(winners[0])
    assert (now.shipper_name == "Ningbo Sunpower Ltd.") != (now.notify_name == "X")  # exactly one change landed
    assert losers[0].changed_at == now.updated_at
