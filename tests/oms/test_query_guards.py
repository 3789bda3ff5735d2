"""Query guards: the console lists, the staff home, search and the caller's identity cost as many queries with many
rows as with a few. Each is read after a few rows of varied content, then again after several times more, and must
run the same number of queries, under a fixed ceiling for the larger case (STYLE.md, Tests)."""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from orders.models import ImportJob, Integration, Location, Mode, Order, OrderStatus, WebhookDelivery
from partners.models import Membership, Organisation, OrganisationKind, Role, User
from tests.tracking.conftest import make_order, ops_scope
from tests.tracking.test_admin_names import _master, _place
from tracking.exceptions.models import ExceptionScan
from tracking.ingest.models import (
    AdapterKind,
    CarrierEndpoint,
    Classifier,
    EtaHistory,
    EventUpload,
    Milestone,
    RejectedDelivery,
    WebhookSource,
)
from tracking.models import Shipment
from workflows.models import (
    AccountOwner,
    ActionKind,
    BranchCalendar,
    ConditionField,
    CustomerSettings,
    Notification,
    NotificationKind,
    OrderWorkflow,
    QueuedTrackingRecord,
    Rule,
    RuleAction,
    RuleCondition,
    RuleEvent,
    RuleRun,
    Task,
    Team,
    TeamFunction,
    TrackingRecordKind,
    VersionStatus,
    WorkflowTemplate,
    WorkflowVersion,
)

__all__ = ["make_order", "ops_scope"]

serial = itertools.count(1)


