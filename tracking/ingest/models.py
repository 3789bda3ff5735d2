"""Tracking events and what they are mapped with: milestones, mapping rules, carrier endpoints, polling
state, webhook sources, ETA history and mapping alerts.

Loaded by Django through the star import in tracking/models/__init__.py, so these are models of the
`tracking` app (tables tracking_*). Relations to planning's models are by string, so this module never
imports tracking.models and the import order does not matter.

The events table grows fastest of all; it is designed to be range-partitioned by `event_at` (see
docs/tracking-events.md): both dedupe keys include `event_at`, and nothing references an event by a
foreign key that would have to cross partitions except the optional, SET_NULL links below.
"""

from __future__ import annotations

import os
import secrets

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone

from orders.models import Mode, OrderStatus
from partners.models import Organisation

# The one check of a time zone typed by hand, the organisations' too (carrier endpoints here; milestone entry and
# files in tracking.ingest.forms). Migration 0010 names it by this module's path (tracking.ingest.models
# .validate_time_zone): the name stays importable from here, and the migration state is unchanged.
from partners.validators import validate_time_zone

__all__ = [
    "AdapterKind",
    "CarrierEndpoint",
    "Classifier",
    "EtaHistory",
    "EventUpload",
    "LocationRole",
    "MappingAlert",
    "MappingRule",
    "MappingStatus",
    "Milestone",
    "RejectedDelivery",
    "Scheme",
    "SourceKind",
    "SubjectType",
    "TrackingEvent",
    "TrackingSubscription",
    "WebhookSource",
]


class Classifier(models.TextChoices):
    """DCSA's eventClassifierCode: only actual events are facts that move status."""

    PLANNED = "PLN", "Planned"
    ESTIMATED = "EST", "Estimated"
    ACTUAL = "ACT", "Actual"


class Scheme(models.TextChoices):
    """The code list a raw code belongs to (DOMAIN.md §1.1 to §1.5); `oms` codes are our milestone codes."""

    OMS = "oms", "OMS milestone codes"
    DCSA = "dcsa", "DCSA Track & Trace"
    X12_214 = "x12_214", "ANSI X12 214 (AT7-01)"
    X12_315 = "x12_315", "ANSI X12 315 (B4-03)"
    IATA = "iata", "IATA Cargo-IMP / XFSU"
    EDIFACT = "edifact", "UN/EDIFACT IFTSTA (Rec 24)"
    AFTERSHIP = "aftership", "AfterShip tag"
    EASYPOST = "easypost", "EasyPost status"
    KARRIO = "karrio", "Karrio tracker status"


class SourceKind(models.TextChoices):
    DCSA = "dcsa", "DCSA polling"
    KARRIO = "karrio", "Karrio polling"
    WEBHOOK = "webhook", "Webhook"
    FILE = "file", "File upload"
    MANUAL = "manual", "Entered by hand"
    PLANNING = "planning", "Planning screen"
    SIMULATED = "simulated", "Simulated carrier"


class SubjectType(models.TextChoices):
    """What an event is about, as the sender names it."""

    SHIPMENT = "shipment", "Shipment reference"
    ORDER = "order", "Order reference"
    CONTAINER = "container", "Container number"
    BILL = "bill", "Bill of lading / CMR"
    BOOKING = "booking", "Carrier booking number"
    AWB = "awb", "Air waybill"
    PARCEL = "parcel", "Parcel tracking number"


class LocationRole(models.TextChoices):
    """Where an event happened relative to its shipment; the same code can mean different milestones."""

    ANY = "", "Anywhere"
    ORIGIN = "origin", "Origin (port or place of loading)"
    INTERMEDIATE = "intermediate", "Intermediate (transhipment)"
    DESTINATION = "destination", "Destination (port or place of discharge)"


class MappingStatus(models.TextChoices):
    MAPPED = "mapped", "Mapped to a milestone"
    NOT_A_MILESTONE = "ignored", "Known code, not a milestone"
    UNMAPPED = "unmapped", "No mapping yet"


