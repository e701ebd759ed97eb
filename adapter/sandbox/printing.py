"""Server-side Table printing, so `kubectl get` shows the columns a cluster shows.

Owns the meta.k8s.io/v1 Table the real server returns when kubectl asks for
`application/json;as=Table;v=v1;g=meta.k8s.io`: column definitions and one row of cells
per object, with the object as PartialObjectMetadata. Columns and cell formats follow
k8s.io/kubernetes pkg/printers/internalversion/printers.go (pods, deployments,
replicasets, services, namespaces, nodes, HPAs with their TARGETS, events, service
accounts, config maps, leases, API services); other resources get the default
`Name`/`Created At` table. Ages use apimachinery's duration.HumanDuration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from adapter.k8s import timefmt
from adapter.k8s.resources import GroupResource

__all__ = ["human_duration", "table"]

JSONObject = dict[str, Any]
Row = list[Any]

_NAME = {"name": "Name", "type": "string", "format": "name", "priority": 0}


def _col(name: str, kind: str = "string", priority: int = 0) -> JSONObject:
    return {"name": name, "type": kind, "format": "", "priority": priority}


def human_duration(seconds: float) -> str:
    """apimachinery's duration.HumanDuration."""
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    s = int(seconds)
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _age(value: Any, now: datetime) -> str:
    if not value:
        return "<unknown>"
    try:
        then = timefmt.parse_time(str(value))
    except ValueError:
        return "<unknown>"
    return human_duration((now - then).total_seconds())


