"""The API's one request parser (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]): JSON. Views that take files
(the order-imports upload) name their own parsers; the signed webhooks read their raw bodies themselves."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, parsers


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, which turns the ValueError of a body that is not JSON into 400 parse_error. JSON nested
    deeper than Python's json can follow (a few thousand `[`) raises RecursionError instead, which DRF lets
    through as a 500: here it is a parse_error like any other body we cannot read."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - the body is nested too deeply.") from None
