"""Flight numbers are checked beside the other identifiers (orders.identifiers), so the planning forms and the Leg
model's validator refuse the same things in the same words."""

from __future__ import annotations

import pytest

from orders import identifiers


@pytest.mark.parametrize(
    ("typed", "kept"),
    [("LH8210", "LH8210"), ("lh 8210", "LH8210"), ("LH-8210A", "LH8210A"), ("U2 123", "U2123"), ("DLH 8", "DLH8")],
)
def test_a_flight_number_passes_and_is_written_compact(typed, kept):
    assert identifiers.flight_number_problem(typed) is None
    assert identifiers.normalize_flight_number(typed) == kept


@pytest.mark.parametrize("typed", ["LH 8210 XX", "LH82101", "8210", "12 345", "LH", "DLHX 8210"])
def test_what_is_no_flight_number_is_told_what_one_looks_like(typed):
    problem = identifiers.flight_number_problem(typed)

    assert problem is not None
    assert problem.startswith(f"{typed} is not a flight number")
    assert "e.g. LH8210" in problem
