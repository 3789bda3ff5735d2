"""Create the demo data set (idempotent): organisations, logins and, as apps grow, their data.

The story it tells is one a real team could have produced, through the real services only: orders come in (drafts,
submitted, some cancelled), the sales desk confirms most; planning books some with carriers (the carrier's
confirmation completes the booking task and plans them), and the team has done the pre-departure work (export
declaration, shipping instructions, house waybill, pickup check) of every order whose goods leave by tomorrow
(workflows.demo.seed_work_done), so when the simulated carrier reports the departure the order moves on. No order's
page says "The milestones are ahead of the order". Orders shown waiting on purpose: submitted ones in the sales
inbox, confirmed ones whose booking task waits for a carrier (one FCL booking sent and not answered yet), planned ones
whose departure is days away with their documents to do, in-transit ones with the house bill and pre-alert to send,
and whatever the simulated carrier reports late or held by customs (an exception, and a hold the release lifts)."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from orders.demo import seed_orders
from partners.demo import LOGINS, seed_partners
from tracking.demo import seed_planning
from tracking.exceptions.demo import seed_exceptions_demo
from tracking.ingest.demo import seed_tracking_demo
from workflows.demo import seed_work_done, seed_workflows
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
        # What the team has done by the time the goods leave, so the carrier's departure moves the orders on.
        self.stdout.write(f"Work done before departure: {seed_work_done()} tasks completed.")
        seed_exception_automation()
        self.stdout.write(f"Exceptions: {seed_exceptions_demo()}")
        self.stdout.write(self.style.SUCCESS("Demo data ready. Logins:"))
        for email, _name, code, roles in LOGINS:
            self.stdout.write(f"  {email:<24} {', '.join(roles):<14} {code}")
