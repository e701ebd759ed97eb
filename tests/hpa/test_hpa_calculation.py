"""Go arithmetic and client-go conversions the HPA relies on, pinned directly.

The snapshots exercise these through whole syncs; here the edges are checked one by one:
float-to-int32 conversion as Go does it on amd64 (replica_calculator.go's int32(math.Ceil(...))),
int64 division truncating toward zero (metrics/utilization.go), the tolerance band of
replica_calculator.go's Tolerances.isWithin, and the selector conversion of client-go's
scale client (metav1.ParseToLabelSelector / LabelSelectorAsSelector).
"""

from __future__ import annotations

import math

import pytest

from adapter.hpa.calculation import Tolerances, go_div, go_fdiv, int32_from_float, wrap_int32
from adapter.hpa.model import Scale
from adapter.hpa.sync import ScaleReadError, scale_from_api


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (4.0, 4),
        (-2.9, -2),
        (2**31 - 1, 2**31 - 1),
        (2.0**31, -(2**31)),
        (math.inf, -(2**31)),
        (math.nan, -(2**31)),
    ],
)
def test_int32_conversion_saturates_like_amd64(value: float, expected: int) -> None:
    assert int32_from_float(value) == expected


def test_int32_arithmetic_wraps() -> None:
    assert wrap_int32(2**31) == -(2**31)
    assert wrap_int32(-(2**31) - 1) == 2**31 - 1


@pytest.mark.parametrize(("a", "b", "expected"), [(7, 2, 3), (-7, 2, -3), (7, -2, -3)])
def test_integer_division_truncates_toward_zero(a: int, b: int, expected: int) -> None:
    assert go_div(a, b) == expected


def test_float_division_by_zero_is_not_an_exception() -> None:
    assert go_fdiv(1.0, 0.0) == math.inf
    assert go_fdiv(-1.0, 0.0) == -math.inf
    assert math.isnan(go_fdiv(0.0, 0.0))


def test_tolerance_band_is_inclusive_and_per_direction() -> None:
    band = Tolerances(scale_down=0.25, scale_up=0.5)
    assert band.is_within(0.75)
    assert band.is_within(1.5)
    assert not band.is_within(0.7499)
    assert not band.is_within(1.5001)
    assert not band.is_within(math.nan)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("", Scale(3, 3, "")),
        ("app=web", Scale(3, 3, "app=web")),
        ("tier in (b,a),app==web", Scale(3, 3, "app=web,tier in (a,b)")),
        ("!canary", Scale(3, 3, "!canary")),
    ],
)
def test_scale_selector_is_canonicalised(selector: str, expected: Scale) -> None:
    assert scale_from_api(3, 3, selector) == expected


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("app!=web", '"!=" is not a valid label selector operator'),
        ("replicas>1", '"gt" isn\'t supported in label selectors'),
    ],
)
def test_scale_selector_without_api_form_fails_the_read(selector: str, message: str) -> None:
    assert scale_from_api(3, 3, selector) == ScaleReadError(message)


def test_unparsable_scale_selector_fails_the_read() -> None:
    assert isinstance(scale_from_api(3, 3, "cheddar cheese"), ScaleReadError)
