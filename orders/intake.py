"""One validation layer for every intake channel: screen, API, file and webhook.

`validate_order(data, scope=..., lookups=...)` takes the raw vocabulary every channel shares (the bulk
template's columns; lines as a list) and returns the clean values ready for the model, or every error
it found as `{field: [messages]}`, with line fields named `lines[0].hs_code`. It reads the database
only through `Lookups`, which a batch (a file of 100,000 rows) fills once.

Fast because a file calls it once per order, for 100,000 rows in seconds — never by having a second,
lighter set of rules for files. The screen form, the API, the webhooks and the import all run exactly
this code; only how much work is shared between calls differs:
- the database is read only through `Lookups`, filled in bulk once per file (customers, locations) or
  once per call (one order on a screen);
- tables are built once per process: choice lists, package aliases, the HS list, ISO 4217 codes;
- pure checks of a value (an HS code, a currency) are memoised by the value: a file repeats the same few
  codes on thousands of rows, and the answer to "is 940542 a heading?" cannot change within a process;
- each field is read and stripped once per order, absent optional fields cost a dictionary lookup, and
  numbers take a direct path for plain digits before the general Decimal rules;
- no Django form, model instance or `full_clean` per order: the rules are applied directly, as they
  always were here.
Tests pin every rule's message (tests/orders/test_intake.py) and prove that a file row and an API body (the
screen posts the same vocabulary to the same service) get the same messages (tests/orders/test_intake_channels.py).

The rules are split by what they read, each module importing only those below it:
- `orders.intake` (here): `validate_order`, the vocabulary, and the order's own fields — customer, branch, mode,
  service level, Incoterm and named place, lane, dates, declared value, references, the list of cargo lines and the
  order's totals;
- `orders.intake_lines`: one cargo line (numbers, package, goods, HS code, air waybill, dangerous goods);
- `orders.intake_containers`: a line's container and seals, and the order's equipment made of them;
- `orders.intake_values`: reading one raw value (text, numbers, amounts, dates, choices) and the errors of a
  validation;
- `orders.intake_lookups`: `Lookups`, what validation reads from the database, once per batch.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

import pycountry

from orders import identifiers
from orders.cargo import totals
from orders.intake_containers import _equipment
from orders.intake_lines import _line
from orders.intake_lookups import Lookups
from orders.intake_values import _REQUIRED, _choice, _date, _declared_value, _Errors, _str, _too_long
from orders.models import SEA_MODES, SEA_ONLY_INCOTERMS, Incoterm, Mode, ServiceLevel
from partners.models import Organisation, OrganisationKind
from partners.scoping import Scope

ORDER_FIELDS = (
    "customer_code", "customer_reference", "branch_code", "mode", "service_level", "incoterm", "named_place",
    "origin", "origin_address", "destination", "destination_address",
    "shipper_name", "shipper_address", "consignee_name", "consignee_address", "notify_name", "notify_address",
    "description", "requested_pickup_on", "requested_delivery_on", "declared_value", "currency",
    "special_instructions",
)  # fmt: skip
LINE_FIELDS = (
    "pieces", "package_type", "gross_weight_kg", "volume_m3", "description", "hs_code",
    "length_cm", "width_cm", "height_cm", "container_number", "container_type", "seal_numbers",
    "awb_number", "un_number", "dg_class", "packing_group",
)  # fmt: skip
REQUIRED_ORDER_FIELDS = (
    "customer_reference", "mode", "incoterm", "origin", "destination", "shipper_name", "consignee_name",
    "requested_pickup_on",
)  # fmt: skip
# What a draft may still lack (validate_order(draft=True)), with a cargo line: submitting needs them
# (lifecycle checks the order before it submits). A draft has what files, sorts and routes it: customer,
# reference, mode, lane and pickup date (docs/decisions/0002, "Drafts").
NEEDED_TO_SUBMIT_FIELDS = ("incoterm", "shipper_name", "consignee_name")
MAX_LINES = 500

# E and F terms: the seller hands over at origin; C and D terms name the destination.
_ORIGIN_PLACE_TERMS = frozenset({Incoterm.EXW, Incoterm.FCA, Incoterm.FAS, Incoterm.FOB})
# Choice lists, built once: TextChoices.values rebuilds its list on every access, and a 100,000-row
# import asks for them several times per row.
_MODES, _SERVICE_LEVELS, _INCOTERMS = tuple(Mode.values), tuple(ServiceLevel.values), tuple(Incoterm.values)
_ORDER_FIELD_SET = frozenset(ORDER_FIELDS)
_KNOWN_KEYS = _ORDER_FIELD_SET | {"lines", "submit"}
# The order's totals, NUMERIC(14, 3) and NUMERIC(14, 4): many lines (or LCL's 1 m³ = 1,000 kg) can add up
# to more than a column holds although each line is within its own.
_TOTAL_LIMITS = (
    ("gross_weight_kg_total", "total gross weight", "kg", Decimal(10) ** 11),
    ("volume_m3_total", "total volume", "m³", Decimal(10) ** 10),
    ("chargeable_weight_kg", "chargeable weight", "kg", Decimal(10) ** 11),
)  # fmt: skip
_NUL_MESSAGE = "Contains a NUL character; remove it."
# The order's text columns and their lengths. A longer value is an error, never cut short: a cut reference
# would no longer match the customer's own (and two references differing after the cut would collide).
_TEXT_LIMITS = (
    ("customer_reference", 64), ("named_place", 100), ("shipper_name", 200), ("consignee_name", 200),
    ("notify_name", 200), ("description", 300),
)  # fmt: skip
# A UN/LOCODE names a whole city: a port or an airport to itself is no transport, a truck or a parcel across the
# city is (a shop's local deliveries, a distributor's drops).
_WITHIN_ONE_CITY_MODES = frozenset({Mode.ROAD_FTL, Mode.ROAD_LTL, Mode.PARCEL})


@cache
def currency_problem(code: str) -> str | None:
    if len(code) != 3 or not code.isalpha() or pycountry.currencies.get(alpha_3=code) is None:
        return f"{code} is not an ISO 4217 currency code, e.g. EUR or USD."
    return None


def derived_named_place(*, incoterm: str, origin: str, destination: str, lookups: Lookups) -> str:
    """The named place an Incoterm takes when none is given: the origin's name for the E and F rules (EXW, FCA,
    FAS, FOB), the destination's for the C and D rules; "" without a term or a known place."""
    if not incoterm:
        return ""
    code = origin if incoterm in _ORIGIN_PLACE_TERMS else destination
    known = lookups.location(code) if code else None
    return known[1] if known else ""


