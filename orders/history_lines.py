"""Which cargo line of an edit is which: the order history's reading of a draft edit's line rows.

Every save of a draft deletes its cargo lines and inserts them again (services.order_update), so `line_no` is only
a position: removing the first of two lines deletes lines 1 and 2 and inserts the second as line 1. Paired by
position, the history read "Line 1 · Description Pumps → Valves" and "Line 2 removed: Valves" for the removal of
the pumps. Lines are paired by what they hold instead (docs/decisions/0002, "Which line an edit changed").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Columns that are no part of what a line holds: its row, its order, its position.
POSITION_FIELDS = frozenset({"id", "order_id", "line_no"})
# Above this many candidate pairs of changed lines (an edit rewriting dozens of lines at once), lines that are not
# identical are paired by position: comparing each with each would cost the history page more than it tells.
_MOST_PAIRS_COMPARED = 2500


@dataclass(frozen=True)
class LinePairs:
    """One edit's line rows: those that stayed (before, after: changed, or only moved), removed, added."""

    kept: list[tuple[Any, Any]]
    removed: list[Any]
    added: list[Any]


def _position(event: Any) -> int:
    value = event.pgh_data.get("line_no")
    return value if isinstance(value, int) else 0


def _content(event: Any) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((name, repr(value)) for name, value in event.pgh_data.items() if name not in POSITION_FIELDS))


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _differences(before: Any, after: Any) -> tuple[int, int]:
    """How many of the columns either line fills differ, and how many either fills."""
    old, new = before.pgh_data, after.pgh_data
    filled = [name for name in old.keys() | new.keys() if name not in POSITION_FIELDS]
    filled = [name for name in filled if not (_is_empty(old.get(name)) and _is_empty(new.get(name)))]
    return sum(1 for name in filled if old.get(name) != new.get(name)), len(filled)


def _alike(before: Any, after: Any) -> bool:
    """The same line, changed: it has more of its filled columns in common with the other than not."""
    differing, filled = _differences(before, after)
    return differing * 2 <= filled


def _take_pairs(removed: list[Any], added: list[Any], pair: Callable[[Any, Any], Any]) -> list[tuple[Any, Any]]:
    """Pairs chosen by the sort key `pair` gives (None: no pair), smallest first, each line in one pair at most."""
    ranked = sorted(
        (rank, i, j)
        for i, before in enumerate(removed)
        for j, after in enumerate(added)
        if (rank := pair(before, after)) is not None
    )
    taken_before: set[int] = set()
    taken_after: set[int] = set()
    pairs = []
    for _, i, j in ranked:
        if i not in taken_before and j not in taken_after:
            taken_before.add(i)
            taken_after.add(j)
            pairs.append((removed[i], added[j]))
    return pairs


def pair_lines(removed: list[Any], added: list[Any]) -> LinePairs:
    """The deleted and the inserted line events of one edit, paired (pghistory events: `pgh_data` holds the row).

    1. A line inserted exactly as a line deleted is that line, wherever it now stands (the others moved up or down).
    2. Of the rest, the most alike pairs are the same line changed (fewest differing columns, then nearest position),
       as long as more of their filled columns agree than differ: a line whose goods, pieces and weight all changed
       is told as removed and another added, which is what a reader can check.
    3. What is left was removed or added.
    """
    removed = sorted(removed, key=_position)
    added = sorted(added, key=_position)
    by_content: defaultdict[tuple[tuple[str, str], ...], list[Any]] = defaultdict(list)
    for after in added:
        by_content[_content(after)].append(after)
    kept: list[tuple[Any, Any]] = []
    changed: list[Any] = []
    for before in removed:
        same = by_content.get(_content(before))
        if same:
            kept.append((before, same.pop(0)))
        else:
            changed.append(before)
    paired_after = {id(after) for _, after in kept}
    left = [after for after in added if id(after) not in paired_after]

    if len(changed) * len(left) <= _MOST_PAIRS_COMPARED:

        def rank(before: Any, after: Any) -> tuple[int, int] | None:
            if not _alike(before, after):
                return None
            return _differences(before, after)[0], abs(_position(before) - _position(after))

        kept += _take_pairs(changed, left, rank)
    else:
        kept += _take_pairs(changed, left, lambda b, a: 0 if _position(b) == _position(a) else None)
    paired_before = {id(before) for before, _ in kept}
    paired_after = {id(after) for _, after in kept}
    return LinePairs(
        kept=sorted(kept, key=lambda pair: _position(pair[1])),
        removed=[before for before in removed if id(before) not in paired_before],
        added=[after for after in added if id(after) not in paired_after],
    )
