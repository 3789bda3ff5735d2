"""Milestone files (CSV or XLSX) from operations or partners: one event per row, errors row by row.

Reading is the order import's (orders/imports/reading.py, rows.py and workbooks.py: formats, encodings,
delimiters, size and row limits, zip and XML bombs); errors are reported the same way, as RowError (row as the
spreadsheet numbers it, column, offending value, message), a row that does not line up with the header being one.
By default a file with any error records nothing, like the order import; "record the valid rows" records the rest
and lists the others.

Columns (header names are forgiving about case, spaces and dashes):
    reference       container, B/L, booking, AWB, parcel number, shipment or order reference   (required)
    reference_type  container, bill, booking, awb, parcel, shipment, order (blank: recognised by its shape)
    milestone       one of ours (DEPARTED …: the upload page lists them; any case, spaces for underscores, or the
                    name the timeline shows), or `code` with `scheme` (x12_214, iata, dcsa …)
    occurred_at     2026-03-05 08:55 or ISO 8601 with offset; without one, the upload's time zone applies (a time
                    its clocks skip or repeat is an error: the offset says which moment)
    classifier      ACT (default), EST or PLN
    location        UN/LOCODE or IATA airport code
    note, event_id  free text; the sender's id makes a re-sent row a duplicate
A partner's file reaches only the shipments it carries: any other reference is "not found", exactly as
one that does not exist. On a shipment it reaches, a row about a leg another carrier carries is an error
(placing._not_carried).
"""

from __future__ import annotations

import datetime
import difflib
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import transaction
from django.utils import timezone
from openpyxl.utils import get_column_letter

from orders.imports.columns import ImportFileError, normalise_header
from orders.imports.grouping import RowError
from orders.imports.reading import Limits, detect
from orders.imports.rows import LINE_BREAK, iter_rows
from orders.imports.workbooks import CellProblem
from orders.models import Channel
from partners.models import Organisation
from tracking.ingest import mapping, subjects
from tracking.ingest.checks import event_problem
from tracking.ingest.formats import FormatError, IncomingEvent, clean_location, clean_subject, parse_time
from tracking.ingest.mapping import MilestoneInfo
from tracking.ingest.models import EventUpload, Scheme, SourceKind, SubjectType
from tracking.ingest.services import MAX_BATCH, Source, events_ingest

MAX_ROWS = 5000
MAX_STORED_ERRORS = 500
COLUMNS = (
    "reference",
    "reference_type",
    "milestone",
    "code",
    "scheme",
    "occurred_at",
    "classifier",
    "location",
    "note",
    "event_id",
)
TEMPLATE_ROWS = (
    ("CSQU3054383", "container", "DEPARTED", "", "", "2026-03-05 08:55", "ACT", "CNSHA", "Sailed on time", ""),
    ("MAEU262000001", "bill", "ARRIVED", "", "", "2026-04-02 06:00", "EST", "DEHAM", "New ETA from the line", ""),
    ("02012345675", "awb", "", "DEP", "iata", "2026-03-05T22:10+01:00", "ACT", "FRA", "", "LH8401-DEP"),
)
_CONTAINER = re.compile(r"^[A-Z]{4}\d{7}$")
_ORDER_REF = re.compile(r"^[A-Z0-9]{2,10}-\d{2}-\d{4,}$")
_SHIPMENT_REF = re.compile(r"^[MH]-[A-Z0-9]{2,10}-\d{2}-\d{4,}$")


@dataclass
class Checked:
    rows_total: int = 0
    events: list[IncomingEvent] = field(default_factory=list)
    rows_of: list[int] = field(default_factory=list)  # spreadsheet row of each event
    errors: list[RowError] = field(default_factory=list)


def guess_subject_type(reference: str) -> str:
    compact = re.sub(r"\s+", "", reference).upper()
    if _CONTAINER.match(compact):
        return SubjectType.CONTAINER
    if _SHIPMENT_REF.match(compact):
        return SubjectType.SHIPMENT
    if _ORDER_REF.match(compact):
        return SubjectType.ORDER
    if re.fullmatch(r"\d{3}-?\d{8}", compact):
        return SubjectType.AWB
    return SubjectType.BILL


def _cell(cells: list[object], index: dict[str, int], name: str) -> str:
    position = index.get(name)
    value = cells[position] if position is not None and position < len(cells) else ""
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else value.isoformat()
    return str(value or "").strip()


