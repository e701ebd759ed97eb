"""Discovery documents the server writes: APIGroupList, APIGroup, APIResourceList,
and version.Info, shaped as k8s.io/apimachinery's types marshal them.

What a request means and which provider answers it is the route modules' business; the
metric value lists themselves are `adapter.documents.metrics`'.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NotRequired, TypedDict

from adapter.providers.base import (
    CustomMetricInfo,
    ExternalMetricInfo,
)


class GroupVersionForDiscoveryJSON(TypedDict):
    groupVersion: str
    version: str


class ServerAddressByClientCIDRJSON(TypedDict):
    clientCIDR: str
    serverAddress: str


class APIGroupJSON(TypedDict):
    kind: NotRequired[str]
    apiVersion: NotRequired[str]
    name: str
    versions: list[GroupVersionForDiscoveryJSON]
    preferredVersion: GroupVersionForDiscoveryJSON
    serverAddressByClientCIDRs: NotRequired[list[ServerAddressByClientCIDRJSON]]


class APIGroupListJSON(TypedDict):
    kind: str
    apiVersion: str
    groups: list[APIGroupJSON]


class APIResourceJSON(TypedDict):
    name: str
    singularName: str
    namespaced: bool
    kind: str
    verbs: list[str]


class APIResourceListJSON(TypedDict):
    kind: str
    apiVersion: str
    groupVersion: str
    resources: list[APIResourceJSON]


class VersionInfoJSON(TypedDict):
    major: str
    minor: str
    gitVersion: str
    gitCommit: str
    gitTreeState: str
    buildDate: str
    goVersion: str
    compiler: str
    platform: str


# --- discovery --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupVersions:
    """An API group as discovery shows it: versions in priority order, first preferred."""

    name: str
    versions: tuple[str, ...]

    @property
    def preferred(self) -> str:
        return self.versions[0]


def _gv(group: str, version: str) -> GroupVersionForDiscoveryJSON:
    return {"groupVersion": f"{group}/{version}", "version": version}


def api_group(group: GroupVersions, *, typed: bool) -> APIGroupJSON:
    """metav1.APIGroup; `typed` adds kind/apiVersion as the standalone document has them
    (inside an APIGroupList the items carry no TypeMeta)."""
    doc: APIGroupJSON = {}  # type: ignore[typeddict-item]
    if typed:
        doc["kind"] = "APIGroup"
        doc["apiVersion"] = "v1"
    doc["name"] = group.name
    doc["versions"] = [_gv(group.name, v) for v in group.versions]
    doc["preferredVersion"] = _gv(group.name, group.preferred)
    return doc


def api_group_list(groups: Sequence[GroupVersions], server_address: str) -> APIGroupListJSON:
    """`/apis`. The generic apiserver's root handler stamps every group with
    `serverAddressByClientCIDRs: [{clientCIDR: 0.0.0.0/0, serverAddress: <its address>}]`."""
    items: list[APIGroupJSON] = []
    for group in groups:
        item = api_group(group, typed=False)
        item["serverAddressByClientCIDRs"] = [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ]
        items.append(item)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": items}


def api_resource_list(group_version: str, resources: list[APIResourceJSON]) -> APIResourceListJSON:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


def custom_metric_resources(infos: Iterable[CustomMetricInfo]) -> list[APIResourceJSON]:
    """One APIResource per registered metric, named `<resource[.group]>/<metric>`.

    custom-metrics-apiserver (`provider.NewCustomMetricResourceLister`) lists them in the
    provider's map order, which is random from one call to the next; we sort by name
    (namespaced entries after root-scoped ones of the same name) so that the document is
    stable and diffable. No client depends on the order.
    """
    keyed = sorted(
        ((f"{info.group_resource}/{info.metric}", info.namespaced) for info in infos),
    )
    return [
        {
            "name": name,
            "singularName": "",
            "namespaced": namespaced,
            "kind": "MetricValueList",
            "verbs": ["get"],
        }
        for name, namespaced in keyed
    ]


def external_metric_resources(infos: Iterable[ExternalMetricInfo]) -> list[APIResourceJSON]:
    """One APIResource per external metric, always namespaced; sorted by name (upstream's
    order is the registry's map order, i.e. random)."""
    return [
        {
            "name": metric,
            "singularName": "",
            "namespaced": True,
            "kind": "ExternalMetricValueList",
            "verbs": ["get"],
        }
        for metric in sorted({info.metric for info in infos})
    ]


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """What `/version` reports (k8s.io/apimachinery `version.Info`)."""

    major: str
    minor: str
    git_version: str
    git_commit: str = ""
    git_tree_state: str = ""
    build_date: str = ""
    go_version: str = ""
    """Go's field; we put the Python implementation and version here."""
    compiler: str = ""
    platform: str = ""

    def to_json(self) -> VersionInfoJSON:
        return {
            "major": self.major,
            "minor": self.minor,
            "gitVersion": self.git_version,
            "gitCommit": self.git_commit,
            "gitTreeState": self.git_tree_state,
            "buildDate": self.build_date,
            "goVersion": self.go_version,
            "compiler": self.compiler,
            "platform": self.platform,
        }
