"""The rules a new installation starts with (seeded by migration 0004, edited in the console afterwards).

Thresholds follow DOMAIN.md §5: a slip matters after 24 h at sea, 6 h by air, 2 h by road; silence is
normal for days at sea (no events between ports) but not on a truck or a parcel. Holds, damage, failed
deliveries and returns open at once. Cargo cut-offs are checked for ocean, air and rail bookings.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

K_OVERDUE, K_ETA, K_SILENT = "milestone_overdue", "eta_delay", "no_movement"
LOW, MEDIUM, HIGH, CRITICAL = 1, 2, 3, 4

# kind, mode ("" = any), threshold hours, severity, note
DEFAULT_RULES: tuple[tuple[str, str, str, int, str], ...] = (
    (K_OVERDUE, "", "12", MEDIUM, "Any mode without its own rule."),
    (K_OVERDUE, "ocean_fcl", "24", MEDIUM, "DOMAIN.md §5: 24 h at sea."),
    (K_OVERDUE, "ocean_lcl", "24", MEDIUM, "DOMAIN.md §5: 24 h at sea."),
    (K_OVERDUE, "rail", "24", MEDIUM, ""),
    (K_OVERDUE, "air", "6", HIGH, "DOMAIN.md §5: 6 h by air."),
    (K_OVERDUE, "road_ftl", "2", HIGH, "DOMAIN.md §5: 2 h by road."),
    (K_OVERDUE, "road_ltl", "4", MEDIUM, ""),
    (K_OVERDUE, "parcel", "12", LOW, ""),
    (K_ETA, "", "24", MEDIUM, "Any mode without its own rule."),
    (K_ETA, "ocean_fcl", "24", MEDIUM, ""),
    (K_ETA, "ocean_lcl", "24", MEDIUM, ""),
    (K_ETA, "air", "6", HIGH, ""),
    (K_ETA, "road_ftl", "2", MEDIUM, ""),
    (K_ETA, "road_ltl", "4", MEDIUM, ""),
    (K_ETA, "parcel", "12", LOW, ""),
    (K_SILENT, "", "72", MEDIUM, "Any mode without its own rule."),
    (K_SILENT, "ocean_fcl", "240", LOW, "Nothing is reported between ports for days."),
    (K_SILENT, "ocean_lcl", "240", LOW, "Nothing is reported between ports for days."),
    (K_SILENT, "rail", "120", LOW, ""),
    (K_SILENT, "air", "24", MEDIUM, ""),
    (K_SILENT, "road_ftl", "24", MEDIUM, ""),
    (K_SILENT, "road_ltl", "36", MEDIUM, ""),
    (K_SILENT, "parcel", "72", MEDIUM, "DOMAIN.md §5: more than 72 h in transit."),
    ("customs_hold", "", "0", HIGH, ""),
    ("carrier_hold", "", "0", HIGH, "Unpaid freight, missing documents."),
    ("damage", "", "0", HIGH, "Claims have deadlines (CMR Art. 30: 7 days for hidden damage)."),
    ("failed_delivery", "", "0", MEDIUM, ""),
    ("returned_to_sender", "", "0", HIGH, ""),
    ("rolled_booking", "", "0", MEDIUM, "Any roll."),
    ("missed_cutoff", "ocean_fcl", "0", HIGH, ""),
    ("missed_cutoff", "ocean_lcl", "0", HIGH, ""),
    ("missed_cutoff", "air", "0", HIGH, ""),
    ("missed_cutoff", "rail", "0", HIGH, ""),
)


def seed_default_rules(rule_model: Any) -> int:
    """Create the default rules that are missing (generic ones: no customer); returns how many were made."""
    existing = set(rule_model.objects.filter(customer__isnull=True).values_list("kind", "mode"))
    rows = [
        rule_model(kind=kind, mode=mode, threshold_hours=Decimal(hours), severity=severity, note=note)
        for kind, mode, hours, severity, note in DEFAULT_RULES
        if (kind, mode) not in existing
    ]
    rule_model.objects.bulk_create(rows)
    return len(rows)
