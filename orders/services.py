"""Every write to orders: create, update while draft, submit, cancel. Each intake channel calls these.

Effects after commit: `order_created` and `order_status_changed` domain events (orders/events.py).
History: django-pghistory triggers record every row change; each write's own context (`history.write_context`)
adds who and which channel, so the audit trail is the same whichever way an order came in.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Mapping
from contextlib import AbstractContextManager
from decimal import Decimal
from operator import attrgetter
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from pghistory import config as pghistory_config

from orders import events, history, lifecycle
from orders.currencies import amount_as_given
from orders.errors import OrderError, OrderValidationError, OrderVersionConflict
from orders.intake import CleanOrder, derived_named_place, validate_order
from orders.intake_containers import MAX_SEALS_PER_LINE
from orders.intake_lookups import Lookups
from orders.models import ORDER_NOTE, CargoLine, Equipment, Order, OrderEvent, OrderStatus
from orders.references import issue_references
from partners.models import ApiKey, User
from partners.scoping import Scope


def search_text_for(order: Mapping[str, Any], lines: list[dict[str, Any]], *, reference: str) -> str:
    """The words an order is found by: references, customer, parties, lane, goods and equipment. Each part once:
    lines often repeat the order's description and HS code, and PostgreSQL tokenises every copy for the index."""
    customer = order["customer"]
    parts = [
        reference, order["customer_reference"], customer.code, customer.name, order["shipper_name"],
        order["consignee_name"], order["notify_name"], order["origin_id"], order["destination_id"],
        order["description"],
    ]  # fmt: skip
    for line in lines:
        parts += [line["description"], line["container_number"], line["awb_number"], line["hs_code"]]
    return " ".join(dict.fromkeys(part for part in parts if part))


def _history_context(*, by: Any, api_key: Any, channel: str) -> AbstractContextManager[None]:
    return history.write_context(user=getattr(by, "pk", None), api_key=getattr(api_key, "pk", None), channel=channel)


def _duplicate_message(customer_code: str, customer_reference: str) -> dict[str, list[str]]:
    """The order that holds the reference, in any case (the unique index's rule), named as it writes it."""
    existing = Order.objects.filter(customer__code=customer_code, customer_reference__iexact=customer_reference).first()
    written, where = (existing.customer_reference, f" ({existing.reference})") if existing else (customer_reference, "")
    return {"customer_reference": [f"{customer_code} already has an order with reference {written}{where}."]}


def _write_lines(order: Order, clean: CleanOrder) -> None:
    CargoLine.objects.bulk_create([CargoLine(order=order, **line) for line in clean.lines])
    Equipment.objects.bulk_create([Equipment(order=order, **box) for box in clean.equipment])


def order_create(
    *,
    data: Mapping[str, Any],
    scope: Scope,
    channel: str,
    by: Any = None,
    api_key: Any = None,
    submit: bool = False,
    lookups: Lookups | None = None,
) -> Order:
    """Validate raw order data and create the order (as a draft, or submitted). After commit: order_created,
    and order_status_changed when submitted. Raises OrderValidationError with every error by field. A draft may
    lack what only submitting needs (intake.NEEDED_TO_SUBMIT_FIELDS, cargo lines)."""
    clean, errors = validate_order(data, scope=scope, lookups=lookups, draft=not submit)
    if clean is None:
        raise OrderValidationError(errors)
    values = clean.order
    (reference,) = issue_references(branch_code=values["branch"].code, year=timezone.localdate().year)
    with transaction.atomic(), _history_context(by=by, api_key=api_key, channel=channel):
        try:
            with transaction.atomic():
                order = Order.objects.create(
                    reference=reference,
                    channel=channel,
                    created_by=by if getattr(by, "pk", None) else None,
                    updated_by_id=getattr(by, "pk", None),
                    updated_by_key_id=getattr(api_key, "pk", None),
                    search_text=search_text_for(values, clean.lines, reference=reference),
                    **values,
                )
        except IntegrityError as exc:
            if "order_customer_reference_unique" in str(exc):
                raise OrderValidationError(
                    _duplicate_message(values["customer"].code, values["customer_reference"])
                ) from exc
            raise
        _write_lines(order, clean)
        order_id = order.pk
        transaction.on_commit(lambda: events.order_created.send(sender=Order, order_id=order_id, channel=channel))
        if submit:
            order = lifecycle.apply(order, "submit", scope=scope, by=by, api_key=api_key, channel=channel)
    return order


