"""Prometheus sample values as Kubernetes quantities, as prometheus-adapter converts them.

Custom and external metrics: `trunc(value * 1000)` milli-units in DecimalSI, so 0.016
is `16m`, 20.5 is `20500m`, 2000 is `2k` and anything under 0.001 is `0`. Custom metrics
map NaN to 0 (upstream does); values that no quantity can hold (±Inf, beyond int64
milli-units) are refused instead of becoming the garbage upstream produces.
"""

from __future__ import annotations

import math

from adapter.k8s.quantity import Quantity, QuantityFormat

_INT64_MAX = 2**63 - 1


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
    return str(Quantity.from_milli(milli, QuantityFormat.DECIMAL_SI))
