"""Version conversion between a resource's served versions and its storage version.

Owns what kube-apiserver's conversion does for the stand-in: every object is stored in
one version per resource (HorizontalPodAutoscalers in autoscaling/v2, as 1.36 stores
them) and converted on the way in and out, so a v1 client (`kubectl autoscale` sends
autoscaling/v1) and a v2 client see the same HPA. autoscaling/v1 cannot express most
of v2, so, as pkg/apis/autoscaling/v1/conversion.go does, the parts v1 lacks travel in
round-trip annotations on the v1 object - the other metrics
(`autoscaling.alpha.kubernetes.io/metrics`, in v1's own MetricSpec shape), the current
metrics (`.../current-metrics`), the conditions (`.../conditions`) and the behavior
(`.../behavior`, the internal Go type marshalled without JSON tags, hence its
capitalised keys) - and are lifted back out when a v1 object is written. Like upstream,
the CPU utilization target read from `targetCPUUtilizationPercentage` goes after the
metrics from the annotation, so a v2 HPA written back through v1 keeps every metric but
lists the CPU one last.

Other resources have one version in the stand-in's table, or versions that differ only
in apiVersion; their conversion is the apiVersion alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from adapter.k8s.resources import GroupResource

JSONObject = dict[str, Any]

HPAS = GroupResource("autoscaling", "horizontalpodautoscalers")
METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior"
ROUND_TRIP_ANNOTATIONS = (
    METRICS_ANNOTATION,
    CURRENT_METRICS_ANNOTATION,
    CONDITIONS_ANNOTATION,
    BEHAVIOR_ANNOTATION,
)
_DEFAULT_CPU_UTILIZATION = 80

STORAGE_VERSIONS: Mapping[GroupResource, str] = {HPAS: "v2"}
"""Resources whose served versions differ in shape, and the version they are stored in."""


def storage_version(resource: GroupResource) -> str | None:
    return STORAGE_VERSIONS.get(resource)


def convert(obj: Mapping[str, Any], api_version: str) -> JSONObject:
    """`obj` as `api_version` serves it (a new dict; `obj` is left alone)."""
    current = str(obj.get("apiVersion", ""))
    if current == api_version:
        return dict(obj)
    group = api_version.rpartition("/")[0]
    if group == "autoscaling" and obj.get("kind") == "HorizontalPodAutoscaler":
        if current == "autoscaling/v2" and api_version == "autoscaling/v1":
            return hpa_v2_to_v1(obj)
        if current == "autoscaling/v1" and api_version == "autoscaling/v2":
            return hpa_v1_to_v2(obj)
    converted = dict(obj)
    converted["apiVersion"] = api_version
    return converted


def _compact(value: Any) -> str:
    """json.Marshal's output: compact, keys in the order given (Go struct order)."""
    return orjson.dumps(value).decode()


def _set(target: JSONObject, key: str, value: Any) -> None:
    if value is not None:
        target[key] = value


# -- v2 -> v1 --------------------------------------------------------------------------


def _is_cpu_utilization(metric: Mapping[str, Any]) -> bool:
    resource = metric.get("resource") or {}
    return (
        metric.get("type") == "Resource"
        and resource.get("name") == "cpu"
        and (resource.get("target") or {}).get("averageUtilization") is not None
    )


