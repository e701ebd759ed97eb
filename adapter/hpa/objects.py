"""The Kubernetes objects the loop reads, as the calculation's values, and back.

Owns the crossing between the wire objects the loop gets from the API server (the
HPA, its target's Scale, pods) and the typed values `adapter.hpa.sync` decides on: an
HPA goes through the API server's defaulting and validation exactly as a snapshot's
does (`adapter.hpa.snapshot` is the one reader of both, so a decision record replays
the way the live sync ran), a pod is reduced to what the replica calculator reads, and
that reduced pod can be written back as a v1 Pod for a record. Also the reference an
Event about an HPA carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from adapter.cluster.events import ObjectReference, reference_to
from adapter.hpa import snapshot
from adapter.hpa.model import HorizontalPodAutoscaler, Pod
from adapter.hpa.wire import WireError
from adapter.k8s.timefmt import format_time
from adapter.settings.hpa import FeatureGates

__all__ = [
    "HPA_API_VERSION",
    "HPA_KIND",
    "InvalidObject",
    "hpa_reference",
    "parse_hpa",
    "parse_pod",
    "pod_to_wire",
]

HPA_API_VERSION = "autoscaling/v2"
HPA_KIND = "HorizontalPodAutoscaler"


class InvalidObject(ValueError):
    """An object the loop cannot use; the message names the field, as the API would."""


def parse_hpa(raw: Mapping[str, Any], gates: FeatureGates) -> HorizontalPodAutoscaler:
    """An autoscaling/v2 HPA as stored, defaulted and validated like a snapshot's."""
    try:
        return snapshot.hpa_from_api(dict(raw), gates)
    except (snapshot.SnapshotError, WireError) as err:
        raise InvalidObject(str(err)) from err


def parse_pod(raw: Mapping[str, Any]) -> Pod:
    """A v1 Pod reduced to what the replica calculator reads."""
    try:
        return snapshot.pod_from_api(raw, "pod")
    except WireError as err:
        raise InvalidObject(str(err)) from err


def _requests(requests: Mapping[str, Any]) -> dict[str, str]:
    return {name: str(quantity) for name, quantity in requests.items()}


def pod_to_wire(pod: Pod, deleted_at: datetime) -> dict[str, Any]:
    """The pod as a v1 Pod holding every field the calculator reads (for a record).

    The deletion time is not kept in memory, only that the pod is being deleted;
    `deleted_at` stands in for it (the calculator only asks whether it is set).
    """
    metadata: dict[str, Any] = {"name": pod.name, "namespace": pod.namespace}
    if pod.labels:
        metadata["labels"] = dict(pod.labels)
    if pod.deleted:
        metadata["deletionTimestamp"] = format_time(deleted_at)

    def container(c: Any) -> dict[str, Any]:
        wire: dict[str, Any] = {"name": c.name}
        if c.requests:
            wire["resources"] = {"requests": _requests(c.requests)}
        if c.restart_policy is not None:
            wire["restartPolicy"] = c.restart_policy
        return wire

    spec: dict[str, Any] = {"containers": [container(c) for c in pod.containers]}
    if pod.init_containers:
        spec["initContainers"] = [container(c) for c in pod.init_containers]
    if pod.pod_requests is not None:
        spec["resources"] = {"requests": _requests(pod.pod_requests)}
    status: dict[str, Any] = {}
    if pod.phase:
        status["phase"] = pod.phase
    if pod.ready is not None:
        condition: dict[str, Any] = {"type": "Ready", "status": pod.ready.status}
        if pod.ready.last_transition_time is not None:
            condition["lastTransitionTime"] = format_time(pod.ready.last_transition_time)
        status["conditions"] = [condition]
    if pod.start_time is not None:
        status["startTime"] = format_time(pod.start_time)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": spec,
        "status": status,
    }


def hpa_reference(raw: Mapping[str, Any]) -> ObjectReference:
    """What an Event about this HPA names as its involvedObject."""
    return reference_to(raw, HPA_KIND, HPA_API_VERSION)