def _header(cells: list[object]) -> dict[str, int]:
    names = [normalise_header(cell) for cell in cells]
    unknown = [name for name in names if name and name not in COLUMNS]
    if unknown:
        raise ImportFileError(f"Unknown columns: {', '.join(unknown)}. Use {', '.join(COLUMNS)}.", row=1)
    index = {name: position for position, name in enumerate(names) if name}
    missing = [name for name in ("reference", "occurred_at") if name not in index]
    if "milestone" not in index and "code" not in index:
        missing.append("milestone (or code and scheme)")
    if missing:
        raise ImportFileError(f"Missing columns: {', '.join(missing)} (download the template).", row=1)
    return index


@dataclass(frozen=True)
class _Width:
    """The header's width: up to its last named column (`named`), and every cell it has (`written`). A CSV writer
    gives the header and every row one width, trailing empty cells included."""

    named: int
    written: int

    @classmethod
    def of(cls, cells: list[object]) -> _Width:
        named = max((at + 1 for at, cell in enumerate(cells) if normalise_header(cell)), default=0)
        return cls(named=named, written=len(cells))


def _width_problem(cells: list[object], width: _Width, number: int, *, pads_short_rows: bool) -> str:
    """Why a row's cells do not line up under the header's columns, or "". The cells are taken by position: a value
    holding an unquoted delimiter ("MAERSK ESSEN, 612W") would push what follows it into the next columns (its second
    half read as the event id) and the last value off the row, with nothing to show for it; the order import refuses
    such rows in the same words (orders/imports/grouping._check_width). Unlike there, a CSV row with more cells than
    the header is refused even when its extra cells are empty: cut in two, a row whose last value is empty (no
    event_id) ends in an empty cell too."""
    stray = next((at for at in range(width.named, len(cells)) if cells[at] not in ("", None)), None)
    if pads_short_rows:  # a spreadsheet has no delimiters: the cell is a note beside the table, or a column unnamed
        if stray is None:
            return ""
        return (
            f"Cell {get_column_letter(stray + 1)}{number} holds a value, but its column has no header: delete the "
            "value, or name the column in row 1."
        )
    if stray is not None or len(cells) > width.written:
        return _quote_swallowed(cells, width) or (
            f"This row has {len(cells)} values but the header names only {width.named} columns: a value holds an "
            "unquoted delimiter (write such a value in double quotes), or a column has no header."
        )
    if len(cells) < width.named:
        return _quote_swallowed(cells, width) or (
            f"This row has {len(cells)} values but the header names {width.named} columns: a delimiter is missing "
            "(every row needs as many separators as the header)."
        )
    return ""


def _quote_swallowed(cells: list[object], width: _Width) -> str:
    """A row of the wrong width holding a line break: a stray opening quote most often, closed by the next quote in
    the file and taking the lines between into one value (see orders/imports/grouping._swallowed)."""
    for position, cell in enumerate(cells):
        breaks = len(LINE_BREAK.findall(cell)) if isinstance(cell, str) else 0
        if breaks:
            lines = "1 line" if breaks == 1 else f"{breaks} lines"
            return (
                f'A quote (") opens in column {position + 1} of this row and is closed only {lines} further down: '
                "everything up to that closing quote, line breaks included, was read as that one value, so this row "
                f'has {len(cells)} values where the header names {width.named}. Check this row for a stray " (a value '
                "that starts with a quote must end with one); if the line break belongs in the value, a delimiter is "
                "missing instead."
            )
    return ""


def milestone_code(value: str, milestones: Mapping[str, MilestoneInfo]) -> str:
    """The milestone a file's cell names: its code in any case, with spaces or dashes for the underscores ("Out for
    delivery", "out-for-delivery"), or its name as the timeline shows it; "" when it names none."""
    code = re.sub(r"[\s-]+", "_", value.strip()).upper()
    if code in milestones:
        return code
    by_name = {info.name.casefold(): known for known, info in milestones.items()}
    return by_name.get(value.strip().casefold(), "")


