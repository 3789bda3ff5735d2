"""Bases of the console's pages shared by the apps' admins (no registration here: importing it changes nothing)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect
from django.db.models import ForeignKey, Model, QuerySet
from django.forms import BaseInlineFormSet, ModelChoiceField, ModelForm
from django.http import HttpRequest


class ReadOnlyAdmin(admin.ModelAdmin):
    """What happened is a record, or a list loaded from elsewhere: shown, never added, edited or deleted here. The
    console's tracking events, uploads, rejected deliveries, webhook deliveries and UN/LOCODE list build on it."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class KeptRecordsFirst(admin.ModelAdmin):
    """A row that records kept for good point to (PROTECT: a booking's rate card, a shipment's carrier) is refused
    deletion, and the page should say so: "… would require deleting the following protected related objects", with
    them listed. Django's page instead names their kinds as ones "your account doesn't have permission to delete"
    whenever their own admin refuses deletion (its format_callback runs on the protected rows too, and that message
    comes first), as though deleting would take them along. They are never deleted either way: with protected rows,
    only they are reported."""

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, set[str], list[Any]]:
        to_delete, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        return to_delete, model_count, set() if protected else perms_needed, protected


class RowLabelledAutocompleteSelect(AutocompleteSelect):
    """An autocomplete box that names its chosen row from the row already in memory instead of reading it again.

    Django's box reads its chosen row to label it (AutocompleteMixin.optgroups filters the field's queryset by the
    value): on a page of inline rows, one query per row. RowLabelledFormSet hands each box the row its instance
    holds, selected with the inline's rows; a value that is not that row (another choice sent back with errors) is
    read as Django reads it. So the box shows the row's saved choice even when the field no longer offers it (a
    leaver named in a rule's action), where Django's showed an empty box; saving still refuses a choice the field
    does not offer, and the model's clean() says why (RuleAction: "Rules can only name active OMS staff.")."""

    chosen: Model | None = None  # set per form (RowLabelledFormSet.add_fields), on that form's copy of the widget

    def optgroups(
        self, name: str, value: Sequence[str], attr: dict[str, Any] | None = None
    ) -> list[tuple[str | None, list[dict[str, Any]], int | None]]:
        relation = self.field.remote_field
        to_field = relation.model._meta.get_field(relation.field_name).attname
        picked = [v for v in value if v not in self.choices.field.empty_values]
        known = None if self.chosen is None else getattr(self.chosen, to_field)
        if known is None or picked != [str(known)]:
            return super().optgroups(name, value, attr)
        options = [] if self.is_required else [self.create_option(name, "", "", False, 0)]
        label = self.choices.field.label_from_instance(self.chosen)
        options.append(self.create_option(name, known, label, True, len(options)))
        return [(None, options, 0)]


class RowLabelledFormSet(BaseInlineFormSet):
    """An inline's rows whose autocomplete boxes (RowLabelledAutocompleteSelect) name their chosen rows from the rows
    each instance already holds."""

    def add_fields(self, form: ModelForm, index: int | None) -> None:
        super().add_fields(form, index)
        for name, field in form.fields.items():
            box = getattr(field.widget, "widget", field.widget)  # the admin wraps it in its add and change links
            if not isinstance(box, RowLabelledAutocompleteSelect):
                continue
            relation = form.instance._meta.get_field(name)
            if isinstance(relation, ForeignKey) and relation.is_cached(form.instance):
                box.chosen = relation.get_cached_value(form.instance)


class RowLabelledAutocompleteInline:
    """An inline whose autocomplete boxes cost no query per row: its rows come with the rows their boxes chose
    (select_related), and each box names its choice from them (RowLabelledAutocompleteSelect). An inline whose rows'
    titles (their __str__) read more selects that too in its own get_queryset. Mixed in before Tabular or
    StackedInline."""

    formset: type[BaseInlineFormSet[Any, Any, ModelForm[Any]]] = RowLabelledFormSet

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        chosen = self.get_autocomplete_fields(request)  # type: ignore[attr-defined]
        return super().get_queryset(request).select_related(*chosen)  # type: ignore[misc]

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):  # type: ignore[attr-defined]
            kwargs["widget"] = RowLabelledAutocompleteSelect(
                db_field,
                self.admin_site,  # type: ignore[attr-defined]
                using=kwargs.get("using"),
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]
