"""Forms of the staff order screens.

The entry form only collects the raw intake vocabulary (`orders.intake.ORDER_FIELDS`, `LINE_FIELDS`):
every field is optional text here, because `orders.intake.validate_order` is the one place that
decides what is valid, for every channel. Its messages come back keyed like `origin` or
`lines[2].hs_code` and are attached to the matching form and field with `attach_errors`.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.core.validators import ProhibitNullCharactersValidator
from django.http import QueryDict

from orders.intake import LINE_FIELDS, NEEDED_TO_SUBMIT_FIELDS, ORDER_FIELDS, REQUIRED_ORDER_FIELDS
from orders.models import Incoterm, Mode, OrderStatus, PackageType, PackingGroup, ServiceLevel
from orders.selectors import DEFAULT_PAGE_SIZE, DEFAULT_SORT, PAGE_SIZES, SORTS, OrderFilters

# ISO 6346 size-type codes offered first in the picker; any valid code can be typed.
COMMON_CONTAINER_TYPES = (
    ("22G1", "20' general purpose"),
    ("42G1", "40' general purpose"),
    ("45G1", "40' high cube"),
    ("L5G1", "45' high cube"),
    ("22R1", "20' reefer"),
    ("45R1", "40' high cube reefer"),
    ("22U1", "20' open top"),
    ("42U1", "40' open top"),
    ("22P1", "20' flat rack"),
    ("42P1", "40' flat rack"),
    ("22T1", "20' tank"),
)
LINE_KEY_RE = re.compile(r"^lines-(\d{1,4})-")
ERROR_KEY_RE = re.compile(r"^lines\[(\d+)\](?:\.(\w+))?$")


class _IntakeText(forms.CharField):
    """Text passed to intake as typed. Django's CharField refuses NUL itself and then leaves the field out
    of cleaned_data, so the order would be saved without the value; intake refuses NUL on every channel,
    with its message on the field, and nothing is saved."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, **kwargs)
        self.validators = [v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)]


def _text(label: str, **attrs: Any) -> forms.CharField:
    return _IntakeText(label=label, widget=forms.TextInput(attrs=attrs))


def _area(label: str, rows: int = 2) -> forms.CharField:
    return _IntakeText(label=label, widget=forms.Textarea(attrs={"rows": rows}))


def _select(label: str, choices: Iterable[tuple[str, str]]) -> forms.CharField:
    # A CharField with a select widget: the choice is offered, not enforced (intake checks it).
    return _IntakeText(label=label, widget=forms.Select(choices=list(choices)))


def _date(label: str) -> forms.CharField:
    return _IntakeText(label=label, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))


def _number(label: str, mode: str = "decimal") -> forms.CharField:
    return _text(label, inputmode=mode, autocomplete="off")