def unknown_milestone(value: str, milestones: Mapping[str, MilestoneInfo]) -> str:
    """The problem of a cell naming no milestone: with the likeliest one, and every code a file may use."""
    codes = [code for code, _ in sorted(milestones.items(), key=lambda item: (item[1].rank, item[0]))]
    close = difflib.get_close_matches(re.sub(r"[\s-]+", "_", value.strip()).upper(), codes, n=1, cutoff=0.6)
    guess = f" Did you mean {close[0]}?" if close else ""
    return f"{value} is not one of our milestones.{guess} Use one of {', '.join(codes)}."


def _row_event(
    cells: list[object],
    index: dict[str, int],
    *,
    time_zone: str,
    now: datetime.datetime,
    milestones: Mapping[str, MilestoneInfo],
) -> tuple[IncomingEvent | None, list[tuple[str, str, str]]]:
    """The row as an event, or its problems as (column, value, message)."""
    problems: list[tuple[str, str, str]] = []
    value = {name: _cell(cells, index, name) for name in COLUMNS}
    kind = value["reference_type"].lower() or guess_subject_type(value["reference"])
    try:
        subject = clean_subject(kind, value["reference"])
    except FormatError as exc:
        problems.append(("reference", value["reference"], str(exc)))
        subject = None
    scheme: str
    if value["milestone"]:
        scheme, code = Scheme.OMS, milestone_code(value["milestone"], milestones)
        if not code:
            problems.append(("milestone", value["milestone"], unknown_milestone(value["milestone"], milestones)))
    else:
        scheme, code = (value["scheme"].lower() or Scheme.OMS), value["code"].upper()
        if scheme not in Scheme.values:
            problems.append(("scheme", value["scheme"], f"Unknown scheme; use one of {', '.join(Scheme.values)}."))
        if not code:
            problems.append(("milestone", "", "Give a milestone, or a code with its scheme."))
    classifier = (value["classifier"] or "ACT").upper()
    if classifier not in ("ACT", "EST", "PLN"):
        problems.append(("classifier", value["classifier"], "Use ACT, EST or PLN."))
    try:
        # As written: Python ≥ 3.11 reads "2026-03-05 08:55" too, and an error then quotes the file's own value.
        event_at, offset = parse_time(value["occurred_at"], what="occurred_at", time_zone=time_zone)
    except FormatError as exc:
        problems.append(("occurred_at", value["occurred_at"], str(exc)))
        event_at, offset = now, None
    if problems or subject is None:
        return None, problems
    location_code, location_text = clean_location(value["location"])
    event = IncomingEvent(
        scheme=scheme,
        raw_code=code,
        classifier=classifier,
        event_at=event_at,
        offset_minutes=offset,
        subjects=[subject],
        payload={name: v for name, v in value.items() if v},
        source_event_id=value["event_id"],
        location_code=location_code,
        location_text=location_text,
        reason=value["note"][:300],
    )
    problem = event_problem(event, now)
    if problem:
        return None, [("occurred_at", value["occurred_at"], problem)]
    return event, []


def check_rows(rows: Iterator[tuple[int, list[object]]], *, time_zone: str, pads_short_rows: bool = False) -> Checked:
    """Read every row; the events and every problem, by row. `pads_short_rows`: the rows are a spreadsheet's, where
    a row has no missing cells, only empty ones (reading.FileInfo)."""
    checked = Checked()
    now = timezone.now()
    milestones = mapping.table().milestones
    index: dict[str, int] | None = None
    width = _Width(named=0, written=0)
    for number, cells in rows:
        if index is None:
            index, width = _header(cells), _Width.of(cells)
            continue
        checked.rows_total += 1
        if checked.rows_total > MAX_ROWS:
            raise ImportFileError(f"A milestone file holds at most {MAX_ROWS:,} rows; split it.", row=number)
        reference = _cell(cells, index, "reference")
        misfit = _width_problem(cells, width, number, pads_short_rows=pads_short_rows)
        if misfit:  # no cell of this row can be trusted to be under its column
            checked.errors.append(RowError(number, "", "", misfit, reference))
            continue
        unreadable = [
            (name, cell) for name, at in index.items() if at < len(cells) and isinstance(cell := cells[at], CellProblem)
        ]
        if unreadable:  # an Excel error or a formula never calculated: no value to record, and no guess at one
            checked.errors += [RowError(number, name, str(cell), cell.message, reference) for name, cell in unreadable]
            continue
        event, problems = _row_event(cells, index, time_zone=time_zone, now=now, milestones=milestones)
        checked.errors += [
            RowError(number, column, str(value)[:300], message, reference) for column, value, message in problems
        ]
        if event is not None:
            event.position = number
            checked.events.append(event)
            checked.rows_of.append(number)
    if index is None:
        raise ImportFileError("The file is empty: its first row should hold the column names.", row=1)
    return checked


