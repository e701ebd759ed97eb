"""Group-resources and the REST mapping between resource names and API kinds.

Owns the pure half of what client-go's RESTMapper does: turning what a user wrote
(`pods`, `pod`, `Pod`, `deployments.apps`, `storageclass.storage`) into one canonical
resource, from API discovery documents or from the built-in table of Kubernetes' own
resources (used when no cluster is at hand, as `rules explain` is, and by the sandbox's
API server stand-in). Fetching discovery documents is `adapter.cluster.discovery`'s job;
serving them is `adapter.sandbox`'s.

Resolution follows client-go's discovery mapper (`restmapper.NewDiscoveryRESTMapper` over
`meta.DefaultRESTMapper`, wrapped in a `PriorityRESTMapper`), which is what
prometheus-adapter normalises rule resources with:

* a name matches a resource's plural or its singular (discovery's `singularName`, or the
  lower-cased kind when a server leaves it empty), compared lower-cased;
* a group, when given, matches every group it is a prefix of (so `storageclass.storage`
  finds `storage.k8s.io`);
* among several matches the first in discovery priority wins: the core group first, then
  the groups in `/apis` order, each group's preferred version before its others;
* several different resources in that first group-version are ambiguous.

Subresources (`pods/status`) are not mapped, as upstream.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import NotRequired, TypedDict


class UnknownResourceError(LookupError):
    """No resource (or kind) of the mapping matches; the message is client-go's."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class AmbiguousResourceError(UnknownResourceError):
    """Several resources match equally well: to callers that normalise names this is as
    unusable as no match at all, hence the subclass."""


# -- wire JSON (metav1 discovery documents) ---------------------------------------------


class APIResource(TypedDict):
    """One entry of an APIResourceList (`/api/v1`, `/apis/<group>/<version>`)."""

    name: str
    singularName: str
    namespaced: bool
    kind: str
    verbs: list[str]
    shortNames: NotRequired[list[str]]
    categories: NotRequired[list[str]]
    group: NotRequired[str]
    version: NotRequired[str]
    storageVersionHash: NotRequired[str]


