"""Demo exceptions (seed_demo, after the tracking demo): the default rules, plus customer rules that show
per-customer thresholds (ACME: customs holds are critical and ACME is emailed; GLOBEX: air ETA slips matter
after 3 h), then one scan so the inbox has what the demo shipments' plans already say. Idempotent.

From then on nothing is seeded: the simulated carrier's late shipments (an ETA that slips, an arrival that
follows it) and customs holds open exceptions as their events arrive, and close them when the release or the
late milestone comes (tracking.exceptions.receivers → tasks.detect_exceptions).
"""

from __future__ import annotations

from decimal import Decimal

from partners.models import Organisation
from tracking.exceptions import services
from tracking.exceptions.defaults import seed_default_rules
from tracking.exceptions.models import ExceptionKind, ExceptionRule, Severity

CUSTOMER_RULES = (
    ("ACME", ExceptionKind.CUSTOMS_HOLD, "", "0", Severity.CRITICAL, True, "ACME contract: customs holds escalate."),
    ("GLOBEX", ExceptionKind.ETA_DELAY, "air", "3", Severity.HIGH, False, "GLOBEX SLA: air within 3 h of plan."),
)


def seed_exceptions_demo() -> dict[str, int]:
    made = seed_default_rules(ExceptionRule)
    customers = Organisation.objects.in_bulk([row[0] for row in CUSTOMER_RULES], field_name="code")
    for code, kind, mode, hours, severity, notify, note in CUSTOMER_RULES:
        if code in customers:
            _, created = ExceptionRule.objects.get_or_create(
                kind=kind, mode=mode, customer=customers[code],
                defaults={"threshold_hours": Decimal(hours), "severity": severity, "notify_customer": notify,
                          "note": note},
            )  # fmt: skip
            made += created
    scan = services.exceptions_scan()
    return {"rules": made, "opened": scan.opened if scan else 0}