def _unreachable(checked: Checked, carrier_ids: frozenset[int] | None) -> None:
    """Rows whose reference matches nothing this uploader may reach become errors."""
    resolution = subjects.resolve(checked.events, carrier_ids=carrier_ids)
    kept_events, kept_rows = [], []
    for event, row in zip(checked.events, checked.rows_of, strict=True):
        link, subject = resolution.link_for(event)
        if link == subjects.NO_LINK:
            label = SubjectType(subject[0]).label.lower()
            checked.errors.append(
                RowError(
                    row, "reference", subject[1], f"No shipment or order of yours has {label} {subject[1]}.", subject[1]
                )
            )
            continue
        kept_events.append(event)
        kept_rows.append(row)
    checked.events, checked.rows_of = kept_events, kept_rows


def _as_json(errors: list[RowError]) -> list[dict[str, Any]]:
    return [
        {"row": e.row, "column": e.column, "value": e.value, "message": e.message}
        for e in sorted(errors, key=lambda e: (e.row or 0, e.column))[:MAX_STORED_ERRORS]
    ]


def rows_skipped(upload: EventUpload) -> int:
    """How many rows the upload's problems are on: a row can have several (a milestone and a time), and the file's
    own problems (row 1, or none) skip no data row. Counted from the stored problems, the first MAX_STORED_ERRORS."""
    return len({error["row"] for error in upload.errors if error.get("row") and error["row"] > 1})


def upload_process(
    *,
    stream: IO[bytes],
    file_name: str,
    by: Any,
    partner: Organisation | None,
    time_zone: str,
    valid_only: bool = False,
    carrier_ids: frozenset[int] | None = None,
) -> EventUpload:
    """Check the file and record its events (all of them, or the valid ones when `valid_only`).
    Returns the upload with its counts and errors; a file that cannot be read at all has one error, row 1.
    A partner's file reaches what any of its organisations carries (`carrier_ids`: all of the person's partner
    organisations; only `partner` when not given); `partner`, one of them, is whose upload it is."""
    upload = EventUpload(
        uploaded_by=by if getattr(by, "pk", None) else None, partner=partner, file_name=file_name[:255]
    )
    limits = Limits.from_settings()
    data = stream.read(limits.max_bytes + 1)  # small files (MAX_ROWS): each reading pass gets its own copy

    def opener() -> IO[bytes]:
        return io.BytesIO(data)

    try:
        info = detect(opener, size=len(data), limits=limits)
        checked = check_rows(iter_rows(opener, info, limits), time_zone=time_zone, pads_short_rows=info.pads_short_rows)
    except ImportFileError as exc:
        upload.errors = [{"row": exc.row, "column": "", "value": "", "message": str(exc)}]
        upload.error_count = 1
        upload.save()
        return upload
    if carrier_ids is None and partner is not None:
        carrier_ids = frozenset({partner.pk})
    _unreachable(checked, carrier_ids)
    upload.rows_total = checked.rows_total
    if not checked.errors or valid_only:
        source = Source(
            kind=SourceKind.FILE,
            name=partner.code if partner else "ops",
            partner_id=None,
            carrier_ids=carrier_ids,
            channel=Channel.FILE,
            by=upload.uploaded_by,
        )
        with transaction.atomic():
            for start in range(0, len(checked.events), MAX_BATCH):
                result = events_ingest(events=checked.events[start : start + MAX_BATCH], source=source)
                upload.events_stored += result.stored
                upload.duplicates += result.duplicates
                checked.errors += [RowError(row, "", "", message) for row, message in result.rejected]
            if checked.errors and not valid_only:  # a row refused while recording (a leg the partner does not
                transaction.set_rollback(True)  # carry): the file records nothing, as for any other error
                upload.events_stored = upload.duplicates = 0
    upload.error_count = len(checked.errors)
    upload.errors = _as_json(checked.errors)
    upload.save()
    return upload


def template_csv() -> str:
    lines = [",".join(COLUMNS), *(",".join(row) for row in TEMPLATE_ROWS)]
    return "\r\n".join(lines) + "\r\n"
