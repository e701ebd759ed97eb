"""Kubernetes resource quantities: the fixed-point numbers of `100m`, `1.5Gi`, `2e3`.

Owns parsing the quantity grammar of apimachinery's `resource.ParseQuantity` (same
accepted strings, same rounding, same errors) and printing the canonical form of
`Quantity.String()` byte for byte, because HPA targets, MetricValue values and
`kubectl top` output are compared as text by users and by tests. The value is held as an
exact `Fraction`, never a float, for the same reason upstream avoids floats.

What a number means (CPU cores, bytes, requests per second) is the caller's business:
providers turn Prometheus samples into quantities with `Quantity.from_milli`, the HPA
reads targets with `Quantity.parse`.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["Quantity", "QuantityError", "QuantityFormat"]


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity.

    `reason` carries apimachinery's own error text (one of three fixed messages), the
    string form adds the offending text so a log line says what was rejected.
    """

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"quantity {text!r}: {reason}")
        self.text = text
        self.reason = reason


class QuantityFormat(enum.Enum):
    """How a quantity prints, remembered from the suffix it was parsed with."""

    DECIMAL_SI = "DecimalSI"
    BINARY_SI = "BinarySI"
    DECIMAL_EXPONENT = "DecimalExponent"


# apimachinery's three parse errors, in its words.
_SPLIT_RE = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT_WRONG = f"quantities must match the regular expression '{_SPLIT_RE}'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

_DIGITS = frozenset("0123456789")
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")

# suffix -> (base, exponent, format)
_SUFFIXES: dict[str, tuple[int, int, QuantityFormat]] = {
    "": (10, 0, QuantityFormat.DECIMAL_SI),
    "n": (10, -9, QuantityFormat.DECIMAL_SI),
    "u": (10, -6, QuantityFormat.DECIMAL_SI),
    "m": (10, -3, QuantityFormat.DECIMAL_SI),
    "k": (10, 3, QuantityFormat.DECIMAL_SI),
    "M": (10, 6, QuantityFormat.DECIMAL_SI),
    "G": (10, 9, QuantityFormat.DECIMAL_SI),
    "T": (10, 12, QuantityFormat.DECIMAL_SI),
    "P": (10, 15, QuantityFormat.DECIMAL_SI),
    "E": (10, 18, QuantityFormat.DECIMAL_SI),
    "Ki": (2, 10, QuantityFormat.BINARY_SI),
    "Mi": (2, 20, QuantityFormat.BINARY_SI),
    "Gi": (2, 30, QuantityFormat.BINARY_SI),
    "Ti": (2, 40, QuantityFormat.BINARY_SI),
    "Pi": (2, 50, QuantityFormat.BINARY_SI),
    "Ei": (2, 60, QuantityFormat.BINARY_SI),
}
_DECIMAL_SUFFIX_BY_EXPONENT = {
    -9: "n",
    -6: "u",
    -3: "m",
    0: "",
    3: "k",
    6: "M",
    9: "G",
    12: "T",
    15: "P",
    18: "E",
}
_BINARY_SUFFIX_BY_POWER = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")

_INT64_MAX = (1 << 63) - 1
_NANO = 10**9
# Upstream keeps any int32 exponent and any number of digits (as a scaled big decimal);
# an exact Fraction of 10**2147483647 would not fit in memory, and Python refuses to
# convert more than 4300 digits, so absurdly long numbers and exponents are refused.
# No real quantity comes near either bound.
_MAX_EXPONENT = 1000
_MAX_DIGITS = 1000


@functools.lru_cache(maxsize=256)
def _decimal_places(denominator: int) -> int | None:
    """Digits after the point needed to write 1/denominator exactly, or None if endless."""
    twos = (denominator & -denominator).bit_length() - 1
    rest = denominator >> twos
    fives = 0
    while rest % 5 == 0:
        rest //= 5
        fives += 1
    return max(twos, fives) if rest == 1 else None


