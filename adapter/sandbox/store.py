"""The sandbox cluster's state: every object, its resourceVersion, and who watches it.

Owns what etcd and the watch cache do for a real API server: objects kept per resource
in key order (`<namespace>/<name>`, the order lists come back in), one cluster-wide
resourceVersion counter bumped by every write, a bounded event history per resource so
a watch can resume from a resourceVersion (or be told 410 Gone when it is too old),
fan-out of events to watchers, list snapshots so `continue` pages are consistent, and
objects pre-serialised (orjson) in the three shapes the server writes: the full object,
the list item, and PartialObjectMetadata. It also carries the cluster's resource table
(a `RestMapper` plus subresources and CRD scale paths) and its users and authorizer.

Tests and the demo drive the cluster from Python with `create`, `apply`, `get`, `list`,
`patch`, `delete` and `register_custom_resource`; the HTTP semantics (validation,
status and scale subresources, PATCH types, paging, negotiation) are
`adapter.sandbox.rest`'s and `adapter.sandbox.apiserver`'s. Not thread-safe: use it
from the event loop the server runs on (or before it starts).
"""

from __future__ import annotations

import asyncio
import bisect
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson

from adapter.k8s import gostrings, status, timefmt
from adapter.k8s.resources import GroupResource, ResourceInfo, RestMapper
from adapter.k8s.selectors import LabelSelector
from adapter.sandbox import apiservices, conversion
from adapter.sandbox.access import AllowAll, Authenticator, Authorizer, RbacAuthorizer
from adapter.sandbox.certs import IssuedCertificate

JSONObject = dict[str, Any]
ResourceRef = str | GroupResource | ResourceInfo
EventType = Literal["ADDED", "MODIFIED", "DELETED"]

DEFAULT_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
_NAMESPACES = GroupResource("", "namespaces")
_CRDS = GroupResource("apiextensions.k8s.io", "customresourcedefinitions")
_PODS = GroupResource("", "pods")

# Resources whose registry strategy sets metadata.generation on create and bumps it on
# spec changes (PrepareForCreate/PrepareForUpdate in pkg/registry/*/strategy.go); the
# rest (Services, Namespaces, HPAs, ConfigMaps, ...) carry none. Custom resources
# always do. Pods do since KEP-5067 (keps/sig-node/5067-pod-generation).
GENERATION_RESOURCES = frozenset(
    {
        _PODS,
        GroupResource("", "replicationcontrollers"),
        GroupResource("apps", "deployments"),
        GroupResource("apps", "replicasets"),
        GroupResource("apps", "statefulsets"),
        GroupResource("apps", "daemonsets"),
        GroupResource("batch", "jobs"),
        GroupResource("batch", "cronjobs"),
        GroupResource("policy", "poddisruptionbudgets"),
        GroupResource("networking.k8s.io", "networkpolicies"),
        GroupResource("apiextensions.k8s.io", "customresourcedefinitions"),
        GroupResource("flowcontrol.apiserver.k8s.io", "flowschemas"),
        GroupResource("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"),
        GroupResource("admissionregistration.k8s.io", "validatingadmissionpolicies"),
        GroupResource("admissionregistration.k8s.io", "validatingadmissionpolicybindings"),
        GroupResource("admissionregistration.k8s.io", "mutatingadmissionpolicies"),
        GroupResource("admissionregistration.k8s.io", "mutatingadmissionpolicybindings"),
    }
)

# metav1.ObjectMeta field order, so stored objects serialise as the Go server writes them.
_META_ORDER = (
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
)

# Subresources the stand-in serves for built-in resources (discovery advertises exactly
# these): status where Kubernetes has a status subresource, scale where it has /scale.
_STATUS = frozenset({"status"})
_STATUS_SCALE = frozenset({"status", "scale"})
BUILTIN_SUBRESOURCES: Mapping[GroupResource, frozenset[str]] = {
    GroupResource("", "namespaces"): _STATUS,
    GroupResource("", "nodes"): _STATUS,
    GroupResource("", "persistentvolumeclaims"): _STATUS,
    GroupResource("", "persistentvolumes"): _STATUS,
    GroupResource("", "pods"): _STATUS,
    GroupResource("", "replicationcontrollers"): _STATUS_SCALE,
    GroupResource("", "resourcequotas"): _STATUS,
    GroupResource("", "services"): _STATUS,
    GroupResource("", "serviceaccounts"): frozenset({"token"}),
    GroupResource("apiregistration.k8s.io", "apiservices"): _STATUS,
    GroupResource("apps", "daemonsets"): _STATUS,
    GroupResource("apps", "deployments"): _STATUS_SCALE,
    GroupResource("apps", "replicasets"): _STATUS_SCALE,
    GroupResource("apps", "statefulsets"): _STATUS_SCALE,
    GroupResource("autoscaling", "horizontalpodautoscalers"): _STATUS,
    GroupResource("batch", "cronjobs"): _STATUS,
    GroupResource("batch", "jobs"): _STATUS,
    GroupResource("certificates.k8s.io", "certificatesigningrequests"): _STATUS,
    GroupResource("networking.k8s.io", "ingresses"): _STATUS,
    GroupResource("networking.k8s.io", "servicecidrs"): _STATUS,
    GroupResource("policy", "poddisruptionbudgets"): _STATUS,
    GroupResource("storage.k8s.io", "volumeattachments"): _STATUS,
    GroupResource("admissionregistration.k8s.io", "validatingadmissionpolicies"): _STATUS,
    GroupResource("apiextensions.k8s.io", "customresourcedefinitions"): _STATUS,
    GroupResource("resource.k8s.io", "resourceclaims"): _STATUS,
    GroupResource("flowcontrol.apiserver.k8s.io", "flowschemas"): _STATUS,
    GroupResource("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"): _STATUS,
}

