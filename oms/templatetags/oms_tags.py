"""Template filters every screen may use: form widgets with Bootstrap classes, the sum of a column.

Forms stay free of presentation: the widget's own attributes are kept and the
CSS classes are added at render time.
"""

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django import template
from django.forms import BoundField
from django.utils.safestring import SafeString

register = template.Library()

# Bootstrap's class for each `BoundField.widget_type`; anything else is a text-like input.
_WIDGET_CLASSES = {
    "checkbox": "form-check-input",
    "select": "form-select",
    "selectmultiple": "form-select",
    "nullbooleanselect": "form-select",
}
# Django puts a choice list's attrs on its wrapper <div> as well as on every <input>, so these get
# no class here; components/form_field.html wraps them in .oms-choice-list, which oms.css styles.
_CHOICE_LISTS = {"radioselect", "checkboxselectmultiple"}


def _render_with_classes(field: BoundField, classes: str) -> SafeString:
    existing = field.field.widget.attrs.get("class", "")
    merged = " ".join(dict.fromkeys(f"{existing} {classes}".split()))
    return field.as_widget(attrs={"class": merged})


@register.filter
def add_class(field: BoundField, classes: str) -> SafeString:
    """Render the field's widget with extra CSS classes: `{{ form.q|add_class:"form-control-sm" }}`."""
    return _render_with_classes(field, classes)


@register.filter
def bootstrap_widget(field: BoundField, size: str = "") -> SafeString:
    """Render the widget with the Bootstrap class for its type, `is-invalid` when the field has errors.

    `size` is "sm" or "lg" for the compact or large control variants, and may go on with utility classes for a
    control in a row of others: `{{ form.iso_type|bootstrap_widget:"sm w-auto" }}`.
    """
    if field.widget_type in _CHOICE_LISTS:
        return field.as_widget()
    base = _WIDGET_CLASSES.get(field.widget_type, "form-control")
    words = size.split()
    variant = words.pop(0) if words and words[0] in ("sm", "lg") else ""
    classes = [base]
    if variant and base != "form-check-input":
        classes.append(f"{base}-{variant}")
    classes.extend(words)
    if field.errors:
        classes.append("is-invalid")
    return _render_with_classes(field, " ".join(classes))


@register.filter
def sum_of(rows: Iterable[Any], attribute: str) -> Decimal | int:
    """The total of one attribute over rows already loaded: `{{ house.house_lines.all|sum_of:"gross_weight_kg" }}`."""
    return sum((getattr(row, attribute) or 0 for row in rows), 0)
