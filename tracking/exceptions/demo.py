"""Demo exceptions (seed_demo, after the tracking demo and the replay of the simulated carrier's due steps): the
default rules, plus customer rules that show per-customer thresholds (ACME: customs holds are critical and ACME is
emailed; GLOBEX: air ETA slips matter after 3 h), then one scan, so the inbox has what the demo shipments' plans and
the carrier's reports say now. Idempotent.

The exceptions that scan opens are the intended ones, and only they:

- "Rolled booking": the transpacific FCL booking the carrier rolled a week (tracking.demo's fifth scenario);
- "Missed cut-off": the Hamburg-Singapore LCL box whose cargo was not at the CFS by the cut-off (the sixth); it
  resolves itself when the carrier reports the cargo received, tomorrow evening;
- "ETA slipped": a travelling shipment the simulated carrier runs late (a quarter of them, by a hash of the
  reference) whose new estimate is later than the plan by more than the rule's threshold;
- "Customs hold": a shipment the simulated carrier holds at destination (a fifth of them, by the same hash) whose
  release has not come yet; the order is on hold until it does ("Customs hold stops the order");
- "Milestone overdue", only for a late shipment's arrival: a shipment the carrier runs late whose planned arrival has
  passed (the truck of tracking.demo due today, late, seeded in the evening). No departure is overdue: every step
  the carrier had due is sent before the scan (seed_demo), so nothing opens to resolve itself a minute later.

From then on nothing is seeded: the simulated carrier's late shipments (an ETA that slips, an arrival that
follows it) and customs holds open exceptions as their events arrive, and close them when the release or the
late milestone comes (tracking.exceptions.receivers → tasks.detect_exceptions). The scenes of tracking.ingest.demo
do so in the first twenty minutes: a customs hold and its release, a pickup and an arrival overdue (opened by the
periodic scan) until the truck collects and the flight lands.
"""

from __future__ import annotations

from decimal import Decimal

from partners.models import Organisation
from tracking.exceptions.defaults import seed_default_rules
from tracking.exceptions.models import ExceptionKind, ExceptionRule, Severity
from tracking.exceptions.services import detection

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
    scan = detection.exceptions_scan()
    return {"rules": made, "opened": scan.opened if scan else 0}
