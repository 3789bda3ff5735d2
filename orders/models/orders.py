"""The order, its cargo lines and equipment, its transitions and the transitions queued for the workflow.

The order's state is an FSMField with protected=True: it changes only through transitions applied by
`orders.lifecycle`, never by assignment. Every change to an order, its lines and its equipment is
recorded by Postgres triggers (django-pghistory), so bulk writes and raw SQL are captured too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

import pghistory
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.urls import reverse
from django_fsm import RETURN_VALUE, FSMField, FSMModelMixin, transition

from orders.models.locations import Location
from partners.models import Organisation

if TYPE_CHECKING:
    from django_fsm import Transition


class Mode(models.TextChoices):
    OCEAN_FCL = "ocean_fcl", "Ocean FCL"
    OCEAN_LCL = "ocean_lcl", "Ocean LCL"
    AIR = "air", "Air"
    ROAD_FTL = "road_ftl", "Road FTL"
    ROAD_LTL = "road_ltl", "Road LTL"
    RAIL = "rail", "Rail"
    PARCEL = "parcel", "Parcel / courier"


SEA_MODES = frozenset({Mode.OCEAN_FCL, Mode.OCEAN_LCL})


class ServiceLevel(models.TextChoices):
    ECONOMY = "economy", "Economy"
    STANDARD = "standard", "Standard"
    EXPRESS = "express", "Express"
    PRIORITY = "priority", "Priority / time-definite"


class Incoterm(models.TextChoices):
    EXW = "EXW", "EXW Ex Works"
    FCA = "FCA", "FCA Free Carrier"
    CPT = "CPT", "CPT Carriage Paid To"
    CIP = "CIP", "CIP Carriage and Insurance Paid To"
    DAP = "DAP", "DAP Delivered at Place"
    DPU = "DPU", "DPU Delivered at Place Unloaded"
    DDP = "DDP", "DDP Delivered Duty Paid"
    FAS = "FAS", "FAS Free Alongside Ship"
    FOB = "FOB", "FOB Free On Board"
    CFR = "CFR", "CFR Cost and Freight"
    CIF = "CIF", "CIF Cost, Insurance and Freight"


SEA_ONLY_INCOTERMS = frozenset({Incoterm.FAS, Incoterm.FOB, Incoterm.CFR, Incoterm.CIF})


class Channel(models.TextChoices):
    SCREEN = "screen", "Staff screen"
    PORTAL = "portal", "Customer portal"
    API = "api", "API"
    FILE = "file", "File upload"
    WEBHOOK = "webhook", "Webhook"
    ADMIN = "admin", "Admin console"
    SYSTEM = "system", "System"


class OrderStatus(models.TextChoices):
    """The order lifecycle, in the order an order normally moves through it (see orders/lifecycle.py)."""

    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    CONFIRMED = "confirmed", "Confirmed"
    PLANNED = "planned", "Planned"
    IN_TRANSIT = "in_transit", "In transit"
    ARRIVED = "arrived", "Arrived"
    DELIVERED = "delivered", "Delivered"
    COMPLETED = "completed", "Completed"
    INVOICED = "invoiced", "Invoiced"
    CLOSED = "closed", "Closed"
    ON_HOLD = "on_hold", "On hold"
    CANCELLED = "cancelled", "Cancelled"


# The forward path; on_hold and cancelled are side states.
STATUS_PATH = (
    OrderStatus.DRAFT, OrderStatus.SUBMITTED, OrderStatus.CONFIRMED, OrderStatus.PLANNED, OrderStatus.IN_TRANSIT,
    OrderStatus.ARRIVED, OrderStatus.DELIVERED, OrderStatus.COMPLETED, OrderStatus.INVOICED, OrderStatus.CLOSED,
)  # fmt: skip
# Held orders are live ones: not yet submitted, or already invoiced, there is nothing to hold.
HOLDABLE_STATUSES = (
    OrderStatus.SUBMITTED, OrderStatus.CONFIRMED, OrderStatus.PLANNED, OrderStatus.IN_TRANSIT,
    OrderStatus.ARRIVED, OrderStatus.DELIVERED, OrderStatus.COMPLETED,
)  # fmt: skip
# Once goods move, stopping them is an exception handled by people, not a cancellation.
CANCELLABLE_STATUSES = (OrderStatus.DRAFT, OrderStatus.SUBMITTED, OrderStatus.CONFIRMED, OrderStatus.PLANNED)


def _held_while_cancellable(order: Order) -> bool:
    return order.status != OrderStatus.ON_HOLD or order.status_before_hold in CANCELLABLE_STATUSES


class PackageType(models.TextChoices):
    """UN/ECE Recommendation 21 package codes most used in forwarding."""

    PALLET = "PX", "Pallet"
    CARTON = "CT", "Carton"
    BOX = "BX", "Box"
    CASE = "CS", "Case"
    CRATE = "CR", "Crate"
    DRUM = "DR", "Drum"
    BAG = "BG", "Bag"
    BALE = "BL", "Bale"
    ROLL = "RO", "Roll"
    PACKAGE = "PK", "Package"
    ENVELOPE = "EN", "Envelope"
    IBC = "WA", "Intermediate bulk container"
    PIECE = "PCE", "Piece (unpacked)"


class PackingGroup(models.TextChoices):
    I = "I", "I (high danger)"  # noqa: E741 - the UN name of the group
    II = "II", "II (medium danger)"
    III = "III", "III (low danger)"


class OrderQuerySet(models.QuerySet["Order"]):
    def open(self) -> OrderQuerySet:
        return self.exclude(status__in=[OrderStatus.CANCELLED])

    def search(self, query: str) -> OrderQuerySet:
        """Full-text search over references, parties and goods (uses the order_search GIN index)."""
        document = SearchVector("search_text", config="simple")
        return self.annotate(search_document=document).filter(
            search_document=SearchQuery(query, config="simple", search_type="websearch")
        )


# History: django-pghistory's triggers at statement level: one call per INSERT, UPDATE, DELETE or COPY, which
# records the statement's rows from its transition tables; a row-level trigger runs once per row (issue 4:
# a 45,000-order import is a handful of statements and 170,000 rows). The events, their labels, context and
# the update condition are those of row level (tests/orders/test_history.py).
HISTORY_LEVEL = pghistory.Statement
# The label of an order's history event that no change of the order writes (orders.services.order_note_record).
ORDER_NOTE = "note"


def history_copy(to: type[models.Model] | str, *, optional: bool = False, indexed: bool = False) -> models.ForeignKey:
    """An event table's copy of a foreign key as pghistory makes it (no constraint: history outlives what it
    names), but without its index unless the history is read by it (`indexed`). History is read by object
    (`pgh_obj`), by order and by context, never by customer, branch, party, place or creator, and each index costs
    every event row an entry. The order's events use it, and the legs' (tracking.models)."""
    return models.ForeignKey(
        to, on_delete=models.DO_NOTHING, db_constraint=False, db_index=indexed, null=optional, blank=optional,
        related_name="+", related_query_name="+",
    )  # fmt: skip


@pghistory.track(
    pghistory.InsertEvent(),
    pghistory.UpdateEvent(),
    exclude=["search_text", "updated_at", "updated_by", "updated_by_key"],
    model_name="OrderEvent",
    level=HISTORY_LEVEL,
    attrs={
        "customer": history_copy(Organisation),
        "branch": history_copy(Organisation),
        "shipper": history_copy(Organisation, optional=True),
        "consignee": history_copy(Organisation, optional=True),
        "notify_party": history_copy(Organisation, optional=True),
        "origin": history_copy(Location),
        "destination": history_copy(Location),
        "created_by": history_copy(settings.AUTH_USER_MODEL, optional=True),
    },
)
class Order(FSMModelMixin, models.Model):
    """A customer's request to move goods, from intake to delivery to invoice."""

    reference = models.CharField(max_length=20, editable=False, help_text="Ours, e.g. HAM-26-000123.")
    customer = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="orders", db_index=False)
    customer_reference = models.CharField(max_length=64, help_text="The customer's own order number.")
    branch = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="branch_orders",
        db_index=False,
        help_text="Our office handling it.",
    )
    mode = models.CharField(max_length=12, choices=Mode.choices)
    service_level = models.CharField(max_length=12, choices=ServiceLevel.choices, default=ServiceLevel.STANDARD)
    incoterm = models.CharField(max_length=3, choices=Incoterm.choices, blank=True)
    named_place = models.CharField(max_length=100, blank=True, help_text="Incoterms® 2020 named place.")

    shipper = models.ForeignKey(Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    shipper_name = models.CharField(max_length=200, blank=True, help_text="Needed to submit; a draft may lack it.")
    shipper_address = models.TextField(blank=True)
    consignee = models.ForeignKey(Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    consignee_name = models.CharField(max_length=200, blank=True, help_text="Needed to submit; a draft may lack it.")
    consignee_address = models.TextField(blank=True)
    notify_party = models.ForeignKey(Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    notify_name = models.CharField(max_length=200, blank=True)
    notify_address = models.TextField(blank=True)

    origin = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+", db_index=False)
    origin_address = models.TextField(blank=True, help_text="Pickup address when it is not the terminal.")
    destination = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+", db_index=False)
    destination_address = models.TextField(blank=True, help_text="Delivery address when it is not the terminal.")
    requested_pickup_on = models.DateField()
    requested_delivery_on = models.DateField(null=True, blank=True)

    description = models.CharField(max_length=300, blank=True, help_text="Summary of the goods.")
    declared_value_amount = models.DecimalField(
        max_digits=15, decimal_places=3, null=True, blank=True, help_text="To its currency's minor unit (KWD: 3)."
    )
    declared_value_currency = models.CharField(max_length=3, blank=True)
    special_instructions = models.TextField(blank=True)

    pieces_total = models.PositiveIntegerField(default=0, editable=False)
    gross_weight_kg_total = models.DecimalField(max_digits=14, decimal_places=3, default=Decimal(0), editable=False)
    volume_m3_total = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal(0), editable=False)
    chargeable_weight_kg = models.DecimalField(max_digits=14, decimal_places=3, default=Decimal(0), editable=False)

    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.SCREEN)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = FSMField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.DRAFT, protected=True)
    status_before_hold = models.CharField(
        max_length=20, choices=OrderStatus.choices, blank=True, editable=False, help_text="Where release returns to."
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    updated_at = models.DateTimeField(auto_now=True)
    # Who wrote the version `updated_at` is (an edit, a transition): the edit-conflict alert and the API's 412 name
    # them. On the row, as the version is, because not every save leaves a history row to read it from (a draft
    # without cargo lines writes no line event). A pointer like history's: no constraint, no index, never queried by.
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, null=True,
        blank=True, editable=False, related_name="+", help_text="The user who saved this version of the order.",
    )  # fmt: skip
    updated_by_key = models.ForeignKey(
        "partners.ApiKey", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, null=True, blank=True,
        editable=False, related_name="+", help_text="The API key that saved this version of the order.",
    )  # fmt: skip

    search_text = models.TextField(blank=True, editable=False, help_text="References, parties and goods, for search.")

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["reference"], name="order_reference_unique"),
            # A customer's reference names one order whatever its case ("PO-123" and "po-123"); it is kept as typed.
            # references.customer_reference_key is the same rule in Python (docs/decisions/0002).
            models.UniqueConstraint(F("customer"), Upper("customer_reference"), name="order_customer_reference_unique"),
            models.CheckConstraint(
                condition=Q(requested_delivery_on__isnull=True)
                | Q(requested_delivery_on__gte=F("requested_pickup_on")),
                name="order_delivery_not_before_pickup",
            ),
            models.CheckConstraint(
                condition=Q(declared_value_amount__isnull=True) | ~Q(declared_value_currency=""),
                name="order_declared_value_has_currency",
            ),
        ]
        # Every index is paid on each order written (a 100,000-row import writes 44,000 orders). So there is no
        # single-column index where a composite one starts with the column (customer, branch), and no
        # varchar_pattern_ops copy of the reference, origin or destination: nothing filters them with LIKE
        # 'prefix%' (icontains cannot use one). Django adds both by default for an FK or a unique CharField.
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="order_newest"),
            models.Index(fields=["customer", "status", "-created_at", "-id"], name="order_customer_status_newest"),
            models.Index(fields=["status", "-created_at", "-id"], name="order_status_newest"),
            models.Index(fields=["branch", "-created_at", "-id"], name="order_branch_newest"),
            GinIndex(SearchVector("search_text", config="simple"), name="order_search"),
            models.Index(fields=["origin"], name="order_origin"),
            models.Index(fields=["destination"], name="order_destination"),
        ]

    def __str__(self) -> str:
        return self.reference

    def get_absolute_url(self) -> str:
        return reverse("orders:detail", args=[self.reference])

    @property
    def lane(self) -> str:
        return f"{self.origin_id} → {self.destination_id}"

    @property
    def is_editable(self) -> bool:
        return self.status == OrderStatus.DRAFT

    if TYPE_CHECKING:  # made by FSMField for `status` (django_fsm adds get_available_<field>_transitions)

        def get_available_status_transitions(self) -> Iterator[Transition]: ...

    # Transitions change in-memory state only; orders.lifecycle applies them (lock, check, save, event)
    # and holds who may take each one. The table of them all is lifecycle.TRANSITIONS.
    @transition(field=status, source=OrderStatus.DRAFT, target=OrderStatus.SUBMITTED)
    def submit(self) -> None:
        """Hand the order to operations."""

    @transition(field=status, source=OrderStatus.SUBMITTED, target=OrderStatus.CONFIRMED)
    def confirm(self) -> None:
        """Accept the order: we will carry it on the agreed terms."""

    @transition(field=status, source=OrderStatus.CONFIRMED, target=OrderStatus.PLANNED)
    def plan(self) -> None:
        """Routing and carrier booking are settled."""

    @transition(field=status, source=OrderStatus.PLANNED, target=OrderStatus.CONFIRMED)
    def unplan(self) -> None:
        """The plan fell through before the goods moved (the carrier booking was cancelled): plan again."""

    @transition(field=status, source=OrderStatus.PLANNED, target=OrderStatus.IN_TRANSIT)
    def depart(self) -> None:
        """The goods were picked up or left origin."""

    @transition(field=status, source=OrderStatus.IN_TRANSIT, target=OrderStatus.ARRIVED)
    def arrive(self) -> None:
        """The goods reached the destination terminal or hub."""

    @transition(field=status, source=OrderStatus.ARRIVED, target=OrderStatus.DELIVERED)
    def deliver(self) -> None:
        """The consignee received the goods."""

    @transition(field=status, source=OrderStatus.DELIVERED, target=OrderStatus.COMPLETED)
    def complete(self) -> None:
        """Operations are finished; the order is ready to bill."""

    @transition(field=status, source=OrderStatus.COMPLETED, target=OrderStatus.INVOICED)
    def invoice(self) -> None:
        """The customer has been invoiced."""

    @transition(field=status, source=OrderStatus.INVOICED, target=OrderStatus.CLOSED)
    def close(self) -> None:
        """Nothing is left to do or collect."""

    @transition(field=status, source=list(HOLDABLE_STATUSES), target=OrderStatus.ON_HOLD)
    def hold(self) -> None:
        """Stop work on the order until someone releases it; remember where it was."""
        self.status_before_hold = self.status

    @transition(field=status, source=OrderStatus.ON_HOLD, target=RETURN_VALUE(*HOLDABLE_STATUSES))
    def release(self) -> str:
        """Resume work where the order was when it was put on hold."""
        previous, self.status_before_hold = self.status_before_hold, ""
        return previous

    @transition(
        field=status,
        source=[*CANCELLABLE_STATUSES, OrderStatus.ON_HOLD],
        target=OrderStatus.CANCELLED,
        # django_fsm types a condition as taking any Model; this one is only ever given an Order
        conditions=[cast(Callable[[models.Model], bool], _held_while_cancellable)],
    )
    def cancel(self) -> None:
        """Stop the order; nothing further happens to it."""
        self.status_before_hold = ""