def _round_away_from_zero(value: Fraction, unit: int) -> Fraction:
    """Round to a multiple of 1/unit, away from zero, as inf.RoundUp does."""
    scaled = value * unit
    if scaled.denominator == 1:
        return value
    magnitude = -((-abs(scaled.numerator)) // scaled.denominator)
    return Fraction(magnitude if value > 0 else -magnitude, unit)


def _scan(text: str) -> tuple[bool, str, str, str, str]:
    """Split a quantity into sign, numeric text, integer digits, fraction digits, suffix.

    Follows apimachinery's `parseQuantityString` scanner exactly, including what it lets
    through ("." and "Ki" scan as zero) and where it stops.
    """
    positive = True
    pos = 0
    end = len(text)
    if end and text[0] in "+-":
        positive = text[0] == "+"
        pos = 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "0", "", ""
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos >= end:
        return positive, text, text[start:], "", ""
    num = text[start:pos] or "0"
    denom = ""
    if text[pos] == ".":
        pos += 1
        frac_start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom = text[frac_start:pos]
        if pos >= end:
            return positive, text, num, denom, ""
    number = text[:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(text, ERR_FORMAT_WRONG)
    return positive, number, num, denom, text[suffix_start:]


def _interpret_suffix(text: str, suffix: str) -> tuple[int, int, QuantityFormat]:
    known = _SUFFIXES.get(suffix)
    if known is not None:
        return known
    if len(suffix) > 1 and suffix[0] in "eE":
        digits = suffix[1:]
        body = digits[1:] if digits[0] in "+-" else digits
        if not body or not body.isascii() or not body.isdigit():
            raise QuantityError(text, ERR_SUFFIX)
        exponent = int(digits)
        if not -(1 << 63) <= exponent <= _INT64_MAX:
            raise QuantityError(text, ERR_SUFFIX)
        if abs(exponent) > _MAX_EXPONENT:
            raise QuantityError(text, f"exponent {exponent} is outside the supported range")
        return 10, exponent, QuantityFormat.DECIMAL_EXPONENT
    raise QuantityError(text, ERR_SUFFIX)


@dataclass(frozen=True, slots=True)
class Quantity:
    """An exact quantity and the format it prints in.

    `value` is any exact rational; values finer than a nanounit only arise from
    `from_scaled` or direct construction, since parsing rounds to nano like upstream.
    """

    value: Fraction
    format: QuantityFormat

    @classmethod
    def parse(cls, text: str) -> Quantity:
        """Parse like `resource.ParseQuantity`: same grammar, rounding and caps.

        Values finer than 1n round away from zero to the next nanounit ("0.1n" is 1n),
        a BinarySI value is capped at 2^63-1 in magnitude ("8Ei"), and a BinarySI value
        strictly between -1 and 1 becomes DecimalSI. Leading or trailing spaces fail.
        """
        if not text:
            raise QuantityError(text, ERR_FORMAT_WRONG)
        if text == "0":
            return _ZERO
        positive, number, num, denom, suffix = _scan(text)
        base, exponent, fmt = _interpret_suffix(text, suffix)
        if number.strip("+-.") == "" and fmt is not QuantityFormat.BINARY_SI and exponent < -9:
            # Upstream takes its slow path here and fails to read a number without digits.
            raise QuantityError(text, ERR_NUMERIC)
        if len(num) + len(denom) > _MAX_DIGITS:
            raise QuantityError(text, f"more than {_MAX_DIGITS} digits are not supported")
        digits = int(num + denom)
        if base == 10:
            shift = exponent - len(denom)
            value = Fraction(digits * 10**shift) if shift >= 0 else Fraction(digits, 10**-shift)
        else:
            value = Fraction(digits << exponent, 10 ** len(denom))
        if not positive:
            value = -value
        if value:
            value = _round_away_from_zero(value, _NANO)
            if fmt is QuantityFormat.BINARY_SI:
                if abs(value) > _INT64_MAX:
                    value = Fraction(_INT64_MAX if value > 0 else -_INT64_MAX)
                elif abs(value) < 1:
                    fmt = QuantityFormat.DECIMAL_SI
        return cls(value, fmt)

    @classmethod
    def from_milli(cls, milli: int, fmt: QuantityFormat = QuantityFormat.DECIMAL_SI) -> Quantity:
        """`resource.NewMilliQuantity`: milli/1000 in the given format."""
        return cls(Fraction(milli, 1000), fmt)

    @classmethod
    def from_int(cls, value: int, fmt: QuantityFormat = QuantityFormat.DECIMAL_SI) -> Quantity:
        """`resource.NewQuantity`: a whole number in the given format."""
        return cls(Fraction(value), fmt)

    @classmethod
    def from_scaled(cls, value: int, scale: int, fmt: QuantityFormat) -> Quantity:
        """value * 10**scale, as `resource.NewScaledQuantity` (which is always DecimalSI)."""
        if scale >= 0:
            return cls(Fraction(value * 10**scale), fmt)
        return cls(Fraction(value, 10**-scale), fmt)

    def __str__(self) -> str:
        """The canonical form of `Quantity.String()`.

        Decimal formats print an integer mantissa with the largest exponent that is a
        multiple of 3 and keeps the value exact ("1500m", "2k", "80e-3"); DecimalSI
        falls back to "e" notation beyond the E and below the n suffix. BinarySI prints
        powers of 1024 for whole values of magnitude 1024 or more, and prints as
        DecimalSI otherwise ("1025", "1500m").
        """
        value = self.value
        numerator = value.numerator
        if numerator == 0:
            return "0"
        denominator = value.denominator
        fmt = self.format
        if fmt is QuantityFormat.BINARY_SI:
            if denominator == 1 and (numerator >= 1024 or numerator <= -1024):
                power = 0
                while power < 6 and numerator % 1024 == 0:
                    numerator //= 1024
                    power += 1
                return f"{numerator}{_BINARY_SUFFIX_BY_POWER[power]}"
            fmt = QuantityFormat.DECIMAL_SI
        if denominator == 1:
            mantissa = numerator
            exponent = 0
            while mantissa % 1000 == 0:
                mantissa //= 1000
                exponent += 3
            while mantissa % 10 == 0:
                mantissa //= 10
                exponent += 1
        else:
            places = _decimal_places(denominator)
            if places is None:
                # Not a finite decimal (only possible by direct construction): show it
                # at nano precision, rounded away from zero like parsing does.
                return str(type(self)(_round_away_from_zero(value, _NANO), self.format))
            mantissa = numerator * (10**places // denominator)
            exponent = -places
        remainder = exponent % 3
        if remainder:
            mantissa *= 10**remainder
            exponent -= remainder
        if fmt is QuantityFormat.DECIMAL_SI:
            suffix = _DECIMAL_SUFFIX_BY_EXPONENT.get(exponent)
            if suffix is not None:
                return f"{mantissa}{suffix}"
        return f"{mantissa}e{exponent}" if exponent else str(mantissa)

    def milli_value(self) -> int:
        """`MilliValue()`: the value in thousandths, rounded away from zero."""
        value = self.value
        return _ratio_away_from_zero(value.numerator * 1000, value.denominator)

    def value_int(self) -> int:
        """`Value()`: the value as a whole number, rounded away from zero."""
        value = self.value
        return _ratio_away_from_zero(value.numerator, value.denominator)

    def as_float(self) -> float:
        """`AsApproximateFloat64()`: for arithmetic where exactness no longer matters."""
        return float(self.value)

    def cmp(self, other: Quantity) -> int:
        """`Cmp()`: -1, 0 or 1 by value alone; the format plays no part."""
        if self.value < other.value:
            return -1
        return 1 if self.value > other.value else 0

    def is_zero(self) -> bool:
        return self.value == 0


def _ratio_away_from_zero(numerator: int, denominator: int) -> int:
    """numerator/denominator (denominator > 0) rounded away from zero, in integers:
    the HPA reads every quantity this way at every sync, and Fraction arithmetic
    (a new normalized Fraction, then ceil) costs several times as much."""
    if numerator >= 0:
        return -(-numerator // denominator)
    return numerator // denominator


_ZERO = Quantity(Fraction(0), QuantityFormat.DECIMAL_SI)
