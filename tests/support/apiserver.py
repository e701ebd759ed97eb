"""The sandbox Kubernetes API server stand-in as pytest fixtures, and object builders.

Owns: a fresh `ClusterState` per test (`cluster_state`), the stand-in serving it on a
free loopback port over HTTP (`apiserver`) or HTTPS with a throw-away CA
(`tls_apiserver`), and a kubeconfig for it (`sandbox_kubeconfig`), usable by the real
kubectl (`support.kubectl.kubectl`) and by kubernetes-asyncio. Plus builders for the
objects tests keep making (pods with labels and readiness, deployments, namespaces).

The fixtures are registered for every test by `tests/conftest.py`; the stand-in itself
is `adapter.sandbox.apiserver`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from adapter.sandbox.apiserver import RunningApiServer, run_apiserver
from adapter.sandbox.store import ClusterState


@pytest.fixture
def cluster_state() -> ClusterState:
    """An empty cluster (default namespaces only) with request recording on."""
    state = ClusterState()
    state.audit_log = []
    return state


@pytest.fixture
async def apiserver(cluster_state: ClusterState) -> AsyncIterator[RunningApiServer]:
    async with run_apiserver(cluster_state) as server:
        yield server


@pytest.fixture
async def tls_apiserver(cluster_state: ClusterState) -> AsyncIterator[RunningApiServer]:
    async with run_apiserver(cluster_state, tls=True) as server:
        yield server


@pytest.fixture
def sandbox_kubeconfig(apiserver: RunningApiServer, tmp_path: Path) -> Path:
    """The admin kubeconfig of `apiserver`, in a directory of its own (kubectl's HOME)."""
    return apiserver.write_kubeconfig(tmp_path / "admin" / "kubeconfig")


def pod(
    name: str,
    namespace: str = "shop",
    labels: Mapping[str, str] | None = None,
    *,
    phase: str = "Running",
    ready: bool = True,
    cpu_request: str | None = "100m",
    node: str = "node-1",
) -> dict[str, Any]:
    """A pod as the kubelet would have reported it: phase, Ready condition, a container."""
    container: dict[str, Any] = {"name": "app", "image": "registry.example/app:1"}
    if cpu_request is not None:
        container["resources"] = {"requests": {"cpu": cpu_request}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
        "spec": {"nodeName": node, "containers": [container]},
        "status": {
            "phase": phase,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ],
            "startTime": "2026-01-01T00:00:00Z",
        },
    }


def deployment(
    name: str,
    namespace: str = "shop",
    *,
    replicas: int = 1,
    match_labels: Mapping[str, str] | None = None,
    ready_replicas: int | None = None,
) -> dict[str, Any]:
    labels = dict(match_labels or {"app": name})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]},
            },
        },
        "status": {
            "replicas": replicas,
            "readyReplicas": replicas if ready_replicas is None else ready_replicas,
        },
    }


def node(name: str, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": dict(labels or {})},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