if TYPE_CHECKING:
    # pghistory.track makes the event models when the app loads and sets them on this module (`from orders.models
    # import OrderEvent` works at runtime). Their fields copy the tracked model's, which mypy cannot see: untyped.
    OrderEvent: Any
    CargoLineEvent: Any
    EquipmentEvent: Any


@pghistory.track(
    pghistory.InsertEvent(),
    pghistory.UpdateEvent(),
    pghistory.DeleteEvent(),
    model_name="CargoLineEvent",
    level=HISTORY_LEVEL,
)
class CargoLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", db_index=False)
    line_no = models.PositiveSmallIntegerField()
    pieces = models.PositiveIntegerField()
    package_type = models.CharField(max_length=3, choices=PackageType.choices, default=PackageType.PACKAGE)
    description = models.CharField(max_length=300)
    hs_code = models.CharField("HS code", max_length=10, blank=True)
    gross_weight_kg = models.DecimalField(max_digits=12, decimal_places=3)
    volume_m3 = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    length_cm = models.DecimalField(max_digits=8, decimal_places=1, null=True, blank=True)
    width_cm = models.DecimalField(max_digits=8, decimal_places=1, null=True, blank=True)
    height_cm = models.DecimalField(max_digits=8, decimal_places=1, null=True, blank=True)
    container_number = models.CharField(max_length=11, blank=True, help_text="ISO 6346, e.g. CSQU3054383.")
    awb_number = models.CharField("AWB number", max_length=11, blank=True, help_text="11 digits, e.g. 02012345675.")
    un_number = models.CharField("UN number", max_length=4, blank=True, help_text="Dangerous goods: 4 digits.")
    dg_class = models.CharField("DG class", max_length=4, blank=True, help_text="e.g. 3 or 2.1.")
    packing_group = models.CharField(max_length=3, choices=PackingGroup.choices, blank=True)

    class Meta:
        ordering = ["order", "line_no"]
        constraints = [
            # Also the index of `order` (the FK has none of its own: it would repeat this one's first column).
            models.UniqueConstraint(fields=["order", "line_no"], name="cargo_line_number_unique"),
            models.CheckConstraint(condition=Q(pieces__gt=0), name="cargo_line_pieces_positive"),
            models.CheckConstraint(condition=Q(gross_weight_kg__gt=0), name="cargo_line_weight_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.pieces} × {self.get_package_type_display()} {self.description}"

    @property
    def is_dangerous(self) -> bool:
        return bool(self.un_number)


@pghistory.track(
    pghistory.InsertEvent(),
    pghistory.UpdateEvent(),
    pghistory.DeleteEvent(),
    model_name="EquipmentEvent",
    level=HISTORY_LEVEL,
)
class Equipment(models.Model):
    """A container on an FCL order: its ISO 6346 number, ISO size-type and seals."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="equipment")
    container_number = models.CharField(max_length=11, blank=True, help_text="Blank until the box is assigned.")
    iso_type = models.CharField("ISO size-type", max_length=4, help_text="e.g. 22G1 (20' GP), 45G1 (40' HC).")
    seal_numbers = ArrayField(models.CharField(max_length=20), default=list, blank=True)
    vgm_kg = models.DecimalField("VGM (kg)", max_digits=10, decimal_places=1, null=True, blank=True)

    class Meta:
        ordering = ["order", "id"]
        verbose_name_plural = "equipment"
        constraints = [
            models.UniqueConstraint(
                fields=["order", "container_number"],
                condition=~Q(container_number=""),
                name="equipment_container_once_per_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.container_number or 'unassigned'} {self.iso_type}"


class OrderTransition(models.Model):
    """One state change of an order: who took which transition, when, via which channel, and why."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="transitions", db_index=False)
    name = models.CharField(max_length=30)
    source = models.CharField(max_length=20)
    target = models.CharField(max_length=20)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    api_key = models.ForeignKey("partners.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    reason = models.CharField(max_length=300, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order", "at", "id"]
        indexes = [models.Index(fields=["order", "at"], name="order_transition_order_at")]  # also `order`'s index

    def __str__(self) -> str:
        return f"{self.order_id}: {self.source} → {self.target}"


class QueuedTransition(models.Model):
    """The durable copy of a transition's `order_status_changed` event until a receiver has handled it.

    `lifecycle.apply` writes it in the same statement as the transition, so an event cannot be lost
    between the commit and its delivery: the receiver handling it deletes the row in its own transaction
    (workflows: with the transition's claim), and whatever is left is work a worker drains, in batches,
    with `FOR UPDATE SKIP LOCKED`. Rows are short-lived; the table is a queue, not a record (that is
    OrderTransition). See docs/decisions/0004."""

    transition = models.OneToOneField(OrderTransition, on_delete=models.CASCADE, primary_key=True, related_name="+")
    queued_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"transition {self.transition_id} queued {self.queued_at:%Y-%m-%d %H:%M:%S}"


# --- Bulk intake: import jobs (orders/imports) and eCommerce/partner integrations (orders/webhooks) ---
