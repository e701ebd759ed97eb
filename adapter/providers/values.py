"""Prometheus sample values as Kubernetes quantities, as prometheus-adapter converts them.

Custom and external metrics: `trunc(value * 1000)` milli-units in DecimalSI, so 0.016
is `16m`, 20.5 is `20500m`, 2000 is `2k` and anything under 0.001 is `0`. Custom metrics
map NaN to 0 (upstream does); values that no quantity can hold (±Inf, beyond int64
milli-units) are refused instead of becoming the garbage upstream produces.

A `*` request formats one value per object, so the canonical DecimalSI text of a
milli-quantity is written here directly (`Quantity`'s exact rational arithmetic costs a
microsecond and more per value); `adapter.k8s.quantity` stays the definition it agrees with.
"""

from __future__ import annotations

import math

from adapter.k8s.quantity import Quantity, QuantityFormat

_INT64_MAX = 2**63 - 1
_SUFFIX_BY_THOUSANDS = ("", "k", "M", "G", "T", "P", "E")


class UnrepresentableValueError(ValueError):
    """A sample value that has no Kubernetes quantity (±Inf, or too large)."""


def milli_quantity(value: float, *, nan_as_zero: bool) -> str:
    """The canonical quantity string for a sample value."""
    if math.isnan(value):
        if nan_as_zero:
            return "0"
        raise UnrepresentableValueError("value is NaN")
    if math.isinf(value):
        raise UnrepresentableValueError(f"value is {value}")
    milli = math.trunc(value * 1000.0)
    if not -_INT64_MAX <= milli <= _INT64_MAX:
        raise UnrepresentableValueError(f"value {value!r} exceeds what a quantity holds")
    return milli_text(milli)


def milli_text(milli: int) -> str:
    """`resource.NewMilliQuantity(milli, DecimalSI).String()`: an integer mantissa with
    the largest exponent that is a multiple of 3 and keeps the value exact."""
    if milli % 1000:
        return f"{milli}m"
    if not milli:
        return "0"
    units = milli // 1000
    thousands = 0
    while units % 1000 == 0 and thousands < len(_SUFFIX_BY_THOUSANDS) - 1:
        units //= 1000
        thousands += 1
    if units % 1000 == 0:  # beyond E: not reachable from int64 milli-units
        return str(Quantity.from_milli(milli, QuantityFormat.DECIMAL_SI))
    return f"{units}{_SUFFIX_BY_THOUSANDS[thousands]}"
