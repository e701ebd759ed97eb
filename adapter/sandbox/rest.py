"""What each verb does to the sandbox cluster, with the real API server's rules and errors.

Owns the registry strategies the stand-in reproduces: decoding a request body against the
URL's resource, object-meta validation (422 Invalid with apimachinery's messages),
generateName, the namespace having to exist, status reset on create, the main resource
ignoring `.status` and the status subresource ignoring everything else, optimistic
concurrency (409 on a stale resourceVersion), PATCH types, `/scale` for workloads and
custom resources (autoscaling/v1 Scale with the selector as a string), list paging with
`limit`/`continue` over a consistent snapshot, field selectors, and the review resources
that answer instead of storing (TokenReview, SubjectAccessReview).

Defaulting (`adapter.sandbox.defaults`) and spec validation (`adapter.sandbox.validation`)
run on create and update; pod and namespace deletes are graceful (the store's
`begin_pod_deletion`/`begin_namespace_deletion`); `serviceaccounts/token` issues tokens.
Deliberately left out, each a deviation a test would notice against a real cluster: no
admission, no finalizer waiting, managedFields only for server-side apply (simplified in
`adapter.sandbox.applying`), strategic merge
patch approximated (`adapter.sandbox.patching`), one stored version per resource (a v1 HPA
objects are stored in one version and converted per request by `adapter.sandbox.conversion`).
Storage is `adapter.sandbox.store`'s;
paths, negotiation and encoding are `adapter.sandbox.apiserver`'s.
"""

from __future__ import annotations

import base64
import binascii
import random
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
import yaml

from adapter.k8s import fields, gostrings, status, timefmt
from adapter.k8s.access import Attributes, UserInfo
from adapter.k8s.resources import GroupResource, ResourceInfo
from adapter.k8s.selectors import (
    LabelSelector,
    SelectorError,
    is_qualified_name,
    is_valid_label_value,
)
from adapter.sandbox import access, applying, conversion, defaults, patching, validation
from adapter.sandbox.store import (
    ClusterState,
    JSONObject,
    StoredObject,
    stale_conflict,
)

_NAMESPACES = GroupResource("", "namespaces")
_PODS = GroupResource("", "pods")
_CRDS = GroupResource("apiextensions.k8s.io", "customresourcedefinitions")
_RCS = GroupResource("", "replicationcontrollers")
_WORKLOADS = frozenset(
    {
        GroupResource("apps", "deployments"),
        GroupResource("apps", "replicasets"),
        GroupResource("apps", "statefulsets"),
        _RCS,
    }
)

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


# -- validation (apimachinery's validation messages) -----------------------------------

_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*"
_DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?"
_NAME_RULES: dict[str, tuple[re.Pattern[str], int, str]] = {
    "subdomain": (
        re.compile(_DNS1123_SUBDOMAIN),
        253,
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
        "'-' or '.', and must start and end with an alphanumeric character (e.g. "
        f"'example.com', regex used for validation is '{_DNS1123_SUBDOMAIN}')",
    ),
    "label": (
        re.compile(_DNS1123_LABEL),
        63,
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
        "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
        f"'123-abc', regex used for validation is '{_DNS1123_LABEL}')",
    ),
    "dns1035": (
        re.compile(_DNS1035_LABEL),
        63,
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
        "with an alphabetic character, and end with an alphanumeric character (e.g. "
        f"'my-name',  or 'abc-123', regex used for validation is '{_DNS1035_LABEL}')",
    ),
}
_NAME_RULE_FOR = {_NAMESPACES: "label", GroupResource("", "services"): "dns1035"}
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

Cause = tuple[str, str, str]


def _invalid_value(value: object) -> str:
    if isinstance(value, str):
        return gostrings.quote(value)
    return orjson.dumps(value).decode()


