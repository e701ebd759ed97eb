"""`kubectl get` shows the server-side Table columns a cluster shows
(pkg/printers/internalversion/printers.go), not just NAME and AGE."""

from __future__ import annotations

from pathlib import Path

from support.apiserver import deployment, pod
from support.kubectl import kubectl

from adapter.sandbox.printing import human_duration
from adapter.sandbox.store import ClusterState


def _rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.strip().splitlines()]


async def test_get_prints_the_real_columns(
    sandbox_kubeconfig: Path, cluster_state: ClusterState
) -> None:
    cluster_state.create(pod("web-0", "test"))
    made = deployment("web", "test", replicas=2, ready_replicas=1)
    made["status"]["updatedReplicas"] = 2
    made["status"]["availableReplicas"] = 1
    cluster_state.create(made)
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "test"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 3,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 80},
                    },
                },
                {
                    "type": "Resource",
                    "resource": {
                        "name": "memory",
                        "target": {"type": "Utilization", "averageUtilization": 80},
                    },
                },
            ],
        },
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
                },
            ],
        },
    }
    cluster_state.create(hpa)
    pods = (await kubectl(sandbox_kubeconfig, "get", "pods", "-n", "test")).check().stdout
    assert _rows(pods)[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert _rows(pods)[1][:4] == ["web-0", "1/1", "Running", "0"]
    deploys = (await kubectl(sandbox_kubeconfig, "get", "deploy", "-n", "test")).check().stdout
    assert _rows(deploys)[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert _rows(deploys)[1][:4] == ["web", "1/2", "2", "1"]
    hpas = (await kubectl(sandbox_kubeconfig, "get", "hpa", "-n", "test")).check().stdout
    header, row = hpas.strip().splitlines()
    assert header.split() == [
        "NAME",
        "REFERENCE",
        "TARGETS",
        "MINPODS",
        "MAXPODS",
        "REPLICAS",
        "AGE",
    ]
    assert "Deployment/web   cpu: 27%/80%, memory: <unknown>/80%   1         3         2" in row
    namespaces = (await kubectl(sandbox_kubeconfig, "get", "ns", "test")).check().stdout
    assert _rows(namespaces)[0] == ["NAME", "STATUS", "AGE"]
    assert _rows(namespaces)[1][:2] == ["test", "Active"]


def test_ages_read_as_kubectl_prints_them() -> None:
    cases = {
        5: "5s",
        119: "119s",
        125: "2m5s",
        600: "10m",
        3 * 3600 + 60: "3h1m",
        30 * 3600: "30h",
        50 * 3600: "2d2h",
        400 * 86400: "400d",
        800 * 86400: "2y70d",
    }
    for seconds, text in cases.items():
        assert human_duration(seconds) == text, seconds


async def test_get_pods_wide_shows_ip_and_node(
    sandbox_kubeconfig: Path, cluster_state: ClusterState
) -> None:
    """printers.go's pod columns of priority 1 (IP, NODE, NOMINATED NODE, READINESS
    GATES) appear with `-o wide` only, `<none>` where the pod has none."""
    made = pod("web-0", "test")
    made["spec"]["nodeName"] = "sandbox-node"
    made["status"]["podIP"] = "127.0.0.1"
    cluster_state.create(made)
    unscheduled = pod("web-1", "test")
    del unscheduled["spec"]["nodeName"]
    cluster_state.create(unscheduled)
    plain = await kubectl(sandbox_kubeconfig, "get", "pods", "-n", "test")
    assert plain.returncode == 0, plain.stderr
    assert _rows(plain.stdout)[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    wide = await kubectl(sandbox_kubeconfig, "get", "pods", "-n", "test", "-o", "wide")
    assert wide.returncode == 0, wide.stderr
    header, first, second = _rows(wide.stdout)
    assert header == [
        "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE",
        "READINESS", "GATES",
    ]  # fmt: skip
    assert first[0] == "web-0" and first[-4:] == ["127.0.0.1", "sandbox-node", "<none>", "<none>"]
    assert second[0] == "web-1" and second[-4:] == ["<none>", "<none>", "<none>", "<none>"]
