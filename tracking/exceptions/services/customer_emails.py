"""The customers' emails of an exception: one claim per customer (a lease), the record once the mail server took it,
and the sweep of emails that should have gone and did not (run after each scan)."""

from __future__ import annotations

import datetime
import functools
import logging

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from partners.models import Organisation
from tracking.exceptions.models import UNRESOLVED_STATUSES, ExceptionEntry, ShipmentException
from tracking.exceptions.services.announcing import may_email_customers, queue_after_commit

logger = logging.getLogger(__name__)
Entry = ExceptionEntry.Verb

# A claim on a customer's email is a lease (exception_customer_email_claim_for): one older than this was held by a
# worker that died during the send (the task's hard time limit is shorter), and another run may take it over.
EMAIL_LEASE = datetime.timedelta(minutes=30)


def _sending(customer: Organisation) -> str:
    return f"Customer {customer.code} being emailed"


@transaction.atomic
def exception_customer_email_claim_for(
    *, exception_id: int, customer: Organisation, take_over: bool = False
) -> int | None:
    """Claim one customer's email of an exception (each customer it concerns is told once: the one it names, or each
    on a consolidation, and one whose order joined while it was open). The claim is a history entry written under the
    exception's lock before the send, "Customer <code> being emailed (<address>).", which
    `exception_customer_email_sent` turns into "Customer <code> emailed (<address>)." once the mail server took it,
    and `exception_customer_email_unclaim_for` deletes if the send fails. So a retry or a second message emails nobody
    twice. The claim is a lease: a worker killed during the send leaves it, and its redelivered message
    (`take_over`) or, after EMAIL_LEASE, any run takes it over and sends (a rare duplicate, instead of a mail lost
    for good). Returns the entry's id, or None when this customer was told already (also as "Customer emailed
    (<address>).", written before entries named the customer) or is being emailed by a live run."""
    ShipmentException.objects.select_for_update().filter(pk=exception_id).first()
    said = f"Customer {customer.code} emailed"
    claims = ExceptionEntry.objects.filter(exception_id=exception_id, verb=Entry.NOTIFIED)
    if claims.filter(Q(text__startswith=said) | Q(text=f"Customer emailed ({customer.email}).")).exists():
        return None
    now = timezone.now()
    held = claims.filter(text__startswith=_sending(customer)).order_by("pk").first()
    if held is not None:
        if not take_over and held.at >= now - EMAIL_LEASE:
            return None
        logger.warning("Exception %s: taking over the email to customer %s left by a worker", exception_id, customer)
        held.at = now
        held.save(update_fields=["at"])
        return held.pk
    entry = ExceptionEntry.objects.create(
        exception_id=exception_id, verb=Entry.NOTIFIED, text=f"{_sending(customer)} ({customer.email}).", at=now
    )
    return entry.pk


def exception_customer_email_sent(*, entry_id: int, customer: Organisation) -> None:
    """The mail server took the customer's email: the claim becomes the record "Customer <code> emailed …"."""
    ExceptionEntry.objects.filter(pk=entry_id, verb=Entry.NOTIFIED).update(
        text=f"Customer {customer.code} emailed ({customer.email}).", at=timezone.now()
    )


def exception_customer_email_unclaim_for(*, entry_id: int) -> None:
    ExceptionEntry.objects.filter(pk=entry_id, verb=Entry.NOTIFIED).delete()


# The sweep of customers' emails not sent (exception_customer_emails_resend): what it looks at, and how often it
# may start an exception's email task again (a task's retries last about an hour) and how many times in all.
EMAIL_SWEEP_AGE = datetime.timedelta(minutes=2)
EMAIL_SWEEP_WINDOW = datetime.timedelta(days=1)
EMAIL_SWEEP_EVERY = datetime.timedelta(minutes=70)
EMAIL_SWEEPS = 3


def exception_customer_emails_resend(*, limit: int = 200) -> list[int]:
    """Queue the customer emails of exceptions that should have gone and did not (run after each scan): an open
    exception announced more than EMAIL_SWEEP_AGE ago, that a rule says to tell the customer about, with no
    customer told yet, and any with a claim left by a worker that died (older than EMAIL_LEASE). The email task
    decides whom, and its claims make a second message harmless. An exception is queued again at most every
    EMAIL_SWEEP_EVERY (its task retries for about an hour) and EMAIL_SWEEPS times, then given up (logged at
    ERROR). Returns the ids queued."""
    from django.core.cache import cache

    from tracking.exceptions import tasks

    now = timezone.now()
    recent = ShipmentException.objects.filter(
        status__in=UNRESOLVED_STATUSES, opened_at__gte=now - EMAIL_SWEEP_WINDOW, announced_at__lt=now - EMAIL_SWEEP_AGE
    )
    claims = ExceptionEntry.objects.filter(
        exception_id=OuterRef("pk"), verb=Entry.NOTIFIED, text__contains=" being emailed "
    )
    stale = Exists(claims.filter(at__lt=now - EMAIL_LEASE))
    live = Exists(claims.filter(at__gte=now - EMAIL_LEASE))  # a worker is sending: not ours to queue
    not_told = Q(customer_notified_at__isnull=True) & (Q(notify_customer=True) | Q(customer__isnull=True)) & ~live
    unsent = recent.filter(not_told | stale).select_related("shipment")
    queued = []
    for exception in unsent.order_by("opened_at")[:limit]:
        if not may_email_customers(exception):
            continue
        key = f"tracking:exception-email-sweeps:{exception.pk}"
        sweeps, last = cache.get(key, (0, None))
        if sweeps >= EMAIL_SWEEPS or (last is not None and last > now - EMAIL_SWEEP_EVERY):
            continue
        cache.set(key, (sweeps + 1, now), timeout=int(EMAIL_SWEEP_WINDOW.total_seconds()) * 2)
        if sweeps + 1 == EMAIL_SWEEPS:
            logger.error(
                "Exception %s: its customer email is sent again a last time (sweep %d)", exception.pk, sweeps + 1
            )
        queue_after_commit(
            functools.partial(tasks.email_exception_to_customer.delay, exception.pk), what=f"email of {exception.pk}"
        )
        queued.append(exception.pk)
    return queued


def exception_customers_notified(*, exception_id: int) -> None:
    """Keep when the first customer of an exception was told (the inbox's "customer notified")."""
    ShipmentException.objects.filter(pk=exception_id, customer_notified_at__isnull=True).update(
        customer_notified_at=timezone.now()
    )
