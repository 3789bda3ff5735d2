"""The tracking API: an order's timeline, and the signed webhook carriers and partners send events to.

GET  /api/v1/orders/{reference}/timeline/      the timeline, scoped like every order read (404 if not yours);
                                               customer and partner keys get the customer-safe fields only
POST /api/v1/tracking/webhooks/{source}/       signed with the source's secret (tracking/ingest/webhooks.py)
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.fields import SkipField
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from oms.api_errors import error_example, error_response
from oms.http import read_body_within
from partners.scoping import scope_for_request
from tracking.ingest import selectors, webhooks
from tracking.ingest.selectors import Timeline

# --- Timeline ----------------------------------------------------------------------------------------


class StaffOnlyField(serializers.SerializerMethodField):
    """`get_<name>()` for staff keys; for customer and partner keys (context `customer_safe`) the key is left out
    of the answer, not sent as null. It is not read-only so that the schema lists it as optional (drf-spectacular
    makes every read-only field required), and a client generated from the schema reads both answers."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.read_only = False

    def get_attribute(self, instance: Any) -> Any:
        if self.context.get("customer_safe"):
            raise SkipField
        return super().get_attribute(instance)


class MilestoneOutSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Canonical milestone, e.g. DEPARTED (DOMAIN.md §1.7).")
    name = serializers.CharField()
    state = serializers.ChoiceField(["done", "expected", "pending"])
    planned_at = serializers.DateTimeField(allow_null=True)
    estimated_at = serializers.DateTimeField(allow_null=True)
    actual_at = serializers.DateTimeField(allow_null=True)
    location = serializers.CharField(help_text="UN/LOCODE of where it happened; empty when not known.")
    location_name = serializers.CharField()
    is_late = serializers.BooleanField(help_text="Actual or estimated more than two hours after the plan.")
    events = StaffOnlyField(help_text="Staff keys only (left out for others): every event behind the milestone.")

    def get_events(self, row: Any) -> list[dict[str, Any]]:
        return [
            {
                "classifier": item.event.classifier,
                "at": item.at.isoformat(),
                "source": item.event.source,
                "scheme": item.event.scheme,
                "code": item.event.raw_code,
                "effect": item.event.effect,
                "not_applied": item.event.contradiction,  # "": applied; else how it contradicts its leg's times
            }
            for item in row.events
        ]


class LegOutSerializer(serializers.Serializer):
    sequence = serializers.IntegerField(source="leg.sequence")
    role = serializers.CharField(source="leg.role")
    mode = serializers.CharField(source="leg.mode")
    carrier = serializers.CharField(source="leg.carrier.name", allow_null=True, default=None)
    origin = serializers.CharField(source="leg.origin_id")
    destination = serializers.CharField(source="leg.destination_id")
    planned_departure_at = serializers.DateTimeField(source="leg.planned_departure_at", allow_null=True)
    planned_arrival_at = serializers.DateTimeField(source="leg.planned_arrival_at", allow_null=True)
    actual_departure_at = serializers.DateTimeField(source="leg.actual_departure_at", allow_null=True)
    actual_arrival_at = serializers.DateTimeField(source="leg.actual_arrival_at", allow_null=True)
    conveyance = serializers.CharField(source="leg.conveyance")


class EstimateOutSerializer(serializers.Serializer):
    estimated_at = serializers.DateTimeField()
    previous_at = serializers.DateTimeField(allow_null=True)
    reported_at = serializers.DateTimeField(help_text="When the carrier made this estimate.")


class TimelineSerializer(serializers.Serializer):
    order = serializers.CharField(source="order.reference")
    status = serializers.CharField(source="order.status", help_text="The order's lifecycle state.")
    eta = serializers.DateTimeField(
        source="current_eta",
        allow_null=True,
        help_text="The carrier's latest estimate of the arrival while the goods are on their way. Null when no "
        "estimate was reported yet, and null once the goods arrived: `arrived_at` then holds the actual arrival "
        "(an ETA is never an actual time, nor an estimate the arrival overtook). `eta_history` keeps every estimate.",
    )
    arrived_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the goods actually arrived (the arrival milestone, or the first later one, e.g. a delivery, "
        "when no arrival was reported); null: not arrived yet.",
    )
    delivered_at = serializers.DateTimeField(
        allow_null=True, help_text="When the goods were actually delivered; null: not delivered yet."
    )
    planned_arrival_at = serializers.DateTimeField(allow_null=True)
    eta_history = EstimateOutSerializer(many=True, help_text="Every change of the ETA, oldest first.")
    milestones = MilestoneOutSerializer(many=True)
    legs = LegOutSerializer(many=True)
    last_event_at = serializers.DateTimeField(allow_null=True)
    tracking_stale = StaffOnlyField(help_text="Staff keys only (left out for others): a carrier feed is not answering.")

    def get_tracking_stale(self, timeline: Timeline) -> bool:
        return bool(timeline.stale)


