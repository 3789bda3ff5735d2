"""Domain errors of the orders app. Interfaces turn them into form errors, messages or HTTP codes."""

from __future__ import annotations

import datetime


class OrderError(Exception):
    """Something asked of an order cannot be done; the message says why."""


class OrderValidationError(OrderError):
    """The order data has errors: `errors` maps each field to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        count = sum(len(messages) for messages in errors.values())
        super().__init__(f"The order has {count} error{'s' if count != 1 else ''}.")


class TransitionNotAllowed(OrderError):
    """The transition cannot be taken now (wrong state, a guard, or no permission)."""


class ConcurrentChange(TransitionNotAllowed):
    """The order changed between the moment the user saw it and the moment they acted."""


class OrderVersionConflict(OrderError):
    """The order was saved by someone else after the caller read it: saving now would silently overwrite that
    change (a lost update). `current_version` is the order's version now; `changed_at` is when it was saved and
    `changed_by` by whom, as far as the history tells (None when it cannot)."""

    def __init__(
        self, message: str, *, current_version: str, changed_at: datetime.datetime, changed_by: str | None
    ) -> None:
        super().__init__(message)
        self.current_version = current_version
        self.changed_at = changed_at
        self.changed_by = changed_by
