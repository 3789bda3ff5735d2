import datetime
from decimal import Decimal
from typing import Any, cast

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from orders import lifecycle
from orders import services as order_services
from orders.errors import TransitionNotAllowed
from orders.models import Order, OrderTransition
from tests.tracking.conftest import PICKUP, lcl_line
from tests.tracking.test_ingest_support import fresh_mapping
from tracking import adapters, events, guards
from tracking.errors import BookingError, PlanningError
from tracking.models import Booking, LegRole, ShipmentStatus
from tracking.services import booking as booking_services
from tracking.services import consolidation, leg_changes, planning, ranking

__all__ = ["fresh_mapping"]  # fixture

D = Decimal
ETD = datetime.datetime(2026, 12, 4, 18, 0, tzinfo=datetime.UTC)
ETA = datetime.datetime(2027, 1, 7, 6, 0, tzinfo=datetime.UTC)


@pytest.fixture
def master(make_order, ops_user, ocean_carriers):
    orders = [make_order(requested_pickup_on=PICKUP) for _ in range(3)]
    return consolidation.consolidation_create(orders=orders, container_type="22G1", by=ops_user)


@pytest.fixture
def booking(master, ops_user):
    option = ranking.ranking_for_shipment(shipment=master).best
    return booking_services.booking_request(shipment=master, option=option, by=ops_user)


def confirm(booking, ops_scope, ops_user, **extra):
    values: dict[str, Any] = {
        "carrier_reference": "MAEU262001234",
        "departure_at": ETD,
        "arrival_at": ETA,
        "documentation_cutoff_at": ETD - datetime.timedelta(hours=72),
        "vgm_cutoff_at": ETD - datetime.timedelta(hours=36),
        "cargo_cutoff_at": ETD - datetime.timedelta(hours=24),
        "vessel_name": "Maersk Essen",
        "vessel_imo": "9456769",
        "voyage_number": "249W",
    }
    values.update(extra)
    return booking_services.booking_confirm(booking=booking, scope=ops_scope, by=ops_user, **values)


def test_the_plan_transition_of_the_lifecycle_is_guarded_by_tracking():
    assert guards.plan_transition_name() == "plan"
    assert guards.order_booking_problem in lifecycle._guards["plan"]


def test_sending_emails_the_request_document_to_the_carrier(booking, ops_user):
    sent = booking_services.booking_send(booking=booking, by=ops_user)
    assert sent.status == "sent"
    assert sent.sent_via == "email"
    (message,) = cast(list[EmailMultiAlternatives], mail.outbox)
    assert message.to == ["book@maeu.test"]
    assert message.subject == f"Booking request {booking.shipment.reference} · CNSHA → DEHAM"
    assert "1 x 22G1 (20' general purpose)" in message.body
    assert "Agreed rate:        USD 1,404.00" in message.body
    assert message.alternatives[0].mimetype == "text/html"  # type: ignore[attr-defined]  # an EmailAlternative
    assert sent.request_text == message.body


@pytest.mark.parametrize(
    ("currency", "amount", "text"), [("KWD", "1234.567", "KWD 1,234.567"), ("JPY", "61853", "JPY 61,853")]
)
def test_the_request_states_the_agreed_rate_to_its_currencys_minor_unit(booking, currency, amount, text):
    # what ranking pins on the booking for a rate card in that currency (finance.rating rounds to its minor unit)
    Booking.objects.filter(pk=booking.pk).update(quoted_amount=D(amount), quoted_currency=currency)
    booking.refresh_from_db()

    document = adapters.booking_document(booking)

    assert text in document.html, "the carrier is told another agreed rate than the one we rated"
    assert f"Agreed rate:        {text}" in document.text


def test_a_carrier_without_email_leaves_the_booking_to_send(booking, ops_user):
    booking.carrier.email = ""
    booking.carrier.save()
    with pytest.raises(BookingError, match="has no email address"):
        booking_services.booking_send(booking=booking, by=ops_user)
    assert Booking.objects.get(pk=booking.pk).status == "requested"


