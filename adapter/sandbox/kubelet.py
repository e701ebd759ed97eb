"""The sandbox's kubelet: Pod objects in, real local processes out.

Owns the node's side of a pod's life on the one-machine cluster. It registers its Node,
watches the Pods of the in-process `ClusterState`, binds the unscheduled ones to itself
(the scheduler's one decision, with a single node), and runs each container as a local
process of the walkthrough's web app (`adapter.sandbox.workload`) on a loopback port of
its own, with the container's `env`. It reports status as the real kubelet does: phase,
`podIP` (127.0.0.1: every pod shares the loopback address, so the port is in the
`sandbox.metrics-adapter.io/address` annotation), `startTime`, `containerStatuses`, and
the Ready condition once the app answers its readiness check (`/healthz`, as a
readinessProbe would). A container that exits is restarted (`restartCount`). A pod being
deleted (a `deletionTimestamp`) or gone is stopped gracefully - SIGTERM, its grace
period, SIGKILL - and then removed.

It also serves what the real node serves to Prometheus: the kubelet's `/metrics/cadvisor`
(the containers' CPU time and working set, measured from /proc) and, standing in for
node-exporter on the same node, `/node-exporter/metrics`. Where those are scraped from
is `scraping`'s; the Service proxies are `services`'.

Every process is started through `processes`, so none outlives the sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from adapter.k8s import status, timefmt
from adapter.k8s.resources import GroupResource
from adapter.sandbox import processes, procfs
from adapter.sandbox.store import ClusterState, StoredObject, Watcher

__all__ = [
    "ADDRESS_ANNOTATION",
    "Kubelet",
    "KubeletSettings",
    "free_port",
    "pod_address",
    "pod_is_ready",
]

log = logging.getLogger(__name__)

PODS = GroupResource("", "pods")
NODES = GroupResource("", "nodes")
ADDRESS_ANNOTATION = "sandbox.metrics-adapter.io/address"
"""host:port of a pod's first container: pods share 127.0.0.1, ports tell them apart."""


def free_port() -> int:
    """A loopback port free now (the OS picks it; the tiny race is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pod_address(pod: dict[str, Any]) -> str | None:
    annotations = pod.get("metadata", {}).get("annotations") or {}
    address = annotations.get(ADDRESS_ANNOTATION)
    return str(address) if address else None


def pod_is_ready(pod: dict[str, Any]) -> bool:
    """Ready as endpoints controllers read it: Ready=True and not being deleted."""
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return False
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


@dataclass(frozen=True, slots=True)
class KubeletSettings:
    workdir: Path
    """Where each container's log goes (`pods/<namespace>_<pod>_<container>.log`)."""
    node_name: str = "sandbox-node"
    python: str = sys.executable
    """The interpreter that runs the workload (the sandbox's own)."""
    probe_period: float = 5.0
    """Seconds between readiness checks once ready (readinessProbe's periodSeconds;
    upstream's default is 10). Before the first success it checks every half second."""
    failure_threshold: int = 3
    """Failed checks in a row before Ready turns False (upstream's default)."""
    default_grace: float = 30.0
    """terminationGracePeriodSeconds when the pod spec says none (upstream's default)."""
    restart_backoff: float = 2.0
    """Seconds before a container that exited is started again."""


def _utc_now() -> str:
    return timefmt.format_time(datetime.now(UTC))


@dataclass
class _Container:
    name: str
    image: str
    port: int
    env: dict[str, str]
    child: processes.Child | None = None
    restarts: int = 0
    started_at: str = ""


@dataclass
class _PodWorker:
    namespace: str
    name: str
    uid: str
    containers: list[_Container]
    grace: float
    task: asyncio.Task[None] | None = None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    ready: bool = False
    stopped: asyncio.Event = field(default_factory=asyncio.Event)


