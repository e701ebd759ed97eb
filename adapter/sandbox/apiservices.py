"""The APIService objects of the built-in group-versions, as kube-apiserver registers them.

kube-apiserver's autoregister controller creates one APIService per group-version it
serves itself (`v1.`, `v1.apps`, `v2.autoscaling`, ...) with no service (`spec.service:
null`: handled locally), the group and version priorities of its fixed table
(cmd/kube-apiserver/app/aggregator.go merged over DefaultGenericAPIServicePriorities in
pkg/controlplane/apiserver/aggregator.go), the label
`kube-aggregator.kubernetes.io/automanaged: onstart`, and the local availability
controller marks each Available with reason `Local`. Group-versions missing from the table
get no APIService, as upstream skips them. The aggregator's own apiregistration.k8s.io
group is served by the aggregator and has no APIService object.

So `kubectl get apiservice` lists them beside the adapter's, SERVICE `Local`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

AUTOMANAGED_LABEL = "kube-aggregator.kubernetes.io/automanaged"
LOCAL_AVAILABLE_MESSAGE = "Local APIServices are always available"

PRIORITIES: Mapping[tuple[str, str], tuple[int, int]] = {
    ("", "v1"): (18000, 1),
    ("events.k8s.io", "v1"): (17750, 15),
    ("authentication.k8s.io", "v1"): (17700, 15),
    ("authorization.k8s.io", "v1"): (17600, 15),
    ("apps", "v1"): (17800, 15),
    ("autoscaling", "v1"): (17500, 15),
    ("autoscaling", "v2"): (17500, 30),
    ("batch", "v1"): (17400, 15),
    ("certificates.k8s.io", "v1"): (17300, 15),
    ("networking.k8s.io", "v1"): (17200, 15),
    ("policy", "v1"): (17100, 15),
    ("rbac.authorization.k8s.io", "v1"): (17000, 15),
    ("storage.k8s.io", "v1"): (16800, 15),
    ("apiextensions.k8s.io", "v1"): (16700, 15),
    ("admissionregistration.k8s.io", "v1"): (16700, 15),
    ("scheduling.k8s.io", "v1"): (16600, 15),
    ("coordination.k8s.io", "v1"): (16500, 15),
    ("node.k8s.io", "v1"): (16300, 15),
    ("discovery.k8s.io", "v1"): (16200, 15),
    ("resource.k8s.io", "v1"): (16200, 21),
    ("flowcontrol.apiserver.k8s.io", "v1"): (16100, 21),
}
"""(group, version) -> (groupPriorityMinimum, versionPriority) for the versions the
stand-in serves."""


def local_api_services(
    group_versions: Iterable[tuple[str, Iterable[str]]], timestamp: str
) -> Iterator[dict[str, Any]]:
    """One APIService per served group-version that kube-apiserver registers."""
    for group, versions in group_versions:
        if group == "apiregistration.k8s.io":
            continue
        for version in versions:
            priority = PRIORITIES.get((group, version))
            if priority is None:
                continue
            yield {
                "apiVersion": "apiregistration.k8s.io/v1",
                "kind": "APIService",
                "metadata": {
                    "name": f"{version}.{group}",
                    "labels": {AUTOMANAGED_LABEL: "onstart"},
                },
                "spec": {
                    "service": None,
                    "group": group,
                    "version": version,
                    "groupPriorityMinimum": priority[0],
                    "versionPriority": priority[1],
                },
                "status": {
                    "conditions": [
                        {
                            "type": "Available",
                            "status": "True",
                            "lastTransitionTime": timestamp,
                            "reason": "Local",
                            "message": LOCAL_AVAILABLE_MESSAGE,
                        }
                    ]
                },
            }
