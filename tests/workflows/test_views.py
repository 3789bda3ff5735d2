"""Task screens: who sees them, what they list and filter, their htmx fragments, their actions, the order
panel, notifications and the navigation badges; list screens cost the same queries for 3 rows as for 30."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from oms.templatetags.oms_dates import datetime_text
from partners.models import OrganisationKind, Role
from tests.factories import OrganisationFactory
from workflows.models import (
    AssignRule,
    Notification,
    NotificationPreference,
    Task,
    TaskEvent,
    TaskState,
    TeamMember,
)

from .conftest import definition, staff, tasks_of

HX = {"HTTP_HX_REQUEST": "true"}
SCREENS = ["workflows:my_tasks", "workflows:team_tasks", "workflows:overdue_tasks", "workflows:notifications",
           "workflows:notification_preferences"]  # fmt: skip


@pytest.fixture
def template(make_template, ops_team):
    return make_template("Ocean", [
        definition("book", name="Book container space", blocks=["confirm"]),
        definition("queue", name="Check the cargo list", assign_rule=AssignRule.TEAM_QUEUE),
    ])  # fmt: skip


@pytest.fixture
def order(template, make_order, committed):
    with committed():
        return make_order(submit=True)


def orders(make_order, committed, n):
    with committed():
        return [make_order(submit=True) for _ in range(n)]


@pytest.mark.parametrize("name", SCREENS)
def test_customers_partners_and_strangers_are_kept_out(client, login, name, customer_a_user, carrier_user, outsider):
    assert client.get(reverse(name)).status_code == 302  # to the login page
    for user in (customer_a_user, carrier_user, outsider):
        assert login(user).get(reverse(name)).status_code == 403


def test_my_tasks_lists_what_is_assigned_to_me(login, order, ops_user):
    response = login(ops_user).get(reverse("workflows:my_tasks"))
    assert response.status_code == 200
    mine = [t for t in tasks_of(order).values() if t.assignee == ops_user]
    assert list(response.context["page"]) == mine
    assert "Book container space" in response.content.decode()


def test_team_tasks_include_the_unassigned_queue_with_a_claim_button(login, order, ops2_user):
    response = login(ops2_user).get(reverse("workflows:team_tasks"), {"assignee": "none"})
    assert [t.key for t in response.context["page"]] == ["queue"]
    assert reverse("workflows:task_claim", args=[tasks_of(order)["queue"].pk]) in response.content.decode()


def test_filters_by_order_customer_and_due(login, order, make_order, committed, ops_user):
    (other,) = orders(make_order, committed, 1)
    client = login(ops_user)
    by_order = client.get(reverse("workflows:team_tasks"), {"order": other.reference[-6:]})
    assert {t.order for t in by_order.context["page"]} == {other}
    assert list(client.get(reverse("workflows:team_tasks"), {"customer": "GLOBEX"}).context["page"]) == []
    assert list(client.get(reverse("workflows:team_tasks"), {"due": "overdue"}).context["page"]) == []
    Task.objects.filter(order=other).update(due_at=timezone.now() - datetime.timedelta(hours=1))
    overdue = client.get(reverse("workflows:team_tasks"), {"due": "overdue"})
    assert {t.order for t in overdue.context["page"]} == {other}
    assert "late" in overdue.content.decode()


def test_filtering_with_htmx_returns_only_the_results(login, order, ops_user):
    response = login(ops_user).get(reverse("workflows:my_tasks"), {"due": "week"}, **HX)
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="task-results"')
    assert "<html" not in body
    assert response["Vary"].count("HX-Request") == 1


def test_the_overdue_view_is_for_team_leads(login, order, ops_user, ops2_user):
    Task.objects.filter(order=order).update(due_at=timezone.now() - datetime.timedelta(hours=2))
    lead = login(ops_user).get(reverse("workflows:overdue_tasks"))
    assert len(lead.context["page"]) == 2
    assert any(tab["key"] == "overdue" for tab in lead.context["tabs"])
    member = login(ops2_user).get(reverse("workflows:overdue_tasks"))
    assert list(member.context["page"]) == []
    assert not any(tab["key"] == "overdue" for tab in member.context["tabs"])


@pytest.mark.parametrize("name", ["workflows:my_tasks", "workflows:team_tasks", "workflows:overdue_tasks"])
def test_list_screens_cost_the_same_queries_for_few_and_many_tasks(
    login, name, ops_user, template, make_order, committed, django_assert_max_num_queries
):
    client = login(ops_user)
    orders(make_order, committed, 2)
    Task.objects.update(due_at=timezone.now() - datetime.timedelta(hours=1))
    client.get(reverse(name))  # warm the session and caches
    with django_assert_max_num_queries(16) as few:
        shown = len(client.get(reverse(name)).context["page"])
    orders(make_order, committed, 15)
    Task.objects.update(due_at=timezone.now() - datetime.timedelta(hours=1))
    with django_assert_max_num_queries(len(few.captured_queries)) as many:
        response = client.get(reverse(name))
    assert len(response.context["page"]) >= shown + 7
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_task_page_shows_the_order_and_why_it_cannot_move_yet(login, order, ops_user):
    task = tasks_of(order)["book"]
    response = login(ops_user).get(reverse("workflows:task_detail", args=[task.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    link = reverse("workflows:task_detail", args=[task.pk])
    assert f'Finish first: <a href="{link}">Book container space</a>.' in body  # to the task that blocks it
    assert order.reference in body


def test_completing_from_the_task_page_lets_the_order_move_on(login, order, ops_user, committed):
    task = tasks_of(order)["book"]
    client = login(ops_user)
    with committed():
        response = client.post(reverse("workflows:task_complete", args=[task.pk]), {"note": "Booked."})
    assert response.status_code == 302
    assert Task.objects.get(pk=task.pk).state == TaskState.DONE
    page = client.get(reverse("workflows:task_detail", args=[task.pk])).content.decode()
    assert "Finish first" not in page
    assert "is done" in page  # the message


def test_actions_claim_reassign_reopen_and_comment(login, order, ops_user, ops2_user):
    client = login(ops2_user)
    queue = tasks_of(order)["queue"]
    client.post(reverse("workflows:task_claim", args=[queue.pk]))
    assert Task.objects.get(pk=queue.pk).assignee == ops2_user
    client.post(reverse("workflows:task_reassign", args=[queue.pk]), {"assignee": ops_user.pk})
    assert Task.objects.get(pk=queue.pk).assignee == ops_user
    client.post(reverse("workflows:task_complete", args=[queue.pk]))
    client.post(reverse("workflows:task_reopen", args=[queue.pk]))
    assert Task.objects.get(pk=queue.pk).state == TaskState.OPEN
    client.post(reverse("workflows:task_comment", args=[queue.pk]), {"body": "Over to you @ops"})
    assert Notification.objects.filter(recipient=ops_user, kind="mentioned").exists()
    page = client.get(reverse("workflows:task_detail", args=[queue.pk])).content.decode()
    assert "Over to you @ops" in page
    assert "Reopened" in page


def test_a_task_reopened_after_its_assignee_left_goes_to_active_staff(
    login, make_template, make_order, ops_team, ops_user, ops2_user, committed
):
    """Review C: Otto completed the invoice check, then left (account deactivated). The lead reopens it: it went back
    to Otto, who will never see it, out of the team queue's "Unassigned" too, counted in his load. Work goes to
    active OMS staff only (docs/decisions/0004, "Who automation reaches")."""
    make_template("NewCo", [definition("invoice", name="Check the commercial invoice")])
    TeamMember.objects.filter(user=ops_user).update(open_tasks=5)  # Otto is the least loaded: it goes to him
    with committed():
        order = make_order(submit=True)
    task = tasks_of(order)["invoice"]
    assert task.assignee == ops2_user
    login(ops2_user).post(reverse("workflows:task_complete", args=[task.pk]))
    ops2_user.is_active = False
    ops2_user.save(update_fields=["is_active"])

    login(ops_user).post(reverse("workflows:task_reopen", args=[task.pk]), {"note": "The invoice total was wrong."})
    task.refresh_from_db()
    assert (task.state, task.assignee) == (TaskState.OPEN, ops_user)  # the team's only active member
    assert TeamMember.objects.get(user=ops2_user).open_tasks == 0
    assert TeamMember.objects.get(user=ops_user).open_tasks == 6
    assert list(task.events.values_list("verb", "detail").order_by("pk"))[-2:] == [
        ("reopened", "The invoice total was wrong."),
        ("reassigned", f"Otto Two is no longer active OMS staff: given to {ops_user}."),
    ]
    assert not Notification.objects.filter(recipient=ops_user, task=task, kind="assigned").exists()  # their own act


def test_refused_actions_say_why(login, order, finance_user):
    task = tasks_of(order)["book"]
    response = login(finance_user).post(reverse("workflows:task_complete", args=[task.pk]), follow=True)
    assert "Only the assignee, the team and its lead" in response.content.decode()
    assert Task.objects.get(pk=task.pk).state == TaskState.OPEN


def test_get_is_not_allowed_on_actions(login, order, ops_user):
    task = tasks_of(order)["book"]
    assert login(ops_user).get(reverse("workflows:task_complete", args=[task.pk])).status_code == 405


def test_the_order_panel_loads_with_htmx_and_answers_its_own_actions(login, order, ops_user, committed):
    client = login(ops_user)
    url = reverse("workflows:order_tasks", args=[order.reference])
    panel = client.get(url, **HX)
    assert panel.content.decode().count('id="order-tasks"') == 1
    assert "<html" not in panel.content.decode()
    task = tasks_of(order)["book"]
    with committed():
        done = client.post(reverse("workflows:task_complete", args=[task.pk]), {"panel": "order"}, **HX)
    assert done["HX-Trigger"] == "oms:order-changed"
    assert 'id="order-tasks"' in done.content.decode()
    assert 'hx-swap-oob="true"' in done.content.decode()  # the messages area
    assert "<html" in client.get(url).content.decode()  # without htmx: a page of its own


def test_completing_the_blocking_task_on_the_order_page_refreshes_the_status_panel(
    login, order, ops_user, committed, django_assert_max_num_queries
):
    """The status panel listens for the tasks panel's `oms:order-changed` and asks for itself again: the step the
    task blocked opens without a reload of the page."""
    client = login(ops_user)
    page = client.get(reverse("orders:detail", args=[order.reference])).content.decode()
    status_url = reverse("orders:detail", args=[order.reference]) + "?part=status"
    link = reverse("workflows:task_detail", args=[tasks_of(order)["book"].pk])
    assert f'Finish first: <a href="{link}">Book container space</a>' in page
    assert (
        f'id="status-panel" aria-labelledby="sec-status" hx-get="{status_url}" '
        'hx-trigger="oms:order-changed from:body" hx-swap="outerHTML"'
    ) in page
    with committed():
        task = tasks_of(order)["book"]
        done = client.post(reverse("workflows:task_complete", args=[task.pk]), {"panel": "order"}, **HX)
    assert done["HX-Trigger"] == "oms:order-changed"
    with django_assert_max_num_queries(12):  # as many as the page's status panel and history need
        refreshed = client.get(status_url, **HX)
    panel = refreshed.content.decode()
    assert "<html" not in panel
    assert panel.count('id="status-panel"') == 1
    assert "Finish first" not in panel
    assert 'id="order-status-badge" hx-swap-oob="true"' in panel
    assert 'id="order-history" aria-labelledby="sec-history" hx-swap-oob="true"' in panel
    assert "HX-Request" in refreshed["Vary"]


def test_a_scheduled_task_that_blocks_a_step_is_marked_done_early_from_its_page(
    login, scheduled_blocker, ops_user, committed
):
    """Review B, defect 3: the step's "Finish first" names a task that opens in weeks; its page had no Mark done. It
    has one now, saying what it does, and the order may depart once it is done."""
    order, task = scheduled_blocker
    client = login(ops_user)
    link = reverse("workflows:task_detail", args=[task.pk])
    steps = client.get(reverse("workflows:order_tasks", args=[order.reference])).content.decode()
    assert f'Finish first: <a href="{link}">Collect shipping instructions and VGM</a>.' in steps
    page = client.get(link).content.decode()
    assert "Mark done" in form_of(page, reverse("workflows:task_complete", args=[task.pk]))
    assert "the order can then depart, and its history says it was done before it opened" in page
    with committed():
        client.post(reverse("workflows:task_complete", args=[task.pk]), {"note": "SI and VGM sent."})
    page = " ".join(client.get(link).content.decode().split())
    assert 'Done before opening <span class="text-secondary">— SI and VGM sent.</span>' in page
    assert ", before it opened (it was to open" in page
    assert "Finish first" not in page


def test_a_task_done_early_and_reopened_from_its_page_is_scheduled_again(login, scheduled_blocker, ops_user):
    """Sixteenth session: reopened before its time, the task waits for it again, and the page says when it opens."""
    _, task = scheduled_blocker
    client = login(ops_user)
    client.post(reverse("workflows:task_complete", args=[task.pk]), {"note": "SI sent."})

    answer = client.post(reverse("workflows:task_reopen", args=[task.pk]), {"note": "Wrong VGM."}, follow=True)

    assert Task.objects.get(pk=task.pk).state == TaskState.SCHEDULED
    berlin = task.available_at.astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))
    opens = f"{berlin:%a} {berlin.day} {berlin:%b %Y, %H:%M} Europe/Berlin"
    page = " ".join(answer.content.decode().split())
    assert f"“Collect shipping instructions and VGM” is scheduled again: it opens {opens}." in page
    assert "is open again" not in page


def test_the_order_pages_finish_first_links_to_the_task_that_blocks_the_step(login, scheduled_blocker, ops_user):
    """Sixteenth session: the order page said "Finish first: Collect shipping instructions and VGM" as plain text
    (orders cannot import workflows) while the task panel beside it linked; workflows' template tag links it too, on
    the page and on the status panel that reloads itself."""
    order, task = scheduled_blocker
    client = login(ops_user)
    link = reverse("workflows:task_detail", args=[task.pk])
    said = f'id="why-depart"><i class="bi bi-lock" aria-hidden="true"></i> Finish first: <a href="{link}">'
    said += "Collect shipping instructions and VGM</a>."
    page = client.get(reverse("orders:detail", args=[order.reference])).content.decode()
    assert said in " ".join(page.split())
    panel = client.get(reverse("orders:detail", args=[order.reference]), {"part": "status"}, **HX).content.decode()
    assert said in " ".join(panel.split())


def test_a_customer_gets_no_staff_task_link(login, rf, scheduled_blocker, ops_user, customer_a_user):
    order, task = scheduled_blocker
    link = reverse("workflows:task_detail", args=[task.pk])
    client = login(customer_a_user)
    assert client.get(reverse("orders:detail", args=[order.reference])).status_code == 403
    tracking = client.get(reverse("tracking_ingest:order_timeline", args=[order.reference]))
    assert tracking.status_code == 200
    assert link not in tracking.content.decode()
    assert "Finish first" not in tracking.content.decode()
    # the tag itself links for staff only, whatever reason it is handed
    tag = Template("{% load workflow_tags %}{% blocked_reason order t %}")
    step = {"name": "depart", "reason": "Finish first: Collect shipping instructions and VGM."}
    for person, linked in ((ops_user, True), (customer_a_user, False)):
        request = rf.get("/")
        request.user = person
        said = tag.render(Context({"request": request, "order": order, "t": dict(step)}))
        assert (f'<a href="{link}">' in said) is linked
        assert "Collect shipping instructions and VGM" in said


def test_the_order_panel_offers_done_on_a_scheduled_task_and_the_done_list_says_it_was_early(
    login, scheduled_blocker, ops_user, committed
):
    order, task = scheduled_blocker
    client = login(ops_user)
    panel = client.get(reverse("workflows:order_tasks", args=[order.reference]), **HX).content.decode()
    done_form = form_of(panel, reverse("workflows:task_complete", args=[task.pk]))
    assert "Done</button>" in done_form
    assert "task_claim" not in done_form  # a scheduled task is nobody's to claim yet
    with committed():
        answer = client.post(reverse("workflows:task_complete", args=[task.pk]), {"panel": "order"}, **HX)
    assert "before it opened" in answer.content.decode()
    done = client.get(reverse("workflows:team_tasks"), {"due": "done"}).content.decode()
    assert "Collect shipping instructions and VGM" in done
    assert "before it opened" in done


def test_the_navigation_badges_refresh_after_an_action_on_the_tasks_panel(
    login, order, ops_user, committed, django_assert_max_num_queries
):
    client = login(ops_user)
    page = client.get(reverse("orders:detail", args=[order.reference])).content.decode()
    counts_url = reverse("nav_counts")
    assert (
        f'hx-get="{counts_url}" hx-trigger="oms:order-changed from:body, oms:tasks-changed from:body" hx-swap="none"'
    ) in page
    before = Task.objects.filter(assignee=ops_user, state="open").count()
    assert f'id="nav-count-tasks">{before}</span>' in page
    with committed():
        client.post(reverse("workflows:task_complete", args=[tasks_of(order)["book"].pk]), {"panel": "order"}, **HX)
    with django_assert_max_num_queries(3):  # session, user, the badges' one query
        badges = client.get(counts_url, **HX).content.decode()
    assert f'id="nav-count-tasks" hx-swap-oob="true">{before - 1}</span>' in badges
    assert 'id="nav-count-notifications" hx-swap-oob="true">' in badges
    assert "<html" not in badges


def test_the_navigation_badges_are_for_staff(client, login, customer_a_user):
    assert client.get(reverse("nav_counts")).status_code == 302
    assert login(customer_a_user).get(reverse("nav_counts")).status_code == 403


def test_bulk_complete_and_reassign(login, order, make_order, committed, ops_user, ops2_user):
    client = login(ops_user)
    ids = list(Task.objects.filter(order=order).values_list("pk", flat=True))
    back = reverse("workflows:team_tasks")
    response = client.post(reverse("workflows:bulk"), {"action": "reassign", "ids": ids, "assignee": ops2_user.pk,
                                                       "next": back})  # fmt: skip
    assert response.url == back
    assert set(Task.objects.values_list("assignee", flat=True)) == {ops2_user.pk}
    client.post(reverse("workflows:bulk"), {"action": "complete", "ids": ids})
    assert set(Task.objects.values_list("state", flat=True)) == {TaskState.DONE}


def test_bulk_needs_ticked_tasks_and_never_redirects_off_site(login, order, ops_user):
    response = login(ops_user).post(reverse("workflows:bulk"), {"action": "complete", "next": "https://evil.test/"})
    assert response.url == reverse("workflows:my_tasks")


def test_notifications_open_mark_read_and_the_nav_counts_them(login, order, ops_user):
    client = login(ops_user)
    home = client.get(reverse("workflows:my_tasks"))
    badges = {item["label"]: item["count"] for item in home.context["nav_items"]}
    unread = Notification.objects.filter(recipient=ops_user, read_at__isnull=True)
    assert badges["My tasks"] == Task.objects.filter(assignee=ops_user, state="open").count() > 0
    assert badges["Notifications"] == unread.count() > 0
    note = unread.first()
    opened = client.post(reverse("workflows:notification_open", args=[note.pk]))
    assert opened.url == note.url
    assert Notification.objects.get(pk=note.pk).read_at is not None
    client.post(reverse("workflows:notifications_read_all"))
    assert not unread.exists()
    page = client.get(reverse("workflows:notifications"), {"show": "unread"})
    assert "No notifications left to read" in page.content.decode()


def test_someone_elses_notification_cannot_be_opened(login, order, ops_user, ops2_user):
    note = Notification.objects.filter(recipient=ops_user).first()
    assert login(ops2_user).post(reverse("workflows:notification_open", args=[note.pk])).status_code == 404


def test_email_preferences_are_saved(login, ops_user):
    client = login(ops_user)
    form = client.get(reverse("workflows:notification_preferences")).context["form"]
    assert form.initial["email_mentioned"] is True
    client.post(reverse("workflows:notification_preferences"), {"email_assigned": "on"})
    saved = NotificationPreference.objects.get(user=ops_user)
    assert (saved.email_assigned, saved.email_mentioned, saved.email_escalated) == (True, False, False)


def test_the_navigation_costs_one_query_for_every_badge(login, ops_user, django_assert_num_queries):
    from workflows.selectors import nav_counts

    with django_assert_num_queries(1):
        assert nav_counts(user=ops_user) == {"tasks": 0, "notifications": 0, "exceptions": 0}


def test_the_task_page_lets_a_person_say_what_they_did_when_marking_it_done(login, order, ops_user):
    """Marking a task done takes a note (decisions/0004: "a person marks them done, with a note"), and reopening a
    reason, but the task page's forms had only their buttons."""
    task = tasks_of(order)["book"]
    client = login(ops_user)
    page = client.get(reverse("workflows:task_detail", args=[task.pk])).content.decode()
    assert 'name="note"' in form_of(page, reverse("workflows:task_complete", args=[task.pk]))
    client.post(reverse("workflows:task_complete", args=[task.pk]), {"note": "Booked with MSC."})
    assert TaskEvent.objects.get(task=task, verb="completed").detail == "Booked with MSC."
    page = client.get(reverse("workflows:task_detail", args=[task.pk])).content.decode()
    assert 'name="note"' in form_of(page, reverse("workflows:task_reopen", args=[task.pk]))