@dataclass
class CleanOrder:
    order: dict[str, Any]
    lines: list[dict[str, Any]]
    equipment: list[dict[str, Any]]


def _location(code: str, name: str, errors: _Errors, lookups: Lookups) -> str:
    written = code.strip()
    code = code.replace(" ", "").upper()
    if not code:
        return ""
    # Said of the text as typed ("Hamburg"): in capitals it would read as a code.
    problem = identifiers.unlocode_shape_problem(code, written=written)
    if problem:
        errors.add(name, problem + lookups.place_hint(written))
        return ""
    known = lookups.location(code)
    if known is None:
        hint = lookups.place_hint(written) or " Check the code, or ask an admin to import it."
        errors.add(name, f"{code} is not in our UN/LOCODE list.{hint}")
        return ""
    if not known[0]:
        errors.add(name, f"{code} is a retired UN/LOCODE; use its replacement.")
        return ""
    return code


def _customer(code: str, scope: Scope, lookups: Lookups, errors: _Errors) -> Organisation | None:
    code = code.upper()
    if scope.is_customer:
        customer = _own_customer(code, scope, lookups, errors)
        if customer is None:
            return None
    elif scope.is_staff:
        if not code:
            errors.add("customer_code", _REQUIRED)
            return None
        customer = lookups.customer(code)
        if customer is None:
            errors.add("customer_code", f"There is no customer with code {code}.{lookups.customer_hint(code)}")
            return None
    else:
        errors.add("customer_code", "Only our staff and customers can place orders.")
        return None
    if OrganisationKind.CUSTOMER not in customer.kinds:
        errors.add("customer_code", f"{customer.code} is not a customer.")
        return None
    if not customer.is_active:
        errors.add("customer_code", f"{customer.code} is inactive and cannot place orders.")
        return None
    if not customer.may_place_orders:
        errors.add("customer_code", f"{customer.code} may not place orders at the moment (e.g. credit hold).")
        return None
    return customer


