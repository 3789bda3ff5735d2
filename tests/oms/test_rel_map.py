"""docs/reliability.md maps each of RELIABILITY.md's 49 planned tests (A1 to J2) to the tests that prove it. A map
that names a renamed or deleted test misleads the engineer or auditor who reads it, so every `file::function` it
names must exist, and every planned item must have exactly one row."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAP = ROOT / "docs" / "reliability.md"

# The plan's items: RELIABILITY.md (b), "49 tests in 10 areas".
PLAN = {
    "A": 5, "B": 6, "C": 6, "D": 4, "E": 7, "F": 5, "G": 8, "H": 3, "I": 3, "J": 2,
}  # fmt: skip
STATUSES = ("covered", "partly", "not covered", "n/a yet")

_ROW = re.compile(r"^\| ([A-J]\d) \| (.*)$", re.MULTILINE)
# A file named in a row, then the functions named after it (`file::a, ::b`), in reading order.
_NAME = re.compile(r"(?P<file>[\w/]+\.py)|::(?P<function>\w+)")


def _rows() -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for match in _ROW.finditer(MAP.read_text()):
        assert match.group(1) not in rows, f"{match.group(1)} has two rows"
        rows[match.group(1)] = [cell.strip() for cell in match.group(2).rstrip(" |").split(" | ")]
    return rows


def _resolve(name: str) -> Path:
    """A test file is named relative to tests/; another file (a benchmark, a module) relative to the repository."""
    under_tests = ROOT / "tests" / name
    return under_tests if under_tests.exists() else ROOT / name


def _named_tests(text: str) -> list[tuple[str, str | None]]:
    named: list[tuple[str, str | None]] = []
    current: str | None = None
    for match in _NAME.finditer(text):
        if match.group("file"):
            current = match.group("file")
            named.append((current, None))
        else:
            assert current is not None, f"::{match.group('function')} names no file: {text}"
            named.append((current, match.group("function")))
    return named


def test_every_planned_item_has_one_row_with_a_status():
    rows = _rows()

    expected = {f"{area}{n}" for area, count in PLAN.items() for n in range(1, count + 1)}
    assert len(expected) == 49
    assert set(rows) == expected
    for item, (promise, status, _tests) in rows.items():
        assert promise, item
        assert status.startswith(STATUSES), f"{item}: {status!r}"


def test_every_test_the_map_names_exists():
    missing = []
    for item, (_promise, status, tests) in _rows().items():
        for file, function in _named_tests(f"{status} {tests}"):
            path = _resolve(file)
            if not path.is_file():
                missing.append(f"{item}: {file}")
            elif function and not re.search(rf"^def {function}\(", path.read_text(), re.MULTILINE):
                missing.append(f"{item}: {file}::{function}")
    assert missing == []


def test_a_covered_item_names_at_least_one_test():
    for item, (_promise, status, tests) in _rows().items():
        if status.startswith("covered"):
            assert any(function for _file, function in _named_tests(tests)), item


def test_the_check_finds_a_missing_test():
    assert _named_tests("orders/test_api.py::test_a, ::test_b; x.py") == [
        ("orders/test_api.py", None),
        ("orders/test_api.py", "test_a"),
        ("orders/test_api.py", "test_b"),
        ("x.py", None),
    ]
    assert not _resolve("orders/test_no_such_file.py").is_file()