class Kubelet:
    """Use as `async with Kubelet(state, settings) as kubelet:`; see the module docstring."""

    def __init__(self, state: ClusterState, settings: KubeletSettings) -> None:
        self._state = state
        self._settings = settings
        self._workers: dict[tuple[str, str], _PodWorker] = {}
        self._watcher: Watcher | None = None
        self._task: asyncio.Task[None] | None = None
        self._terminating: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.metrics_url = ""
        """Base URL of the node's metrics endpoints, once started."""
        self.on_change: list[Callable[[], None]] = []
        """Called after every status write (the Service proxies and file SD listen)."""

    @property
    def node_name(self) -> str:
        return self._settings.node_name

    # -- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> Kubelet:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        (self._settings.workdir / "pods").mkdir(parents=True, exist_ok=True)
        self._session = aiohttp.ClientSession(
            trust_env=False, timeout=aiohttp.ClientTimeout(total=2.0)
        )
        await self._serve_metrics()
        self._register_node()
        self._watcher, initial = self._state.watch(PODS, "", lambda _: True, None)
        for event_type, stored in initial:
            self._handle(event_type, stored)
        self._task = asyncio.create_task(self._watch(self._watcher), name="kubelet-watch")

    async def close(self) -> None:
        """Stop every pod (gracefully, in parallel) and the metrics server."""
        if self._watcher is not None:
            self._watcher.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.gather(
            *(self._terminate(worker, remove=False) for worker in list(self._workers.values())),
            *list(self._terminating),
        )
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    # -- node --------------------------------------------------------------------------

    def _register_node(self) -> None:
        memory = procfs.host_memory_bytes()
        cpus = os.cpu_count() or 1
        resources = {"cpu": str(cpus), "memory": f"{memory // 1024}Ki", "pods": "110"}
        now = _utc_now()
        self._state.apply(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": self._settings.node_name,
                    "labels": {
                        "kubernetes.io/hostname": self._settings.node_name,
                        "kubernetes.io/os": "linux",
                        "node-role.kubernetes.io/control-plane": "",
                    },
                    "annotations": {"sandbox.metrics-adapter.io/metrics": self.metrics_url},
                },
                "spec": {},
                "status": {
                    "capacity": resources,
                    "allocatable": resources,
                    "conditions": [
                        {
                            "type": "Ready",
                            "status": "True",
                            "lastHeartbeatTime": now,
                            "lastTransitionTime": now,
                            "reason": "KubeletReady",
                            "message": "kubelet is posting ready status",
                        }
                    ],
                    "addresses": [
                        {"type": "InternalIP", "address": "127.0.0.1"},
                        {"type": "Hostname", "address": self._settings.node_name},
                    ],
                    "nodeInfo": {
                        "kubeletVersion": self._state.version_info["gitVersion"],
                        "operatingSystem": "linux",
                        "architecture": "amd64",
                        "containerRuntimeVersion": "sandbox://local-processes",
                        "osImage": "sandbox",
                        "kernelVersion": os.uname().release,
                    },
                },
            }
        )

    # -- metrics -----------------------------------------------------------------------

    def container_samples(self) -> list[procfs.ContainerSample]:
        samples: list[procfs.ContainerSample] = []
        for worker in self._workers.values():
            for container in worker.containers:
                child = container.child
                if child is None or child.returncode is not None:
                    continue
                usage = procfs.process_usage(child.pid)
                if usage is None:
                    continue
                samples.append(
                    procfs.ContainerSample(
                        worker.namespace,
                        worker.name,
                        container.name,
                        container.image,
                        child.pid,
                        usage,
                    )
                )
        return samples

    async def _serve_metrics(self) -> None:
        async def cadvisor(_: web.Request) -> web.Response:
            return web.Response(
                text=procfs.cadvisor_text(self.container_samples()),
                content_type="text/plain",
            )

        async def node_exporter(_: web.Request) -> web.Response:
            return web.Response(text=procfs.node_exporter_text(), content_type="text/plain")

        async def healthz(_: web.Request) -> web.Response:
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_get("/metrics/cadvisor", cadvisor)
        app.router.add_get("/node-exporter/metrics", node_exporter)
        app.router.add_get("/healthz", healthz)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        port = free_port()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.metrics_url = f"http://127.0.0.1:{port}"

    # -- pods --------------------------------------------------------------------------

    async def _watch(self, watcher: Watcher) -> None:
        while True:
            event_type, stored = await watcher.queue.get()
            try:
                self._handle(event_type, stored)
            except Exception:  # one bad pod must not stop the node
                log.exception("kubelet: handling %s %s failed", event_type, stored.key)

    def _handle(self, event_type: str, stored: StoredObject) -> None:
        pod = stored.obj
        key = (stored.namespace, stored.name)
        worker = self._workers.get(key)
        if worker is not None and worker.uid != pod["metadata"].get("uid"):
            # Same name, new object: the old one's worker is on its way out.
            self._spawn_terminate(worker, remove=False)
            worker = None
        if event_type == "DELETED":
            if worker is not None:
                self._spawn_terminate(worker, remove=False)
            return
        if pod["metadata"].get("deletionTimestamp"):
            if worker is not None:
                grace = pod["metadata"].get("deletionGracePeriodSeconds")
                if grace is not None:
                    worker.grace = float(grace)
                self._spawn_terminate(worker, remove=True)
            else:
                self._remove(stored.namespace, stored.name, pod["metadata"].get("uid"))
            return
        if worker is not None:
            return
        spec = pod.get("spec") or {}
        node = spec.get("nodeName") or ""
        if node and node != self._settings.node_name:
            return
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return
        self._start_worker(stored)

    def _start_worker(self, stored: StoredObject) -> None:
        pod = stored.obj
        spec = pod.get("spec") or {}
        containers = []
        for container in spec.get("containers") or []:
            env = {
                str(item["name"]): str(item.get("value", ""))
                for item in container.get("env") or []
                if isinstance(item, dict) and "name" in item
            }
            containers.append(
                _Container(
                    name=str(container.get("name", "app")),
                    image=str(container.get("image", "")),
                    port=free_port(),
                    env=env,
                )
            )
        grace = spec.get("terminationGracePeriodSeconds")
        worker = _PodWorker(
            namespace=stored.namespace,
            name=stored.name,
            uid=str(pod["metadata"].get("uid", "")),
            containers=containers,
            grace=float(grace) if grace is not None else self._settings.default_grace,
        )
        self._workers[(stored.namespace, stored.name)] = worker
        worker.task = asyncio.create_task(
            self._run_pod(worker), name=f"pod {stored.namespace}/{stored.name}"
        )

    def _patch_pod(self, worker: _PodWorker, patch: dict[str, Any]) -> bool:
        """Write to the pod if it is still the one this worker runs; False if gone."""
        current = self._state.stored(PODS, worker.namespace, worker.name)
        if current is None or current.obj["metadata"].get("uid") != worker.uid:
            return False
        try:
            self._state.patch("pods", worker.name, patch, worker.namespace)
        except status.StatusError as err:
            if err.code == 404:
                return False
            raise
        for callback in self.on_change:
            callback()
        return True

    def _status(self, worker: _PodWorker, *, phase: str, start_time: str) -> dict[str, Any]:
        now = _utc_now()
        ready = "True" if worker.ready else "False"
        statuses = []
        for container in worker.containers:
            running = container.child is not None and container.child.returncode is None
            state: dict[str, Any] = (
                {"running": {"startedAt": container.started_at}}
                if running
                else {"waiting": {"reason": "ContainerCreating"}}
            )
            statuses.append(
                {
                    "name": container.name,
                    "state": state,
                    "ready": worker.ready and running,
                    "restartCount": container.restarts,
                    "image": container.image,
                    "imageID": f"sandbox://{container.image}",
                    "containerID": (
                        f"sandbox://{container.child.pid}" if container.child is not None else ""
                    ),
                    "started": running,
                }
            )
        conditions: list[dict[str, Any]] = [
            {"type": "PodReadyToStartContainers", "status": "True"},
            {"type": "Initialized", "status": "True"},
            {"type": "Ready", "status": ready},
            {"type": "ContainersReady", "status": ready},
            {"type": "PodScheduled", "status": "True"},
        ]
        for condition in conditions:
            condition["lastProbeTime"] = None
            condition["lastTransitionTime"] = now
        return {
            "phase": phase,
            "conditions": conditions,
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "startTime": start_time,
            "containerStatuses": statuses,
            "qosClass": "Burstable",
        }

    async def _start_container(self, worker: _PodWorker, container: _Container) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOSTNAME": worker.name,
            **container.env,
        }
        log_file = (
            self._settings.workdir
            / "pods"
            / f"{worker.namespace}_{worker.name}_{container.name}.log"
        )
        container.child = await processes.spawn(
            [
                self._settings.python,
                "-m",
                "adapter.sandbox.workload",
                "--port",
                str(container.port),
                "--pod-name",
                worker.name,
                "--grace",
                str(worker.grace),
            ],
            name=f"pod {worker.namespace}/{worker.name} container {container.name}",
            env=env,
            log_file=log_file,
        )
        container.started_at = _utc_now()

    async def _run_pod(self, worker: _PodWorker) -> None:
        try:
            start_time = _utc_now()
            bound = self._patch_pod(worker, {"spec": {"nodeName": self._settings.node_name}})
            if not bound:
                return
            for container in worker.containers:
                await self._start_container(worker, container)
            address = f"127.0.0.1:{worker.containers[0].port}" if worker.containers else ""
            self._patch_pod(
                worker,
                {
                    "metadata": {"annotations": {ADDRESS_ANNOTATION: address}},
                    "status": self._status(worker, phase="Running", start_time=start_time),
                },
            )
            await self._probe_loop(worker, start_time)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("kubelet: pod %s/%s failed", worker.namespace, worker.name)

    async def _probe_loop(self, worker: _PodWorker, start_time: str) -> None:
        failures = 0
        while not worker.stopping.is_set():
            for container in worker.containers:
                if container.child is not None and container.child.returncode is not None:
                    log.info("pod %s/%s: container %s exited (%s), restarting",
                             worker.namespace, worker.name, container.name,
                             container.child.returncode)  # fmt: skip
                    await container.child.wait()
                    worker.ready = False
                    container.restarts += 1
                    self._patch_pod(
                        worker,
                        {"status": self._status(worker, phase="Running", start_time=start_time)},
                    )
                    await asyncio.sleep(self._settings.restart_backoff)
                    if worker.stopping.is_set():
                        return
                    await self._start_container(worker, container)
            ok = await self._check(worker)
            failures = 0 if ok else failures + 1
            changed = False
            if ok and not worker.ready:
                worker.ready, changed = True, True
            elif not ok and worker.ready and failures >= self._settings.failure_threshold:
                worker.ready, changed = False, True
            if changed:
                self._patch_pod(
                    worker, {"status": self._status(worker, phase="Running", start_time=start_time)}
                )
            period = self._settings.probe_period if worker.ready else 0.5
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(worker.stopping.wait(), period)

    async def _check(self, worker: _PodWorker) -> bool:
        assert self._session is not None
        for container in worker.containers:
            try:
                async with self._session.get(
                    f"http://127.0.0.1:{container.port}/healthz"
                ) as response:
                    if response.status != 200:
                        return False
            except (aiohttp.ClientError, TimeoutError):
                return False
        return True

    def _spawn_terminate(self, worker: _PodWorker, *, remove: bool) -> None:
        task = asyncio.create_task(self._terminate(worker, remove=remove))
        self._terminating.add(task)
        task.add_done_callback(self._terminating.discard)

    async def _terminate(self, worker: _PodWorker, *, remove: bool) -> None:
        """Stop a pod's containers gracefully; with `remove`, then delete the object (as
        the kubelet finishes a graceful deletion with a delete of grace period 0)."""
        if worker.stopping.is_set():
            await worker.stopped.wait()
            return
        worker.stopping.set()
        worker.ready = False
        if worker.task is not None:
            worker.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker.task
        try:
            await asyncio.gather(
                *(
                    container.child.stop(worker.grace)
                    for container in worker.containers
                    if container.child is not None
                )
            )
        finally:
            if self._workers.get((worker.namespace, worker.name)) is worker:
                del self._workers[(worker.namespace, worker.name)]
            worker.stopped.set()
        if remove:
            self._remove(worker.namespace, worker.name, worker.uid)
        for callback in self.on_change:
            callback()

    def _remove(self, namespace: str, name: str, uid: object) -> None:
        current = self._state.stored(PODS, namespace, name)
        if current is None or current.obj["metadata"].get("uid") != uid:
            return
        with contextlib.suppress(status.StatusError):
            self._state.remove(self._state.resolve("pods"), namespace, name)

    # -- views for the rest of the sandbox --------------------------------------------

    def running_pods(self) -> list[tuple[str, str, list[tuple[str, int]]]]:
        """(namespace, pod, [(container, port)]) of every pod with a process."""
        return [
            (worker.namespace, worker.name, [(c.name, c.port) for c in worker.containers])
            for worker in self._workers.values()
            if not worker.stopping.is_set()
        ]

    def pids(self) -> list[int]:
        return [
            container.child.pid
            for worker in self._workers.values()
            for container in worker.containers
            if container.child is not None and container.child.returncode is None
        ]