def order_version(order: Order) -> str:
    """The version of the order as read: it changes with every save of the order (an edit, a transition). The
    edit form carries it and the API sends it as the ETag; an edit made against an older one is refused
    (OrderVersionConflict). It is `updated_at` to the microsecond, which every write of an order sets
    (docs/decisions/0002, "Lost updates"); callers treat it as opaque."""
    return order.updated_at.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def _as_time(moment: datetime.datetime) -> str:
    local = timezone.localtime(moment)
    return f"{local.day} {local:%b %Y} at {local:%H:%M:%S} {local.tzname()}"


def _last_saved_by(order: Order, *, scope: Scope, by: Any, api_key: Any) -> str | None:
    """Who saved the order last: the user or API key that wrote its version (Order.updated_by, updated_by_key, set
    with `updated_at` by every write under the row lock). It was read from the newest cargo-line event, which a
    draft without lines does not write: the alert then said "someone else", or named an earlier writer. Customers
    learn the names of their own people and keys only, as they learn nothing else of our internal work. None: no
    one known (a write by the system)."""
    key_id, user_id = order.updated_by_key_id, order.updated_by_id
    if isinstance(key_id, int):
        if key_id == getattr(api_key, "pk", None):
            return "this API key (in another request)"
        key = ApiKey.objects.filter(pk=key_id).values("name", "organisation_id").first()
        if key is None:
            return None
        return f"API key “{key['name']}”" if scope.owns(key["organisation_id"]) else "the OMS team"
    if isinstance(user_id, int):
        if user_id == getattr(by, "pk", None):
            return "you (in another tab or window)"
        users = User.objects.filter(pk=user_id)
        if not scope.is_staff:
            users = users.filter(memberships__organisation_id__in=sorted(scope.organisation_ids))
        user = users.only("email", "full_name").first()
        if user is None:
            return "the OMS team" if not scope.is_staff else None
        return f"{user.full_name} ({user.email})" if user.full_name else user.email
    return None


def order_version_conflict(
    *, order: Order, expected_version: str | None, scope: Scope, by: Any = None, api_key: Any = None
) -> OrderVersionConflict | None:
    """The error saying when and by whom the order was saved if `order` as read is not at `expected_version`;
    None when it is (or nothing is expected). order_update raises it under the row lock; interfaces may ask
    earlier, about what they read, to refuse a stale request before anything else (an HTTP precondition)."""
    if expected_version is None or expected_version == order_version(order):
        return None
    who = _last_saved_by(order, scope=scope, by=by, api_key=api_key)
    when = _as_time(order.updated_at)
    saved = f"{who} saved it on {when}" if who else f"it was saved on {when}"
    return OrderVersionConflict(
        f"{order.reference} was changed since you opened it: {saved}.",
        current_version=order_version(order),
        changed_at=order.updated_at,
        changed_by=who,
    )


def _editable_data(order: Order, *, scope: Scope) -> dict[str, Any]:
    """The order's data as an edit by this scope starts from (order_as_data)."""
    data = order_as_data(order)
    if not scope.is_staff:
        # order_as_data names the branch, and intake lets only staff name one: a customer's partial edit
        # would otherwise fail on a field it never sent.
        data.pop("branch_code")
    return data


def _without_own_branch(data: Mapping[str, Any], *, branch_code: str) -> Mapping[str, Any]:
    """`data` without its branch_code when it names the order's own branch: a customer may send back the order
    it read (GET, change, PUT), and naming the branch it has chooses nothing. Another branch stays, for intake
    to refuse (only staff choose the handling branch)."""
    sent = data.get("branch_code")
    if isinstance(sent, str) and sent.strip().upper() == branch_code:
        return {name: value for name, value in data.items() if name != "branch_code"}
    return data


