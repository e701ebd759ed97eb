"""Kubernetes quantities: parsing, canonical text and accessors.

Cases pin apimachinery `pkg/api/resource` behaviour; each table names the upstream test
in quantity_test.go whose cases it restates.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapter.k8s.quantity import (
    ERR_FORMAT_WRONG,
    ERR_NUMERIC,
    ERR_SUFFIX,
    Quantity,
    QuantityError,
    QuantityFormat,
)

DEC = QuantityFormat.DECIMAL_SI
BIN = QuantityFormat.BINARY_SI
EXP = QuantityFormat.DECIMAL_EXPONENT


def _q(mantissa: int, exponent: int) -> Fraction:
    return Fraction(mantissa) * Fraction(10) ** exponent


# TestQuantityParse: value and remembered format of each accepted string.
PARSED = [
    ("0", _q(0, 0), DEC),
    ("0n", _q(0, 0), DEC),
    ("0Ki", _q(0, 0), BIN),
    ("0T", _q(0, 0), DEC),
    ("1", _q(1, 0), DEC),
    ("1Ki", _q(1024, 0), BIN),
    ("7Mi", _q(7 * 1024**2, 0), BIN),
    ("3Ei", _q(3 * 1024**6, 0), BIN),
    ("100Ti", _q(100 * 1024**4, 0), BIN),
    ("5n", _q(5, -9), DEC),
    ("4u", _q(4, -6), DEC),
    ("3m", _q(3, -3), DEC),
    ("50k", _q(5, 4), DEC),
    ("300T", _q(3, 14), DEC),
    ("1E", _q(1, 18), DEC),
    ("1E-3", _q(1, -3), EXP),
    ("1e3", _q(1, 3), EXP),
    ("1E18", _q(1, 18), EXP),
    ("100.035k", _q(100035, 0), DEC),
    ("0.0005k", _q(5, -1), DEC),
    ("0.5e-2", _q(5, -3), EXP),
    ("1.3E+6", _q(13, 5), EXP),
    ("6.987654321G", _q(6987654321, 0), DEC),
    ("1.01E", _q(101, 16), DEC),
    # values finer than a nanounit round away from zero
    ("3.001n", _q(4, -9), DEC),
    ("1.1E-9", _q(2, -9), EXP),
    ("0.0000000001", _q(1, -9), DEC),
    ("0.9n", _q(1, -9), DEC),
    ("0.00000012345", _q(124, -9), DEC),
    # BinarySI is capped at 2^63-1; decimal quantities are not
    ("9Ei", Fraction(2**63 - 1), BIN),
    ("9223372036854775807Ki", Fraction(2**63 - 1), BIN),
    ("12E", _q(12, 18), DEC),
    ("100.035Ki", _q(10243584, -2), BIN),
    ("0.05Gi", _q(536870912, -1), BIN),
    # "things written by trolls": a tiny BinarySI value becomes DecimalSI
    ("0.000000000001Ki", _q(2, -9), DEC),
    (".001", _q(1, -3), DEC),
    (".0001k", _q(100, -3), DEC),
    ("1.", _q(1, 0), DEC),
    ("1.G", _q(1, 9), DEC),
    # TestParseQuantityString: the scanner lets a bare "." through as zero
    (".", _q(0, 0), DEC),
]


@pytest.mark.parametrize(("text", "value", "fmt"), PARSED)
def test_parse_value_and_format(text: str, value: Fraction, fmt: QuantityFormat) -> None:
    quantity = Quantity.parse(text)
    assert quantity.value == value
    assert quantity.format is fmt


@pytest.mark.parametrize(("text", "value", "fmt"), [p for p in PARSED if p[0] != "."])
def test_parse_signs(text: str, value: Fraction, fmt: QuantityFormat) -> None:
    """TestQuantityParse repeats its table with a leading '-' and '+'."""
    assert Quantity.parse("-" + text) == Quantity(-value, fmt)
    assert Quantity.parse("+" + text) == Quantity(value, fmt)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # TestQuantityParse "invalid" list
        ("1.1.M", ERR_FORMAT_WRONG),
        ("1+1.0M", ERR_FORMAT_WRONG),
        ("0.1mi", ERR_SUFFIX),
        ("0.1am", ERR_FORMAT_WRONG),
        ("aoeu", ERR_FORMAT_WRONG),
        (".5i", ERR_SUFFIX),
        ("1i", ERR_SUFFIX),
        ("-3.01i", ERR_SUFFIX),
        ("-3.01e-", ERR_SUFFIX),
        (" 1", ERR_FORMAT_WRONG),
        ("1 ", ERR_FORMAT_WRONG),
        ("", ERR_FORMAT_WRONG),  # the empty-string check at the top of TestQuantityParse
        ("Non-Numeric", ERR_FORMAT_WRONG),  # TestQuantityParseNonNumericPanic
        ("1.5.5", ERR_FORMAT_WRONG),
        ("1 Ki", ERR_FORMAT_WRONG),
        ("1Zi", ERR_FORMAT_WRONG),
        ("1e", ERR_SUFFIX),
        ("1eKi", ERR_SUFFIX),
        # no digits and an exponent below nano: upstream's slow path cannot read it
        ("e-10", ERR_NUMERIC),
    ],
)
def test_parse_rejects(text: str, reason: str) -> None:
    with pytest.raises(QuantityError) as caught:
        Quantity.parse(text)
    assert caught.value.reason == reason
    assert caught.value.text == text
    assert isinstance(caught.value, ValueError)


def test_parse_accepts_bare_suffix_as_zero() -> None:
    """parseQuantityString reads "Ki" as an empty number (zero) with suffix Ki."""
    assert Quantity.parse("Ki") == Quantity(Fraction(0), BIN)
    assert str(Quantity.parse("m")) == "0"


# TestQuantityString: canonical text of a value in a format.
CANONICAL = [
    (_q(1024**3, 0), BIN, "1Gi"),
    (_q(300 * 1024**2, 0), BIN, "300Mi"),
    (_q(6 * 1024, 0), BIN, "6Ki"),
    (_q(1001 * 1024**3, 0), BIN, "1001Gi"),
    (_q(1024**4, 0), BIN, "1Ti"),
    (_q(5, 0), BIN, "5"),
    (_q(500, -3), BIN, "500m"),
    (_q(1, 9), DEC, "1G"),
    (_q(1000, 6), DEC, "1G"),
    (_q(1, -3), DEC, "1m"),
    (_q(80, -3), DEC, "80m"),
    (_q(1080, -3), DEC, "1080m"),
    (_q(108, -2), DEC, "1080m"),
    (_q(10800, -4), DEC, "1080m"),
    (_q(300, 6), DEC, "300M"),
    (_q(1, 12), DEC, "1T"),
    (_q(1, 18), DEC, "1E"),
    # no DecimalSI suffix beyond E: exponent notation instead of losing magnitude
    (_q(1, 21), DEC, "1e21"),
    (_q(5, 21), DEC, "5e21"),
    (_q(1, 24), DEC, "1e24"),
    (_q(1234567, 6), DEC, "1234567M"),
    (_q(1234567, -3), BIN, "1234567m"),
    (_q(3, 3), DEC, "3k"),
    (_q(1025, 0), BIN, "1025"),
    (_q(0, 0), DEC, "0"),
    (_q(0, 0), BIN, "0"),
    (_q(1, 9), EXP, "1e9"),
    (_q(1, -3), EXP, "1e-3"),
    (_q(1, -9), EXP, "1e-9"),
    (_q(80, -3), EXP, "80e-3"),
    (_q(300, 6), EXP, "300e6"),
    (_q(1, 3), EXP, "1e3"),
    (_q(0, 0), EXP, "0"),
    (_q(1, -9), DEC, "1n"),
    (_q(80, -9), DEC, "80n"),
    (_q(1080, -9), DEC, "1080n"),
    (_q(108, -8), DEC, "1080n"),
    (_q(10800, -10), DEC, "1080n"),
    (_q(1, -6), DEC, "1u"),
    (_q(1080, -6), DEC, "1080u"),
]


@pytest.mark.parametrize(("value", "fmt", "text"), CANONICAL)
def test_canonical_string(value: Fraction, fmt: QuantityFormat, text: str) -> None:
    assert str(Quantity(value, fmt)) == text
    if value:
        # TestQuantityString: the negated value prints with a leading '-'
        assert str(Quantity(-value, fmt)) == "-" + text
    # the canonical text parses back to the same value
    assert Quantity.parse(text).value == value


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        # TestQuantityParseEmit
        ("1Ki", "1Ki"),
        ("1Mi", "1Mi"),
        ("1024Mi", "1Gi"),
        ("1000M", "1G"),
        (".001Ki", "1024m"),
        (".000001Ki", "1024u"),
        (".000000001Ki", "1024n"),
        (".000000000001Ki", "2n"),
        # TestQuantityString alternates
        ("1024Mi", "1Gi"),
        ("307200Ki", "300Mi"),
        ("5000m", "5"),
        ("0.5", "500m"),
        ("0.001T", "1G"),
        ("1000u", "1m"),
        ("1.08", "1080m"),
        ("1080000000n", "1080m"),
        ("1000E", "1e21"),
        ("1000000E", "1e24"),
        (".001e12", "1e9"),
        ("0.001e0", "1e-3"),
        ("1000e-12", "1e-9"),
        ("00", "0"),
        # the brief's everyday forms
        ("1000m", "1"),
        ("1.5", "1500m"),
        ("1024Ki", "1Mi"),
        ("100Mi", "100Mi"),
        ("0.0001", "100u"),
        ("1e3", "1e3"),
        ("2082398n", "2082398n"),
        ("1.5Gi", "1536Mi"),
        ("0.1n", "1n"),
        ("-1.5", "-1500m"),
        ("-0.1n", "-1n"),
        ("9Ei", "9223372036854775807"),
    ],
)
def test_parse_then_print(text: str, canonical: str) -> None:
    assert str(Quantity.parse(text)) == canonical


@pytest.mark.parametrize(
    ("milli", "fmt", "text"),
    [
        # TestMilliNewSet (an unknown format prints as DecimalExponent upstream)
        (1, DEC, "1m"),
        (1000, DEC, "1"),
        (1234000, DEC, "1234"),
        (1024, BIN, "1024m"),
        (1000000, EXP, "1e3"),
        (1024 * 1024, BIN, "1048576m"),
        # prometheus-adapter's value conversion (reference §2.7)
        (16, DEC, "16m"),
        (20500, DEC, "20500m"),
        (2000000, DEC, "2k"),
        (3_000_000_000, DEC, "3M"),
        (-2500, DEC, "-2500m"),
        (0, DEC, "0"),
        (1_048_576_000, BIN, "1Mi"),
        (3_100_000, BIN, "3100"),
        (1500, BIN, "1500m"),
    ],
)
def test_from_milli(milli: int, fmt: QuantityFormat, text: str) -> None:
    quantity = Quantity.from_milli(milli, fmt)
    assert str(quantity) == text
    assert Quantity.parse(text).milli_value() == milli


@pytest.mark.parametrize(
    ("value", "fmt", "text"),
    [
        # TestNewSet
        (1, DEC, "1"),
        (1000, DEC, "1k"),
        (1234000, DEC, "1234k"),
        (1024, BIN, "1Ki"),
        (1000000, EXP, "1e6"),
        (1024 * 1024, BIN, "1Mi"),
    ],
)
def test_from_int(value: int, fmt: QuantityFormat, text: str) -> None:
    quantity = Quantity.from_int(value, fmt)
    assert str(quantity) == text
    assert Quantity.parse(text).value_int() == value


@pytest.mark.parametrize(
    ("value", "scale", "text"),
    [
        # TestNewScaledSet
        (1, -9, "1n"),
        (1000, -9, "1u"),
        (1, -6, "1u"),
        (1000, -6, "1m"),
        (1, -3, "1m"),
        (1000, -3, "1"),
        (1, 0, "1"),
        (0, -9, "0"),
        (0, 0, "0"),
        # below nano the exact value is kept and shown in exponent notation
        (1, -12, "1e-12"),
    ],
)
def test_from_scaled(value: int, scale: int, text: str) -> None:
    assert str(Quantity.from_scaled(value, scale, DEC)) == text


@pytest.mark.parametrize(
    ("from_scale", "milli", "whole"),
    [
        # TestScaledValue: ScaledValue rounds up, so any positive amount is at least 1
        (-9, 1, 1),
        (-6, 1, 1),
        (-3, 1, 1),
        (0, 1000, 1),
        (2, 100_000, 100),
    ],
)
def test_scaled_values_round_up(from_scale: int, milli: int, whole: int) -> None:
    quantity = Quantity.from_scaled(1, from_scale, DEC)
    assert quantity.milli_value() == milli
    assert quantity.value_int() == whole


@pytest.mark.parametrize(
    ("text", "milli", "whole"),
    [
        ("1.0001m", 2, 1),  # ceil(1.0001) milli
        ("1500m", 1500, 2),
        ("9.01", 9010, 10),  # TestQuantityRoundUp: 9.01 at scale 0 is 10
        ("-9.01", -9010, -10),  # and -9.01 is -10: away from zero
        ("0", 0, 0),
        ("1Ki", 1024000, 1024),
    ],
)
def test_milli_value_and_value(text: str, milli: int, whole: int) -> None:
    quantity = Quantity.parse(text)
    assert quantity.milli_value() == milli
    assert quantity.value_int() == whole


@given(st.fractions(), st.sampled_from(list(QuantityFormat)))
def test_milli_value_and_value_round_exactly_away_from_zero(
    value: Fraction, fmt: QuantityFormat
) -> None:
    """The accessors work on integers for speed; they must round as exact arithmetic
    does (MilliValue/Value: away from zero), for any rational, either sign."""
    quantity = Quantity(value, fmt)
    milli = value * 1000
    assert quantity.milli_value() == (math.ceil(milli) if milli >= 0 else math.floor(milli))
    assert quantity.value_int() == (math.ceil(value) if value >= 0 else math.floor(value))


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        # TestQuantityCmp
        ("0", "0", 0),
        ("100m", "50m", 1),
        ("50m", "100m", -1),
        ("10000T", "100Gi", 1),
        ("1Ki", "1024", 0),  # formats play no part
    ],
)
def test_cmp(left: str, right: str, expected: int) -> None:
    assert Quantity.parse(left).cmp(Quantity.parse(right)) == expected
    assert Quantity.parse(right).cmp(Quantity.parse(left)) == -expected


def test_as_float_and_zero() -> None:
    assert Quantity.parse("1500m").as_float() == 1.5
    assert Quantity.parse("1Ki").as_float() == 1024.0
    assert Quantity.parse("0Mi").is_zero()
    assert not Quantity.parse("1n").is_zero()


def test_non_decimal_fraction_prints_at_nano_precision() -> None:
    """A value no decimal writes exactly (direct construction only) rounds up to 1n steps."""
    assert str(Quantity(Fraction(1, 3), DEC)) == "333333334n"
    assert str(Quantity(Fraction(-2, 3), EXP)) == "-666666667e-9"


def test_two_to_the_63_binary_prints_8ei_but_parses_capped() -> None:
    """TestZeroSubMostNegativeInheritsFormat: 2^63 prints as 8Ei, which parses back
    capped at 2^63-1 (kubernetes#140674)."""
    assert str(Quantity(Fraction(2**63), BIN)) == "8Ei"
    assert Quantity.parse("8Ei").value == 2**63 - 1


def test_quantities_are_values() -> None:
    assert Quantity.parse("1.5") == Quantity.from_milli(1500)
    assert hash(Quantity.parse("1.5")) == hash(Quantity.from_milli(1500))
    assert Quantity.parse("1Ki") != Quantity.parse("1024")  # different formats
