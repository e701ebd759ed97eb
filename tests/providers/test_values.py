"""Sample values as quantity text: the fast formatting agrees with `Quantity`.

prometheus-adapter writes custom metric values as
`resource.NewMilliQuantity(int64(value*1000), resource.DecimalSI)` (`pkg/custom-provider/
provider.go` `metricFor`); `milli_text` writes that quantity's canonical String() without
rational arithmetic, and must agree with `adapter.k8s.quantity.Quantity` (which pins
apimachinery's `Quantity.String()` in its own tests) for every int64 milli value.
"""

from __future__ import annotations

import math
import random

import pytest

from adapter.k8s.quantity import Quantity, QuantityFormat
from adapter.providers.values import (
    NoValueError,
    OutOfRangeError,
    UnrepresentableValueError,
    check_number,
    milli_quantity,
    milli_text,
)

INT64_MAX = 2**63 - 1


def _reference(milli: int) -> str:
    return str(Quantity.from_milli(milli, QuantityFormat.DECIMAL_SI))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0"),
        (0.0009, "0"),
        (0.016, "16m"),
        (1.5, "1500m"),
        (20.5, "20500m"),
        (1.0, "1"),
        (1500.0, "1500"),
        (2000.0, "2k"),
        (2_000_000.0, "2M"),
        (-0.25, "-250m"),
        (-3000.0, "-3k"),
        (9.2e15, "9200T"),  # the largest magnitude whose MilliValue() fits
    ],
)
def test_values_as_upstream_writes_them(value: float, text: str) -> None:
    assert milli_quantity(value) == text


def test_agrees_with_quantity_across_int64() -> None:
    rng = random.Random(20261122)
    cases = [0, 1, -1, 999, 1000, 1001, INT64_MAX, -INT64_MAX, 10**18, 9 * 10**18]
    cases += [10**k for k in range(19)] + [-(10**k) for k in range(19)]
    cases += [rng.randrange(-INT64_MAX, INT64_MAX) for _ in range(2000)]
    cases += [rng.randrange(1, 10**6) * 10 ** rng.randrange(0, 13) for _ in range(2000)]
    for milli in cases:
        assert milli_text(milli) == _reference(milli), milli


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinities_are_no_value(value: float) -> None:
    """Upstream turns NaN into `0` (custom) and ±Inf into an overflowed int64; here
    neither is a number at all."""
    with pytest.raises(NoValueError, match="no value"):
        milli_quantity(value)


@pytest.mark.parametrize("value", [1e17, -1e17, 9.3e15, 9e18, 1e300])
def test_values_whose_milli_value_overflows_are_out_of_range(value: float) -> None:
    """apimachinery's quantity.go: a Quantity holds at most 2^63-1 in magnitude and
    `MilliValue()` "could overflow an int64"; the HPA reads every metric through
    MilliValue() (kube-controller-manager podautoscaler/metrics/client.go)."""
    with pytest.raises(OutOfRangeError, match="beyond what a Kubernetes quantity holds"):
        milli_quantity(value)
    assert issubclass(OutOfRangeError, UnrepresentableValueError)


def test_check_number_names_the_unit() -> None:
    with pytest.raises(OutOfRangeError, match=r"9e\+18 bytes"):
        check_number(9e18, unit="bytes")
    assert check_number(1.5) == 1.5
