"""Cursor pagination for the API's lists, newest first (the orders list, the order-imports list)."""

from __future__ import annotations

import datetime
from base64 import b64decode, b64encode
from typing import Any, NamedTuple, cast
from urllib import parse

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan  # (a, b) < (x, y)
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.utils.urls import replace_query_param


class _KeyCursor(NamedTuple):
    reverse: bool  # the rows before the key (a `previous` link), instead of after it
    key: list[str]  # the whole sort key, as text, of the row the page starts after


class NewestFirstPagination(CursorPagination):
    """Newest first. A cursor, not a page number, so deep pages stay as fast as the first and no COUNT runs.

    The cursor carries the whole sort key of the row a page ends at (starts at, for `previous`), and the page
    is the rows after it by one row comparison, `(created_at, id) < (%s, %s)`, which the index seeks to. DRF's
    own cursor carries the first column only, plus an offset among the rows that share it, capped at 1,000: an
    import writes one created_at for all its orders, and past 1,000 of them `next` named the same page forever.
    The key ends with the id, so it is unique and no offset is needed. The order-imports list pages with it too.
    """

    ordering: tuple[str, ...] = ("-created_at", "-id")  # one direction for all: whole rows are compared
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100

    def paginate_queryset(  # type: ignore[override]  # a keyset needs a QuerySet, not any sequence
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any]:
        self.request = request
        self.base_url = request.build_absolute_uri()
        size = cast(int, self.get_page_size(request))  # never None: page_size is set
        cursor = self._decode(request)
        backwards = cursor is not None and cursor.reverse
        flipped = tuple(name[1:] if name.startswith("-") else f"-{name}" for name in self.ordering)
        ordering = flipped if backwards else self.ordering
        queryset = queryset.order_by(*ordering)
        self.cursor_key = None if cursor is None else self._key_values(queryset.model, cursor.key)
        if self.cursor_key is not None:
            row = Tuple(*(F(name.lstrip("-")) for name in ordering))
            after = TupleLessThan if ordering[0].startswith("-") else TupleGreaterThan
            queryset = queryset.filter(after(row, self.cursor_key))
        rows = list(queryset[: size + 1])
        more = len(rows) > size
        self.page = rows[:size]
        if backwards:
            self.page.reverse()
        # A `previous` cursor was made from a row of a later page, so there is always a next one after it.
        self.has_next = True if backwards else more
        self.has_previous = more if backwards else self.cursor_key is not None
        return self.page

    def _decode(self, request: Request) -> _KeyCursor | None:
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            tokens = parse.parse_qs(b64decode(encoded.encode("ascii")).decode("ascii"), keep_blank_values=True)
            reverse = bool(int(tokens.pop("r", ["0"])[0]))
        except (TypeError, ValueError):  # binascii.Error and UnicodeDecodeError are ValueErrors
            raise exceptions.NotFound(self.invalid_cursor_message) from None
        key = tokens.pop("p", [])
        if tokens or len(key) != len(self.ordering):  # e.g. DRF's own cursor (created_at and an offset)
            raise exceptions.NotFound(self.invalid_cursor_message)
        return _KeyCursor(reverse, key)

    def _key_values(self, model: type[Any], key: list[str]) -> tuple[Any, ...]:
        """The cursor's key as values of the ordering's columns; a key they cannot hold is a 404."""
        values = []
        for name, text in zip(self.ordering, key, strict=True):
            try:
                value = model._meta.get_field(name.lstrip("-")).to_python(text)
            except (DjangoValidationError, ValueError, TypeError, OverflowError):
                raise exceptions.NotFound(self.invalid_cursor_message) from None
            if isinstance(value, datetime.datetime) and timezone.is_naive(value):
                raise exceptions.NotFound(self.invalid_cursor_message)  # ours always carry their offset
            values.append(value)
        return tuple(values)

    def _link(self, edge: int, *, reverse: bool) -> str:
        """The link to the rows after (`reverse`: before) the page's row at `edge`; an empty page (a cursor past
        the end, or rows deleted meanwhile) links from its own cursor's key."""
        if self.page:
            values = tuple(getattr(self.page[edge], name.lstrip("-")) for name in self.ordering)
        else:
            values = self.cursor_key or ()
        tokens = {"r": "1"} if reverse else {}
        key = [value.isoformat() if isinstance(value, datetime.datetime) else str(value) for value in values]
        encoded = b64encode(parse.urlencode({**tokens, "p": key}, doseq=True).encode("ascii")).decode("ascii")
        return replace_query_param(self.base_url or "", self.cursor_query_param, encoded)

    def get_next_link(self) -> str | None:
        return self._link(-1, reverse=False) if self.has_next else None

    def get_previous_link(self) -> str | None:
        return self._link(0, reverse=True) if self.has_previous else None


# --- Schema examples -----------------------------------------------------------------------------

# The one error shape (oms/api_errors.py) is registered as this component by the project's AutoSchema,
# which adds it to every operation; referring to it by name keeps orders free of imports from oms.