@extend_schema(
    operation_id="orders_timeline",
    summary="An order's tracking timeline",
    description="Every milestone in order with planned, estimated and actual times and places, the legs, and "
    "the ETA with its history. Customer and partner keys see the customer-safe fields (no raw codes, sources or "
    "events); a customer sees only its own orders and a partner only orders on shipments it carries (404 otherwise).",
    responses={200: TimelineSerializer},
    tags=["orders"],
)
@api_view(["GET"])
def order_timeline(request: Request, reference: str) -> Response:
    scope = scope_for_request(request)
    order = selectors.order_get_for(scope=scope, reference=reference)
    timeline = selectors.order_timeline(order=order, customer_safe=not scope.is_staff)
    return Response(TimelineSerializer(timeline, context={"customer_safe": timeline.customer_safe}).data)


# --- Webhook -------------------------------------------------------------------------------------


class RawBodyParser(BaseParser):
    """The signature is over the exact bytes, so the view reads request.body itself; this only lets DRF
    accept the content types senders use without parsing them first."""

    media_type = "*/*"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        return stream.read() if stream is not None else b""


class WebhookResultSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    stored = serializers.IntegerField(help_text="New events stored.")
    duplicates = serializers.IntegerField(help_text="Events we had already: stored once, not applied twice.")
    unmapped = serializers.IntegerField(help_text="Stored, but their code has no mapping yet (an admin is alerted).")
    unlinked = serializers.IntegerField(help_text="Stored, but their reference matches no shipment of yours.")
    rejected = serializers.ListField(
        child=serializers.DictField(),
        help_text="Refused events, each with its index in the delivery and why (also kept for our operations team).",
    )


_WEBHOOK_EXAMPLE = {
    "events": [
        {
            "id": "acme-884213",
            "milestone": "DEPARTED",
            "classifier": "ACT",
            "occurred_at": "2026-03-05T08:55:00+08:00",
            "location": "CNSHA",
            "subject": {"type": "container", "value": "MSCU1234565"},
        },
        {
            "eventID": "5e51e72c-d872-4f14-8e7f-5a4a5b2e1e3a",
            "eventType": "TRANSPORT",
            "eventClassifierCode": "EST",
            "eventCreatedDateTime": "2026-03-06T09:12:44Z",
            "eventDateTime": "2026-04-02T06:00:00+02:00",
            "transportEventTypeCode": "ARRI",
            "transportCall": {"transportCallID": "c-1", "modeOfTransport": "VESSEL", "UNLocationCode": "DEHAM"},
            "documentReferences": [{"documentReferenceType": "TRD", "documentReferenceValue": "MAEU262000001"}],
        },
    ]
}


class TrackingWebhookView(APIView):
    """Signed, not authenticated by API key: the HMAC over timestamp and body is the credential."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []  # a batch holds up to 1,000 events; the signature and the caps guard it
    parser_classes = [RawBodyParser]

    @extend_schema(
        operation_id="tracking_webhook_deliver",
        summary="Deliver tracking events (signed webhook)",
        description=(
            'A JSON array of events, or `{"events": [...]}`, at most 1,000 per delivery. Each event is a DCSA '
            "Track & Trace 2.2 event or one of ours (`milestone` or `code` + `scheme`, `classifier`, `occurred_at` "
            "with offset, `location`, `subject`, optional `id`).\n\n"
            "Sign it: `X-OMS-Timestamp: <Unix seconds>` and `X-OMS-Signature: v1=<hex HMAC-SHA256(secret, "
            '"<timestamp>.<raw body>")>`. Missing, wrong or stale (more than 5 minutes) signatures get 401 and '
            "nothing is stored. The same event sent twice is stored once (`duplicates`).\n\n"
            "Each event is judged on its own: the answer is 200 with the events stored and, in `rejected`, each "
            "refused one with its index and why. A delivery with refused events is also kept, with those reasons, "
            "for our operations team (the tracking monitor), so a refusal never goes unseen on either side."
        ),
        parameters=[
            OpenApiParameter("source", str, OpenApiParameter.PATH, description="The webhook source's name."),
            OpenApiParameter(webhooks.TIMESTAMP_HEADER, str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter(webhooks.SIGNATURE_HEADER, str, OpenApiParameter.HEADER, required=True),
        ],
        request={"application/json": OpenApiTypes.OBJECT},
        examples=[OpenApiExample("Ours and DCSA", value=_WEBHOOK_EXAMPLE, request_only=True)],
        responses={
            200: WebhookResultSerializer,
            400: error_response(
                "A valid signature over a body that is not JSON; kept for investigation.",
                error_example("Not JSON", "parse_error", "The body is not JSON: Expecting value."),
            ),
            401: error_response(
                "Missing, wrong or stale signature; nothing was stored.",
                error_example(
                    "Bad signature", "authentication_failed", "The signature does not verify for this source."
                ),
            ),
            413: error_response(
                "More than 1,000 events, or too many bytes, in one delivery.",
                error_example(
                    "Too many",
                    "too_many_events",
                    "A delivery holds at most 1,000 events; this one has 1,200. Split it.",
                ),
            ),
        },
        tags=["tracking"],
    )
    def post(self, request: Request, source: str) -> Response:
        declared = request.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > webhooks.MAX_BYTES:  # refuse before reading it
            outcome = webhooks.too_large(int(declared))
        elif (body := read_body_within(request, webhooks.MAX_BYTES)) is None:  # no or a wrong Content-Length
            outcome = webhooks.too_large(None)
        else:
            outcome = webhooks.webhook_receive(source_name=source, headers=request.headers, body=body)
        return Response(outcome.body, status=outcome.status)


tracking_webhook = TrackingWebhookView.as_view()