# Resources that are requests, not stored objects (create answers, nothing persists).
VIRTUAL_RESOURCES = frozenset(
    {
        GroupResource("", "bindings"),
        GroupResource("", "componentstatuses"),
        GroupResource("authentication.k8s.io", "selfsubjectreviews"),
        GroupResource("authentication.k8s.io", "tokenreviews"),
        GroupResource("authorization.k8s.io", "localsubjectaccessreviews"),
        GroupResource("authorization.k8s.io", "selfsubjectaccessreviews"),
        GroupResource("authorization.k8s.io", "selfsubjectrulesreviews"),
        GroupResource("authorization.k8s.io", "subjectaccessreviews"),
    }
)


class UnknownResourceReference(LookupError):
    """A Python caller named a resource the cluster does not serve."""


@dataclass(frozen=True, slots=True)
class ScaleSubresource:
    """A custom resource's `/scale` (apiextensions' CustomResourceSubresourceScale):
    JSON paths, as `.spec.replicas`, of the replica counts and the selector string."""

    spec_replicas_path: str = ".spec.replicas"
    status_replicas_path: str = ".status.replicas"
    label_selector_path: str | None = None


@dataclass(frozen=True, slots=True)
class APIServiceBackend:
    """Where an aggregated group-version is served (an APIService with a service
    reference, resolved to a URL). Recorded here; the proxying is the API server's."""

    group: str
    version: str
    url: str
    ca_bundle: bytes | None = None
    insecure_skip_tls_verify: bool = False
    group_priority_minimum: int = 100
    version_priority: int = 100


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One request the API server answered (what an audit log's Metadata level keeps)."""

    method: str
    path: str
    query: str
    accept: str
    user: str
    code: int


class StoredObject:
    """One object version: immutable once stored; serialisations made once, on demand."""

    __slots__ = ("_cache", "key", "labels", "name", "namespace", "obj", "rv")

    def __init__(self, obj: JSONObject, rv: int, key: str) -> None:
        self.obj = obj
        self.rv = rv
        self.key = key
        metadata = obj["metadata"]
        self.name: str = metadata["name"]
        self.namespace: str = metadata.get("namespace", "")
        labels = metadata.get("labels")
        self.labels: Mapping[str, str] = labels if isinstance(labels, dict) else {}
        self._cache: dict[object, bytes] = {}

    def full_bytes(self, api_version: str | None = None) -> bytes:
        """The object as a GET returns it (in `api_version` when served by another)."""
        if api_version is None or api_version == self.obj.get("apiVersion"):
            cached = self._cache.get("full")
            if cached is None:
                cached = self._cache["full"] = orjson.dumps(self.obj)
            return cached
        return orjson.dumps(_ordered_top(conversion.convert(self.obj, api_version)))

    def item_bytes(self, *, type_meta: bool, api_version: str | None = None) -> bytes:
        """The object as a list item: built-in types' items carry no kind/apiVersion,
        custom resources' do (the real server encodes unstructured lists so)."""
        if type_meta:
            return self.full_bytes(api_version)
        if api_version is not None and api_version != self.obj.get("apiVersion"):
            converted = _ordered_top(conversion.convert(self.obj, api_version))
            return orjson.dumps(
                {k: v for k, v in converted.items() if k not in ("kind", "apiVersion")}
            )
        cached = self._cache.get("item")
        if cached is None:
            item = {k: v for k, v in self.obj.items() if k not in ("kind", "apiVersion")}
            cached = self._cache["item"] = orjson.dumps(item)
        return cached

    def metadata_bytes(self, meta_api_version: str = "meta.k8s.io/v1") -> bytes:
        """PartialObjectMetadata: what metadata-only clients receive."""
        cached = self._cache.get(meta_api_version)
        if cached is None:
            cached = self._cache[meta_api_version] = orjson.dumps(
                {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": meta_api_version,
                    "metadata": self.obj["metadata"],
                }
            )
        return cached

    def copy(self) -> JSONObject:
        """A deep copy for callers (cheap: a parse of the cached bytes)."""
        result: JSONObject = orjson.loads(self.full_bytes())
        return result


@dataclass(frozen=True, slots=True)
class StoreEvent:
    type: EventType
    rv: int
    object: StoredObject
    previous: StoredObject | None


WatchFilter = Callable[[StoredObject], bool]


class Watcher:
    """One watch: events for one resource, filtered by namespace and predicate.

    A MODIFIED that moves an object into the filter arrives as ADDED and one that moves
    it out arrives as DELETED, as the real watch cache filters.
    """

    def __init__(self, collection: _Collection, namespace: str, predicate: WatchFilter) -> None:
        self._collection = collection
        self._namespace = namespace
        self._predicate = predicate
        self.queue: asyncio.Queue[tuple[EventType, StoredObject]] = asyncio.Queue()
        self.closed = False

    def _visible(self, stored: StoredObject | None) -> bool:
        if stored is None:
            return False
        if self._namespace and stored.namespace != self._namespace:
            return False
        return self._predicate(stored)

    def offer(self, event: StoreEvent) -> None:
        if self.closed:
            return
        now = self._visible(event.object)
        if event.type == "ADDED":
            if now:
                self.queue.put_nowait(("ADDED", event.object))
        elif event.type == "DELETED":
            if now:
                self.queue.put_nowait(("DELETED", event.object))
        else:
            before = self._visible(event.previous)
            if now and before:
                self.queue.put_nowait(("MODIFIED", event.object))
            elif now:
                self.queue.put_nowait(("ADDED", event.object))
            elif before:
                self.queue.put_nowait(("DELETED", event.object))

    def close(self) -> None:
        self.closed = True
        self._collection.watchers.discard(self)


class _Collection:
    """All objects of one group-resource (shared by its versions, as in etcd)."""

    __slots__ = ("history", "keys", "objects", "oldest_rv", "watchers")

    def __init__(self, history: int) -> None:
        self.objects: dict[str, StoredObject] = {}
        self.keys: list[str] = []
        self.history: deque[StoreEvent] = deque()
        self.oldest_rv = 0
        """Events at or before this resourceVersion are no longer known."""
        self.watchers: set[Watcher] = set()


def object_key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


def _ordered_top(obj: Mapping[str, Any]) -> JSONObject:
    ordered: JSONObject = {}
    for key in ("kind", "apiVersion", "metadata"):
        if key in obj:
            ordered[key] = obj[key]
    for key, value in obj.items():
        if key not in ordered:
            ordered[key] = value
    metadata = ordered.get("metadata")
    if isinstance(metadata, dict):
        meta: JSONObject = {key: metadata[key] for key in _META_ORDER if key in metadata}
        for key, value in metadata.items():
            if key not in meta:
                meta[key] = value
        ordered["metadata"] = meta
    return ordered


def _detached(obj: Mapping[str, Any]) -> JSONObject:
    """A deep copy through JSON, so no caller keeps a handle on a stored object (and
    only JSON values get stored)."""
    copied: JSONObject = orjson.loads(orjson.dumps(obj))
    return copied


def _sorted_deep(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted_deep(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_deep(item) for item in value]
    return value


def already_exists(group: str, resource: str, name: str) -> status.StatusError:
    """`NewAlreadyExists`: 409 AlreadyExists, `pods "x" already exists`."""
    qualified = f"{resource}.{group}" if group else resource
    details: dict[str, Any] = {"name": name, "kind": resource}
    if group:
        details["group"] = group
    return status.StatusError(
        409, "AlreadyExists", f"{qualified} {gostrings.quote(name)} already exists", details
    )


def stale_conflict(group: str, resource: str, name: str) -> status.StatusError:
    """The 409 an update with an outdated resourceVersion gets."""
    return status.conflict(
        group,
        resource,
        name,
        "the object has been modified; please apply your changes to the latest version "
        "and try again",
    )


class ClusterState:
    """The whole sandbox cluster in memory; see the module docstring."""

    def __init__(
        self,
        mapper: RestMapper | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        history: int = 10_000,
        namespaces: Iterable[str] = DEFAULT_NAMESPACES,
    ) -> None:
        self._mapper = mapper if mapper is not None else RestMapper.builtin()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._history = history
        self._rv = 1
        self._collections: dict[GroupResource, _Collection] = {}
        self._snapshots: OrderedDict[tuple[GroupResource, int], tuple[StoredObject, ...]] = (
            OrderedDict()
        )
        self.subresources: dict[GroupResource, frozenset[str]] = dict(BUILTIN_SUBRESOURCES)
        self.scales: dict[GroupResource, ScaleSubresource] = {}
        self.custom_resources: set[GroupResource] = set()
        """Resources served from CRDs: stored and written as unstructured objects are
        (map keys sorted, list items with kind and apiVersion)."""
        self.api_services: dict[tuple[str, str], APIServiceBackend] = {}
        self.authenticator = Authenticator()
        self.authorizer: Authorizer = AllowAll()
        self.kubelet_registered = False
        """True once a kubelet (the demo's) finishes pod deletions itself; until then
        a gracefully deleted pod is removed when its grace period ends."""
        self._event_counter = 0
        self.audit_log: list[AuditRecord] | None = None
        """Set to a list to have the API server record every request it answers."""
        self.front_proxy_client: IssuedCertificate | None = None
        """The client certificate the aggregation proxy presents to backends (minted by
        `run_apiserver` with TLS); its CA is published in kube-system's
        extension-apiserver-authentication ConfigMap, as kube-apiserver does."""
        self.version_info: JSONObject = {
            "major": "1",
            "minor": "36",
            "emulationMajor": "1",
            "emulationMinor": "36",
            "minCompatibilityMajor": "1",
            "minCompatibilityMinor": "35",
            "gitVersion": "v1.36.2",
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2026-04-22T00:00:00Z",
            "goVersion": "go1.25.0",
            "compiler": "gc",
            "platform": "linux/amd64",
        }
        """What `/version` answers: a v1.36 server, as the built-in resource table is."""
        for name in namespaces:
            self.ensure_namespace(name)
        started = timefmt.format_time(self._clock())
        for api_service in apiservices.local_api_services(self._mapper.group_versions(), started):
            self.create(api_service)

    # -- resources --------------------------------------------------------------------

    @property
    def mapper(self) -> RestMapper:
        return self._mapper

    @property
    def resource_version(self) -> int:
        """The cluster's current resourceVersion (the last write's)."""
        return self._rv

    def now(self) -> datetime:
        return self._clock()

    def resolve(self, ref: ResourceRef) -> ResourceInfo:
        """A Python caller's resource name (`pods`, `deployments.apps`, a GroupResource
        or a ResourceInfo) as the cluster serves it, preferred version."""
        if isinstance(ref, ResourceInfo):
            return ref
        partial = GroupResource.parse(ref) if isinstance(ref, str) else ref
        try:
            return self._mapper.resolve(partial)
        except LookupError as err:
            raise UnknownResourceReference(str(err)) from err

    def storage_info(self, info: ResourceInfo) -> ResourceInfo:
        """The version `info`'s resource is stored in (its own unless the resource's
        versions differ in shape, see `adapter.sandbox.conversion`)."""
        version = conversion.storage_version(info.group_resource)
        if version is None or version == info.version:
            return info
        stored = self._mapper.for_version(info.group, version, info.resource)
        return stored if stored is not None else info

    def info_for_object(self, obj: Mapping[str, Any]) -> ResourceInfo:
        """The resource an object with this apiVersion and kind is stored under."""
        api_version = str(obj.get("apiVersion", ""))
        group, _, version = api_version.rpartition("/")
        kind = str(obj.get("kind", ""))
        for info in self._mapper:
            if info.group == group and info.version == version and info.kind == kind:
                return info
        raise UnknownResourceReference(f'no matches for kind "{kind}" in version "{api_version}"')

    def register_resource(
        self,
        info: ResourceInfo,
        *,
        subresources: Iterable[str] = ("status",),
        scale: ScaleSubresource | None = None,
    ) -> ResourceInfo:
        """Serve one more resource (a CRD's version), after the built-in ones."""
        existing = self._mapper.for_version(info.group, info.version, info.resource)
        if existing is None:
            self._mapper = self._mapper.with_resources([info])
        subs = set(subresources)
        if scale is not None:
            subs.add("scale")
            self.scales[info.group_resource] = scale
        self.subresources[info.group_resource] = frozenset(subs)
        return info

    def unregister_group_resource(self, resource: GroupResource) -> None:
        """Stop serving a resource (its CRD was deleted); its objects go with it."""
        self._mapper = RestMapper(info for info in self._mapper if info.group_resource != resource)
        self.subresources.pop(resource, None)
        self.scales.pop(resource, None)
        self.custom_resources.discard(resource)
        collection = self._collections.pop(resource, None)
        if collection is not None:
            for watcher in list(collection.watchers):
                watcher.close()

    def register_custom_resource(
        self,
        group: str,
        kind: str,
        plural: str,
        *,
        versions: Iterable[str] = ("v1",),
        singular: str | None = None,
        namespaced: bool = True,
        short_names: Iterable[str] = (),
        categories: Iterable[str] = (),
        status_subresource: bool = True,
        scale: ScaleSubresource | None = None,
    ) -> ResourceInfo:
        """Install a CRD: stores the CustomResourceDefinition object (so `kubectl get
        crd` lists it) and serves its resource; returns the preferred (first) version."""
        served = list(versions)
        names: JSONObject = {
            "plural": plural,
            "singular": singular or kind.lower(),
            "kind": kind,
            "listKind": f"{kind}List",
        }
        if short_names:
            names["shortNames"] = list(short_names)
        if categories:
            names["categories"] = list(categories)
        subresources: JSONObject = {}
        if status_subresource:
            subresources["status"] = {}
        if scale is not None:
            scale_doc: JSONObject = {
                "specReplicasPath": scale.spec_replicas_path,
                "statusReplicasPath": scale.status_replicas_path,
            }
            if scale.label_selector_path:
                scale_doc["labelSelectorPath"] = scale.label_selector_path
            subresources["scale"] = scale_doc
        crd: JSONObject = {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {
                "group": group,
                "names": names,
                "scope": "Namespaced" if namespaced else "Cluster",
                "versions": [
                    {
                        "name": version,
                        "served": True,
                        "storage": index == 0,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            }
                        },
                        **({"subresources": subresources} if subresources else {}),
                    }
                    for index, version in enumerate(served)
                ],
            },
        }
        self.apply(crd)
        return self.install_crd(crd)

    def install_crd(self, crd: Mapping[str, Any]) -> ResourceInfo:
        """Serve the resource a CustomResourceDefinition object describes."""
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group = str(spec.get("group", ""))
        kind = str(names.get("kind", ""))
        plural = str(names.get("plural", ""))
        infos: list[ResourceInfo] = []
        scale: ScaleSubresource | None = None
        subresources: set[str] = set()
        for version in spec.get("versions") or []:
            if not version.get("served", True):
                continue
            subs = version.get("subresources") or spec.get("subresources") or {}
            if "status" in subs:
                subresources.add("status")
            if "scale" in subs:
                doc = subs["scale"] or {}
                scale = ScaleSubresource(
                    spec_replicas_path=doc.get("specReplicasPath", ".spec.replicas"),
                    status_replicas_path=doc.get("statusReplicasPath", ".status.replicas"),
                    label_selector_path=doc.get("labelSelectorPath"),
                )
            infos.append(
                ResourceInfo(
                    group=group,
                    version=str(version.get("name", "v1")),
                    resource=plural,
                    singular=str(names.get("singular") or kind.lower()),
                    kind=kind,
                    namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                    short_names=tuple(names.get("shortNames") or ()),
                    categories=tuple(names.get("categories") or ()),
                )
            )
        if not infos:
            raise ValueError(f"CustomResourceDefinition {plural}.{group} serves no version")
        for info in infos:
            self.register_resource(info, subresources=subresources, scale=scale)
        self.custom_resources.add(infos[0].group_resource)
        return infos[0]

    def register_api_service(self, backend: APIServiceBackend) -> None:
        """Route `/apis/<group>/<version>` to an aggregated API server (the sandbox's
        APIService). The API server proxies to `backend.url` and merges its discovery."""
        self.api_services[(backend.group, backend.version)] = backend

    # -- low-level storage (used by the REST layer and the Python API) ----------------

    def _collection(self, resource: GroupResource) -> _Collection:
        collection = self._collections.get(resource)
        if collection is None:
            collection = self._collections[resource] = _Collection(self._history)
        return collection

    def stored(self, resource: GroupResource, namespace: str, name: str) -> StoredObject | None:
        collection = self._collections.get(resource)
        if collection is None:
            return None
        return collection.objects.get(object_key(namespace, name))

    def scan(self, resource: GroupResource, namespace: str = "") -> Iterator[StoredObject]:
        """Objects in key order; with a namespace, only that namespace's."""
        collection = self._collections.get(resource)
        if collection is None:
            return iter(())
        return _scan(collection.keys, collection.objects, namespace)

    def count(self, resource: GroupResource) -> int:
        collection = self._collections.get(resource)
        return len(collection.objects) if collection is not None else 0

    def snapshot(self, resource: GroupResource) -> tuple[int, tuple[StoredObject, ...]]:
        """All objects now, remembered under the current resourceVersion so a paged
        list can continue from the same state (the real server reads etcd at the
        first page's revision)."""
        rv = self._rv
        key = (resource, rv)
        cached = self._snapshots.get(key)
        if cached is None:
            cached = tuple(self.scan(resource))
            self._snapshots[key] = cached
            while len(self._snapshots) > 64:
                self._snapshots.popitem(last=False)
        else:
            self._snapshots.move_to_end(key)
        return rv, cached

    def snapshot_at(self, resource: GroupResource, rv: int) -> tuple[StoredObject, ...] | None:
        return self._snapshots.get((resource, rv))

    def insert(self, info: ResourceInfo, obj: Mapping[str, Any]) -> StoredObject:
        """Store a new object: uid, creationTimestamp, generation and resourceVersion
        are set here, as the registry's BeforeCreate and etcd do."""
        info = self.storage_info(info)
        obj = conversion.normalize(conversion.convert(_detached(obj), info.api_version))
        resource = info.group_resource
        metadata = dict(obj.get("metadata") or {})
        name = str(metadata.get("name", ""))
        namespace = str(metadata.get("namespace", "")) if info.namespaced else ""
        collection = self._collection(resource)
        key = object_key(namespace, name)
        if key in collection.objects:
            raise already_exists(info.group, info.resource, name)
        self._rv += 1
        metadata["uid"] = str(uuid.uuid4())
        metadata["resourceVersion"] = str(self._rv)
        if resource in GENERATION_RESOURCES or resource in self.custom_resources:
            metadata["generation"] = 1
        else:
            metadata.pop("generation", None)
        metadata["creationTimestamp"] = timefmt.format_time(self._clock())
        if namespace:
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        metadata.pop("deletionTimestamp", None)
        new_obj = dict(obj)
        new_obj["apiVersion"] = info.api_version
        new_obj["kind"] = info.kind
        new_obj["metadata"] = metadata
        stored = StoredObject(self._layout(resource, new_obj), self._rv, key)
        collection.objects[key] = stored
        bisect.insort(collection.keys, key)
        self._record(collection, StoreEvent("ADDED", self._rv, stored, None))
        return stored

    def replace(
        self, info: ResourceInfo, obj: Mapping[str, Any], *, expected_rv: int | None = None
    ) -> StoredObject:
        """Store a new version of an existing object; `expected_rv` is the optimistic
        concurrency check (409 when the object moved on). uid and creationTimestamp
        stay, generation follows spec changes."""
        info = self.storage_info(info)
        obj = conversion.normalize(conversion.convert(_detached(obj), info.api_version))
        resource = info.group_resource
        metadata = dict(obj.get("metadata") or {})
        name = str(metadata.get("name", ""))
        namespace = str(metadata.get("namespace", "")) if info.namespaced else ""
        collection = self._collection(resource)
        key = object_key(namespace, name)
        current = collection.objects.get(key)
        if current is None:
            raise status.not_found(info.group, info.resource, name)
        if expected_rv is not None and expected_rv != current.rv:
            raise stale_conflict(info.group, info.resource, name)
        old_meta = current.obj["metadata"]
        for kept in ("uid", "creationTimestamp"):
            if kept in old_meta:
                metadata[kept] = old_meta[kept]
            else:
                metadata.pop(kept, None)
        if "generation" in old_meta:
            generation = int(old_meta["generation"])
            if obj.get("spec") != current.obj.get("spec"):
                generation += 1
            metadata["generation"] = generation
        else:
            metadata.pop("generation", None)
        if namespace:
            metadata["namespace"] = namespace
        new_obj = dict(obj)
        new_obj["apiVersion"] = info.api_version
        new_obj["kind"] = info.kind
        if _same_content(current.obj, new_obj, metadata):
            return current  # a no-op update keeps the resourceVersion, as upstream
        self._rv += 1
        metadata["resourceVersion"] = str(self._rv)
        new_obj["metadata"] = metadata
        stored = StoredObject(self._layout(resource, new_obj), self._rv, key)
        collection.objects[key] = stored
        self._record(collection, StoreEvent("MODIFIED", self._rv, stored, current))
        return stored

    def remove(
        self, info: ResourceInfo, namespace: str, name: str, *, expected_rv: int | None = None
    ) -> StoredObject:
        """Delete now (no graceful deletion, finalizers are not waited for)."""
        resource = info.group_resource
        collection = self._collection(resource)
        key = object_key(namespace if info.namespaced else "", name)
        current = collection.objects.get(key)
        if current is None:
            raise status.not_found(info.group, info.resource, name)
        if expected_rv is not None and expected_rv != current.rv:
            raise stale_conflict(info.group, info.resource, name)
        self._rv += 1
        final = dict(current.obj)
        final["metadata"] = {**current.obj["metadata"], "resourceVersion": str(self._rv)}
        stored = StoredObject(final, self._rv, key)
        del collection.objects[key]
        index = bisect.bisect_left(collection.keys, key)
        if index < len(collection.keys) and collection.keys[index] == key:
            del collection.keys[index]
        self._record(collection, StoreEvent("DELETED", self._rv, stored, current))
        if resource == _NAMESPACES:
            self._delete_namespace_content(name)
        elif resource == _CRDS:
            spec = current.obj.get("spec") or {}
            plural = (spec.get("names") or {}).get("plural", "")
            self.unregister_group_resource(GroupResource(spec.get("group", ""), plural))
        return current

    def _layout(self, resource: GroupResource, obj: JSONObject) -> JSONObject:
        """Field order as the real server writes: Go struct order for built-in types,
        sorted map keys for custom resources (unstructured)."""
        if resource in self.custom_resources:
            result: JSONObject = _sorted_deep(obj)
            return result
        return _ordered_top(obj)

    def is_custom(self, resource: GroupResource) -> bool:
        return resource in self.custom_resources

    def _delete_namespace_content(self, namespace: str) -> None:
        """What the namespace controller does once a namespace is deleted."""
        for info in list(self._mapper):
            if not info.namespaced:
                continue
            for stored in list(self.scan(info.group_resource, namespace)):
                self.remove(info, namespace, stored.name)

    def _record(self, collection: _Collection, event: StoreEvent) -> None:
        history = collection.history
        history.append(event)
        if len(history) > self._history:
            collection.oldest_rv = history.popleft().rv
        for watcher in list(collection.watchers):
            watcher.offer(event)

    def watch(
        self,
        resource: GroupResource,
        namespace: str,
        predicate: WatchFilter,
        since_rv: int | None,
    ) -> tuple[Watcher, list[tuple[EventType, StoredObject]]]:
        """Start a watch. `since_rv` None means "current state first": every matching
        object as ADDED; otherwise the recorded events after it (410 Gone if they are no
        longer known). Returns the watcher and the events to send before live ones."""
        collection = self._collection(resource)
        watcher = Watcher(collection, namespace, predicate)
        initial: list[tuple[EventType, StoredObject]] = []
        if since_rv is None:
            initial = [
                ("ADDED", stored)
                for stored in _scan(collection.keys, collection.objects, namespace)
                if predicate(stored)
            ]
        else:
            if since_rv < collection.oldest_rv:
                raise status.StatusError(
                    410,
                    "Expired",
                    f"too old resource version: {since_rv} ({collection.oldest_rv + 1})",
                )
            for event in collection.history:
                if event.rv > since_rv:
                    watcher.offer(event)
            while not watcher.queue.empty():
                initial.append(watcher.queue.get_nowait())
        collection.watchers.add(watcher)
        return watcher, initial

    # -- Python API for tests and the demo ---------------------------------------------

    def ensure_namespace(self, name: str) -> None:
        if self.stored(_NAMESPACES, "", name) is None:
            self.create(
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": name, "labels": {NAMESPACE_NAME_LABEL: name}},
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                }
            )

    def create(self, obj: Mapping[str, Any]) -> JSONObject:
        """Store a new object (kind and apiVersion say which resource); its namespace is
        created if missing. No validation: tests may store what they need."""
        info = self.info_for_object(obj)
        namespace = (obj.get("metadata") or {}).get("namespace")
        if info.namespaced:
            if not namespace:
                raise ValueError(f"{info.kind} objects need metadata.namespace")
            self.ensure_namespace(str(namespace))
        return self.insert(info, obj).copy()

    def apply(self, obj: Mapping[str, Any]) -> JSONObject:
        """Create the object, or replace the stored one with it (status included)."""
        info = self.info_for_object(obj)
        metadata = obj.get("metadata") or {}
        namespace = str(metadata.get("namespace", "")) if info.namespaced else ""
        if self.stored(info.group_resource, namespace, str(metadata.get("name", ""))) is None:
            return self.create(obj)
        return self.replace(info, obj).copy()

    def get(self, resource: ResourceRef, name: str, namespace: str = "") -> JSONObject | None:
        info = self.resolve(resource)
        stored = self.stored(info.group_resource, namespace if info.namespaced else "", name)
        return stored.copy() if stored is not None else None

    def list(
        self,
        resource: ResourceRef,
        namespace: str = "",
        selector: LabelSelector | str | None = None,
    ) -> list[JSONObject]:
        info = self.resolve(resource)
        if isinstance(selector, str):
            selector = LabelSelector.parse(selector)
        return [
            stored.copy()
            for stored in self.scan(info.group_resource, namespace if info.namespaced else "")
            if selector is None or selector.matches(stored.labels)
        ]

    def patch(
        self, resource: ResourceRef, name: str, patch: Mapping[str, Any], namespace: str = ""
    ) -> JSONObject:
        """Merge-patch an object (status included): the demo's way to move pods along."""
        from adapter.sandbox.patching import merge_patch

        info = self.resolve(resource)
        stored = self.stored(info.group_resource, namespace if info.namespaced else "", name)
        if stored is None:
            raise status.not_found(info.group, info.resource, name)
        return self.replace(info, merge_patch(stored.copy(), dict(patch))).copy()

    def enable_rbac(self) -> RbacAuthorizer:
        """Authorize with the cluster's own Roles, ClusterRoles and their bindings (as
        kube-apiserver's RBAC authorizer does) instead of allowing everything."""

        def lister(plural: str) -> Iterator[JSONObject]:
            info = self.resolve(GroupResource("rbac.authorization.k8s.io", plural))
            return (stored.obj for stored in self.scan(info.group_resource))

        authorizer = RbacAuthorizer(lister)
        self.authorizer = authorizer
        return authorizer

    # -- graceful deletion, the kubelet's hand-off, events ------------------------------

    def begin_pod_deletion(
        self, namespace: str, name: str, grace_seconds: int | None = None
    ) -> StoredObject:
        """A pod delete as the real server does it: an unscheduled pod (or grace 0) goes
        at once; a scheduled one gets deletionTimestamp and deletionGracePeriodSeconds
        (a MODIFIED event) and waits for its kubelet to call `finish_pod_deletion`. With
        no kubelet registered (`kubelet_registered`), the sandbox finishes it itself
        when the grace period ends."""
        info = self.resolve(_PODS)
        current = self.stored(_PODS, namespace, name)
        if current is None:
            raise status.not_found("", "pods", name)
        spec = current.obj.get("spec") or {}
        grace = (
            spec.get("terminationGracePeriodSeconds", 30)
            if grace_seconds is None
            else grace_seconds
        )
        if not spec.get("nodeName") or int(grace) <= 0:
            return self.remove(info, namespace, name)
        metadata = current.obj["metadata"]
        if metadata.get("deletionTimestamp"):
            return current
        updated = current.copy()
        deadline = self._clock() + timedelta(seconds=int(grace))
        updated["metadata"]["deletionTimestamp"] = timefmt.format_time(deadline)
        updated["metadata"]["deletionGracePeriodSeconds"] = int(grace)
        stored = self.replace(info, updated)
        if not self.kubelet_registered:
            uid = metadata.get("uid")
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return self.remove(info, namespace, name)
            loop.call_later(int(grace), self._finish_if_same, namespace, name, uid)
        return stored

    def _finish_if_same(self, namespace: str, name: str, uid: str | None) -> None:
        current = self.stored(_PODS, namespace, name)
        if current is not None and current.obj["metadata"].get("uid") == uid:
            self.finish_pod_deletion(namespace, name)

    def finish_pod_deletion(self, namespace: str, name: str) -> None:
        """The kubelet's last word on a pod: its containers are gone, remove it."""
        if self.stored(_PODS, namespace, name) is not None:
            self.remove(self.resolve(_PODS), namespace, name)

    def begin_namespace_deletion(self, name: str) -> StoredObject:
        """Mark the namespace Terminating (a MODIFIED event), delete what it holds, and
        remove it on the next turn of the event loop (the namespace controller's job)."""
        info = self.resolve(_NAMESPACES)
        current = self.stored(_NAMESPACES, "", name)
        if current is None:
            raise status.not_found("", "namespaces", name)
        if current.obj["metadata"].get("deletionTimestamp"):
            return current
        updated = current.copy()
        updated["metadata"]["deletionTimestamp"] = timefmt.format_time(self._clock())
        updated["status"] = {
            "phase": "Terminating",
            "conditions": [
                {
                    "type": "NamespaceDeletionContentFailure",
                    "status": "False",
                    "lastTransitionTime": timefmt.format_time(self._clock()),
                    "reason": "ContentDeleted",
                    "message": "All content successfully deleted, may be waiting on finalization",
                }
            ],
        }
        stored = self.replace(info, updated)
        for resource_info in list(self._mapper):
            if resource_info.namespaced:
                for item in list(self.scan(resource_info.group_resource, name)):
                    self.remove(resource_info, name, item.name)
        try:
            asyncio.get_running_loop().call_soon(self.delete, _NAMESPACES, name)
        except RuntimeError:
            self.remove(info, "", name)
        return stored

    def record_event(
        self,
        obj: Mapping[str, Any],
        reason: str,
        message: str,
        component: str,
        event_type: str = "Normal",
    ) -> None:
        """A core/v1 Event about `obj`, as a controller's event recorder writes one."""
        metadata = obj.get("metadata") or {}
        namespace = str(metadata.get("namespace") or "default")
        now = timefmt.format_time(self._clock())
        self._event_counter += 1
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{metadata.get('name', '')}.{self._event_counter:016x}",
                "namespace": namespace,
            },
            "involvedObject": {
                "kind": obj.get("kind", ""),
                "namespace": namespace,
                "name": metadata.get("name", ""),
                "uid": metadata.get("uid", ""),
                "apiVersion": obj.get("apiVersion", ""),
                "resourceVersion": metadata.get("resourceVersion", ""),
            },
            "reason": reason,
            "message": message,
            "source": {"component": component},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": event_type,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": "",
        }
        if self.stored(_NAMESPACES, "", namespace) is not None:
            self.insert(self.resolve(GroupResource("", "events")), event)

    def delete(self, resource: ResourceRef, name: str, namespace: str = "") -> JSONObject | None:
        info = self.resolve(resource)
        try:
            return self.remove(info, namespace, name).copy()
        except status.StatusError as err:
            if err.code == 404:
                return None
            raise


def _scan(
    keys: list[str], objects: Mapping[str, StoredObject], namespace: str
) -> Iterator[StoredObject]:
    if not namespace:
        for key in list(keys):
            stored = objects.get(key)
            if stored is not None:
                yield stored
        return
    prefix = namespace + "/"
    start = bisect.bisect_left(keys, prefix)
    for key in keys[start:]:
        if not key.startswith(prefix):
            break
        stored = objects.get(key)
        if stored is not None:
            yield stored


def _same_content(
    old: Mapping[str, Any], new: Mapping[str, Any], new_meta: Mapping[str, Any]
) -> bool:
    """True when an update changes nothing but the resourceVersion it was sent with."""
    old_meta = {k: v for k, v in old["metadata"].items() if k != "resourceVersion"}
    meta = {k: v for k, v in new_meta.items() if k != "resourceVersion"}
    if old_meta != meta:
        return False
    rest_old = {k: v for k, v in old.items() if k != "metadata"}
    rest_new = {k: v for k, v in new.items() if k != "metadata"}
    return rest_old == rest_new
