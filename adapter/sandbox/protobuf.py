"""Kubernetes protobuf request bodies, read into the JSON objects the rest of the sandbox
handles.

Owns decoding what kubectl's built-in generators send (`kubectl create namespace`,
`create deployment`, `autoscale`, `create token`, `auth can-i`, ...): they encode the
object with `Content-Type: application/vnd.kubernetes.protobuf`, which is the 4-byte
magic `k8s\\x00` followed by a `runtime.Unknown` message (typeMeta, raw,
contentEncoding, contentType) whose `raw` is the object's generated proto message.

The field-number tables below are written from Kubernetes' `generated.proto` files
(k8s.io/api core/v1, apps/v1, autoscaling/v1 and v2, rbac/v1, authentication/v1,
authorization/v1; apimachinery's meta/v1, runtime, api/resource, util/intstr) for the
kinds the sandbox serves and kubectl generates, not for every Kubernetes type. A kind
outside the tables is a 415, as a server without that type's codec answers; fields
outside them are skipped, as protobuf readers skip unknown fields.

The generated Go types marshal non-pointer scalars even when empty (`name: ""`) and
pointer fields only when set, so a decoded zero is dropped unless the field is a
pointer (`replicas: 0` stays), which yields the same JSON the Go JSON encoder would
(`omitempty`). Encoding responses as protobuf is not done: the sandbox answers JSON,
which every client that sends protobuf also accepts.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["MAGIC", "MEDIA_TYPE", "ProtobufError", "UnknownKind", "decode"]

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"


class ProtobufError(ValueError):
    """The bytes are not a well-formed Kubernetes protobuf envelope or message."""


class UnknownKind(ProtobufError):
    """The envelope names a kind the sandbox has no field table for."""

    def __init__(self, api_version: str, kind: str) -> None:
        super().__init__(f"no protobuf schema for {kind} in {api_version or 'the core group'}")
        self.api_version = api_version
        self.kind = kind


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    type: str
    repeated: bool = False
    pointer: bool = False
    map_value: str = ""


def _table(spec: str) -> dict[int, _Field]:
    """`"1 name s; 2 labels map:s; 3 items *Item; 4 replicas ?i"` as a field table.
    Types: s string, i int32, I int64, b bool, y bytes, T meta/v1 Time, Q Quantity,
    N IntOrString, otherwise a message name; `*` repeated, `?` pointer, `map:V` a
    map from string to V."""
    table: dict[int, _Field] = {}
    for entry in spec.split(";"):
        entry = entry.strip()
        if not entry:
            continue
        number, name, kind = entry.split()
        repeated = kind.startswith("*")
        pointer = kind.startswith("?")
        kind = kind.lstrip("*?")
        map_value = ""
        if kind.startswith("map:"):
            map_value = kind[4:]
            kind = "map"
        table[int(number)] = _Field(name, kind, repeated, pointer, map_value)
    return table


_MESSAGES: dict[str, dict[int, _Field]] = {
    name: _table(spec)
    for name, spec in {
        # k8s.io/apimachinery/pkg/runtime
        "Unknown": "1 typeMeta TypeMeta; 2 raw y; 3 contentEncoding s; 4 contentType s",
        "TypeMeta": "1 apiVersion s; 2 kind s",
        # k8s.io/apimachinery/pkg/apis/meta/v1
        "ObjectMeta": (
            "1 name s; 2 generateName s; 3 namespace s; 4 selfLink s; 5 uid s; "
            "6 resourceVersion s; 7 generation I; 8 creationTimestamp T; "
            "9 deletionTimestamp T; 10 deletionGracePeriodSeconds ?I; 11 labels map:s; "
            "12 annotations map:s; 13 ownerReferences *OwnerReference; 14 finalizers *s"
        ),
        "OwnerReference": (
            "5 apiVersion s; 1 kind s; 3 name s; 4 uid s; 6 controller ?b; 7 blockOwnerDeletion ?b"
        ),
        "LabelSelector": "1 matchLabels map:s; 2 matchExpressions *LabelSelectorRequirement",
        "LabelSelectorRequirement": "1 key s; 2 operator s; 3 values *s",
        # k8s.io/api/core/v1
        "Namespace": "1 metadata ObjectMeta; 2 spec NamespaceSpec; 3 status NamespaceStatus",
        "NamespaceSpec": "1 finalizers *s",
        "NamespaceStatus": "1 phase s",
        "ServiceAccount": (
            "1 metadata ObjectMeta; 2 secrets *ObjectReference; "
            "3 imagePullSecrets *LocalObjectReference; 4 automountServiceAccountToken ?b"
        ),
        "ObjectReference": (
            "1 kind s; 2 namespace s; 3 name s; 4 uid s; 5 apiVersion s; "
            "6 resourceVersion s; 7 fieldPath s"
        ),
        "LocalObjectReference": "1 name s",
        "ConfigMap": "1 metadata ObjectMeta; 2 data map:s; 3 binaryData map:y; 4 immutable ?b",
        "Secret": (
            "1 metadata ObjectMeta; 2 data map:y; 3 type s; 4 stringData map:s; 5 immutable ?b"
        ),
        "Service": "1 metadata ObjectMeta; 2 spec ServiceSpec; 3 status ServiceStatus",
        "ServiceSpec": (
            "1 ports *ServicePort; 2 selector map:s; 3 clusterIP s; 4 type s; "
            "5 externalIPs *s; 7 sessionAffinity s; 8 loadBalancerIP s; "
            "9 loadBalancerSourceRanges *s; 10 externalName s; 11 externalTrafficPolicy s; "
            "12 healthCheckNodePort I; 13 publishNotReadyAddresses b; 18 clusterIPs *s; "
            "19 ipFamilies *s; 17 ipFamilyPolicy ?s; 22 internalTrafficPolicy ?s"
        ),
        "ServicePort": (
            "1 name s; 2 protocol s; 6 appProtocol ?s; 3 port i; 4 targetPort N; 5 nodePort i"
        ),
        "ServiceStatus": "1 loadBalancer LoadBalancerStatus",
        "LoadBalancerStatus": "",
        "PodTemplateSpec": "1 metadata ObjectMeta; 2 spec PodSpec",
        "PodSpec": (
            "1 volumes *Volume; 20 initContainers *Container; 2 containers *Container; "
            "3 restartPolicy s; 4 terminationGracePeriodSeconds ?I; "
            "5 activeDeadlineSeconds ?I; 6 dnsPolicy s; 7 nodeSelector map:s; "
            "8 serviceAccountName s; 9 serviceAccount s; 21 automountServiceAccountToken ?b; "
            "10 nodeName s; 11 hostNetwork b; 12 hostPID b; 13 hostIPC b; "
            "14 securityContext PodSecurityContext; 15 imagePullSecrets *LocalObjectReference; "
            "16 hostname s; 17 subdomain s; 19 schedulerName s; 22 tolerations *Toleration; "
            "24 priorityClassName s; 25 priority ?i; 28 enableServiceLinks ?b"
        ),
        "PodSecurityContext": "",
        "Toleration": ("1 key s; 2 operator s; 3 value s; 4 effect s; 5 tolerationSeconds ?I"),
        "Volume": "1 name s",
        "Container": (
            "1 name s; 2 image s; 3 command *s; 4 args *s; 5 workingDir s; "
            "6 ports *ContainerPort; 19 envFrom *EnvFromSource; 7 env *EnvVar; "
            "8 resources ResourceRequirements; 9 volumeMounts *VolumeMount; "
            "13 terminationMessagePath s; 20 terminationMessagePolicy s; "
            "14 imagePullPolicy s; 16 stdin b; 17 stdinOnce b; 18 tty b"
        ),
        "ContainerPort": "1 name s; 2 hostPort i; 3 containerPort i; 4 protocol s; 5 hostIP s",
        "EnvVar": "1 name s; 2 value s",
        "EnvFromSource": "1 prefix s",
        "VolumeMount": "1 name s; 2 readOnly b; 3 mountPath s; 4 subPath s",
        "ResourceRequirements": "1 limits map:Q; 2 requests map:Q",
        # k8s.io/api/apps/v1
        "Deployment": "1 metadata ObjectMeta; 2 spec DeploymentSpec; 3 status DeploymentStatus",
        "DeploymentSpec": (
            "1 replicas ?i; 2 selector LabelSelector; 3 template PodTemplateSpec; "
            "4 strategy DeploymentStrategy; 5 minReadySeconds i; "
            "6 revisionHistoryLimit ?i; 7 paused b; 9 progressDeadlineSeconds ?i"
        ),
        "DeploymentStrategy": "1 type s; 2 rollingUpdate RollingUpdateDeployment",
        "RollingUpdateDeployment": "1 maxUnavailable N; 2 maxSurge N",
        "DeploymentStatus": "",
        # k8s.io/api/autoscaling/v1 and v2 (the same outer shape, told apart by version)
        "autoscaling/v1.HorizontalPodAutoscaler": (
            "1 metadata ObjectMeta; 2 spec autoscaling/v1.Spec; 3 status autoscaling/v1.Status"
        ),
        "autoscaling/v1.Spec": (
            "1 scaleTargetRef CrossVersionObjectReference; 2 minReplicas ?i; "
            "3 maxReplicas i; 4 targetCPUUtilizationPercentage ?i"
        ),
        "autoscaling/v1.Status": "",
        "CrossVersionObjectReference": "1 kind s; 2 name s; 3 apiVersion s",
        "autoscaling/v2.HorizontalPodAutoscaler": (
            "1 metadata ObjectMeta; 2 spec autoscaling/v2.Spec; 3 status autoscaling/v2.Status"
        ),
        "autoscaling/v2.Spec": (
            "1 scaleTargetRef CrossVersionObjectReference; 2 minReplicas ?i; "
            "3 maxReplicas i; 4 metrics *MetricSpec; 5 behavior HorizontalPodAutoscalerBehavior"
        ),
        "autoscaling/v2.Status": "",
        "MetricSpec": (
            "1 type s; 2 object ObjectMetricSource; 3 pods PodsMetricSource; "
            "4 resource ResourceMetricSource; 7 containerResource ContainerResourceMetricSource; "
            "5 external ExternalMetricSource"
        ),
        "ResourceMetricSource": "1 name s; 2 target MetricTarget",
        "ContainerResourceMetricSource": "1 name s; 2 target MetricTarget; 3 container s",
        "PodsMetricSource": "1 metric MetricIdentifier; 2 target MetricTarget",
        "ExternalMetricSource": "1 metric MetricIdentifier; 2 target MetricTarget",
        "ObjectMetricSource": (
            "1 describedObject CrossVersionObjectReference; 2 target MetricTarget; "
            "3 metric MetricIdentifier"
        ),
        "MetricIdentifier": "1 name s; 2 selector LabelSelector",
        "MetricTarget": "1 type s; 2 value Q; 3 averageValue Q; 4 averageUtilization ?i",
        "HorizontalPodAutoscalerBehavior": "1 scaleUp HPAScalingRules; 2 scaleDown HPAScalingRules",
        "HPAScalingRules": (
            "3 stabilizationWindowSeconds ?i; 1 selectPolicy ?s; 2 policies *HPAScalingPolicy; "
            "4 tolerance Q"
        ),
        "HPAScalingPolicy": "1 type s; 2 value i; 3 periodSeconds i",
        # k8s.io/api/rbac/v1
        "Role": "1 metadata ObjectMeta; 2 rules *PolicyRule",
        "ClusterRole": "1 metadata ObjectMeta; 2 rules *PolicyRule",
        "PolicyRule": (
            "1 verbs *s; 2 apiGroups *s; 3 resources *s; 4 resourceNames *s; 5 nonResourceURLs *s"
        ),
        "RoleBinding": "1 metadata ObjectMeta; 2 subjects *Subject; 3 roleRef RoleRef",
        "ClusterRoleBinding": "1 metadata ObjectMeta; 2 subjects *Subject; 3 roleRef RoleRef",
        "Subject": "1 kind s; 2 apiGroup s; 3 name s; 4 namespace s",
        "RoleRef": "1 apiGroup s; 2 kind s; 3 name s",
        # k8s.io/api/authentication/v1
        "TokenRequest": "1 metadata ObjectMeta; 2 spec TokenRequestSpec; 3 status Empty",
        "TokenRequestSpec": (
            "1 audiences *s; 4 expirationSeconds ?I; 3 boundObjectRef BoundObjectReference"
        ),
        "BoundObjectReference": "1 kind s; 2 apiVersion s; 3 name s; 4 uid s",
        "TokenReview": "1 metadata ObjectMeta; 2 spec TokenReviewSpec; 3 status Empty",
        "TokenReviewSpec": "1 token s; 2 audiences *s",
        "SelfSubjectReview": "1 metadata ObjectMeta; 2 status Empty",
        # k8s.io/api/authorization/v1
        "SelfSubjectAccessReview": (
            "1 metadata ObjectMeta; 2 spec SelfSubjectAccessReviewSpec; 3 status Empty"
        ),
        "SelfSubjectAccessReviewSpec": (
            "1 resourceAttributes ResourceAttributes; 2 nonResourceAttributes NonResourceAttributes"
        ),
        "SubjectAccessReview": (
            "1 metadata ObjectMeta; 2 spec SubjectAccessReviewSpec; 3 status Empty"
        ),
        "LocalSubjectAccessReview": (
            "1 metadata ObjectMeta; 2 spec SubjectAccessReviewSpec; 3 status Empty"
        ),
        "SubjectAccessReviewSpec": (
            "1 resourceAttributes ResourceAttributes; 2 nonResourceAttributes "
            "NonResourceAttributes; 3 user s; 4 groups *s; 6 uid s"
        ),
        "ResourceAttributes": (
            "1 namespace s; 2 verb s; 3 group s; 4 version s; 5 resource s; "
            "6 subresource s; 7 name s"
        ),
        "NonResourceAttributes": "1 path s; 2 verb s",
        "SelfSubjectRulesReview": "1 metadata ObjectMeta; 2 spec SelfSubjectRulesReviewSpec",
        "SelfSubjectRulesReviewSpec": "1 namespace s",
        "Empty": "",
    }.items()
}

# (apiVersion, kind) -> the message its `raw` holds.
_KINDS: dict[tuple[str, str], str] = {
    ("v1", "Namespace"): "Namespace",
    ("v1", "ServiceAccount"): "ServiceAccount",
    ("v1", "ConfigMap"): "ConfigMap",
    ("v1", "Secret"): "Secret",
    ("v1", "Service"): "Service",
    ("apps/v1", "Deployment"): "Deployment",
    ("autoscaling/v1", "HorizontalPodAutoscaler"): "autoscaling/v1.HorizontalPodAutoscaler",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "autoscaling/v2.HorizontalPodAutoscaler",
    ("rbac.authorization.k8s.io/v1", "Role"): "Role",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "ClusterRole",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "RoleBinding",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "ClusterRoleBinding",
    ("authentication.k8s.io/v1", "TokenRequest"): "TokenRequest",
    ("authentication.k8s.io/v1", "TokenReview"): "TokenReview",
    ("authentication.k8s.io/v1", "SelfSubjectReview"): "SelfSubjectReview",
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): "SelfSubjectAccessReview",
    ("authorization.k8s.io/v1", "SubjectAccessReview"): "SubjectAccessReview",
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview"): "LocalSubjectAccessReview",
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): "SelfSubjectRulesReview",
}

_SCALARS = frozenset({"s", "i", "I", "b", "y"})


# -- wire reading ----------------------------------------------------------------------


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtobufError("varint longer than 64 bits")


def _fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) in order; groups are refused."""
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("field number 0")
        value: int | bytes
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            if pos + 8 > len(data):
                raise ProtobufError("truncated fixed64")
            value = struct.unpack_from("<q", data, pos)[0]
            pos += 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ProtobufError("truncated length-delimited field")
            value = data[pos : pos + length]
            pos += length
        elif wire == 5:
            if pos + 4 > len(data):
                raise ProtobufError("truncated fixed32")
            value = struct.unpack_from("<i", data, pos)[0]
            pos += 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _signed(value: int, bits: int) -> int:
    value &= (1 << 64) - 1
    if value >= 1 << 63:
        value -= 1 << 64
    if bits == 32:
        value = (value + (1 << 31)) % (1 << 32) - (1 << 31)
    return value