def test_confirmation_books_the_master_and_plans_its_orders_through_the_lifecycle(
    booking, ops_scope, ops_user, django_capture_on_commit_callbacks
):
    booking_services.booking_send(booking=booking, by=ops_user)
    received = []
    events.booking_confirmed.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t-confirm")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            outcome = confirm(booking, ops_scope, ops_user)
    finally:
        events.booking_confirmed.disconnect(dispatch_uid="t-confirm")
    assert len(outcome.planned) == 3
    assert outcome.not_planned == []
    master = booking.shipment
    master.refresh_from_db()
    assert master.status == ShipmentStatus.BOOKED
    main = master.legs.get(role=LegRole.MAIN)
    assert (main.planned_departure_at, main.planned_arrival_at, main.vessel_imo) == (ETD, ETA, "9456769")
    for order in outcome.planned:
        assert Order.objects.get(pk=order.pk).status == "planned"
        assert OrderTransition.objects.get(order=order, name="plan").payload["booking_id"] == booking.pk
    assert received[0]["booking_id"] == booking.pk


def test_orders_not_yet_confirmed_are_reported_not_forced(make_order, ops_user, ops_scope, ocean_carriers):
    submitted = make_order(confirm=False)
    master = consolidation.consolidation_create(orders=[submitted], container_type="22G1", by=ops_user)
    booking = booking_services.booking_request(shipment=master, carrier=ocean_carriers[0], by=ops_user)
    outcome = confirm(booking, ops_scope, ops_user)
    assert outcome.planned == []
    assert outcome.not_planned[0][0] == submitted
    assert "submitted order cannot be planned" in outcome.not_planned[0][1]
    assert Order.objects.get(pk=submitted.pk).status == "submitted"


def test_the_guard_keeps_an_order_from_planned_without_a_confirmed_booking(booking, ops_scope, ops_user):
    order = booking.shipment.consolidated_houses.first().house.order
    with pytest.raises(TransitionNotAllowed, match="No confirmed carrier booking yet"):
        order_services.order_transition(order=order, name="plan", scope=ops_scope, channel="screen", by=ops_user)


def test_the_guard_wants_all_of_the_order_on_shipments(make_order, ops_scope, ops_user):
    order = make_order(lines=[lcl_line(1000, 4, pieces=20)])
    planning.house_create(order=order, allocations={order.lines.get().pk: 5}, by=ops_user)
    assert "is on no shipment yet" in guards.order_booking_problem(order)


def test_confirmation_needs_a_number_and_sane_times(booking, ops_scope, ops_user):
    with pytest.raises(BookingError, match="confirmation number"):
        confirm(booking, ops_scope, ops_user, carrier_reference=" ")
    with pytest.raises(BookingError, match="ETA is before the ETD"):
        confirm(booking, ops_scope, ops_user, arrival_at=ETD - datetime.timedelta(days=1))
    with pytest.raises(BookingError, match="cargo cut-off is after the ETD"):
        confirm(booking, ops_scope, ops_user, cargo_cutoff_at=ETD + datetime.timedelta(hours=1))
    with pytest.raises(BookingError, match="not a valid IMO"):
        confirm(booking, ops_scope, ops_user, vessel_imo="9456768")


def test_rejection_frees_the_master_for_another_carrier(booking, ops_user, ocean_carriers):
    booking_services.booking_reject(booking=booking, reason="No space on the sailing", by=ops_user)
    master = booking.shipment
    master.refresh_from_db()
    assert master.carrier is None
    assert master.status == ShipmentStatus.PLANNING
    second = booking_services.booking_request(shipment=master, carrier=ocean_carriers[1], by=ops_user)
    assert second.status == "requested"


