"""Defaulting and allocation, as kube-apiserver applies them on create and update.

Owns the defaults a real server writes into objects so that clients reading them back
(`kubectl describe`, `kubectl get -o yaml`) see what they would see on a cluster: the
Deployment strategy and limits (k8s.io/kubernetes pkg/apis/apps/v1/defaults.go), Pod and
Container fields (pkg/apis/core/v1/defaults.go), Service type, protocol, targetPort,
session affinity and the ClusterIP allocation with its IP family fields, and the
autoscaling/v2 HPA minReplicas, default CPU metric and behavior rules
(pkg/apis/autoscaling/v2/defaults.go). Functions change the object in place and are
idempotent, so updates can run them again.

Validation is `adapter.sandbox.validation`'s; it runs after these.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, MutableMapping
from typing import Any

from adapter.k8s.resources import GroupResource

__all__ = ["apply_defaults", "default_pod_spec"]

JSONObject = dict[str, Any]

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
"""kube-apiserver's default --service-cluster-ip-range; .1 is the kubernetes Service."""


def _container(container: MutableMapping[str, Any]) -> None:
    image = str(container.get("image", ""))
    last = image.rsplit("/", 1)[-1]
    tag = last.partition(":")[2] if "@" not in last else "digest"
    if "imagePullPolicy" not in container:
        container["imagePullPolicy"] = "Always" if tag in ("", "latest") else "IfNotPresent"
    container.setdefault("resources", {})
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    for port in container.get("ports") or []:
        port.setdefault("protocol", "TCP")


def default_pod_spec(spec: MutableMapping[str, Any]) -> None:
    """SetDefaults_PodSpec and SetDefaults_Container (a template's spec or a pod's)."""
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        _container(container)
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")


def _pod(obj: JSONObject, state: Any) -> None:
    spec = obj.setdefault("spec", {})
    default_pod_spec(spec)
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", 0)
    spec.setdefault(
        "tolerations",
        [
            {
                "key": f"node.kubernetes.io/{taint}",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            }
            for taint in ("not-ready", "unreachable")
        ],
    )


def _template(obj: JSONObject) -> None:
    spec = obj.setdefault("spec", {})
    template = spec.setdefault("template", {})
    template.setdefault("metadata", {})
    default_pod_spec(template.setdefault("spec", {}))


def _deployment(obj: JSONObject, state: Any) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _template(obj)


def _replicaset(obj: JSONObject, state: Any) -> None:
    obj.setdefault("spec", {}).setdefault("replicas", 1)
    _template(obj)


def _service(obj: JSONObject, state: Any) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
    if spec["type"] == "ExternalName":
        return
    if spec.get("clusterIP") != "None" and not spec.get("clusterIP"):
        spec["clusterIP"] = _allocate_cluster_ip(state)
    if spec.get("clusterIP") and not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    obj.setdefault("status", {}).setdefault("loadBalancer", {})


def _allocate_cluster_ip(state: Any) -> str:
    """The first free address of the service range after .1 (the real allocator picks
    at random; order makes the sandbox reproducible)."""
    used: set[str] = set()
    for stored in state.scan(GroupResource("", "services")):
        ip = (stored.obj.get("spec") or {}).get("clusterIP")
        if ip:
            used.add(str(ip))
    for offset in range(10, SERVICE_CIDR.num_addresses - 1):
        candidate = str(SERVICE_CIDR.network_address + offset)
        if candidate not in used:
            return candidate
    raise RuntimeError("the sandbox's service IP range is full")


_SCALE_UP_RULES: JSONObject = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
_SCALE_DOWN_RULES: JSONObject = {
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}


def _rules(given: Any, defaults: JSONObject) -> JSONObject:
    if not isinstance(given, dict):
        return {key: value for key, value in defaults.items()}
    rules = dict(given)
    for key, value in defaults.items():
        rules.setdefault(key, value)
    return rules


def _hpa(obj: JSONObject, state: Any) -> None:
    """autoscaling/v2 defaults; v1 objects are converted to v2 before this runs."""
    spec = obj.setdefault("spec", {})
    spec.setdefault("minReplicas", 1)
    if not str(obj.get("apiVersion", "")).endswith("/v2"):
        return
    if not spec.get("metrics"):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80},
                },
            }
        ]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        behavior["scaleUp"] = _rules(behavior.get("scaleUp"), _SCALE_UP_RULES)
        behavior["scaleDown"] = _rules(behavior.get("scaleDown"), _SCALE_DOWN_RULES)


_DEFAULTERS: dict[GroupResource, Callable[[JSONObject, Any], None]] = {
    GroupResource("", "pods"): _pod,
    GroupResource("", "services"): _service,
    GroupResource("apps", "deployments"): _deployment,
    GroupResource("apps", "replicasets"): _replicaset,
    GroupResource("autoscaling", "horizontalpodautoscalers"): _hpa,
}


def apply_defaults(resource: GroupResource, obj: JSONObject, state: Any) -> None:
    """Fill in what the real server defaults for `resource` (a no-op for others).
    `state` is the ClusterState (for allocation)."""
    defaulter = _DEFAULTERS.get(resource)
    if defaulter is not None:
        defaulter(obj, state)
