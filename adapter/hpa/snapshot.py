"""HPA snapshots (contracts/hpa-snapshot.md): reading one into values, writing the result.

Owns the snapshot format: YAML or JSON text to a `Snapshot` of typed values — the HPA
through the API server's defaulting and validation (`adapter.hpa.defaults`), the scale
as the scale client would hand it over (an absent scale, or a selector the client cannot
convert, is a failed read), the pods, the metrics API responses, the controller's
memory and settings — and a `SyncResult` back to the output document
(`desiredReplicas`, `status`, `history`, plus `explanation`). Anything that does not
decode or that the API server would reject raises `SnapshotError` naming the field.

Running the sync is `adapter.hpa.sync`; files, stdout and exit codes are
`adapter.hpa.evaluate`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import yaml

from adapter.hpa.behavior import ScaleEvent, TimestampedRecommendation
from adapter.hpa.defaults import apply_defaults, validate_hpa
from adapter.hpa.model import (
    SOURCE_KEYS,
    ZERO_TIME,
    Container,
    ContainerResourceMetricSource,
    CrossVersionObjectReference,
    ExternalMetricSource,
    HorizontalPodAutoscaler,
    HPABehavior,
    HPACondition,
    HPAScalingPolicy,
    HPAScalingRules,
    HPASpec,
    HPAStatus,
    MetricIdentifier,
    MetricSpec,
    MetricStatus,
    MetricTarget,
    MetricValueStatus,
    ObjectMetricSource,
    Pod,
    PodReadyCondition,
    PodsMetricSource,
    ResourceMetricSource,
    Scale,
)
from adapter.hpa.sources import (
    ResponsesMetricsSource,
    parse_custom_metric_lists,
    parse_external_metric_lists,
    parse_label_selector_spec,
    parse_pod_metrics_list,
)
from adapter.hpa.sync import (
    ControllerMemory,
    ScaleReadError,
    SyncResult,
    scale_from_api,
    sync,
)
from adapter.hpa.wire import (
    WireError,
    as_map,
    child,
    index,
    items,
    opt_bool,
    opt_int32,
    opt_list,
    opt_map,
    opt_quantity,
    opt_str,
    opt_string_map,
    opt_time,
)
from adapter.k8s import yamlsafe
from adapter.k8s.quantity import Quantity
from adapter.k8s.timefmt import format_micro_time, format_time
from adapter.settings.hpa import ControllerConfig, FeatureGates

__all__ = [
    "API_VERSION",
    "KIND",
    "Snapshot",
    "SnapshotError",
    "evaluate_document",
    "load_document",
    "parse_snapshot",
    "render_result",
]

API_VERSION = "hpa-snapshot/v1"
KIND = "HPASnapshot"

_FEATURE_GATES = {
    "HPAConfigurableTolerance": "hpa_configurable_tolerance",
    "HPAScaleToZero": "hpa_scale_to_zero",
    "PodLevelResources": "pod_level_resources",
}


class SnapshotError(ValueError):
    """A snapshot that cannot be evaluated; `path` names the offending field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class _Loader(yamlsafe.BoundedSafeLoader):
    """The bounded SafeLoader keeping timestamps as text: they are parsed as RFC 3339 later."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_document(text: str) -> Any:
    """YAML or JSON text (JSON read as YAML) to plain data, within the bounds of
    `adapter.k8s.yamlsafe` (alias expansion, nesting depth)."""
    try:
        return yamlsafe.load(text, _Loader)
    except yamlsafe.DocumentError as err:
        raise SnapshotError("", f"not valid YAML or JSON: {err}") from err


@dataclass(frozen=True, slots=True)
class Snapshot:
    now: datetime
    config: ControllerConfig
    hpa: HorizontalPodAutoscaler
    scale: Scale | ScaleReadError
    pods: tuple[Pod, ...]
    metrics: ResponsesMetricsSource
    memory: ControllerMemory


# -- reading ---------------------------------------------------------------------------


def _seconds(raw: Mapping[str, Any], key: str, path: str, default: timedelta) -> timedelta:
    value = raw.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise SnapshotError(
            child(path, key), f"must be a non-negative number of seconds, not {value!r}"
        )
    return timedelta(seconds=value)


def _config(raw: Any) -> ControllerConfig:
    if raw is None:
        return ControllerConfig()
    config = as_map(raw, "config")
    tolerance = config.get("tolerance", 0.1)
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or tolerance < 0:
        raise SnapshotError("config.tolerance", f"must be a non-negative number, not {tolerance!r}")
    gates = FeatureGates()
    raw_gates = opt_map(config, "featureGates", "config") or {}
    values = {name: getattr(gates, attr) for name, attr in _FEATURE_GATES.items()}
    for name in raw_gates:
        if name not in _FEATURE_GATES:
            supported = ", ".join(sorted(_FEATURE_GATES))
            raise SnapshotError(
                f"config.featureGates.{name}", f"unknown feature gate (supported: {supported})"
            )
        value = opt_bool(raw_gates, name, "config.featureGates")
        if value is not None:
            values[name] = value
    defaults = ControllerConfig()
    return ControllerConfig(
        tolerance=float(tolerance),
        cpu_initialization_period=_seconds(
            config, "cpuInitializationPeriod", "config", defaults.cpu_initialization_period
        ),
        initial_readiness_delay=_seconds(
            config, "initialReadinessDelay", "config", defaults.initial_readiness_delay
        ),
        downscale_stabilization_window=_seconds(
            config,
            "downscaleStabilizationWindow",
            "config",
            defaults.downscale_stabilization_window,
        ),
        feature_gates=FeatureGates(**{_FEATURE_GATES[n]: v for n, v in values.items()}),
    )


def _reference(raw: Mapping[str, Any], path: str) -> CrossVersionObjectReference:
    return CrossVersionObjectReference(
        kind=opt_str(raw, "kind", path) or "",
        name=opt_str(raw, "name", path) or "",
        api_version=opt_str(raw, "apiVersion", path) or "",
    )


def _identifier(raw: Mapping[str, Any], path: str) -> MetricIdentifier:
    selector = raw.get("selector")
    return MetricIdentifier(
        name=opt_str(raw, "name", path) or "",
        selector=None
        if selector is None
        else parse_label_selector_spec(selector, child(path, "selector")),
    )


def _target(raw: Mapping[str, Any], path: str) -> MetricTarget:
    return MetricTarget(
        type=opt_str(raw, "type", path) or "",
        value=opt_quantity(raw, "value", path),
        average_value=opt_quantity(raw, "averageValue", path),
        average_utilization=opt_int32(raw, "averageUtilization", path),
    )


def _metric_spec(raw: Mapping[str, Any], path: str) -> MetricSpec:
    metric_type = opt_str(raw, "type", path) or ""
    source_key = SOURCE_KEYS.get(metric_type)
    if source_key is None:
        return MetricSpec(type=metric_type)
    spath = child(path, source_key)
    src = opt_map(raw, source_key, path) or {}
    target = _target(opt_map(src, "target", spath) or {}, child(spath, "target"))
    if metric_type == "Resource":
        return MetricSpec(
            metric_type, resource=ResourceMetricSource(opt_str(src, "name", spath) or "", target)
        )
    if metric_type == "ContainerResource":
        return MetricSpec(
            metric_type,
            container_resource=ContainerResourceMetricSource(
                opt_str(src, "name", spath) or "", opt_str(src, "container", spath) or "", target
            ),
        )
    identifier = _identifier(opt_map(src, "metric", spath) or {}, child(spath, "metric"))
    if metric_type == "Pods":
        return MetricSpec(metric_type, pods=PodsMetricSource(identifier, target))
    if metric_type == "Object":
        described = _reference(
            opt_map(src, "describedObject", spath) or {}, child(spath, "describedObject")
        )
        return MetricSpec(metric_type, object=ObjectMetricSource(described, identifier, target))
    return MetricSpec(metric_type, external=ExternalMetricSource(identifier, target))


def _rules(raw: Mapping[str, Any], path: str) -> HPAScalingRules:
    policies = []
    for position, item in enumerate(items(opt_list(raw, "policies", path))):
        ppath = index(child(path, "policies"), position)
        policy = as_map(item, ppath)
        policies.append(
            HPAScalingPolicy(
                type=opt_str(policy, "type", ppath) or "",
                value=opt_int32(policy, "value", ppath) or 0,
                period_seconds=opt_int32(policy, "periodSeconds", ppath) or 0,
            )
        )
    return HPAScalingRules(
        select_policy=opt_str(raw, "selectPolicy", path) or "Max",
        policies=tuple(policies),
        stabilization_window_seconds=opt_int32(raw, "stabilizationWindowSeconds", path),
        tolerance=opt_quantity(raw, "tolerance", path),
    )


def _metric_value_status(raw: Mapping[str, Any], path: str) -> MetricValueStatus:
    return MetricValueStatus(
        value=opt_quantity(raw, "value", path),
        average_value=opt_quantity(raw, "averageValue", path),
        average_utilization=opt_int32(raw, "averageUtilization", path),
    )


def _metric_status(raw: Mapping[str, Any], path: str) -> MetricStatus:
    metric_type = opt_str(raw, "type", path) or ""
    key = SOURCE_KEYS.get(metric_type)
    if key is None:
        return MetricStatus(type=metric_type)
    spath = child(path, key)
    src = opt_map(raw, key, path) or {}
    current = _metric_value_status(opt_map(src, "current", spath) or {}, child(spath, "current"))
    metric = src.get("metric")
    described = src.get("describedObject")
    return MetricStatus(
        type=metric_type,
        name=opt_str(src, "name", spath) or "",
        container=opt_str(src, "container", spath) or "",
        metric=None
        if metric is None
        else _identifier(as_map(metric, child(spath, "metric")), child(spath, "metric")),
        described_object=None
        if described is None
        else _reference(
            as_map(described, child(spath, "describedObject")), child(spath, "describedObject")
        ),
        current=current,
    )


def _status(raw: Mapping[str, Any] | None) -> HPAStatus:
    if raw is None:
        return HPAStatus()
    path = "hpa.status"
    conditions = []
    for position, item in enumerate(items(opt_list(raw, "conditions", path))):
        cpath = index(child(path, "conditions"), position)
        condition = as_map(item, cpath)
        conditions.append(
            HPACondition(
                type=opt_str(condition, "type", cpath) or "",
                status=opt_str(condition, "status", cpath) or "",
                reason=opt_str(condition, "reason", cpath) or "",
                message=opt_str(condition, "message", cpath) or "",
                last_transition_time=opt_time(condition, "lastTransitionTime", cpath),
            )
        )
    metrics_raw = opt_list(raw, "currentMetrics", path)
    metrics = None
    if metrics_raw is not None:
        metrics = tuple(
            _metric_status(
                as_map(item, index(child(path, "currentMetrics"), position)),
                index(child(path, "currentMetrics"), position),
            )
            for position, item in enumerate(metrics_raw)
        )
    return HPAStatus(
        current_replicas=opt_int32(raw, "currentReplicas", path) or 0,
        desired_replicas=opt_int32(raw, "desiredReplicas", path) or 0,
        last_scale_time=opt_time(raw, "lastScaleTime", path),
        current_metrics=metrics,
        conditions=tuple(conditions),
    )


def _prefixed(err: WireError, prefix: str) -> SnapshotError:
    return SnapshotError(child(prefix, err.path) if err.path else prefix, err.detail)


def hpa_from_api(raw: Any, gates: FeatureGates) -> HorizontalPodAutoscaler:
    """An autoscaling/v2 HPA as stored, defaulted and validated as the API server would."""
    if raw is None:
        raise SnapshotError("hpa", "Required value")
    try:
        stored = apply_defaults(as_map(raw, ""))
        errors = validate_hpa(
            stored,
            scale_to_zero=gates.hpa_scale_to_zero,
            configurable_tolerance=gates.hpa_configurable_tolerance,
        )
        if errors:
            first = errors[0]
            message = "; ".join(f"hpa.{error}" for error in errors)
            raise SnapshotError(f"hpa.{first.path}", message.removeprefix(f"hpa.{first.path}: "))
        metadata = opt_map(stored, "metadata", "") or {}
        spec = opt_map(stored, "spec", "") or {}
        behavior_raw = opt_map(spec, "behavior", "spec")
        behavior = None
        if behavior_raw is not None:
            behavior = HPABehavior(
                scale_up=_rules(
                    opt_map(behavior_raw, "scaleUp", "spec.behavior") or {}, "spec.behavior.scaleUp"
                ),
                scale_down=_rules(
                    opt_map(behavior_raw, "scaleDown", "spec.behavior") or {},
                    "spec.behavior.scaleDown",
                ),
            )
        metrics = tuple(
            _metric_spec(
                as_map(item, index("spec.metrics", position)), index("spec.metrics", position)
            )
            for position, item in enumerate(items(opt_list(spec, "metrics", "spec")))
        )
        return HorizontalPodAutoscaler(
            namespace=opt_str(metadata, "namespace", "metadata") or "default",
            name=opt_str(metadata, "name", "metadata") or "",
            spec=HPASpec(
                scale_target_ref=_reference(
                    opt_map(spec, "scaleTargetRef", "spec") or {}, "spec.scaleTargetRef"
                ),
                min_replicas=opt_int32(spec, "minReplicas", "spec") or 0,
                max_replicas=opt_int32(spec, "maxReplicas", "spec") or 0,
                metrics=metrics,
                behavior=behavior,
            ),
            status=_status(opt_map(stored, "status", "")),
        )
    except WireError as err:
        raise _prefixed(err, "hpa") from err


def _guess_resource(kind: str) -> str:
    """meta.UnsafeGuessKindToResource: the plural the REST mapper would guess."""
    lower = kind.lower()
    if lower.endswith("s"):
        return lower + "es"
    if lower.endswith("y"):
        return lower[:-1] + "ies"
    return lower + "s"


def _scale(raw: Any, hpa: HorizontalPodAutoscaler) -> Scale | ScaleReadError:
    if raw is None:
        # The snapshot says the read failed but not why; the usual cause is a missing
        # target, reported as the API server's NotFound would be.
        ref = hpa.spec.scale_target_ref
        group = ref.api_version.split("/", 1)[0] if "/" in ref.api_version else ""
        resource = _guess_resource(ref.kind)
        qualified = f"{resource}.{group}" if group else resource
        return ScaleReadError(f'{qualified} "{ref.name}" not found')
    scale = as_map(raw, "scale")
    spec = opt_map(scale, "spec", "scale") or {}
    status = opt_map(scale, "status", "scale") or {}
    replicas = opt_int32(spec, "replicas", "scale.spec") or 0
    status_replicas = opt_int32(status, "replicas", "scale.status") or 0
    if replicas < 0:
        raise SnapshotError(
            "scale.spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0"
        )
    return scale_from_api(
        replicas, status_replicas, opt_str(status, "selector", "scale.status") or ""
    )


def _container(raw: Any, path: str) -> Container:
    container = as_map(raw, path)
    resources = opt_map(container, "resources", path) or {}
    requests_raw = opt_map(resources, "requests", child(path, "resources")) or {}
    rpath = child(child(path, "resources"), "requests")
    requests: dict[str, Quantity] = {}
    for name in requests_raw:
        quantity = opt_quantity(requests_raw, name, rpath)
        if quantity is not None:
            requests[name] = quantity
    return Container(
        name=opt_str(container, "name", path) or "",
        requests=requests,
        restart_policy=opt_str(container, "restartPolicy", path),
    )


def pod_from_api(raw: Any, path: str) -> Pod:
    """A v1 Pod reduced to what the replica calculator reads; errors name `path`."""
    pod = as_map(raw, path)
    metadata = opt_map(pod, "metadata", path) or {}
    mpath = child(path, "metadata")
    spec = opt_map(pod, "spec", path) or {}
    spath = child(path, "spec")
    status = opt_map(pod, "status", path) or {}
    stpath = child(path, "status")
    ready: PodReadyCondition | None = None
    for position, item in enumerate(items(opt_list(status, "conditions", stpath))):
        cpath = index(child(stpath, "conditions"), position)
        condition = as_map(item, cpath)
        if condition.get("type") == "Ready":
            ready = PodReadyCondition(
                status=opt_str(condition, "status", cpath) or "",
                last_transition_time=opt_time(condition, "lastTransitionTime", cpath),
            )
            break
    pod_resources = opt_map(spec, "resources", spath)
    pod_requests: dict[str, Quantity] | None = None
    if pod_resources is not None:
        raw_requests = opt_map(pod_resources, "requests", child(spath, "resources")) or {}
        rpath = child(child(spath, "resources"), "requests")
        pod_requests = {}
        for name in raw_requests:
            quantity = opt_quantity(raw_requests, name, rpath)
            if quantity is not None:
                pod_requests[name] = quantity
    return Pod(
        name=opt_str(metadata, "name", mpath) or "",
        namespace=opt_str(metadata, "namespace", mpath) or "",
        labels=opt_string_map(metadata, "labels", mpath) or {},
        phase=opt_str(status, "phase", stpath) or "",
        deleted=metadata.get("deletionTimestamp") is not None,
        start_time=opt_time(status, "startTime", stpath),
        ready=ready,
        containers=tuple(
            _container(item, index(child(spath, "containers"), position))
            for position, item in enumerate(items(opt_list(spec, "containers", spath)))
        ),
        init_containers=tuple(
            _container(item, index(child(spath, "initContainers"), position))
            for position, item in enumerate(items(opt_list(spec, "initContainers", spath)))
        ),
        pod_requests=pod_requests or None,
    )


def _list_items(raw: Any, path: str) -> tuple[list[Any], str]:
    """A list, or a List object (`kubectl get -o yaml`) whose items are used."""
    if isinstance(raw, dict) and "items" in raw:
        return opt_list(raw, "items", path) or [], child(path, "items")
    if not isinstance(raw, list):
        raise WireError(path, f"must be a list, not {raw!r}")
    return raw, path


def _pods(raw: Any) -> tuple[Pod, ...]:
    if raw is None:
        return ()
    pods, path = _list_items(raw, "pods")
    return tuple(pod_from_api(item, index(path, position)) for position, item in enumerate(pods))


def _as_lists(raw: Any) -> Any:
    return [raw] if isinstance(raw, dict) else raw


def _metrics(raw: Any) -> ResponsesMetricsSource:
    if raw is None:
        return ResponsesMetricsSource(None, None, None)
    metrics = as_map(raw, "metrics")
    resource = metrics.get("resource")
    custom = metrics.get("custom")
    external = metrics.get("external")
    return ResponsesMetricsSource(
        None if resource is None else parse_pod_metrics_list(resource, "metrics.resource"),
        None if custom is None else parse_custom_metric_lists(_as_lists(custom), "metrics.custom"),
        None
        if external is None
        else parse_external_metric_lists(_as_lists(external), "metrics.external"),
    )


def _required_time(raw: Mapping[str, Any], key: str, path: str) -> datetime:
    moment = opt_time(raw, key, path)
    if moment is None:
        raise WireError(child(path, key), "Required value")
    return moment


def _memory(raw: Any) -> ControllerMemory:
    if raw is None:
        return ControllerMemory()
    history = as_map(raw, "history")
    recommendations: tuple[TimestampedRecommendation, ...] | None = None
    raw_recommendations = opt_list(history, "recommendations", "history")
    if raw_recommendations is not None:
        entries = []
        for position, item in enumerate(raw_recommendations):
            path = index("history.recommendations", position)
            entry = as_map(item, path)
            replicas = opt_int32(entry, "replicas", path)
            if replicas is None:
                raise WireError(child(path, "replicas"), "Required value")
            entries.append(TimestampedRecommendation(replicas, _required_time(entry, "time", path)))
        recommendations = tuple(entries)

    def events(key: str) -> tuple[ScaleEvent, ...]:
        result = []
        for position, item in enumerate(items(opt_list(history, key, "history"))):
            path = index(child("history", key), position)
            entry = as_map(item, path)
            change = opt_int32(entry, "replicaChange", path)
            if change is None:
                raise WireError(child(path, "replicaChange"), "Required value")
            result.append(ScaleEvent(change, _required_time(entry, "time", path)))
        return tuple(result)

    return ControllerMemory(recommendations, events("scaleUpEvents"), events("scaleDownEvents"))


def parse_snapshot(document: Any) -> Snapshot:
    """A decoded snapshot document to values, checked as the API server would."""
    try:
        root = as_map(document, "")
        api_version = root.get("apiVersion")
        if api_version != API_VERSION:
            raise SnapshotError("apiVersion", f"must be {API_VERSION!r}, not {api_version!r}")
        kind = root.get("kind")
        if kind != KIND:
            raise SnapshotError("kind", f"must be {KIND!r}, not {kind!r}")
        now = opt_time(root, "now", "")
        if now is None:
            raise SnapshotError("now", "Required value")
        config = _config(root.get("config"))
        hpa = hpa_from_api(root.get("hpa"), config.feature_gates)
        return Snapshot(
            now=now,
            config=config,
            hpa=hpa,
            scale=_scale(root.get("scale"), hpa),
            pods=_pods(root.get("pods")),
            metrics=_metrics(root.get("metrics")),
            memory=_memory(root.get("history")),
        )
    except WireError as err:
        raise SnapshotError(err.path, err.detail) from err


# -- writing ---------------------------------------------------------------------------


def _history_time(moment: datetime) -> str:
    return format_micro_time(moment) if moment.microsecond else format_time(moment)


def render_memory(memory: ControllerMemory) -> dict[str, Any]:
    history: dict[str, Any] = {}
    if memory.recommendations is not None:
        history["recommendations"] = [
            {"time": _history_time(r.timestamp), "replicas": r.recommendation}
            for r in memory.recommendations
        ]
    history["scaleUpEvents"] = [
        {"time": _history_time(e.timestamp), "replicaChange": e.replica_change}
        for e in memory.scale_up_events
    ]
    history["scaleDownEvents"] = [
        {"time": _history_time(e.timestamp), "replicaChange": e.replica_change}
        for e in memory.scale_down_events
    ]
    return history


def _number(value: float | None) -> float | str | None:
    if value is None:
        return None
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return value


def _explanation(result: SyncResult) -> dict[str, Any]:
    explanation = result.explanation
    rendered: dict[str, Any] = {
        "path": explanation.path,
        "currentReplicas": explanation.current_replicas,
        "minReplicas": explanation.min_replicas,
        "maxReplicas": explanation.max_replicas,
    }
    metrics = []
    for metric in explanation.metrics:
        entry: dict[str, Any] = {
            "index": metric.index,
            "type": metric.type,
            "name": metric.name,
            "proposal": metric.proposal,
            "tolerance": {
                "scaleDown": metric.tolerances.scale_down,
                "scaleUp": metric.tolerances.scale_up,
            },
        }
        detail = metric.detail
        if detail is not None:
            entry["usageRatio"] = _number(detail.usage_ratio)
            entry["withinTolerance"] = detail.within_tolerance
            if detail.ready_pods is not None:
                entry["pods"] = {
                    "ready": detail.ready_pods,
                    "unready": list(detail.unready_pods),
                    "missingMetrics": list(detail.missing_pods),
                    "ignored": list(detail.ignored_pods),
                }
            if detail.rebalanced_usage_ratio is not None:
                entry["rebalancedUsageRatio"] = _number(detail.rebalanced_usage_ratio)
            if detail.kept_current:
                entry["keptCurrentReplicas"] = detail.kept_current
        if metric.timestamp is not None:
            entry["timestamp"] = (
                None if metric.timestamp == ZERO_TIME else format_time(metric.timestamp)
            )
        if metric.error is not None:
            entry["error"] = metric.error
        metrics.append(entry)
    rendered["metrics"] = metrics
    rendered["proposal"] = explanation.proposal
    rendered["proposalMetric"] = explanation.proposal_metric
    rendered["invalidMetrics"] = explanation.invalid_metrics
    rendered["scaleDownBlockedByInvalidMetrics"] = explanation.scale_down_blocked_by_invalid_metrics
    normalization = explanation.normalization
    if normalization is not None:
        rendered["stabilization"] = {
            "recommendation": normalization.stabilized_recommendation,
            "reason": normalization.able_to_scale[0],
            "scaleUpWindowSeconds": normalization.scale_up_window_seconds,
            "scaleDownWindowSeconds": normalization.scale_down_window_seconds,
        }
        rendered["limits"] = {
            "limited": normalization.limited,
            "reason": normalization.scaling_limited[0],
            "rateLimit": normalization.rate_limit,
        }
    rendered["rescaleReason"] = explanation.rescale_reason
    rendered["events"] = [
        {"type": event.type, "reason": event.reason, "message": event.message}
        for event in result.events
    ]
    return rendered


def render_result(result: SyncResult, *, explain: bool = True) -> dict[str, Any]:
    """The output document: the contract's three keys, then `explanation`."""
    output: dict[str, Any] = {
        "desiredReplicas": result.desired_replicas,
        "status": result.status.to_wire(format_time),
        "history": render_memory(result.memory),
    }
    if explain:
        output["explanation"] = _explanation(result)
    return output


def evaluate_document(document: Any, *, explain: bool = True) -> dict[str, Any]:
    """Parse, run one sync and render: the whole of `hpa evaluate` for one snapshot."""
    snapshot = parse_snapshot(document)
    result = sync(
        snapshot.hpa,
        snapshot.scale,
        snapshot.pods,
        snapshot.metrics,
        snapshot.memory,
        snapshot.now,
        snapshot.config,
    )
    return render_result(result, explain=explain)