def validate_metadata(info: ResourceInfo, metadata: Mapping[str, Any]) -> list[Cause]:
    """ValidateObjectMeta's checks the stand-in makes: name (per-resource rule), labels."""
    causes: list[Cause] = []
    name = metadata.get("name")
    if not name:
        causes.append(
            (
                "FieldValueRequired",
                "metadata.name",
                "Required value: name or generateName is required",
            )
        )
    elif isinstance(name, str):
        pattern, limit, message = _NAME_RULES[_NAME_RULE_FOR.get(info.group_resource, "subdomain")]
        if len(name) > limit:
            causes.append(
                (
                    "FieldValueInvalid",
                    "metadata.name",
                    f"Invalid value: {_invalid_value(name)}: must be no more than {limit} "
                    "characters",
                )
            )
        if not pattern.fullmatch(name):
            causes.append(
                (
                    "FieldValueInvalid",
                    "metadata.name",
                    f"Invalid value: {_invalid_value(name)}: {message}",
                )
            )
    labels = metadata.get("labels") or {}
    if isinstance(labels, Mapping):
        for key, value in labels.items():
            for problem in is_qualified_name(str(key)):
                causes.append(
                    (
                        "FieldValueInvalid",
                        "metadata.labels",
                        f"Invalid value: {_invalid_value(key)}: {problem}",
                    )
                )
            for problem in is_valid_label_value(str(value)):
                causes.append(
                    (
                        "FieldValueInvalid",
                        "metadata.labels",
                        f"Invalid value: {_invalid_value(value)}: {problem}",
                    )
                )
    return causes


# -- field selectors (apimachinery fields.ParseSelector) -------------------------------


FieldTerm = fields.FieldRequirement


def parse_field_selector(text: str) -> tuple[FieldTerm, ...]:
    """`fields.ParseSelector`; a selector that does not parse is a 400, as the API says."""
    try:
        return fields.FieldSelector.parse(text).requirements
    except fields.FieldSelectorError as err:
        raise status.bad_request(str(err)) from err


_POD_FIELDS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "spec.nodeName": lambda o: str((o.get("spec") or {}).get("nodeName", "")),
    "spec.restartPolicy": lambda o: str((o.get("spec") or {}).get("restartPolicy", "")),
    "spec.schedulerName": lambda o: str((o.get("spec") or {}).get("schedulerName", "")),
    "spec.serviceAccountName": lambda o: str((o.get("spec") or {}).get("serviceAccountName", "")),
    "spec.hostNetwork": lambda o: "true" if (o.get("spec") or {}).get("hostNetwork") else "false",
    "status.phase": lambda o: str((o.get("status") or {}).get("phase", "")),
    "status.podIP": lambda o: str((o.get("status") or {}).get("podIP", "")),
    "status.nominatedNodeName": lambda o: str((o.get("status") or {}).get("nominatedNodeName", "")),
}

_EVENTS = GroupResource("", "events")


