"""Objects by label selector: the adapter's hot path to the cluster, and raw reads.

Owns turning "the pods matching app=web in shop" into one metadata-only list call: the
selector goes to the server (never filtered here), the Accept header asks for a
PartialObjectMetadataList (names and labels, not 1000 full pod specs), the body is
decoded with orjson from bytes, and the names come back in the server's order, which is
the order metric items are answered in (as upstream, whose dynamic-client list returns
that order). `continue` tokens are followed when a page size is asked for. Also plain
reads (`get_object`, `list_objects`) returning wire JSON for the HPA loop. Requests and
errors are `connection`'s; PromQL is `adapter.rules`'.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict, cast
from urllib.parse import quote

from adapter.cluster.connection import Cluster
from adapter.k8s.resources import ResourceInfo
from adapter.k8s.selectors import LabelSelector

__all__ = [
    "METADATA_LIST_ACCEPT",
    "ClusterObjectLister",
    "ObjectList",
    "get_object",
    "list_object_names",
    "list_objects",
]

METADATA_LIST_ACCEPT = (
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
)
"""What client-go's metadata client sends; servers without the transform answer JSON."""


class ObjectMeta(TypedDict, total=False):
    name: str
    namespace: str
    uid: str
    resourceVersion: str
    generation: int
    creationTimestamp: str
    deletionTimestamp: str
    labels: dict[str, str]
    annotations: dict[str, str]
    ownerReferences: list[dict[str, Any]]


class KubeObject(TypedDict):
    """Any Kubernetes object on the wire (the parts every kind has)."""

    apiVersion: NotRequired[str]
    kind: NotRequired[str]
    metadata: ObjectMeta


@dataclass(frozen=True, slots=True)
class ObjectList:
    items: list[KubeObject]
    resource_version: str


def collection_path(info: ResourceInfo, namespace: str | None) -> str:
    """`/api/v1/namespaces/<ns>/pods`, or the all-namespaces / cluster-scoped path."""
    if info.namespaced and namespace:
        return f"{info.path_prefix}/namespaces/{quote(namespace, safe='')}/{info.resource}"
    return f"{info.path_prefix}/{info.resource}"


def object_path(info: ResourceInfo, namespace: str | None, name: str) -> str:
    return f"{collection_path(info, namespace)}/{quote(name, safe='')}"


def _list_query(
    selector: LabelSelector, field_selector: str, limit: int | None, token: str
) -> list[tuple[str, str]]:
    query: list[tuple[str, str]] = []
    if not selector.is_empty():
        query.append(("labelSelector", str(selector)))
    if field_selector:
        query.append(("fieldSelector", field_selector))
    if limit:
        query.append(("limit", str(limit)))
    if token:
        query.append(("continue", token))
    return query


async def _list_pages(
    cluster: Cluster,
    info: ResourceInfo,
    namespace: str | None,
    selector: LabelSelector,
    *,
    field_selector: str = "",
    page_size: int | None = None,
    accept: str = "application/json",
) -> tuple[list[Mapping[str, Any]], str]:
    path = collection_path(info, namespace)
    items: list[Mapping[str, Any]] = []
    token = ""
    resource_version = ""
    while True:
        body = await cluster.request_json(
            "GET",
            path,
            query=_list_query(selector, field_selector, page_size, token),
            headers={"Accept": accept},
        )
        page = body.get("items") if isinstance(body, Mapping) else None
        metadata = (body.get("metadata") if isinstance(body, Mapping) else None) or {}
        if not resource_version:
            resource_version = str(metadata.get("resourceVersion", ""))
        items.extend(item for item in page or () if isinstance(item, Mapping))
        token = str(metadata.get("continue") or "")
        if not token:
            return items, resource_version


async def list_object_names(
    cluster: Cluster,
    info: ResourceInfo,
    namespace: str | None,
    selector: LabelSelector,
    *,
    page_size: int | None = None,
) -> list[str]:
    """Names of the objects the selector matches, in the server's list order.

    One metadata-only list call (more only when `page_size` asks the server to page).
    A selector that matches nothing (a null API selector) asks nothing.
    """
    if selector.matches_nothing:
        return []
    items, _ = await _list_pages(
        cluster, info, namespace, selector, page_size=page_size, accept=METADATA_LIST_ACCEPT
    )
    names: list[str] = []
    for item in items:
        metadata = item.get("metadata")
        if isinstance(metadata, Mapping) and isinstance(metadata.get("name"), str):
            names.append(metadata["name"])
    return names


async def list_objects(
    cluster: Cluster,
    info: ResourceInfo,
    namespace: str | None,
    selector: LabelSelector | None = None,
    *,
    field_selector: str = "",
    page_size: int | None = None,
) -> ObjectList:
    """Full objects (wire JSON) with the list's resourceVersion, for watch resumption."""
    chosen = selector if selector is not None else LabelSelector.everything()
    if chosen.matches_nothing:
        return ObjectList([], "")
    items, resource_version = await _list_pages(
        cluster, info, namespace, chosen, field_selector=field_selector, page_size=page_size
    )
    return ObjectList(cast(list[KubeObject], [dict(item) for item in items]), resource_version)


async def get_object(
    cluster: Cluster, info: ResourceInfo, namespace: str | None, name: str, subresource: str = ""
) -> dict[str, Any]:
    """One object (or its subresource, such as `scale`) as wire JSON."""
    path = object_path(info, namespace, name)
    if subresource:
        path = f"{path}/{subresource}"
    body = await cluster.request_json("GET", path)
    return dict(body) if isinstance(body, Mapping) else {}


class ClusterObjectLister:
    """`list_object_names` bound to a cluster: the providers' ObjectLister."""

    def __init__(self, cluster: Cluster, *, page_size: int | None = None) -> None:
        self._cluster = cluster
        self._page_size = page_size

    async def list_object_names(
        self, info: ResourceInfo, namespace: str | None, selector: LabelSelector
    ) -> list[str]:
        return await list_object_names(
            self._cluster, info, namespace, selector, page_size=self._page_size
        )
