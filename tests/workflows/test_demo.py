"""The demo set-up (seed_demo): teams, templates, rules and the orders' workflows, idempotent; and the
shipped example rule: Globex is flagged auto-accept, so its orders are confirmed on submit."""

from __future__ import annotations

import pytest

from orders import services as order_services
from orders.demo import seed_orders
from orders.models import Channel, OrderStatus
from partners.demo import seed_partners
from partners.models import User
from partners.scoping import scope_for_user
from tracking.ingest.models import MappingRule, Milestone
from tracking.ingest.standards import seed_reference_data
from workflows.demo import TEMPLATES, seed_workflows
from workflows.models import Rule, Task, Team, WorkflowTemplate


@pytest.fixture
def demo(db, django_capture_on_commit_callbacks):
    seed_reference_data(Milestone, MappingRule)  # publishing checks milestone codes; a truncating test empties them
    seed_partners(password="demo-password-for-tests")
    with django_capture_on_commit_callbacks(execute=True):
        seed_orders(count=24)
        first = seed_workflows(password="demo-password-for-tests")
    return first


def test_the_demo_set_up_is_complete_and_idempotent(demo, django_capture_on_commit_callbacks):
    names = {name for name, _criteria, _steps in TEMPLATES}
    assert set(WorkflowTemplate.objects.values_list("name", flat=True)) == names
    assert {"Ocean FCL export", "Ocean LCL import", "Air export", "Road FTL domestic", "Parcel eCommerce"} <= names
    assert all(t.current_version_id for t in WorkflowTemplate.objects.all())
    assert Team.objects.count() == 10
    assert demo["templates"] == len(TEMPLATES)
    assert demo["orders_attached"] > 0
    assert Task.objects.exists()
    counts = (Task.objects.count(), Rule.objects.count(), Team.objects.count())
    with django_capture_on_commit_callbacks(execute=True):
        again = seed_workflows(password="demo-password-for-tests")
    assert again == {"templates": 0, "orders_attached": 0, "orders_moved": 0}
    assert (Task.objects.count(), Rule.objects.count(), Team.objects.count()) == counts


def test_globex_orders_are_confirmed_on_submit(demo, django_capture_on_commit_callbacks):
    ops = User.objects.get(email="ops.sha@oms.example")
    data = {
        "customer_code": "GLOBEX", "customer_reference": "GLX-DEMO-1", "branch_code": "SHA", "mode": "air",
        "incoterm": "FCA", "origin": "CNPVG", "destination": "USLAX", "shipper_name": "Shenzhen Bright",
        "consignee_name": "Globex", "requested_pickup_on": "2026-12-01",
        "lines": [{"pieces": 2, "package_type": "CT", "gross_weight_kg": "40", "description": "Phone cases"}],
    }  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        order = order_services.order_create(data=data, scope=scope_for_user(ops), by=ops, channel=Channel.SCREEN,
                                            submit=True)  # fmt: skip
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert Task.objects.filter(order=order, key="book-flight").exists()  # the air export template's next step