@dataclass(frozen=True, slots=True, order=True)
class GroupResource:
    """A resource within an API group; the core group is the empty string."""

    group: str
    resource: str

    @classmethod
    def parse(cls, text: str) -> GroupResource:
        """Split `resource.group` at the first dot, as apimachinery's ParseGroupResource."""
        resource, _, group = text.partition(".")
        return cls(group=group, resource=resource)

    def __str__(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource


_ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    """One resource as one group-version serves it (what discovery says about it)."""

    group: str
    version: str
    resource: str
    """The plural name, as in URL paths."""
    singular: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = _ALL_VERBS
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    """Discovery categories (`all`, `api-extensions`); `kubectl get all` expands these."""

    @property
    def group_resource(self) -> GroupResource:
        return GroupResource(self.group, self.resource)

    @property
    def api_version(self) -> str:
        """`v1` for the core group, `apps/v1` otherwise: the objects' `apiVersion`."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def path_prefix(self) -> str:
        """Where the group-version is served: `/api/v1` or `/apis/apps/v1`."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def to_api(self) -> APIResource:
        """The APIResourceList entry a real API server writes for this resource."""
        doc: APIResource = {
            "name": self.resource,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            doc["shortNames"] = list(self.short_names)
        if self.categories:
            doc["categories"] = list(self.categories)
        return doc

    @classmethod
    def from_api(cls, group: str, version: str, doc: Mapping[str, object]) -> ResourceInfo:
        """Read one APIResourceList entry. A missing singularName is guessed as the
        lower-cased kind, as client-go does for servers that predate the field."""
        kind = str(doc.get("kind", ""))
        singular = str(doc.get("singularName") or kind.lower())
        return cls(
            group=group,
            version=version,
            resource=str(doc["name"]),
            singular=singular,
            kind=kind,
            namespaced=bool(doc.get("namespaced", False)),
            verbs=_str_tuple(doc.get("verbs")),
            short_names=_str_tuple(doc.get("shortNames")),
            categories=_str_tuple(doc.get("categories")),
        )


def _str_tuple(value: object) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return ()


def _gvr_string(group: str, version: str, resource: str) -> str:
    """apimachinery's GroupVersionResource.String(), which client-go errors print."""
    return f"{group}/{version}, Resource={resource}"


class RestMapper:
    """Resource names to resources, in one cluster's discovery order. Immutable: a
    refreshed discovery builds a new mapper, so readers never see half an update."""

    __slots__ = ("_by_name", "_priority", "_resources")

    def __init__(self, resources: Iterable[ResourceInfo]) -> None:
        self._resources: tuple[ResourceInfo, ...] = tuple(
            info for info in resources if "/" not in info.resource
        )
        group_index: dict[str, int] = {"": -1}  # client-go: core v1 always first
        version_index: dict[tuple[str, str], int] = {}
        per_group: dict[str, int] = {}
        for info in self._resources:
            if info.group not in group_index:
                group_index[info.group] = len(group_index)
            key = (info.group, info.version)
            if key not in version_index:
                version_index[key] = per_group.get(info.group, 0)
                per_group[info.group] = version_index[key] + 1
        self._priority = {key: (group_index[key[0]], index) for key, index in version_index.items()}
        by_name: dict[str, list[ResourceInfo]] = {}
        for info in self._resources:
            names = {info.resource.lower(), info.singular.lower()}
            for name in names:
                by_name.setdefault(name, []).append(info)
        self._by_name = by_name

    # -- construction -------------------------------------------------------------------

    @classmethod
    def builtin(cls) -> RestMapper:
        """The resources a default Kubernetes v1.36 API server serves (GA APIs only, as
        beta APIs are off by default), in its discovery order."""
        return cls(_BUILTIN)

    @classmethod
    def from_discovery(
        cls, core: Mapping[str, object] | None, groups: Sequence[Mapping[str, object]]
    ) -> RestMapper:
        """From `/api/v1` and the `/apis/<group>/<version>` APIResourceLists, the latter
        in `/apis` order with each group's preferred version first."""
        infos: list[ResourceInfo] = []
        documents: list[tuple[str, str, Mapping[str, object]]] = []
        if core is not None:
            documents.append(("", str(core.get("groupVersion") or "v1"), core))
        for doc in groups:
            group, _, version = str(doc.get("groupVersion", "")).rpartition("/")
            documents.append((group, version, doc))
        for group, version, doc in documents:
            entries = doc.get("resources")
            if not isinstance(entries, list):
                continue
            for entry in entries:
                if not isinstance(entry, Mapping) or "/" in str(entry.get("name", "/")):
                    continue
                infos.append(ResourceInfo.from_api(group, version, entry))
        return cls(infos)

    def with_resources(self, extra: Iterable[ResourceInfo]) -> RestMapper:
        """This mapping plus more resources (CRDs), which rank after the existing ones."""
        return RestMapper((*self._resources, *extra))

    # -- queries ------------------------------------------------------------------------

    @property
    def resources(self) -> tuple[ResourceInfo, ...]:
        return self._resources

    def __iter__(self) -> Iterator[ResourceInfo]:
        return iter(self._resources)

    def __len__(self) -> int:
        return len(self._resources)

    def group_versions(self) -> list[tuple[str, list[str]]]:
        """Groups in discovery order, each with its versions, preferred first."""
        out: dict[str, list[str]] = {}
        for info in self._resources:
            versions = out.setdefault(info.group, [])
            if info.version not in versions:
                versions.append(info.version)
        return sorted(out.items(), key=lambda item: self._priority[(item[0], item[1][0])])

    def resolve(self, partial: GroupResource) -> ResourceInfo:
        """The resource a possibly partial, possibly singular name means (client-go's
        ResourceFor with an empty version)."""
        name = partial.resource.lower()
        if not name:
            raise UnknownResourceError(
                f"a resource must be present, got: {_gvr_string(partial.group, '', name)}"
            )
        candidates = [
            info
            for info in self._by_name.get(name, ())
            if not partial.group or info.group.startswith(partial.group)
        ]
        if not candidates:
            raise UnknownResourceError(f"no matches for {_gvr_string(partial.group, '', name)}")
        return self._best(candidates, _gvr_string(partial.group, "", name))

    def by_kind(self, group: str, kind: str) -> ResourceInfo:
        """The resource serving a kind in a group, preferred version first (client-go's
        RESTMapping without versions). Accepts the kind lower-cased too, as upstream."""
        candidates = [
            info
            for info in self._resources
            if info.group == group and (info.kind == kind or info.kind.lower() == kind)
        ]
        if not candidates:
            raise UnknownResourceError(f'no matches for kind "{kind}" in group "{group}"')
        return self._best(candidates, f"{group}, Kind={kind}")

    def for_version(self, group: str, version: str, resource: str) -> ResourceInfo | None:
        """The exact group-version-resource, as an API server routes a request path."""
        for info in self._by_name.get(resource, ()):
            if info.group == group and info.version == version and info.resource == resource:
                return info
        return None

    def _best(self, candidates: list[ResourceInfo], asked: str) -> ResourceInfo:
        candidates.sort(
            key=lambda info: (self._priority[(info.group, info.version)], info.resource)
        )
        first = candidates[0]
        rivals = {
            info.resource
            for info in candidates
            if (info.group, info.version) == (first.group, first.version)
        }
        if len(rivals) > 1:
            listed = ", ".join(
                _gvr_string(first.group, first.version, resource) for resource in sorted(rivals)
            )
            raise AmbiguousResourceError(f"{asked} matches multiple resources [{listed}]")
        return first


# -- Kubernetes v1.36 built-in resources ----------------------------------------------
#
# Taken from the discovery documents kubernetes/kubernetes keeps under api/discovery/
# (legacy APIResourceLists and aggregated_v2.json), restricted to GA group-versions,
# which are the only ones a default API server enables; group order is the order of
# `/apis` (apiregistration's priority ties with the core group's, so it leads).

_CREATE = ("create",)


def _gv(
    group: str,
    version: str,
    rows: Sequence[tuple[str, str, bool, tuple[str, ...], tuple[str, ...], tuple[str, ...]]],
) -> list[ResourceInfo]:
    return [
        ResourceInfo(
            group=group,
            version=version,
            resource=resource,
            singular=kind.lower(),
            kind=kind,
            namespaced=namespaced,
            verbs=verbs,
            short_names=short,
            categories=categories,
        )
        for resource, kind, namespaced, verbs, short, categories in rows
    ]


_A = _ALL_VERBS
_ALL = ("all",)
_EXT = ("api-extensions",)
_NS, _CL = True, False

# fmt: off
_BUILTIN: tuple[ResourceInfo, ...] = (
    *_gv("", "v1", [
        ("bindings", "Binding", _NS, _CREATE, (), ()),
        ("componentstatuses", "ComponentStatus", _CL, ("get", "list"), ("cs",), ()),
        ("configmaps", "ConfigMap", _NS, _A, ("cm",), ()),
        ("endpoints", "Endpoints", _NS, _A, ("ep",), ()),
        ("events", "Event", _NS, _A, ("ev",), ()),
        ("limitranges", "LimitRange", _NS, _A, ("limits",), ()),
        ("namespaces", "Namespace", _CL,
         ("create", "delete", "get", "list", "patch", "update", "watch"), ("ns",), ()),
        ("nodes", "Node", _CL, _A, ("no",), ()),
        ("persistentvolumeclaims", "PersistentVolumeClaim", _NS, _A, ("pvc",), ()),
        ("persistentvolumes", "PersistentVolume", _CL, _A, ("pv",), ()),
        ("pods", "Pod", _NS, _A, ("po",), _ALL),
        ("podtemplates", "PodTemplate", _NS, _A, (), ()),
        ("replicationcontrollers", "ReplicationController", _NS, _A, ("rc",), _ALL),
        ("resourcequotas", "ResourceQuota", _NS, _A, ("quota",), ()),
        ("secrets", "Secret", _NS, _A, (), ()),
        ("serviceaccounts", "ServiceAccount", _NS, _A, ("sa",), ()),
        ("services", "Service", _NS, _A, ("svc",), _ALL),
    ]),
    *_gv("apiregistration.k8s.io", "v1", [
        ("apiservices", "APIService", _CL, _A, (), _EXT),
    ]),
    *_gv("apps", "v1", [
        ("controllerrevisions", "ControllerRevision", _NS, _A, (), ()),
        ("daemonsets", "DaemonSet", _NS, _A, ("ds",), _ALL),
        ("deployments", "Deployment", _NS, _A, ("deploy",), _ALL),
        ("replicasets", "ReplicaSet", _NS, _A, ("rs",), _ALL),
        ("statefulsets", "StatefulSet", _NS, _A, ("sts",), _ALL),
    ]),
    *_gv("events.k8s.io", "v1", [
        ("events", "Event", _NS, _A, ("ev",), ()),
    ]),
    *_gv("authentication.k8s.io", "v1", [
        ("selfsubjectreviews", "SelfSubjectReview", _CL, _CREATE, (), ()),
        ("tokenreviews", "TokenReview", _CL, _CREATE, (), ()),
    ]),
    *_gv("authorization.k8s.io", "v1", [
        ("localsubjectaccessreviews", "LocalSubjectAccessReview", _NS, _CREATE, (), ()),
        ("selfsubjectaccessreviews", "SelfSubjectAccessReview", _CL, _CREATE, (), ()),
        ("selfsubjectrulesreviews", "SelfSubjectRulesReview", _CL, _CREATE, (), ()),
        ("subjectaccessreviews", "SubjectAccessReview", _CL, _CREATE, (), ()),
    ]),
    *_gv("autoscaling", "v2", [
        ("horizontalpodautoscalers", "HorizontalPodAutoscaler", _NS, _A, ("hpa",), _ALL),
    ]),
    *_gv("autoscaling", "v1", [
        ("horizontalpodautoscalers", "HorizontalPodAutoscaler", _NS, _A, ("hpa",), _ALL),
    ]),
    *_gv("batch", "v1", [
        ("cronjobs", "CronJob", _NS, _A, ("cj",), _ALL),
        ("jobs", "Job", _NS, _A, (), _ALL),
    ]),
    *_gv("certificates.k8s.io", "v1", [
        ("certificatesigningrequests", "CertificateSigningRequest", _CL, _A, ("csr",), ()),
    ]),
    *_gv("networking.k8s.io", "v1", [
        ("ingressclasses", "IngressClass", _CL, _A, (), ()),
        ("ingresses", "Ingress", _NS, _A, ("ing",), ()),
        ("ipaddresses", "IPAddress", _CL, _A, ("ip",), ()),
        ("networkpolicies", "NetworkPolicy", _NS, _A, ("netpol",), ()),
        ("servicecidrs", "ServiceCIDR", _CL, _A, (), ()),
    ]),
    *_gv("policy", "v1", [
        ("poddisruptionbudgets", "PodDisruptionBudget", _NS, _A, ("pdb",), ()),
    ]),
    *_gv("rbac.authorization.k8s.io", "v1", [
        ("clusterrolebindings", "ClusterRoleBinding", _CL, _A, (), ()),
        ("clusterroles", "ClusterRole", _CL, _A, (), ()),
        ("rolebindings", "RoleBinding", _NS, _A, (), ()),
        ("roles", "Role", _NS, _A, (), ()),
    ]),
    *_gv("storage.k8s.io", "v1", [
        ("csidrivers", "CSIDriver", _CL, _A, (), ()),
        ("csinodes", "CSINode", _CL, _A, (), ()),
        ("csistoragecapacities", "CSIStorageCapacity", _NS, _A, (), ()),
        ("storageclasses", "StorageClass", _CL, _A, ("sc",), ()),
        ("volumeattachments", "VolumeAttachment", _CL, _A, (), ()),
        ("volumeattributesclasses", "VolumeAttributesClass", _CL, _A, ("vac",), ()),
    ]),
    *_gv("admissionregistration.k8s.io", "v1", [
        ("mutatingadmissionpolicies", "MutatingAdmissionPolicy", _CL, _A, (), _EXT),
        ("mutatingadmissionpolicybindings", "MutatingAdmissionPolicyBinding", _CL, _A, (), _EXT),
        ("mutatingwebhookconfigurations", "MutatingWebhookConfiguration", _CL, _A, (), _EXT),
        ("validatingadmissionpolicies", "ValidatingAdmissionPolicy", _CL, _A, (), _EXT),
        ("validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding", _CL, _A, (),
         _EXT),
        ("validatingwebhookconfigurations", "ValidatingWebhookConfiguration", _CL, _A, (), _EXT),
    ]),
    *_gv("apiextensions.k8s.io", "v1", [
        ("customresourcedefinitions", "CustomResourceDefinition", _CL, _A, ("crd", "crds"),
         _EXT),
    ]),
    *_gv("scheduling.k8s.io", "v1", [
        ("priorityclasses", "PriorityClass", _CL, _A, ("pc",), ()),
    ]),
    *_gv("coordination.k8s.io", "v1", [
        ("leases", "Lease", _NS, _A, (), ()),
    ]),
    *_gv("node.k8s.io", "v1", [
        ("runtimeclasses", "RuntimeClass", _CL, _A, (), ()),
    ]),
    *_gv("discovery.k8s.io", "v1", [
        ("endpointslices", "EndpointSlice", _NS, _A, (), ()),
    ]),
    *_gv("resource.k8s.io", "v1", [
        ("deviceclasses", "DeviceClass", _CL, _A, (), ()),
        ("resourceclaims", "ResourceClaim", _NS, _A, (), ()),
        ("resourceclaimtemplates", "ResourceClaimTemplate", _NS, _A, (), ()),
        ("resourceslices", "ResourceSlice", _CL, _A, (), ()),
    ]),
    *_gv("flowcontrol.apiserver.k8s.io", "v1", [
        ("flowschemas", "FlowSchema", _CL, _A, (), ()),
        ("prioritylevelconfigurations", "PriorityLevelConfiguration", _CL, _A, (), ()),
    ]),
)
# fmt: on
