"""Tracking links: a URL anyone may open to follow one order's milestones, without signing in.

The link carries a random token (`secrets.token_urlsafe(32)`, 256 bits); only its SHA-256 is stored, so the
table read by someone else never gives a working link, and the link is shown once, when it is made (as an API
key is). A link is for one order, ends when revoked or after OMS_TRACKING_LINK_DAYS, and shows only what the
public page allows (portal.links.public_tracking): the lane by city, the state, the milestones and the ETA.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from orders.models import Order


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


class TrackingLinkQuerySet(models.QuerySet["TrackingLink"]):
    def live(self) -> TrackingLinkQuerySet:
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())


class TrackingLink(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="tracking_links")
    token_digest = models.CharField(max_length=64, unique=True, editable=False, help_text="SHA-256 of the token.")
    note = models.CharField(max_length=100, blank=True, help_text="Who the link is for, e.g. the consignee.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(help_text="The link stops working then.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    opened_count = models.PositiveIntegerField(default=0, help_text="How often the page was opened.")
    last_opened_at = models.DateTimeField(null=True, blank=True)

    objects = TrackingLinkQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["order", "-created_at"], name="trackinglink_order")]

    def __str__(self) -> str:
        return f"Tracking link for order {self.order_id} ({'revoked' if self.revoked_at else 'live'})"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()
