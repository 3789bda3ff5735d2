"""The workflow console: teams, account owners, business hours, templates and their versions, automation
rules (with a dry run), and read-only views of tasks, rule runs and notifications for support; the transitions
whose workflow handling failed ("Retry now") and the dead letters of messages that killed their worker.

Every write an admin action makes goes through workflows.services; the admin only collects the input.
Organisations and people are picked by typing (autocomplete), and what the models' constraints refuse is said in
words by the forms (BranchCalendarForm) or the models' clean(). Team members, team leads and account owners are
active OMS staff only, as the people rule actions name: the pickers offer no one else, and the models refuse anyone
else by name.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, TypedDict

from django import forms
from django.contrib import admin, messages
from django.contrib.postgres.forms import SimpleArrayField
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from oms.admin_bases import ReadOnlyAdmin, RowLabelledAutocompleteInline
from partners.admin import autocomplete_offers
from partners.admin_actions import confirmation_page, confirmed
from partners.admin_filters import BranchFilter
from workflows import services
from workflows.errors import WorkflowError
from workflows.models import (
    TRANSITION_CHOICES,
    AccountOwner,
    BranchCalendar,
    CustomerSettings,
    DeadLetter,
    FailedTransition,
    Notification,
    OrderWorkflow,
    QueuedTrackingRecord,
    Rule,
    RuleAction,
    RuleCondition,
    RuleRun,
    Task,
    TaskDefinition,
    Team,
    TeamMember,
    WorkflowTemplate,
    WorkflowVersion,
    active_staff,
)

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _OrderReference(TypedDict):
    order_reference: str | None  # the order's reference, None once the order is gone (QueuedTrackingRecordAdmin)


# The people fields of teams, account owners and a template task's named person offer active OMS staff only
# (models.active_staff); anyone else typed in is refused by the model's clean(), by name. Not the fields'
# limit_choices_to: a form and the model's own field check would then refuse with "Select a valid choice" or "user
# instance with id 7 is not a valid choice", and a leaver's unticked row could not stay in a team.
_PEOPLE_FIELDS = (("teammember", "user"), ("team", "lead"), ("accountowner", "user"), ("taskdefinition", "assignee"))
for _model, _field in _PEOPLE_FIELDS:
    autocomplete_offers("workflows", _model, _field, active_staff())


class TeamMemberInline(RowLabelledAutocompleteInline, admin.TabularInline):
    model = TeamMember
    extra = 1
    fields = ("user", "is_active", "open_tasks", "last_assigned_at")
    readonly_fields = ("open_tasks", "last_assigned_at")
    autocomplete_fields = ("user",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[TeamMember]:
        return super().get_queryset(request).select_related("team")  # each row's title: "<person> in <team>"


class TeamForm(forms.ModelForm):
    """What a team is for, in the words of the task definitions that name its function, and the
    team_one_per_branch_function constraint in words."""

    class Meta:
        model = Team
        fields = ("name", "branch", "function", "lead", "is_active")
        help_texts = {
            "branch": "The branch whose orders the team works on.",
            "function": "The kind of work. A task names a function, and the order's branch decides which team gets "
            "it: one team per branch and function.",
            "is_active": "Untick to stop giving the team new tasks.",
        }
        error_messages = {
            NON_FIELD_ERRORS: {
                "unique_together": "This branch has a team for this function already: add the people to that "
                "team instead."
            }
        }


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    form = TeamForm
    list_display = ("name", "branch", "function", "lead", "member_count", "is_active")
    list_filter = ("function", ("branch", BranchFilter), "is_active")
    search_fields = ("name", "branch__code")
    autocomplete_fields = ("branch", "lead")
    inlines = [TeamMemberInline]
    actions = ["recount_loads"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        return super().get_queryset(request).select_related("branch", "lead").annotate(n=Count("members"))

    @admin.display(description="members", ordering="n")
    def member_count(self, team: Team) -> int:
        return team.n  # type: ignore[attr-defined]

    @admin.action(description="Recount open-task loads from the tasks", permissions=["change"])
    def recount_loads(self, request: HttpRequest, queryset: QuerySet[Team]) -> None:
        changed = services.team_loads_recount(team_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Recounted the load of {changed} team members.")


@admin.register(AccountOwner)
class AccountOwnerAdmin(admin.ModelAdmin):
    list_display = ("customer", "function", "user")
    list_filter = ("function",)
    search_fields = ("customer__code", "customer__name", "user__email")
    autocomplete_fields = ("customer", "user")


_COUNTRY_SHAPE = re.compile(r"^[A-Z]{2}$")


class HolidaysField(SimpleArrayField):
    """Dates separated by commas, a mistyped one named in the error ("Item 2 in the array did not validate" said
    neither which nor how to write it); blank items (a trailing comma) are skipped."""

    def to_python(self, value: Any) -> list[Any]:  # type: ignore[override]  # the stubs give it CharField's str
        items = [item.strip() for item in str(value or "").split(self.delimiter) if item.strip()]
        dates, wrong = [], []
        for item in items:
            try:
                dates.append(self.base_field.clean(item))
            except ValidationError:
                wrong.append(item)
        if wrong:
            raise ValidationError(
                f"Not a date: {', '.join(wrong)}. Write each holiday as YYYY-MM-DD, separated by commas, "
                "e.g. 2026-12-24, 2026-12-25."
            )
        return sorted(set(dates))


class BranchCalendarForm(forms.ModelForm):
    """The calendar_closes_after_opening and calendar_has_workdays constraints, in words, and workdays that are
    days of the week (an 8 would be saved and never be a workday).

    The country is stored in capitals as addresses and places have it: the trade direction compares it with the
    orders' countries (services.profiles.trade_direction), so a "de" made every order of the branch a cross-trade
    and the templates for imports and exports never matched."""

    holidays = HolidaysField(
        forms.DateField(),
        required=False,
        help_text="Dates the branch is closed, as YYYY-MM-DD separated by commas, e.g. 2026-12-24, 2026-12-25.",
    )

    class Meta:
        model = BranchCalendar
        fields = ("branch", "opens_at", "closes_at", "workdays", "holidays", "country")
        help_texts = {"branch": "One calendar per branch; a branch without one works Monday to Friday, 08:00–18:00."}
        error_messages = {
            "branch": {"unique": "This branch has its business hours already: change them in the list instead."}
        }

    def clean_country(self) -> str:
        country = self.cleaned_data["country"].strip().upper()
        if country and not _COUNTRY_SHAPE.match(country):
            raise forms.ValidationError(
                "Use the ISO 3166 two-letter country code, e.g. DE, or leave it blank for the country of the "
                "branch's registered address."
            )
        return country

    def clean_workdays(self) -> list[int]:
        days = self.cleaned_data["workdays"]
        if not days:
            raise forms.ValidationError("Name at least one workday: 0 = Monday … 6 = Sunday.")
        if any(day > 6 for day in days):
            raise forms.ValidationError("Workdays are 0 (Monday) to 6 (Sunday).")
        return sorted(set(days))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        opens, closes = cleaned.get("opens_at"), cleaned.get("closes_at")
        if opens is not None and closes is not None and closes <= opens:
            self.add_error("closes_at", "The branch closes after it opens, on the same day.")
        return cleaned


@admin.register(BranchCalendar)
class BranchCalendarAdmin(admin.ModelAdmin):
    form = BranchCalendarForm
    list_display = ("branch", "opens_at", "closes_at", "workdays", "country")
    list_select_related = ("branch",)
    ordering = ("branch__code",)  # as teams are listed; the model has no order, and Django's fallback is newest first
    autocomplete_fields = ("branch",)


@admin.register(CustomerSettings)
class CustomerSettingsAdmin(admin.ModelAdmin):
    list_display = ("customer", "auto_accept")
    list_filter = ("auto_accept",)
    ordering = ("customer__code",)
    search_fields = ("customer__code", "customer__name")
    autocomplete_fields = ("customer",)


# ---- Templates and versions ----------------------------------------------------------------------


class TaskDefinitionForm(forms.ModelForm):
    blocks = forms.MultipleChoiceField(
        choices=TRANSITION_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The order cannot take these steps while the task is open.",
    )

    class Meta:
        model = TaskDefinition
        fields = [
            "position", "key", "name", "team_function", "instructions", "trigger_kind", "trigger_state", "trigger_code",
            "date_anchor", "date_offset_hours", "due_in_hours", "due_in_business_hours", "due_anchor", "assign_rule",
            "assignee", "depends_on", "blocks", "auto_complete_kind", "auto_complete_value",
        ]  # fmt: skip
        # The model's fields without help text that a newcomer cannot read from their names (a migration of the
        # workflows app for words alone is not this console's to make: they are said here, where tasks are edited).
        help_texts = {
            "position": "Where the task is listed among the version's tasks, lowest first.",
            "name": "What the task asks for, as the team sees it in its task list.",
            "team_function": "The kind of team that does it: the order's branch decides which team that is.",
            "instructions": "How to do it, shown on the task.",
            "trigger_kind": "What makes the task appear on an order; name the state, milestone or document code, or "
            "the date, in the box beside it.",
            "date_anchor": "For 'time before/after a date': the order's date the task is timed from (the hours "
            "below say how far before or after).",
            "assign_rule": "Who gets the task when it appears.",
            "auto_complete_kind": "Whether the task completes by itself, without a person: when the order reaches "
            "the state, the milestone is recorded or the document exists that the box beside it names.",
        }


class TaskDefinitionInline(RowLabelledAutocompleteInline, admin.StackedInline):
    model = TaskDefinition
    form = TaskDefinitionForm
    extra = 0
    fieldsets = (
        (None, {"fields": (("position", "key", "name", "team_function"), "instructions")}),
        ("When it appears", {"fields": (("trigger_kind", "trigger_state", "trigger_code"),
                                        ("date_anchor", "date_offset_hours"))}),
        ("Due and owner", {"fields": (("due_in_hours", "due_in_business_hours", "due_anchor"),
                                      ("assign_rule", "assignee"))}),
        ("Order of work", {"fields": ("depends_on", "blocks", ("auto_complete_kind", "auto_complete_value"))}),
    )  # fmt: skip
    autocomplete_fields = ("assignee",)

    def _editable(self, obj: WorkflowVersion | None) -> bool:
        return obj is None or obj.is_editable

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(obj) and super().has_delete_permission(request, obj)


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(admin.ModelAdmin):
    """Edit a draft's tasks, then Publish. Published versions are read-only: orders run on them."""

    list_display = ("template", "number", "status", "note", "published_at", "orders_on_it")
    list_filter = ("status", "template")
    list_select_related = ("template",)
    readonly_fields = ("template", "number", "status", "published_at", "created_by", "orders_on_it")
    fields = ("template", "number", "status", "note", "published_at", "created_by", "orders_on_it")
    inlines = [TaskDefinitionInline]
    actions = ["publish", "migrate_orders", "start_draft"]
    change_form_template = "workflows/admin/version_change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[WorkflowVersion]:
        return super().get_queryset(request).select_related("template").annotate(n=Count("order_workflows"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # versions start from a template ("Start a new draft version")

    @admin.display(description="orders on it")
    def orders_on_it(self, version: WorkflowVersion) -> int:
        count = getattr(version, "n", None)  # annotated in the list; 0 is an answer, not a miss
        return count if count is not None else version.order_workflows.count()

    def response_change(self, request: HttpRequest, obj: WorkflowVersion) -> HttpResponse:
        if "_publish" in request.POST:
            self._publish(request, obj)
            return HttpResponseRedirect(reverse("admin:workflows_workflowversion_change", args=[obj.pk]))
        return super().response_change(request, obj)

    def _publish(self, request: HttpRequest, version: WorkflowVersion) -> None:
        try:
            services.version_publish(version=version, by=request.user)
        except WorkflowError as exc:
            self.message_user(request, f"{version} was not published: {exc}", messages.ERROR)
        else:
            self.message_user(request, f"Published {version.template} v{version.number}: new orders start on it.")

    @admin.action(description="Publish the selected drafts", permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet[WorkflowVersion]) -> HttpResponse | None:
        if not confirmed(request):
            return confirmation_page(
                self, request, queryset, action="publish",
                question="Publish these drafts? New orders start on them, and published versions cannot be edited.",
            )  # fmt: skip
        for version in queryset:
            self._publish(request, version)
        return None

    @admin.action(
        description="Move in-flight orders of older versions onto the selected version", permissions=["change"]
    )
    def migrate_orders(self, request: HttpRequest, queryset: QuerySet[WorkflowVersion]) -> HttpResponse | None:
        if not confirmed(request):
            return confirmation_page(
                self, request, queryset, action="migrate_orders",
                question="Move every in-flight order of older versions onto these versions? Open tasks that are no "
                "longer in the version are cancelled and new ones are created.",
            )  # fmt: skip
        for version in queryset:
            try:
                result = services.version_migrate_orders(version=version)
            except WorkflowError as exc:
                self.message_user(request, f"{version}: {exc}", messages.ERROR)
                continue
            self.message_user(
                request,
                f"{version}: {result.orders} orders moved; {result.tasks_moved} open tasks kept, "
                f"{result.tasks_cancelled} cancelled (no longer in the version), {result.tasks_created} created.",
            )
        return None

    @admin.action(description="Start a new draft from the template's current version", permissions=["change"])
    def start_draft(self, request: HttpRequest, queryset: QuerySet[WorkflowVersion]) -> HttpResponse | None:
        drafts = [services.version_draft_start(template=v.template, by=request.user) for v in queryset]
        if len(drafts) == 1:
            return HttpResponseRedirect(reverse("admin:workflows_workflowversion_change", args=[drafts[0].pk]))
        self.message_user(request, f"{len(drafts)} drafts ready.")
        return None


@admin.register(WorkflowTemplate)
class WorkflowTemplateAdmin(admin.ModelAdmin):
    """Which orders a template applies to. Its tasks live in versions: use "Edit tasks" to start a draft."""

    list_display = ("name", "criteria_display", "current_version", "is_active", "versions_link")
    list_filter = ("is_active", "mode", "trade_direction")
    search_fields = ("name",)
    autocomplete_fields = ("customer", "branch")
    readonly_fields = ("current_version", "versions_link")
    fieldsets = (
        (None, {"fields": ("name", "description", "is_active")}),
        ("Applies to orders with (blank: any; the most specific template wins)",
         {"fields": (("mode", "service_level", "trade_direction"), ("customer", "branch"))}),
        ("Tasks", {"fields": ("current_version", "versions_link")}),
    )  # fmt: skip
    actions = ["edit_tasks"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WorkflowTemplate]:
        # current_version__template: the version's name in the list names its template (one query per row else)
        return super().get_queryset(request).select_related("customer", "branch", "current_version__template")

    @admin.display(description="applies to")
    def criteria_display(self, template: WorkflowTemplate) -> str:
        return " · ".join(f"{label}: {value}" for label, value in template.criteria()) or "any order (fallback)"

    @admin.display(description="versions")
    def versions_link(self, template: WorkflowTemplate) -> str:
        if not template.pk:
            return "—"
        url = reverse("admin:workflows_workflowversion_changelist") + f"?template__id__exact={template.pk}"
        return format_html('<a href="{}">All versions</a>', url)

    @admin.action(description="Edit tasks (opens the draft version, starting one if needed)", permissions=["change"])
    def edit_tasks(self, request: HttpRequest, queryset: QuerySet[WorkflowTemplate]) -> HttpResponse | None:
        drafts = [services.version_draft_start(template=t, by=request.user) for t in queryset]
        if len(drafts) == 1:
            return HttpResponseRedirect(reverse("admin:workflows_workflowversion_change", args=[drafts[0].pk]))
        self.message_user(request, f"{len(drafts)} drafts ready; open them under Workflow versions.")
        return None

    def response_add(self, request: HttpRequest, obj: WorkflowTemplate, post_url_continue: Any = None) -> HttpResponse:
        draft = services.version_draft_start(template=obj, by=request.user, note="First version.")
        self.message_user(request, "Now add the template's tasks to its first version and publish it.")
        return HttpResponseRedirect(reverse("admin:workflows_workflowversion_change", args=[draft.pk]))


@admin.register(OrderWorkflow)
class OrderWorkflowAdmin(admin.ModelAdmin):
    # The version names its template ("Air export v2"); the template is a filter. With it the list ran off the
    # content column at 1280 px.
    list_display = ("order", "version", "trade_direction", "bound_at", "migrated_at")
    list_filter = ("template", "trade_direction")
    list_select_related = ("order", "template", "version__template")
    search_fields = ("order__reference",)
    readonly_fields = ("order", "template", "version", "trade_direction", "bound_at", "migrated_at")
    actions = ["attach"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(
        description="Give orders without a workflow the template that matches them now", permissions=["change"]
    )
    def attach(self, request: HttpRequest, queryset: QuerySet[OrderWorkflow]) -> None:
        ids = list(queryset.filter(version__isnull=True).values_list("order_id", flat=True))
        attached = services.orders_attach_workflows(order_ids=ids)
        self.message_user(request, f"{attached} of {len(ids)} orders without a workflow got one.")


# ---- Rules ----------------------------------------------------------------------------------------


class RuleConditionForm(forms.ModelForm):
    class Meta:
        model = RuleCondition
        fields = ("field", "operator", "value")
        # Said here, where conditions are written (a migration of the workflows app for words alone is not the
        # console's): what to type is the order's own code, which the model's clean() checks and names.
        help_texts = {
            "field": "What of the order is compared.",
            "value": "As the order has it: a code (ACME, air, DEHAM, DE) or a number (25000); several, separated "
            "by commas, for 'is one of'. Blank for 'is true' and 'is false'.",
        }


class RuleConditionInline(admin.TabularInline):
    model = RuleCondition
    form = RuleConditionForm
    extra = 1


class RuleActionForm(forms.ModelForm):
    class Meta:
        model = RuleAction
        fields = ("position", "kind", "transition", "task_name", "team_function", "due_in_hours", "user", "message")
        # Said here, as the conditions' are (RuleConditionForm): how the rule runs its actions
        # (workflows.services.rules._perform_all) and which boxes each kind reads (RuleAction.clean).
        help_texts = {
            "position": "The order the rule's actions run in, lowest first; equal numbers run in the order they were "
            "added. An action that cannot be done is noted in the rule's run and the next still runs.",
            "kind": "What the action does. Take a transition: pick the transition. Create a task: name it and pick "
            "its team. Assign: pick the person. Notify: a person, or a team whose lead is told. Hold: say why in "
            "the message.",
        }


class RuleActionInline(RowLabelledAutocompleteInline, admin.StackedInline):
    model = RuleAction
    form = RuleActionForm
    extra = 1
    fields = (("position", "kind"), ("transition", "task_name", "team_function", "due_in_hours"), ("user", "message"))
    autocomplete_fields = ("user",)


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ("name", "event", "event_value", "is_active", "conditions_display", "actions_display")
    list_filter = ("event", "is_active")
    search_fields = ("name",)
    inlines = [RuleConditionInline, RuleActionInline]
    actions = ["dry_run"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Rule]:
        return super().get_queryset(request).prefetch_related("conditions", "actions")

    @admin.display(description="when")
    def conditions_display(self, rule: Rule) -> str:
        return " and ".join(str(c) for c in rule.conditions.all()) or "always"

    @admin.display(description="then")
    def actions_display(self, rule: Rule) -> str:
        return format_html_join(", ", "{}", ((str(a),) for a in rule.actions.all())) or "—"

    @admin.action(description="Dry run: which existing orders would the rule match?", permissions=["change"])
    def dry_run(self, request: HttpRequest, queryset: QuerySet[Rule]) -> TemplateResponse:
        results = [(rule, services.rule_dry_run(rule=rule)) for rule in queryset]
        context = {**self.admin_site.each_context(request), "title": "Rule dry run", "results": results,
                   "opts": self.model._meta}  # fmt: skip
        return TemplateResponse(request, "workflows/admin/rule_dry_run.html", context)


@admin.register(RuleRun)
class RuleRunAdmin(admin.ModelAdmin):
    list_display = ("at", "rule", "order", "event_key", "outcome")
    list_filter = ("outcome", "rule")
    search_fields = ("order__reference", "event_key")
    readonly_fields = ("rule", "order", "event_key", "outcome", "detail", "at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# ---- Support views --------------------------------------------------------------------------------


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    """Read-only: tasks change through the task screens so that loads and history stay right."""

    list_display = ("name", "order", "team", "assignee", "state", "due_at", "escalated_at")
    list_filter = ("state", "team_function", "team")
    search_fields = ("name", "order__reference")
    list_select_related = ("order", "team", "assignee")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "recipient", "kind", "title", "read_at", "emailed_at")
    list_filter = ("kind",)
    search_fields = ("recipient__email", "title")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class _RecordStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("waiting", "Waiting for the drain"), ("given_up", "Given up")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[QueuedTrackingRecord]
    ) -> QuerySet[QueuedTrackingRecord]:
        if self.value() == "waiting":
            return queryset.filter(given_up_at__isnull=True)
        if self.value() == "given_up":
            return queryset.filter(given_up_at__isnull=False)
        return queryset


@admin.register(QueuedTrackingRecord)
class QueuedTrackingRecordAdmin(admin.ModelAdmin):
    """Carrier milestones and ETD/ETA the workflow has still to act on, and those it gave up after MAX_ATTEMPTS
    failures (their errors are in the worker's log). Read-only: once the cause is fixed, "Try again" hands given-up
    records back to the drain, which needs the change permission."""

    list_display = ("order_link", "kind", "code", "attempts", "queued_at", "given_up_at")
    list_filter = (_RecordStateFilter, "kind")
    search_fields = ("code",)
    readonly_fields = ("kind", "order_id", "code", "event_id", "estimated_at", "queued_at", "available_at",
                       "attempts", "given_up_at")  # fmt: skip
    actions = ["try_again"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[QueuedTrackingRecord]:
        from orders.models import Order

        reference = Order.objects.filter(pk=OuterRef("order_id")).values("reference")[:1]
        return super().get_queryset(request).annotate(order_reference=Subquery(reference))

    @admin.display(description="order", ordering="order_id")
    def order_link(self, obj: WithAnnotations[QueuedTrackingRecord, _OrderReference]) -> str:
        if not obj.order_reference:
            return f"{obj.order_id} (deleted)"
        return format_html('<a href="{}">{}</a>', reverse("orders:detail", args=[obj.order_reference]),
                           obj.order_reference)  # fmt: skip

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a record deleted here would be a milestone lost: try it again instead

    @admin.action(description="Try the selected given-up records again", permissions=["change"])
    def try_again(self, request: HttpRequest, queryset: QuerySet[QueuedTrackingRecord]) -> None:
        from workflows.services.milestones import tracking_records_retry

        retried = tracking_records_retry(ids=list(queryset.values_list("pk", flat=True)))
        skipped = queryset.count() - retried
        note = f"; {skipped} still waiting were left as they are" if skipped else ""
        self.message_user(request, f"{retried} record(s) handed back to the workflow's drain{note}.", messages.SUCCESS)


class _FailedStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("retrying", "Being retried by the sweep"), ("given_up", "Given up")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[FailedTransition]) -> QuerySet[FailedTransition]:
        if self.value() == "retrying":
            return queryset.filter(given_up_at__isnull=True)
        if self.value() == "given_up":
            return queryset.filter(given_up_at__isnull=False)
        return queryset


@admin.register(FailedTransition)
class FailedTransitionAdmin(admin.ModelAdmin):
    """Order transitions whose workflow handling failed: retried by the catch-up sweep after a growing wait, given
    up after FailedTransition.MAX_ATTEMPTS failures (/readyz is red while one is). The full traceback of each failure
    is in the worker's log. Once the cause is fixed, "Retry now" has the next sweep (every minute) try them again.

    Not deleted here: the sweep finds a transition without its row only within a day of it (its floor), so deleting
    an older row would lose the transition's tasks silently; "Retry now" works at any age (docs/operations.md)."""

    list_display = ("transition_display", "order_link", "attempts", "error_display", "next_attempt_at", "given_up_at")
    list_filter = (_FailedStateFilter,)
    search_fields = ("transition__order__reference",)
    list_select_related = ("transition__order",)
    ordering = ("-failed_at",)
    readonly_fields = ("transition", "order_link", "attempts", "first_failed_at", "failed_at", "next_attempt_at",
                       "given_up_at", "last_error")  # fmt: skip
    fields = readonly_fields
    actions = ["retry_now"]

    @admin.display(description="transition", ordering="transition_id")
    def transition_display(self, failed: FailedTransition) -> str:
        transition = failed.transition
        return f"{transition.name}: {transition.source} → {transition.target} (#{transition.pk})"

    @admin.display(description="order", ordering="transition__order__reference")
    def order_link(self, failed: FailedTransition) -> str:
        reference = failed.transition.order.reference
        return format_html('<a href="{}">{}</a>', reverse("orders:detail", args=[reference]), reference)

    @admin.display(description="last error")
    def error_display(self, failed: FailedTransition) -> str:
        first_line = failed.last_error.splitlines()[0] if failed.last_error else "—"
        return first_line if len(first_line) <= 120 else first_line[:119] + "…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # see the class's docstring: "Retry now" instead

    @admin.action(description="Retry now (after fixing the cause)", permissions=["change"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[FailedTransition]) -> None:
        # The sweep takes a row that is not given up and is due, however old its transition (transition_queue's
        # pending_transitions_process). Its attempts stay counted: one that fails again is given up again at once.
        ids = list(queryset.values_list("transition_id", flat=True))
        retried = services.failed_transitions_retry(transition_ids=ids)
        self.message_user(
            request,
            f"{retried} transition(s) will be tried again by the catch-up sweep within a minute. One that fails again "
            "is given up again at once, with its new error here.",
            messages.SUCCESS,
        )


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnlyAdmin):
    """Messages dropped because their runs killed their worker process three times (oms.celery.GuardedTask): read to
    find the cause (the worker's log around the task id); the work they stood for is redone by the periodic sweeps
    or by hand (docs/operations.md, "What background work retries"). Read-only: a record, not a queue."""

    list_display = ("dropped_at", "task_name", "task_id", "runs", "args_display")
    search_fields = ("task_name", "task_id")
    readonly_fields = ("task_name", "task_id", "runs", "dropped_at", "args")
    fields = readonly_fields

    @admin.display(description="arguments")
    def args_display(self, letter: DeadLetter) -> str:
        return letter.args if len(letter.args) <= 120 else letter.args[:119] + "…"