def test_a_second_live_booking_is_refused(booking, ocean_carriers, ops_user):
    with pytest.raises(BookingError, match="already has a booking with Maersk"):
        booking_services.booking_request(shipment=booking.shipment, carrier=ocean_carriers[1], by=ops_user)


def test_a_rolled_booking_moves_the_plan_and_announces_it_on_commit(
    booking, ops_scope, ops_user, django_capture_on_commit_callbacks
):
    confirm(booking, ops_scope, ops_user)
    master = booking.shipment
    delivery = leg_changes.leg_add(
        shipment=master,
        data={
            "role": LegRole.ON_CARRIAGE,
            "mode": "road_ftl",
            "origin_id": "DEHAM",
            "destination_id": "DEBER",
            "planned_departure_at": ETA + datetime.timedelta(days=1),
            "planned_arrival_at": ETA + datetime.timedelta(days=2),
        },
    )
    received = []
    events.booking_rolled.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t-roll")
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            rolled = booking_services.booking_roll(
                booking=booking,
                departure_at=ETD + datetime.timedelta(days=7),
                arrival_at=ETA + datetime.timedelta(days=7),
                reason="Vessel full",
                vessel_name="Maersk Elba",
                by=ops_user,
            )
        assert received == []  # nothing is announced before the commit
        for callback in callbacks:
            callback()
    finally:
        events.booking_rolled.disconnect(dispatch_uid="t-roll")
    assert rolled.status == "rolled"
    assert rolled.roll_count == 1
    assert rolled.original_departure_at == ETD
    assert rolled.cargo_cutoff_at == ETD + datetime.timedelta(days=7) - datetime.timedelta(hours=24)  # moved along
    assert received[0]["delay"] == datetime.timedelta(days=7)
    assert received[0]["reason"] == "Vessel full"
    main = master.legs.get(role=LegRole.MAIN)
    assert main.planned_departure_at == ETD + datetime.timedelta(days=7)
    assert main.vessel_name == "Maersk Elba"
    delivery.refresh_from_db()
    assert delivery.planned_arrival_at == ETA + datetime.timedelta(days=9)
    assert guards.order_booking_problem(master.consolidated_houses.first().house.order) is None


def test_a_roll_must_move_to_a_later_sailing(booking, ops_scope, ops_user):
    confirm(booking, ops_scope, ops_user)
    with pytest.raises(BookingError, match="later sailing"):
        booking_services.booking_roll(
            booking=booking, departure_at=ETD - datetime.timedelta(days=1), arrival_at=ETA, reason="x", by=ops_user
        )
    with timezone.override("Asia/Shanghai"), pytest.raises(BookingError, match="the ETD was 2026-12-05 02:00"):
        booking_services.booking_roll(  # the ETD in the zone the screen works in (18:00 UTC is 02:00 next day)
            booking=booking, departure_at=ETD - datetime.timedelta(days=1), arrival_at=ETA, reason="x", by=ops_user
        )


def test_cancel_returns_a_booked_master_to_planning(booking, ops_scope, ops_user, django_capture_on_commit_callbacks):
    planned = confirm(booking, ops_scope, ops_user).planned
    with pytest.raises(BookingError, match="Say why the booking is cancelled"):
        booking_services.booking_cancel(booking=booking, reason=" ", by=ops_user)
    received = []
    events.booking_cancelled.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t-cancel")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            outcome = booking_services.booking_cancel(booking=booking, reason="Shipper postponed", by=ops_user)
    finally:
        events.booking_cancelled.disconnect(dispatch_uid="t-cancel")
    booking.shipment.refresh_from_db()
    assert booking.shipment.status == ShipmentStatus.PLANNING
    assert booking.shipment.carrier is None
    booking.refresh_from_db()
    assert (booking.status, booking.cancel_reason) == ("cancelled", "Shipper postponed")
    assert booking.cancelled_at is not None
    # the orders it planned are booked no more: back to confirmed through the lifecycle, with the reason
    assert [o.pk for o in outcome.unplanned] == [o.pk for o in planned]
    for order in planned:
        assert Order.objects.get(pk=order.pk).status == "confirmed"
        back = OrderTransition.objects.get(order=order, name="unplan")
        assert back.reason == "Carrier booking MAEU262001234 with Maersk cancelled: Shipper postponed"
        assert back.by == ops_user
    (sent,) = received
    assert (sent["booking_id"], sent["reason"], sent["unplanned_ids"]) == (
        booking.pk, "Shipper postponed", [o.pk for o in planned],
    )  # fmt: skip


