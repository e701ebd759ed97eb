"""The cluster's REST mapping, read from API discovery.

Owns fetching the discovery documents client-go's discovery REST mapper is built from:
`/api` and `/api/v1` for the core group, `/apis` for the groups in priority order, and
`/apis/<group>/<version>` for every version of every group (preferred first), so CRDs
and aggregated APIs are included. A group-version whose document cannot be fetched (an
aggregated API that is down answers 503) is left out with a warning, as client-go's
`GetAPIGroupResources` tolerates partial discovery; the core documents are required.
Call again to refresh: each call builds a new immutable `RestMapper`. Resolution rules
are `adapter.k8s.resources`'.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from adapter.cluster.connection import Cluster, ClusterError
from adapter.k8s.resources import RestMapper

__all__ = ["fetch_rest_mapper", "group_version_order"]

log = logging.getLogger(__name__)

_CONCURRENCY = 8


def group_version_order(api_groups: Mapping[str, Any]) -> list[str]:
    """`group/version` paths of an APIGroupList: groups in the server's order, each
    group's preferred version first, then its other versions as listed."""
    ordered: list[str] = []
    for group in api_groups.get("groups") or []:
        if not isinstance(group, Mapping):
            continue
        versions = [
            str(entry.get("groupVersion"))
            for entry in group.get("versions") or []
            if isinstance(entry, Mapping) and entry.get("groupVersion")
        ]
        preferred = (group.get("preferredVersion") or {}).get("groupVersion")
        if preferred in versions:
            versions.remove(preferred)
            versions.insert(0, preferred)
        ordered.extend(versions)
    return ordered


async def fetch_rest_mapper(cluster: Cluster) -> RestMapper:
    """Discover every served resource and build the mapping (2 + N requests)."""
    core_versions = await cluster.request_json("GET", "/api")
    versions = [str(v) for v in (core_versions.get("versions") or ["v1"])]
    core: Mapping[str, Any] | None = None
    if "v1" in versions:
        core = await cluster.request_json("GET", "/api/v1")
    api_groups = await cluster.request_json("GET", "/apis")
    paths = group_version_order(api_groups)
    gate = asyncio.Semaphore(_CONCURRENCY)

    async def fetch(group_version: str) -> Mapping[str, Any] | None:
        async with gate:
            try:
                document = await cluster.request_json("GET", f"/apis/{group_version}")
            except ClusterError as err:
                log.warning("discovery of %s failed, leaving it out: %s", group_version, err)
                return None
        if isinstance(document, Mapping):
            return document
        return None

    documents = await asyncio.gather(*(fetch(path) for path in paths))
    groups = [doc for doc in documents if doc is not None]
    return RestMapper.from_discovery(core, groups)
