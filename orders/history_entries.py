"""An order's history as its page reads it: what changed, by whom, through which channel, with each state change
folded into the write that made it.

django-pghistory records the rows (orders.models, statement-level triggers; decision 0002, "History"); this reads
them back as entries of changes in words. Lines and equipment are paired by content (orders.history_lines).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import Decimal
from operator import attrgetter
from typing import Any

from django.contrib.auth import get_user_model
from pghistory.models import Events

from orders import display, history_lines, lifecycle
from orders.models import ORDER_NOTE, CargoLine, Channel, Equipment, Order, OrderStatus, OrderTransition
from partners.models import ApiKey, Organisation


@dataclass(frozen=True)
class Change:
    label: str
    old: str
    new: str


@dataclass
class HistoryEntry:
    """One thing that happened to an order: one request or service call, or one state change."""

    at: datetime.datetime
    title: str
    who: str = "System"
    channel: str = ""
    reason: str = ""
    changes: list[Change] = dataclass_field(default_factory=list)
    notes: list[str] = dataclass_field(default_factory=list)


# Columns that say nothing a reader needs: bookkeeping, or restated by the entry's title.
_QUIET_ORDER_FIELDS = frozenset({
    "id", "created_at", "created_by_id", "submitted_at", "cancelled_at", "cancel_reason", "channel",
    "status_before_hold",
})  # fmt: skip
_QUIET_ROW_FIELDS = frozenset({"id", "order_id", "line_no"})
_ORGANISATION_FIELDS = frozenset({"customer_id", "branch_id", "shipper_id", "consignee_id", "notify_party_id"})
# Column names that read badly as generated from the field name (a quantity's value carries its unit).
_LABELS = {
    "pieces_total": "Pieces", "gross_weight_kg_total": "Gross weight", "volume_m3_total": "Volume",
    "chargeable_weight_kg": "Chargeable weight", "gross_weight_kg": "Gross weight", "volume_m3": "Volume",
    "length_cm": "Length", "width_cm": "Width", "height_cm": "Height", "vgm_kg": "VGM",
    "declared_value_amount": "Declared value", "declared_value_currency": "Currency",
    "requested_pickup_on": "Requested pickup", "requested_delivery_on": "Requested delivery",
    "origin_id": "Origin", "destination_id": "Destination", "branch_id": "Handling branch",
}  # fmt: skip
# Quantities read as the rest of the order's page shows them (7,325 kg): decimal places and unit by column.
_QUANTITIES = {
    "pieces_total": (0, ""), "pieces": (0, ""), "gross_weight_kg_total": (3, " kg"), "gross_weight_kg": (3, " kg"),
    "chargeable_weight_kg": (3, " kg"), "volume_m3_total": (4, " m³"), "volume_m3": (4, " m³"),
    "length_cm": (1, " cm"), "width_cm": (1, " cm"), "height_cm": (1, " cm"), "vgm_kg": (1, " kg"),
}  # fmt: skip
# An order's totals are 0 when no line gives them (a draft without cargo, lines without volume): the page shows "—".
_TOTALS = frozenset({"pieces_total", "gross_weight_kg_total", "volume_m3_total", "chargeable_weight_kg"})


def _plain(value: Any) -> str:
    if value is None or value == "" or value == []:
        return display.EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float | int | Decimal):
        number = Decimal(str(value)).normalize()
        return f"{number:f}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _field_label(model: type, attname: str) -> tuple[str, dict[str, str]]:
    """The reader's name of a column and, for choice fields, the labels of its values."""
    for model_field in model._meta.concrete_fields:  # type: ignore[attr-defined]
        if model_field.attname == attname:
            name = _LABELS.get(attname) or str(model_field.verbose_name)
            return name[:1].upper() + name[1:], {str(k): str(v) for k, v in model_field.flatchoices}
    return attname.replace("_", " ").capitalize(), {}


def _display(model: type, attname: str, value: Any, organisations: dict[int, str], currency: str = "") -> str:
    if attname in _ORGANISATION_FIELDS and isinstance(value, int):
        return organisations.get(value, f"#{value}")
    if value is not None and value != "":
        if attname in _QUANTITIES:
            places, unit = _QUANTITIES[attname]
            if attname in _TOTALS and not Decimal(str(value)):
                return display.EMPTY
            return display.quantity(value, places) + unit
        if attname == "declared_value_amount":
            return f"{display.money(Decimal(str(value)), currency)} {currency}".rstrip()
    choices = _field_label(model, attname)[1]
    if isinstance(value, str) and value in choices:
        return choices[value]
    return _plain(value)


