"""The aggregated discovery document (`apidiscovery.k8s.io/v2` APIGroupDiscoveryList) and
the `Accept` negotiation that asks for it, as k8s.io/apiserver serves them at `/apis`.

kube-apiserver's aggregator, and client-go (kubectl) since 1.26, ask `/apis` first with
`Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList` (then
v2beta1, then plain JSON): one answer carries every group, version and resource, so no
`/apis/<group>/<version>` round trips follow. Plain `application/json` keeps the legacy
APIGroupList (`adapter.server.discovery`).

Shapes from k8s.io/api apidiscovery/v2 `types.go` (APIGroupDiscoveryList, APIGroupDiscovery,
APIVersionDiscovery, APIResourceDiscovery, APISubresourceDiscovery); the wrapper that picks
the aggregated handler from the Accept header is apiserver's endpoints/discovery/
aggregated/wrapper.go, the handler (ETag, `Vary: Accept`, `Cache-Control: public`, 304 on
a matching If-None-Match) is aggregated/handler.go and etag.go.

Resources are converted from the APIResourceList entries each served group already
builds, as the apiserver's `ConvertGroupVersionIntoToDiscovery` (endpoints/installer.go)
converts them for a server that does not answer the aggregated form itself: a name with
a `/` (custom metrics' `pods/http_requests`) is a subresource of its parent, and a
parent that is not a resource of its own gets an entry with no verbs and an empty
responseKind. So clients see what kube-aggregator would have made of the legacy
documents, without its per-group-version fetches. One difference: upstream's conversion
fails for a parent whose subresources differ in scope (custom metrics lists
`namespaces/<metric>` root-scoped beside namespaced metrics of no other resource, so it
does not arise in practice); here the other scope gets a second parent entry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from adapter.server.documents import APIResourceJSON, GroupVersions

GROUP: Final = "apidiscovery.k8s.io"
KIND: Final = "APIGroupDiscoveryList"
VERSIONS: Final = ("v2", "v2beta1")
"""Versions served, in the order the apiserver prefers them."""


@dataclass(frozen=True, slots=True)
class Negotiated:
    """What an Accept header asked for: the aggregated form of `version`, or (None) the
    legacy documents."""

    version: str | None

    @property
    def content_type(self) -> str:
        """The negotiated media type with its parameters, as the apiserver writes it."""
        if self.version is None:
            return "application/json"
        return f"application/json;g={GROUP};v={self.version};as={KIND}"


LEGACY: Final = Negotiated(None)


def _media_ranges(accept: str) -> list[tuple[float, int, str, dict[str, str]]]:
    ranges: list[tuple[float, int, str, dict[str, str]]] = []
    for index, item in enumerate(accept.split(",")):
        media, *raw_params = (part.strip() for part in item.split(";"))
        params: dict[str, str] = {}
        quality = 1.0
        for raw in raw_params:
            key, _, value = raw.partition("=")
            key, value = key.strip().lower(), value.strip().strip('"')
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
            elif key:
                params[key] = value
        if media and quality > 0:
            ranges.append((-quality, index, media.lower(), params))
    ranges.sort(key=lambda r: (r[0], r[1]))
    return ranges


def negotiate(accept: str) -> Negotiated:
    """The first acceptable range in the client's order of preference (q, then position):
    JSON with g/v/as naming an aggregated discovery version gets that version; JSON or a
    wildcard without `as` gets the legacy documents. Protobuf (which this server does not
    write) and other `as=` kinds are passed over; nothing acceptable is the legacy form,
    which every client reads."""
    for _, _, media, params in _media_ranges(accept):
        if media not in ("application/json", "application/*", "*/*"):
            continue
        wanted = params.get("as")
        if wanted is None and "g" not in params and "v" not in params:
            return LEGACY
        if wanted == KIND and params.get("g") == GROUP and params.get("v") in VERSIONS:
            return Negotiated(params["v"])
    return LEGACY


def _scope(namespaced: bool) -> str:
    return "Namespaced" if namespaced else "Cluster"


def resources(group: str, version: str, entries: Iterable[APIResourceJSON]) -> list[dict[str, Any]]:
    """APIResourceDiscovery entries for one group-version's APIResourceList entries."""
    converted: list[dict[str, Any]] = []
    parents: dict[tuple[str, str], dict[str, Any]] = {}
    entries = list(entries)
    for entry in entries:
        if "/" in entry["name"]:
            continue
        scope = _scope(entry["namespaced"])
        resource: dict[str, Any] = {
            "resource": entry["name"],
            "responseKind": {"group": group, "version": version, "kind": entry["kind"]},
            "scope": scope,
            "singularResource": entry["singularName"],
            "verbs": list(entry["verbs"]),
        }
        converted.append(resource)
        parents[(entry["name"], scope)] = resource
    for entry in entries:
        if "/" not in entry["name"]:
            continue
        parent_name, subresource = entry["name"].split("/", 1)
        scope = _scope(entry["namespaced"])
        parent = parents.get((parent_name, scope))
        if parent is None:
            # Not a resource of its own: an entry to hang the subresources on, with an
            # empty responseKind (client-go 0.26.0-0.26.3 dereference it).
            parent = {
                "resource": parent_name,
                "responseKind": {},
                "scope": scope,
                "singularResource": "",
                "verbs": [],
            }
            converted.append(parent)
            parents[(parent_name, scope)] = parent
        parent.setdefault("subresources", []).append(
            {
                "subresource": subresource,
                "responseKind": {"group": group, "version": version, "kind": entry["kind"]},
                "verbs": list(entry["verbs"]),
            }
        )
    return converted


def group_discovery(
    group: GroupVersions, resources_of: dict[str, list[APIResourceJSON]]
) -> dict[str, Any]:
    """One APIGroupDiscovery: versions in preference order, each `Current` (the server
    answered it just now, as a local apiserver's groups always are)."""
    return {
        "metadata": {"name": group.name, "creationTimestamp": None},
        "versions": [
            {
                "version": version,
                "resources": resources(group.name, version, resources_of[version]),
                "freshness": "Current",
            }
            for version in group.versions
        ],
    }


def discovery_list(version: str, groups: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The APIGroupDiscoveryList of `version` (v2 and v2beta1 have the same fields)."""
    return {
        "kind": KIND,
        "apiVersion": f"{GROUP}/{version}",
        "metadata": {},
        "items": list(groups),
    }


def etag(body: bytes) -> str:
    """The quoted ETag: upper-case hex SHA-512 of the document, as etag.go computes it."""
    return '"' + hashlib.sha512(body).hexdigest().upper() + '"'
