"""`kubectl get -w` shows the same columns for watch events as `get` does.

kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io` on the watch too, and the
real server transforms each watch event's object into a Table of one row
(staging/src/k8s.io/apiserver/pkg/endpoints/handlers/watch.go with the table conversion
of handlers/response.go), so `-w` lines carry REFERENCE/TARGETS for HPAs and
READY/STATUS for pods, not NAME and AGE alone.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from support.apiserver import pod
from support.kubectl import kubectl_path

from adapter.sandbox.store import ClusterState

_LINE_WAIT = 30.0
"""A safety net for a kubectl that prints nothing more, not an expectation."""


@asynccontextmanager
async def _watching(kubeconfig: Path, *args: str) -> AsyncIterator[asyncio.StreamReader]:
    home = kubeconfig.parent
    env = {key: os.environ[key] for key in ("PATH", "LANG", "LC_ALL") if key in os.environ}
    env["HOME"] = str(home)
    process = await asyncio.create_subprocess_exec(
        kubectl_path(),
        f"--kubeconfig={kubeconfig}",
        f"--cache-dir={home / 'kube-cache'}",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
        cwd=home,
    )
    assert process.stdout is not None
    try:
        yield process.stdout
    finally:
        process.kill()
        await process.wait()


async def _line(stream: asyncio.StreamReader) -> list[str]:
    raw = await asyncio.wait_for(stream.readline(), _LINE_WAIT)
    return raw.decode().split()


def _hpa() -> dict[str, object]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "myblog", "namespace": "test"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "myblog"},
            "minReplicas": 1,
            "maxReplicas": 3,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 80},
                    },
                }
            ],
        },
    }


async def test_get_hpa_watch_prints_targets(
    sandbox_kubeconfig: Path, cluster_state: ClusterState
) -> None:
    cluster_state.create(_hpa())
    async with _watching(sandbox_kubeconfig, "get", "hpa", "-n", "test", "-w") as out:
        header = await _line(out)
        assert header == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
        first = await _line(out)
        assert first[:2] == ["myblog", "Deployment/myblog"]
        cluster_state.patch(
            "horizontalpodautoscalers",
            "myblog",
            {
                "status": {
                    "currentReplicas": 2,
                    "desiredReplicas": 2,
                    "currentMetrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "current": {"averageUtilization": 27, "averageValue": "27m"},
                            },
                        }
                    ],
                }
            },
            "test",
        )
        event = await _line(out)
    assert event[:2] == ["myblog", "Deployment/myblog"]
    assert " ".join(event[2:4]) == "cpu: 27%/80%"
    assert event[4:7] == ["1", "3", "2"]


async def test_get_pods_watch_prints_ready_and_status(
    sandbox_kubeconfig: Path, cluster_state: ClusterState
) -> None:
    cluster_state.create(pod("web-0", "test", phase="Pending", ready=False))
    async with _watching(sandbox_kubeconfig, "get", "pods", "-n", "test", "-w") as out:
        assert await _line(out) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        assert (await _line(out))[:3] == ["web-0", "0/1", "Pending"]
        cluster_state.create(pod("web-1", "test"))
        event = await _line(out)
    assert event[:4] == ["web-1", "1/1", "Running", "0"]
