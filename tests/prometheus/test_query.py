"""Instant queries against the real Prometheus (session server, default data set).

Pins the behaviour upstream's `pkg/client/api.go` (`queryClient.Query`, `httpAPIClient.Do`)
has and callers rely on: `/api/v1/query` with `query` and `time`, values parsed from
Prometheus' string form, Prometheus' own error text surfaced for bad PromQL.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import pytest
from support.prometheus import PrometheusProcess

from adapter.prometheus import (
    PrometheusClient,
    PrometheusQueryError,
    PrometheusSettings,
)


@pytest.fixture
async def client(prometheus: PrometheusProcess) -> AsyncIterator[PrometheusClient]:
    async with PrometheusClient(PrometheusSettings(prometheus.url)) as c:
        yield c


async def test_vector_result_has_labels_timestamps_and_rates(
    client: PrometheusClient, prometheus: PrometheusProcess
) -> None:
    result = await client.query(
        'rate(http_requests_total{namespace="shop"}[2m])', at=prometheus.now
    )
    assert result.result_type == "vector"
    assert result.scalar is None
    by_pod = {s.labels["pod"]: s for s in result.samples}
    assert sorted(by_pod) == ["web-1", "web-2", "web-3"]
    for n in (1, 2, 3):
        sample = by_pod[f"web-{n}"]
        assert sample.value == pytest.approx(float(n))
        assert sample.timestamp == prometheus.now
        # rate() drops the metric name; the other labels come back as stored.
        assert dict(sample.labels) == {"namespace": "shop", "service": "web", "pod": f"web-{n}"}
    assert result.warnings == ()
    assert result.elapsed > 0


async def test_default_time_is_now_and_data_is_fresh(client: PrometheusClient) -> None:
    # No `at`: upstream sends time=now; the shared data reaches an hour past its anchor.
    result = await client.query('queue_depth{queue="orders"}')
    assert [s.value for s in result.samples] == [42.0]


@pytest.mark.parametrize(
    ("promql", "value"),
    [
        ('scalar(queue_depth{queue="orders"})', 42.0),
        ("1 + 1", 2.0),
        ("-1/0", -math.inf),
    ],
)
async def test_scalar_result(
    client: PrometheusClient, prometheus: PrometheusProcess, promql: str, value: float
) -> None:
    result = await client.query(promql, at=prometheus.now)
    assert result.result_type == "scalar"
    assert result.samples == ()
    assert result.scalar is not None
    assert result.scalar.value == value
    assert result.scalar.timestamp == prometheus.now
    assert dict(result.scalar.labels) == {}


async def test_nan_and_infinities_survive(
    client: PrometheusClient, prometheus: PrometheusProcess
) -> None:
    result = await client.query("special_values", at=prometheus.now)
    values = {s.labels["case"]: s.value for s in result.samples}
    assert math.isnan(values["nan"])
    assert values["pos_inf"] == math.inf
    assert values["neg_inf"] == -math.inf
    assert values["negative"] == -2.5


async def test_matrix_result_flattens_points_in_time_order(
    client: PrometheusClient, prometheus: PrometheusProcess
) -> None:
    result = await client.query('queue_depth{queue="orders"}[1m]', at=prometheus.now)
    assert result.result_type == "matrix"
    times = [s.timestamp for s in result.samples]
    assert times == sorted(times)
    assert times[-1] == prometheus.now
    assert {s.value for s in result.samples} == {42.0}
    assert len(times) == 5  # every 15 s in [now-60s, now]: both ends inclusive in 2.x


async def test_string_result(client: PrometheusClient) -> None:
    result = await client.query('"hello"')
    assert result.result_type == "string"
    assert result.string == "hello"
    assert result.samples == ()


async def test_empty_vector_is_not_an_error(client: PrometheusClient) -> None:
    # "No data" is a state for the caller to name, never an error nor a zero.
    result = await client.query('queue_depth{queue="does-not-exist"}')
    assert result.result_type == "vector"
    assert result.samples == ()


async def test_syntax_error_carries_prometheus_message(client: PrometheusClient) -> None:
    with pytest.raises(PrometheusQueryError) as caught:
        await client.query("sum(rate(http_requests_total[2m])")
    err = caught.value
    assert isinstance(err, ValueError)
    assert err.status == 400
    assert err.error_type == "bad_data"
    assert err.path == "/api/v1/query"
    assert "parse error" in str(err)
    assert str(err).startswith("/api/v1/query: HTTP 400 bad_data: ")


async def test_execution_error_is_a_query_error(client: PrometheusClient) -> None:
    # Two series per side share namespace="shop": many-to-many matching is refused at
    # evaluation time (HTTP 422, errorType execution).
    with pytest.raises(PrometheusQueryError) as caught:
        await client.query("queue_depth + on(namespace) queue_depth")
    assert caught.value.status == 422
    assert caught.value.error_type == "execution"
    assert "many-to-many" in str(caught.value) or "duplicate series" in str(caught.value)


async def test_labels_and_label_values(
    client: PrometheusClient, prometheus: PrometheusProcess
) -> None:
    names = await client.labels(match="queue_depth", start=prometheus.now - 60)
    assert names == ["__name__", "namespace", "queue"]
    values = await client.label_values("queue", start=prometheus.now - 60)
    assert {"orders", "billing"} <= set(values)
