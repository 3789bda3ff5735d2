"""Which carrier reports open or close an exception, and our canonical reason for each (DOMAIN.md §5).

Holds, attempts and returns arrive as milestones (CUSTOMS_HOLD, DELIVERY_ATTEMPTED, RETURNED_TO_SENDER, mapped
by tracking/ingest's rules); the raw code tells a customs hold from a carrier's hold for documents or payment.
Damage is not a milestone: it is recognised by the raw code (stored even when it maps to nothing).
Raw codes are compared as stored: upper case, composite codes joined by ':'.
"""

from __future__ import annotations

from tracking.exceptions.models import ExceptionKind

HOLD = "CUSTOMS_HOLD"
ATTEMPT = "DELIVERY_ATTEMPTED"
RETURNED = "RETURNED_TO_SENDER"
DELIVERED = "DELIVERED"

# What clears each hold: a release, or the goods moving on past it.
CLEARS: dict[str, frozenset[str]] = {
    ExceptionKind.CUSTOMS_HOLD: frozenset(
        {"IMPORT_CLEARED", "EXPORT_CLEARED", "AVAILABLE", "OUT_FOR_DELIVERY", DELIVERED}
    ),
    ExceptionKind.CARRIER_HOLD: frozenset({"AVAILABLE", "OUT_FOR_DELIVERY", DELIVERED}),
    ExceptionKind.FAILED_DELIVERY: frozenset({DELIVERED}),
}
# The cargo reached the terminal (or went further): a cargo cut-off is no longer at risk.
AT_TERMINAL = frozenset({"RECEIVED_AT_ORIGIN", "LOADED", "DEPARTED"})

# Carrier holds (documents, payment) reported under the CUSTOMS_HOLD milestone, by raw code or X12 reason.
CARRIER_HOLD_CODES = {
    "SHIPMENT:SRM:HOLD": "carrier_release_withheld",
}
CARRIER_HOLD_REASONS = {"B4": "payment_hold", "C2": "credit_hold"}  # X12 AT7-02 status reasons
CUSTOMS_REASONS = {"EQUIPMENT:INSP:LADEN": "customs_inspection", "TGC": "customs_inspection", "DIS": "discrepancy"}

# Damage reports: (scheme, raw code) → canonical reason.
DAMAGE_CODES = {
    ("x12_214", "A9"): "damaged",
    ("edifact", "18"): "damaged",
    ("karrio", "CARRIER_DAMAGED_PARCEL"): "damaged_parcel",
    ("oms", "DAMAGED"): "damaged",
}

SIGNAL_MILESTONES = frozenset({HOLD, ATTEMPT, RETURNED, *AT_TERMINAL, *(code for c in CLEARS.values() for code in c)})
SIGNAL_CODES = frozenset(code for _, code in DAMAGE_CODES)


def hold_kind(raw_code: str) -> tuple[str, str]:
    """A CUSTOMS_HOLD event: a customs hold or a carrier's hold, and our reason code."""
    if raw_code in CARRIER_HOLD_CODES:
        return ExceptionKind.CARRIER_HOLD, CARRIER_HOLD_CODES[raw_code]
    reason = raw_code.rpartition(":")[2]
    if ":" in raw_code and reason in CARRIER_HOLD_REASONS:
        return ExceptionKind.CARRIER_HOLD, CARRIER_HOLD_REASONS[reason]
    return ExceptionKind.CUSTOMS_HOLD, CUSTOMS_REASONS.get(raw_code, "customs_hold")


def damage_reason(scheme: str, raw_code: str) -> str | None:
    return DAMAGE_CODES.get((scheme, raw_code))
