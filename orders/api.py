"""The orders REST API (/api/v1/orders/): output serializers and views over orders.services (input: api_input.py).

The API speaks the intake vocabulary (`orders.intake.ORDER_FIELDS`, cargo as a `lines` list), so a body
that works here works as a row of the bulk template and vice versa. `orders.intake` is the one
validation layer: the input serializers (api_input.py) only check what JSON transport adds (an object, a boolean
`submit`, no NUL characters) and hand everything else, unknown fields included, to the service, which
rejects `status`, `reference` and any other field that is not part of an order. Views read through
`scope.restrict` (another customer's order is a 404, never a 403) and write only through services.
An order's ETag is its version: PUT and PATCH with If-Match change only that version (412 otherwise), so a
client never overwrites a change it has not seen; a PATCH is merged onto the order by the service, under its lock.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from django.shortcuts import get_object_or_404
from django.utils.http import parse_etags
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from oms.api_errors import error_example, error_response
from oms.pagination import NewestFirstPagination
from orders import lifecycle, services
from orders.api_docs import (
    CANCELLED_EXAMPLE,
    ETAG,
    IDEMPOTENCY_IN_PROGRESS,
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_REUSED,
    IF_MATCH,
    NOT_A_DRAFT,
    ORDER_REQUEST_EXAMPLE,
    ORDER_RESPONSE_EXAMPLE,
    PRECONDITION_FAILED,
    REFERENCE,
    SUBMITTED_EXAMPLE,
    VALIDATION_ERROR,
    transition_conflict,
)
from orders.api_input import (
    CancelInputSerializer,
    OrderFilterSerializer,
    OrderInputSerializer,
    OrderUpdateInputSerializer,
    filter_orders,
)
from orders.errors import OrderVersionConflict
from orders.models import (
    CargoLine,
    Channel,
    Equipment,
    Mode,
    Order,
    OrderStatus,
    PackageType,
    ServiceLevel,
)
from partners import idempotency
from partners.models import ApiKey, User
from partners.scoping import Scope, scope_for_request

# --- Output --------------------------------------------------------------------------------------


class CargoLineSerializer(serializers.Serializer):
    """A cargo line as stored: the input vocabulary, normalised (codes upper-case, numbers as decimals)."""

    pieces = serializers.IntegerField()
    package_type = serializers.ChoiceField(PackageType.choices)
    gross_weight_kg = serializers.DecimalField(max_digits=12, decimal_places=3)
    volume_m3 = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
    description = serializers.CharField()
    hs_code = serializers.CharField(allow_blank=True)
    length_cm = serializers.DecimalField(max_digits=8, decimal_places=1, allow_null=True)
    width_cm = serializers.DecimalField(max_digits=8, decimal_places=1, allow_null=True)
    height_cm = serializers.DecimalField(max_digits=8, decimal_places=1, allow_null=True)
    container_number = serializers.CharField(allow_blank=True)
    container_type = serializers.CharField(allow_blank=True)
    seal_numbers = serializers.CharField(allow_blank=True, help_text="Separated by commas.")
    awb_number = serializers.CharField(allow_blank=True)
    un_number = serializers.CharField(allow_blank=True)
    dg_class = serializers.CharField(allow_blank=True)
    packing_group = serializers.CharField(allow_blank=True)


class TransitionSerializer(serializers.Serializer):
    """A transition the caller may take on an order (lifecycle.available_transitions): the order's `transitions`
    and GET /api/v1/orders/{reference}/transitions/ both answer with it. Every one has an endpoint."""

    name = serializers.ChoiceField(
        list(lifecycle.TRANSITIONS), help_text="POST /api/v1/orders/{reference}/{name}/ takes it."
    )
    # DRF's metaclass moves declared fields out of the class, so this does not shadow Field.label.
    label = serializers.CharField()  # type: ignore[assignment]
    allowed = serializers.BooleanField(help_text="false: the reason says what blocks it now.")
    reason = serializers.CharField(allow_null=True)
    needs_reason = serializers.BooleanField(help_text='true: send {"reason": ...}.')
    description = serializers.CharField()


class OrderSummarySerializer(serializers.Serializer):
    """An order in a list: the intake vocabulary plus what OMS sets (reference, status, totals, timestamps).

    Lists leave out `transitions`: whether one is allowed now asks the guards other apps register
    (workflow tasks, bookings), a query or more per order, and a list must cost the same few queries for
    5 orders as for 100. Read the order itself for its transitions.
    """

    reference = serializers.CharField(help_text="Ours, e.g. HAM-26-000123.")
    status = serializers.ChoiceField(OrderStatus.choices)
    channel = serializers.ChoiceField(Channel.choices, help_text="How the order came in.")
    customer_code = serializers.CharField()
    customer_reference = serializers.CharField()
    branch_code = serializers.CharField()
    mode = serializers.ChoiceField(Mode.choices)
    service_level = serializers.ChoiceField(ServiceLevel.choices)
    incoterm = serializers.CharField(allow_blank=True)
    named_place = serializers.CharField(allow_blank=True)
    origin = serializers.CharField()
    origin_address = serializers.CharField(allow_blank=True)
    destination = serializers.CharField()
    destination_address = serializers.CharField(allow_blank=True)
    shipper_name = serializers.CharField(allow_blank=True, help_text="Empty only on a draft.")
    shipper_address = serializers.CharField(allow_blank=True)
    consignee_name = serializers.CharField(allow_blank=True, help_text="Empty only on a draft.")
    consignee_address = serializers.CharField(allow_blank=True)
    notify_name = serializers.CharField(allow_blank=True)
    notify_address = serializers.CharField(allow_blank=True)
    description = serializers.CharField(allow_blank=True)
    requested_pickup_on = serializers.DateField()
    requested_delivery_on = serializers.DateField(allow_null=True)
    declared_value = serializers.DecimalField(
        max_digits=15,
        decimal_places=None,  # as given (currencies.amount_as_given): to the currency's minor unit, at least cents
        allow_null=True,
        help_text="To the currency's ISO 4217 minor unit, at least two decimals: 150000.00 JPY, 1234.567 KWD.",
    )
    currency = serializers.CharField(allow_blank=True)
    special_instructions = serializers.CharField(allow_blank=True)
    lines = CargoLineSerializer(many=True)
    pieces_total = serializers.IntegerField()
    gross_weight_kg_total = serializers.DecimalField(max_digits=14, decimal_places=3)
    volume_m3_total = serializers.DecimalField(max_digits=14, decimal_places=4)
    chargeable_weight_kg = serializers.DecimalField(
        max_digits=14, decimal_places=3, help_text="Greater of gross and volumetric weight for the mode."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    cancel_reason = serializers.CharField(allow_blank=True)

    def values(self, instance: Order) -> dict[str, Any]:
        return {
            **services.order_as_data(instance),
            "reference": instance.reference,
            "status": instance.status,
            "channel": instance.channel,
            "pieces_total": instance.pieces_total,
            "gross_weight_kg_total": instance.gross_weight_kg_total,
            "volume_m3_total": instance.volume_m3_total,
            "chargeable_weight_kg": instance.chargeable_weight_kg,
            "created_at": instance.created_at,
            "updated_at": instance.updated_at,
            "submitted_at": instance.submitted_at,
            "cancelled_at": instance.cancelled_at,
            "cancel_reason": instance.cancel_reason,
        }

    def to_representation(self, instance: Order) -> dict[str, Any]:
        return super().to_representation(self.values(instance))


class OrderSerializer(OrderSummarySerializer):
    """An order, with the transitions the caller may take now (and why a blocked one is blocked)."""

    transitions = TransitionSerializer(many=True)

    def values(self, instance: Order) -> dict[str, Any]:
        scope: Scope = self.context["scope"]
        return {**super().values(instance), "transitions": lifecycle.available_transitions(instance, scope)}


def _order_response(description: str, example: dict[str, Any]) -> OpenApiResponse:
    return OpenApiResponse(
        OrderSerializer, description=description, examples=[OpenApiExample("Order", value=example, response_only=True)]
    )


# --- Views ---------------------------------------------------------------------------------------


def _actor(request: Request) -> dict[str, Any]:
    """Who acts, as the services record it: the API key, and the person for session requests."""
    return {
        "by": request.user if isinstance(request.user, User) else None,
        "api_key": request.auth if isinstance(request.auth, ApiKey) else None,
    }


# Optimistic concurrency (RFC 9110 §8.8.3, §13.1.1): the ETag is the order's version (services.order_version)
# and a PUT or PATCH with If-Match is applied only to that version. Without If-Match the change is applied to
# whatever is current, as before the header existed.


class PreconditionFailed(exceptions.APIException):
    """If-Match names no version of the order that is current: someone changed it since the caller read it."""

    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "precondition_failed"
    default_detail = "The order was changed since the version named in If-Match."


def _stale(conflict: OrderVersionConflict) -> PreconditionFailed:
    return PreconditionFailed(
        f"{conflict} Nothing was saved: GET the order for its current data and ETag, then send your change again."
    )


def _etag(order: Order) -> str:
    return f'"{services.order_version(order)}"'


def _with_etag(response: Response, order: Order) -> Response:
    response["ETag"] = _etag(order)
    return response


def _if_match_version(request: Request, order: Order, *, scope: Scope, by: Any, api_key: Any) -> str | None:
    """The version an If-Match header asks the change to be applied to: None without the header or with `*`
    (any version). Checked here against the order as read, so a stale request is a 412 before its body is
    looked at; order_update checks it again under the row lock. Tags compare strongly: a weak one (W/"…")
    never matches a change."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    tags = parse_etags(header)
    if tags == ["*"]:
        return None
    versions = [tag[1:-1] for tag in tags if tag.startswith('"')]
    if not versions:
        raise PreconditionFailed(
            "If-Match names no version of this order: send the ETag of your last read of it, quotes included, "
            'e.g. If-Match: "20261129T101500.123456Z" (a weak tag, W/"…", never matches a change).'
        )
    current = services.order_version(order)
    expected = current if current in versions else versions[0]
    conflict = services.order_version_conflict(
        order=order, expected_version=expected, scope=scope, by=by, api_key=api_key
    )
    if conflict is not None:
        raise _stale(conflict)
    return expected


