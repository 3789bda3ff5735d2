"""What the orders API accepts (orders/api.py): the input serializers of an order, its cargo lines, an update, a
cancellation and the list's query parameters, and the list's filter.

The input serializers check only what JSON transport adds (an object, a boolean `submit`, no NUL characters) and
pass everything else, unknown fields included, to orders.intake, the one validation layer; their declared fields
describe the body for the OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet
from rest_framework import exceptions, serializers

from orders.intake import MAX_LINES
from orders.models import Incoterm, Mode, Order, OrderStatus, PackageType, PackingGroup, ServiceLevel

_NUL = "\x00"
_NUL_MESSAGE = "Text cannot contain NUL (\\u0000) characters."


def _nul_fields(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Fields whose text holds a NUL character, which PostgreSQL cannot store in a text column."""
    found: dict[str, list[str]] = {}
    for name, value in data.items():
        if isinstance(value, str) and _NUL in value:
            found[str(name)] = [_NUL_MESSAGE]
    lines = data.get("lines")
    for index, line in enumerate(lines if isinstance(lines, list) else []):
        if not isinstance(line, Mapping):
            continue
        for name, value in line.items():
            values = value if isinstance(value, list) else [value]
            if any(isinstance(item, str) and _NUL in item for item in values):
                found[f"lines[{index}].{name}"] = [_NUL_MESSAGE]
    return found


class CargoLineInputSerializer(serializers.Serializer):
    """One cargo line, in the bulk template's vocabulary."""

    pieces = serializers.IntegerField(min_value=1, help_text="Number of packages.")
    package_type = serializers.ChoiceField(
        PackageType.choices, required=False, help_text="UN/ECE Rec. 21 code, e.g. PX (pallet); default PK."
    )
    gross_weight_kg = serializers.DecimalField(max_digits=12, decimal_places=3)
    volume_m3 = serializers.DecimalField(max_digits=12, decimal_places=4, required=False, allow_null=True)
    description = serializers.CharField(required=False, help_text="Defaults to the order's description.")
    hs_code = serializers.CharField(required=False, help_text="6, 8 or 10 digits, e.g. 847130.")
    length_cm = serializers.DecimalField(max_digits=8, decimal_places=1, required=False, allow_null=True)
    width_cm = serializers.DecimalField(max_digits=8, decimal_places=1, required=False, allow_null=True)
    height_cm = serializers.DecimalField(max_digits=8, decimal_places=1, required=False, allow_null=True)
    container_number = serializers.CharField(
        required=False, help_text="ISO 6346, e.g. CSQU3054383 (ocean FCL and rail orders only)."
    )
    container_type = serializers.CharField(
        required=False, help_text="ISO size-type, e.g. 22G1 or 45G1 (ocean FCL and rail orders only)."
    )
    seal_numbers = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="A list, or one string separated by commas (ocean FCL and rail orders only).",
    )
    awb_number = serializers.CharField(required=False, help_text="Air waybill, 11 digits (air orders).")
    un_number = serializers.CharField(required=False, help_text="Dangerous goods: UN number, e.g. 1203.")
    dg_class = serializers.CharField(required=False, help_text="Dangerous goods class, e.g. 3.")
    packing_group = serializers.ChoiceField(
        PackingGroup.choices, required=False, help_text="With the UN number and class, e.g. 1203 / 3 / II."
    )