def _scalar(kind: str, wire: int, value: int | bytes) -> Any:
    if (kind in ("s", "y") or kind not in _SCALARS) and (wire != 2 or not isinstance(value, bytes)):
        raise ProtobufError(f"expected a length-delimited field, got wire type {wire}")
    if kind == "s":
        assert isinstance(value, bytes)
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ProtobufError("string field is not UTF-8") from err
    if kind == "y":
        assert isinstance(value, bytes)
        return base64.b64encode(value).decode("ascii")
    if kind in ("i", "I", "b"):
        if wire != 0 or not isinstance(value, int):
            raise ProtobufError(f"expected a varint field, got wire type {wire}")
        if kind == "b":
            return value != 0
        return _signed(value, 32 if kind == "i" else 64)
    assert isinstance(value, bytes)
    if kind == "Q":
        # resource.Quantity: `optional string string = 1`
        text = ""
        for number, wire_type, item in _fields(value):
            if number == 1 and wire_type == 2 and isinstance(item, bytes):
                text = item.decode("utf-8", "replace")
        return text
    if kind == "T":
        # meta/v1 Time: seconds = 1, nanos = 2; the zero time is JSON null (dropped)
        seconds = 0
        for number, wire_type, item in _fields(value):
            if number == 1 and wire_type == 0 and isinstance(item, int):
                seconds = _signed(item, 64)
        if seconds == 0:
            return None
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == "N":
        # util/intstr IntOrString: type = 1 (0 int, 1 string), intVal = 2, strVal = 3
        is_string, int_val, str_val = False, 0, ""
        for number, _wire, item in _fields(value):
            if number == 1 and isinstance(item, int):
                is_string = item == 1
            elif number == 2 and isinstance(item, int):
                int_val = _signed(item, 32)
            elif number == 3 and isinstance(item, bytes):
                str_val = item.decode("utf-8", "replace")
        return str_val if is_string else int_val
    return _message(kind, value)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == 0 or value is False


