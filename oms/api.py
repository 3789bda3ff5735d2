"""API plumbing shared by every app: the v1 router and the caller's identity endpoint."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from partners.models import ApiKey, Organisation
from partners.scoping import scope_for_request


@extend_schema(
    summary="Who am I",
    description="The organisation and scope the API key (or session) acts for. Use it to check a key.",
    responses=inline_serializer(
        "Identity",
        {
            "audience": serializers.ChoiceField(choices=["staff", "customer", "partner", "nobody"]),
            "organisations": serializers.ListField(child=serializers.CharField()),
            "key_name": serializers.CharField(allow_null=True),
        },
    ),
)
@api_view(["GET"])
def me(request: Request) -> Response:
    scope = scope_for_request(request)
    codes = list(
        Organisation.objects.filter(pk__in=scope.organisation_ids).order_by("code").values_list("code", flat=True)
    )
    key_name = request.auth.name if isinstance(request.auth, ApiKey) else None
    return Response({"audience": scope.audience.value, "organisations": codes, "key_name": key_name})
