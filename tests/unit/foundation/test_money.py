"""Strict amount parsing: only plain positive decimal strings are money."""
from decimal import ROUND_CEILING, Decimal

import pytest

from mycrypto.common.money import InvalidAmount, decimals_of, fmt, parse_amount, quantize


@pytest.mark.parametrize("text, expected", [("0.5", "0.5"), ("1", "1"), ("25000.12", "25000.12"),
                                            ("0.00000001", "0.00000001"), ("10.0", "10.0")])
def test_plain_decimals_parse_exactly(text, expected):
    assert parse_amount(text) == Decimal(expected)


@pytest.mark.parametrize("bad", ["-1", "+1", "1e3", "1E-8", "NaN", "nan", "Infinity", "-Infinity", "inf",
                                 " 1", "1 ", "1\n", "0.5\n", "\n1", "", ".5", "5.", "01", "0x10", "1,5", "١", "1.2.3", None,
                                 0.1, True, [], {}, 1, 10, 2**64, 10**400])
def test_ambiguous_or_signed_or_float_input_is_refused(bad):
    with pytest.raises(InvalidAmount) as exc:
        parse_amount(bad)
    assert exc.value.code == "invalid_amount"
    assert exc.value.http_status == 422


def test_zero_is_refused_unless_allowed():
    with pytest.raises(InvalidAmount):
        parse_amount("0")
    assert parse_amount("0", allow_zero=True) == 0


def test_over_precise_amounts_are_refused_not_rounded():
    assert parse_amount("0.12345678", max_decimals=8) == Decimal("0.12345678")
    with pytest.raises(InvalidAmount) as exc:
        parse_amount("0.123456789", max_decimals=8)
    assert exc.value.code == "amount_precision"
    # trailing zeros are not extra precision
    assert parse_amount("1.500000000000", max_decimals=8) == Decimal("1.5")


def test_quantize_and_decimals():
    assert quantize(Decimal("0.123456789"), 8) == Decimal("0.12345678")
    assert quantize(Decimal("0.123456781"), 8, ROUND_CEILING) == Decimal("0.12345679")
    assert decimals_of(Decimal("1.2300")) == 2
    assert decimals_of(Decimal("100")) == 0


def test_wire_format_has_no_exponent_or_trailing_zeros():
    assert fmt(Decimal("1E+2")) == "100"
    assert fmt(Decimal("0.00000100")) == "0.000001"
    assert fmt(Decimal("0E-18")) == "0"
    assert fmt(Decimal("25000.120000000000000000")) == "25000.12"