def _v1_metric_spec(metric: Mapping[str, Any]) -> JSONObject:
    """A v2 MetricSpec as autoscaling/v1's MetricSpec (the v2beta1 shape)."""
    kind = metric.get("type", "")
    out: JSONObject = {"type": kind}
    if kind in ("Resource", "ContainerResource"):
        key = "resource" if kind == "Resource" else "containerResource"
        source = metric.get(key) or {}
        target = source.get("target") or {}
        converted: JSONObject = {"name": source.get("name", "")}
        _set(converted, "targetAverageUtilization", target.get("averageUtilization"))
        _set(converted, "targetAverageValue", target.get("averageValue"))
        if kind == "ContainerResource":
            converted["container"] = source.get("container", "")
        out[key] = converted
    elif kind == "Pods":
        source = metric.get("pods") or {}
        ident = source.get("metric") or {}
        converted = {
            "metricName": ident.get("name", ""),
            "targetAverageValue": (source.get("target") or {}).get("averageValue") or "0",
        }
        _set(converted, "selector", ident.get("selector"))
        out["pods"] = converted
    elif kind == "Object":
        source = metric.get("object") or {}
        ident = source.get("metric") or {}
        target = source.get("target") or {}
        converted = {
            "target": dict(source.get("describedObject") or {}),
            "metricName": ident.get("name", ""),
            "targetValue": target.get("value") or "0",
        }
        _set(converted, "selector", ident.get("selector"))
        _set(converted, "averageValue", target.get("averageValue"))
        out["object"] = converted
    elif kind == "External":
        source = metric.get("external") or {}
        ident = source.get("metric") or {}
        target = source.get("target") or {}
        converted = {"metricName": ident.get("name", "")}
        _set(converted, "metricSelector", ident.get("selector"))
        _set(converted, "targetValue", target.get("value"))
        _set(converted, "targetAverageValue", target.get("averageValue"))
        out["external"] = converted
    return out


def _v1_metric_status(metric: Mapping[str, Any]) -> JSONObject:
    """A v2 MetricStatus as autoscaling/v1's MetricStatus."""
    kind = metric.get("type", "")
    out: JSONObject = {"type": kind}
    if kind in ("Resource", "ContainerResource"):
        key = "resource" if kind == "Resource" else "containerResource"
        source = metric.get(key) or {}
        current = source.get("current") or {}
        converted: JSONObject = {"name": source.get("name", "")}
        _set(converted, "currentAverageUtilization", current.get("averageUtilization"))
        converted["currentAverageValue"] = current.get("averageValue") or "0"
        if kind == "ContainerResource":
            converted["container"] = source.get("container", "")
        out[key] = converted
    elif kind == "Pods":
        source = metric.get("pods") or {}
        ident = source.get("metric") or {}
        converted = {
            "metricName": ident.get("name", ""),
            "currentAverageValue": (source.get("current") or {}).get("averageValue") or "0",
        }
        _set(converted, "selector", ident.get("selector"))
        out["pods"] = converted
    elif kind == "Object":
        source = metric.get("object") or {}
        ident = source.get("metric") or {}
        current = source.get("current") or {}
        converted = {
            "target": dict(source.get("describedObject") or {}),
            "metricName": ident.get("name", ""),
            "currentValue": current.get("value") or "0",
        }
        _set(converted, "selector", ident.get("selector"))
        _set(converted, "averageValue", current.get("averageValue"))
        out["object"] = converted
    elif kind == "External":
        source = metric.get("external") or {}
        ident = source.get("metric") or {}
        current = source.get("current") or {}
        converted = {"metricName": ident.get("name", "")}
        _set(converted, "metricSelector", ident.get("selector"))
        converted["currentValue"] = current.get("value") or "0"
        _set(converted, "currentAverageValue", current.get("averageValue"))
        out["external"] = converted
    return out


def _internal_rules(rules: Any) -> JSONObject | None:
    """HPAScalingRules as the internal Go type marshals: field names, nulls kept."""
    if not isinstance(rules, Mapping):
        return None
    policies = rules.get("policies")
    return {
        "StabilizationWindowSeconds": rules.get("stabilizationWindowSeconds"),
        "SelectPolicy": rules.get("selectPolicy"),
        "Policies": (
            [
                {
                    "Type": policy.get("type", ""),
                    "Value": policy.get("value", 0),
                    "PeriodSeconds": policy.get("periodSeconds", 0),
                }
                for policy in policies
            ]
            if isinstance(policies, list)
            else None
        ),
        "Tolerance": rules.get("tolerance"),
    }


