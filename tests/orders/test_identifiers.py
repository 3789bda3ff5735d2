import pytest

from orders import identifiers


@pytest.mark.parametrize("number", ["CSQU3054383", "APZU4812090", "csqu 305438-3", "MSKU 907032 3"])
def test_valid_container_numbers_pass(number):
    assert identifiers.container_number_problem(number) is None


def test_container_number_with_a_wrong_check_digit_names_the_right_one():
    assert "should be 3" in identifiers.container_number_problem("CSQU3054384")


@pytest.mark.parametrize("number", ["CSQ3054383", "CSQX3054383", "CSQU305438", "12345678901"])
def test_malformed_container_numbers_explain_the_format(number):
    assert "needs 4 letters" in identifiers.container_number_problem(number)


@pytest.mark.parametrize("number", ["020-12345675", "589-81140743", "02012345675", "020 1234567 5"])
def test_valid_awb_numbers_pass(number):
    assert identifiers.awb_number_problem(number) is None


def test_awb_with_a_wrong_check_digit_names_the_right_one():
    assert "should be 5" in identifiers.awb_number_problem("020-12345676")


@pytest.mark.parametrize("number", ["020-1234567", "ABC12345675", "020-123456758"])
def test_malformed_awb_numbers_explain_the_format(number):
    assert "needs 11 digits" in identifiers.awb_number_problem(number)


def test_awb_check_digits_7_to_9_are_always_wrong():
    assert identifiers.awb_number_problem("020-12345679") is not None


@pytest.mark.parametrize(
    ("value", "ok"), [("DEHAM", True), ("USNYC", True), ("DE HAM", False), ("DEHA1", False), ("D3HAM", False)]
)
def test_unlocode_shape(value, ok):
    assert (identifiers.unlocode_shape_problem(value) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"), [("22G1", True), ("45G1", True), ("L5G1", True), ("20GP", False), ("40", False)]
)
def test_iso_size_type(value, ok):
    assert (identifiers.iso_size_type_problem(value) is None) is ok


@pytest.mark.parametrize(("value", "ok"), [("1203", True), ("UN1203", True), ("120", False), ("UN12034", False)])
def test_un_number(value, ok):
    assert (identifiers.un_number_problem(value) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("3", True), ("2.1", True), ("1.1D", True), ("1.4S", True), ("1.6N", True), ("1.2L", True), ("6.2", True),
        ("9", True), ("10", False), ("2.9", False),
        # Classes 3, 7, 8 and 9 have no divisions; only class 1 has compatibility groups.
        ("3.1", False), ("8.6", False), ("9.2", False), ("7.1", False), ("2.3A", False),
        # Class 1 is its division and compatibility group, and only the pairs of the classification table exist.
        ("1", False), ("1.4", False), ("1.4A", False), ("1.1H", False), ("1.6S", False), ("1.7A", False),
        # Classes 2, 4, 5 and 6 are written with their division.
        ("2", False), ("4", False), ("5", False), ("6", False),
    ],
)  # fmt: skip
def test_dg_class(value, ok):
    assert (identifiers.dg_class_problem(value) is None) is ok


def test_the_dg_classes_are_the_dangerous_goods_lists():
    explosives = {value for value in identifiers.DG_CLASSES if value.startswith("1.")}
    assert len(explosives) == 35  # UN Model Regulations 2.1.2.4: the classification codes of class 1
    assert identifiers.DG_CLASSES - explosives == {
        "2.1", "2.2", "2.3", "3", "4.1", "4.2", "4.3", "5.1", "5.2", "6.1", "6.2", "7", "8", "9",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1.4", "Class 1 is written with its division and compatibility group, e.g. 1.4S (not 1.4)."),
        (
            "1.4A",
            "1.4A is not an explosives classification: division 1.4 takes compatibility group B, C, D, E, F, G or S.",
        ),
        ("1.6S", "1.6S is not an explosives classification: division 1.6 takes compatibility group N."),
        ("2", "Class 2 is written with its division: 2.1, 2.2 or 2.3."),
    ],
)
def test_a_dg_class_problem_says_what_the_class_takes(value, message):
    assert identifiers.dg_class_problem(value) == message
