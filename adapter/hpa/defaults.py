"""What the API server does to an autoscaling/v2 HPA before it is stored: defaults, validation.

Owns `pkg/apis/autoscaling/v2/defaults.go` (minReplicas 1, the 80% CPU metric when
there are no metrics, and the fill-in of `spec.behavior` rules: scale-up 0s window,
Max of 4 pods or 100% per 15s; scale-down Max of 100% per 15s with the window left to
the controller) and the create-time checks of
`pkg/apis/autoscaling/validation/validation.go`, with their field paths and messages,
as of v1.36 with the `HPAScaleToZero` and `HPAConfigurableTolerance` gates as given.

Both work on the wire form (decoded JSON), because that is what field paths name; the
typed values are built afterwards by `adapter.hpa.snapshot`. Wrong JSON types fail at
once with a `WireError` (the API server's decoder would refuse them too); everything
else is collected as `FieldError`s so a user sees all problems in one go.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapter.hpa.model import SOURCE_KEYS
from adapter.hpa.wire import (
    WireError,
    as_map,
    child,
    index,
    items,
    opt_int32,
    opt_list,
    opt_map,
    opt_quantity,
    opt_str,
)

__all__ = [
    "DEFAULT_CPU_UTILIZATION",
    "MAX_PERIOD_SECONDS",
    "MAX_STABILIZATION_WINDOW_SECONDS",
    "FieldError",
    "apply_defaults",
    "scale_down_rules_default",
    "scale_up_rules_default",
    "validate_hpa",
]

DEFAULT_CPU_UTILIZATION = 80
MAX_PERIOD_SECONDS = 1800
MAX_STABILIZATION_WINDOW_SECONDS = 3600

_METRIC_SOURCE_TYPES = ("ContainerResource", "External", "Object", "Pods", "Resource")
_TARGET_TYPES = ("Utilization", "Value", "AverageValue")
_SELECT_POLICIES = ("Disabled", "Max", "Min")
_POLICY_TYPES = ("Percent", "Pods")
# validateMetricSpec looks at the sources in this order and validates only the first.
_SOURCE_FIELDS = ("object", "external", "pods", "resource", "containerResource")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")


def scale_up_rules_default() -> dict[str, Any]:
    """defaultHPAScaleUpRules on the wire."""
    return {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ],
    }


def scale_down_rules_default() -> dict[str, Any]:
    """defaultHPAScaleDownRules on the wire; the window is the controller's flag."""
    return {
        "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
    }


def _fill_rules(given: Any, defaults: dict[str, Any], path: str) -> dict[str, Any]:
    """copyHPAScalingRules: every field the user set wins, even an empty policy list."""
    if given is None:
        return defaults
    rules = as_map(given, path)
    for key in ("selectPolicy", "stabilizationWindowSeconds", "policies", "tolerance"):
        if rules.get(key) is not None:
            defaults[key] = rules[key]
    return defaults


def apply_defaults(hpa: Mapping[str, Any]) -> dict[str, Any]:
    """SetDefaults_HorizontalPodAutoscaler on a deep copy of the wire object.

    Defaulting is idempotent, so an HPA read back from the API server passes unchanged.
    """
    result = copy.deepcopy(dict(hpa))
    spec = opt_map(result, "spec", "")
    if spec is None:
        raise WireError("spec", "Required value")
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if not opt_list(spec, "metrics", "spec"):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {
                        "type": "Utilization",
                        "averageUtilization": DEFAULT_CPU_UTILIZATION,
                    },
                },
            }
        ]
    behavior = spec.get("behavior")
    if behavior is not None:
        behavior = as_map(behavior, "spec.behavior")
        behavior["scaleUp"] = _fill_rules(
            behavior.get("scaleUp"), scale_up_rules_default(), "spec.behavior.scaleUp"
        )
        behavior["scaleDown"] = _fill_rules(
            behavior.get("scaleDown"), scale_down_rules_default(), "spec.behavior.scaleDown"
        )
    return result


