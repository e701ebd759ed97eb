"""The sandbox's kubelet runs pods as real processes, reports them, and leaves none behind.

What a user of `python -m adapter sandbox` depends on: a Pod object becomes a process
serving the app, Ready only once the app answers its readiness check (as a
readinessProbe; kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle, "Pod
conditions"), a deleted pod's process is stopped, and no process survives the sandbox -
not after an error in the middle, not even after the sandbox is SIGKILLed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapter.sandbox import processes
from adapter.sandbox.kubelet import Kubelet, KubeletSettings, pod_address, pod_is_ready
from adapter.sandbox.store import ClusterState


def myblog_pod(name: str, *, startup: float = 0.2, namespace: str = "test") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "myblog"}},
        "spec": {
            "terminationGracePeriodSeconds": 5,
            "containers": [
                {
                    "name": "myblog",
                    "image": "myblog:v1",
                    "env": [
                        {"name": "MYBLOG_STARTUP_SECONDS", "value": str(startup)},
                        {"name": "MYBLOG_LATENCY_MS", "value": "0"},
                    ],
                    "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}},
                }
            ],
        },
    }


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes (its parent has not reaped it yet).
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


async def wait_for(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout}s")


async def test_a_pod_becomes_a_ready_process_and_a_deleted_pod_stops(tmp_path: Path) -> None:
    state = ClusterState()
    async with Kubelet(state, KubeletSettings(workdir=tmp_path, probe_period=0.5)) as kubelet:
        node = state.get("nodes", kubelet.node_name)
        assert node is not None and node["status"]["capacity"]["cpu"] == str(os.cpu_count())
        state.create(myblog_pod("myblog-1"))
        await wait_for(lambda: pod_is_ready(state.get("pods", "myblog-1", "test") or {}))
        pod = state.get("pods", "myblog-1", "test")
        assert pod is not None
        assert pod["spec"]["nodeName"] == kubelet.node_name
        assert pod["status"]["phase"] == "Running"
        assert pod["status"]["podIP"] == "127.0.0.1"
        assert pod["status"]["containerStatuses"][0]["ready"] is True
        address = pod_address(pod)
        assert address is not None
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://{address}/") as response,
        ):
            assert response.status == 200
            assert response.headers["X-Pod-Name"] == "myblog-1"
        [pid] = kubelet.pids()
        # cAdvisor's series for it, from the process's real CPU time and memory.
        [sample] = kubelet.container_samples()
        assert (sample.namespace, sample.pod, sample.container) == ("test", "myblog-1", "myblog")
        assert sample.usage.cpu_seconds > 0 and sample.usage.rss_bytes > 16 * 1024 * 1024

        state.delete("pods", "myblog-1", "test")
        await wait_for(lambda: not alive(pid), timeout=10)
        await wait_for(lambda: kubelet.pids() == [])


async def test_readiness_follows_the_apps_start_up(tmp_path: Path) -> None:
    state = ClusterState()
    async with Kubelet(state, KubeletSettings(workdir=tmp_path)):
        state.create(myblog_pod("slow", startup=60))
        await wait_for(lambda: pod_address(state.get("pods", "slow", "test") or {}) is not None)
        await asyncio.sleep(1.5)  # the kubelet has checked /healthz a few times by now
        pod = state.get("pods", "slow", "test")
        assert pod is not None and pod["status"]["phase"] == "Running"
        assert not pod_is_ready(pod)


async def test_an_error_half_way_leaves_no_process(tmp_path: Path) -> None:
    state = ClusterState()
    pids: list[int] = []
    with pytest.raises(RuntimeError, match="half-way"):
        async with Kubelet(state, KubeletSettings(workdir=tmp_path)) as kubelet:
            for index in range(2):
                state.create(myblog_pod(f"p{index}"))
            await wait_for(lambda: len(kubelet.pids()) == 2)
            pids = kubelet.pids()
            raise RuntimeError("the demo failed half-way")
    assert pids and not any(alive(pid) for pid in pids)
    assert not set(pids) & set(processes.live_children())


_HARD_KILLED = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from adapter.sandbox.kubelet import Kubelet, KubeletSettings
    from adapter.sandbox.store import ClusterState
    sys.path.insert(0, sys.argv[2])
    from test_kubelet import myblog_pod

    async def main():
        state = ClusterState()
        async with Kubelet(state, KubeletSettings(workdir=Path(sys.argv[1]))) as kubelet:
            for index in range(2):
                state.create(myblog_pod(f"p{index}", startup=60))
            while len(kubelet.pids()) < 2:
                await asyncio.sleep(0.05)
            print(*kubelet.pids(), flush=True)
            await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


async def test_a_sigkilled_sandbox_takes_its_pods_with_it(tmp_path: Path) -> None:
    """SIGKILL skips every finally block and atexit hook: the children go because the
    kernel is asked to end them with their parent (PR_SET_PDEATHSIG)."""
    script = tmp_path / "killed.py"
    script.write_text(_HARD_KILLED)
    parent = await asyncio.create_subprocess_exec(
        sys.executable, str(script), str(tmp_path), str(Path(__file__).parent),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert parent.stdout is not None
    line = await asyncio.wait_for(parent.stdout.readline(), 60)
    pids = [int(pid) for pid in line.split()]
    assert len(pids) == 2 and all(alive(pid) for pid in pids)
    parent.send_signal(signal.SIGKILL)
    await parent.wait()
    await wait_for(lambda: not any(alive(pid) for pid in pids), timeout=10)