def _letters(n: int) -> str:
    """Three capital letters for `n` (codes of places and milestones are letters only)."""
    return "".join(chr(65 + n // 26**power % 26) for power in (2, 1, 0))


def _read(client: Any, url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, url
    return response


# --- The console's lists -------------------------------------------------------------------------------------------
# Rows are written in bulk, each naming its own organisations and people, so that a list reading a related row per
# row would show it; the lists only name them, and the services that write them for real are tested elsewhere.


def _organisations(kind: str, n: int) -> list[Organisation]:
    codes = [f"{kind[:3].upper()}{next(serial)}" for _ in range(n)]
    return Organisation.objects.bulk_create(
        Organisation(code=code, name=f"{code.title()} Ltd", kinds=[kind]) for code in codes
    )


def _staff(n: int) -> list[User]:
    """People of our branches, each of their own branch (rules, tasks and account owners name only staff)."""
    branches = _organisations(OrganisationKind.BRANCH, n)
    people = User.objects.bulk_create(User(email=f"staff{next(serial)}@oms.test", full_name="Staff") for _ in range(n))
    Membership.objects.bulk_create(
        Membership(user=user, organisation=branch, role=Role.OPERATIONS)
        for user, branch in zip(people, branches, strict=True)
    )
    return people


def _orders(n: int) -> list[Order]:
    """Submitted orders, each of its own customer, written directly: the lists only name them."""
    branch = Organisation.objects.get_or_create(code="HAM", defaults={"name": "OMS Hamburg", "kinds": ["branch"]})[0]
    origin, destination = (_place(code) for code in ("CNSHA", "DEHAM"))
    return Order.objects.bulk_create(
        Order(
            reference=f"HAM-26-{next(serial):06d}", customer=customer, customer_reference="PO-1", branch=branch,
            mode=Mode.OCEAN_LCL, origin=origin, destination=destination, requested_pickup_on=datetime.date(2026, 12, 1),
            status=OrderStatus.SUBMITTED,
        )
        for customer in _organisations(OrganisationKind.CUSTOMER, n)
    )  # fmt: skip


def _people(n: int) -> None:
    people = _staff(n)
    customers = _organisations(OrganisationKind.CUSTOMER, n)
    Membership.objects.bulk_create(
        Membership(user=user, organisation=customer, role=Role.CUSTOMER)
        for user, customer in zip(people, customers, strict=True)
    )


def _locations(n: int) -> None:
    codes = [f"ZZ{_letters(next(serial))}" for _ in range(n)]
    Location.objects.bulk_create(Location(code=code, country="ZZ", name=code, name_ascii=code) for code in codes)


def _import_jobs(n: int) -> None:
    customers, people = _organisations(OrganisationKind.CUSTOMER, n), _staff(n)
    ImportJob.objects.bulk_create(
        ImportJob(customer=customer, created_by=user, source="screen", file_name=f"{customer.code}.csv", rows_total=4)
        for customer, user in zip(customers, people, strict=True)
    )


def _webhook_deliveries(n: int) -> None:
    orders = _orders(n)
    integrations = Integration.objects.bulk_create(
        Integration(customer=order.customer, kind="generic", name=f"SAP {order.customer.code}", secret="s")
        for order in orders
    )
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(integration=integration, delivery_id=f"msg_{next(serial)}", outcome="created", status_code=201,
                        order=order)
        for integration, order in zip(integrations, orders, strict=True)
    )  # fmt: skip


def _scans(n: int) -> None:
    ExceptionScan.objects.bulk_create(
        ExceptionScan(finished_at=timezone.now(), cursor=next(serial), batches=1, shipments=3) for _ in range(n)
    )


def _milestones(n: int) -> None:
    codes = [f"EXTRA_{_letters(next(serial))}" for _ in range(n)]
    Milestone.objects.bulk_create(Milestone(code=code, name=code.title(), rank=900) for code in codes)


def _eta_history(n: int) -> None:
    departed, at = Milestone.objects.get(code="DEPARTED"), timezone.now()
    EtaHistory.objects.bulk_create(
        EtaHistory(
            shipment=_master(), order=order, milestone=departed, classifier=Classifier.ESTIMATED, estimated_at=at,
            previous_at=at - datetime.timedelta(days=1), reported_at=at, source="webhook:feed",
        )
        for order in _orders(n)
    )  # fmt: skip


def _endpoints(n: int) -> None:
    CarrierEndpoint.objects.bulk_create(
        CarrierEndpoint(carrier=carrier, kind=AdapterKind.SIMULATED)
        for carrier in _organisations(OrganisationKind.CARRIER, n)
    )


def _uploads(n: int) -> None:
    EventUpload.objects.bulk_create(
        EventUpload(uploaded_by=user, partner=partner, file_name="milestones.csv")
        for user, partner in zip(_staff(n), _organisations(OrganisationKind.CARRIER, n), strict=True)
    )


def _rejections(n: int) -> None:
    sources = WebhookSource.objects.bulk_create(
        WebhookSource(name=f"feed-{next(serial)}", carrier=carrier)
        for carrier in _organisations(OrganisationKind.CARRIER, n)
    )
    RejectedDelivery.objects.bulk_create(
        RejectedDelivery(webhook_source=source, status_code=400, reason="not JSON") for source in sources
    )


def _account_owners(n: int) -> None:
    AccountOwner.objects.bulk_create(
        AccountOwner(customer=customer, function=TeamFunction.OPERATIONS, user=user)
        for customer, user in zip(_organisations(OrganisationKind.CUSTOMER, n), _staff(n), strict=True)
    )


def _calendars(n: int) -> None:
    BranchCalendar.objects.bulk_create(
        BranchCalendar(branch=branch, country="DE") for branch in _organisations(OrganisationKind.BRANCH, n)
    )


def _customer_settings(n: int) -> None:
    CustomerSettings.objects.bulk_create(
        CustomerSettings(customer=customer, auto_accept=True)
        for customer in _organisations(OrganisationKind.CUSTOMER, n)
    )


def _order_workflows(n: int) -> None:
    templates = WorkflowTemplate.objects.bulk_create(
        WorkflowTemplate(name=f"Template {customer.code}", customer=customer)
        for customer in _organisations(OrganisationKind.CUSTOMER, n)
    )
    versions = WorkflowVersion.objects.bulk_create(
        WorkflowVersion(template=template, number=1, status=VersionStatus.PUBLISHED) for template in templates
    )
    OrderWorkflow.objects.bulk_create(
        OrderWorkflow(order=order, template=version.template, version=version)
        for order, version in zip(_orders(n), versions, strict=True)
    )


def _rules(n: int) -> list[Rule]:
    """Rules with a condition, and actions naming people."""
    rules = Rule.objects.bulk_create(
        Rule(name=f"Rule {next(serial)}", event=RuleEvent.ORDER_SUBMITTED) for _ in range(n)
    )
    RuleCondition.objects.bulk_create(
        RuleCondition(rule=rule, field=ConditionField.CUSTOMER, value="ACME") for rule in rules
    )
    RuleAction.objects.bulk_create(
        RuleAction(rule=rule, position=position, kind=kind, user=user, message="New order")
        for position, kind in enumerate((ActionKind.ASSIGN, ActionKind.NOTIFY))
        for rule, user in zip(rules, _staff(n), strict=True)
    )
    return rules


def _rule_runs(n: int) -> None:
    RuleRun.objects.bulk_create(
        RuleRun(rule=rule, order=order, event_key=f"submitted:{order.pk}")
        for rule, order in zip(_rules(n), _orders(n), strict=True)
    )


def _tasks(n: int) -> list[Task]:
    people = _staff(n)
    teams = Team.objects.bulk_create(
        Team(name=f"Team {next(serial)}", function=TeamFunction.OPERATIONS, branch=user.memberships.get().organisation)
        for user in people
    )
    return Task.objects.bulk_create(
        Task(order=order, name="Book the carrier", team=team, team_function=TeamFunction.OPERATIONS, assignee=user,
             due_at=timezone.now())
        for order, team, user in zip(_orders(n), teams, people, strict=True)
    )  # fmt: skip


def _notifications(n: int) -> None:
    Notification.objects.bulk_create(
        Notification(recipient=user, kind=NotificationKind.ASSIGNED, title=f"{task.name} ({task.order_id})", task=task)
        for task, user in zip(_tasks(n), _staff(n), strict=True)
    )


def _queued_records(n: int) -> None:
    QueuedTrackingRecord.objects.bulk_create(
        QueuedTrackingRecord(kind=TrackingRecordKind.MILESTONE, order_id=order.pk, code="DEPARTED")
        for order in _orders(n)
    )


CHANGELISTS: dict[str, Callable[[int], object]] = {
    "partners/user": _people,
    "orders/location": _locations,
    "orders/importjob": _import_jobs,
    "orders/webhookdelivery": _webhook_deliveries,
    "tracking/exceptionscan": _scans,
    "tracking/milestone": _milestones,
    "tracking/etahistory": _eta_history,
    "tracking/carrierendpoint": _endpoints,
    "tracking/eventupload": _uploads,
    "tracking/rejecteddelivery": _rejections,
    "workflows/accountowner": _account_owners,
    "workflows/branchcalendar": _calendars,
    "workflows/customersettings": _customer_settings,
    "workflows/orderworkflow": _order_workflows,
    "workflows/rule": _rules,
    "workflows/rulerun": _rule_runs,
    "workflows/task": _tasks,
    "workflows/notification": _notifications,
    "workflows/queuedtrackingrecord": _queued_records,
}

# The larger list's ceiling (session, user, the list's count and page and what it prefetches, its filters' choices):
# what it ran when these guards were written (it runs the same for the few). A list that needs more must say why;
# more rows never may.
CHANGELIST_CEILINGS = {
    "partners/user": 8, "orders/location": 6, "orders/importjob": 8, "orders/webhookdelivery": 6,
    "tracking/exceptionscan": 6, "tracking/milestone": 6, "tracking/etahistory": 6, "tracking/carrierendpoint": 6,
    "tracking/eventupload": 6, "tracking/rejecteddelivery": 6, "workflows/accountowner": 6,
    "workflows/branchcalendar": 6, "workflows/customersettings": 6, "workflows/orderworkflow": 7, "workflows/rule": 8,
    "workflows/rulerun": 7, "workflows/task": 7, "workflows/notification": 6, "workflows/queuedtrackingrecord": 6,
}  # fmt: skip


@pytest.mark.parametrize("model", list(CHANGELISTS))
def test_a_console_list_costs_the_same_queries_for_3_and_12_rows(
    model, admin_user, login, django_assert_max_num_queries
):
    client = login(admin_user)
    path = f"/admin/{model}/"
    CHANGELISTS[model](3)
    _read(client, path)  # warm the session
    with django_assert_max_num_queries(CHANGELIST_CEILINGS[model]) as few:
        _read(client, path)
    CHANGELISTS[model](9)

    with django_assert_max_num_queries(CHANGELIST_CEILINGS[model]) as many:
        response = _read(client, path)

    assert len(many) == len(few)
    assert len(response.context["cl"].result_list) >= 12  # the rows were really listed


# --- The staff home, search and the caller's identity --------------------------------------------------------------

BILL = "MAEU262000001"
# name: (address, what the larger page must list)
PAGES: dict[str, tuple[str, Callable[[Any], int]]] = {
    "home": ("/", lambda response: len(response.context["branches"])),
    "search for goods, parties and organisations": (
        "/search/?q=lamps",
        lambda response: min(len(response.context["results"].orders), len(response.context["results"].organisations)),
    ),
    "search for a bill several shipments carry": (
        f"/search/?q={BILL}",
        lambda response: len(response.context["results"].shipments),
    ),
    "who am I": ("/api/v1/me/", lambda response: len(response.json()["organisations"])),
}
# Each page's ceiling for the larger case: what it ran when these guards were written (it runs the same for the
# few). A page that needs more must say why; more rows never may.
PAGE_CEILINGS = {
    "home": 9,
    "search for goods, parties and organisations": 6,
    "search for a bill several shipments carry": 6,
    "who am I": 11,
}


@pytest.fixture
def grow_desk(make_order, ops_user):
    """`grow_desk(n)`: n more orders of n new customers (lamps, by screen), n organisations whose name says lamps,
    n masters of n carriers on one bill, and n more branches the ops person works in."""

    def grow(n: int) -> None:
        for customer in _organisations(OrganisationKind.CUSTOMER, n):
            make_order(confirm=False, customer_code=customer.code, description=f"Lamps for {customer.code}")
        Organisation.objects.bulk_create(
            Organisation(code=f"LMP{next(serial)}", name="Lamps Trading", kinds=[OrganisationKind.VENDOR])
            for _ in range(n)
        )
        for carrier in _organisations(OrganisationKind.CARRIER, n):
            Shipment.objects.filter(pk=_master(carrier=carrier).pk).update(bill_number=BILL)
        Membership.objects.bulk_create(
            Membership(user=ops_user, organisation=branch, role=Role.OPERATIONS)
            for branch in _organisations(OrganisationKind.BRANCH, n)
        )

    return grow


@pytest.mark.parametrize("page", list(PAGES))
def test_a_staff_page_costs_the_same_queries_for_few_and_many_rows(
    page, grow_desk, login, ops_user, django_assert_max_num_queries
):
    client = login(ops_user)
    url, listed = PAGES[page]
    grow_desk(3)
    _read(client, url)  # warm the session
    with django_assert_max_num_queries(PAGE_CEILINGS[page]) as few:
        _read(client, url)
    grow_desk(9)

    with django_assert_max_num_queries(PAGE_CEILINGS[page]) as many:
        response = _read(client, url)

    assert len(many) == len(few)
    assert listed(response) >= 12
