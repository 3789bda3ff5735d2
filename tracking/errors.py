"""Domain errors of planning. Interfaces turn them into form errors, messages or HTTP codes."""

from __future__ import annotations


class PlanningError(Exception):
    """Something asked of a shipment, leg or booking cannot be done; the message says why."""


class ConsolidationError(PlanningError):
    """A house cannot join or leave a master (lane, mode, state, or already on another master)."""


class CapacityError(ConsolidationError):
    """The cargo does not fit the containers: every problem is listed in `problems`."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(" ".join(problems))


class BookingError(PlanningError):
    """A booking cannot move to the state asked for."""


class AdapterError(BookingError):
    """The carrier adapter could not deliver the booking request (SMTP down, carrier API error…)."""
