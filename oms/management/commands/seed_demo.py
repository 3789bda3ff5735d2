"""Create the demo data set (idempotent): organisations, logins and, as apps grow, their data.

The story it tells is one a real team could have produced, through the real services only: orders come in (drafts,
submitted, some cancelled), the sales desk confirms most; planning books some with carriers (the carrier's
confirmation completes the booking task and plans them). The requested pickups say what happened: every order whose
pickup has passed was shipped (or cancelled), every other open order asks for a pickup from tomorrow on (orders.demo).
Then the simulated carrier's steps already due are replayed (tracking.ingest.demo.carrier_replay), as its ticks would
have sent them over the weeks the shipments travelled, and the team's work done by each point (workflows.demo.
seed_work_done: pre-departure work of the orders leaving by tomorrow, the house bill and pre-alert of the goods that
arrived, customs and delivery of those that arrived half a day ago, the proof of delivery and "Complete" of those
delivered days ago), until the orders stand where the carrier says: some in transit, two arrived, two delivered,
three completed. No order's page says "The milestones are ahead of the order". Invoiced stays at 0: the app records
an invoice made elsewhere ("Mark invoiced", finance) but makes none, so the completed orders wait on finance's
"Invoice the customer" task. Last, the services' timestamps of the orders whose goods moved (stamped with the seed's
time) are moved back to when they would have happened, so each order page reads taken, confirmed, planned, booked,
then picked up, departed… (oms.demo_clock).

Shown waiting on purpose: submitted orders in the sales inbox; confirmed ones whose booking task waits for a carrier
(one FCL booking sent and not answered yet); the three the team is late with (orders.demo.LATE: "Book container
space…" with its shipping instructions, "Book the flight…", "Book transport…", pickups one to three days ago: the
inbox's overdue examples); planned ones whose departure is days away with their documents to do; in-transit ones
with the house bill and pre-alert to send; arrived ones waiting for customs and the haulier, delivered ones for
their proof of delivery. The exceptions the seed's scan opens (tracking.exceptions.demo) are only the intended ones:
the rolled booking, the LCL box whose cargo missed its cut-off, and what the simulated carrier reports late (an ETA
that slipped) or held by customs (an exception, and a hold the release lifts)."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from oms.demo_clock import demo_history_age
from orders.demo import seed_orders
from partners.demo import LOGINS, seed_partners
from tracking.demo import seed_planning
from tracking.exceptions.demo import seed_exceptions_demo
from tracking.ingest import remapping
from tracking.ingest.demo import carrier_replay, seed_tracking_demo
from workflows.demo import seed_notifications_read, seed_work_done, seed_workflows
from workflows.models import ActionKind, Rule, RuleAction, RuleEvent, TeamFunction
from workflows.services import queued_transitions_drain
from workflows.services.milestones import tracking_records_drain

CATCH_UP_ROUNDS = 20  # each round: the carrier's due steps, the orders they move, the work done by then


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


def carrier_catch_up() -> tuple[int, int]:
    """The simulated carrier's steps due by now, and the team's work done by each point, until neither moves: the
    workflow's queues drained and the orders caught up after each replay, as the worker and the beat would a moment
    later (an order the carrier delivered after the team cleared its customs moves on then). Returns the steps sent
    and the tasks and orders completed. Run before the exception scan, so the scan sees what the carrier said."""
    steps = work = 0
    for _ in range(CATCH_UP_ROUNDS):
        sent = carrier_replay()
        queued_transitions_drain()
        tracking_records_drain()
        remapping.orders_catch_up()
        queued_transitions_drain()
        done = seed_work_done()
        queued_transitions_drain()
        remapping.orders_catch_up()
        queued_transitions_drain()
        steps, work = steps + sent, work + done
        if not sent and not done:
            break
    return steps, work


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
        started = timezone.now()
        seed_partners(password=password)
        created = seed_orders()
        # The demo's API and file orders are queued for the workflow worker; handle them here, so the demo
        # is whole whether or not a worker runs yet.
        handled = queued_transitions_drain()
        self.stdout.write(f"Orders: {created} created ({handled} queued transitions handled).")
        self.stdout.write(f"Workflows: {seed_workflows(password=password)}")
        planning_started = timezone.now()
        self.stdout.write(f"Planning: {seed_planning()} demo shipments.")
        self.stdout.write(f"Tracking: {seed_tracking_demo()}")
        # What the team has done by the time the goods leave, so the carrier's departure moves the orders on; then
        # what the carrier has reported by now, and the team's work by each point, before the exception scan.
        self.stdout.write(f"Work done before departure: {seed_work_done()} tasks completed.")
        steps, work = carrier_catch_up()
        self.stdout.write(f"Carrier: {steps} steps already due sent; {work} more tasks and orders completed.")
        seed_exception_automation()
        self.stdout.write(f"Exceptions: {seed_exceptions_demo()}")
        self.stdout.write(f"Notifications: {seed_notifications_read(since=started)} of the seeding's marked read.")
        # Last: the services stamped the seed's time; the orders that moved get theirs back (oms.demo_clock).
        aged = demo_history_age(started=started, planning_started=planning_started)
        self.stdout.write(f"History: {aged} orders' service times moved back before their goods moved.")
        self.stdout.write(self.style.SUCCESS("Demo data ready. Logins:"))
        for email, _name, code, roles in LOGINS:
            self.stdout.write(f"  {email:<24} {', '.join(roles):<14} {code}")
