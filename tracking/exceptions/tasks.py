"""Exception tasks: thin, named for their effect, safe to run twice, on the `tracking` queue.

The scan is periodic (settings.CELERY_BEAT_SCHEDULE); detection for what new events touch is queued by the
receivers, one task per burst of events; announcing runs after each batch that opened or resolved something.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import InterfaceError, OperationalError
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from oms.links import site_link
from orders.models import Order
from partners.models import Organisation
from partners.time_zones import zone_named
from tracking.exceptions import selectors
from tracking.exceptions.models import ShipmentException
from tracking.exceptions.services import announcing, customer_emails, detection

logger = logging.getLogger(__name__)
QUEUE = "tracking"
_TRANSIENT_DB = (OperationalError, InterfaceError)


@shared_task(name="tracking.exceptions.tasks.scan_exceptions", ignore_result=True)
def scan_exceptions() -> None:
    """Run the rules over every active shipment (catches what no event announces: silence, overdue plans); then
    announce what was not announced and queue the customer emails not sent (detection._announce_missed,
    exception_customer_emails_resend)."""
    scan = detection.exceptions_scan()
    if scan is not None and (scan.opened or scan.resolved):
        logger.info("exceptions: scan %s opened %d, resolved %d", scan.pk, scan.opened, scan.resolved)


@shared_task(
    name="tracking.exceptions.tasks.detect_exceptions",
    ignore_result=True,
    acks_late=True,
    autoretry_for=_TRANSIENT_DB,
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def detect_exceptions(order_ids: list[int] | None = None, shipment_ids: list[int] | None = None) -> None:
    """Run the rules over the shipments these orders and shipments touch (new events arrived)."""
    detection.exceptions_detect_for(order_ids=order_ids or [], shipment_ids=shipment_ids or [])


@shared_task(
    name="tracking.exceptions.tasks.announce_exceptions",
    ignore_result=True,
    acks_late=True,
    autoretry_for=_TRANSIENT_DB,
    retry_backoff=True,
    max_retries=5,
)
def announce_exceptions(opened: list[int], resolved: list[int], changed: list[int] | None = None) -> None:
    """Tell workflows (owner, rules, alerts) about each opened exception once, and about resolved ones; tell who is
    concerned that orders joined or left an open one's shipment since it was announced (`changed`: the joined
    orders' rules and customers' email, the tasks of those that left)."""
    for exception_id in opened:
        announcing.exception_announce(exception_id=exception_id)
    for exception_id in resolved:
        announcing.exception_resolved_announce(exception_id=exception_id)
    for exception_id in changed or ():
        announcing.exception_orders_changed_announce(exception_id=exception_id)


@shared_task(
    name="tracking.exceptions.tasks.email_exception_to_customer",
    bind=True,
    ignore_result=True,
    autoretry_for=(OSError,),  # smtplib's errors are OSErrors
    # As a notification's email (workflows.tasks.EMAIL_RETRY): waits of 30 s doubling up to 10 min, ten retries,
    # about 65 min in all, to outlast a mail server that greylists or restarts; then the scan's sweep starts again.
    retry_backoff=30,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=10,
)
def email_exception_to_customer(self: Any, exception_id: int) -> None:
    """The customer's copy (rules with "notify customer"): what happened to which order, without our codes. An
    exception that names no customer (a consolidation's) goes to each customer on it whose rule says so, each
    naming their own orders (`_email_each_customer`)."""
    exception = (
        ShipmentException.objects.select_related("customer", "order", "shipment").filter(pk=exception_id).first()
    )
    if exception is None:
        return
    # A message handed back because its worker died takes over the claims that worker left (a lease).
    take_over = bool((self.request.delivery_info or {}).get("redelivered"))
    if exception.customer is None:
        _email_each_customer(exception, take_over=take_over)
        return
    if not exception.customer.email:
        return
    context = {"exception": exception, "customer": exception.customer, "link": _customer_link(exception)}
    about = exception.order.reference if exception.order else exception.shipment.reference
    message = _message(exception, exception.customer, context, about)
    # Leased before the send, per customer, as a notification's email is: a second message finds the claim and sends
    # nothing, a redelivered one (its worker died) takes it over; a send that fails (refused, timed out, stopped)
    # gives the claim back for the retry. Per customer, as on a consolidation: the exception may come to concern
    # another customer while it is open.
    _send(exception, exception.customer, message, take_over=take_over)


def _send(
    exception: ShipmentException, customer: Organisation, message: EmailMultiAlternatives, *, take_over: bool
) -> None:
    entry_id = customer_emails.exception_customer_email_claim_for(
        exception_id=exception.pk, customer=customer, take_over=take_over
    )
    if entry_id is None:
        return
    try:
        message.send()
    except BaseException:
        customer_emails.exception_customer_email_unclaim_for(entry_id=entry_id)
        raise
    customer_emails.exception_customer_email_sent(entry_id=entry_id, customer=customer)
    customer_emails.exception_customers_notified(exception_id=exception.pk)


def _email_each_customer(exception: ShipmentException, *, take_over: bool = False) -> None:
    """One email per customer on the shipment, each claimed on its own: a retry after a failed send emails only
    those not told yet."""
    for customer, orders in selectors.exception_customers_to_email(exception=exception):
        context = {
            "exception": exception,
            "customer": customer,
            "orders": [(order, _order_link(order)) for order in orders],
            "link": "",
        }
        message = _message(exception, customer, context, ", ".join(order.reference for order in orders))
        _send(exception, customer, message, take_over=take_over)


def _message(
    exception: ShipmentException, customer: Organisation, context: dict[str, Any], about: str
) -> EmailMultiAlternatives:
    with timezone.override(zone_named(customer.time_zone)):  # the customer's clock, which the email names
        message = EmailMultiAlternatives(
            subject=f"{exception.get_kind_display()} · {about}",
            body=render_to_string("tracking/exceptions/email/customer_notice.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[customer.email],
        )
        html = render_to_string("tracking/exceptions/email/customer_notice.html", context)
    message.attach_alternative(html, "text/html")
    return message


def _order_link(order: Order) -> str:
    """The order's timeline (in the portal's layout for a customer); empty when OMS_SITE_URL is not set."""
    return site_link(reverse("tracking_ingest:order_timeline", args=[order.reference]))


def _customer_link(exception: ShipmentException) -> str:
    """Where the customer follows it: the order's timeline (in the portal's layout for them), or the portal's
    overview for a shipment's exception; empty when OMS_SITE_URL is not set."""
    if exception.order:
        return _order_link(exception.order)
    return site_link(reverse("portal:home"))
