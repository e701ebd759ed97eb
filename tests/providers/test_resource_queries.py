"""metrics.k8s.io without servers: the PromQL each `resourceRules` rule renders for a pods
or nodes request (cases in tests/compat/cases/resource_query.yaml, each citing its
upstream source), and the conversion of a sample into a usage quantity.

Quantities follow metrics-server (`pkg/storage`: CPU as `resource.NewScaledQuantity(
nanocores, -9)`, memory as `resource.NewQuantity(bytes, BinarySI)`), with
prometheus-adapter's clamp of NaN and negative samples to 0 (`pkg/resourceprovider/
provider.go` runQuery).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapter.k8s.quantity import Quantity, QuantityFormat
from adapter.k8s.resources import RestMapper
from adapter.providers.resource import CPU, MEMORY, ResourceQuery
from adapter.providers.values import OutOfRangeError, UnrepresentableValueError
from adapter.rules import query as queries
from adapter.rules.config import parse_config
from adapter.rules.resources import ResourceConverter

CASES = Path(__file__).parents[1] / "compat" / "cases" / "resource_query.yaml"
MAPPER = RestMapper.builtin()


def _cases() -> list[Any]:
    cases = yaml.safe_load(CASES.read_text())
    return [pytest.param(case, id=case["id"]) for case in cases]


def resource_query(config_text: str, name: str) -> ResourceQuery:
    config = parse_config(config_text, "case.yaml")
    assert config.resource_rules is not None
    rule = getattr(config.resource_rules, name)
    return ResourceQuery(name, rule, ResourceConverter(rule.resources, MAPPER))


@pytest.mark.parametrize("case", _cases())
def test_resource_query_rendering(case: dict[str, Any]) -> None:
    rendering = resource_query(case["config"], case["resource"])
    request = case["request"]

    def build() -> str:
        if request["kind"] == "pods":
            return rendering.pod_query(request["namespace"], request["names"])
        return rendering.node_query(request["names"])

    expect = case["expect"]
    if "error" in expect:
        with pytest.raises(queries.QueryBuildError) as raised:
            build()
        assert expect["error"] in str(raised.value)
    else:
        assert build() == expect["query"]


def test_cases_cite_their_source() -> None:
    for case in yaml.safe_load(CASES.read_text()):
        assert case["source"] and case["checks"], case["id"]


SIMPLE = """
resourceRules:
  cpu: {containerQuery: x, nodeQuery: x, resources: {template: <<.Resource>>}}
  memory: {containerQuery: x, nodeQuery: x, resources: {template: <<.Resource>>}}
"""


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.002082398, "2082398n"),  # metrics-server's typical output
        (0.25, "250m"),  # canonical form: whole millicores print as m
        (1.5, "1500m"),
        (2.0, "2"),
        (0.0000000004, "0"),  # below a nanocore
        (-0.3, "0"),  # a counter reset makes rate() dip: clamped, as upstream
    ],
)
def test_cpu_samples_become_nanocore_quantities(value: float, text: str) -> None:
    quantity = resource_query(SIMPLE, CPU).quantity(value)
    assert quantity.format is QuantityFormat.DECIMAL_SI
    assert str(quantity) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (14315520.0, "13980Ki"),  # page-aligned working sets print in Ki
        (52428800.0, "50Mi"),
        (2147483648.0, "2Gi"),
        (3100.0, "3100"),  # not a multiple of 1024: plain bytes
        (1000.0, "1k"),  # under 1024 Go's BinarySI prints as DecimalSI
        (1500.7, "1500"),  # whole bytes, as metrics-server reports them
        (-1.0, "0"),
    ],
)
def test_memory_samples_become_binary_quantities(value: float, text: str) -> None:
    quantity = resource_query(SIMPLE, MEMORY).quantity(value)
    assert str(quantity) == text
    assert Quantity.parse(text).value == quantity.value


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1e30])
@pytest.mark.parametrize("resource", [CPU, MEMORY])
def test_unrepresentable_samples_have_no_quantity(resource: str, value: float) -> None:
    """Upstream clamps NaN to 0 and writes whatever int64(+Inf) gives; here such a
    sample has no quantity (the provider leaves the whole pod out)."""
    with pytest.raises(UnrepresentableValueError):
        resource_query(SIMPLE, resource).quantity(value)


def test_memory_whose_milli_value_overflows_is_refused() -> None:
    """9e18 bytes prints as a well-formed `8789062500000000Ki`, but the HPA reads it with
    `MilliValue()` (podautoscaler/metrics/client.go), which overflows int64."""
    with pytest.raises(OutOfRangeError, match=r"9e\+18 bytes"):
        resource_query(SIMPLE, MEMORY).quantity(9e18)
    assert str(resource_query(SIMPLE, MEMORY).quantity(9e15)) == "8789062500000Ki"
