"""Configuration console for tracking: milestones and mapping rules (data, not code), carrier endpoints,
webhook sources, and read-only views of events, ETA history, polling state and uploads.

The way an unmapped code gets fixed: open its alert, "Add a mapping rule for this code" (pre-filled), save
the rule, then run "Re-map the stored events" on the alert: every stored event with that code is mapped
again and applied (estimates, legs, order status) as if it had just arrived.

Lists show what a person scans for and fit a 1440 px screen beside the filters; notes, payloads and the less
used settings are on the change form. Milestones are shown by their code (the key, no join), organisations by
their code.

Codes are stored upper case, as the database's constraints ask: the forms upper-case what is typed before they
check it, so a lower-case code (EasyPost and AfterShip send "in_transit") is saved, and its duplicate refused, in
words. The forms also say in words what the models' constraints (named, not worded, in tracking/ingest/models.py)
would refuse.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from oms.admin_bases import ReadOnlyAdmin
from partners.admin_actions import confirmation_page, confirmed
from partners.validators import time_zone_spelt
from tracking.ingest import mapping, remapping, tasks
from tracking.ingest.models import (
    KEPT_REFUSALS,
    CarrierEndpoint,
    EtaHistory,
    EventUpload,
    MappingAlert,
    MappingRule,
    MappingStatus,
    Milestone,
    RejectedDelivery,
    TrackingEvent,
    TrackingSubscription,
    WebhookSource,
    generate_webhook_secret,
)

INLINE_REMAP_LIMIT = 5000  # more events than this are re-mapped by a worker

# Event and ETA lists open on what just came in: the models' own order (by when it happened, oldest first) put
# last week's events on page one. By id, descending: received_at and recorded_at are stamped when the row is
# stored, so ids rise with them, and the primary key's index reads the newest page at once, where the events'
# received_at has only a BRIN index and sorting on it would sort the whole table for every page.
NEWEST_FIRST = ("-id",)


MILESTONE_CODE_SHAPE = re.compile(r"^[A-Z][A-Z_]{1,23}$")  # the milestone_code_shape constraint


class MilestoneForm(forms.ModelForm):
    class Meta:
        model = Milestone
        fields = ("code", "name", "rank", "definition", "modes", "is_exception", "order_status", "is_customer_visible",
                  "is_active")  # fmt: skip

    def clean_code(self) -> str:
        code = self.cleaned_data["code"].strip().upper()
        if not MILESTONE_CODE_SHAPE.match(code):
            raise forms.ValidationError(
                "Use 2 to 24 letters and underscores, starting with a letter, e.g. DEPARTED or CUSTOMS_HOLD."
            )
        return code


@admin.register(Milestone)
class MilestoneAdmin(admin.ModelAdmin):
    form = MilestoneForm
    # Whether a milestone is an exception is a filter. Names are edited on the form: a name box in every row
    # pushed the flags off a 1440 px screen, and a rename is rare beside a change of rank or visibility.
    list_display = ("code", "name", "rank", "order_status", "is_customer_visible", "is_active")
    list_editable = ("rank", "is_customer_visible", "is_active")
    list_filter = ("is_exception", "is_active", "order_status")
    search_fields = ("code", "name")

    def save_model(self, request: HttpRequest, obj: Milestone, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        mapping.invalidate()


def _remap(request: HttpRequest, pairs: set[tuple[str, str, int | None]]) -> None:
    for scheme, code, partner_id in sorted(pairs, key=str):
        count = remapping.events_of_rule(scheme=scheme, code=code, partner_id=partner_id).count()
        if count > INLINE_REMAP_LIMIT:
            tasks.remap_events.apply_async(args=[scheme, code, partner_id], queue=tasks.QUEUE)
            messages.info(request, f"{scheme} {code}: {count:,} events will be re-mapped by a worker.")
        else:
            changed = remapping.events_remap(scheme=scheme, code=code, partner_id=partner_id)
            messages.success(request, f"{scheme} {code}: {changed} of {count} stored events changed.")


class MappingRuleForm(forms.ModelForm):
    class Meta:
        model = MappingRule
        fields = ("scheme", "code", "partner", "location_role", "milestone", "classifier", "note", "is_active")

    def clean_code(self) -> str:
        """Stored upper case (mapping_rule_code_upper), and upper-cased before the form looks for a rule with the
        same code: "dep" beside "DEP" is that rule's duplicate."""
        return self.cleaned_data["code"].strip().upper()