def _pod(obj: Mapping[str, Any], now: datetime) -> Row:
    status = obj.get("status") or {}
    spec = obj.get("spec") or {}
    containers = spec.get("containers") or []
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    reason = status.get("reason") or status.get("phase") or "Unknown"
    if not statuses and status.get("phase") == "Running":
        # a kubelet that reports only the Ready condition: count containers by it
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        ready = len(containers) if conditions.get("Ready") == "True" else 0
    if obj["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    gates = spec.get("readinessGates") or []
    met = {c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"}
    return [
        obj["metadata"]["name"],
        f"{ready}/{len(containers)}",
        reason,
        restarts,
        _age(obj["metadata"].get("creationTimestamp"), now),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        f"{sum(1 for g in gates if g.get('conditionType') in met)}/{len(gates)}"
        if gates
        else "<none>",
    ]


def _deployment(obj: Mapping[str, Any], now: datetime) -> Row:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [
        obj["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(obj["metadata"].get("creationTimestamp"), now),
    ]


def _replicaset(obj: Mapping[str, Any], now: datetime) -> Row:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [
        obj["metadata"]["name"],
        spec.get("replicas", 0),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        _age(obj["metadata"].get("creationTimestamp"), now),
    ]


def _service(obj: Mapping[str, Any], now: datetime) -> Row:
    spec = obj.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    external = ",".join(spec.get("externalIPs") or [])
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if kind == "LoadBalancer":
        external = ",".join(i.get("ip") or i.get("hostname", "") for i in ingress) or "<pending>"
    elif kind == "ExternalName":
        external = spec.get("externalName", "")
    ports = []
    for port in spec.get("ports") or []:
        text = f"{port.get('port')}"
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        ports.append(f"{text}/{port.get('protocol', 'TCP')}")
    return [
        obj["metadata"]["name"],
        kind,
        spec.get("clusterIP") or "<none>",
        external or "<none>",
        ",".join(ports) or "<none>",
        _age(obj["metadata"].get("creationTimestamp"), now),
    ]


def _namespace(obj: Mapping[str, Any], now: datetime) -> Row:
    return [
        obj["metadata"]["name"],
        (obj.get("status") or {}).get("phase", ""),
        _age(obj["metadata"].get("creationTimestamp"), now),
    ]


def _node(obj: Mapping[str, Any], now: datetime) -> Row:
    conditions = {
        c.get("type"): c.get("status") for c in (obj.get("status") or {}).get("conditions") or []
    }
    ready = "Ready" if conditions.get("Ready") == "True" else "NotReady"
    labels = obj["metadata"].get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    version = ((obj.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "")
    return [
        obj["metadata"]["name"],
        ready,
        ",".join(roles) or "<none>",
        _age(obj["metadata"].get("creationTimestamp"), now),
        version,
    ]


def _quantity_target(target: Mapping[str, Any]) -> str:
    if target.get("averageValue") is not None:
        return str(target["averageValue"])
    if target.get("value") is not None:
        return str(target["value"])
    return "<unset>"


def _hpa_targets(obj: Mapping[str, Any]) -> str:
    """printers.go formatHPAMetrics: each metric `current/target`, `<unknown>` when
    the controller has no current value, at most four then `+ N more...`."""
    specs = (obj.get("spec") or {}).get("metrics") or []
    current = (obj.get("status") or {}).get("currentMetrics") or []
    if not specs:
        return "<none>"
    parts: list[str] = []
    for index, metric in enumerate(specs):
        kind = metric.get("type", "")
        now = current[index] if index < len(current) else {}
        if kind in ("Resource", "ContainerResource"):
            key = "resource" if kind == "Resource" else "containerResource"
            source = metric.get(key) or {}
            target = source.get("target") or {}
            observed = ((now or {}).get(key) or {}).get("current") or {}
            name = source.get("name", "")
            if target.get("averageValue") is not None:
                value = observed.get("averageValue", "<unknown>")
                parts.append(f"{name}: {value}/{target['averageValue']}")
            else:
                utilization = observed.get("averageUtilization")
                shown = f"{utilization}%" if utilization is not None else "<unknown>"
                parts.append(f"{name}: {shown}/{target.get('averageUtilization', '<auto>')}%")
        elif kind == "Pods":
            target = (metric.get("pods") or {}).get("target") or {}
            observed = ((now or {}).get("pods") or {}).get("current") or {}
            parts.append(f"{observed.get('averageValue', '<unknown>')}/{_quantity_target(target)}")
        elif kind in ("Object", "External"):
            key = kind.lower()
            target = (metric.get(key) or {}).get("target") or {}
            observed = ((now or {}).get(key) or {}).get("current") or {}
            if target.get("averageValue") is not None:
                value = observed.get("averageValue", "<unknown>")
                parts.append(f"{value}/{target['averageValue']} (avg)")
            else:
                parts.append(f"{observed.get('value', '<unknown>')}/{_quantity_target(target)}")
        else:
            parts.append("<unknown type>")
    if len(parts) > 4:
        return ", ".join(parts[:4]) + f" + {len(parts) - 4} more..."
    return ", ".join(parts)


def _hpa(obj: Mapping[str, Any], now: datetime) -> Row:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    return [
        obj["metadata"]["name"],
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        _hpa_targets(obj),
        spec.get("minReplicas", "<unset>"),
        spec.get("maxReplicas", 0),
        status.get("currentReplicas", 0),
        _age(obj["metadata"].get("creationTimestamp"), now),
    ]


def _event(obj: Mapping[str, Any], now: datetime) -> Row:
    involved = obj.get("involvedObject") or {}
    last = (
        obj.get("lastTimestamp") or obj.get("eventTime") or obj["metadata"].get("creationTimestamp")
    )
    return [
        _age(last, now),
        obj.get("type", ""),
        obj.get("reason", ""),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        str(obj.get("message", "")).strip(),
    ]


def _counted(key: str) -> Callable[[Mapping[str, Any], datetime], Row]:
    def row(obj: Mapping[str, Any], now: datetime) -> Row:
        return [
            obj["metadata"]["name"],
            len(obj.get(key) or {}),
            _age(obj["metadata"].get("creationTimestamp"), now),
        ]

    return row


def _configmap(obj: Mapping[str, Any], now: datetime) -> Row:
    count = len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
    return [obj["metadata"]["name"], count, _age(obj["metadata"].get("creationTimestamp"), now)]


def _lease(obj: Mapping[str, Any], now: datetime) -> Row:
    holder = (obj.get("spec") or {}).get("holderIdentity") or ""
    return [obj["metadata"]["name"], holder, _age(obj["metadata"].get("creationTimestamp"), now)]


def _apiservice(obj: Mapping[str, Any], now: datetime) -> Row:
    service = (obj.get("spec") or {}).get("service")
    shown = f"{service.get('namespace')}/{service.get('name')}" if service else "Local"
    available = "Unknown"
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Available":
            available = (
                "True"
                if condition.get("status") == "True"
                else (f"False ({condition.get('reason', '')})")
            )
    return [
        obj["metadata"]["name"],
        shown,
        available,
        _age(obj["metadata"].get("creationTimestamp"), now),
    ]


def _default(obj: Mapping[str, Any], now: datetime) -> Row:
    return [obj["metadata"]["name"], obj["metadata"].get("creationTimestamp")]


_AGE = _col("Age")
_PRINTERS: dict[
    GroupResource, tuple[Sequence[JSONObject], Callable[[Mapping[str, Any], datetime], Row]]
] = {
    GroupResource("", "pods"): (
        [
            _NAME,
            _col("Ready"),
            _col("Status"),
            _col("Restarts", "string"),
            _AGE,
            # printers.go's wide columns: `kubectl get pods -o wide` shows priority 1
            _col("IP", priority=1),
            _col("Node", priority=1),
            _col("Nominated Node", priority=1),
            _col("Readiness Gates", priority=1),
        ],
        _pod,
    ),
    GroupResource("apps", "deployments"): (
        [_NAME, _col("Ready"), _col("Up-to-date", "string"), _col("Available", "string"), _AGE],
        _deployment,
    ),
    GroupResource("apps", "replicasets"): (
        [
            _NAME,
            _col("Desired", "integer"),
            _col("Current", "integer"),
            _col("Ready", "integer"),
            _AGE,
        ],
        _replicaset,
    ),
    GroupResource("", "services"): (
        [_NAME, _col("Type"), _col("Cluster-IP"), _col("External-IP"), _col("Port(s)"), _AGE],
        _service,
    ),
    GroupResource("", "namespaces"): ([_NAME, _col("Status"), _AGE], _namespace),
    GroupResource("", "nodes"): (
        [_NAME, _col("Status"), _col("Roles"), _AGE, _col("Version")],
        _node,
    ),
    GroupResource("autoscaling", "horizontalpodautoscalers"): (
        [
            _NAME,
            _col("Reference"),
            _col("Targets"),
            _col("MinPods", "string"),
            _col("MaxPods", "integer"),
            _col("Replicas", "integer"),
            _AGE,
        ],
        _hpa,
    ),
    GroupResource("", "events"): (
        [_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Message")],
        _event,
    ),
    GroupResource("", "serviceaccounts"): (
        [_NAME, _col("Secrets", "string"), _AGE],
        _counted("secrets"),
    ),
    GroupResource("", "configmaps"): ([_NAME, _col("Data", "string"), _AGE], _configmap),
    GroupResource("coordination.k8s.io", "leases"): ([_NAME, _col("Holder"), _AGE], _lease),
    GroupResource("apiregistration.k8s.io", "apiservices"): (
        [_NAME, _col("Service"), _col("Available"), _AGE],
        _apiservice,
    ),
}
_DEFAULT = ([_NAME, {"name": "Created At", "type": "date", "format": "", "priority": 0}], _default)


def table(
    resource: GroupResource,
    objects: Sequence[Mapping[str, Any]],
    now: datetime,
    metadata: Mapping[str, Any],
    meta_api_version: str = "meta.k8s.io/v1",
) -> JSONObject:
    """The Table for `objects` (a list, or one object for a GET)."""
    columns, printer = _PRINTERS.get(resource, _DEFAULT)
    return {
        "kind": "Table",
        "apiVersion": meta_api_version,
        "metadata": dict(metadata),
        "columnDefinitions": [{**c, "description": ""} for c in columns],
        "rows": [
            {
                "cells": printer(obj, now),
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": meta_api_version,
                    "metadata": obj["metadata"],
                },
            }
            for obj in objects
        ],
    }