def _stored_place_to_rederive(order: Order, lookups: Lookups) -> str:
    """The order's named place when it is the one OMS derived for its Incoterm and lane (intake fills it when none
    is given), so that it follows a new term or lane; "" when someone gave it (it stays) or there is none."""
    derived = derived_named_place(
        incoterm=order.incoterm, origin=order.origin_id, destination=order.destination_id, lookups=lookups
    )
    return order.named_place if derived and order.named_place == derived else ""


def _rederiving_named_place(data: Mapping[str, Any], *, derived_place: str) -> Mapping[str, Any]:
    """`data` with its named place left empty, for intake to derive it again from the new term and lane, when it is
    `derived_place` (what OMS derived for the order as stored) sent back unchanged, or left out of a partial edit."""
    sent = data.get("named_place")
    if derived_place and isinstance(sent, str) and sent.strip() == derived_place:
        return {**data, "named_place": ""}
    return data


def _validated(
    data: Mapping[str, Any], *, scope: Scope, current_branch: Any, lookups: Lookups, submitting: bool
) -> CleanOrder:
    clean, errors = validate_order(
        data, scope=scope, current_branch=current_branch, lookups=lookups, draft=not submitting
    )
    if clean is None:
        raise OrderValidationError(errors)
    return clean


def order_update(
    *,
    order: Order,
    data: Mapping[str, Any],
    scope: Scope,
    channel: str,
    by: Any = None,
    api_key: Any = None,
    partial: bool = False,
    expected_version: str | None = None,
    submitting: bool = False,
) -> Order:
    """Replace a draft order's data and cargo with `data` (the same vocabulary as creation). `partial`: only
    the fields `data` names change, the others keep what the locked row holds (`lines`, when named, replaces
    every line). `expected_version`: the order_version the caller read; when the order was saved since,
    OrderVersionConflict (nothing is written). None: no check (last save wins). Only staff choose the branch:
    for anyone else the order keeps its branch (never the account branch's default), and naming that one is
    no choice. A named place OMS derived follows a new Incoterm or lane; one someone gave stays. `submitting`:
    the caller submits next, so everything a submit needs is checked here (on the fields) instead of a draft's."""
    keeps_branch = not scope.is_staff
    if keeps_branch:
        data = _without_own_branch(data, branch_code=order.branch.code)
    lookups = Lookups().preload(location_codes=[order.origin_id, order.destination_id])
    derived_place = _stored_place_to_rederive(order, lookups)
    # A whole replacement is checked before the lock; a partial one can be checked only against the locked row.
    clean = None
    if not partial:
        clean = _validated(
            _rederiving_named_place(data, derived_place=derived_place), scope=scope,
            current_branch=order.branch if keeps_branch else None, lookups=lookups, submitting=submitting,
        )  # fmt: skip
    with transaction.atomic(), _history_context(by=by, api_key=api_key, channel=channel):
        # of=self: the customer and branch rows are read, not locked (every edit of their orders would queue).
        locked = Order.objects.select_for_update(of=("self",)).select_related("customer", "branch").get(pk=order.pk)
        if locked.status != OrderStatus.DRAFT:
            raise OrderError(
                f"Only draft orders can be edited; {locked.reference} is {locked.get_status_display().lower()}."
            )
        conflict = order_version_conflict(
            order=locked, expected_version=expected_version, scope=scope, by=by, api_key=api_key
        )
        if conflict is not None:
            raise conflict
        if clean is not None and _stored_place_to_rederive(locked, lookups) != derived_place:
            clean = None  # saved meanwhile with another place: decide on the row as locked
        if clean is None:
            merged = {**_editable_data(locked, scope=scope), **data} if partial else data
            clean = _validated(
                _rederiving_named_place(merged, derived_place=_stored_place_to_rederive(locked, lookups)), scope=scope,
                current_branch=locked.branch if keeps_branch else None, lookups=lookups, submitting=submitting,
            )  # fmt: skip
        if clean.order["customer"].pk != locked.customer_id:
            raise OrderValidationError(
                {"customer_code": ["The customer of an order cannot change; cancel it and create a new one."]}
            )
        if keeps_branch:
            clean.order["branch"] = locked.branch  # as locked: staff may have moved it since `order` was read
        for name, value in clean.order.items():
            setattr(locked, name, value)
        locked.search_text = search_text_for(clean.order, clean.lines, reference=locked.reference)
        locked.updated_by_id, locked.updated_by_key_id = getattr(by, "pk", None), getattr(api_key, "pk", None)
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError as exc:
            if "order_customer_reference_unique" in str(exc):
                raise OrderValidationError(
                    _duplicate_message(locked.customer.code, clean.order["customer_reference"])
                ) from exc
            raise
        locked.lines.all().delete()
        locked.equipment.all().delete()
        _write_lines(locked, clean)
    return locked


