"""Task screens: My tasks, My team's tasks, Overdue (team leads), a task's page, the order's task panel
and notifications. Thin: selectors read, services write, domain errors become messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from oms.http import HtmxHttpRequest, page_to_return_to
from orders import lifecycle
from partners.models import User
from partners.permissions import staff_required
from partners.scoping import Scope, scope_for_request
from partners.time_zones import viewer_zone, zone_label
from workflows import guards, selectors, services
from workflows.errors import TaskNotAllowed
from workflows.forms import BulkForm, CommentForm, NoteForm, NotificationPreferenceForm, ReassignForm
from workflows.models import DEFAULT_PREFERENCE, Notification, NotificationPreference, Task, TaskState, TeamFunction

PAGE_SIZE = 50
DUE_CHOICES = (
    ("", "All open"), ("overdue", "Overdue"), ("today", "Due within a day"), ("week", "Due within a week"),
    ("upcoming", "Upcoming (not open yet)"), ("done", "Done"),
)  # fmt: skip
VIEWS: dict[str, tuple[str, Callable[..., QuerySet[Task]]]] = {
    "mine": ("My tasks", selectors.my_tasks),
    "team": ("My team's tasks", selectors.team_tasks),
    "overdue": ("Overdue in my teams", selectors.overdue_tasks),
}


def _tabs(request: HttpRequest, scope: Scope, current: str) -> list[dict[str, Any]]:
    user = request.user
    empty = selectors.TaskFilters()
    tabs = [
        {"key": "mine", "label": "Mine", "url": reverse("workflows:my_tasks"),
         "count": selectors.my_tasks(user=user, scope=scope, filters=empty).count()},
        {"key": "team", "label": "My teams", "url": reverse("workflows:team_tasks"),
         "count": selectors.team_tasks(user=user, scope=scope, filters=empty).count()},
    ]  # fmt: skip
    if selectors.led_teams(user=user, scope=scope).exists():
        overdue = selectors.overdue_tasks(user=user, scope=scope, filters=empty).count()
        tabs.append({"key": "overdue", "label": "Overdue", "url": reverse("workflows:overdue_tasks"), "count": overdue})
    for tab in tabs:
        tab["active"] = tab["key"] == current
    return tabs


@staff_required
@vary_on_headers("HX-Request")
def task_list(request: HtmxHttpRequest, view: str = "mine") -> HttpResponse:
    """One of the three task lists, with filters, paging and bulk actions; htmx gets only the results."""
    scope = scope_for_request(request)
    title, select = VIEWS[view]
    filters = selectors.TaskFilters.from_query(request.GET)
    tasks = select(user=request.user, scope=scope, filters=filters)
    page = Paginator(tasks, PAGE_SIZE).get_page(request.GET.get("page"))
    if filters.due == "upcoming":
        page.object_list = _said_when_they_open(list(page.object_list))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "title": title, "view": view, "page": page, "filters": filters, "due_choices": DUE_CHOICES,
        "query": query.urlencode(), "tabs": _tabs(request, scope, view),
        "teams": selectors.teams_of(user=request.user) if view != "mine" else [],
        "people": list(selectors.assignable_people()) if view != "mine" else [],
        "functions": TeamFunction.choices,
    }  # fmt: skip
    template = "workflows/task_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(request, template, context)


def _said_when_they_open(tasks: list[Task]) -> list[Task]:
    """The upcoming tasks, each with `opens_text`: when it opens on its branch's named clock, in the words of the
    order's Tasks card and of the message that schedules it again (services.task_opening_text; read from the rows
    the list has, no query)."""
    for task in tasks:
        task.opens_text = services.task_opening_text(task)  # type: ignore[attr-defined]
    return tasks


@staff_required
@require_POST
def tasks_bulk(request: HttpRequest) -> HttpResponse:
    """Complete or reassign the ticked tasks; each one that cannot be is named with the reason."""
    scope = scope_for_request(request)
    form = BulkForm(request.POST, people=list(selectors.assignable_people()))
    back = page_to_return_to(request, reverse("workflows:my_tasks"))
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(str(error) for error in errors))
        return redirect(back)
    tasks = selectors.tasks_get_for(scope=scope, ids=form.cleaned_data["ids"])
    if form.cleaned_data["action"] == "complete":
        result = services.tasks_bulk_complete(tasks=tasks, scope=scope, by=request.user)
        done = f"Completed {len(result.done)} task{'s' if len(result.done) != 1 else ''}."
    else:
        assignee = form.cleaned_data["assignee"]
        result = services.tasks_bulk_reassign(tasks=tasks, scope=scope, by=request.user, assignee_id=assignee)
        done = f"Reassigned {len(result.done)} task{'s' if len(result.done) != 1 else ''}."
    if result.done:
        messages.success(request, done)
    for problem in result.problems:
        messages.error(request, problem)
    return redirect(back)


def _order_panel(order: Any, scope: Scope, tasks: list[Task]) -> dict[str, Any]:
    """What the task page shows about its order: state and the next steps with why they are blocked. The tasks a
    step waits for ("Finish first: …", the workflow's guard) are links to them (`blocking`, taken out of `reason`),
    found among the order's tasks the page lists already (`tasks`: no query): a scheduled one among them can be done
    early from its page."""
    live = sorted(
        (task for task in tasks if task.state in (TaskState.OPEN, TaskState.SCHEDULED) and task.blocks),
        key=lambda task: (task.due_at is None, task.due_at or task.created_at, task.pk),  # as guards' ORDER BY
    )
    transitions = [
        step
        if step["allowed"]
        else guards.with_task_links(
            step, [(task.pk, task.name) for task in live if step["name"] in task.blocks][: guards.SHOWN + 1]
        )
        for step in lifecycle.available_transitions(order, scope)
    ]
    return {"order": order, "transitions": transitions}


@staff_required
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = scope_for_request(request)
    task = selectors.task_get_for(scope=scope, pk=pk)
    may_work = services.may_work(scope=scope, user=request.user, task=task)
    order_tasks = selectors.tasks_for_order(order=task.order, scope=scope, user=request.user)
    context = {
        "task": task, "may_work": may_work, "history": selectors.task_history(task=task),
        "comment_form": CommentForm(), "note_form": NoteForm(),
        "reassign_form": ReassignForm(people=list(selectors.assignable_people(team=task.team)),
                                      initial={"assignee": task.assignee_id}),
        "order_tasks": order_tasks, **_order_panel(task.order, scope, order_tasks),
        "waited_for": [other for other in order_tasks if other.key in task.waiting_on],  # "Waits for …", linked
    }  # fmt: skip
    return render(request, "workflows/task_detail.html", context)


def _after_action(request: HtmxHttpRequest, task: Task, scope: Scope) -> HttpResponse:
    """An action's answer: the order's task panel for htmx posts from it, else back to where the form was."""
    if request.htmx and request.POST.get("panel") == "order":
        tasks = selectors.tasks_for_order(order=task.order, scope=scope, user=request.user)
        context = {"order": task.order, "tasks": tasks, "oob_messages": True}
        response = render(request, "workflows/_order_tasks.html", context)
        response["HX-Trigger"] = "oms:order-changed"  # the order page refreshes its transition panel
        return response
    return redirect(page_to_return_to(request, task.get_absolute_url()))


def _task_action(request: HtmxHttpRequest, pk: int, act: Callable[[Task, Scope], str]) -> HttpResponse:
    scope = scope_for_request(request)
    task = selectors.task_get_for(scope=scope, pk=pk)
    try:
        messages.success(request, act(task, scope))
    except TaskNotAllowed as exc:
        messages.error(request, str(exc))
    return _after_action(request, selectors.task_get_for(scope=scope, pk=pk), scope)


@staff_required
@require_POST
def task_claim(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def act(task: Task, scope: Scope) -> str:
        services.task_claim(task=task, scope=scope, by=request.user)
        return f"“{task.name}” is yours."

    return _task_action(request, pk, act)


@staff_required
@require_POST
def task_complete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def act(task: Task, scope: Scope) -> str:
        form = NoteForm(request.POST)
        if not form.is_valid():  # never done with the note lost: the person says it again, shorter
            raise TaskNotAllowed(" ".join(map(str, form.errors["note"])))
        services.task_complete(task=task, scope=scope, by=request.user, note=form.cleaned_data["note"])
        return f"“{task.name}” is done."

    return _task_action(request, pk, act)


@staff_required
@require_POST
def task_reopen(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def act(task: Task, scope: Scope) -> str:
        form = NoteForm(request.POST)
        if not form.is_valid():
            raise TaskNotAllowed(" ".join(map(str, form.errors["note"])))
        reopened = services.task_reopen(task=task, scope=scope, by=request.user, reason=form.cleaned_data["note"])
        if reopened.state == TaskState.SCHEDULED:  # done early, reopened before its time (decision 0004)
            return f"“{task.name}” is scheduled again: it opens {services.task_opening_text(reopened)}."
        return f"“{task.name}” is open again."

    return _task_action(request, pk, act)


@staff_required
@require_POST
def task_reassign(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def act(task: Task, scope: Scope) -> str:
        form = ReassignForm(request.POST, people=list(selectors.assignable_people()))
        if not form.is_valid():
            raise TaskNotAllowed("Pick someone from the list.")
        assignee = form.cleaned_data["assignee"]
        services.task_reassign(task=task, scope=scope, by=request.user, assignee_id=assignee)
        return "Reassigned." if assignee else "Back in the team queue."

    return _task_action(request, pk, act)


@staff_required
@require_POST
def task_comment(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def act(task: Task, scope: Scope) -> str:
        form = CommentForm(request.POST)
        if not form.is_valid():
            raise TaskNotAllowed("Write something first (up to 5,000 characters).")
        services.task_comment(task=task, scope=scope, by=request.user, body=form.cleaned_data["body"])
        return "Comment added."

    return _task_action(request, pk, act)


@staff_required
@vary_on_headers("HX-Request")
def order_tasks(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """The order's tasks: the panel the order page loads with htmx, or a page of its own."""
    scope = scope_for_request(request)
    order = selectors.order_get_for(scope=scope, reference=reference)
    tasks = selectors.tasks_for_order(order=order, scope=scope, user=request.user)
    context = {"order": order, "tasks": tasks, "waiting": selectors.order_changes_waiting(order=order)}
    if request.htmx and not request.htmx.boosted:
        return render(request, "workflows/_order_tasks.html", context)
    return render(request, "workflows/order_tasks.html", {**context, **_order_panel(order, scope, tasks)})


@staff_required
def notification_list(request: HttpRequest) -> HttpResponse:
    """The person's notifications; their exact times on the person's own clock, named, as the other staff lists
    (partners.time_zones.viewer_zone: no query)."""
    unread_only = request.GET.get("show") == "unread"
    notifications = selectors.notifications_for(user=request.user, unread_only=unread_only)
    page = Paginator(notifications, 30).get_page(request.GET.get("page"))
    zone = viewer_zone(scope_for_request(request))
    context = {"page": page, "unread_only": unread_only, "time_zone": zone_label(zone)}
    with timezone.override(zone):
        return render(request, "workflows/notification_list.html", context)


@staff_required
@require_POST
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark a notification read and go to what it is about."""
    notification = get_object_or_404(Notification, pk=pk, recipient_id=request.user.pk)
    services.notifications_mark_read(user=request.user, ids=[notification.pk])
    target = notification.url
    if not target or not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("workflows:notifications")
    return HttpResponseRedirect(target)


@staff_required
@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    count = services.notifications_mark_read(user=request.user)
    messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} read.")
    return redirect("workflows:notifications")


@staff_required
def notification_preferences(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)  # noqa: S101 - staff_required lets in only signed-in staff
    current = NotificationPreference.objects.filter(user=request.user).first() or NotificationPreference(
        **{name: getattr(DEFAULT_PREFERENCE, name) for name in NotificationPreferenceForm.Meta.fields}
    )
    form = NotificationPreferenceForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        services.notification_preferences_save(user=request.user, values=form.cleaned_data)
        messages.success(request, "Your notification settings are saved.")
        return redirect("workflows:notification_preferences")
    return render(request, "workflows/notification_preferences.html", {"form": form})
