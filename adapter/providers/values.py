"""Prometheus sample values as Kubernetes quantities, and the values that have none.

Custom and external metrics: `trunc(value * 1000)` milli-units in DecimalSI, as
prometheus-adapter converts them, so 0.016 is `16m`, 20.5 is `20500m`, 2000 is `2k` and
anything under 0.001 is `0`. Resource metrics (metrics.k8s.io): CPU in nanocores,
memory in whole bytes (`adapter.providers.resource` builds those quantities and checks
them here).

A value the adapter cannot read is never shown as a number, in any of the three APIs:

* NaN and ±Inf are "no value" (`NoValueError`): PromQL answers NaN for 0/0 and a rate
  over a reset, and upstream turns it into 0 (custom metrics) or garbage (external), so
  the HPA scaled a workload down on a value nobody measured.
* A value whose milli-value does not fit an int64 is "out of range" (`OutOfRangeError`).
  apimachinery's `Quantity` documents 2^63-1 as the largest magnitude it represents, and
  every consumer in the HPA reads metrics with `Quantity.MilliValue()`, which "could
  overflow an int64" (k8s.io/apimachinery `pkg/api/resource/quantity.go`; kube-controller-
  manager `pkg/controller/podautoscaler/metrics/client.go` reads resource, custom and
  external values that way). So 9e18 bytes, which prints as a well-formed
  `8789062500000000Ki`, would reach the HPA as an overflowed number: it is refused.

The providers decide what refusal means (an object left out of a list, or a Status for
a named object or an external metric); `adapter.providers.failures` words the Status.

A `*` request formats one value per object, so the canonical DecimalSI text of a
milli-quantity is written here directly (`Quantity`'s exact rational arithmetic costs a
microsecond and more per value); `adapter.k8s.quantity` stays the definition it agrees with.
"""

from __future__ import annotations

import math

from adapter.k8s.quantity import Quantity, QuantityFormat

INT64_MAX = 2**63 - 1
"""The largest magnitude of a Quantity, and of the MilliValue() the HPA reads."""
_SUFFIX_BY_THOUSANDS = ("", "k", "M", "G", "T", "P", "E")


class UnrepresentableValueError(ValueError):
    """A sample value that must not be shown as a quantity."""


class NoValueError(UnrepresentableValueError):
    """NaN or ±Inf: Prometheus answered, but with no number."""

    def __init__(self, value: float) -> None:
        self.value = value
        super().__init__(f"the value is {_text(value)}, which is no value")


class OutOfRangeError(UnrepresentableValueError):
    """A number beyond what a Kubernetes quantity's MilliValue() holds."""

    def __init__(self, value: float, unit: str = "") -> None:
        self.value = value
        what = f"{value:g}{' ' + unit if unit else ''}"
        super().__init__(
            f"the value {what} is beyond what a Kubernetes quantity holds "
            "(its milli-value must fit in int64)"
        )


def _text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "+Inf" if value > 0 else "-Inf"


def check_number(value: float, *, unit: str = "") -> float:
    """The value itself when it is a finite number whose milli-value fits in int64."""
    if math.isnan(value) or math.isinf(value):
        raise NoValueError(value)
    if abs(value) * 1000.0 >= INT64_MAX:
        raise OutOfRangeError(value, unit)
    return value


def milli_quantity(value: float) -> str:
    """The canonical quantity string for a custom or external metric's sample value."""
    milli = math.trunc(check_number(value) * 1000.0)
    if not -INT64_MAX <= milli <= INT64_MAX:  # float rounding at the very edge
        raise OutOfRangeError(value)
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