def hpa_v2_to_v1(obj: Mapping[str, Any]) -> JSONObject:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    metadata = dict(obj.get("metadata") or {})
    annotations = {
        key: value
        for key, value in (metadata.get("annotations") or {}).items()
        if key not in ROUND_TRIP_ANNOTATIONS
    }
    metrics = list(spec.get("metrics") or [])
    others = [_v1_metric_spec(m) for m in metrics if not _is_cpu_utilization(m)]
    if others:
        annotations[METRICS_ANNOTATION] = _compact(others)
    current_metrics = list(status.get("currentMetrics") or [])
    if current_metrics:
        annotations[CURRENT_METRICS_ANNOTATION] = _compact(
            [_v1_metric_status(m) for m in current_metrics]
        )
    conditions = list(status.get("conditions") or [])
    if conditions:
        annotations[CONDITIONS_ANNOTATION] = _compact(conditions)
    behavior = spec.get("behavior")
    if isinstance(behavior, Mapping):
        annotations[BEHAVIOR_ANNOTATION] = _compact(
            {
                "ScaleUp": _internal_rules(behavior.get("scaleUp")),
                "ScaleDown": _internal_rules(behavior.get("scaleDown")),
            }
        )
    if annotations:
        metadata["annotations"] = {key: annotations[key] for key in sorted(annotations)}
    else:
        metadata.pop("annotations", None)
    v1_spec: JSONObject = {"scaleTargetRef": dict(spec.get("scaleTargetRef") or {})}
    _set(v1_spec, "minReplicas", spec.get("minReplicas"))
    v1_spec["maxReplicas"] = spec.get("maxReplicas", 0)
    for metric in metrics:
        resource = metric.get("resource") or {}
        if metric.get("type") == "Resource" and resource.get("name") == "cpu":
            _set(
                v1_spec,
                "targetCPUUtilizationPercentage",
                (resource.get("target") or {}).get("averageUtilization"),
            )
            break
    v1_status: JSONObject = {}
    _set(v1_status, "observedGeneration", status.get("observedGeneration"))
    _set(v1_status, "lastScaleTime", status.get("lastScaleTime"))
    v1_status["currentReplicas"] = status.get("currentReplicas", 0)
    v1_status["desiredReplicas"] = status.get("desiredReplicas", 0)
    for metric in current_metrics:
        resource = metric.get("resource") or {}
        if metric.get("type") == "Resource" and resource.get("name") == "cpu":
            utilization = (resource.get("current") or {}).get("averageUtilization")
            if utilization is not None:
                v1_status["currentCPUUtilizationPercentage"] = utilization
    out: JSONObject = {
        "kind": obj.get("kind", "HorizontalPodAutoscaler"),
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": v1_spec,
    }
    if "status" in obj:
        out["status"] = v1_status
    return out


# -- v1 -> v2 --------------------------------------------------------------------------