def _involved(key: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda o: str((o.get("involvedObject") or {}).get(key, ""))


# pkg/registry/core/event/strategy.go ToSelectableFields: what `kubectl describe` and
# `kubectl events --for` select events by.
_EVENT_FIELDS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    **{f"involvedObject.{key}": _involved(key) for key in (
        "kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
    "reason": lambda o: str(o.get("reason", "")),
    "reportingComponent": lambda o: str(o.get("reportingComponent", "")),
    "source": lambda o: str((o.get("source") or {}).get("component", "")),
    "type": lambda o: str(o.get("type", "")),
}  # fmt: skip


def field_predicate(
    info: ResourceInfo, terms: Sequence[FieldTerm], *, custom: bool
) -> Callable[[StoredObject], bool] | None:
    """A predicate for the terms, or None when there are none. Unsupported fields are a
    400 worded as the real server words it (built-ins vs custom resources differ)."""
    if not terms:
        return None
    extractors: list[tuple[Callable[[StoredObject], str], FieldTerm]] = []
    for term in terms:
        if term.field == "metadata.name":
            extractors.append((lambda s: s.name, term))
        elif term.field == "metadata.namespace":
            extractors.append((lambda s: s.namespace, term))
        elif info.group_resource == _PODS and term.field in _POD_FIELDS:
            getter = _POD_FIELDS[term.field]
            extractors.append((lambda s, g=getter: g(s.obj), term))  # type: ignore[misc]
        elif info.group_resource == _EVENTS and term.field in _EVENT_FIELDS:
            getter = _EVENT_FIELDS[term.field]
            extractors.append((lambda s, g=getter: g(s.obj), term))  # type: ignore[misc]
        elif custom:
            raise status.bad_request(
                f'"{term.field}" is not a known field selector: only "metadata.name", '
                '"metadata.namespace"'
            )
        else:
            raise status.bad_request(f"field label not supported: {term.field}")

    def matches(stored: StoredObject) -> bool:
        return all((getter(stored) == term.value) != term.negated for getter, term in extractors)

    return matches


# -- bodies ----------------------------------------------------------------------------


def decode_body(raw: bytes, kind: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise status.bad_request(
            f"the object provided is unrecognized (must be of type {kind}): {err}"
        ) from err


def decode_object(info: ResourceInfo, raw: bytes) -> JSONObject:
    """A request body as an object of the URL's resource: kind and apiVersion default
    to the URL's, and must agree with it when given."""
    body = decode_body(raw, info.kind)
    if not isinstance(body, dict):
        raise status.bad_request(
            f"the object provided is unrecognized (must be of type {info.kind}): "
            "json: cannot unmarshal into Go value of type struct"
        )
    api_version = body.get("apiVersion") or info.api_version
    if api_version != info.api_version:
        group, _, _ = str(api_version).rpartition("/")
        if group != info.group:
            raise status.bad_request(
                f"the API version in the data ({api_version}) does not match the expected "
                f"API version ({info.api_version})"
            )
    kind = body.get("kind") or info.kind
    if kind != info.kind:
        raise status.bad_request(
            f"the object provided is unrecognized (must be of type {info.kind}): "
            f"kind {kind!s} does not match"
        )
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise status.bad_request(
            f"the object provided is unrecognized (must be of type {info.kind}): "
            "json: cannot unmarshal metadata"
        )
    body["apiVersion"] = info.api_version
    body["kind"] = info.kind
    body["metadata"] = dict(metadata or {})
    return body


def _parse_rv(value: object) -> int | None:
    """A resourceVersion precondition from a body: None when absent or empty."""
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError as err:
        raise status.bad_request(f"invalid resource version: {value}") from err


# -- create / update / patch / delete --------------------------------------------------


def _initial_status(info: ResourceInfo, obj: Mapping[str, Any]) -> JSONObject | None:
    """What a create leaves of `.status` (the strategies' PrepareForCreate)."""
    resource = info.group_resource
    if resource == _PODS:
        return {"phase": "Pending", "qosClass": pod_qos_class(obj.get("spec") or {})}
    if resource == _NAMESPACES:
        return {"phase": "Active"}
    if resource == GroupResource("", "services"):
        return {"loadBalancer": {}}
    if resource == GroupResource("", "nodes"):
        return dict(obj.get("status") or {})
    if resource in (
        GroupResource("", "persistentvolumeclaims"),
        GroupResource("", "persistentvolumes"),
    ):
        return {"phase": "Pending"}
    if resource == GroupResource("autoscaling", "horizontalpodautoscalers"):
        return (
            {"desiredReplicas": 0}
            if info.version == "v2"
            else {"currentReplicas": 0, "desiredReplicas": 0}
        )
    return {}


def pod_qos_class(spec: Mapping[str, Any]) -> str:
    """`qos.GetPodQOS` for cpu and memory: Guaranteed, Burstable or BestEffort."""
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    requests_seen = False
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        requests = {
            k: v for k, v in (resources.get("requests") or {}).items() if k in ("cpu", "memory")
        }
        limits = {
            k: v for k, v in (resources.get("limits") or {}).items() if k in ("cpu", "memory")
        }
        if requests or limits:
            requests_seen = True
        effective = {**limits, **requests} if requests else dict(limits)
        if set(limits) != {"cpu", "memory"} or any(
            effective.get(k) != limits.get(k) for k in limits
        ):
            guaranteed = False
    if not requests_seen:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def create(
    state: ClusterState, info: ResourceInfo, namespace: str, raw: bytes, *, dry_run: bool = False
) -> StoredObject:
    obj = decode_object(info, raw)
    metadata = obj["metadata"]
    if info.namespaced:
        body_ns = metadata.get("namespace")
        if body_ns and body_ns != namespace:
            raise status.bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        metadata["namespace"] = namespace
        if state.stored(_NAMESPACES, "", namespace) is None:
            raise status.not_found("", "namespaces", namespace)
    else:
        metadata.pop("namespace", None)
    if not metadata.get("name") and metadata.get("generateName"):
        suffix = "".join(random.choice(_GENERATE_ALPHABET) for _ in range(5))
        metadata["name"] = f"{metadata['generateName']}{suffix}"
    for server_field in ("uid", "resourceVersion", "creationTimestamp", "generation"):
        metadata.pop(server_field, None)
    causes = validate_metadata(info, metadata)
    if causes:
        raise status.invalid(info.group, info.kind, str(metadata.get("name") or ""), causes)
    resource = info.group_resource
    if resource == _NAMESPACES:
        labels = dict(metadata.get("labels") or {})
        labels["kubernetes.io/metadata.name"] = metadata["name"]
        metadata["labels"] = labels
        obj["spec"] = {"finalizers": ["kubernetes"], **(obj.get("spec") or {})}
    if resource in _WORKLOADS:
        spec = dict(obj.get("spec") or {})
        spec.setdefault("replicas", 1)
        obj["spec"] = spec
    defaults.apply_defaults(resource, obj, state)
    spec_causes = validation.validate_spec(resource, info.version, obj)
    if spec_causes:
        raise status.invalid(info.group, info.kind, str(metadata["name"]), spec_causes)
    if "status" in state.subresources.get(resource, frozenset()):
        initial = _initial_status(info, obj) if not _is_custom(state, info) else None
        if initial is None:
            obj.pop("status", None)
        else:
            obj["status"] = initial
    if resource == _CRDS:
        try:
            state.install_crd(obj)
        except (ValueError, TypeError, AttributeError) as err:
            raise status.invalid(
                info.group,
                info.kind,
                str(metadata["name"]),
                [("FieldValueInvalid", "spec", f"Invalid value: {err}")],
            ) from err
    if dry_run:
        existing = state.stored(resource, namespace if info.namespaced else "", metadata["name"])
        if existing is not None:
            from adapter.sandbox.store import already_exists

            raise already_exists(info.group, info.resource, str(metadata["name"]))
        return StoredObject(obj, state.resource_version, "")
    return state.insert(info, obj)


def _is_custom(state: ClusterState, info: ResourceInfo) -> bool:
    return state.is_custom(info.group_resource)


def is_custom(state: ClusterState, info: ResourceInfo) -> bool:
    """True for resources served from a CRD (unstructured objects, no strategic patch)."""
    return state.is_custom(info.group_resource)


def _current(state: ClusterState, info: ResourceInfo, namespace: str, name: str) -> StoredObject:
    stored = state.stored(info.group_resource, namespace if info.namespaced else "", name)
    if stored is None:
        raise status.not_found(info.group, info.resource, name)
    return stored


def _view(current: StoredObject, info: ResourceInfo) -> JSONObject:
    """The stored object as the request's version serves it (a copy to change)."""
    return conversion.convert(current.copy(), info.api_version)


def _check_identity(info: ResourceInfo, obj: Mapping[str, Any], namespace: str, name: str) -> None:
    metadata = obj["metadata"]
    body_name = metadata.get("name", "")
    if body_name != name:
        raise status.bad_request(
            f"the name of the object ({body_name}) does not match the name on the URL ({name})"
        )
    if info.namespaced:
        body_ns = metadata.get("namespace")
        if body_ns and body_ns != namespace:
            raise status.bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )


def _store_update(
    state: ClusterState,
    info: ResourceInfo,
    namespace: str,
    current: StoredObject,
    obj: JSONObject,
    subresource: str,
    expected_rv: int | None,
) -> StoredObject:
    """Apply the update strategy for the main resource or its status, then store."""
    if info.namespaced:
        obj["metadata"]["namespace"] = namespace
    has_status = "status" in state.subresources.get(info.group_resource, frozenset())
    current_view = _view(current, info)
    if subresource == "status":
        merged = current_view
        if "status" in obj:
            merged["status"] = obj["status"]
        else:
            merged.pop("status", None)
        obj = merged
    elif has_status:
        if "status" in current_view:
            obj["status"] = current_view["status"]
        else:
            obj.pop("status", None)
    causes = validate_metadata(info, obj["metadata"])
    if subresource != "status":
        defaults.apply_defaults(info.group_resource, obj, state)
        causes += validation.validate_spec(info.group_resource, info.version, obj)
    if causes:
        raise status.invalid(info.group, info.kind, current.name, causes)
    return state.replace(info, obj, expected_rv=expected_rv)


def update(
    state: ClusterState,
    info: ResourceInfo,
    namespace: str,
    name: str,
    raw: bytes,
    subresource: str = "",
) -> StoredObject:
    current = _current(state, info, namespace, name)
    obj = decode_object(info, raw)
    _check_identity(info, obj, namespace, name)
    expected = _parse_rv(obj["metadata"].get("resourceVersion"))
    if expected is not None and expected != current.rv:
        raise stale_conflict(info.group, info.resource, name)
    return _store_update(state, info, namespace, current, obj, subresource, expected)


def apply_patch(
    document: JSONObject, raw: bytes, content_type: str, *, strategic_allowed: bool
) -> Any:
    """The patched document; 400 for a body that is no patch, 422 when it does not apply."""
    accepted = [JSON_PATCH, MERGE_PATCH] + ([STRATEGIC_PATCH] if strategic_allowed else [])
    if content_type not in accepted:
        raise status.StatusError(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: "
            + ", ".join(accepted),
        )
    try:
        patch = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise status.bad_request(f"error decoding patch: {err}") from err
    try:
        if content_type == JSON_PATCH:
            return patching.json_patch(document, patch)
        if content_type == STRATEGIC_PATCH:
            if not isinstance(patch, dict):
                raise status.bad_request("unable to find api field in struct for patch")
            return patching.strategic_merge_patch(document, patch)
        return patching.merge_patch(document, patch)
    except patching.PatchFormatError as err:
        raise status.bad_request(str(err)) from err
    except patching.PatchError as err:
        raise status.StatusError(
            422,
            "Invalid",
            "the server rejected our request due to an error in our request",
            {"causes": [{"reason": "UnexpectedServerResponse", "message": str(err)}]},
        ) from err


def patch(
    state: ClusterState,
    info: ResourceInfo,
    namespace: str,
    name: str,
    raw: bytes,
    content_type: str,
    subresource: str = "",
) -> StoredObject:
    current = _current(state, info, namespace, name)
    patched = apply_patch(
        _view(current, info), raw, content_type, strategic_allowed=not _is_custom(state, info)
    )
    if not isinstance(patched, dict):
        raise status.bad_request("the patched object is not a JSON object")
    metadata = patched.get("metadata")
    if not isinstance(metadata, dict):
        raise status.bad_request("the patched object has no metadata")
    expected = _parse_rv(metadata.get("resourceVersion"))
    if expected is not None and expected != current.rv:
        raise stale_conflict(info.group, info.resource, name)
    metadata["name"] = name
    patched["apiVersion"] = info.api_version
    patched["kind"] = info.kind
    return _store_update(state, info, namespace, current, patched, subresource, current.rv)


def server_side_apply(
    state: ClusterState,
    info: ResourceInfo,
    namespace: str,
    name: str,
    raw: bytes,
    *,
    field_manager: str,
    force: bool,
) -> tuple[StoredObject, bool]:
    """PATCH with `application/apply-patch+yaml`: create-or-merge as `field_manager`
    (see `adapter.sandbox.applying`). Returns the stored object and whether it was
    created."""
    if not field_manager:
        raise status.invalid(
            "meta.k8s.io",
            "PatchOptions",
            "",
            [("FieldValueRequired", "fieldManager", "Required value: is required for apply patch")],
        )
    try:
        config = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as err:
        raise status.bad_request(f"error decoding YAML: {err}") from err
    if not isinstance(config, dict):
        raise status.bad_request("error decoding YAML: the applied configuration is not an object")
    config = decode_object(info, orjson.dumps(config))
    body_name = config["metadata"].get("name") or name
    if body_name != name:
        raise status.bad_request(
            f"the name of the object ({body_name}) does not match the name on the URL ({name})"
        )
    config["metadata"]["name"] = name
    if info.namespaced:
        config["metadata"]["namespace"] = namespace
    current = state.stored(info.group_resource, namespace if info.namespaced else "", name)
    merged = applying.apply(
        _view(current, info) if current is not None else None,
        config,
        manager=field_manager,
        api_version=info.api_version,
        now=timefmt.format_time(state.now()),
        force=force,
        group=info.group,
        resource=info.resource,
    )
    if current is None:
        return create(state, info, namespace, orjson.dumps(merged)), True
    return _store_update(state, info, namespace, current, merged, "", current.rv), False


def delete(
    state: ClusterState, info: ResourceInfo, namespace: str, name: str, raw: bytes
) -> StoredObject:
    """Immediate deletion; DeleteOptions' preconditions (uid, resourceVersion) hold."""
    current = _current(state, info, namespace, name)
    expected: int | None = None
    options: Any = None
    if raw.strip():
        options = decode_body(raw, "DeleteOptions")
        preconditions = (options or {}).get("preconditions") or {}
        uid = preconditions.get("uid")
        if uid and uid != current.obj["metadata"].get("uid"):
            raise status.conflict(
                info.group,
                info.resource,
                name,
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                f"{current.obj['metadata'].get('uid')}",
            )
        expected = _parse_rv(preconditions.get("resourceVersion"))
        if expected is not None and expected != current.rv:
            raise status.conflict(
                info.group,
                info.resource,
                name,
                "Precondition failed: ResourceVersion in precondition: "
                f"{expected}, ResourceVersion in object meta: {current.rv}",
            )
    if info.group_resource == _PODS and expected is None:
        grace = options.get("gracePeriodSeconds") if raw.strip() and options else None
        return state.begin_pod_deletion(namespace, name, grace if isinstance(grace, int) else None)
    if info.group_resource == _NAMESPACES and expected is None:
        return state.begin_namespace_deletion(name)
    return state.remove(info, namespace, name)


# -- /scale ----------------------------------------------------------------------------


def _path_get(obj: Mapping[str, Any], path: str) -> Any:
    node: Any = obj
    for part in path.strip(".").split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _path_set(obj: JSONObject, path: str, value: Any) -> None:
    parts = path.strip(".").split(".")
    node = obj
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def scale_of(state: ClusterState, info: ResourceInfo, stored: StoredObject) -> JSONObject:
    """The autoscaling/v1 Scale of a workload or custom resource."""
    obj = stored.obj
    resource = info.group_resource
    custom = state.scales.get(resource)
    if custom is not None:
        spec_replicas = _path_get(obj, custom.spec_replicas_path) or 0
        status_replicas = _path_get(obj, custom.status_replicas_path) or 0
        selector = (
            _path_get(obj, custom.label_selector_path) if custom.label_selector_path else None
        )
        selector_text = str(selector) if selector else ""
    else:
        spec = obj.get("spec") or {}
        spec_replicas = spec.get("replicas", 0)
        status_replicas = (obj.get("status") or {}).get("replicas", 0)
        try:
            if resource == _RCS:
                selector_text = str(LabelSelector.from_set(spec.get("selector") or {}))
            else:
                selector_text = str(LabelSelector.from_api(spec.get("selector")))
        except SelectorError as err:
            raise status.internal_error(str(err)) from err
    metadata = obj["metadata"]
    scale_meta: JSONObject = {"name": metadata["name"]}
    if metadata.get("namespace"):
        scale_meta["namespace"] = metadata["namespace"]
    for key in ("uid", "resourceVersion", "creationTimestamp"):
        if key in metadata:
            scale_meta[key] = metadata[key]
    scale_status: JSONObject = {"replicas": status_replicas}
    if selector_text:
        scale_status["selector"] = selector_text
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_meta,
        "spec": {"replicas": spec_replicas} if spec_replicas else {},
        "status": scale_status,
    }


def _write_scale(
    state: ClusterState, info: ResourceInfo, namespace: str, name: str, scale: Any
) -> JSONObject:
    current = _current(state, info, namespace, name)
    if not isinstance(scale, dict):
        raise status.bad_request("the object provided is unrecognized (must be of type Scale)")
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        raise status.bad_request(
            "the object provided is unrecognized (must be of type Scale): "
            "json: cannot unmarshal into Go struct field ScaleSpec.spec.replicas of type int32"
        )
    if replicas < 0:
        raise status.invalid(
            "autoscaling",
            "Scale",
            name,
            [
                (
                    "FieldValueInvalid",
                    "spec.replicas",
                    f"Invalid value: {replicas}: must be greater than or equal to 0",
                )
            ],
        )
    expected = _parse_rv((scale.get("metadata") or {}).get("resourceVersion"))
    if expected is not None and expected != current.rv:
        raise stale_conflict(info.group, info.resource, name)
    updated = current.copy()
    custom = state.scales.get(info.group_resource)
    _path_set(updated, custom.spec_replicas_path if custom else ".spec.replicas", replicas)
    stored = state.replace(info, updated, expected_rv=current.rv)
    return scale_of(state, info, stored)


def get_scale(state: ClusterState, info: ResourceInfo, namespace: str, name: str) -> JSONObject:
    return scale_of(state, info, _current(state, info, namespace, name))


def update_scale(
    state: ClusterState, info: ResourceInfo, namespace: str, name: str, raw: bytes
) -> JSONObject:
    scale = decode_body(raw, "Scale")
    if isinstance(scale, dict):
        body_name = (scale.get("metadata") or {}).get("name", name)
        if body_name != name:
            raise status.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({name})"
            )
    return _write_scale(state, info, namespace, name, scale)


