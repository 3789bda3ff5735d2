"""The order's history says who took each transition, also when a rule reacts to a person's transition
right after it commits: the automatic confirmation has its own context, the person's stays theirs."""

from __future__ import annotations

import pytest
from pghistory.models import Context

from orders import history_entries
from orders import selectors as order_selectors
from orders import services as order_services
from orders.models import Channel, OrderStatus
from partners.scoping import scope_for_user
from workflows.models import CustomerSettings, Rule, RuleAction, RuleCondition, RuleEvent


@pytest.mark.django_db(transaction=True)  # real commits: the receiver runs after the submit's commit
def test_an_automatic_confirmation_keeps_the_submitters_name_on_the_submit(customer_a, make_order, ops_user, ops_team):
    CustomerSettings.objects.create(customer=customer_a, auto_accept=True)
    rule = Rule.objects.create(name="Auto-accept", event=RuleEvent.ORDER_SUBMITTED)
    RuleCondition.objects.create(rule=rule, field="customer_auto_accept", operator="true")
    RuleAction.objects.create(rule=rule, kind="transition", transition="confirm")
    draft = make_order()

    order_services.order_submit(order=draft, scope=scope_for_user(ops_user), by=ops_user, channel=Channel.API)

    draft.refresh_from_db()
    assert draft.status == OrderStatus.CONFIRMED
    contexts = {
        event.status: Context.objects.get(pk=event.pgh_context_id).metadata
        for event in draft.events.filter(pgh_label="update")
    }
    assert contexts[OrderStatus.SUBMITTED] == {
        "user": ops_user.pk, "api_key": None, "channel": "api", "transition": "submit"
    }  # fmt: skip
    assert contexts[OrderStatus.CONFIRMED] == {
        "user": None, "api_key": None, "channel": "system", "transition": "confirm"
    }  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_an_automatic_confirmation_over_http_keeps_the_submitters_name_on_the_submit(
    client, customer_a, make_order, ops_user, ops_team
):
    # pghistory's middleware opens one context per request; a service's context inside it used to be merged into
    # it, so the confirmation that follows the submit in the same request rewrote who submitted.
    CustomerSettings.objects.create(customer=customer_a, auto_accept=True)
    rule = Rule.objects.create(name="Auto-accept", event=RuleEvent.ORDER_SUBMITTED)
    RuleCondition.objects.create(rule=rule, field="customer_auto_accept", operator="true")
    RuleAction.objects.create(rule=rule, kind="transition", transition="confirm")
    draft = make_order()
    client.force_login(ops_user)
    url = f"/orders/{draft.reference}/transition/submit/"

    response = client.post(url, {"seen_status": "draft"})

    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == OrderStatus.CONFIRMED
    contexts = {
        event.status: Context.objects.get(pk=event.pgh_context_id).metadata
        for event in draft.events.filter(pgh_label="update")
    }
    assert contexts[OrderStatus.SUBMITTED] == {
        "user": ops_user.pk, "api_key": None, "channel": "screen", "transition": "submit", "url": url
    }  # fmt: skip
    assert contexts[OrderStatus.CONFIRMED] == {  # the request's URL stays: the rule ran because of it
        "user": None, "api_key": None, "channel": "system", "transition": "confirm", "url": url
    }  # fmt: skip
    history = history_entries.order_history_for(
        order=order_selectors.order_get_for(scope=scope_for_user(ops_user), reference=draft.reference)
    )
    assert [(entry.title, entry.who, entry.channel) for entry in history] == [
        ("Created as draft", "ops@oms.test", "Staff screen"), ("Submitted", "ops@oms.test", "Staff screen"),
        ("Confirmed", "System", "System"),
    ]  # fmt: skip


@pytest.mark.django_db
def test_a_write_after_a_persons_transition_in_the_same_transaction_is_not_theirs(customer_a, make_order, ops_user):
    """pghistory hands its context to the triggers as settings local to the transaction: once a transition's context
    closed, a later write in the same transaction with no context of its own (a worker's, the demo seeding's) was
    recorded as the person's transition. It is the system's (no context)."""
    from django.db import transaction

    from orders.models import Order

    draft = make_order()
    with transaction.atomic():
        order_services.order_submit(order=draft, scope=scope_for_user(ops_user), by=ops_user, channel=Channel.SCREEN)
        Order.objects.filter(pk=draft.pk).update(special_instructions="Call before delivery")

    submitted, edited = draft.events.filter(pgh_label="update").order_by("pgh_id")
    assert Context.objects.get(pk=submitted.pgh_context_id).metadata["user"] == ops_user.pk
    assert edited.special_instructions == "Call before delivery"
    assert edited.pgh_context_id is None