def _own_customer(code: str, scope: Scope, lookups: Lookups, errors: _Errors) -> Organisation | None:
    """The customer a customer person or key orders for: the one named, if the scope acts for it; else the scope's
    only organisation. Someone acting for several customers names one: guessing would file the order under the
    wrong company. Another customer's code is answered like an unknown one, naming only the scope's own codes."""
    ids = scope.organisation_ids
    if code:
        customer = lookups.customer(code)
        if customer is not None and customer.pk in ids:
            return customer
        errors.add("customer_code", f"You can only place orders for {_scope_codes(scope, lookups)}.")
        return None
    if not ids:
        errors.add("customer_code", "Only our staff and customers can place orders.")
        return None
    if len(ids) > 1:
        errors.add(
            "customer_code",
            f"You act for several customers ({_scope_codes(scope, lookups, joined_by=', ')}): "
            "name the one this order is for in customer_code.",
        )
        return None
    (own_id,) = ids
    own = next((o for o in lookups.customers.values() if o is not None and o.pk == own_id), None)
    if own is None:
        own = Organisation.objects.select_related("account_branch").get(pk=own_id)
        lookups.customers[own.code] = own
    return own


def _scope_codes(scope: Scope, lookups: Lookups, *, joined_by: str = " or ") -> str:
    """The codes of the customers a customer scope acts for, for a message ("ACME or GLOBEX"): one query per
    batch at most, and only on the way to an error."""
    if scope.organisation_ids not in lookups.scope_codes:
        lookups.scope_codes[scope.organisation_ids] = sorted(
            Organisation.objects.filter(pk__in=scope.organisation_ids).values_list("code", flat=True)
        )
    codes = lookups.scope_codes[scope.organisation_ids]
    return f"{', '.join(codes[:-1])}{joined_by}{codes[-1]}" if len(codes) > 1 else "".join(codes)


def _branch(
    code: str,
    customer: Organisation | None,
    scope: Scope,
    lookups: Lookups,
    errors: _Errors,
    current: Organisation | None = None,
):
    """The handling branch: the one staff name, else the one the order gets without a choice (`_implied_branch`).
    Anyone else may name only that one (the branch_code GET returns): naming it chooses nothing, so an order read
    by GET can be sent back by PUT or cloned by POST; naming another is refused."""
    code = code.upper()
    if code and scope.is_staff:
        branch = lookups.branch(code)
        if branch is None or OrganisationKind.BRANCH not in branch.kinds or not branch.is_active:
            errors.add("branch_code", f"{code} is not one of our active branches.")
            return None
        return branch
    branch = _implied_branch(customer, scope, lookups, current)
    if code and (branch is None or branch.code != code):
        errors.add("branch_code", "Only our staff choose the handling branch.")
        return None
    if branch is None and scope.is_customer:
        errors.add("branch_code", "Your account has no handling branch yet; please ask your account manager.")
    elif branch is None:
        errors.add("branch_code", "Name the branch that handles this order (the customer has no account branch).")
    return branch


def _implied_branch(
    customer: Organisation | None, scope: Scope, lookups: Lookups, current: Organisation | None
) -> Organisation | None:
    """The branch an order gets when no branch is named: the one it has (an edit by someone who may not choose),
    the customer's account branch, else our only branch (customers) or the staff member's own branch."""
    if current is not None:
        return current
    if customer is not None and customer.account_branch_id:
        return customer.account_branch
    if scope.is_customer:
        if "" not in lookups.branches:  # cache "the only branch" (None when there are several)
            branches = list(Organisation.objects.branches().active()[:2])
            lookups.branches[""] = branches[0] if len(branches) == 1 else None
        return lookups.branches[""]
    if scope.is_staff:
        for organisation_id in sorted(scope.organisation_ids):
            branch = next((b for b in lookups.branches.values() if b and b.pk == organisation_id), None)
            branch = branch or Organisation.objects.filter(pk=organisation_id, kinds__contains=["branch"]).first()
            if branch is not None:
                lookups.branches[branch.code] = branch
                return branch
    return None


_LINES_AS_A_LIST = 'Send lines as a list of cargo lines, even for one line: [{"pieces": 1, "gross_weight_kg": "5"}].'


def _lines(raw_lines: Any, mode: str, order_description: str, errors: _Errors) -> list[dict[str, Any]]:
    if raw_lines not in (None, "") and not isinstance(raw_lines, list | tuple):
        # Most often one line sent as an object: "needs at least one cargo line" would deny the line it sent.
        errors.add("lines", _LINES_AS_A_LIST)
        return []
    if not raw_lines:
        errors.add("lines", "An order needs at least one cargo line.")
        return []
    if len(raw_lines) > MAX_LINES:
        errors.add("lines", f"An order can have at most {MAX_LINES} cargo lines.")
        return []
    clean = []
    for index, raw in enumerate(raw_lines):
        if not isinstance(raw, Mapping):
            errors.add(f"lines[{index}]", "Each cargo line must be an object with its fields.")
            continue
        line = _line(raw, f"lines[{index}].", mode, order_description, errors)
        line["line_no"] = index + 1
        clean.append(line)
    return clean


