"""Template versions: drafts copy the current version, publishing checks the tasks make sense, orders in
flight keep their version, and an admin's migration moves them over without duplicating anything."""

from __future__ import annotations

import pytest

from orders import services as order_services
from orders.models import Channel
from partners.scoping import scope_for_user
from workflows import services
from workflows.errors import WorkflowError
from workflows.models import OrderWorkflow, Task, TaskDefinition, TaskState, VersionStatus, WorkflowVersion

from .conftest import definition, tasks_of


def _draft_with(template, admin_user, *definitions):
    draft = services.version_draft_start(template=template, by=admin_user)
    draft.definitions.all().delete()
    for position, fields in enumerate(definitions):
        TaskDefinition.objects.create(version=draft, position=position, **fields)
    return draft


def test_a_draft_starts_as_a_copy_of_the_current_version_and_there_is_only_one(make_template, admin_user):
    template = make_template("Ocean", [definition("a"), definition("b", depends_on=["a"], blocks=["confirm"])])
    draft = services.version_draft_start(template=template, by=admin_user)
    assert (draft.number, draft.status) == (2, VersionStatus.DRAFT)
    copied = {d.key: (d.depends_on, d.blocks) for d in draft.definitions.all()}
    assert copied == {"a": ([], []), "b": (["a"], ["confirm"])}
    assert services.version_draft_start(template=template, by=admin_user) == draft


def test_publishing_makes_the_draft_current_and_retires_the_old_one(make_template, admin_user):
    template = make_template("Ocean", [definition("a")])
    first = template.current_version
    draft = _draft_with(template, admin_user, definition("a"), definition("c"))
    services.version_publish(version=draft, by=admin_user)
    template.refresh_from_db()
    first.refresh_from_db()
    assert template.current_version == draft
    assert first.status == VersionStatus.RETIRED
    with pytest.raises(WorkflowError, match="not a draft"):
        services.version_publish(version=draft, by=admin_user)


@pytest.mark.parametrize(
    ("definitions", "problem"),
    [
        ([], "at least one task"),
        ([definition("a", depends_on=["nope"])], "unknown task keys: nope"),
        ([definition("a", depends_on=["b"]), definition("b", depends_on=["a"])], "in a circle: a → b → a"),
        ([definition("a", trigger_state="")], "Pick the state"),
        ([definition("a", trigger_kind="milestone", trigger_state="")], "milestone code"),
        ([definition("a", assign_rule="named_user")], "Name the person"),
        ([definition("a", auto_complete_kind="state", auto_complete_value="planned", blocks=["plan"])],
         "cannot block plan"),
        # a typo of DEPARTED, refused as a rule's event value is: published, the task would never appear
        ([definition("pre-alert", trigger_kind="milestone", trigger_code="DEPATRED", trigger_state="")],
         "Pre alert: DEPATRED is not a milestone code. Use one of: "),
        ([definition("a", auto_complete_kind="milestone", auto_complete_value="DEPATRED")],
         "DEPATRED is not a milestone code"),
        ([definition("a", trigger_kind="document", trigger_code="H B/L", trigger_state="")],
         "H B/L is not a document type"),
    ],
)  # fmt: skip
def test_a_version_that_would_misbehave_is_not_published(make_template, admin_user, definitions, problem):
    template = make_template("Ocean", [definition("a")])
    draft = _draft_with(template, admin_user, *definitions)
    with pytest.raises(WorkflowError, match=problem):
        services.version_publish(version=draft, by=admin_user)
    draft.refresh_from_db()
    assert draft.status == VersionStatus.DRAFT


