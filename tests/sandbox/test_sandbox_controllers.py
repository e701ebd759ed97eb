"""Deployments make ReplicaSets make Pods, and deletes are graceful, as on a cluster.

What the walkthrough relies on from kube-controller-manager (deployment and replicaset
controllers, pkg/controller/deployment and replicaset) and the registry (graceful pod
deletion, the namespace Terminating phase), driven by the real kubectl.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from support.apiserver import pod
from support.kubectl import kubectl

from adapter.sandbox.controllers import ControllerManager
from adapter.sandbox.store import ClusterState


@pytest.fixture
async def controllers(cluster_state: ClusterState) -> AsyncIterator[ControllerManager]:
    async with ControllerManager(cluster_state, ready_pods=True) as manager:
        yield manager


async def eventually(check: Callable[[], Any], what: str) -> Any:
    for _ in range(500):
        result = check()
        if result:
            return result
        await asyncio.sleep(0.02)
    pytest.fail(f"never happened: {what}", pytrace=False)


async def test_deployment_replicasets_pods_and_scale(
    sandbox_kubeconfig: Path, cluster_state: ClusterState, controllers: ControllerManager
) -> None:
    cluster_state.ensure_namespace("test")
    (
        await kubectl(
            sandbox_kubeconfig,
            "create",
            "deployment",
            "myblog",
            "-n",
            "test",
            "--image=myblog:1",
            "--replicas=2",
        )
    ).check()

    def ready(count: int) -> Any:
        d = cluster_state.get("deployments.apps", "myblog", "test") or {}
        return d if (d.get("status") or {}).get("readyReplicas") == count else None

    deployment = await eventually(lambda: ready(2), "two ready replicas")
    assert deployment["status"]["updatedReplicas"] == 2
    assert deployment["status"]["availableReplicas"] == 2
    conditions = {c["type"]: c["reason"] for c in deployment["status"]["conditions"]}
    assert conditions == {
        "Available": "MinimumReplicasAvailable",
        "Progressing": "NewReplicaSetAvailable",
    }
    [rs] = cluster_state.list("replicasets.apps", "test")
    template_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"myblog-{template_hash}"
    assert rs["metadata"]["ownerReferences"][0]["uid"] == deployment["metadata"]["uid"]
    pods = cluster_state.list("pods", "test")
    assert len(pods) == 2
    for item in pods:
        assert item["metadata"]["name"].startswith(f"myblog-{template_hash}-")
        assert item["metadata"]["labels"] == {"app": "myblog", "pod-template-hash": template_hash}
        assert item["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
    (
        await kubectl(
            sandbox_kubeconfig, "scale", "deployment", "myblog", "-n", "test", "--replicas=3"
        )
    ).check()
    await eventually(lambda: ready(3), "three ready replicas")
    scale = (
        await kubectl(
            sandbox_kubeconfig,
            "get",
            "--raw",
            "/apis/apps/v1/namespaces/test/deployments/myblog/scale",
        )
    ).json()
    assert scale["spec"]["replicas"] == 3 and scale["status"]["replicas"] == 3
    assert scale["status"]["selector"] == "app=myblog"
    rollout = await kubectl(
        sandbox_kubeconfig,
        "rollout",
        "status",
        "deployment/myblog",
        "-n",
        "test",
        "--timeout=20s",
    )
    assert 'deployment "myblog" successfully rolled out' in rollout.check().stdout
    events = (
        await kubectl(sandbox_kubeconfig, "get", "events", "-n", "test", "-o", "json")
    ).json()["items"]
    messages = {(e["reason"], e["message"]) for e in events}
    assert ("ScalingReplicaSet", f"Scaled up replica set myblog-{template_hash} from 0 to 2") in (
        messages
    )
    assert ("ScalingReplicaSet", f"Scaled up replica set myblog-{template_hash} from 2 to 3") in (
        messages
    )
    assert any(reason == "SuccessfulCreate" for reason, _ in messages)


async def test_pod_delete_is_graceful_without_a_kubelet(
    sandbox_kubeconfig: Path, cluster_state: ClusterState
) -> None:
    """No kubelet registered: the pod gets deletionTimestamp (MODIFIED) and is removed
    when its grace period ends."""
    made = pod("web-0", "test")
    made["spec"]["terminationGracePeriodSeconds"] = 1
    cluster_state.create(made)
    deleted = await kubectl(
        sandbox_kubeconfig, "delete", "pod", "web-0", "-n", "test", "--wait=false"
    )
    assert deleted.check().stdout.strip() == 'pod "web-0" deleted'
    terminating = cluster_state.get("pods", "web-0", "test")
    assert terminating is not None
    assert terminating["metadata"]["deletionGracePeriodSeconds"] == 1
    assert terminating["metadata"]["deletionTimestamp"]
    await eventually(lambda: cluster_state.get("pods", "web-0", "test") is None, "pod removed")


async def test_namespace_delete_goes_through_terminating(
    sandbox_kubeconfig: Path, cluster_state: ClusterState
) -> None:
    cluster_state.create(pod("web-0", "gone"))
    info = cluster_state.resolve("namespaces")
    watcher, _ = cluster_state.watch(info.group_resource, "", lambda s: s.name == "gone", None)
    try:
        result = await kubectl(sandbox_kubeconfig, "delete", "namespace", "gone")
        assert result.check().stdout.strip() == 'namespace "gone" deleted'
        seen = []
        while not watcher.queue.empty():
            kind, stored = watcher.queue.get_nowait()
            seen.append((kind, (stored.obj.get("status") or {}).get("phase")))
        assert seen[0] == ("MODIFIED", "Terminating")
        assert seen[-1][0] == "DELETED"
    finally:
        watcher.close()
    assert cluster_state.get("namespaces", "gone") is None
    assert cluster_state.list("pods", "gone") == []