def test_a_booking_not_yet_confirmed_is_cancelled_with_its_orders_left_as_they_are(booking, ops_user):
    outcome = booking_services.booking_cancel(booking=booking, reason="Wrong carrier chosen", by=ops_user)
    assert outcome.unplanned == []
    orders = [link.house.order for link in booking.shipment.consolidated_houses.all()]
    assert {Order.objects.get(pk=o.pk).status for o in orders} == {"confirmed"}


def test_an_arrived_or_departed_master_keeps_its_booking(booking, ops_scope, ops_user):
    confirm(booking, ops_scope, ops_user)
    main = booking.shipment.legs.get()
    leg_changes.leg_record_actual(leg=main, departed_at=timezone.now() - datetime.timedelta(days=1), by=ops_user)
    booking, main = Booking.objects.select_related("shipment").get(pk=booking.pk), booking.shipment.legs.get()
    assert booking_services.roll_problem(booking, main) is not None
    assert "in transit; the booking stays" in booking_services.cancel_problem(booking)
    with pytest.raises(BookingError, match="the booking stays"):
        booking_services.booking_cancel(booking=booking, reason="late", by=ops_user)


def test_a_house_taken_off_a_booked_master_takes_its_order_back_to_confirmed(booking, ops_scope, ops_user):
    confirm(booking, ops_scope, ops_user)
    master = booking.shipment
    house = master.consolidated_houses.order_by("pk").first().house
    consolidation.house_remove(master=master, house=house, by=ops_user)
    assert Order.objects.get(pk=house.order_id).status == "confirmed"
    assert OrderTransition.objects.get(order_id=house.order_id, name="unplan").reason == (
        f"{house.reference} taken off {master.reference}, booked with its carrier"
    )


def test_recording_actuals_moves_the_shipment_and_its_houses(
    booking, ops_scope, ops_user, django_capture_on_commit_callbacks, fresh_mapping
):
    confirm(booking, ops_scope, ops_user)
    leg = booking.shipment.legs.get()
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        leg_changes.leg_record_actual(leg=leg, departed_at=now - datetime.timedelta(days=1), by=ops_user)
    # leg_actual_recorded after the commit (the departure's event was recorded in the transaction)
    names = [getattr(callback, "func", callback).__qualname__ for callback in callbacks]  # functions and partials
    assert any("leg_record_actual" in name for name in names)
    master = booking.shipment
    master.refresh_from_db()
    assert master.status == ShipmentStatus.IN_TRANSIT
    assert {link.house.status for link in master.consolidated_houses.all()} == {ShipmentStatus.IN_TRANSIT}
    with pytest.raises(PlanningError, match="in the future"):
        leg_changes.leg_record_actual(leg=leg, arrived_at=now + datetime.timedelta(days=1), by=ops_user)
    leg_changes.leg_record_actual(leg=leg, arrived_at=now, by=ops_user)
    master.refresh_from_db()
    assert master.status == ShipmentStatus.ARRIVED