class OrderForm(forms.Form):
    """The order's own fields, in the intake vocabulary."""

    customer_code = _select("Customer", [])
    customer_reference = _text("Customer reference", autocomplete="off", maxlength=64)
    branch_code = _select("Handling branch", [])
    mode = _select("Mode", [("", "Choose a mode…"), *Mode.choices])
    service_level = _select("Service level", ServiceLevel.choices)
    incoterm = _select("Incoterm", [("", "—"), *Incoterm.choices])
    named_place = _text("Named place", placeholder="Filled from the lane when empty", maxlength=100)

    shipper_name = _text("Shipper", maxlength=200)
    shipper_address = _area("Shipper address", rows=3)
    consignee_name = _text("Consignee", maxlength=200)
    consignee_address = _area("Consignee address", rows=3)
    notify_name = _text("Notify party", maxlength=200)
    notify_address = _area("Notify party address", rows=3)

    origin = _text("Origin", placeholder="UN/LOCODE, city or airport", autocomplete="off", spellcheck="false")
    origin_address = _area("Pickup address")
    destination = _text("Destination", placeholder="UN/LOCODE, city or airport", autocomplete="off", spellcheck="false")
    destination_address = _area("Delivery address")
    requested_pickup_on = _date("Requested pickup")
    requested_delivery_on = _date("Requested delivery")

    description = _text("Goods description", placeholder="Summary of the goods, e.g. Machine parts", maxlength=300)
    declared_value = _number("Declared value")
    currency = _text("Currency", placeholder="EUR", maxlength=3, autocomplete="off")
    special_instructions = _area("Special instructions", rows=3)

    def __init__(
        self,
        *args: Any,
        customers: Iterable[tuple[str, str]] = (),
        branches: Iterable[tuple[str, str]] = (),
        customer_locked: bool = False,
        **kwargs: Any,
    ) -> None:
        """`customers` and `branches` are (code, label) pairs to offer."""
        super().__init__(*args, **kwargs)
        self.initial.setdefault("service_level", ServiceLevel.STANDARD)
        customer_choices = [("", "Choose a customer…")]
        customer_choices += list(customers)
        self.fields["customer_code"].widget.choices = customer_choices
        branch_choices = [("", "The customer's account branch")]
        branch_choices += list(branches)
        self.fields["branch_code"].widget.choices = branch_choices
        if customer_locked:
            # The customer of an order never changes (services.order_update refuses it).
            self.fields["customer_code"].widget = forms.HiddenInput()
        for name in ("customer_code", *REQUIRED_ORDER_FIELDS):
            if name in NEEDED_TO_SUBMIT_FIELDS:  # a draft is saved without them
                self.fields[name].is_needed_to_submit = True  # type: ignore[attr-defined]
                continue
            self.fields[name].widget.attrs["aria-required"] = "true"
            self.fields[name].is_required_in_intake = True  # type: ignore[attr-defined]


class LineForm(forms.Form):
    """One cargo line, in the intake vocabulary."""

    pieces = _number("Pieces", mode="numeric")
    package_type = _select("Package", [(value, f"{value} · {label}") for value, label in PackageType.choices])
    gross_weight_kg = _number("Gross kg")
    volume_m3 = _number("Volume m³")
    description = _text("Description", placeholder="Same as the order when empty")
    hs_code = _text("HS code", inputmode="numeric", autocomplete="off")
    length_cm = _number("L cm")
    width_cm = _number("W cm")
    height_cm = _number("H cm")
    container_number = _text("Container no.", autocomplete="off", spellcheck="false", placeholder="CSQU3054383")
    container_type = _text("ISO type", autocomplete="off", list="iso-types", placeholder="22G1")
    seal_numbers = _text("Seals", autocomplete="off", placeholder="Comma separated")
    awb_number = _text("AWB no.", autocomplete="off", placeholder="020-1234567 5")
    un_number = _text("UN no.", autocomplete="off", placeholder="1203")
    dg_class = _text("DG class", autocomplete="off", placeholder="3")
    packing_group = _select("PG", [("", "—"), *PackingGroup.choices])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial.setdefault("package_type", PackageType.PACKAGE)
        for name in ("pieces", "gross_weight_kg"):
            self.fields[name].widget.attrs["aria-required"] = "true"
            self.fields[name].is_required_in_intake = True  # type: ignore[attr-defined]

    def is_blank(self) -> bool:
        """Nothing typed (the package type alone has a default), so the row is left out."""
        return not any(v for name, v in self.cleaned_data.items() if name != "package_type")


@dataclass
class OrderEntry:
    """The entry form as a whole: the order's fields and its cargo lines, with errors from intake."""

    order: OrderForm
    lines: list[LineForm]
    errors: list[str] = field(default_factory=list)  # errors no field shows: on top of the form
    line_errors: list[str] = field(default_factory=list)  # about the lines as a whole

    @property
    def next_line_key(self) -> int:
        return max((int(f.prefix.rsplit("-", 1)[1]) for f in self.lines if f.prefix), default=-1) + 1

    @property
    def error_count(self) -> int:
        forms_ = [self.order, *self.lines]
        return len(self.errors) + len(self.line_errors) + sum(len(e) for f in forms_ for e in f.errors.values())

    def as_intake_data(self, *, draft: bool = False) -> dict[str, Any]:
        """The raw vocabulary every channel hands to orders.services. `draft`: a draft may have no cargo line yet,
        so the empty row the form keeps (entry_from_post) is left out instead of being reported as incomplete."""
        data: dict[str, Any] = {name: self.order.cleaned_data.get(name, "") for name in ORDER_FIELDS}
        lines = [line for line in self.lines if not (draft and line.is_blank())]
        data["lines"] = [{name: line.cleaned_data.get(name, "") for name in LINE_FIELDS} for line in lines]
        return data

    def attach_errors(self, errors: Mapping[str, list[str]]) -> None:
        """Put every intake message next to its field: `origin`, `lines[2].hs_code`, `lines[2]`, `lines`."""
        for key, messages in errors.items():
            match = ERROR_KEY_RE.fullmatch(key)
            if key in self.order.fields:
                self.order.add_error(key, list(messages))
            elif key == "lines":
                self.line_errors += messages
            elif match and int(match.group(1)) < len(self.lines):
                line, name = self.lines[int(match.group(1))], match.group(2)
                line.add_error(name if name in line.fields else None, list(messages))
            else:
                label = "" if key == "non_field_errors" else f"{key}: "
                self.errors += [f"{label}{message}" for message in messages]