class Milestone(models.Model):
    """A canonical milestone (DOMAIN.md §1.7). The list is data: operations may rename, hide or add."""

    code = models.CharField(max_length=24, primary_key=True, help_text="e.g. DEPARTED. Used in files and the API.")
    name = models.CharField(max_length=60, help_text="As timelines and lists show it, e.g. Received at origin.")
    rank = models.PositiveSmallIntegerField(help_text="The normal order (10 … 130); higher is further along.")
    definition = models.TextField(
        blank=True,
        help_text="What has happened when this milestone is recorded, in a sentence: whoever maps a carrier's "
        "codes to milestones reads it to choose.",
    )
    modes = ArrayField(
        models.CharField(max_length=12, choices=Mode.choices), default=list, blank=True, help_text="Blank: all modes."
    )
    is_exception = models.BooleanField(
        default=False, help_text="An exception-type milestone (holds, attempts, returns): it need not follow the rank."
    )
    order_status = models.CharField(
        max_length=20,
        choices=OrderStatus.choices,
        blank=True,
        help_text="The order status an ACTUAL event of this milestone implies (through the lifecycle); blank: none.",
    )
    is_customer_visible = models.BooleanField(default=True, help_text="Shown on the portal and in the customer API.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["rank", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=r"^[A-Z][A-Z_]{1,23}$"), name="milestone_code_shape"),
        ]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"