def _row_summary(event: Any) -> str:
    data = event.pgh_data
    if event.pgh_model == "orders.CargoLineEvent":
        return f"{data.get('pieces')} × {data.get('package_type')} {data.get('description', '')}".strip()
    # A box's note names it already (its number, or its type when it has none): say what else it has.
    parts = [data.get("iso_type", "")] if data.get("container_number") else []
    if data.get("seal_numbers"):
        parts.append(f"seals {', '.join(data['seal_numbers'])}")
    return ", ".join(part for part in parts if part) or "no number yet"


class _GroupReader:
    """Turns the row events of one context (one request or service call) into what a person reads."""

    def __init__(self, organisations: dict[int, str]) -> None:
        self.organisations = organisations

    def changes(
        self, model: type, diff: dict[str, Any], prefix: str = "", data: dict[str, Any] | None = None
    ) -> list[Change]:
        """The changed columns of one row, as a person reads them; `data`: the row after the change (a declared
        value reads with its currency, before and after)."""
        quiet = _QUIET_ORDER_FIELDS if model is Order else _QUIET_ROW_FIELDS
        currency = (data or {}).get("declared_value_currency") or ""
        old_currency, new_currency = diff.get("declared_value_currency", (currency, currency))
        result = []
        for attname, (old, new) in diff.items():
            if attname in quiet or old == new:
                continue
            label = _field_label(model, attname)[0]
            result.append(
                Change(
                    f"{prefix}{label}",
                    _display(model, attname, old, self.organisations, old_currency or ""),
                    _display(model, attname, new, self.organisations, new_currency or ""),
                )
            )
        return result

    def rows(self, model: type, events: list[Any], noun: str, key: Callable[[dict[str, Any]], Any]) -> tuple:
        """Changes and notes for equipment: a draft edit deletes and re-inserts every row, so a deleted and an
        inserted row with the same key (the container number, or the type of a box without one) are one row."""
        removed = {key(e.pgh_data): e for e in events if e.pgh_label == "delete"}
        added = {key(e.pgh_data): e for e in events if e.pgh_label == "insert"}
        changes: list[Change] = []
        notes: list[str] = []
        for event in events:
            if event.pgh_label == "update" and event.pgh_diff:
                changes += self.changes(model, event.pgh_diff, f"{noun} {key(event.pgh_data)} · ")
        for row_key in sorted(set(removed) | set(added), key=str):
            before, after = removed.get(row_key), added.get(row_key)
            if before is not None and after is not None:
                diff = {
                    name: (before.pgh_data.get(name), value)
                    for name, value in after.pgh_data.items()
                    if before.pgh_data.get(name) != value
                }
                changes += self.changes(model, diff, f"{noun} {row_key} · ")
            elif after is not None:
                notes.append(f"{noun} {row_key} added: {_row_summary(after)}")
            elif before is not None:
                notes.append(f"{noun} {row_key} removed: {_row_summary(before)}")
        return changes, notes

    def lines(self, events: list[Any]) -> tuple[list[Change], list[str]]:
        """Changes and notes for cargo lines, paired by what they hold (history_lines.pair_lines), not by position:
        a line that only moved up because one above it was removed is no change, and the removed one is named."""
        changes: list[Change] = []
        for event in events:
            if event.pgh_label == "update" and event.pgh_diff:
                changes += self.changes(CargoLine, event.pgh_diff, f"Line {_line_key(event.pgh_data)} · ")
        pairs = history_lines.pair_lines(
            [e for e in events if e.pgh_label == "delete"], [e for e in events if e.pgh_label == "insert"]
        )
        for before, after in pairs.kept:
            old_no, new_no = _line_key(before.pgh_data), _line_key(after.pgh_data)
            diff = {
                name: (before.pgh_data.get(name), value)
                for name, value in after.pgh_data.items()
                if name not in history_lines.POSITION_FIELDS and before.pgh_data.get(name) != value
            }
            where = f"Line {new_no}" if old_no == new_no else f"Line {new_no} (was {old_no})"
            changes += self.changes(CargoLine, diff, f"{where} · ")
        notes = [f"Line {_line_key(e.pgh_data)} removed: {_row_summary(e)}" for e in pairs.removed]
        notes += [f"Line {_line_key(e.pgh_data)} added: {_row_summary(e)}" for e in pairs.added]
        return changes, notes


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _line_key(data: dict[str, Any]) -> Any:
    return data.get("line_no")


def _equipment_key(data: dict[str, Any]) -> Any:
    return data.get("container_number") or f"({data.get('iso_type', '')})"


def _who(context: dict[str, Any], users: dict[int, Any], api_keys: dict[int, Any]) -> str:
    if context.get("api_key") in api_keys:
        return f"API key “{api_keys[context['api_key']].name}”"
    if context.get("user") in users:
        return users[context["user"]].email
    return "System"


def _channel_label(value: str | None) -> str:
    return Channel(value).label if value in Channel.values else ""