@pytest.mark.parametrize(
    ("fields", "stored"),
    [
        ({"trigger_kind": "milestone", "trigger_code": " departed ", "trigger_state": ""}, ("DEPARTED", "")),
        ({"auto_complete_kind": "milestone", "auto_complete_value": "Departed"}, ("", "DEPARTED")),
        ({"trigger_kind": "document", "trigger_code": "hbl", "trigger_state": ""}, ("HBL", "")),
        ({"auto_complete_kind": "document", "auto_complete_value": "pod"}, ("", "POD")),
    ],
)
def test_a_tasks_milestone_or_document_is_kept_as_the_events_name_it(db, fields, stored):
    """As a rule's event value: "milestone:departed" would never equal the "milestone:DEPARTED" that completes."""
    task = TaskDefinition(key="a", name="A", team_function="operations", **({"trigger_state": "submitted"} | fields))
    task.clean()
    assert (task.trigger_code, task.auto_complete_value) == stored


def test_orders_in_flight_keep_their_version_and_new_orders_take_the_new_one(
    make_template, make_order, ops_team, admin_user, committed
):
    template = make_template("Ocean", [definition("check")])
    with committed():
        before = make_order(submit=True)
    services.version_publish(version=_draft_with(template, admin_user, definition("check"), definition("extra")),
                             by=admin_user)  # fmt: skip
    with committed():
        after = make_order(submit=True)
    assert set(tasks_of(before)) == {"check"}
    assert set(tasks_of(after)) == {"check", "extra"}
    assert OrderWorkflow.objects.get(order=before).version.number == 1
    assert OrderWorkflow.objects.get(order=after).version.number == 2


def test_migrating_keeps_shared_tasks_cancels_dropped_ones_and_adds_new_ones(
    make_template, make_order, ops_team, admin_user, committed
):
    template = make_template(
        "Ocean", [definition("check"), definition("dropped"), definition("later", trigger_state="confirmed")]
    )
    with committed():
        order = make_order(submit=True)
    check_before = tasks_of(order)["check"]
    renamed = definition("check", name="Check the order (v2)")
    draft = _draft_with(
        template, admin_user, renamed, definition("new"), definition("later", trigger_state="confirmed")
    )
    services.version_publish(version=draft, by=admin_user)
    result = services.version_migrate_orders(version=draft)
    assert (result.orders, result.tasks_moved, result.tasks_cancelled, result.tasks_created) == (1, 1, 1, 1)
    tasks = tasks_of(order)
    assert tasks["check"].pk == check_before.pk
    assert (tasks["check"].name, tasks["check"].assignee) == ("Check the order (v2)", check_before.assignee)
    assert tasks["dropped"].state == TaskState.CANCELLED
    assert tasks["new"].state == TaskState.OPEN
    assert "later" not in tasks  # its trigger (confirmed) has not happened
    assert OrderWorkflow.objects.get(order=order).version == draft
    again = services.version_migrate_orders(version=draft)
    assert again.orders == 0
    assert Task.objects.filter(order=order).count() == 3


def test_only_a_published_version_takes_over_orders(make_template, admin_user):
    template = make_template("Ocean", [definition("check")])
    draft = services.version_draft_start(template=template, by=admin_user)
    with pytest.raises(WorkflowError, match="publish it first"):
        services.version_migrate_orders(version=draft)


def test_orders_without_a_workflow_get_the_template_that_matches_now(make_template, make_order, ops_team, committed):
    with committed():
        order = make_order(submit=True)  # no template yet
    assert OrderWorkflow.objects.get(order=order).version is None
    make_template("Ocean", [definition("check"), definition("later", trigger_state="confirmed")])
    assert services.orders_attach_workflows() == 1
    assert set(tasks_of(order)) == {"check"}
    assert services.orders_attach_workflows() == 0
    assert WorkflowVersion.objects.count() == 1