@admin.register(MappingRule)
class MappingRuleAdmin(admin.ModelAdmin):
    form = MappingRuleForm
    # A forced classifier and the note are on the form: rare, and the note is long.
    list_display = ("scheme", "code", "location_role", "partner_code", "milestone_code", "is_active")
    list_filter = ("scheme", "milestone", "location_role", "is_active")
    search_fields = ("code", "note", "partner__code")
    list_select_related = ("partner",)
    autocomplete_fields = ("partner",)
    actions = ["remap_stored_events"]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        return {**initial, "code": str(initial.get("code", "")).upper()}

    @admin.display(description="partner", ordering="partner__code")
    def partner_code(self, rule: MappingRule) -> str | None:
        return rule.partner.code if rule.partner else None

    @admin.display(description="milestone", ordering="milestone")
    def milestone_code(self, rule: MappingRule) -> str | None:
        return rule.milestone_id

    def save_model(self, request: HttpRequest, obj: MappingRule, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        mapping.invalidate()

    @admin.action(description="Re-map the stored events with these codes", permissions=["change"])
    def remap_stored_events(self, request: HttpRequest, queryset: QuerySet[MappingRule]) -> Any:
        if not confirmed(request):
            return confirmation_page(
                self, request, queryset, action="remap_stored_events",
                question="Re-map every stored event with these codes? Estimates, legs and order statuses are "
                "applied again as if the events had just arrived.",
            )  # fmt: skip
        _remap(request, {(rule.scheme, rule.code, rule.partner_id) for rule in queryset})
        return None


@admin.register(MappingAlert)
class MappingAlertAdmin(admin.ModelAdmin):
    list_display = ("code", "scheme", "partner", "event_count", "first_seen_at", "last_seen_at", "is_open", "add_rule")
    list_filter = ("scheme", ("resolved_at", admin.EmptyFieldListFilter))
    search_fields = ("code",)
    list_select_related = ("partner",)
    readonly_fields = (
        "scheme",
        "code",
        "partner",
        "event_count",
        "example_event",
        "first_seen_at",
        "last_seen_at",
        "resolved_at",
        "resolved_by",
        "add_rule",
    )
    actions = ["remap_and_resolve"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(boolean=True, description="Open")
    def is_open(self, alert: MappingAlert) -> bool:
        return alert.is_open

    @admin.display(description="Mapping")
    def add_rule(self, alert: MappingAlert) -> str:
        query = urlencode(
            {"scheme": alert.scheme, "code": alert.code, **({"partner": alert.partner_id} if alert.partner_id else {})}
        )
        return format_html(
            '<a href="{}?{}">Add a mapping rule for this code</a>', reverse("admin:tracking_mappingrule_add"), query
        )

    @admin.action(
        description="Re-map the stored events (after adding the mapping) and close what is mapped",
        permissions=["change"],
    )
    def remap_and_resolve(self, request: HttpRequest, queryset: QuerySet[MappingAlert]) -> Any:
        if not confirmed(request):
            return confirmation_page(
                self, request, queryset, action="remap_and_resolve",
                question="Re-map every stored event with these codes and close the alerts that are now mapped?",
            )  # fmt: skip
        for alert in queryset:
            changed, resolved = remapping.alert_resolve(alert=alert, by=request.user)
            state = "resolved" if resolved else "still unmapped: add a rule for it first"
            messages.info(request, f"{alert.scheme} {alert.code}: {changed} events re-mapped; {state}.")
        return None


@admin.register(TrackingEvent)
class TrackingEventAdmin(ReadOnlyAdmin):
    # When it came, from whom, which code, what it meant and about what. The scheme, the classifier and the mapping
    # status are filters; when it happened, the shipment and the order it moved are on the event's page.
    list_display = ("received_at", "source", "raw_code", "milestone_code", "subject_value")
    list_filter = ("mapping_status", "source_kind", "scheme", "classifier", "milestone")
    search_fields = ("subject_value", "raw_code", "source_event_id", "order__reference", "shipment__reference")
    date_hierarchy = "received_at"
    show_full_result_count = False  # the table is large; counting it on every page is not worth it
    ordering = NEWEST_FIRST

    @admin.display(description="milestone", ordering="milestone")
    def milestone_code(self, event: TrackingEvent) -> str:
        """The milestone's code or, for an event without one, why: the mapping status in a column of its own made
        references wrap."""
        if event.milestone_id:
            return event.milestone_id
        return "not a milestone" if event.mapping_status == MappingStatus.NOT_A_MILESTONE else "no mapping yet"


@admin.register(EtaHistory)
class EtaHistoryAdmin(ReadOnlyAdmin):
    list_display = ("recorded_at", "shipment", "order", "milestone", "estimated_at", "previous_at", "source")
    list_select_related = ("shipment", "order", "milestone")
    ordering = NEWEST_FIRST
    search_fields = ("shipment__reference", "order__reference")


class CarrierEndpointForm(forms.ModelForm):
    class Meta:
        model = CarrierEndpoint
        fields = ("carrier", "kind", "base_url", "credentials_env", "karrio_carrier_name", "time_zone",
                  "rate_limit_per_minute", "blocked_until", "is_active")  # fmt: skip

    def clean_time_zone(self) -> str:
        """As the tz database spells it (europe/berlin is Europe/Berlin), as an organisation's; a name that is no
        zone is refused by the field's validator (partners.validators), with the nearest zone when there is one."""
        return time_zone_spelt(self.cleaned_data["time_zone"])

    def clean_rate_limit_per_minute(self) -> int:
        """At least one (carrier_endpoint_rate_positive): the token bucket of a zero limit never fills."""
        limit = self.cleaned_data["rate_limit_per_minute"]
        if limit is not None and limit < 1:
            raise forms.ValidationError("Allow at least 1 request a minute; to stop polling, untick Active.")
        return limit


@admin.register(CarrierEndpoint)
class CarrierEndpointAdmin(admin.ModelAdmin):
    form = CarrierEndpointForm
    list_display = ("carrier", "kind", "base_url", "rate_limit_per_minute", "blocked_until", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("carrier__code", "carrier__name", "base_url")
    autocomplete_fields = ("carrier",)
    readonly_fields = ("bucket_tokens", "bucket_updated_at")


@admin.register(TrackingSubscription)
class TrackingSubscriptionAdmin(admin.ModelAdmin):
    # The reference polled, the failures in a row and the last error are on the form; "active" is a filter.
    list_display = ("shipment", "endpoint_name", "next_poll_at", "last_success_at", "is_stale")
    list_filter = ("is_stale", "is_active", "endpoint__kind")
    search_fields = ("reference", "shipment__reference")
    list_select_related = ("shipment", "endpoint__carrier")
    readonly_fields = (
        "shipment",
        "endpoint",
        "last_polled_at",
        "last_success_at",
        "cursor_created_at",
        "consecutive_failures",
        "last_error",
        "stale_since",
        "state",
        "created_at",
    )
    actions = ["poll_now"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # subscriptions follow shipments (polling.subscriptions_sync)

    @admin.display(description="endpoint", ordering="endpoint__carrier__code")
    def endpoint_name(self, subscription: TrackingSubscription) -> str:
        return f"{subscription.endpoint.carrier.code} {subscription.endpoint.get_kind_display()}"

    @admin.action(description="Poll at the next beat (within a minute)", permissions=["change"])
    def poll_now(self, request: HttpRequest, queryset: QuerySet[TrackingSubscription]) -> None:
        count = queryset.update(next_poll_at=timezone.now())
        messages.success(request, f"{count} subscription(s) will be polled within a minute.")


@admin.register(WebhookSource)
class WebhookSourceAdmin(admin.ModelAdmin):
    list_display = ("name", "carrier", "scheme", "is_active", "last_delivery_at", "endpoint_url")
    list_filter = ("is_active", "scheme")
    list_select_related = ("carrier",)
    search_fields = ("name", "carrier__code")
    autocomplete_fields = ("carrier",)
    # The secrets are never shown (not even to view-only staff): a new one is shown once, when made.
    exclude = ("secret", "previous_secret")
    readonly_fields = ("secret_masked", "previous_secret_masked", "last_delivery_at", "created_at", "endpoint_url")
    actions = ["rotate_secret"]

    @admin.display(description="POST to")
    def endpoint_url(self, source: WebhookSource) -> str:
        return reverse("api-tracking-webhook", args=[source.name]) if source.pk else "—"

    @admin.display(description="secret")
    def secret_masked(self, source: WebhookSource) -> str:
        return _masked(source.secret) if source.pk else "Made when saved and shown once."

    @admin.display(description="previous secret")
    def previous_secret_masked(self, source: WebhookSource) -> str:
        return _masked(source.previous_secret)

    def save_model(self, request: HttpRequest, obj: WebhookSource, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            messages.warning(request, f"The secret of {obj.name} is {obj.secret} (shown once; give it to the sender).")

    @admin.action(
        description="Rotate the secret (the old one keeps working until the next rotation)", permissions=["change"]
    )
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookSource]) -> Any:
        if not confirmed(request):
            return confirmation_page(
                self, request, queryset, action="rotate_secret",
                question="Rotate the secrets of these webhook sources? The current secret keeps working until the "
                "next rotation; the one before it stops working now.",
            )  # fmt: skip
        for source in queryset:
            source.previous_secret, source.secret = source.secret, generate_webhook_secret()
            source.save(update_fields=["previous_secret", "secret"])
            messages.warning(
                request, f"New secret for {source.name}: {source.secret} (shown once; give it to the sender)."
            )
        return None


def _masked(secret: str) -> str:
    return f"{secret[:10]}…" if secret else "—"


@admin.register(EventUpload)
class EventUploadAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "file_name", "uploaded_by", "partner", "rows_total", "events_stored", "error_count")
    list_select_related = ("uploaded_by", "partner")


class DeliveryProblemFilter(admin.SimpleListFilter):
    """Unreadable deliveries (nothing stored) apart from readable ones with refused events."""

    title = "problem"
    parameter_name = "problem"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("unreadable", "Unreadable (nothing stored)"), ("refused", "Events refused")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[RejectedDelivery]) -> QuerySet[RejectedDelivery]:
        if self.value() == "unreadable":
            return queryset.exclude(status_code=200)
        if self.value() == "refused":
            return queryset.filter(status_code=200)
        return queryset


@admin.register(RejectedDelivery)
class RejectedDeliveryAdmin(ReadOnlyAdmin):
    """Signed webhook deliveries with a problem (tracking/ingest/webhooks.py): unreadable ones, and readable ones
    whose events were partly or wholly refused. A record of what the sender was told: shown, never edited."""

    list_display = ("received_at", "webhook_source", "status_code", "events_received", "events_stored", "refused_count",
                    "reason")  # fmt: skip
    # By kind of problem, and a source by its name: a filter listing every source, or a date hierarchy, would cost
    # the list queries of their own.
    list_filter = (DeliveryProblemFilter,)
    list_select_related = ("webhook_source",)
    search_fields = ("webhook_source__name", "reason")
    fields = ("webhook_source", "received_at", "status_code", "reason", "events_received", "events_stored",
              "duplicates", "refused_count", "refusals_table", "body")  # fmt: skip
    readonly_fields = ("refusals_table",)  # the JSON list, as a table; every other field is read-only by the base

    @admin.display(description=f"refusals (the first {KEPT_REFUSALS})")
    def refusals_table(self, delivery: RejectedDelivery) -> str:
        """Each kept refusal as a row: where it was in the delivery, the sender's event id, and why (its words)."""
        if not delivery.refusals:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((r.get("index", ""), r.get("event_id") or "—", r.get("message", "")) for r in delivery.refusals),
        )
        return format_html(
            "<table><thead><tr><th>Index</th><th>Event id</th><th>Reason given</th></tr></thead><tbody>{}</tbody>"
            "</table>",
            rows,
        )