def patch_scale(
    state: ClusterState,
    info: ResourceInfo,
    namespace: str,
    name: str,
    raw: bytes,
    content_type: str,
) -> JSONObject:
    current = get_scale(state, info, namespace, name)
    patched = apply_patch(current, raw, content_type, strategic_allowed=True)
    return _write_scale(state, info, namespace, name, patched)


# -- list ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListPage:
    items: list[StoredObject]
    resource_version: int
    continue_token: str
    remaining: int | None


_CONTINUE_VERSION = "meta.k8s.io/v1"
_EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You "
    "can start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in the list."
)


def encode_continue(rv: int, start: str) -> str:
    """The etcd3 store's token: `{"v":"meta.k8s.io/v1","rv":N,"start":"<key>\\x00"}`,
    base64url without padding."""
    raw = orjson.dumps({"v": _CONTINUE_VERSION, "rv": rv, "start": start})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_continue(token: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
    except (binascii.Error, ValueError) as err:
        raise status.bad_request(
            f"invalid continue token: continue key is not valid: {err}"
        ) from err
    if not isinstance(data, dict) or data.get("v") != _CONTINUE_VERSION:
        raise status.bad_request(
            "invalid continue token: continue key is not valid: server does not recognize "
            "this encoded version"
        )
    rv = data.get("rv")
    start = data.get("start")
    if not isinstance(rv, int) or rv <= 0 or not isinstance(start, str):
        raise status.bad_request(
            "invalid continue token: continue key is not valid: incorrect encoded start "
            "resourceVersion (version meta.k8s.io/v1)"
        )
    return rv, start


def list_page(
    state: ClusterState,
    info: ResourceInfo,
    namespace: str,
    *,
    label_selector: LabelSelector,
    field_filter: Callable[[StoredObject], bool] | None,
    limit: int,
    continue_token: str,
    resource_version: str,
    resource_version_match: str,
) -> ListPage:
    """One list response's objects, by the storage rules of the real server: key order,
    `limit` with a continue token whenever more keys follow (even if none of them would
    match the selectors), pages served from the first page's snapshot."""
    resource = info.group_resource
    start = ""
    if continue_token:
        if resource_version not in ("", None):
            raise status.bad_request(
                "specifying resource version is not allowed when using continue"
            )
        list_rv, start = decode_continue(continue_token)
        snapshot = state.snapshot_at(resource, list_rv)
        if snapshot is None:
            raise status.StatusError(410, "Expired", _EXPIRED_CONTINUE)
        objects: Sequence[StoredObject] = snapshot
    else:
        current = state.resource_version
        if resource_version_match and not resource_version:
            raise status.bad_request(
                "resourceVersionMatch is forbidden unless resourceVersion is provided"
            )
        if resource_version not in ("", "0"):
            try:
                asked = int(resource_version)
            except ValueError as err:
                raise status.bad_request(f"invalid resource version: {resource_version}") from err
            if resource_version_match == "Exact" and asked != current:
                cached = state.snapshot_at(resource, asked)
                if cached is None:
                    raise status.StatusError(
                        410, "Expired", f"too old resource version: {asked} ({current})"
                    )
            if asked > current:
                raise status.StatusError(
                    504,
                    "Timeout",
                    f"Timeout: Too large resource version: {asked}, current: {current}",
                    {
                        "causes": [
                            {
                                "reason": "ResourceVersionTooLarge",
                                "message": "Too large resource version",
                            }
                        ],
                        "retryAfterSeconds": 1,
                    },
                )
        if limit > 0:
            list_rv, objects = state.snapshot(resource)
        else:
            list_rv, objects = current, list(state.scan(resource, namespace))
    items: list[StoredObject] = []
    prefix = f"{namespace}/" if namespace and info.namespaced else ""
    more = False
    remaining = 0
    last_key = ""
    everything = label_selector.is_empty() and field_filter is None
    for stored in objects:
        if prefix and not stored.key.startswith(prefix):
            continue
        if start and stored.key < start:
            continue
        if limit > 0 and len(items) >= limit:
            more = True
            remaining += 1
            continue
        if not label_selector.matches(stored.labels):
            continue
        if field_filter is not None and not field_filter(stored):
            continue
        items.append(stored)
        last_key = stored.key
    token = encode_continue(list_rv, last_key + "\x00") if more and items else ""
    return ListPage(
        items=items,
        resource_version=list_rv,
        continue_token=token,
        remaining=remaining if (token and everything) else None,
    )


# -- review resources (answer, never stored) -------------------------------------------


def review(
    state: ClusterState, info: ResourceInfo, namespace: str, raw: bytes, caller: UserInfo
) -> JSONObject:
    """TokenReview, SubjectAccessReview, LocalSubjectAccessReview,
    SelfSubjectAccessReview, SelfSubjectReview: the request with its status filled."""
    body = decode_object(info, raw)
    body["metadata"] = {"creationTimestamp": None, **body["metadata"]}
    spec = body.get("spec") or {}
    resource = info.resource
    if resource == "tokenreviews":
        user = state.authenticator.user_for_token(str(spec.get("token", "")))
        if user is None:
            body["status"] = {"user": {}, "error": "invalid bearer token"}
        else:
            user_doc: JSONObject = {"username": user.name, "groups": list(user.groups)}
            if user.uid:
                user_doc["uid"] = user.uid
            body["status"] = {"authenticated": True, "user": user_doc}
            if spec.get("audiences"):
                body["status"]["audiences"] = list(spec["audiences"])
        return body
    if resource == "selfsubjectreviews":
        user_doc = {"username": caller.name, "groups": list(caller.groups)}
        body["status"] = {"userInfo": user_doc}
        return body
    if resource in ("subjectaccessreviews", "localsubjectaccessreviews"):
        subject = UserInfo(str(spec.get("user", "")), tuple(spec.get("groups") or ()))
    elif resource == "selfsubjectaccessreviews":
        subject = caller
    else:
        raise status.method_not_supported(info.group, info.resource, "create")
    attributes = _review_attributes(
        subject, spec, namespace if resource.startswith("local") else ""
    )
    decision = state.authorizer.authorize(attributes)
    result: JSONObject = {"allowed": decision.allowed}
    if decision.reason:
        result["reason"] = decision.reason
    body["status"] = result
    return body


def _review_attributes(user: UserInfo, spec: Mapping[str, Any], namespace: str) -> Attributes:
    resource_attributes = spec.get("resourceAttributes")
    if isinstance(resource_attributes, Mapping):
        return Attributes(
            user=user,
            verb=str(resource_attributes.get("verb", "")),
            resource_request=True,
            group=str(resource_attributes.get("group", "")),
            resource=str(resource_attributes.get("resource", "")),
            subresource=str(resource_attributes.get("subresource", "")),
            namespace=namespace or str(resource_attributes.get("namespace", "")),
            name=str(resource_attributes.get("name", "")),
        )
    non_resource = spec.get("nonResourceAttributes") or {}
    return Attributes(
        user=user,
        verb=str(non_resource.get("verb", "")),
        resource_request=False,
        path=str(non_resource.get("path", "")),
    )


def create_token(state: ClusterState, namespace: str, name: str, raw: bytes) -> JSONObject:
    """`serviceaccounts/<name>/token`: a TokenRequest answered with a bearer token that
    authenticates (and TokenReview accepts) as the service account, with the groups
    kube-apiserver gives service accounts."""
    sa_info = state.mapper.for_version("", "v1", "serviceaccounts")
    assert sa_info is not None
    account = _current(state, sa_info, namespace, name)
    request = decode_body(raw, "TokenRequest") if raw.strip() else {}
    if not isinstance(request, dict):
        raise status.bad_request(
            "the object provided is unrecognized (must be of type TokenRequest)"
        )
    spec = dict(request.get("spec") or {})
    seconds = spec.get("expirationSeconds") or 3600
    if not isinstance(seconds, int) or seconds < 600:
        raise status.invalid(
            "authentication.k8s.io",
            "TokenRequest",
            name,
            [
                (
                    "FieldValueInvalid",
                    "spec.expirationSeconds",
                    f"Invalid value: {seconds}: may not specify a duration less than 10 minutes",
                )
            ],
        )
    token = "sandbox." + secrets.token_urlsafe(32)
    user = access.service_account_user(namespace, name)
    state.authenticator.add_token(
        token, user.name, user.groups[:-1], str(account.obj["metadata"].get("uid", ""))
    )
    expires = state.now() + timedelta(seconds=seconds)
    spec["expirationSeconds"] = seconds
    spec.setdefault("audiences", ["https://kubernetes.default.svc.cluster.local"])
    spec.setdefault("boundObjectRef", None)
    return {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
        "spec": spec,
        "status": {"token": token, "expirationTimestamp": timefmt.format_time(expires)},
    }


def bind_pod(state: ClusterState, namespace: str, name: str, raw: bytes) -> JSONObject:
    """`pods/binding` and `bindings`: put the pod on the target node."""
    pods = state.mapper.for_version("", "v1", "pods")
    assert pods is not None
    binding = decode_body(raw, "Binding")
    target = (binding or {}).get("target") or {}
    pod_name = name or ((binding or {}).get("metadata") or {}).get("name", "")
    current = _current(state, pods, namespace, pod_name)
    updated = current.copy()
    if (updated.get("spec") or {}).get("nodeName"):
        raise status.conflict(
            "",
            "pods",
            pod_name,
            f"pod {pod_name} is already assigned to node "
            f"{gostrings.quote(updated['spec']['nodeName'])}",
        )
    updated.setdefault("spec", {})["nodeName"] = target.get("name", "")
    state.replace(pods, updated, expected_rv=current.rv)
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