class MappingRule(models.Model):
    """A raw code of one scheme (optionally from one partner, at one kind of place) → milestone + classifier.

    The most specific rule wins: partner before generic, a location role before "anywhere". A rule without
    a milestone says "known code, not a milestone" (a B/L issued), so it raises no mapping alert.
    """

    scheme = models.CharField(
        max_length=12,
        choices=Scheme.choices,
        help_text="The code list the code comes from: each carrier endpoint and webhook source says which list its "
        "events use.",
    )
    code = models.CharField(max_length=60, help_text="As the source sends it; compared without regard to case.")
    partner = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tracking_mapping_rules",
        help_text="Only for events from this carrier or partner (X12 partners redefine codes). Blank: everyone.",
    )
    location_role = models.CharField(
        max_length=12,
        choices=LocationRole.choices,
        blank=True,
        help_text="Only for events at this place of the shipment, where the same code means another milestone "
        "elsewhere (a discharge at a transhipment port is no arrival). Anywhere: wherever the event happened.",
    )
    milestone = models.ForeignKey(
        Milestone,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rules",
        help_text="Blank: a known code that is not a milestone (stored, shown, moves nothing, raises no alert).",
    )
    classifier = models.CharField(
        max_length=3,
        choices=Classifier.choices,
        blank=True,
        help_text="Force the classifier (e.g. X12 AG is an estimate). Blank: as the event says.",
    )
    note = models.CharField(
        max_length=200,
        blank=True,
        help_text="Why the code maps this way (the source's documentation, what a partner said), for whoever changes "
        "the rule later. Not used in mapping.",
    )
    is_active = models.BooleanField(
        default=True,
        help_text="Off: the rule is ignored but kept. Events with the code then follow a more general rule, or wait "
        "unmapped with a mapping alert; events already stored keep their milestone until re-mapped.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["scheme", "code", "location_role"]
        constraints = [
            models.UniqueConstraint(
                fields=["scheme", "code", "partner", "location_role"],
                nulls_distinct=False,
                name="mapping_rule_unique",
            ),
            models.CheckConstraint(condition=Q(code=Upper("code")), name="mapping_rule_code_upper"),
        ]

    def __str__(self) -> str:
        target = self.milestone_id or "not a milestone"
        return f"{self.scheme} {self.code}{f' @{self.location_role}' if self.location_role else ''} → {target}"


# The events table's links are soft (db_constraint=False, db_index=False): no database foreign key and no
# index of its own (the indexes below
# cover the reads). A thousand-row insert then checks no foreign key at commit and takes no key-share lock
# on orders and shipments that the lifecycle is locking, and a partition needs no cross-table constraint.
# The service that stores an event resolved every link it writes; Django still applies on_delete.


class TrackingEvent(models.Model):
    """One event as received (source, raw code, raw payload) and as we understood it (milestone, classifier,
    time with offset, place, subject, and the shipment, leg and order it concerns)."""

    # raw
    source = models.CharField(max_length=60, help_text="Kind and name, e.g. dcsa:MAEU, webhook:acme-tms, manual.")
    source_kind = models.CharField(max_length=10, choices=SourceKind.choices)
    partner = models.ForeignKey(
        Organisation,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
        help_text="The carrier or partner whose own mapping rules the sender's events follow (its feed, EDI or "
        "webhook). Blank: the generic rules (our own feeds, files, screens).",
    )
    source_event_id = models.CharField(max_length=100, blank=True, help_text="The sender's id for the event.")
    scheme = models.CharField(max_length=12, choices=Scheme.choices)
    raw_code = models.CharField(max_length=60)
    raw_payload = models.JSONField(default=dict, help_text="The event exactly as it came (JSONB).")
    received_at = models.DateTimeField(default=timezone.now)
    reported_at = models.DateTimeField(help_text="When the sender says it created the event (else received).")
    # mapped
    mapping_status = models.CharField(max_length=8, choices=MappingStatus.choices)
    milestone = models.ForeignKey(
        Milestone,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    classifier = models.CharField(max_length=3, choices=Classifier.choices)
    sent_classifier = models.CharField(max_length=3, choices=Classifier.choices, help_text="As the sender said.")
    event_at = models.DateTimeField(help_text="When it happened (or is planned or estimated to).")
    event_offset_minutes = models.SmallIntegerField(
        null=True, blank=True, help_text="The UTC offset the sender gave, to show the local time."
    )
    location_code = models.CharField("UN/LOCODE", max_length=5, blank=True)
    location_text = models.CharField(max_length=200, blank=True)
    location_role = models.CharField(max_length=12, choices=LocationRole.choices, blank=True)
    subject_type = models.CharField(max_length=10, choices=SubjectType.choices)
    subject_value = models.CharField(max_length=40)
    reason = models.CharField(max_length=300, blank=True, help_text="Remark, delay reason or description.")
    shipment = models.ForeignKey(
        "tracking.Shipment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tracking_events",
        db_constraint=False,
        db_index=False,
    )
    leg = models.ForeignKey(
        "tracking.Leg",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tracking_events",
        db_constraint=False,
        db_index=False,
    )
    effect = models.CharField(max_length=300, blank=True, help_text="What it changed, or why it changed nothing.")
    contradiction = models.CharField(
        max_length=300,
        blank=True,
        default="",
        help_text="Not applied: how this actual event contradicts its leg's recorded actual times (an arrival "
        "before the recorded departure, a departure after the recorded arrival). Kept, shown to staff only; it "
        "moves no order and counts for no reader. Blank: applied as usual.",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    content_key = models.UUIDField(help_text="Hash of scheme, subject, code, classifier, time and place.")
    id_key = models.UUIDField(null=True, blank=True, help_text="Hash of source and the sender's event id, if any.")

    class Meta:
        ordering = ["event_at", "id"]
        constraints = [
            # Both dedupe keys hold event_at, the partition key of docs/tracking-events.md.
            models.UniqueConstraint(
                fields=["id_key", "event_at"], condition=Q(id_key__isnull=False), name="tracking_event_source_id_once"
            ),
            models.UniqueConstraint(fields=["content_key", "event_at"], name="tracking_event_content_once"),
            models.CheckConstraint(condition=Q(classifier__in=["PLN", "EST", "ACT"]), name="tracking_event_classifier"),
            models.CheckConstraint(
                condition=Q(mapping_status="mapped", milestone__isnull=False) | ~Q(mapping_status="mapped"),
                name="tracking_event_mapped_has_milestone",
            ),
        ]
        indexes = [
            # Partial: most events hang on a shipment or an order, not both; the NULLs are not worth indexing.
            models.Index(
                fields=["shipment", "event_at"], condition=Q(shipment__isnull=False), name="tracking_event_shipment"
            ),
            models.Index(fields=["order", "event_at"], condition=Q(order__isnull=False), name="tracking_event_order"),
            models.Index(
                fields=["scheme", "raw_code"], condition=Q(mapping_status="unmapped"), name="tracking_event_unmapped"
            ),
            models.Index(
                fields=["leg"],
                condition=Q(classifier="ACT", milestone__in=["DEPARTED", "ARRIVED", "PICKED_UP", "DELIVERED"]),
                name="tracking_event_leg_actuals",
            ),
            BrinIndex(fields=["received_at"], name="tracking_event_received_brin"),
            # The actual events not applied because they contradict their leg (the tracking monitor lists the
            # latest): few rows.
            models.Index(fields=["-received_at"], condition=~Q(contradiction=""), name="tracking_event_not_applied"),
            # The events held for a reference not known yet (relinking.py): few rows, found by the reference.
            models.Index(
                fields=["subject_value"],
                condition=Q(shipment__isnull=True, order__isnull=True),
                name="tracking_event_unlinked",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.raw_code} {self.subject_value} {self.event_at:%Y-%m-%d %H:%M}"

    @property
    def is_actual(self) -> bool:
        return self.classifier == Classifier.ACTUAL

    @property
    def is_applied(self) -> bool:
        """False for an actual event that contradicts its leg's recorded times (`contradiction`): kept, not counted."""
        return not self.contradiction


class EtaHistory(models.Model):
    """Every change of an estimate (ETA, ETD, estimated delivery): how it slipped, who said so, when."""

    shipment = models.ForeignKey(
        "tracking.Shipment", on_delete=models.CASCADE, null=True, blank=True, related_name="eta_history"
    )
    order = models.ForeignKey(
        "orders.Order", on_delete=models.CASCADE, null=True, blank=True, related_name="eta_history"
    )
    milestone = models.ForeignKey(Milestone, on_delete=models.PROTECT, related_name="+")
    classifier = models.CharField(max_length=3, choices=Classifier.choices)
    estimated_at = models.DateTimeField()
    previous_at = models.DateTimeField(null=True, blank=True)
    reported_at = models.DateTimeField(help_text="When the source made the estimate; older news never wins.")
    event = models.ForeignKey(TrackingEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    source = models.CharField(max_length=60)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["recorded_at", "id"]
        verbose_name_plural = "ETA history"
        constraints = [
            models.CheckConstraint(
                condition=Q(shipment__isnull=False) | Q(order__isnull=False), name="eta_history_has_target"
            ),
        ]
        indexes = [
            models.Index(fields=["shipment", "milestone", "-reported_at"], name="eta_history_shipment"),
            models.Index(fields=["order", "milestone", "-reported_at"], name="eta_history_order"),
        ]

    def __str__(self) -> str:
        return f"{self.milestone_id} {self.estimated_at:%Y-%m-%d %H:%M}"

    @property
    def slip(self):  # type: ignore[no-untyped-def]
        """How far this estimate moved from the previous one (positive: later)."""
        return self.estimated_at - self.previous_at if self.previous_at else None


class AdapterKind(models.TextChoices):
    DCSA = "dcsa", "DCSA Track & Trace v2 (polling)"
    KARRIO = "karrio", "Karrio trackers (parcels, polling)"
    WEBHOOK = "webhook", "Pushes to our webhook (no polling)"
    SIMULATED = "simulated", "Simulated carrier (demo)"


# Carrier API tokens are read only from environment variables with this prefix, so that an endpoint can never
# be pointed at another secret of the process (DATABASE_URL, SECRET_KEY, ...) and send it to its base_url.
CREDENTIALS_ENV_PREFIX = "OMS_CARRIER_"
CREDENTIALS_ENV_MESSAGE = (
    f"Carrier credentials are read only from environment variables whose names start with {CREDENTIALS_ENV_PREFIX}, "
    f"e.g. {CREDENTIALS_ENV_PREFIX}MAERSK_TOKEN."
)


def credentials_env_allowed(name: str) -> bool:
    return name.startswith(CREDENTIALS_ENV_PREFIX) and len(name) > len(CREDENTIALS_ENV_PREFIX)


class CarrierEndpoint(models.Model):
    """How we reach one carrier's tracking: adapter, URL, where its credentials are, and its rate limit.

    The rate limit is a token bucket kept in this row and taken under a row lock, so it holds across every
    worker process and machine (Celery's rate_limit counts per worker only).
    """

    carrier = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="tracking_endpoints")
    kind = models.CharField(max_length=10, choices=AdapterKind.choices)
    base_url = models.URLField(blank=True, help_text="e.g. https://api.carrier.example/dcsa/tnt (before /v2/events).")
    credentials_env = models.CharField(
        max_length=80,
        blank=True,
        help_text="Name of the environment variable holding the API token; secrets never live in the database.",
    )
    karrio_carrier_name = models.CharField(
        max_length=40, blank=True, help_text="Karrio's carrier_name, e.g. dhl_express."
    )
    time_zone = models.CharField(
        max_length=40,
        default="UTC",
        validators=[validate_time_zone],
        help_text="For sources that send local times without an offset (Karrio); an IANA name, e.g. Europe/Berlin.",
    )
    rate_limit_per_minute = models.PositiveIntegerField(default=60, help_text="Requests a minute, across all workers.")
    bucket_tokens = models.FloatField(null=True, blank=True, editable=False)
    bucket_updated_at = models.DateTimeField(null=True, blank=True, editable=False)
    blocked_until = models.DateTimeField(
        null=True, blank=True, help_text="The carrier asked us to wait (429/503 Retry-After) until then."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["carrier__code", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["carrier", "kind"], name="carrier_endpoint_once_per_kind"),
            models.CheckConstraint(condition=Q(rate_limit_per_minute__gt=0), name="carrier_endpoint_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.carrier} · {self.get_kind_display()}"

    def clean(self) -> None:
        super().clean()
        self.credentials_env = self.credentials_env.strip()
        if self.credentials_env and not credentials_env_allowed(self.credentials_env):
            raise ValidationError({"credentials_env": CREDENTIALS_ENV_MESSAGE})

    def credentials_token(self) -> str:
        """The API token from the environment ("" when none is configured); refuses names outside the prefix."""
        if not self.credentials_env:
            return ""
        if not credentials_env_allowed(self.credentials_env):
            raise ValueError(f"{self}: credentials_env {self.credentials_env!r} refused. {CREDENTIALS_ENV_MESSAGE}")
        return os.environ.get(self.credentials_env, "")


class TrackingSubscription(models.Model):
    """Polling state of one shipment at one carrier endpoint: when next, from which cursor, how it went."""

    shipment = models.ForeignKey("tracking.Shipment", on_delete=models.CASCADE, related_name="tracking_subscriptions")
    endpoint = models.ForeignKey(CarrierEndpoint, on_delete=models.CASCADE, related_name="subscriptions")
    reference_type = models.CharField(max_length=10, choices=SubjectType.choices)
    reference = models.CharField(max_length=40)
    is_active = models.BooleanField(default=True)
    next_poll_at = models.DateTimeField(default=timezone.now)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    cursor_created_at = models.DateTimeField(
        null=True, blank=True, help_text="Newest eventCreatedDateTime seen; the next poll asks from there."
    )
    consecutive_failures = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    is_stale = models.BooleanField(default=False, help_text="The carrier has not answered for a while.")
    stale_since = models.DateTimeField(null=True, blank=True)
    state = models.JSONField(default=dict, blank=True, help_text="Adapter state (Karrio tracker id, demo steps).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["next_poll_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "endpoint"], name="tracking_subscription_once"),
        ]
        indexes = [
            models.Index(fields=["next_poll_at"], condition=Q(is_active=True), name="tracking_subscription_due"),
        ]

    def __str__(self) -> str:
        # Reads the shipment and the endpoint's carrier: the console's list select_related them.
        return f"{self.shipment.reference} at {self.endpoint.carrier.code} ({self.reference})"


def generate_webhook_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


class WebhookSource(models.Model):
    """A sender of signed tracking webhooks: POST /api/v1/tracking/webhooks/<name>/.

    Tied to a carrier, its events only reach shipments that carrier carries. `previous_secret` keeps
    deliveries signed with the old secret valid while the sender switches (rotation).
    """

    name = models.SlugField(max_length=50, unique=True)
    carrier = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tracking_webhook_sources",
        help_text="Events reach only shipments this carrier or partner carries, and use its own mapping rules.",
    )
    scheme = models.CharField(
        max_length=12,
        choices=Scheme.choices,
        default=Scheme.OMS,
        help_text="The code list of `code` in our JSON format when an event does not name one.",
    )
    secret = models.CharField(max_length=200, default=generate_webhook_secret)
    previous_secret = models.CharField(max_length=200, blank=True, help_text="Still accepted during a rotation.")
    is_active = models.BooleanField(default=True)
    last_delivery_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


KEPT_REFUSALS = 50  # refusals of a delivery kept: enough to see what the sender gets wrong, bounded per row
MONITOR_REFUSALS = 3  # refusals of a delivery the tracking monitor names; its card is a third of the page wide


class RejectedDelivery(models.Model):
    """A correctly signed webhook delivery with a problem, kept for investigation (unsigned ones are not kept): one we
    could not read at all (status 400, nothing stored), or one we read whose events were partly or wholly refused
    (status 200, as answered: the others stored). Operations find both on the tracking monitor; without the second
    kind a carrier's integration lost events and only the sender's logs said so.

    One model for both, not a sibling: the monitor lists them in one card, newest first, with one query, and the
    console has one list to filter by status. A delivery with nothing refused writes no row (one insert per delivery
    with a problem, none otherwise: webhooks.py)."""

    webhook_source = models.ForeignKey(WebhookSource, on_delete=models.CASCADE, related_name="rejections")
    received_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(
        help_text="As answered: 400 the body could not be read (nothing stored); 200 it was read and some or all of "
        "its events were refused."
    )
    reason = models.CharField(max_length=300, help_text="Why, in the words the sender got (the first refusal's).")
    events_received = models.PositiveIntegerField(default=0, help_text="Events in the delivery (0 when unreadable).")
    events_stored = models.PositiveIntegerField(default=0, help_text="Events stored: new to us and accepted.")
    duplicates = models.PositiveIntegerField(default=0, help_text="Events we already had (stored once, not again).")
    refused_count = models.PositiveIntegerField(
        default=0, help_text=f"Events refused, all of them (the list below keeps the first {KEPT_REFUSALS})."
    )
    refusals = models.JSONField(
        default=list,
        blank=True,
        help_text=f"The first {KEPT_REFUSALS} refused events: their index in the delivery (from 0), the sender's "
        "event id (eventID, or id in our format) and the reason the sender was given.",
    )
    body = models.TextField(blank=True, help_text="The first 64 KB of the body.")

    class Meta:
        ordering = ["-received_at"]
        verbose_name = "webhook delivery with problems"
        verbose_name_plural = "webhook deliveries with problems"
        indexes = [
            # The monitor reads the newest ten; deliveries with refused events can be many a day.
            models.Index(fields=["-received_at"], name="rejected_delivery_newest"),
        ]

    def __str__(self) -> str:
        # Reads the source: the console's list select_related it.
        return f"{self.webhook_source.name} {self.received_at:%Y-%m-%d %H:%M}: {self.reason}"

    @property
    def is_unreadable(self) -> bool:
        """The body could not be read at all (400); otherwise the delivery was read and events of it refused."""
        return self.status_code != 200

    @property
    def first_refusals(self) -> list[dict[str, object]]:
        """The refusals the monitor shows beside the counts (a card, not the list); the console shows those kept."""
        return list(self.refusals[:MONITOR_REFUSALS])

    @property
    def refusals_not_shown(self) -> int:
        """How many refused events the monitor's card does not name ("and 12 more")."""
        return max(self.refused_count - MONITOR_REFUSALS, 0)


class MappingAlert(models.Model):
    """A code we have no mapping for: shown to admins until someone maps it and re-maps the stored events."""

    scheme = models.CharField(max_length=12, choices=Scheme.choices)
    code = models.CharField(max_length=60)
    partner = models.ForeignKey(Organisation, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    event_count = models.PositiveIntegerField(default=0)
    example_event = models.ForeignKey(TrackingEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["resolved_at", "-last_seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["scheme", "code", "partner"], nulls_distinct=False, name="mapping_alert_once"
            ),
        ]

    def __str__(self) -> str:
        return f"No mapping for {self.scheme} {self.code}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class EventUpload(models.Model):
    """One milestone file: who sent it, what it held and what became of each row."""

    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    partner = models.ForeignKey(
        Organisation,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Set when a partner uploads: the only organisation whose shipments the file may touch.",
    )
    file_name = models.CharField(max_length=255)
    rows_total = models.PositiveIntegerField(default=0)
    events_stored = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="Row, column, value and message of each problem.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.events_stored} stored, {self.error_count} errors)"
