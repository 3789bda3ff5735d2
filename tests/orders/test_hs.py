"""HS codes: the bundled HS 2022 list and the check of a declared code (no database)."""

from __future__ import annotations

import pytest

from orders.hs import HS_EDITION, hs_code_problem, load_hs_codes, normalize_hs_code

LENGTH = "HS code must be 6, 8 or 10 digits (e.g. 8471.30)"
FULL_WIDTH_847130 = "\uff18\uff14\uff17\uff11\uff13\uff10"  # str.isdigit() is true for these


@pytest.fixture(scope="module")
def known() -> dict[str, str]:
    return load_hs_codes()


def test_the_list_is_hs_2022_with_chapters_headings_and_subheadings(known):
    assert HS_EDITION == "HS 2022"
    assert len([code for code in known if len(code) == 6]) == 5612
    assert known["84"].startswith("Machinery and mechanical appliances")
    assert known["8471"].startswith("Automatic data processing machines")
    assert known["847130"].startswith("Automatic data processing machines; portable")
    assert "8806" in known  # unmanned aircraft: new in HS 2022
    assert "010121" in known  # leading zero kept


def test_un_comtrade_pseudo_codes_are_not_hs(known):
    assert not {"99", "9999", "999999", "TOTAL"} & known.keys()


@pytest.mark.parametrize("code", ["847130", "84713000", "8471300000", "010121", "880610"])
def test_six_eight_and_ten_digit_codes_of_a_known_subheading_are_accepted(known, code):
    assert hs_code_problem(code, known) is None


@pytest.mark.parametrize("code", ["8471.30", "8471.30.00", "8471 30 00 00", " 8471.3000 ", "0101.21"])
def test_dots_and_spaces_are_ignored(known, code):
    assert hs_code_problem(code, known) is None


def test_normalize_removes_only_dots_and_whitespace():
    assert normalize_hs_code(" 8471.30\t00 ") == "84713000"
    assert normalize_hs_code("8471-30") == "8471-30"


@pytest.mark.parametrize("code", ["999999", "0000000000", "980100"])
def test_unknown_subheading(known, code):
    assert hs_code_problem(code, known) == f"HS subheading {code[:6]} does not exist in HS 2022"


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("940130", "HS subheading 940130 does not exist in HS 2022; heading 9401 has 940131 and 940139 beside it"),
        (
            "9405.40",
            "HS subheading 940540 does not exist in HS 2022; heading 9405 has 940541, 940542 and 940549 beside it",
        ),
        ("84713100", "HS subheading 847131 does not exist in HS 2022; heading 8471 has 847130 beside it"),
        (
            "847120",
            "HS subheading 847120 does not exist in HS 2022; heading 8471 has 847130, 847141, 847149, 847150, 847160, "
            "847170, 847180 and 847190",
        ),
        (
            "847900",
            "HS subheading 847900 does not exist in HS 2022; heading 8479 has 847910, 847920, 847930, 847940, 847950, "
            "847960, 847971, 847979 and 5 more",
        ),
    ],
)
def test_an_unknown_subheading_of_a_known_heading_names_the_subheadings_there_are(known, code, problem):
    """Acceptance walk (h3): 940130 (swivel seats, HS 2017) was told "HS heading 940130 does not exist in HS 2022" —
    a six-digit code is a subheading — and not which codes HS 2022 has instead (940131, wood; 940139, other). ERP
    item masters keep codes of earlier editions for years; the codes beside it, or else the heading's, say where
    to look."""
    assert hs_code_problem(code, known) == problem


@pytest.mark.parametrize("code", ["84", "8471", "84713", "8471300", "847130000", "84713000001"])
def test_wrong_length(known, code):
    assert hs_code_problem(code, known) == LENGTH


@pytest.mark.parametrize("code", ["8471AB", "HS847130", "8471-30", FULL_WIDTH_847130])
def test_letters_and_other_characters(known, code):
    assert hs_code_problem(code, known) == "HS code must contain only digits, dots and spaces (e.g. 8471.30)"


@pytest.mark.parametrize("code", ["", "  ", "..."])
def test_empty(known, code):
    assert hs_code_problem(code, known) == "HS code is empty (e.g. 8471.30)"


def test_a_custom_list_can_be_passed(tmp_path):
    path = tmp_path / "hs.csv"
    path.write_text(
        "section,hscode,description,parent,level\n"
        "XVI,84,Machinery,TOTAL,2\n"
        "XVI,8471,Computers,84,4\n"
        'XVI,847130,"Computers; portable",8471,6\n'
        "TOTAL,999999,Not specified,9999,6\n",
        encoding="utf-8",
    )
    known = load_hs_codes(path)
    assert known == {"84": "Machinery", "8471": "Computers", "847130": "Computers; portable"}
    assert hs_code_problem("847130", known) is None
    assert hs_code_problem("847141", known) == (
        "HS subheading 847141 does not exist in HS 2022; heading 8471 has 847130"
    )
