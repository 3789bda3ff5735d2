"""Create the demo data set (idempotent): organisations, logins and, as apps grow, their data."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from orders.demo import seed_orders
from partners.demo import LOGINS, seed_partners
from tracking.demo import seed_planning
from tracking.exceptions.demo import seed_exceptions_demo
from tracking.ingest.demo import seed_tracking_demo
from workflows.demo import seed_workflows
from workflows.models import ActionKind, Rule, RuleAction, RuleEvent, TeamFunction
from workflows.services import queued_transitions_drain


def seed_exception_automation() -> None:
    """The automation rule that turns every exception into a task for operations with a 4-hour SLA (tracking
    cannot name workflows' rules; the demo wires the two here)."""
    rule, created = Rule.objects.get_or_create(
        name="Exception opened: task for operations", defaults={"event": RuleEvent.EXCEPTION_OPENED, "event_value": ""}
    )
    if created:
        RuleAction.objects.create(
            rule=rule, kind=ActionKind.CREATE_TASK, task_name="Handle the exception", due_in_hours=4,
            team_function=TeamFunction.OPERATIONS,
            message="Open the exception from the order page: acknowledge it, call the carrier, note what was done.",
        )  # fmt: skip


class Command(BaseCommand):
    help = "Create demo organisations and logins (password from OMS_DEMO_PASSWORD, default 'demo')."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--password", default=None, help="Password for every demo login.")

    def handle(self, *args: Any, **options: Any) -> None:
        password = options["password"] or settings.OMS_DEMO_PASSWORD
        if not settings.DEBUG and password == "demo":  # noqa: S105
            raise CommandError(
                "Refusing the default demo password in production mode (DEBUG=false): "
                "set OMS_DEMO_PASSWORD or pass --password."
            )
        seed_partners(password=password)
        created = seed_orders()
        # The demo's API and file orders are queued for the workflow worker; handle them here, so the demo
        # is whole whether or not a worker runs yet.
        handled = queued_transitions_drain()
        self.stdout.write(f"Orders: {created} created ({handled} queued transitions handled).")
        self.stdout.write(f"Workflows: {seed_workflows(password=password)}")
        self.stdout.write(f"Planning: {seed_planning()} demo shipments.")
        self.stdout.write(f"Tracking: {seed_tracking_demo()}")
        seed_exception_automation()
        self.stdout.write(f"Exceptions: {seed_exceptions_demo()}")
        self.stdout.write(self.style.SUCCESS("Demo data ready. Logins:"))
        for email, _name, code, roles in LOGINS:
            self.stdout.write(f"  {email:<24} {', '.join(roles):<14} {code}")
