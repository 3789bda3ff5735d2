"""RELIABILITY.md D4 (double submit) for "Send booking request": two clicks reach the carrier once.

booking_send claims the send under the booking's row lock and commits the claim before it calls the carrier (no lock
is held across the call); a second click finds the claim and is told the request is on its way. A failed call gives
the claim back, and a claim left by a request that died is taken over once it is old enough.
"""

from __future__ import annotations

import datetime
import threading
import time

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.tracking.conftest import PICKUP
from tracking import adapters
from tracking.errors import BookingError
from tracking.models import Booking, BookingStatus
from tracking.services import booking as booking_services
from tracking.services import consolidation, ranking


@pytest.fixture
def booking(make_order, ops_user, ocean_carriers, locations):
    orders = [make_order(requested_pickup_on=PICKUP) for _ in range(2)]
    master = consolidation.consolidation_create(orders=orders, container_type="22G1", by=ops_user)
    option = ranking.ranking_for_shipment(shipment=master).best
    return booking_services.booking_request(shipment=master, option=option, by=ops_user)


@pytest.mark.django_db(transaction=True)
def test_a_double_click_on_send_books_with_the_carrier_once(booking, ops_user, monkeypatch):
    send_email = adapters.EMAIL_ADAPTER.book
    carrier_calls = []
    a_click_answered = threading.Event()

    def book_while_the_other_click_arrives(booking, document):
        carrier_calls.append(booking.pk)
        a_click_answered.wait(timeout=10)  # an SMTP round trip (or a carrier API call) outlasting the other click
        return send_email(booking, document)

    monkeypatch.setattr(adapters.EMAIL_ADAPTER, "book", book_while_the_other_click_arrives)
    url = reverse("tracking:booking_send", args=[booking.pk])
    answers = []

    def click(after: float) -> None:
        try:
            time.sleep(after)
            browser = Client()
            browser.force_login(ops_user)
            response = browser.post(url)
            answers.append((response.status_code, [str(m) for m in get_messages(response.wsgi_request)]))
        finally:
            a_click_answered.set()
            connection.close()

    clicks = [threading.Thread(target=click, args=(after,)) for after in (0.0, 0.03)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join(timeout=30)

    assert [status for status, _ in answers] == [302, 302]  # PRG: both land on the shipment page
    shown = sorted(message for _, messages in answers for message in messages)
    assert len(shown) == 2
    assert shown[0].startswith("Booking request sent to Maersk by email")
    assert shown[1].startswith("The booking request to Maersk is being sent (since ")
    sent = Booking.objects.get(pk=booking.pk)
    assert (sent.status, sent.send_started_at) == (BookingStatus.SENT, None)
    assert len(carrier_calls) == 1, f"the carrier was called {len(carrier_calls)} times"
    assert len(mail.outbox) == 1


def test_a_send_that_fails_gives_the_claim_back_and_the_booking_can_be_sent_again(booking, ops_user):
    booking.carrier.email = ""
    booking.carrier.save()
    with pytest.raises(BookingError, match="has no email address"):
        booking_services.booking_send(booking=booking, by=ops_user)
    assert Booking.objects.get(pk=booking.pk).send_started_at is None

    booking.carrier.email = "book@maeu.test"
    booking.carrier.save()
    sent = booking_services.booking_send(booking=booking, by=ops_user)

    assert sent.status == BookingStatus.SENT
    assert len(mail.outbox) == 1


def test_a_send_stopped_by_an_unforeseen_error_gives_the_claim_back(booking, ops_user, monkeypatch):
    def carrier_client_crashes(booking, document):
        raise RuntimeError("the carrier API client crashed")

    monkeypatch.setattr(adapters.EMAIL_ADAPTER, "book", carrier_client_crashes)
    with pytest.raises(RuntimeError):
        booking_services.booking_send(booking=booking, by=ops_user)

    still = Booking.objects.get(pk=booking.pk)
    assert (still.status, still.send_started_at) == (BookingStatus.REQUESTED, None)


def test_a_live_claim_refuses_a_second_send_and_calls_no_carrier(booking, ops_user):
    Booking.objects.filter(pk=booking.pk).update(send_started_at=timezone.now() - datetime.timedelta(minutes=1))

    with pytest.raises(BookingError, match="is being sent"):
        booking_services.booking_send(booking=booking, by=ops_user)

    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.REQUESTED
    assert mail.outbox == []


def test_a_claim_left_by_a_request_that_died_is_taken_over_once_it_expires(booking, ops_user):
    died_at = timezone.now() - booking_services.SEND_CLAIM_EXPIRES - datetime.timedelta(seconds=1)
    Booking.objects.filter(pk=booking.pk).update(send_started_at=died_at)

    sent = booking_services.booking_send(booking=booking, by=ops_user)

    assert (sent.status, sent.send_started_at) == (BookingStatus.SENT, None)
    assert len(mail.outbox) == 1
