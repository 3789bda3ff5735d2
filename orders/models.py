"""What: orders, their cargo lines and equipment, and the locations they move between.

The order's state is an FSMField with protected=True: it changes only through transitions applied by
`orders.lifecycle`, never by assignment. Every change to an order, its lines and its equipment is
recorded by Postgres triggers (django-pghistory), so bulk writes and raw SQL are captured too.
"""

from __future__ import annotations

from decimal import Decimal

import pghistory
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.urls import reverse
from django_fsm import FSMField, FSMModelMixin, transition

from partners.models import Organisation


class LocationFunction(models.TextChoices):
    PORT = "port", "Port"
    RAIL = "rail", "Rail terminal"
    ROAD = "road", "Road terminal"
    AIRPORT = "airport", "Airport"
    POSTAL = "postal", "Postal exchange"
    MULTIMODAL = "multimodal", "Multimodal / inland depot"
    FIXED = "fixed", "Fixed transport"
    BORDER = "border", "Border crossing"


class Location(models.Model):
    """A place in the UN/LOCODE list, e.g. DEHAM Hamburg (printed "DE HAM")."""

    code = models.CharField("UN/LOCODE", max_length=5, primary_key=True)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2.")
    name = models.CharField(max_length=100)
    name_ascii = models.CharField(max_length=100, blank=True, help_text="Name without diacritics.")
    subdivision = models.CharField(max_length=3, blank=True, help_text="ISO 3166-2 subdivision suffix.")
    functions = ArrayField(models.CharField(max_length=12, choices=LocationFunction.choices), default=list, blank=True)
    iata = models.CharField("IATA code", max_length=3, blank=True)
    latitude = models.DecimalField(max_digits=7, decimal_places=4, null=True, blank=True)
    longitude = models.DecimalField(max_digits=7, decimal_places=4, null=True, blank=True)
    is_active = models.BooleanField(default=True, help_text="Inactive codes can no longer be used on new orders.")

    class Meta:
        ordering = ["code"]
        indexes = [
            GinIndex(OpClass(Upper("name_ascii"), name="gin_trgm_ops"), name="location_name_trgm"),
            models.Index(fields=["iata"], name="location_iata"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=r"^[A-Z]{2}[A-Z2-9]{3}$"), name="location_code_shape"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def display_code(self) -> str:
        return f"{self.code[:2]} {self.code[2:]}"


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
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    CANCELLED = "cancelled", "Cancelled"


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


@pghistory.track(
    pghistory.InsertEvent(),
    pghistory.UpdateEvent(),
    exclude=["search_text", "updated_at"],
    model_name="OrderEvent",
)
class Order(FSMModelMixin, models.Model):
    """A customer's request to move goods, from intake to delivery to invoice."""

    reference = models.CharField(max_length=20, unique=True, editable=False, help_text="Ours, e.g. HAM-26-000123.")
    customer = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="orders")
    customer_reference = models.CharField(max_length=64, help_text="The customer's own order number.")
    branch = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="branch_orders",
        help_text="Our office handling it.",
    )
    mode = models.CharField(max_length=12, choices=Mode.choices)
    service_level = models.CharField(max_length=12, choices=ServiceLevel.choices, default=ServiceLevel.STANDARD)
    incoterm = models.CharField(max_length=3, choices=Incoterm.choices, blank=True)
    named_place = models.CharField(max_length=100, blank=True, help_text="Incoterms® 2020 named place.")

    shipper = models.ForeignKey(Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    shipper_name = models.CharField(max_length=200)
    shipper_address = models.TextField(blank=True)
    consignee = models.ForeignKey(Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    consignee_name = models.CharField(max_length=200)
    consignee_address = models.TextField(blank=True)
    notify_party = models.ForeignKey(Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    notify_name = models.CharField(max_length=200, blank=True)
    notify_address = models.TextField(blank=True)

    origin = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    origin_address = models.TextField(blank=True, help_text="Pickup address when it is not the terminal.")
    destination = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    destination_address = models.TextField(blank=True, help_text="Delivery address when it is not the terminal.")
    requested_pickup_on = models.DateField()
    requested_delivery_on = models.DateField(null=True, blank=True)

    description = models.CharField(max_length=300, blank=True, help_text="Summary of the goods.")
    declared_value_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
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
    submitted_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    updated_at = models.DateTimeField(auto_now=True)

    search_text = models.TextField(blank=True, editable=False, help_text="References, parties and goods, for search.")

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "customer_reference"], name="order_customer_reference_unique"),
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
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="order_newest"),
            models.Index(fields=["customer", "status", "-created_at", "-id"], name="order_customer_status_newest"),
            models.Index(fields=["status", "-created_at", "-id"], name="order_status_newest"),
            models.Index(fields=["branch", "-created_at", "-id"], name="order_branch_newest"),
            GinIndex(SearchVector("search_text", config="simple"), name="order_search"),
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

    # Transitions change in-memory state only; orders.lifecycle applies them (lock, check, save, event).
    @transition(field=status, source=OrderStatus.DRAFT, target=OrderStatus.SUBMITTED)
    def submit(self) -> None:
        """Hand the order to operations."""

    @transition(field=status, source=[OrderStatus.DRAFT, OrderStatus.SUBMITTED], target=OrderStatus.CANCELLED)
    def cancel(self) -> None:
        """Stop the order; nothing further happens to it."""


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent(), model_name="CargoLineEvent")
class CargoLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
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
            models.UniqueConstraint(fields=["order", "line_no"], name="cargo_line_number_unique"),
            models.CheckConstraint(condition=Q(pieces__gt=0), name="cargo_line_pieces_positive"),
            models.CheckConstraint(condition=Q(gross_weight_kg__gt=0), name="cargo_line_weight_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.pieces} × {self.get_package_type_display()} {self.description}"

    @property
    def is_dangerous(self) -> bool:
        return bool(self.un_number)


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent(), model_name="EquipmentEvent")
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

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="transitions")
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
        indexes = [models.Index(fields=["order", "at"], name="order_transition_order_at")]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.source} → {self.target}"
