"""eCommerce and partner systems that send orders by webhook (Integration), and each delivery they sent."""

from __future__ import annotations

import uuid

from django.db import models

from orders.models.locations import Location
from orders.models.orders import Incoterm, Order, ServiceLevel
from partners.models import Organisation


class IntegrationKind(models.TextChoices):
    SHOPIFY = "shopify", "Shopify orders/create webhook"
    GENERIC = "generic", "Signed JSON intake (Standard Webhooks)"


class Integration(models.Model):
    """A customer's system that sends us orders by webhook, with the secret that signs its deliveries."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="integrations")
    kind = models.CharField(max_length=10, choices=IntegrationKind.choices)
    name = models.CharField(max_length=100, help_text="e.g. 'Shopify store acme-shop' or 'SAP production'.")
    secret = models.CharField(
        max_length=200,
        help_text="Shopify: the app's client secret that signs its webhooks. Generic: the whsec_ secret we "
        "generated (shown once) or one you set.",
    )
    default_origin = models.ForeignKey(
        Location, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="Shopify: where parcels leave from (the shop's warehouse).",
    )  # fmt: skip
    default_branch = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        limit_choices_to={"kinds__contains": ["branch"]},
        help_text="Shopify: our branch handling the parcels; blank: the customer's account branch.",
    )  # fmt: skip
    default_service_level = models.CharField(max_length=12, choices=ServiceLevel.choices, default=ServiceLevel.STANDARD)
    default_incoterm = models.CharField(max_length=3, choices=Incoterm.choices, default=Incoterm.DAP)
    destination_by_country = models.JSONField(
        default=dict, blank=True,
        help_text='Shopify: UN/LOCODE to use per destination country when the city is not known, '
        'e.g. {"DE": "DEHAM", "FR": "FRPAR"}.',
    )  # fmt: skip
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["customer", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class DeliveryOutcome(models.TextChoices):
    CREATED = "created", "Order created"
    DUPLICATE = "duplicate", "Order existed already"
    INVALID = "invalid", "Order data has errors"
    MALFORMED = "malformed", "Not readable"
    IGNORED = "ignored", "Nothing to ship"


class WebhookDelivery(models.Model):
    """One signed delivery we accepted; its id makes repeats harmless (one order however often it comes)."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="deliveries")
    delivery_id = models.CharField(max_length=200, help_text="X-Shopify-Webhook-Id or webhook-id.")
    outcome = models.CharField(max_length=10, choices=DeliveryOutcome.choices)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField(default=dict, blank=True, help_text="What we answered; repeats get it again.")
    external_id = models.CharField(max_length=100, blank=True, help_text="The sender's order id.")
    order = models.ForeignKey(Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    body = models.TextField(blank=True, help_text="The raw body, kept for support.")
    attempts = models.PositiveIntegerField(default=1)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "delivery_id"], name="webhook_delivery_once"),
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id} ({self.get_outcome_display()})"
