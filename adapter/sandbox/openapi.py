"""OpenAPI v3 schemas for the kinds the sandbox serves, generated from a compact table.

kubectl explain (1.27+) reads `/openapi/v3`, then the group-version's document, finds
the schema whose `x-kubernetes-group-version-kind` names the kind and walks its
properties through `$ref`s to `#/components/schemas/...`, printing each field's type
(the referenced schema's last name segment, as `<HorizontalPodAutoscalerBehavior>`) and
description. The real documents are generated from the Go types; here a table of the
types the walkthrough touches (HPAs v1 and v2, Deployments and the pod template they
carry, ObjectMeta, LabelSelector) is expanded into schemas of the same form: `allOf`
around object references, `format: int32/int64`, maps as `additionalProperties`,
`required` lists, group-version-kind extensions, names as in the Go packages
(`io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec`). Descriptions are this
project's own short wording. Kinds not in the table get a schema with the standard
top-level fields and free-form `spec`/`status`, enough for `kubectl explain <kind>`;
their inner fields are not described (a documented gap).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

JSONObject = dict[str, Any]
Field = tuple[str, str]
"""(type, description). Types: string, boolean, int32, int64, number, Quantity, Time,
IntOrString, [T] (list), {T} (map of T), or a type name (same package, or with a
package alias prefix as `meta.ObjectMeta`)."""
TypeDef = tuple[str, Mapping[str, Field], tuple[str, ...]]

_PACKAGES = {
    "meta": "io.k8s.apimachinery.pkg.apis.meta.v1",
    "core": "io.k8s.api.core.v1",
    "apps": "io.k8s.api.apps.v1",
    "autoscaling.v1": "io.k8s.api.autoscaling.v1",
    "autoscaling.v2": "io.k8s.api.autoscaling.v2",
}
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.Time"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"

_API_VERSION: Field = ("string", "The versioned schema of this representation of an object.")
_KIND: Field = ("string", "The REST resource this object represents, in CamelCase.")
_METADATA: Field = ("meta.ObjectMeta", "Standard object metadata.")


def _top(description: str, spec: str, status: str | None) -> TypeDef:
    fields: dict[str, Field] = {
        "apiVersion": _API_VERSION,
        "kind": _KIND,
        "metadata": _METADATA,
        "spec": (spec, "The desired behaviour of the object."),
    }
    if status is not None:
        fields["status"] = (status, "The most recently observed state of the object.")
    return (description, fields, ())


_METRIC_TARGET: Mapping[str, Field] = {
    "type": ("string", "Whether the target is a Utilization, Value or AverageValue."),
    "value": ("Quantity", "The target value of the metric."),
    "averageValue": ("Quantity", "The target value of the metric averaged over all pods."),
    "averageUtilization": (
        "int32",
        "The target average of the resource across pods, as a percentage of their requests.",
    ),
}

_CROSS_VERSION_REFERENCE: TypeDef = (
    "Names an object of any kind and version.",
    {
        "kind": ("string", "Kind of the referent."),
        "name": ("string", "Name of the referent."),
        "apiVersion": ("string", "API version of the referent."),
    },
    ("kind", "name"),
)
"""The same type in autoscaling v1 and v2: the scale target reference."""

TYPES: Mapping[str, Mapping[str, TypeDef]] = {
    "meta": {
        "ObjectMeta": (
            "Metadata every persisted resource has.",
            {
                "name": ("string", "Unique name within a namespace."),
                "generateName": ("string", "Prefix for a server-generated name."),
                "namespace": ("string", "The namespace the object lives in."),
                "uid": ("string", "Unique identifier set by the server."),
                "resourceVersion": ("string", "Version of the object, for concurrency."),
                "generation": ("int64", "Sequence number of the desired state."),
                "creationTimestamp": ("Time", "When the object was created."),
                "deletionTimestamp": ("Time", "When the object will be deleted."),
                "labels": ("{string}", "Key-value pairs for selecting objects."),
                "annotations": ("{string}", "Key-value pairs for tools and libraries."),
                "ownerReferences": ("[OwnerReference]", "Objects this one depends on."),
                "finalizers": ("[string]", "Must be empty before the object is removed."),
            },
            (),
        ),
        "OwnerReference": (
            "Identifies an owning object.",
            {
                "apiVersion": ("string", "API version of the owner."),
                "kind": ("string", "Kind of the owner."),
                "name": ("string", "Name of the owner."),
                "uid": ("string", "UID of the owner."),
                "controller": ("boolean", "True when the owner is the managing controller."),
                "blockOwnerDeletion": ("boolean", "Whether the owner waits for this object."),
            },
            ("apiVersion", "kind", "name", "uid"),
        ),
        "LabelSelector": (
            "A query over labels: all requirements are ANDed.",
            {
                "matchLabels": ("{string}", "Labels that must match exactly."),
                "matchExpressions": ("[LabelSelectorRequirement]", "Set-based requirements."),
            },
            (),
        ),
        "LabelSelectorRequirement": (
            "A key, an operator and values.",
            {
                "key": ("string", "The label key."),
                "operator": ("string", "In, NotIn, Exists or DoesNotExist."),
                "values": ("[string]", "Values for In and NotIn."),
            },
            ("key", "operator"),
        ),
    },
    "autoscaling.v2": {
        "HorizontalPodAutoscaler": _top(
            "Scales a workload's replicas on the metrics it names.",
            "HorizontalPodAutoscalerSpec",
            "HorizontalPodAutoscalerStatus",
        ),
        "HorizontalPodAutoscalerSpec": (
            "What to scale, between which bounds, on which metrics and how fast.",
            {
                "scaleTargetRef": ("CrossVersionObjectReference", "The workload to scale."),
                "minReplicas": ("int32", "Lower bound of replicas (default 1)."),
                "maxReplicas": ("int32", "Upper bound of replicas."),
                "metrics": ("[MetricSpec]", "Metrics to compute the desired count from."),
                "behavior": (
                    "HorizontalPodAutoscalerBehavior",
                    "Scaling speed and stabilization per direction.",
                ),
            },
            ("scaleTargetRef", "maxReplicas"),
        ),
        "CrossVersionObjectReference": _CROSS_VERSION_REFERENCE,
        "HorizontalPodAutoscalerBehavior": (
            "Rules for scaling up and down.",
            {
                "scaleUp": ("HPAScalingRules", "Rules for scaling up."),
                "scaleDown": ("HPAScalingRules", "Rules for scaling down."),
            },
            (),
        ),
        "HPAScalingRules": (
            "Stabilization window and rate limits for one direction.",
            {
                "stabilizationWindowSeconds": (
                    "int32",
                    "Seconds of past recommendations to consider.",
                ),
                "selectPolicy": ("string", "Max, Min or Disabled."),
                "policies": ("[HPAScalingPolicy]", "Limits on the change per period."),
                "tolerance": ("Quantity", "Relative change below which no scaling happens."),
            },
            (),
        ),
        "HPAScalingPolicy": (
            "A limit on the change within a period.",
            {
                "type": ("string", "Pods or Percent."),
                "value": ("int32", "The amount of change allowed."),
                "periodSeconds": ("int32", "The period the limit holds for."),
            },
            ("type", "value", "periodSeconds"),
        ),
        "MetricSpec": (
            "One metric to scale on: type and the matching source.",
            {
                "type": ("string", "Resource, ContainerResource, Pods, Object or External."),
                "resource": ("ResourceMetricSource", "A resource of the pods (cpu, memory)."),
                "containerResource": (
                    "ContainerResourceMetricSource",
                    "A resource of one container of the pods.",
                ),
                "pods": ("PodsMetricSource", "A metric averaged over the pods."),
                "object": ("ObjectMetricSource", "A metric describing one object."),
                "external": ("ExternalMetricSource", "A metric from outside the cluster."),
            },
            ("type",),
        ),
        "ResourceMetricSource": (
            "A resource metric of the pods.",
            {
                "name": ("string", "Name of the resource."),
                "target": ("MetricTarget", "The target value."),
            },
            ("name", "target"),
        ),
        "ContainerResourceMetricSource": (
            "A resource metric of one container.",
            {
                "name": ("string", "Name of the resource."),
                "container": ("string", "Name of the container."),
                "target": ("MetricTarget", "The target value."),
            },
            ("name", "target", "container"),
        ),
        "PodsMetricSource": (
            "A per-pod metric.",
            {
                "metric": ("MetricIdentifier", "The metric."),
                "target": ("MetricTarget", "The target value."),
            },
            ("metric", "target"),
        ),
        "ObjectMetricSource": (
            "A metric of one object.",
            {
                "describedObject": ("CrossVersionObjectReference", "The object."),
                "target": ("MetricTarget", "The target value."),
                "metric": ("MetricIdentifier", "The metric."),
            },
            ("describedObject", "target", "metric"),
        ),
        "ExternalMetricSource": (
            "A metric not tied to an object.",
            {
                "metric": ("MetricIdentifier", "The metric."),
                "target": ("MetricTarget", "The target value."),
            },
            ("metric", "target"),
        ),
        "MetricIdentifier": (
            "A metric name and selector.",
            {
                "name": ("string", "Name of the metric."),
                "selector": ("meta.LabelSelector", "Narrows the metric's series."),
            },
            ("name",),
        ),
        "MetricTarget": ("The target of a metric.", _METRIC_TARGET, ("type",)),
        "HorizontalPodAutoscalerStatus": (
            "What the autoscaler last saw and decided.",
            {
                "observedGeneration": ("int64", "The generation last observed."),
                "lastScaleTime": ("Time", "When the replicas last changed."),
                "currentReplicas": ("int32", "Replicas last seen."),
                "desiredReplicas": ("int32", "Replicas last computed."),
                "currentMetrics": ("[MetricStatus]", "The metrics last read."),
                "conditions": ("[HorizontalPodAutoscalerCondition]", "Whether it can scale."),
            },
            ("desiredReplicas",),
        ),
        "MetricStatus": (
            "The last reading of one metric.",
            {
                "type": ("string", "The metric source type."),
                "resource": ("ResourceMetricStatus", "A resource reading."),
            },
            ("type",),
        ),
        "ResourceMetricStatus": (
            "A resource reading.",
            {
                "name": ("string", "Name of the resource."),
                "current": ("MetricValueStatus", "The reading."),
            },
            ("name", "current"),
        ),
        "MetricValueStatus": (
            "A metric reading.",
            {
                "value": ("Quantity", "The value."),
                "averageValue": ("Quantity", "The value averaged over the pods."),
                "averageUtilization": ("int32", "The average as a percentage of requests."),
            },
            (),
        ),
        "HorizontalPodAutoscalerCondition": (
            "A condition of the autoscaler.",
            {
                "type": ("string", "AbleToScale, ScalingActive or ScalingLimited."),
                "status": ("string", "True, False or Unknown."),
                "lastTransitionTime": ("Time", "When the status last changed."),
                "reason": ("string", "One-word reason."),
                "message": ("string", "Human-readable details."),
            },
            ("type", "status"),
        ),
    },
    "autoscaling.v1": {
        "HorizontalPodAutoscaler": _top(
            "Scales a workload's replicas on CPU utilization.",
            "HorizontalPodAutoscalerSpec",
            "HorizontalPodAutoscalerStatus",
        ),
        "HorizontalPodAutoscalerSpec": (
            "What to scale, between which bounds, at which CPU utilization.",
            {
                "scaleTargetRef": ("CrossVersionObjectReference", "The workload to scale."),
                "minReplicas": ("int32", "Lower bound of replicas (default 1)."),
                "maxReplicas": ("int32", "Upper bound of replicas."),
                "targetCPUUtilizationPercentage": (
                    "int32",
                    "Target average CPU utilization, percent of requests.",
                ),
            },
            ("scaleTargetRef", "maxReplicas"),
        ),
        "CrossVersionObjectReference": _CROSS_VERSION_REFERENCE,
        "HorizontalPodAutoscalerStatus": (
            "What the autoscaler last saw and decided.",
            {
                "observedGeneration": ("int64", "The generation last observed."),
                "lastScaleTime": ("Time", "When the replicas last changed."),
                "currentReplicas": ("int32", "Replicas last seen."),
                "desiredReplicas": ("int32", "Replicas last computed."),
                "currentCPUUtilizationPercentage": ("int32", "Average CPU utilization."),
            },
            ("currentReplicas", "desiredReplicas"),
        ),
    },
    "apps": {
        "Deployment": _top(
            "Declarative updates for pods through ReplicaSets.",
            "DeploymentSpec",
            "DeploymentStatus",
        ),
        "DeploymentSpec": (
            "The desired pods and how to roll them out.",
            {
                "replicas": ("int32", "Number of desired pods (default 1)."),
                "selector": ("meta.LabelSelector", "Which pods belong to the Deployment."),
                "template": ("core.PodTemplateSpec", "The pods to create."),
                "strategy": ("DeploymentStrategy", "How to replace old pods."),
                "minReadySeconds": ("int32", "Seconds a pod must be ready to count."),
                "revisionHistoryLimit": ("int32", "Old ReplicaSets to keep."),
                "paused": ("boolean", "Whether rollouts are paused."),
                "progressDeadlineSeconds": ("int32", "Seconds before a rollout is stuck."),
            },
            ("selector", "template"),
        ),
        "DeploymentStrategy": (
            "How pods are replaced.",
            {
                "type": ("string", "Recreate or RollingUpdate."),
                "rollingUpdate": ("RollingUpdateDeployment", "Rolling update parameters."),
            },
            (),
        ),
        "RollingUpdateDeployment": (
            "Bounds of a rolling update.",
            {
                "maxUnavailable": ("IntOrString", "Pods that may be unavailable."),
                "maxSurge": ("IntOrString", "Pods above the desired count."),
            },
            (),
        ),
        "DeploymentStatus": (
            "The observed state of a Deployment.",
            {
                "observedGeneration": ("int64", "The generation last observed."),
                "replicas": ("int32", "Pods targeted."),
                "updatedReplicas": ("int32", "Pods with the desired template."),
                "readyReplicas": ("int32", "Pods ready."),
                "availableReplicas": ("int32", "Pods available."),
                "unavailableReplicas": ("int32", "Pods unavailable."),
            },
            (),
        ),
    },
    "core": {
        "PodTemplateSpec": (
            "Pods to create from a template.",
            {
                "metadata": _METADATA,
                "spec": ("PodSpec", "The pods' specification."),
            },
            (),
        ),
        "PodSpec": (
            "What a pod runs.",
            {
                "containers": ("[Container]", "The containers of the pod."),
                "restartPolicy": ("string", "Always, OnFailure or Never."),
                "terminationGracePeriodSeconds": ("int64", "Seconds to stop gracefully."),
                "nodeName": ("string", "The node the pod runs on."),
                "serviceAccountName": ("string", "The service account of the pod."),
            },
            ("containers",),
        ),
        "Container": (
            "One container of a pod.",
            {
                "name": ("string", "Name of the container."),
                "image": ("string", "Container image."),
                "command": ("[string]", "Entrypoint."),
                "args": ("[string]", "Arguments."),
                "ports": ("[ContainerPort]", "Ports exposed."),
                "resources": ("ResourceRequirements", "Requests and limits."),
                "imagePullPolicy": ("string", "Always, Never or IfNotPresent."),
            },
            ("name",),
        ),
        "ContainerPort": (
            "A port of a container.",
            {
                "name": ("string", "Name of the port."),
                "containerPort": ("int32", "The port number."),
                "protocol": ("string", "TCP, UDP or SCTP."),
            },
            ("containerPort",),
        ),
        "ResourceRequirements": (
            "Compute resources of a container.",
            {
                "limits": ("{Quantity}", "The most it may use."),
                "requests": ("{Quantity}", "What it is scheduled with."),
            },
            (),
        ),
    },
}

KINDS: Mapping[tuple[str, str, str], str] = {
    ("autoscaling", "v2", "HorizontalPodAutoscaler"): "autoscaling.v2",
    ("autoscaling", "v1", "HorizontalPodAutoscaler"): "autoscaling.v1",
    ("apps", "v1", "Deployment"): "apps",
}
"""(group, version, kind) -> the package of the table holding its schema."""


def _ref(name: str) -> JSONObject:
    return {"$ref": f"#/components/schemas/{name}"}


def _qualified(package: str, name: str) -> str:
    if "." in name:
        alias, _, short = name.partition(".")
        return f"{_PACKAGES[alias]}.{short}"
    return f"{_PACKAGES[package]}.{name}"


def _property(package: str, spec: str, description: str, wanted: set[str]) -> JSONObject:
    node = _type(package, spec, wanted)
    if description:
        if "$ref" in node:
            node = {"allOf": [node], "default": {}}
        node["description"] = description
    return node


def _type(package: str, spec: str, wanted: set[str]) -> JSONObject:
    scalar = {
        "string": {"type": "string"},
        "boolean": {"type": "boolean"},
        "number": {"type": "number", "format": "double"},
        "int32": {"type": "integer", "format": "int32"},
        "int64": {"type": "integer", "format": "int64"},
    }
    if spec in scalar:
        return dict(scalar[spec])
    if spec == "Quantity":
        wanted.add(_QUANTITY)
        return _ref(_QUANTITY)
    if spec == "Time":
        wanted.add(_TIME)
        return _ref(_TIME)
    if spec == "IntOrString":
        wanted.add(_INT_OR_STRING)
        return _ref(_INT_OR_STRING)
    if spec.startswith("["):
        item = _type(package, spec[1:-1], wanted)
        return {
            "type": "array",
            "items": {"allOf": [item], "default": {}} if "$ref" in item else item,
        }
    if spec.startswith("{"):
        return {"type": "object", "additionalProperties": _type(package, spec[1:-1], wanted)}
    qualified = _qualified(package, spec)
    wanted.add(qualified)
    return _ref(qualified)


_LEAVES: Mapping[str, JSONObject] = {
    _QUANTITY: {
        "description": "A fixed-point number with a suffix, as 100m or 1Gi.",
        "oneOf": [{"type": "string"}, {"type": "number"}],
    },
    _TIME: {
        "description": "A time in RFC 3339 form, in UTC.",
        "type": "string",
        "format": "date-time",
    },
    _INT_OR_STRING: {
        "description": "An integer or a string, as 25%.",
        "format": "int-or-string",
        "type": "string",
        "x-kubernetes-int-or-string": True,
    },
}


def _lookup(qualified: str) -> tuple[str, TypeDef] | None:
    for package, prefix in _PACKAGES.items():
        if qualified.startswith(prefix + ".") and "." not in qualified[len(prefix) + 1 :]:
            typedef = TYPES.get(package, {}).get(qualified[len(prefix) + 1 :])
            if typedef is not None:
                return package, typedef
    return None


def _generic(group: str, version: str, kind: str) -> JSONObject:
    return {
        "description": f"{kind} (fields below spec and status are not described here).",
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string", "description": _API_VERSION[1]},
            "kind": {"type": "string", "description": _KIND[1]},
            "metadata": {
                "allOf": [_ref(_qualified("meta", "meta.ObjectMeta"))],
                "default": {},
                "description": _METADATA[1],
            },
            "spec": {"type": "object", "description": "The desired state."},
            "status": {"type": "object", "description": "The observed state."},
        },
        "x-kubernetes-group-version-kind": [{"group": group, "kind": kind, "version": version}],
    }


def schemas(group: str, version: str, kinds: Iterable[str]) -> dict[str, JSONObject]:
    """`components.schemas` for one group-version's kinds, with what they reference."""
    out: dict[str, JSONObject] = {}
    wanted: set[str] = {_qualified("meta", "meta.ObjectMeta")}
    for kind in kinds:
        package = KINDS.get((group, version, kind))
        if package is None:
            name = f"sandbox.{group or 'core'}.{version}.{kind}"
            out[name] = _generic(group, version, kind)
            continue
        qualified = _qualified(package, kind)
        wanted.add(qualified)
    done: set[str] = set()
    while wanted - done:
        qualified = sorted(wanted - done)[0]
        done.add(qualified)
        if qualified in _LEAVES:
            out[qualified] = dict(_LEAVES[qualified])
            continue
        found = _lookup(qualified)
        if found is None:
            continue
        package, (description, fields, required) = found
        schema: JSONObject = {
            "description": description,
            "type": "object",
            "properties": {
                name: _property(package, spec, text, wanted)
                for name, (spec, text) in fields.items()
            },
        }
        if required:
            schema["required"] = list(required)
        short = qualified.rsplit(".", 1)[1]
        if (group, version, short) in KINDS and KINDS[(group, version, short)] == package:
            schema["x-kubernetes-group-version-kind"] = [
                {"group": group, "kind": short, "version": version}
            ]
        out[qualified] = schema
    return dict(sorted(out.items()))