class OrderInputSerializer(serializers.Serializer):
    """An order in the intake vocabulary. The declared fields describe it for the schema; `to_internal_value`
    passes the body through unchanged after the transport checks, because orders.intake validates it once,
    with its messages, and must see unknown fields (such as `status`) to reject them. A draft may lack the
    Incoterm, the shipper, the consignee and cargo lines; submitting needs them."""

    customer_code = serializers.CharField(
        required=False,
        help_text="Staff keys: required. Customer keys: implied (and must match when sent). A customer person who acts "
        "for several customers names one of them.",
    )
    customer_reference = serializers.CharField(
        max_length=64, help_text="Your order number; unique per customer whatever its case (PO-1 and po-1 are one)."
    )
    branch_code = serializers.CharField(
        required=False,
        help_text="Staff choose it; defaults to the customer's account branch. A customer key may send only the "
        "branch its order gets anyway (the branch_code GET returns), so an order read can be sent back or cloned.",
    )
    mode = serializers.ChoiceField(Mode.choices)
    service_level = serializers.ChoiceField(ServiceLevel.choices, required=False)
    incoterm = serializers.ChoiceField(
        Incoterm.choices, required=False, help_text="FAS, FOB, CFR and CIF are for sea only. Needed to submit."
    )
    named_place = serializers.CharField(required=False, help_text="Defaults to the origin or destination name.")
    origin = serializers.CharField(help_text="UN/LOCODE, e.g. DEHAM.")
    origin_address = serializers.CharField(required=False)
    destination = serializers.CharField(help_text="UN/LOCODE, e.g. CNSHA.")
    destination_address = serializers.CharField(required=False)
    shipper_name = serializers.CharField(required=False, help_text="Needed to submit.")
    shipper_address = serializers.CharField(required=False)
    consignee_name = serializers.CharField(required=False, help_text="Needed to submit.")
    consignee_address = serializers.CharField(required=False)
    notify_name = serializers.CharField(required=False)
    notify_address = serializers.CharField(required=False)
    description = serializers.CharField(required=False, help_text="Summary of the goods.")
    requested_pickup_on = serializers.DateField()
    requested_delivery_on = serializers.DateField(required=False, allow_null=True)
    declared_value = serializers.DecimalField(
        max_digits=15,
        decimal_places=3,  # the column's; the currency's minor unit is intake's rule (validate_order), named there
        required=False,
        allow_null=True,
        help_text="No finer than the currency's ISO 4217 minor unit: whole yen (JPY), cents for EUR, fils for KWD.",
    )
    currency = serializers.CharField(required=False, help_text="ISO 4217, required with declared_value.")
    special_instructions = serializers.CharField(required=False)
    # ListSerializer takes max_length since DRF 3.14; the stubs do not know it yet.
    lines = CargoLineInputSerializer(  # type: ignore[call-arg]
        many=True,
        max_length=MAX_LINES,
        required=False,
        help_text="A list, even for one cargo line. At least one is needed to submit.",
    )
    submit = serializers.BooleanField(
        required=False, default=False, help_text="true: create the order submitted instead of as a draft."
    )

    allows_submit = True

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            raise exceptions.ValidationError({"non_field_errors": ["Send the order as a JSON object of fields."]})
        errors = _nul_fields(data)
        if "submit" in data and (not self.allows_submit or not isinstance(data["submit"], bool)):
            errors["submit"] = [
                "Must be true or false." if self.allows_submit else "To submit an order, POST to its submit/ action."
            ]
        if errors:
            raise exceptions.ValidationError(errors)
        return dict(data)


class OrderUpdateInputSerializer(OrderInputSerializer):
    """The order's new data: PUT sends all of it, PATCH only what changes (`lines`, when sent, replaces
    every cargo line)."""

    allows_submit = False

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields.pop("submit")
        return fields


class CancelInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, help_text="Why, for the team and the customer.")


class OrderFilterSerializer(serializers.Serializer):
    """The list's query parameters."""

    status = serializers.ChoiceField(OrderStatus.choices, required=False)
    customer_code = serializers.CharField(
        required=False, help_text="Staff keys; a customer key only ever sees its own orders."
    )
    mode = serializers.ChoiceField(Mode.choices, required=False)
    origin = serializers.CharField(required=False, help_text="UN/LOCODE, e.g. DEHAM.")
    destination = serializers.CharField(required=False, help_text="UN/LOCODE, e.g. CNSHA.")
    customer_reference = serializers.CharField(
        required=False, help_text="Your order number, in any case (po-1 finds PO-1), as the duplicate rule compares it."
    )
    created_after = serializers.DateTimeField(required=False, help_text="ISO 8601, e.g. 2026-11-01T00:00:00Z.")
    created_before = serializers.DateTimeField(required=False, help_text="ISO 8601, exclusive.")


def filter_orders(queryset: QuerySet[Order], filters: Mapping[str, Any]) -> QuerySet[Order]:
    lookups = {
        "status": "status",
        "customer_code": "customer__code",
        "mode": "mode",
        "origin": "origin_id",
        "destination": "destination_id",
        "customer_reference": "customer_reference__iexact",  # served by the unique index on UPPER()
        "created_after": "created_at__gte",
        "created_before": "created_at__lt",
    }
    upper = {"customer_code", "origin", "destination"}
    conditions = {
        lookup: filters[name].strip().upper() if name in upper else filters[name]
        for name, lookup in lookups.items()
        if name in filters
    }
    return queryset.filter(**conditions)
