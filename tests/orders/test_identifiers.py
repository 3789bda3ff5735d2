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


@pytest.mark.parametrize(("value", "ok"), [("3", True), ("2.1", True), ("1.1D", True), ("10", False), ("2.9", False)])
def test_dg_class(value, ok):
    assert (identifiers.dg_class_problem(value) is None) is ok
