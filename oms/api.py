"""API plumbing shared by every app: the v1 router and the caller's identity endpoint."""

from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
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


@csrf_exempt  # it changes nothing; without this a client's POST got Django's HTML "CSRF verification failed"
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any address under /api/ that no endpoint answers: a 404 in the API's error shape, not Django's HTML page
    (a client parses every answer as JSON), whatever the method: API clients send no CSRF token. A path that only
    lacks its trailing slash is redirected for GET and HEAD, as APPEND_SLASH did before this catch-all; any other
    method gets the 404 naming the address it meant (a redirected POST would lose its body)."""
    message = "No API endpoint answers at this address; the endpoints are listed at /api/docs/."
    if not request.path.endswith("/"):
        try:
            resolved = resolve(request.path + "/")
        except Resolver404:
            resolved = None
        if resolved is not None and resolved.func is not not_found:
            if request.method in ("GET", "HEAD"):
                query = request.META.get("QUERY_STRING", "")
                return HttpResponsePermanentRedirect(request.path + "/" + (f"?{query}" if query else ""))
            message = f"No API endpoint answers at this address; did you mean {request.path}/ (with the slash)?"
    return JsonResponse({"error": {"code": "not_found", "message": message, "fields": {}}}, status=404)
