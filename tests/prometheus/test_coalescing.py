"""Identical queries in flight together cost Prometheus one evaluation.

Upstream sends one query per API request, so N HPAs or clients asking for one metric
at the same moment cost N evaluations; here they share the answer. Queries at an
explicit time (`at=`) and different PromQL are never merged.
"""

from __future__ import annotations

import asyncio

import pytest
from support.faultproxy import Delay, FaultProxy, Reply

from adapter.prometheus import PrometheusClient, PrometheusServerError, PrometheusSettings
from adapter.prometheus.errors import PrometheusTimeout


def _queries(proxy: FaultProxy) -> list[str | None]:
    return [r.param("query") for r in proxy.requests if r.path.endswith("/api/v1/query")]


async def test_concurrent_identical_queries_are_sent_once(fault_proxy: FaultProxy) -> None:
    fault_proxy.mode = Delay(0.3)
    async with PrometheusClient(PrometheusSettings(url=fault_proxy.url)) as client:
        results = await asyncio.gather(*(client.query("sum(queue_depth)") for _ in range(8)))
        assert _queries(fault_proxy) == ["sum(queue_depth)"]
        assert {r.samples[0].value for r in results} == {49.0}
        # Once answered, the next ask is a new query (no caching beyond the flight).
        await client.query("sum(queue_depth)")
    assert _queries(fault_proxy) == ["sum(queue_depth)", "sum(queue_depth)"]


async def test_different_queries_and_fixed_times_are_not_merged(fault_proxy: FaultProxy) -> None:
    fault_proxy.mode = Delay(0.2)
    async with PrometheusClient(PrometheusSettings(url=fault_proxy.url)) as client:
        await asyncio.gather(
            client.query("sum(queue_depth)"),
            client.query("max(queue_depth)"),
            client.query("sum(queue_depth)", at=1_700_000_000.0),
            client.query("sum(queue_depth)", at=1_700_000_000.0),
        )
    assert sorted(q or "" for q in _queries(fault_proxy)) == [
        "max(queue_depth)",
        "sum(queue_depth)",
        "sum(queue_depth)",
        "sum(queue_depth)",
    ]


async def test_every_waiter_sees_the_shared_failure(fault_proxy: FaultProxy) -> None:
    fault_proxy.mode = Reply(status=503, error_type="unavailable", error="overloaded")
    async with PrometheusClient(PrometheusSettings(url=fault_proxy.url)) as client:
        outcomes = await asyncio.gather(
            *(client.query("sum(queue_depth)") for _ in range(3)), return_exceptions=True
        )
    assert all(isinstance(o, PrometheusServerError) for o in outcomes)
    assert len(_queries(fault_proxy)) == 1


async def test_a_waiter_keeps_its_own_deadline(fault_proxy: FaultProxy) -> None:
    fault_proxy.mode = Delay(1.0)
    async with PrometheusClient(PrometheusSettings(url=fault_proxy.url)) as client:
        loop = asyncio.get_running_loop()
        patient = asyncio.ensure_future(client.query("sum(queue_depth)"))
        await asyncio.sleep(0.05)
        with pytest.raises(PrometheusTimeout):
            await client.query("sum(queue_depth)", deadline=loop.time() + 0.1)
        result = await patient  # the first caller still gets its answer
    assert result.samples[0].value == 49.0
    assert len(_queries(fault_proxy)) == 1