def order_history_for(*, order: Order) -> list[HistoryEntry]:
    """Every recorded change to the order, its cargo lines and equipment, oldest first.

    Row changes come from django-pghistory, grouped by their context (one request or service call),
    with who and which channel from that context. Each OrderTransition is folded into the group that
    made it, so a state change reads as one entry with its reason. Four queries whatever the history.
    """
    events = list(
        Events.objects.across("orders.OrderEvent", "orders.CargoLineEvent", "orders.EquipmentEvent")
        .references(order)
        .order_by("pgh_created_at", "pgh_model", "pgh_id")
    )
    transitions = list(order.transitions.all())
    contexts = [e.pgh_context or {} for e in events]
    user_ids: set[int] = {c["user"] for c in contexts if isinstance(c.get("user"), int)}
    key_ids: set[int] = {c["api_key"] for c in contexts if isinstance(c.get("api_key"), int)}
    organisation_ids = {
        value
        for e in events
        if e.pgh_model == "orders.OrderEvent"
        for name, pair in (e.pgh_diff or {}).items()
        if name in _ORGANISATION_FIELDS
        for value in pair
        if isinstance(value, int)
    }
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=user_ids)} if user_ids else {}
    api_keys = {k.pk: k for k in ApiKey.objects.filter(pk__in=key_ids)} if key_ids else {}
    organisations = (
        dict(Organisation.objects.filter(pk__in=organisation_ids).values_list("pk", "code")) if organisation_ids else {}
    )
    reader = _GroupReader(organisations)

    groups: dict[str, list[Any]] = {}
    for event in events:
        groups.setdefault(str(event.pgh_context_id or event.pgh_slug), []).append(event)

    entries: list[HistoryEntry] = []
    unmatched = list(transitions)
    for group in groups.values():
        context = group[0].pgh_context or {}
        order_events = [e for e in group if e.pgh_model == "orders.OrderEvent"]
        created = any(e.pgh_label == "insert" for e in order_events)
        entry = HistoryEntry(
            at=group[0].pgh_created_at,
            title="Created as draft" if created else "Edited",
            who=_who(context, users, api_keys),
            channel=_channel_label(context.get("channel")),
        )
        for event in order_events:
            if event.pgh_label == "update" and event.pgh_diff:
                entry.changes += reader.changes(Order, event.pgh_diff, data=event.pgh_data)
        line_events = [e for e in group if e.pgh_model == "orders.CargoLineEvent"]
        box_events = [e for e in group if e.pgh_model == "orders.EquipmentEvent"]
        if created:
            entry.notes.append(_plural(len(line_events), "cargo line"))
            if box_events:
                entry.notes.append(_plural(len(box_events), "container"))
        else:
            for changes, notes in (
                reader.lines(line_events),
                reader.rows(Equipment, box_events, "Container", _equipment_key),
            ):
                entry.changes += changes
                entry.notes += notes
        transition = _matching_transition(unmatched, context, entry.at)
        if transition is not None:
            unmatched.remove(transition)
            _fold_transition(entry, transition, created=created)
        noted = any(e.pgh_label == ORDER_NOTE for e in order_events)
        if noted:  # a line written by hand (services.order_note_record): its title and words are its context's
            if created or transition is not None:  # written inside the same act (a nested write_context)
                entry.notes.append(context.get("note", ""))
            else:
                entry.title, entry.reason = context.get("note_title") or "Noted", context.get("note", "")
        if entry.changes or entry.notes or created or transition is not None or noted:
            entries.append(entry)
    for transition in unmatched:
        entry = HistoryEntry(at=transition.at, title="")
        _fold_transition(entry, transition, created=False)
        entries.append(entry)
    entries.sort(key=attrgetter("at"))
    return entries


def _matching_transition(
    candidates: list[OrderTransition], context: dict[str, Any], at: datetime.datetime
) -> OrderTransition | None:
    name = context.get("transition")
    if not name:
        return None
    same = [t for t in candidates if t.name == name and abs((t.at - at).total_seconds()) < 60]
    return min(same, key=lambda t: abs((t.at - at).total_seconds()), default=None)


def _fold_transition(entry: HistoryEntry, transition: OrderTransition, *, created: bool) -> None:
    spec = lifecycle.TRANSITIONS.get(transition.name)
    done = getattr(spec, "done", "") or transition.name.replace("_", " ")  # "submitted", "put on hold"
    entry.title = f"Created and {done}" if created else done[:1].upper() + done[1:]
    entry.at = min(entry.at, transition.at)
    entry.reason = transition.reason
    if transition.api_key is not None:
        entry.who = f"API key “{transition.api_key.name}”"
    elif transition.by is not None:
        entry.who = transition.by.email
    entry.channel = _channel_label(transition.channel) or entry.channel
    status_change = Change("Status", OrderStatus(transition.source).label, OrderStatus(transition.target).label)
    entry.changes = [c for c in entry.changes if c.label != "Status"]
    if not created:
        entry.changes.insert(0, status_change)
