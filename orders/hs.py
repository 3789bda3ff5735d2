"""What: Harmonized System (HS) codes: load the HS 2022 list and check a code against it (pure Python).

``data/harmonized-system.csv`` is the UN Comtrade list repackaged by datasets/harmonized-system
(columns section, hscode, description, parent, level). Its rows carry the HS 2022 nomenclature: it has
the headings new in the 7th amendment (e.g. 3827, 8524, 8549, 8806) and its total row reads
"Total of all HS2022 commodities". UN Comtrade's own pseudo-codes (section "TOTAL": 99, 9999, 999999,
TOTAL) are not part of the WCO nomenclature and are left out.

A declared code has 6 digits (international), 8 (e.g. EU CN) or 10 (e.g. EU TARIC, US HTS); only its
first 6 digits can be checked against the international list, the national extension needs the
destination's tariff.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from os import PathLike
from pathlib import Path

HS_EDITION = "HS 2022"
HS_CODES_PATH = Path(__file__).resolve().parent / "data" / "harmonized-system.csv"
HS_CODE_LENGTHS = (6, 8, 10)

_HEADING_LENGTHS = (2, 4, 6)
_NOT_HS = "TOTAL"  # UN Comtrade's section for its pseudo-codes


def load_hs_codes(path: str | PathLike[str] = HS_CODES_PATH) -> dict[str, str]:
    """Code -> description for every chapter (2 digits), heading (4) and subheading (6) in the file."""
    codes: dict[str, str] = {}
    with open(path, encoding="utf-8-sig", newline="") as file:
        for row in csv.DictReader(file):
            code = row["hscode"].strip()
            if row["section"].strip() == _NOT_HS or not code.isdigit() or len(code) not in _HEADING_LENGTHS:
                continue
            codes[code] = row["description"].strip()
    return codes


def normalize_hs_code(code: str) -> str:
    """``" 8471.30 "`` -> ``"847130"``: dots and whitespace removed, nothing else changed."""
    return "".join(code.split()).replace(".", "")


def hs_code_problem(code: str, known: Mapping[str, str]) -> str | None:
    """A message saying what is wrong with a declared HS code, or None when it is acceptable.

    ``known`` is the mapping from ``load_hs_codes``. Dots and spaces are ignored ("8471.30").
    """
    digits = normalize_hs_code(code)
    if not digits:
        return "HS code is empty (e.g. 8471.30)"
    if not digits.isascii() or not digits.isdigit():
        return "HS code must contain only digits, dots and spaces (e.g. 8471.30)"
    if len(digits) not in HS_CODE_LENGTHS:
        return "HS code must be 6, 8 or 10 digits (e.g. 8471.30)"
    if digits[:6] not in known:
        return f"HS subheading {digits[:6]} does not exist in {HS_EDITION}{_where_to_look(digits[:6], known)}"
    return None


_SUBHEADINGS_NAMED = 8


def _where_to_look(subheading: str, known: Mapping[str, str]) -> str:
    """Where to look instead of an unknown subheading, e.g. "; heading 9401 has 940131 and 940139 beside it": the
    subheadings an edition put next to it (HS 2022 split 9401.30 into .31 and .39), else every subheading of its
    heading (the first eight), else nothing. Item masters and ERP exports keep codes of an earlier edition for years.
    Only for a refused code, once per distinct code (intake memoises the check)."""
    heading = subheading[:4]
    if heading not in known:
        return ""
    beside = [code for code in known if len(code) == 6 and code.startswith(subheading[:5])]
    if beside:
        return f"; heading {heading} has {_listed(sorted(beside))} beside it"
    under = sorted(code for code in known if len(code) == 6 and code.startswith(heading))
    if not under:
        return ""
    if (more := len(under) - _SUBHEADINGS_NAMED) > 0:
        return f"; heading {heading} has {', '.join(under[:_SUBHEADINGS_NAMED])} and {more} more"
    return f"; heading {heading} has {_listed(under)}"


def _listed(codes: list[str]) -> str:
    return codes[0] if len(codes) == 1 else f"{', '.join(codes[:-1])} and {codes[-1]}"
