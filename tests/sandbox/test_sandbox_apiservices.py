"""`kubectl get apiservice` lists the built-in group-versions as a real cluster does.

kube-apiserver's autoregister controller creates a local APIService for each group-version
it serves, with `spec.service: null` and the priorities of its table
(cmd/kube-apiserver/app/aggregator.go, pkg/controlplane/apiserver/aggregator.go), and the
local availability controller marks them Available with reason Local
(staging/src/k8s.io/kube-aggregator/pkg/apis/apiregistration/v1/types.go: `service` has
no omitempty, so it prints as null).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from support.kubectl import kubectl

from adapter.sandbox.store import ClusterState


async def test_builtin_apiservices_are_listed_beside_the_adapters(
    sandbox_kubeconfig: Path, cluster_state: ClusterState
) -> None:
    cluster_state.apply(
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": "v1beta1.metrics.k8s.io"},
            "spec": {
                "service": {"name": "metrics-adapter", "namespace": "kube-system", "port": 443},
                "group": "metrics.k8s.io",
                "version": "v1beta1",
                "insecureSkipTLSVerify": True,
                "groupPriorityMinimum": 100,
                "versionPriority": 100,
            },
            "status": {"conditions": [{"type": "Available", "status": "True"}]},
        }
    )
    text = (await kubectl(sandbox_kubeconfig, "get", "apiservice")).check().stdout
    rows = {line.split()[0]: line.split()[1:3] for line in text.strip().splitlines()[1:]}
    assert text.split()[:4] == ["NAME", "SERVICE", "AVAILABLE", "AGE"]
    for name in ("v1.", "v1.apps", "v1.autoscaling", "v2.autoscaling", "v1.coordination.k8s.io"):
        assert rows[name] == ["Local", "True"], name
    assert rows["v1beta1.metrics.k8s.io"] == ["kube-system/metrics-adapter", "True"]
    assert "v1.apiregistration.k8s.io" not in rows  # served by the aggregator itself


async def test_a_local_apiservice_in_yaml(
    sandbox_kubeconfig: Path, cluster_state: ClusterState
) -> None:
    text = (
        await kubectl(sandbox_kubeconfig, "get", "apiservice", "v2.autoscaling", "-o", "yaml")
    ).check()
    assert "  service: null\n" in text.stdout
    doc = yaml.safe_load(text.stdout)
    assert doc["metadata"]["labels"] == {"kube-aggregator.kubernetes.io/automanaged": "onstart"}
    assert doc["spec"] == {
        "service": None,
        "group": "autoscaling",
        "version": "v2",
        "groupPriorityMinimum": 17500,
        "versionPriority": 30,
    }
    (condition,) = doc["status"]["conditions"]
    assert (condition["type"], condition["status"], condition["reason"]) == (
        "Available",
        "True",
        "Local",
    )
    assert condition["message"] == "Local APIServices are always available"
    apps = (await kubectl(sandbox_kubeconfig, "get", "apiservice", "v1.apps", "-o", "json")).json()
    assert (apps["spec"]["groupPriorityMinimum"], apps["spec"]["versionPriority"]) == (17800, 15)