@dataclass(frozen=True, slots=True)
class FieldError:
    """A field.Error: path, error type, offending value and detail, printed the same way."""

    path: str
    type: str
    detail: str = ""
    value: Any = None
    has_value: bool = False

    def __str__(self) -> str:
        body = self.type
        if self.has_value:
            body = f"{body}: {_go_value(self.value)}"
        if self.detail:
            body = f"{body}: {self.detail}"
        return f"{self.path}: {body}"


def _go_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if value is None:
        return "null"
    return str(value)


def _invalid(path: str, value: Any, detail: str) -> FieldError:
    return FieldError(path, "Invalid value", detail, value, True)


def _required(path: str, detail: str = "") -> FieldError:
    return FieldError(path, "Required value", detail)


def _forbidden(path: str, detail: str) -> FieldError:
    return FieldError(path, "Forbidden", detail)


def _not_supported(path: str, value: Any, supported: tuple[str, ...]) -> FieldError:
    listed = ", ".join(f'"{s}"' for s in supported)
    return FieldError(path, "Unsupported value", f"supported values: {listed}", value, True)


def _path_segment_problems(name: str) -> list[str]:
    """IsValidPathSegmentName: names go into URL paths of the scale and metrics APIs."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def _validate_api_version(api_version: str, path: str, allow_empty_group: bool) -> list[FieldError]:
    """The apiVersion checks added in v1.34: a parseable group/version with a group."""
    if api_version.count("/") > 1:
        return [_invalid(path, api_version, f"unexpected GroupVersion string: {api_version}")]
    group = api_version.split("/", 1)[0] if "/" in api_version else ""
    if not group and not allow_empty_group:
        return [_invalid(path, api_version, "must specify a non-empty API group")]
    return []


def _validate_reference(
    ref: Mapping[str, Any], path: str, allow_empty_group: bool
) -> list[FieldError]:
    errors: list[FieldError] = []
    kind = opt_str(ref, "kind", path) or ""
    name = opt_str(ref, "name", path) or ""
    api_version = opt_str(ref, "apiVersion", path) or ""
    if not kind:
        errors.append(_required(child(path, "kind")))
    else:
        errors += [_invalid(child(path, "kind"), kind, m) for m in _path_segment_problems(kind)]
    if not name:
        errors.append(_required(child(path, "name")))
    else:
        errors += [_invalid(child(path, "name"), name, m) for m in _path_segment_problems(name)]
    errors += _validate_api_version(api_version, child(path, "apiVersion"), allow_empty_group)
    return errors


def _validate_target(target: Mapping[str, Any], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    target_type = opt_str(target, "type", path) or ""
    if not target_type:
        errors.append(_required(child(path, "type"), "must specify a metric target type"))
    if target_type not in _TARGET_TYPES:
        errors.append(
            _invalid(
                child(path, "type"),
                target_type,
                "must be either Utilization, Value, or AverageValue",
            )
        )
    for key in ("value", "averageValue"):
        quantity = opt_quantity(target, key, path)
        if quantity is not None and quantity.value <= 0:
            errors.append(_invalid(child(path, key), str(quantity), "must be positive"))
    utilization = opt_int32(target, "averageUtilization", path)
    if utilization is not None and utilization < 1:
        errors.append(
            _invalid(child(path, "averageUtilization"), utilization, "must be greater than 0")
        )
    return errors


def _validate_identifier(metric: Mapping[str, Any], path: str) -> list[FieldError]:
    name = opt_str(metric, "name", path) or ""
    opt_map(metric, "selector", path)
    if not name:
        return [_required(child(path, "name"), "must specify a metric name")]
    return [_invalid(child(path, "name"), name, m) for m in _path_segment_problems(name)]


def _sub(src: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
    return opt_map(src, key, path) or {}


def _validate_resource_like(src: Mapping[str, Any], path: str, container: bool) -> list[FieldError]:
    errors: list[FieldError] = []
    name = opt_str(src, "name", path) or ""
    if not name:
        errors.append(_required(child(path, "name"), "must specify a resource name"))
    elif container and not (
        name in _STANDARD_CONTAINER_RESOURCES or name.startswith("hugepages-") or "/" in name
    ):
        errors.append(
            _invalid(child(path, "name"), name, "must be a standard resource for containers")
        )
    if container:
        container_name = opt_str(src, "container", path) or ""
        if not container_name:
            errors.append(_required(child(path, "container"), "must specify a container"))
        elif len(container_name) > 63 or not _DNS1123_LABEL.match(container_name):
            errors.append(
                _invalid(
                    child(path, "container"),
                    container_name,
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                    "characters or '-', and must start and end with an alphanumeric character",
                )
            )
    target_path = child(path, "target")
    target = _sub(src, "target", path)
    errors += _validate_target(target, target_path)
    has_utilization = target.get("averageUtilization") is not None
    has_value = target.get("averageValue") is not None
    if not has_utilization and not has_value:
        errors.append(
            _required(
                child(target_path, "averageUtilization"),
                "must set either a target raw value or a target utilization",
            )
        )
    if has_utilization and has_value:
        errors.append(
            _forbidden(
                child(target_path, "averageValue"),
                "may not set both a target raw value and a target utilization",
            )
        )
    return errors


def _validate_source(kind: str, src: Mapping[str, Any], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if kind in ("resource", "containerResource"):
        return _validate_resource_like(src, path, container=kind == "containerResource")
    if kind == "object":
        errors += _validate_reference(
            _sub(src, "describedObject", path), child(path, "describedObject"), True
        )
    errors += _validate_identifier(_sub(src, "metric", path), child(path, "metric"))
    target_path = child(path, "target")
    target = _sub(src, "target", path)
    errors += _validate_target(target, target_path)
    has_value = target.get("value") is not None
    has_average = target.get("averageValue") is not None
    if kind == "object" and not has_value and not has_average:
        errors.append(
            _required(
                child(target_path, "averageValue"), "must set either a target value or averageValue"
            )
        )
    if kind == "external":
        if not has_value and not has_average:
            errors.append(
                _required(
                    child(target_path, "averageValue"),
                    "must set either a target value for metric or a per-pod target",
                )
            )
        if has_value and has_average:
            errors.append(
                _forbidden(
                    child(target_path, "value"),
                    "may not set both a target value for metric and a per-pod target",
                )
            )
    if kind == "pods" and not has_average:
        errors.append(
            _required(
                child(target_path, "averageValue"), "must specify a positive target averageValue"
            )
        )
    return errors


def _validate_metric(spec: Mapping[str, Any], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    metric_type = opt_str(spec, "type", path) or ""
    if not metric_type:
        errors.append(_required(child(path, "type"), "must specify a metric source type"))
    if metric_type not in _METRIC_SOURCE_TYPES:
        errors.append(_not_supported(child(path, "type"), metric_type, _METRIC_SOURCE_TYPES))
    present: list[str] = []
    for key in _SOURCE_FIELDS:
        src = opt_map(spec, key, path)
        if src is not None:
            present.append(key)
            if len(present) == 1:
                errors += _validate_source(key, src, child(path, key))
    expected = SOURCE_KEYS.get(metric_type)
    if expected is None:
        errors.append(_not_supported(child(path, "type"), metric_type, _METRIC_SOURCE_TYPES))
    elif expected not in present:
        errors.append(
            _required(
                child(path, expected), "must populate information for the given metric source"
            )
        )
    if len(present) != 1:
        for key in sorted(k for k in present if k != expected):
            errors.append(
                _forbidden(child(path, key), "must populate the given metric source only")
            )
    return errors


def _validate_rules(rules: Mapping[str, Any], path: str, tolerance_gate: bool) -> list[FieldError]:
    errors: list[FieldError] = []
    window = opt_int32(rules, "stabilizationWindowSeconds", path)
    window_path = child(path, "stabilizationWindowSeconds")
    if window is not None and window < 0:
        errors.append(_invalid(window_path, window, "must be greater than or equal to zero"))
    if window is not None and window > MAX_STABILIZATION_WINDOW_SECONDS:
        errors.append(
            _invalid(
                window_path,
                window,
                f"must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}",
            )
        )
    select = opt_str(rules, "selectPolicy", path)
    if select is not None and select not in _SELECT_POLICIES:
        errors.append(_not_supported(child(path, "selectPolicy"), select, _SELECT_POLICIES))
    policies_path = child(path, "policies")
    policies = opt_list(rules, "policies", path)
    if not policies:
        errors.append(_required(policies_path, "must specify at least one Policy"))
    for position, raw in enumerate(items(policies)):
        ppath = index(policies_path, position)
        policy = as_map(raw, ppath)
        policy_type = opt_str(policy, "type", ppath) or ""
        if policy_type not in _POLICY_TYPES:
            errors.append(_not_supported(child(ppath, "type"), policy_type, _POLICY_TYPES))
        value = opt_int32(policy, "value", ppath) or 0
        if value <= 0:
            errors.append(_invalid(child(ppath, "value"), value, "must be greater than zero"))
        period = opt_int32(policy, "periodSeconds", ppath) or 0
        if period <= 0:
            errors.append(
                _invalid(child(ppath, "periodSeconds"), period, "must be greater than zero")
            )
        if period > MAX_PERIOD_SECONDS:
            errors.append(
                _invalid(
                    child(ppath, "periodSeconds"),
                    period,
                    f"must be less than or equal to {MAX_PERIOD_SECONDS}",
                )
            )
    tolerance = opt_quantity(rules, "tolerance", path)
    if tolerance_gate and tolerance is not None and tolerance.value < 0:
        errors.append(
            _invalid(child(path, "tolerance"), str(tolerance), "must be greater or equal to zero")
        )
    return errors


def validate_hpa(
    hpa: Mapping[str, Any], *, scale_to_zero: bool, configurable_tolerance: bool
) -> list[FieldError]:
    """ValidateHorizontalPodAutoscaler (create) on a defaulted wire object.

    With `HPAConfigurableTolerance` off the API server drops `tolerance` instead of
    rejecting it, so it is not an error here either (the controller ignores it).
    """
    errors: list[FieldError] = []
    metadata = opt_map(hpa, "metadata", "") or {}
    if not opt_str(metadata, "name", "metadata"):
        errors.append(_required("metadata.name", "name or generateName is required"))
    spec = opt_map(hpa, "spec", "")
    if spec is None:
        return [*errors, _required("spec")]
    min_replicas = opt_int32(spec, "minReplicas", "spec")
    max_replicas = opt_int32(spec, "maxReplicas", "spec") or 0
    lower_bound = 0 if scale_to_zero else 1
    if min_replicas is not None and min_replicas < lower_bound:
        errors.append(
            _invalid(
                "spec.minReplicas", min_replicas, f"must be greater than or equal to {lower_bound}"
            )
        )
    if max_replicas < 1:
        errors.append(_invalid("spec.maxReplicas", max_replicas, "must be greater than 0"))
    if min_replicas is not None and max_replicas < min_replicas:
        errors.append(
            _invalid(
                "spec.maxReplicas", max_replicas, "must be greater than or equal to `minReplicas`"
            )
        )
    ref = opt_map(spec, "scaleTargetRef", "spec") or {}
    allow_empty_group = ref.get("kind") == "ReplicationController"
    errors += _validate_reference(ref, "spec.scaleTargetRef", allow_empty_group)

    has_object_or_external = False
    for position, raw in enumerate(items(opt_list(spec, "metrics", "spec"))):
        path = index("spec.metrics", position)
        metric = as_map(raw, path)
        errors += _validate_metric(metric, path)
        if metric.get("type") in ("Object", "External"):
            has_object_or_external = True
    if min_replicas == 0 and not has_object_or_external:
        errors.append(
            _forbidden(
                "spec.metrics",
                "must specify at least one Object or External metric to support scaling to "
                "zero replicas",
            )
        )
    behavior = opt_map(spec, "behavior", "spec")
    if behavior is not None:
        for direction in ("scaleUp", "scaleDown"):
            rules = opt_map(behavior, direction, "spec.behavior")
            if rules is not None:
                errors += _validate_rules(
                    rules, f"spec.behavior.{direction}", configurable_tolerance
                )
    return errors