def test_attached_task_does_not_wait_forever_for_a_task_of_a_state_already_passed(
    make_template, make_order, ops_team, ops_user, committed
):
    scope = scope_for_user(ops_user)
    with committed():
        order = make_order(submit=True)  # no template matches yet
        order = order_services.order_transition(
            order=order, name="confirm", scope=scope, by=ops_user, channel=Channel.SCREEN
        )
    make_template("Ocean", [
        definition("book"),  # on submitted: already behind the order
        definition("release", trigger_state="confirmed", depends_on=["book"], blocks=["plan"]),
        definition("load", trigger_state="planned", depends_on=["book", "release"]),
        definition("welcome"),  # on submitted too, and nothing depends on it
    ])  # fmt: skip
    assert services.orders_attach_workflows() == 1
    tasks = tasks_of(order)
    assert "welcome" not in tasks  # nobody was asked for the tasks of a state passed before joining
    book = tasks["book"]  # made only as the skipped task "release" and "load" depend on
    assert (book.state, book.assignee) == (TaskState.CANCELLED, None)
    assert list(book.events.values_list("verb", "detail")) == [
        ("skipped", "Not needed: the order was already confirmed when it joined this workflow.")
    ]
    assert tasks["release"].waiting_on == []
    services.task_complete(task=tasks["release"], scope=scope, by=ops_user)
    assert tasks_of(order)["release"].state == TaskState.DONE
    with committed():
        order_services.order_transition(order=order, name="plan", scope=scope, by=ops_user, channel=Channel.SCREEN)
    assert tasks_of(order)["load"].waiting_on == []  # a state still ahead: made by the transition, not waiting


def test_a_migrated_order_does_not_wait_for_a_new_task_of_a_state_it_has_passed(
    make_template, make_order, ops_team, ops_user, admin_user, committed
):
    template = make_template("Ocean", [definition("check"), definition("release", trigger_state="confirmed")])
    with committed():
        order = make_order(submit=True)
        order_services.order_transition(
            order=order, name="confirm", scope=scope_for_user(ops_user), by=ops_user, channel=Channel.SCREEN
        )
    draft = _draft_with(
        template, admin_user, definition("check"), definition("customs"),
        definition("release", trigger_state="confirmed"),
        definition("approve", trigger_state="confirmed", depends_on=["customs", "check"]),
    )  # fmt: skip
    services.version_publish(version=draft, by=admin_user)
    services.version_migrate_orders(version=draft)
    tasks = tasks_of(order)
    assert (tasks["customs"].state, tasks["customs"].events.get().detail) == (
        TaskState.CANCELLED, "Not needed: the order was already confirmed when it moved onto version 2."
    )  # fmt: skip
    assert tasks["approve"].waiting_on == ["check"]  # the task the order has, still open, is still waited for


def test_an_attached_order_remembers_the_milestones_it_had_before(make_template, make_order, ops_team, committed):
    with committed():
        order = make_order(submit=True)  # no template matches yet
    services.milestone_record(order_id=order.pk, code="DEPARTED", event_id=1)
    make_template("Ocean", [definition("departure", auto_complete_kind="milestone", auto_complete_value="DEPARTED")])
    assert services.orders_attach_workflows() == 1
    assert tasks_of(order)["departure"].state == TaskState.DONE
    assert OrderWorkflow.objects.get(order=order).events_seen == ["milestone:DEPARTED"]


def test_migrating_applies_the_new_versions_dependencies_to_moved_tasks(make_template, make_order, ops_team,
                                                                        ops_user, admin_user, committed):  # fmt: skip
    template = make_template("Ocean", [definition("a"), definition("b", depends_on=["a"])])
    with committed():
        order = make_order(submit=True)
    assert tasks_of(order)["b"].waiting_on == ["a"]
    draft = services.version_draft_start(template=template, by=admin_user)
    TaskDefinition.objects.filter(version=draft, key="b").update(depends_on=[])
    TaskDefinition.objects.filter(version=draft, key="a").update(depends_on=["b"])
    services.version_publish(version=draft, by=admin_user)
    services.version_migrate_orders(version=draft)
    a, b = tasks_of(order)["a"], tasks_of(order)["b"]
    assert (a.depends_on, a.waiting_on, b.depends_on, b.waiting_on) == (["b"], ["b"], [], [])
    services.task_complete(task=b, scope=scope_for_user(ops_user), by=ops_user)
    assert tasks_of(order)["a"].waiting_on == []