def _message(name: str, data: bytes) -> dict[str, Any]:
    table = _MESSAGES[name]
    result: dict[str, Any] = {}
    for number, wire, value in _fields(data):
        field = table.get(number)
        if field is None:
            continue  # unknown fields are skipped, as every protobuf reader does
        if field.type == "map":
            key, item = "", None
            if wire != 2 or not isinstance(value, bytes):
                raise ProtobufError(f"map field {field.name} is not length-delimited")
            for entry_number, entry_wire, entry_value in _fields(value):
                if entry_number == 1:
                    key = str(_scalar("s", entry_wire, entry_value))
                elif entry_number == 2:
                    item = _scalar(field.map_value, entry_wire, entry_value)
            if item is None:
                item = "" if field.map_value in ("s", "y", "Q") else {}
            result.setdefault(field.name, {})[key] = item
            continue
        decoded = _scalar(field.type, wire, value)
        if field.repeated:
            result.setdefault(field.name, []).append(decoded)
            continue
        if field.type in _SCALARS and not field.pointer and _empty(decoded):
            result.pop(field.name, None)
            continue
        if decoded is None:
            continue
        result[field.name] = decoded
    return result


# -- the envelope ----------------------------------------------------------------------


def decode(raw: bytes) -> dict[str, Any]:
    """A protobuf request body as the JSON object it stands for (apiVersion, kind and
    the fields the tables know). Raises UnknownKind for kinds without a table and
    ProtobufError for malformed bytes."""
    if not raw.startswith(MAGIC):
        raise ProtobufError("the body does not start with the Kubernetes protobuf prefix")
    envelope = _message("Unknown", raw[len(MAGIC) :])
    type_meta: Mapping[str, Any] = envelope.get("typeMeta") or {}
    api_version = str(type_meta.get("apiVersion", ""))
    kind = str(type_meta.get("kind", ""))
    if envelope.get("contentEncoding"):
        raise ProtobufError(f"unsupported content encoding {envelope['contentEncoding']!r}")
    message = _KINDS.get((api_version, kind))
    if message is None:
        raise UnknownKind(api_version, kind)
    body = base64.b64decode(envelope.get("raw", ""))
    obj = _message(message, body)
    return {"apiVersion": api_version, "kind": kind, **obj}