def line_keys(data: QueryDict) -> list[str]:
    """The keys of the cargo-line rows in a POST, in the order they were on the page."""
    return list(dict.fromkeys(m.group(1) for name in data if (m := LINE_KEY_RE.match(name))))


def entry_from_post(
    data: QueryDict,
    *,
    customers: Iterable[tuple[str, str]],
    branches: Iterable[tuple[str, str]],
    locked_customer: str = "",
) -> OrderEntry:
    """The posted entry form; rows left entirely empty are dropped, so `lines[i]` is the i-th row shown.

    When every row is empty the first one stays: intake then names what that row lacks, next to its fields, and the
    person fills it in rather than finding the row gone and having to add a line again. A line without pieces and
    weight never passes intake, so keeping it lets no save through that dropping it would have refused.
    """
    if locked_customer:
        data = data.copy()
        data["customer_code"] = locked_customer
    order = OrderForm(data, customers=customers, branches=branches, customer_locked=bool(locked_customer))
    order.is_valid()  # only collects text: nothing here can be invalid
    lines: list[LineForm] = []
    blank: list[LineForm] = []
    for key in line_keys(data):
        line = LineForm(data, prefix=f"lines-{key}")
        line.is_valid()
        if line.is_blank():
            blank.append(line)
        else:
            lines.append(line)
    return OrderEntry(order=order, lines=lines or blank[:1])


def entry_from_data(
    data: Mapping[str, Any],
    *,
    customers: Iterable[tuple[str, str]],
    branches: Iterable[tuple[str, str]],
    customer_locked: bool = False,
) -> OrderEntry:
    """An unbound entry form starting from intake data (an order to edit or to duplicate), or blank."""
    order = OrderForm(
        initial={k: v for k, v in data.items() if k != "lines"},
        customers=customers,
        branches=branches,
        customer_locked=customer_locked,
    )
    lines = [LineForm(initial=line, prefix=f"lines-{i}") for i, line in enumerate(data.get("lines") or [{}])]
    return OrderEntry(order=order, lines=lines)


def _shown(field: forms.BoundField) -> str:
    """A field's value as its input shows it: what was typed, or the saved value the form started from."""
    value = field.value()
    if value is None:
        return ""
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).replace("\r\n", "\n").strip()


def _saved_label(field: forms.BoundField) -> str:
    shown = _shown(field)
    choices = {str(value): str(label) for value, label in getattr(field.field.widget, "choices", ())}
    return choices.get(shown) or shown or "(empty)"


def entry_differences(posted: OrderEntry, saved: OrderEntry) -> tuple[dict[str, str], bool]:
    """Where a posted entry form differs from the form of the order as saved: the saved value of each differing
    order field (by field name, as a person reads it), and whether the cargo lines differ. These are the fields
    someone else changed and those the person changed; the person decides which to keep."""
    values = {
        name: _saved_label(saved.order[name])
        for name in posted.order.fields
        if _shown(posted.order[name]) != _shown(saved.order[name])
    }

    def rows(entry: OrderEntry) -> list[list[str]]:
        return [[_shown(line[name]) for name in line.fields] for line in entry.lines]

    return values, rows(posted) != rows(saved)