def test_the_order_panel_takes_a_note_with_done(login, order, ops_user):
    task = tasks_of(order)["book"]
    panel = login(ops_user).get(reverse("workflows:order_tasks", args=[order.reference]), **HX).content.decode()
    assert 'name="note"' in form_of(panel, reverse("workflows:task_complete", args=[task.pk]))


def form_of(page: str, action: str) -> str:
    """The form that posts to `action` (its first one on the page)."""
    form = page[page.index(f'action="{action}"') :]
    return form[: form.index("</form>")]


def test_a_note_too_long_for_the_history_is_refused_not_dropped(login, order, ops_user):
    """The view completed the task and silently threw the note away when it was over 300 characters."""
    task = tasks_of(order)["book"]
    note = "Booked with MSC, " + "x" * 320
    response = login(ops_user).post(reverse("workflows:task_complete", args=[task.pk]), {"note": note}, follow=True)
    assert "A note is up to 300 characters (this one has 337); nothing changed." in response.content.decode()
    assert Task.objects.get(pk=task.pk).state == TaskState.OPEN


def test_the_order_panel_offers_no_actions_to_someone_who_may_not_work_the_task(
    login, order, finance_user, ops_user, ops2_user
):
    """Finance (not in the operations team, not its lead, no admin) opened the order: the tasks panel offered "Done"
    and "Claim", each answering "Only the assignee, the team and its lead can work on this task." The task page
    already hid them."""
    book, queue = tasks_of(order)["book"], tasks_of(order)["queue"]
    url = reverse("workflows:order_tasks", args=[order.reference])
    panel = login(finance_user).get(url, **HX).content.decode()
    assert reverse("workflows:task_complete", args=[book.pk]) not in panel
    assert reverse("workflows:task_claim", args=[queue.pk]) not in panel
    task_page = login(finance_user).get(reverse("workflows:task_detail", args=[book.pk])).content.decode()
    assert reverse("workflows:task_complete", args=[book.pk]) not in task_page

    Task.objects.filter(pk=book.pk).update(assignee=ops_user)  # neither task is Otto's: his team's, both
    member = login(ops2_user)
    with CaptureQueriesContext(connection) as queries:
        panel = member.get(url, **HX).content.decode()
    assert reverse("workflows:task_complete", args=[book.pk]) in panel
    assert reverse("workflows:task_claim", args=[queue.pk]) in panel
    teams_read = [q["sql"] for q in queries.captured_queries if 'FROM "workflows_team"' in q["sql"]]
    assert len(teams_read) == 1  # the person's teams, once: not a query per task


def test_the_notification_list_names_the_clock_of_its_exact_times(login, company):
    """Shanghai's operations person read their notifications: the exact time on hover was the server's clock (UTC),
    unnamed, while every other staff list runs on the reader's branch clock and names it."""
    shanghai = OrganisationFactory(
        code="SHA", name="OMS Shanghai", kinds=[OrganisationKind.BRANCH], time_zone="Asia/Shanghai", parent=company
    )
    li = staff("li@oms.test", shanghai, Role.OPERATIONS, full_name="Li Wei")
    note = Notification.objects.create(recipient=li, kind="mentioned", title="Someone mentioned you", url="/tasks/")
    Notification.objects.filter(pk=note.pk).update(
        created_at=datetime.datetime(2026, 12, 7, 1, 30, tzinfo=datetime.UTC)
    )
    page = login(li).get(reverse("workflows:notifications")).content.decode()
    nine_thirty = datetime.datetime(2026, 12, 7, 9, 30, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
    assert f'title="{datetime_text(nine_thirty)} (Asia/Shanghai)"' in page
    assert "Times in Asia/Shanghai" in page