@extend_schema_view(
    list=extend_schema(
        summary="List orders",
        description="The caller's orders, newest first, with cursor pagination (`next`/`previous` links). "
        "Customer keys see only their organisation's orders; staff keys see all. Items leave out "
        "`transitions`; get the order for those.",
        parameters=[OrderFilterSerializer],
        responses={
            200: OrderSummarySerializer,
            400: error_response(
                "A filter has a bad value.",
                error_example(
                    "Bad filter",
                    "validation_error",
                    "The request has 1 error.",
                    {"status": ['"shipped" is not a valid choice.']},
                ),
            ),
            404: error_response("The cursor is not valid.", error_example("Bad cursor", "not_found", "Invalid cursor")),
        },
    ),
    retrieve=extend_schema(
        summary="Get an order",
        description="The order, with the transitions the caller may take now and why a blocked one is blocked. "
        "The ETag header is its version, for If-Match on a later change.",
        parameters=[REFERENCE, ETAG],
        responses={200: _order_response("The order.", ORDER_RESPONSE_EXAMPLE)},
    ),
    create=extend_schema(
        summary="Create an order",
        description="Validates the order as every intake channel does and creates it as a draft, or "
        'submitted with `"submit": true`. A draft may still lack the Incoterm, the shipper, the consignee and '
        "cargo lines (submitting needs them); the fields it has are checked. A customer key places orders for its "
        "own organisation only; it may send the branch_code GET returned (cloning an order by GET then POST), "
        "never another branch.",
        parameters=[IDEMPOTENCY_KEY, ETAG],
        request=OrderInputSerializer,
        examples=[OpenApiExample("Ocean FCL order", value=ORDER_REQUEST_EXAMPLE, request_only=True)],
        responses={
            201: _order_response(
                "Created (or, with Idempotent-Replayed: true, the replayed creation).", ORDER_RESPONSE_EXAMPLE
            ),
            400: VALIDATION_ERROR,
            409: error_response(
                "The same Idempotency-Key is still running; retry after Retry-After.", IDEMPOTENCY_IN_PROGRESS
            ),
            422: IDEMPOTENCY_REUSED,
        },
    ),
    update=extend_schema(
        summary="Replace a draft order",
        description="Replaces the order's data and cargo. Only drafts can be edited; afterwards the answer is 409. "
        "Send If-Match with the ETag you read so that a change someone made since is not overwritten (412).",
        parameters=[REFERENCE, IF_MATCH, ETAG],
        request=OrderUpdateInputSerializer,
        examples=[OpenApiExample("Whole order", value=ORDER_REQUEST_EXAMPLE, request_only=True)],
        responses={
            200: _order_response("The updated order; ETag is its new version.", ORDER_RESPONSE_EXAMPLE),
            400: VALIDATION_ERROR,
            409: NOT_A_DRAFT,
            412: PRECONDITION_FAILED,
        },
    ),
    partial_update=extend_schema(
        summary="Change a draft order",
        description="Changes only the fields sent, on the order as it is when the change is made (a field someone "
        "else changed meanwhile keeps their value); `lines`, when sent, replaces all cargo lines. Send If-Match "
        "with the ETag you read to refuse the change (412) if anything changed since.",
        parameters=[REFERENCE, IF_MATCH, ETAG],
        request=OrderUpdateInputSerializer,
        examples=[OpenApiExample("New pickup date", value={"requested_pickup_on": "2026-12-03"}, request_only=True)],
        responses={
            200: _order_response("The updated order; ETag is its new version.", ORDER_RESPONSE_EXAMPLE),
            400: VALIDATION_ERROR,
            409: NOT_A_DRAFT,
            412: PRECONDITION_FAILED,
        },
    ),
    submit=extend_schema(
        summary="Submit an order",
        description="Hands a draft order to operations. Its workflow tasks are made by the workflow worker right "
        "after, in batches (under a second at normal load): GET /tasks/?order={reference} lists them.",
        parameters=[REFERENCE, IDEMPOTENCY_KEY, ETAG],
        request=None,
        responses={
            200: _order_response("The submitted order.", SUBMITTED_EXAMPLE),
            409: transition_conflict("submitted", "cancelled"),
            422: IDEMPOTENCY_REUSED,
        },
    ),
    cancel=extend_schema(
        summary="Cancel an order",
        description="Cancels a draft or submitted order, with the reason.",
        parameters=[REFERENCE, IDEMPOTENCY_KEY, ETAG],
        request=CancelInputSerializer,
        examples=[OpenApiExample("Reason", value={"reason": "Customer postponed the shipment."}, request_only=True)],
        responses={
            200: _order_response("The cancelled order.", CANCELLED_EXAMPLE),
            400: error_response(
                "The reason is missing.",
                error_example(
                    "No reason", "validation_error", "The request has 1 error.", {"reason": ["This field is required."]}
                ),
            ),
            409: transition_conflict("cancelled", "cancelled"),
            422: IDEMPOTENCY_REUSED,
        },
    ),
)
class OrderViewSet(viewsets.GenericViewSet):
    """Orders: create, list, read, edit while draft, submit and cancel."""

    serializer_class = OrderSerializer
    pagination_class = NewestFirstPagination  # parsers: the API's default, JSON only (a form is a 415)
    lookup_field = "reference"
    lookup_value_regex = r"[A-Za-z0-9-]+"

    def get_queryset(self) -> QuerySet[Order]:
        orders = Order.objects.select_related("customer", "branch")
        if self.action not in ("update", "partial_update"):  # an edit reads the cargo it merges onto under the lock
            orders = orders.prefetch_related(
                Prefetch("lines", queryset=CargoLine.objects.order_by("line_no")),
                Prefetch("equipment", queryset=Equipment.objects.order_by("id")),
            )
        return self.scope.restrict(orders, customer="customer_id")

    def get_object(self) -> Order:
        # Our references are upper case (HAM-26-000123); a lower-case one names the same order, as it does on the
        # screens, the timeline and the workflow endpoints.
        order = get_object_or_404(self.get_queryset(), reference=self.kwargs["reference"].upper())
        self.check_object_permissions(self.request, order)
        return order

    @property
    def scope(self) -> Scope:
        return scope_for_request(self.request)

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return OrderSummarySerializer if self.action == "list" else OrderSerializer

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "scope": self.scope}

    def _respond(self, order: Order, status_code: int = status.HTTP_200_OK) -> Response:
        # Services return the row they wrote; its relations are loaded here in one query each.
        prefetch_related_objects([order], "customer", "branch", "lines", "equipment")
        return _with_etag(Response(self.get_serializer(order).data, status=status_code), order)

    def list(self, request: Request) -> Response:
        filters = OrderFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        page = self.paginate_queryset(filter_orders(self.get_queryset(), filters.validated_data))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, reference: str) -> Response:
        order = self.get_object()
        return _with_etag(Response(self.get_serializer(order).data), order)

    def create(self, request: Request) -> Response:
        return idempotency.idempotent(request, execute=lambda: self._create(request))

    def _create(self, request: Request) -> Response:
        if not (self.scope.is_staff or self.scope.is_customer):
            raise exceptions.PermissionDenied("Only our staff and customers can place orders.")
        payload = OrderInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        submit = data.pop("submit", False)
        order = services.order_create(
            data=data, scope=self.scope, channel=Channel.API, submit=submit, **_actor(request)
        )
        return self._respond(order, status.HTTP_201_CREATED)

    def update(self, request: Request, reference: str) -> Response:
        return self._update(request, partial=False)

    def partial_update(self, request: Request, reference: str) -> Response:
        return self._update(request, partial=True)

    def _update(self, request: Request, *, partial: bool) -> Response:
        order = self.get_object()
        actor = _actor(request)
        expected_version = _if_match_version(request, order, scope=self.scope, **actor)
        payload = OrderUpdateInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            # A PATCH is merged onto the order inside the service, under its row lock: merged here, onto the
            # order as read before the lock, it would put back a field someone else changed meanwhile.
            order = services.order_update(
                order=order, data=payload.validated_data, scope=self.scope, channel=Channel.API, partial=partial,
                expected_version=expected_version, **actor,
            )  # fmt: skip
        except OrderVersionConflict as exc:
            raise _stale(exc) from exc
        return self._respond(order)

    @action(detail=True, methods=["post"])
    def submit(self, request: Request, reference: str) -> Response:
        def execute() -> Response:
            order = services.order_submit(
                order=self.get_object(), scope=self.scope, channel=Channel.API, **_actor(request)
            )
            return self._respond(order)

        return idempotency.idempotent(request, execute=execute)

    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, reference: str) -> Response:
        def execute() -> Response:
            order = self.get_object()
            payload = CancelInputSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            order = services.order_cancel(
                order=order,
                scope=self.scope,
                channel=Channel.API,
                reason=payload.validated_data["reason"],
                **_actor(request),
            )
            return self._respond(order)

        return idempotency.idempotent(request, execute=execute)
