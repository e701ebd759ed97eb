"""The sandbox's Prometheus: Debian's real server, scraping what the kubelet runs.

Owns the Prometheus configuration, the file-based service discovery the sandbox keeps
current, and the `prometheus` process. Three jobs, as a Kubernetes install has them:

* `kubernetes-pods`: each running pod's own `/metrics` (the app's `http_requests_total`);
  the targets file carries the `__meta_kubernetes_*` labels Prometheus' own kubernetes_sd
  would give a pod, and relabelling turns them into `namespace`, `pod` and `container`
  (and the older `kubernetes_namespace` / `kubernetes_pod_name`, which the walkthrough's
  requests-per-second rule reads), so the same relabelling works in a real cluster.
* `kubernetes-cadvisor`: the kubelet's `/metrics/cadvisor` (the container series carry
  their own namespace/pod/container labels, as cAdvisor's do), with `node` added.
* `node-exporter`: node series with a `node` label, which the default nodeQuery needs.

Target files are rewritten (atomically, only when they change) as pods come and go;
Prometheus notices through inotify, without a reload. Readiness of a pod does not matter
here, as with kubernetes_sd's pod role: a starting pod is scraped too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from adapter.sandbox import processes
from adapter.sandbox.kubelet import free_port

__all__ = ["PodTarget", "PrometheusServer", "PrometheusStartError", "prometheus_config"]

PROMETHEUS_BIN = os.environ.get("PROMETHEUS_BIN", "prometheus")


class PrometheusStartError(RuntimeError):
    """The prometheus binary is missing, exited, or never became ready."""


@dataclass(frozen=True, slots=True)
class PodTarget:
    namespace: str
    pod: str
    container: str
    node: str
    address: str


def _relabel(source: str, target: str) -> str:
    return f"      - source_labels: [{source}]\n        target_label: {target}\n"


def prometheus_config(sd_dir: Path, scrape_interval: float) -> str:
    """prometheus.yml for the three jobs (see the module docstring)."""
    interval = f"{scrape_interval:g}s"

    def job(name: str, file: str, labels: Iterable[tuple[str, str]]) -> str:
        text = (
            f"  - job_name: {name}\n"
            f"    file_sd_configs:\n"
            f"      - files: [{json.dumps(str(sd_dir / file))}]\n"
            f"    relabel_configs:\n"
        )
        return text + "".join(_relabel(source, target) for source, target in labels)

    return (
        "# Written by the metrics-adapter sandbox; targets come from the files beside it.\n"
        "global:\n"
        f"  scrape_interval: {interval}\n"
        f"  scrape_timeout: {interval}\n"
        "  evaluation_interval: 1m\n"
        "scrape_configs:\n"
        + job(
            "kubernetes-pods",
            "pods.json",
            (
                ("__meta_kubernetes_namespace", "namespace"),
                ("__meta_kubernetes_pod_name", "pod"),
                ("__meta_kubernetes_pod_container_name", "container"),
                ("__meta_kubernetes_namespace", "kubernetes_namespace"),
                ("__meta_kubernetes_pod_name", "kubernetes_pod_name"),
            ),
        )
        + job("kubernetes-cadvisor", "cadvisor.json", (("__meta_kubernetes_node_name", "node"),))
        + job("node-exporter", "node-exporter.json", (("__meta_kubernetes_node_name", "node"),))
    )


def _write_if_changed(path: Path, groups: list[dict[str, object]]) -> None:
    text = json.dumps(groups, indent=1, sort_keys=True)
    with contextlib.suppress(OSError):
        if path.read_text() == text:
            return
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    temporary.replace(path)


class PrometheusServer:
    """`async with PrometheusServer(workdir, ...)`: running and ready inside the block."""

    def __init__(self, workdir: Path, *, scrape_interval: float = 5.0) -> None:
        self.workdir = workdir
        self.scrape_interval = scrape_interval
        self.port = 0
        self._child: processes.Child | None = None
        self.sd_dir = workdir / "file_sd"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "prometheus.log"

    def set_pods(self, targets: Iterable[PodTarget]) -> None:
        groups: list[dict[str, object]] = [
            {
                "targets": [target.address],
                "labels": {
                    "__meta_kubernetes_namespace": target.namespace,
                    "__meta_kubernetes_pod_name": target.pod,
                    "__meta_kubernetes_pod_container_name": target.container,
                    "__meta_kubernetes_pod_node_name": target.node,
                },
            }
            for target in sorted(targets, key=lambda t: (t.namespace, t.pod, t.container))
        ]
        _write_if_changed(self.sd_dir / "pods.json", groups)

    def set_node(self, node: str, kubelet_address: str) -> None:
        for file, path in (
            ("cadvisor.json", "/metrics/cadvisor"),
            ("node-exporter.json", "/node-exporter/metrics"),
        ):
            _write_if_changed(
                self.sd_dir / file,
                [
                    {
                        "targets": [kubelet_address],
                        "labels": {"__meta_kubernetes_node_name": node, "__metrics_path__": path},
                    }
                ],
            )

    async def __aenter__(self) -> PrometheusServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        binary = shutil.which(PROMETHEUS_BIN)
        if binary is None:
            raise PrometheusStartError(
                f"{PROMETHEUS_BIN!r} is not installed (Debian: apt-get install prometheus)"
            )
        self.sd_dir.mkdir(parents=True, exist_ok=True)
        for file in ("pods.json", "cadvisor.json", "node-exporter.json"):
            if not (self.sd_dir / file).exists():
                _write_if_changed(self.sd_dir / file, [])
        config = self.workdir / "prometheus.yml"
        config.write_text(prometheus_config(self.sd_dir, self.scrape_interval))
        self.port = free_port()
        self._child = await processes.spawn(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1d",
                "--log.level=warn",
            ],
            name="prometheus",
            log_file=self.log_path,
        )
        try:
            await self._wait_ready()
        except BaseException:
            await self.stop()
            raise

    async def _wait_ready(self, timeout: float = 60.0) -> None:
        assert self._child is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with aiohttp.ClientSession(trust_env=False) as session:
            while loop.time() < deadline:
                if self._child.returncode is not None:
                    raise PrometheusStartError(
                        f"prometheus exited with {self._child.returncode}; see {self.log_path}"
                    )
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with session.get(self.url + "/-/ready") as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise PrometheusStartError(f"prometheus not ready after {timeout:g}s; see {self.log_path}")

    async def stop(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            await child.stop(grace=10.0)

    async def query(self, session: aiohttp.ClientSession, promql: str) -> list[dict[str, object]]:
        """An instant query's result vector (the demo's plot and the tests' checks)."""
        async with session.get(self.url + "/api/v1/query", params={"query": promql}) as response:
            body = await response.json()
        if body.get("status") != "success":
            raise RuntimeError(f"query {promql!r} failed: {body}")
        result: list[dict[str, object]] = body["data"]["result"]
        return result
