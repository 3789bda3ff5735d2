"""The examples the OpenAPI schema (/api/schema/) documents are valid against the schemas they illustrate."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema


def _as_json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema object as JSON Schema: `nullable: true` becomes a null alternative."""
    if isinstance(node, list):
        return [_as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _as_json_schema(value) for key, value in node.items() if key != "nullable"}
    return {"anyOf": [converted, {"type": "null"}]} if node.get("nullable") else converted


def _examples(schema: dict) -> Iterator[tuple[str, dict, Any]]:
    """(where, the schema it illustrates, value) of every example of a request or a response body."""
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            bodies = [("request", operation.get("requestBody", {}))]
            bodies += [(status, response) for status, response in operation["responses"].items()]
            for what, body in bodies:
                for media, content in (body.get("content") or {}).items():
                    for name, example in (content.get("examples") or {}).items():
                        yield f"{method.upper()} {path} {what} {media} “{name}”", content["schema"], example["value"]


def test_every_documented_example_is_valid_against_its_own_schema(schema):
    """Swagger UI's "Example Value" and a client generated from the schema must be able to read the examples. The
    order-import examples lacked `file_deleted_at`, which ImportJobOutput requires and every real job carries."""
    components = {"components": {"schemas": _as_json_schema(schema["components"]["schemas"])}}
    examples = list(_examples(schema))
    wrong = [
        f"{where}: {'/'.join(map(str, error.absolute_path))}: {error.message}"
        for where, illustrated, value in examples
        for error in jsonschema.Draft202012Validator({**components, **_as_json_schema(illustrated)}).iter_errors(value)
    ]
    assert wrong == []
    assert any(" /api/v1/order-imports/ " in where for where, _, _ in examples)  # the check reads them