def _total_problems(order: Mapping[str, Any], errors: _Errors) -> None:
    for name, label, unit, limit in _TOTAL_LIMITS:
        if order[name] >= limit:
            errors.add(
                "lines",
                f"The cargo lines add up to a {label} of {order[name]:,} {unit}; an order holds less than {limit:,}.",
            )


# Characters a reference cannot hold: control characters, and the invisible "format" ones (Unicode category Cf:
# zero-width spaces and joiners, bidirectional overrides and isolates, the byte order mark, the soft hyphen). A
# reference is the sender's key, compared character by character: "PO-\u200b1001" reads exactly like "PO-1001"
# on every screen and in every file, yet would be a second order beside it, and a right-to-left override makes a
# reference read as another one.
_HIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _hidden_character(value: str) -> str | None:
    """Why a reference cannot be stored as it is (naming the character), or None."""
    found: re.Match[str] | str | None = _HIDDEN.search(value)
    if found is None and not value.isascii():
        found = next((char for char in value if unicodedata.category(char) == "Cf"), None)
    if found is None:
        return None
    char = found if isinstance(found, str) else found.group()
    return (
        f"Contains an invisible character (U+{ord(char):04X}); remove it: a reference must read as it is stored, "
        "or it would stand beside an order whose reference looks the same."
    )


_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_MESSAGE = "Contains a character that is not valid Unicode (a lone surrogate); remove it."
_SCALARS = (str, int, float, Decimal, datetime.date)


def _value_problem(value: Any) -> str | None:
    """Why a raw value cannot be stored as one field, or None: a NUL (PostgreSQL cannot store it), a lone
    surrogate (no UTF-8 for it), a list or an object where one value belongs (it would be stored as Python's
    repr of it), true or false."""
    if type(value) is str:
        if "\x00" in value:
            return _NUL_MESSAGE
        if not value.isascii() and _SURROGATE.search(value):
            return _SURROGATE_MESSAGE
        return None
    if value is None:
        return None
    if isinstance(value, bool):
        return "Send text or a number here, not true or false."
    if isinstance(value, _SCALARS):
        return None
    return f"Send text or a number here, not {'a list' if isinstance(value, list | tuple) else 'an object'}."


def _refuse_unstorable_values(data: Mapping[str, Any], errors: _Errors) -> None:
    """Every field of the order and its lines holds one storable value; seal numbers may be a list of texts."""
    for name, value in data.items():
        if name not in ("lines", "submit") and (problem := _value_problem(value)):  # lines: checked below
            errors.unreadable_value(name, problem)
    raw_lines = data.get("lines")
    if isinstance(raw_lines, list | tuple):
        for index, line in enumerate(raw_lines):
            if not isinstance(line, Mapping):
                continue
            for name, value in line.items():
                if name == "seal_numbers":  # text or a list of texts: intake_containers._seals checks the shape
                    parts = value if isinstance(value, list | tuple) else [value]
                    problems = (_value_problem(part) for part in parts if type(part) is str)
                    problem = next((found for found in problems if found), None)
                else:
                    problem = _value_problem(value)
                if problem:
                    errors.unreadable_value(f"lines[{index}].{name}", problem)


