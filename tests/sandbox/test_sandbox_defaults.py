"""Objects come back with the defaults kube-apiserver writes, so `kubectl describe` and
`-o yaml` read as on a cluster (pkg/apis/apps/v1/defaults.go, core/v1/defaults.go,
autoscaling/v2/defaults.go; the Service IP allocator)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import yaml
from support.kubectl import kubectl

from adapter.sandbox.store import ClusterState


async def test_deployment_and_service_defaults_show_in_describe(
    sandbox_kubeconfig: Path, cluster_state: ClusterState
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
            "--port=8080",
        )
    ).check()
    (
        await kubectl(
            sandbox_kubeconfig,
            "expose",
            "deployment",
            "myblog",
            "-n",
            "test",
            "--port=80",
            "--target-port=8080",
        )
    ).check()
    described = (
        (await kubectl(sandbox_kubeconfig, "describe", "deployment", "myblog", "-n", "test"))
        .check()
        .stdout
    )
    assert "StrategyType:           RollingUpdate" in described
    assert "RollingUpdateStrategy:  25% max unavailable, 25% max surge" in described
    deployment = cluster_state.get("deployments.apps", "myblog", "test") or {}
    spec = deployment["spec"]
    assert (spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (10, 600)
    pod_spec = spec["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Always"
    assert pod_spec["terminationGracePeriodSeconds"] == 30
    assert pod_spec["dnsPolicy"] == "ClusterFirst"
    assert pod_spec["schedulerName"] == "default-scheduler"
    container = pod_spec["containers"][0]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    service_text = (
        (await kubectl(sandbox_kubeconfig, "describe", "service", "myblog", "-n", "test"))
        .check()
        .stdout
    )
    assert "80/TCP" in service_text and "8080/TCP" in service_text
    service = cluster_state.get("services", "myblog", "test") or {}
    ip = ipaddress.ip_address(service["spec"]["clusterIP"])
    assert ip in ipaddress.ip_network("10.96.0.0/12")
    assert service["spec"]["clusterIPs"] == [str(ip)]
    assert service["spec"]["ipFamilies"] == ["IPv4"]
    assert service["spec"]["sessionAffinity"] == "None"
    assert service["spec"]["type"] == "ClusterIP"


async def test_hpa_v2_behavior_defaults_fill_what_is_missing(
    sandbox_kubeconfig: Path, cluster_state: ClusterState, tmp_path: Path
) -> None:
    cluster_state.ensure_namespace("test")
    manifest = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "myblog", "namespace": "test"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "myblog"},
            "maxReplicas": 3,
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}},
        },
    }
    (tmp_path / "hpa.yaml").write_text(yaml.safe_dump(manifest))
    (await kubectl(sandbox_kubeconfig, "apply", "-f", str(tmp_path / "hpa.yaml"))).check()
    hpa = cluster_state.get("horizontalpodautoscalers", "myblog", "test") or {}
    spec = hpa["spec"]
    assert spec["minReplicas"] == 1
    assert spec["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80},
            },
        }
    ]
    assert spec["behavior"]["scaleUp"] == {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ],
    }
    assert spec["behavior"]["scaleDown"] == {
        "stabilizationWindowSeconds": 60,
        "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
    }