def _annotation_list(annotations: Mapping[str, Any], key: str) -> list[Any] | None:
    """A round-trip annotation's JSON list; None when absent or not well formed (the
    real conversion fails the request on a malformed one; the stand-in ignores it)."""
    raw = annotations.get(key)
    if not isinstance(raw, str):
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return (
        [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else None
    )


def _v2_metric_spec(metric: Mapping[str, Any]) -> JSONObject:
    kind = metric.get("type", "")
    out: JSONObject = {"type": kind}
    if kind in ("Resource", "ContainerResource"):
        key = "resource" if kind == "Resource" else "containerResource"
        source = metric.get(key) or {}
        utilization = source.get("targetAverageUtilization")
        target: JSONObject = {"type": "AverageValue" if utilization is None else "Utilization"}
        _set(target, "averageValue", source.get("targetAverageValue"))
        _set(target, "averageUtilization", utilization)
        converted: JSONObject = {"name": source.get("name", "")}
        if kind == "ContainerResource":
            converted["container"] = source.get("container", "")
        converted["target"] = target
        out[key] = converted
    elif kind == "Pods":
        source = metric.get("pods") or {}
        ident: JSONObject = {"name": source.get("metricName", "")}
        _set(ident, "selector", source.get("selector"))
        out["pods"] = {
            "metric": ident,
            "target": {
                "type": "AverageValue",
                "averageValue": source.get("targetAverageValue") or "0",
            },
        }
    elif kind == "Object":
        source = metric.get("object") or {}
        ident = {"name": source.get("metricName", "")}
        _set(ident, "selector", source.get("selector"))
        average = source.get("averageValue")
        target = {
            "type": "Value" if average is None else "AverageValue",
            "value": source.get("targetValue") or "0",
        }
        _set(target, "averageValue", average)
        out["object"] = {
            "describedObject": dict(source.get("target") or {}),
            "target": target,
            "metric": ident,
        }
    elif kind == "External":
        source = metric.get("external") or {}
        ident = {"name": source.get("metricName", "")}
        _set(ident, "selector", source.get("metricSelector"))
        value = source.get("targetValue")
        target = {"type": "AverageValue" if value is None else "Value"}
        _set(target, "value", value)
        _set(target, "averageValue", source.get("targetAverageValue"))
        out["external"] = {"metric": ident, "target": target}
    return out


def _v2_metric_status(metric: Mapping[str, Any]) -> JSONObject:
    kind = metric.get("type", "")
    out: JSONObject = {"type": kind}
    if kind in ("Resource", "ContainerResource"):
        key = "resource" if kind == "Resource" else "containerResource"
        source = metric.get(key) or {}
        current: JSONObject = {"averageValue": source.get("currentAverageValue") or "0"}
        _set(current, "averageUtilization", source.get("currentAverageUtilization"))
        converted: JSONObject = {"name": source.get("name", "")}
        if kind == "ContainerResource":
            converted["container"] = source.get("container", "")
        converted["current"] = current
        out[key] = converted
    elif kind == "Pods":
        source = metric.get("pods") or {}
        ident: JSONObject = {"name": source.get("metricName", "")}
        _set(ident, "selector", source.get("selector"))
        out["pods"] = {
            "metric": ident,
            "current": {"averageValue": source.get("currentAverageValue") or "0"},
        }
    elif kind == "Object":
        source = metric.get("object") or {}
        ident = {"name": source.get("metricName", "")}
        _set(ident, "selector", source.get("selector"))
        current = {"value": source.get("currentValue") or "0"}
        _set(current, "averageValue", source.get("averageValue"))
        out["object"] = {
            "metric": ident,
            "current": current,
            "describedObject": dict(source.get("target") or {}),
        }
    elif kind == "External":
        source = metric.get("external") or {}
        ident = {"name": source.get("metricName", "")}
        _set(ident, "selector", source.get("metricSelector"))
        current = {"value": source.get("currentValue") or "0"}
        _set(current, "averageValue", source.get("currentAverageValue"))
        out["external"] = {"metric": ident, "current": current}
    return out


def _field(doc: Mapping[str, Any], name: str) -> Any:
    """encoding/json's case-insensitive field match."""
    lowered = name.lower()
    for key, value in doc.items():
        if key.lower() == lowered:
            return value
    return None


def _v2_rules(rules: Any) -> JSONObject | None:
    if not isinstance(rules, Mapping):
        return None
    out: JSONObject = {}
    _set(out, "stabilizationWindowSeconds", _field(rules, "StabilizationWindowSeconds"))
    _set(out, "selectPolicy", _field(rules, "SelectPolicy"))
    policies = _field(rules, "Policies")
    if isinstance(policies, list):
        out["policies"] = [
            {
                "type": _field(policy, "Type") or "",
                "value": _field(policy, "Value") or 0,
                "periodSeconds": _field(policy, "PeriodSeconds") or 0,
            }
            for policy in policies
            if isinstance(policy, Mapping)
        ]
    _set(out, "tolerance", _field(rules, "Tolerance"))
    return out


def _behavior(annotations: Mapping[str, Any]) -> JSONObject | None:
    raw = annotations.get(BEHAVIOR_ANNOTATION)
    if not isinstance(raw, str):
        return None
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, Mapping):
        return None
    behavior: JSONObject = {}
    _set(behavior, "scaleUp", _v2_rules(_field(doc, "ScaleUp")))
    _set(behavior, "scaleDown", _v2_rules(_field(doc, "ScaleDown")))
    return behavior or None  # only well-formed, non-empty data becomes the field


