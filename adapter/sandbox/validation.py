"""Spec validation for the kinds the walkthrough writes, worded as kube-apiserver words it.

Owns the checks a real server makes on HorizontalPodAutoscalers
(pkg/apis/autoscaling/validation: replica bounds, metric sources and targets) and
Deployments (pkg/apis/apps/validation: replicas, selector, template labels, containers),
returning field causes `(reason, field, message)` for `status.invalid`. Object-meta
validation (names, labels) is `adapter.sandbox.rest`'s; this module sees only the spec,
after defaulting, as the registry's Validate does.

Values are printed as apimachinery's field errors print them in v1.36: integers bare,
strings quoted, maps and structs as JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from adapter.k8s import gostrings
from adapter.k8s.resources import GroupResource
from adapter.k8s.selectors import LabelSelector, SelectorError

__all__ = ["Cause", "validate_spec"]

Cause = tuple[str, str, str]

_HPAS = GroupResource("autoscaling", "horizontalpodautoscalers")
_DEPLOYMENTS = GroupResource("apps", "deployments")
_REPLICASETS = GroupResource("apps", "replicasets")
_METRIC_SOURCES = {
    "Object": "object",
    "Pods": "pods",
    "Resource": "resource",
    "ContainerResource": "containerResource",
    "External": "external",
}
_TARGET_TYPES = ("Utilization", "Value", "AverageValue")


def _value(value: object) -> str:
    if isinstance(value, str):
        return gostrings.quote(value)
    return orjson.dumps(value).decode()


def _invalid(path: str, value: object, detail: str) -> Cause:
    return ("FieldValueInvalid", path, f"Invalid value: {_value(value)}: {detail}")


def _required(path: str, detail: str = "") -> Cause:
    return ("FieldValueRequired", path, "Required value" + (f": {detail}" if detail else ""))


def _forbidden(path: str, detail: str) -> Cause:
    return ("FieldValueForbidden", path, f"Forbidden: {detail}")


def _unsupported(path: str, value: object, supported: tuple[str, ...]) -> Cause:
    quoted = ", ".join(gostrings.quote(item) for item in supported)
    return (
        "FieldValueNotSupported",
        path,
        f"Unsupported value: {_value(value)}: supported values: {quoted}",
    )


# -- HorizontalPodAutoscaler -----------------------------------------------------------


def _hpa(obj: Mapping[str, Any], version: str) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes: list[Cause] = []
    min_replicas = spec.get("minReplicas")
    max_replicas = spec.get("maxReplicas") or 0
    # minReplicas may be 0 only with the alpha HPAScaleToZero gate, which is off
    if isinstance(min_replicas, int) and min_replicas < 1:
        causes.append(
            _invalid("spec.minReplicas", min_replicas, "must be greater than or equal to 1")
        )
    if max_replicas < 1:
        causes.append(_invalid("spec.maxReplicas", max_replicas, "must be greater than 0"))
    if isinstance(min_replicas, int) and max_replicas < min_replicas:
        causes.append(
            _invalid(
                "spec.maxReplicas", max_replicas, "must be greater than or equal to `minReplicas`"
            )
        )
    ref = spec.get("scaleTargetRef") or {}
    for key in ("kind", "name"):
        if not ref.get(key):
            causes.append(_required(f"spec.scaleTargetRef.{key}"))
    if version == "v1":
        target = spec.get("targetCPUUtilizationPercentage")
        if isinstance(target, int) and target < 1:
            causes.append(
                _invalid("spec.targetCPUUtilizationPercentage", target, "must be greater than 0")
            )
        return causes
    for index, metric in enumerate(spec.get("metrics") or []):
        causes.extend(_metric(metric or {}, f"spec.metrics[{index}]"))
    return causes


def _metric(metric: Mapping[str, Any], path: str) -> list[Cause]:
    kind = metric.get("type", "")
    if not kind:
        return [_required(f"{path}.type", "must specify a metric source type")]
    if kind not in _METRIC_SOURCES:
        return [_unsupported(f"{path}.type", kind, tuple(_METRIC_SOURCES))]
    key = _METRIC_SOURCES[kind]
    source = metric.get(key)
    if not isinstance(source, Mapping):
        return [_required(f"{path}.{key}", "must populate information for the given metric source")]
    causes: list[Cause] = []
    for other_type, other_key in _METRIC_SOURCES.items():
        if other_type != kind and metric.get(other_key) is not None:
            causes.append(
                _forbidden(f"{path}.{other_key}", "must populate the given metric source only")
            )
    where = f"{path}.{key}"
    target = source.get("target") or {}
    causes.extend(_target(target, f"{where}.target"))
    if kind in ("Resource", "ContainerResource"):
        if not source.get("name"):
            causes.append(_required(f"{where}.name", "must specify a resource name"))
        if target.get("averageUtilization") is None and target.get("averageValue") is None:
            causes.append(
                _required(
                    f"{where}.target.averageUtilization",
                    "must set either a target raw value or a target utilization",
                )
            )
        if target.get("averageUtilization") is not None and target.get("averageValue") is not None:
            causes.append(
                _forbidden(
                    f"{where}.target.averageValue",
                    "may not set both a target raw value and a target utilization",
                )
            )
    else:
        if not (source.get("metric") or {}).get("name"):
            causes.append(_required(f"{where}.metric.name", "must specify a metric name"))
        if kind == "Pods" and target.get("averageValue") is None:
            causes.append(
                _required(
                    f"{where}.target.averageValue", "must specify a positive target averageValue"
                )
            )
        if kind in ("Object", "External") and (
            target.get("value") is None and target.get("averageValue") is None
        ):
            causes.append(
                _required(
                    f"{where}.target.averageValue",
                    "must set either a target value or averageValue",
                )
            )
    return causes


def _target(target: Mapping[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    kind = target.get("type", "")
    if not kind:
        causes.append(_required(f"{path}.type", "must specify a metric target type"))
    if kind not in _TARGET_TYPES:
        causes.append(
            _invalid(f"{path}.type", kind, "must be either Utilization, Value, or AverageValue")
        )
    utilization = target.get("averageUtilization")
    if isinstance(utilization, int) and utilization < 1:
        causes.append(_invalid(f"{path}.averageUtilization", utilization, "must be greater than 0"))
    return causes


# -- Deployments and ReplicaSets -------------------------------------------------------


def _workload(obj: Mapping[str, Any], version: str) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes: list[Cause] = []
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and replicas < 0:
        causes.append(_invalid("spec.replicas", replicas, "must be greater than or equal to 0"))
    selector_doc = spec.get("selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not selector_doc:
        causes.append(_required("spec.selector"))
    else:
        try:
            selector = LabelSelector.from_api(selector_doc)
        except SelectorError as err:
            causes.append(_invalid("spec.selector", selector_doc, str(err)))
        else:
            if selector.is_empty():
                causes.append(
                    _invalid(
                        "spec.selector", selector_doc, "empty selector is invalid for deployment"
                    )
                )
            elif not selector.matches(labels):
                causes.append(
                    _invalid(
                        "spec.template.metadata.labels",
                        labels,
                        "`selector` does not match template `labels`",
                    )
                )
    pod_spec = template.get("spec") or {}
    containers = pod_spec.get("containers") or []
    if not containers:
        causes.append(_required("spec.template.spec.containers"))
    for index, container in enumerate(containers):
        where = f"spec.template.spec.containers[{index}]"
        if not (container or {}).get("name"):
            causes.append(_required(f"{where}.name"))
        if not (container or {}).get("image"):
            causes.append(_required(f"{where}.image"))
    restart = pod_spec.get("restartPolicy")
    if restart not in (None, "Always"):
        causes.append(_unsupported("spec.template.spec.restartPolicy", restart, ("Always",)))
    return causes


_VALIDATORS: dict[GroupResource, Callable[[Mapping[str, Any], str], list[Cause]]] = {
    _HPAS: _hpa,
    _DEPLOYMENTS: _workload,
    _REPLICASETS: _workload,
}


def validate_spec(resource: GroupResource, version: str, obj: Mapping[str, Any]) -> list[Cause]:
    """The spec's field errors for `resource` read in `version` (empty when valid or
    when the sandbox has no rules for the kind)."""
    validator = _VALIDATORS.get(resource)
    return validator(obj, version) if validator is not None else []