# The transitions below record who and which channel in their history context themselves (lifecycle.apply).


def order_submit(*, order: Order, scope: Scope, channel: str, by: Any = None, api_key: Any = None) -> Order:
    """Submit a draft order to operations. After commit: order_status_changed."""
    return lifecycle.apply(order, "submit", scope=scope, by=by, api_key=api_key, channel=channel)


def order_cancel(
    *, order: Order, scope: Scope, channel: str, reason: str, by: Any = None, api_key: Any = None
) -> Order:
    """Cancel an order, with the reason. After commit: order_status_changed."""
    return lifecycle.apply(order, "cancel", scope=scope, by=by, api_key=api_key, channel=channel, reason=reason)


def _equipment_by_line(lines: list[CargoLine], boxes: list[Equipment]) -> list[tuple[str, str]]:
    """(ISO type, seals) to show on each line so that intake rebuilds the same boxes from them. A numbered box
    gives its type to each of its lines and spreads its seals over them, at most MAX_SEALS_PER_LINE a line
    (intake merged them from several lines; repeating them all on every line would exceed the limit). An
    unnumbered box goes on the next line without a container number (intake made one per typed line)."""
    numbered = {box.container_number: box for box in boxes if box.container_number}
    unnumbered = iter([box for box in boxes if not box.container_number])
    lines_left = Counter(line.container_number for line in lines if line.container_number)
    seals_left = {number: list(box.seal_numbers) for number, box in numbered.items()}
    shown = []
    for line in lines:
        number = line.container_number
        if number:
            box, lines_left[number] = numbered.get(number), lines_left[number] - 1
            left = seals_left.get(number, [])
            take = len(left) if lines_left[number] == 0 else MAX_SEALS_PER_LINE  # the last line takes the rest
            seals_left[number] = left[take:]
            shown.append((box.iso_type if box else "", ", ".join(left[:take])))
        else:
            box = next(unnumbered, None)
            shown.append((box.iso_type, ", ".join(box.seal_numbers)) if box else ("", ""))
    return shown


def order_as_data(order: Order) -> dict[str, Any]:
    """The order in the intake vocabulary: what the edit form starts from and what duplication copies.
    Saved unchanged, it gives the same order: the same lines, boxes and seals."""
    lines = []
    cargo = sorted(order.lines.all(), key=attrgetter("line_no"))
    boxes = sorted(order.equipment.all(), key=attrgetter("pk"))
    for line, (iso_type, seals) in zip(cargo, _equipment_by_line(cargo, boxes), strict=True):
        lines.append({
            "pieces": line.pieces, "package_type": line.package_type, "description": line.description,
            "gross_weight_kg": line.gross_weight_kg, "volume_m3": line.volume_m3, "hs_code": line.hs_code,
            "length_cm": line.length_cm, "width_cm": line.width_cm, "height_cm": line.height_cm,
            "container_number": line.container_number, "container_type": iso_type,
            "seal_numbers": seals, "awb_number": line.awb_number,
            "un_number": line.un_number, "dg_class": line.dg_class, "packing_group": line.packing_group,
        })  # fmt: skip
    return {
        "customer_code": order.customer.code, "customer_reference": order.customer_reference,
        "branch_code": order.branch.code, "mode": order.mode, "service_level": order.service_level,
        "incoterm": order.incoterm, "named_place": order.named_place, "origin": order.origin_id,
        "origin_address": order.origin_address, "destination": order.destination_id,
        "destination_address": order.destination_address, "shipper_name": order.shipper_name,
        "shipper_address": order.shipper_address, "consignee_name": order.consignee_name,
        "consignee_address": order.consignee_address, "notify_name": order.notify_name,
        "notify_address": order.notify_address, "description": order.description,
        "requested_pickup_on": order.requested_pickup_on, "requested_delivery_on": order.requested_delivery_on,
        "declared_value": _declared_value_as_given(order), "currency": order.declared_value_currency,
        "special_instructions": order.special_instructions, "lines": lines,
    }  # fmt: skip