def hpa_v1_to_v2(obj: Mapping[str, Any]) -> JSONObject:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    metadata = dict(obj.get("metadata") or {})
    annotations = dict(metadata.get("annotations") or {})
    metrics = [_v2_metric_spec(m) for m in _annotation_list(annotations, METRICS_ANNOTATION) or []]
    target_cpu = spec.get("targetCPUUtilizationPercentage")
    if target_cpu is not None:
        metrics.append(_cpu_metric(target_cpu))
    if not metrics:  # v1's implicit default, made explicit
        metrics = [_cpu_metric(_DEFAULT_CPU_UTILIZATION)]
    v2_spec: JSONObject = {"scaleTargetRef": dict(spec.get("scaleTargetRef") or {})}
    _set(v2_spec, "minReplicas", spec.get("minReplicas"))
    v2_spec["maxReplicas"] = spec.get("maxReplicas", 0)
    v2_spec["metrics"] = metrics
    behavior = _behavior(annotations)
    if behavior is not None:
        v2_spec["behavior"] = behavior
    v2_status: JSONObject = {}
    _set(v2_status, "observedGeneration", status.get("observedGeneration"))
    _set(v2_status, "lastScaleTime", status.get("lastScaleTime"))
    if status.get("currentReplicas"):
        v2_status["currentReplicas"] = status["currentReplicas"]
    v2_status["desiredReplicas"] = status.get("desiredReplicas", 0)
    current = _annotation_list(annotations, CURRENT_METRICS_ANNOTATION)
    if current is not None:
        v2_status["currentMetrics"] = [_v2_metric_status(m) for m in current]
    elif status.get("currentCPUUtilizationPercentage") is not None:
        v2_status["currentMetrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "current": {"averageUtilization": status["currentCPUUtilizationPercentage"]},
                },
            }
        ]
    else:
        v2_status["currentMetrics"] = None
    conditions = _annotation_list(annotations, CONDITIONS_ANNOTATION)
    if conditions:
        v2_status["conditions"] = [dict(c) for c in conditions]
    kept = {k: v for k, v in annotations.items() if k not in ROUND_TRIP_ANNOTATIONS}
    if kept:
        metadata["annotations"] = kept
    else:
        metadata.pop("annotations", None)
    out: JSONObject = {
        "kind": obj.get("kind", "HorizontalPodAutoscaler"),
        "apiVersion": "autoscaling/v2",
        "metadata": metadata,
        "spec": v2_spec,
    }
    if "status" in obj:
        out["status"] = v2_status
    return out


def _cpu_metric(utilization: Any) -> JSONObject:
    return {
        "type": "Resource",
        "resource": {
            "name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": utilization},
        },
    }


_HPA_STATUS_ORDER = (
    "observedGeneration",
    "lastScaleTime",
    "currentReplicas",
    "desiredReplicas",
    "currentMetrics",
    "conditions",
)


def normalize(obj: JSONObject) -> JSONObject:
    """A stored object's status as the Go type writes it: for autoscaling/v2 HPAs,
    `currentReplicas` and `conditions` omitted when empty, `currentMetrics` always
    there (`null` when empty: the field has no omitempty in k8s.io/api), Go field
    order. Other objects are returned as they are."""
    status = obj.get("status")
    if (
        obj.get("apiVersion") != "autoscaling/v2"
        or obj.get("kind") != "HorizontalPodAutoscaler"
        or not isinstance(status, dict)
    ):
        return obj
    ordered: JSONObject = {key: status[key] for key in _HPA_STATUS_ORDER if key in status}
    for key, value in status.items():
        ordered.setdefault(key, value)
    if not ordered.get("currentReplicas"):
        ordered.pop("currentReplicas", None)
    if not ordered.get("conditions"):
        ordered.pop("conditions", None)
    ordered.setdefault("desiredReplicas", 0)
    current = ordered.get("currentMetrics")
    ordered["currentMetrics"] = current if current else None
    result = {key: ordered[key] for key in _HPA_STATUS_ORDER if key in ordered}
    result.update({k: v for k, v in ordered.items() if k not in result})
    obj["status"] = result
    return obj
