"""The OpenAPI 3 schema (/api/schema/) and the browsable docs (/api/docs/)."""

from __future__ import annotations

import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command
from drf_spectacular.validation import validate_schema
from rest_framework.serializers import Serializer

from orders.api import CargoLineSerializer
from orders.api import OrderSerializer as OrderOutputSerializer
from orders.api_docs import ORDER_REQUEST_EXAMPLE
from orders.api_input import CargoLineInputSerializer, OrderInputSerializer
from orders.intake import LINE_FIELDS, ORDER_FIELDS, validate_order
from partners.scoping import scope_for_user

ORDER_PATHS = (
    "/api/v1/orders/",
    "/api/v1/orders/{reference}/",
    "/api/v1/orders/{reference}/submit/",
    "/api/v1/orders/{reference}/cancel/",
)


def operations(schema: dict, paths: tuple[str, ...] | None = None):
    for path, methods in schema["paths"].items():
        if paths is None or path in paths:
            for method, operation in methods.items():
                yield path, method, operation


def test_the_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)  # raises on any violation of the OpenAPI 3 JSON schema


def test_spectacular_validates_without_warnings(tmp_path, db):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/api/v1/orders/{reference}/submit/" in yaml.safe_load(out.read_text())["paths"]


def test_every_order_endpoint_is_documented(schema):
    documented = {(path, method) for path, method, _ in operations(schema)}
    assert {
        ("/api/v1/orders/", "get"),
        ("/api/v1/orders/", "post"),
        ("/api/v1/orders/{reference}/", "get"),
        ("/api/v1/orders/{reference}/", "put"),
        ("/api/v1/orders/{reference}/", "patch"),
        ("/api/v1/orders/{reference}/submit/", "post"),
        ("/api/v1/orders/{reference}/cancel/", "post"),
    } <= documented


def test_every_operation_answers_errors_in_the_one_error_shape(schema):
    error_ref = "#/components/schemas/ApiError"
    for path, method, operation in operations(schema):
        codes = {code for code in operation["responses"] if code.startswith("4")}
        # signed webhooks authenticate by their signature (their own 401) and are not throttled per API key
        expected = {"401"} if "/webhooks/" in path else {"401", "403", "429"}
        assert expected <= codes, (path, method)
        for code in codes:
            content = operation["responses"][code]["content"]["application/json"]
            assert content["schema"] == {"$ref": error_ref}, (path, method, code)
    error = schema["components"]["schemas"]["ErrorDetail"]
    assert set(error["properties"]) == {"code", "message", "fields"}


def test_order_operations_have_examples_and_bearer_auth(schema):
    for path, method, operation in operations(schema, ORDER_PATHS):
        assert {"ApiKey": []} in operation["security"], (path, method)
        success = next(code for code in operation["responses"] if code.startswith("2"))
        assert operation["responses"][success]["content"]["application/json"].get("examples") or method == "get"
        if method in ("post", "put", "patch") and operation.get("requestBody"):
            assert operation["requestBody"]["content"]["application/json"].get("examples"), (path, method)
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"


def test_posts_document_the_idempotency_key_header(schema):
    for path, method, operation in operations(schema, ORDER_PATHS):
        if method == "post":
            headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
            assert headers == ["Idempotency-Key"], path
            assert {"409", "422"} <= set(operation["responses"]), path


def test_edits_document_if_match_the_etag_and_the_412(schema):
    detail = schema["paths"]["/api/v1/orders/{reference}/"]
    for method in ("put", "patch"):
        operation = detail[method]
        headers = [p for p in operation["parameters"] if p["in"] == "header"]
        assert [h["name"] for h in headers] == ["If-Match"], method
        assert not headers[0].get("required")  # optional: clients without it work as before
        failed = operation["responses"]["412"]["content"]["application/json"]
        assert failed["schema"] == {"$ref": "#/components/schemas/ApiError"}
        assert next(iter(failed["examples"].values()))["value"]["error"]["code"] == "precondition_failed"
    for method in ("get", "put", "patch"):
        assert set(detail[method]["responses"]["200"]["headers"]) == {"ETag"}, method
        assert "headers" not in detail[method]["responses"]["404"], method
    # Every answer that is an order carries its version: creation and transitions too.
    assert set(schema["paths"]["/api/v1/orders/"]["post"]["responses"]["201"]["headers"]) == {"ETag"}
    for action in ("submit", "cancel"):
        assert set(
            schema["paths"][f"/api/v1/orders/{{reference}}/{action}/"]["post"]["responses"]["200"]["headers"]
        ) == {"ETag"}


def test_the_transition_endpoint_documents_its_idempotency_key_400_and_422(schema):
    operation = schema["paths"]["/api/v1/orders/{reference}/{transition}/"]["post"]
    headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
    assert headers == ["Idempotency-Key"]
    assert {"400", "409", "422"} <= set(operation["responses"])
    bad = operation["responses"]["400"]["content"]["application/json"]["examples"]["NoReason"]["value"]
    assert bad["error"]["fields"] == {"reason": ["This field is required."]}


@pytest.mark.parametrize("path", ["/api/v1/orders/", "/api/v1/tasks/"])
def test_lists_document_the_400_of_a_bad_filter(schema, path):
    assert schema["paths"][path]["get"]["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ApiError"
    }


def test_every_write_documents_413_and_415_and_takes_json_only(schema):
    for path, method, operation in operations(schema):
        if method in ("post", "put", "patch"):
            assert {"400", "413", "415"} <= set(operation["responses"]), (path, method)
            if "requestBody" in operation:  # forms only where a file is uploaded
                expected = ["multipart/form-data"] if path == "/api/v1/order-imports/" else ["application/json"]
                assert list(operation["requestBody"]["content"]) == expected, path


def test_the_schema_is_served_as_yaml_and_json(client, db):
    assert client.get("/api/schema/").content.startswith(b"openapi: 3")
    assert client.get("/api/schema/?format=json").json()["openapi"].startswith("3.")


def test_list_documents_its_filters_and_cursor(schema):
    parameters = {p["name"] for p in schema["paths"]["/api/v1/orders/"]["get"]["parameters"]}
    assert {"status", "customer_code", "mode", "origin", "destination", "customer_reference"} <= parameters
    assert {"created_after", "created_before", "cursor", "page_size"} <= parameters


def test_the_api_speaks_the_whole_intake_vocabulary():
    serializer: type[Serializer]
    for serializer in (OrderInputSerializer, OrderOutputSerializer):
        assert set(ORDER_FIELDS) <= set(serializer().fields), serializer
    for serializer in (CargoLineInputSerializer, CargoLineSerializer):
        assert set(LINE_FIELDS) <= set(serializer().fields), serializer


def test_the_documented_request_example_is_a_valid_order(ops_user, customer_a, locations):
    clean, errors = validate_order({**ORDER_REQUEST_EXAMPLE, "customer_code": "ACME"}, scope=scope_for_user(ops_user))

    assert errors == {}
    assert clean is not None


def test_the_docs_page_loads_swagger_ui_from_our_own_static_files(client, db):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "SwaggerUIBundle" in html
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html, re.IGNORECASE), "no CDN or external URL"
    assert '"validatorUrl": null' in html
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert scripts
    for src in scripts:
        assert src.startswith("/static/drf_spectacular_sidecar/"), src
        assert finders.find(src.removeprefix("/static/")), f"{src} is not among our static files"