def _declared_value_as_given(order: Order) -> Decimal | None:
    amount = order.declared_value_amount
    return None if amount is None else amount_as_given(amount, order.declared_value_currency)


def order_duplicate_data(*, order: Order) -> dict[str, Any]:
    """A new order's starting data copied from `order`: same parties, lane and cargo; new reference and dates.
    Containers keep their types but not their numbers or seals: one unnumbered box per box of `order`. A named
    place OMS derived is left empty, so intake derives it again from the new order's term and lane, as an edit
    does (order_update): copied, it was saved as if typed ("FOB Shanghai" on an order from Ningbo)."""
    data = order_as_data(order)
    lookups = Lookups().preload(location_codes=[order.origin_id, order.destination_id])
    if _stored_place_to_rederive(order, lookups):
        data["named_place"] = ""
    data["customer_reference"] = ""
    data["requested_pickup_on"] = None
    data["requested_delivery_on"] = None
    seen = set()
    for line in data["lines"]:
        number = line["container_number"]
        if number and number in seen:
            line["container_type"] = ""  # intake makes a box of each typed, unnumbered line: one is enough
        seen.add(number)
        line["container_number"] = ""
        line["awb_number"] = ""
        line["seal_numbers"] = ""
    return data


def order_transition(
    *,
    order: Order,
    name: str,
    scope: Scope,
    channel: str,
    by: Any = None,
    api_key: Any = None,
    reason: str = "",
    payload: dict[str, Any] | None = None,
) -> Order:
    """Take any lifecycle transition by name (confirm, plan, hold, release, …; see lifecycle.TRANSITIONS).
    After commit: order_status_changed. Raises TransitionNotAllowed (ConcurrentChange for a lost race)."""
    return lifecycle.apply(
        order, name, scope=scope, by=by, api_key=api_key, channel=channel, reason=reason, payload=payload
    )


def order_note_record(
    *, order: Order, title: str, text: str, channel: str, by: Any = None, payload: dict[str, Any] | None = None
) -> None:
    """Write a line in the order's history that no change of the order writes: something done elsewhere that its
    people must read there when it happens (tracking: its house taken off a booked master while it is on hold, which
    the lifecycle cannot unplan). An OrderEvent labelled ORDER_NOTE, a copy of the order's row as the triggers make
    them (the next change's difference is then read against the same values; pghistory.create_event cannot make
    it: it sets the event's fields on a model whose copied `status` is a protected FSM field), with who and which
    channel in its context, and `title`, `text` (history_entries reads them) and `payload` (what it is about, for
    code that looks for the note: `pgh_context__metadata__note_payload__…`), in a context of its own
    (history.write_context; inside another write_context, the line joins that act's entry)."""
    quote = connection.ops.quote_name
    copied = {field.name for field in Order._meta.concrete_fields}
    columns = [
        quote(field.get_attname_column()[1]) for field in OrderEvent._meta.concrete_fields if field.name in copied
    ]
    sql = (
        f"INSERT INTO {quote(OrderEvent._meta.db_table)} ({', '.join(columns)}, pgh_created_at, pgh_label, "  # noqa: S608 - names from models
        f"pgh_obj_id, pgh_context_id) SELECT {', '.join(f'o.{column}' for column in columns)}, "
        f"{pghistory_config.created_at_function()}, %s, o.id, (SELECT _pgh_attach_context()) "
        f"FROM {quote(Order._meta.db_table)} o WHERE o.id = %s"
    )
    metadata = {
        "user": getattr(by, "pk", None), "channel": channel, "note_title": title[:120], "note": text[:300],
        "note_payload": payload or {},
    }  # fmt: skip
    with transaction.atomic(), history.write_context(**metadata), connection.cursor() as cursor:
        cursor.execute(sql, [ORDER_NOTE, order.pk])