class TransitionForm(forms.Form):
    """What a transition button posts: the state its page showed and, for a cancel or a hold, the reason.
    CharField refuses NUL, which PostgreSQL cannot store in the transition's reason (a 500 otherwise)."""

    seen_status = forms.CharField(required=False)
    reason = forms.CharField(required=False)

    def refusal(self) -> str:
        """Why the posted values cannot be used, or "" when they can."""
        if self.is_valid():
            return ""
        return " ".join(f"{name.replace('_', ' ').capitalize()}: {e}" for name, es in self.errors.items() for e in es)


# --- The list's filter bar --------------------------------------------------------------------


SEARCH_MAX_LENGTH = 200  # the search box's maxlength; a longer search is read up to it


class _SearchText(forms.CharField):
    """The list's search text. Django's CharField refuses NUL and then leaves the field out, so `?q=PO%00` listed
    every order; the search drops NUL instead (selectors.search_text), as the search box does. A search longer than
    the box takes (a pasted address in a hand-made link) is read up to SEARCH_MAX_LENGTH, as a browser shortens a
    paste into the box: a too-long search that was left out listed, and exported, every order."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators = [v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)]

    def to_python(self, value: Any) -> str:
        return str(super().to_python(value))[:SEARCH_MAX_LENGTH]


class _OrganisationCode(forms.CharField):
    """A customer or branch filter: the organisation's code, whatever the drop-down offers. The drop-down lists
    active organisations, yet a deactivated customer's orders are still looked up (the global search links to
    them); a code that names no organisation matches no order. A code left out because it was not offered made
    the list, and its export, hold every customer's orders. NUL, which no code holds, is dropped."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, **kwargs)
        self.validators = [v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)]

    def to_python(self, value: Any) -> str:
        return str(super().to_python(value)).replace("\x00", "").strip().upper()


class OrderFilterForm(forms.Form):
    """The order list's filters, read from the query string; anything malformed is ignored, except a customer or
    branch (read as a code, whether offered or not) and a search (read up to its length): leaving those out would
    widen the list, and its export, to every order."""

    q = _SearchText(required=False)
    status = forms.ChoiceField(required=False, choices=[("", "All states"), *OrderStatus.choices])
    customer = _OrganisationCode()
    mode = forms.ChoiceField(required=False, choices=[("", "All modes"), *Mode.choices])
    branch = _OrganisationCode()
    origin = forms.CharField(required=False, max_length=6)
    destination = forms.CharField(required=False, max_length=6)
    created_from = forms.DateField(required=False)
    created_to = forms.DateField(required=False)
    pickup_from = forms.DateField(required=False)
    pickup_to = forms.DateField(required=False)
    sort = forms.ChoiceField(required=False, choices=[(name, sort.label) for name, sort in SORTS.items()])
    page_size = forms.TypedChoiceField(required=False, coerce=int, choices=[(n, n) for n in PAGE_SIZES])
    cursor = forms.CharField(required=False, max_length=500)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The orders an order file created (`?import=<job id>`, linked from its result page): `import` is a
        # keyword, so the field cannot be declared above.
        self.fields["import"] = forms.UUIDField(required=False)

    def to_filters(self) -> OrderFilters:
        self.is_valid()
        data = self.cleaned_data  # holds only the fields that parsed

        def date(name: str) -> datetime.date | None:
            value = data.get(name)
            return value if isinstance(value, datetime.date) else None

        return OrderFilters(
            status=data.get("status") or "",
            customer=data.get("customer") or "",
            mode=data.get("mode") or "",
            branch=data.get("branch") or "",
            origin=(data.get("origin") or "").strip().upper(),
            destination=(data.get("destination") or "").strip().upper(),
            created_from=date("created_from"),
            created_to=date("created_to"),
            pickup_from=date("pickup_from"),
            pickup_to=date("pickup_to"),
            import_job=data.get("import") or None,
            q=(data.get("q") or "").strip(),
            sort=data.get("sort") or DEFAULT_SORT,
            cursor=data.get("cursor") or "",
            page_size=data.get("page_size") or DEFAULT_PAGE_SIZE,
        )