def test_a_recorded_departure_and_its_milestone_event_commit_together(booking, ops_scope, ops_user, fresh_mapping):
    from django.db import transaction

    from tracking.ingest.models import TrackingEvent

    confirm(booking, ops_scope, ops_user)
    leg = booking.shipment.legs.get()
    departed = timezone.now() - datetime.timedelta(hours=2)

    def recorded_then_rolled_back() -> None:
        with transaction.atomic():
            leg_changes.leg_record_actual(leg=leg, departed_at=departed, by=ops_user)
            # In the same transaction, before any commit: nothing waits for an on-commit callback.
            assert TrackingEvent.objects.filter(milestone_id="DEPARTED", event_at=departed).exists()
            raise RuntimeError("the request failed after recording")

    with pytest.raises(RuntimeError):
        recorded_then_rolled_back()
    assert not TrackingEvent.objects.filter(milestone_id="DEPARTED").exists()  # gone with the leg's time
    leg.refresh_from_db()
    assert leg.actual_departure_at is None


def test_arrival_before_departure_is_refused(booking, ops_user):
    leg = booking.shipment.legs.get()
    with pytest.raises(PlanningError, match="Record the departure of this leg before its arrival"):
        leg_changes.leg_record_actual(leg=leg, arrived_at=timezone.now(), by=ops_user)


def test_a_rate_card_a_booking_pinned_cannot_be_deleted_in_the_console(booking, admin_user, client):
    """The pin is the booking's record of the price it was chosen on: the console names the booking and keeps the
    card (deactivating it is the way to retire it); a card no booking names deletes as before."""
    from finance.models import RateCard

    card = booking.rate_card
    assert card is not None
    spare = RateCard.objects.create(
        name="Spare", party=card.party, mode=card.mode, currency="EUR", effective_on=card.effective_on
    )
    client.force_login(admin_user)

    page = client.get(f"/admin/finance/ratecard/{card.pk}/delete/")
    refused = client.post(f"/admin/finance/ratecard/{card.pk}/delete/", {"post": "yes"})
    deleted = client.post(f"/admin/finance/ratecard/{spare.pk}/delete/", {"post": "yes"})

    assert page.status_code == 200
    assert "would require deleting the following protected related objects" in page.content.decode()
    assert refused.status_code == 200
    assert RateCard.objects.filter(pk=card.pk).exists()
    booking.refresh_from_db()
    assert booking.rate_card_id == card.pk
    assert deleted.status_code == 302
    assert not RateCard.objects.filter(pk=spare.pk).exists()


def test_an_order_goes_back_to_confirmed_by_hand_only_when_nothing_books_or_moves_its_cargo(
    booking, ops_scope, ops_user
):
    """`unplan` is the cancellation's step; by hand it serves an order held while its booking was cancelled."""
    planned = confirm(booking, ops_scope, ops_user).planned
    order, held = planned[0], planned[1]

    def back(order):
        return order_services.order_transition(
            order=Order.objects.get(pk=order.pk), name="unplan", scope=ops_scope, channel="screen", by=ops_user,
            reason="re-route",
        )  # fmt: skip

    with pytest.raises(TransitionNotAllowed, match="cargo is booked with its carrier: cancel the booking"):
        back(order)
    order_services.order_transition(
        order=held, name="hold", scope=ops_scope, channel="screen", by=ops_user, reason="Credit check"
    )
    outcome = booking_services.booking_cancel(booking=booking, reason="Blank sailing", by=ops_user)
    assert [o.pk for o, _why in outcome.not_unplanned] == [held.pk]
    released = order_services.order_transition(
        order=Order.objects.get(pk=held.pk), name="release", scope=ops_scope, channel="screen", by=ops_user
    )
    assert released.status == "planned"
    assert back(released).status == "confirmed"  # nothing books it any more


def test_an_order_whose_cargo_moved_stays_planned(booking, ops_scope, ops_user):
    order = confirm(booking, ops_scope, ops_user).planned[0]
    main = booking.shipment.legs.get()
    leg_changes.leg_record_actual(leg=main, departed_at=timezone.now() - datetime.timedelta(hours=1), by=ops_user)
    Booking.objects.filter(pk=booking.pk).update(status="cancelled")  # however it came to be without a booking
    assert "is in transit: cargo that has moved stays planned" in guards.order_unplan_problem(order)