def validate_order(
    data: Mapping[str, Any],
    *,
    scope: Scope,
    lookups: Lookups | None = None,
    current_branch: Organisation | None = None,
    points_may_group_thousands: bool = False,
    draft: bool = False,
) -> tuple[CleanOrder | None, dict[str, list[str]]]:
    """Check raw order data; return (clean order, {}) or (None, errors by field). `current_branch`: the
    branch an edited order keeps when no branch is named (services.order_update passes it for customers).
    `draft`: the data of a draft, which may lack NEEDED_TO_SUBMIT_FIELDS and cargo lines (what it has is checked).
    `points_may_group_thousands`: the data comes from a file where "1.500" may mean fifteen hundred (written
    with semicolons), so that shape is refused instead of read as 1.5."""
    lookups = lookups or Lookups()
    errors = _Errors(points_may_group_thousands=points_may_group_thousands)
    if not isinstance(data, Mapping):
        return None, {"non_field_errors": ["Send the order as an object of fields."]}
    _refuse_unstorable_values(data, errors)
    # Every order field, read and stripped once.
    text = {name: _str(value) for name, value in data.items() if name in _ORDER_FIELD_SET}
    field_text = text.get
    unknown = [name for name in data if name not in _KNOWN_KEYS]
    for name in sorted(unknown):
        errors.add(name, "This field is not part of an order (state and references are set by OMS).")
    for name in REQUIRED_ORDER_FIELDS:
        if not field_text(name) and not (draft and name in NEEDED_TO_SUBMIT_FIELDS):
            errors.add(name, _REQUIRED)
    for name, limit in _TEXT_LIMITS:
        value = field_text(name)
        if value and len(value) > limit:
            errors.add(name, _too_long(value, limit))
    if problem := _hidden_character(field_text("customer_reference", "")):
        errors.add("customer_reference", problem)

    customer = _customer(field_text("customer_code", ""), scope, lookups, errors)
    # The branch follows from the customer: a refused customer is the error, not a branch nobody could find.
    branch = (
        None
        if "customer_code" in errors
        else _branch(field_text("branch_code", ""), customer, scope, lookups, errors, current_branch)
    )
    mode = _choice(field_text("mode", ""), "mode", errors, _MODES, "ocean_fcl") if "mode" not in errors else ""
    service_level = field_text("service_level") or ServiceLevel.STANDARD
    service_level = _choice(service_level, "service_level", errors, _SERVICE_LEVELS, "standard")
    incoterm = field_text("incoterm", "").upper()
    if incoterm:
        incoterm = _choice(incoterm, "incoterm", errors, _INCOTERMS, "FCA")
        if incoterm in SEA_ONLY_INCOTERMS and mode and mode not in SEA_MODES:
            errors.add(
                "incoterm",
                f"{incoterm} is for sea and inland waterway only; for {Mode(mode).label} use FCA, CPT or CIP.",
            )

    origin = _location(field_text("origin", ""), "origin", errors, lookups)
    destination = _location(field_text("destination", ""), "destination", errors, lookups)
    if origin and origin == destination and mode not in _WITHIN_ONE_CITY_MODES:
        errors.add("destination", "Destination must differ from the origin.")

    pickup = _date(data.get("requested_pickup_on"), "requested_pickup_on", errors, required=False)
    delivery = _date(data.get("requested_delivery_on"), "requested_delivery_on", errors, required=False)
    if pickup and delivery and delivery < pickup:
        errors.add("requested_delivery_on", "Delivery cannot be before pickup.")

    currency = field_text("currency", "").upper()
    problem = currency_problem(currency) if currency else None
    declared_value = _declared_value(data.get("declared_value"), "" if problem else currency, errors)
    if problem:
        errors.add("currency", problem)
    if declared_value is not None and not currency:
        errors.add("currency", "Give the currency of the declared value, e.g. EUR.")
    if currency and declared_value is None and "declared_value" not in errors:
        errors.add("declared_value", "Give the declared value for this currency, or leave both empty.")

    description = field_text("description", "")
    raw_lines = data.get("lines")
    lines = [] if draft and raw_lines in (None, "", [], ()) else _lines(raw_lines, mode, description, errors)
    equipment = _equipment(lines, errors)
    if errors.by_field:
        return None, errors.by_field
    cargo_totals = totals(lines, mode=mode)
    _total_problems(cargo_totals, errors)
    if errors.by_field:
        return None, errors.by_field

    # Incoterms need a named place; the lane gives the obvious one.
    named_place = field_text("named_place", "") or derived_named_place(
        incoterm=incoterm, origin=origin, destination=destination, lookups=lookups
    )
    order = {
        "customer": customer,
        "customer_reference": field_text("customer_reference", ""),
        "branch": branch,
        "mode": mode,
        "service_level": service_level,
        "incoterm": incoterm,
        "named_place": named_place,
        "origin_id": origin,
        "origin_address": field_text("origin_address", ""),
        "destination_id": destination,
        "destination_address": field_text("destination_address", ""),
        "shipper_name": field_text("shipper_name", ""),
        "shipper_address": field_text("shipper_address", ""),
        "consignee_name": field_text("consignee_name", ""),
        "consignee_address": field_text("consignee_address", ""),
        "notify_name": field_text("notify_name", ""),
        "notify_address": field_text("notify_address", ""),
        "description": description,
        "requested_pickup_on": pickup,
        "requested_delivery_on": delivery,
        "declared_value_amount": declared_value,
        "declared_value_currency": currency,
        "special_instructions": field_text("special_instructions", ""),
        **cargo_totals,
    }
    return CleanOrder(order=order, lines=lines, equipment=equipment), {}
