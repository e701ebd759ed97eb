"""A sandbox Service balances over the ready pods of its selector, and only those.

As kube-proxy does with a Service's endpoints (kubernetes.io/docs/concepts/services-networking/
service, "Pods that are not ready are not used as endpoints"): `ab` against the Service
spreads its connections over the ready pods in turn; a starting pod gets none; a pod of
another app gets none.
"""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path

import aiohttp
from test_kubelet import myblog_pod, wait_for

from adapter.sandbox.kubelet import Kubelet, KubeletSettings
from adapter.sandbox.services import ServiceProxies
from adapter.sandbox.store import ClusterState


async def test_round_robin_over_ready_pods_only(tmp_path: Path) -> None:
    state = ClusterState()
    async with (
        Kubelet(state, KubeletSettings(workdir=tmp_path, probe_period=0.5)),
        ServiceProxies(state) as services,
    ):
        for name in ("ready-a", "ready-b"):
            state.create(myblog_pod(name))
        state.create(myblog_pod("starting", startup=120))
        other = myblog_pod("other-app")
        other["metadata"]["labels"] = {"app": "other"}
        state.create(other)
        state.create(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "myblog", "namespace": "test"},
                "spec": {"selector": {"app": "myblog"}, "ports": [{"port": 80}]},
            }
        )
        await wait_for(lambda: len(services.endpoints("test", "myblog")) == 2)
        address = services.address("test", "myblog")
        service = state.get("services", "myblog", "test")
        assert service is not None
        assert service["metadata"]["annotations"]["sandbox.metrics-adapter.io/address"] == address
        served: collections.Counter[str] = collections.Counter()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as s:
            for _ in range(10):
                async with s.get(f"http://{address}/") as response:
                    assert response.status == 200
                    served[response.headers["X-Pod-Name"]] += 1
        assert served == {"ready-a": 5, "ready-b": 5}

        # A pod leaving takes its endpoint with it.
        state.delete("pods", "ready-b", "test")
        await wait_for(lambda: len(services.endpoints("test", "myblog")) == 1)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as s:
            names = set()
            for _ in range(4):
                async with s.get(f"http://{address}/") as response:
                    names.add(response.headers["X-Pod-Name"])
        assert names == {"ready-a"}
        await asyncio.sleep(0)
