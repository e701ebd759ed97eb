"""The requests of an HPA controller besides metrics: `/scale` and the HPA's `/status`.

Owns reading a scale target through its `/scale` subresource the way
kube-controller-manager does: the target's kind and API group (its version is not
used) map to every resource serving that kind, preferred version first, and each is
tried until one answers, the first error being the one reported. So Deployments,
StatefulSets, ReplicaSets and any custom resource with a scale subresource work alike.
Writing the scale back is an update of that Scale (its resourceVersion guards against
a concurrent change). Writing an HPA's status is an update of the `status` subresource,
retried on a conflict with the freshly read object (client-go's RetryOnConflict: five
attempts, about 10 ms apart).

`error_text` turns a request failure into the text client-go would print for it,
which is what conditions and events quote. What to write is `adapter.hpa`'s business.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping, Sequence
from typing import Any

from adapter.cluster.connection import Cluster, ClusterApiError, ClusterError
from adapter.cluster.objects import object_path
from adapter.k8s.resources import ResourceInfo, RestMapper, UnknownResourceError

__all__ = [
    "CONFLICT_RETRIES",
    "InvalidGroupVersion",
    "error_text",
    "get_scale",
    "scale_mappings",
    "update_scale",
    "update_status",
]

CONFLICT_RETRIES = 5


class InvalidGroupVersion(ValueError):
    """A scaleTargetRef.apiVersion that schema.ParseGroupVersion refuses."""


def error_text(err: BaseException) -> str:
    """The error as client-go's Error() prints it: a Status' message, else the cause."""
    if isinstance(err, ClusterApiError):
        return err.status.message
    return str(err)


def parse_group(api_version: str) -> str:
    """The group of a `group/version` (empty for `v1` and for an empty string)."""
    if not api_version or api_version == "/":
        return ""
    parts = api_version.split("/")
    if len(parts) == 1:
        return ""
    if len(parts) == 2:
        return parts[0]
    raise InvalidGroupVersion(f"unexpected GroupVersion string: {api_version}")


def scale_mappings(mapper: RestMapper, api_version: str, kind: str) -> list[ResourceInfo]:
    """RESTMappings for the target's group and kind: preferred version first.

    Raises InvalidGroupVersion or UnknownResourceError (with client-go's messages).
    """
    group = parse_group(api_version)
    best = mapper.by_kind(group, kind)
    others = [
        info
        for info in mapper
        if info.group == group and info.kind in (kind, best.kind) and info != best
    ]
    return [best, *others]


async def get_scale(
    cluster: Cluster, mappings: Sequence[ResourceInfo], namespace: str, name: str
) -> tuple[dict[str, Any], ResourceInfo]:
    """scaleForResourceMappings: the first mapping whose /scale answers, or the first error."""
    first_error: ClusterError | None = None
    for info in mappings:
        try:
            scale = await cluster.request_json("GET", object_path(info, namespace, name) + "/scale")
        except ClusterError as err:
            if first_error is None:
                first_error = err
            continue
        if isinstance(scale, Mapping):
            return dict(scale), info
    if first_error is None:
        raise UnknownResourceError("unrecognized resource")
    raise first_error


async def update_scale(
    cluster: Cluster,
    info: ResourceInfo,
    namespace: str,
    name: str,
    scale: Mapping[str, Any],
    replicas: int,
) -> dict[str, Any]:
    """Update the Scale read earlier with a new spec.replicas."""
    body = dict(scale)
    body["spec"] = {**(scale.get("spec") or {}), "replicas": replicas}
    answer = await cluster.request_json(
        "PUT", object_path(info, namespace, name) + "/scale", body=body
    )
    return dict(answer) if isinstance(answer, Mapping) else {}


async def update_status(
    cluster: Cluster,
    info: ResourceInfo,
    obj: Mapping[str, Any],
    new_status: Mapping[str, Any],
    *,
    attempts: int = CONFLICT_RETRIES,
) -> dict[str, Any]:
    """Update `obj`'s status subresource; on 409 Conflict read it again and retry."""
    metadata = obj.get("metadata") or {}
    namespace = str(metadata.get("namespace") or "")
    name = str(metadata.get("name") or "")
    path = object_path(info, namespace, name)
    current: Mapping[str, Any] = obj
    for attempt in range(attempts):
        body = dict(current)
        body["status"] = dict(new_status)
        try:
            answer = await cluster.request_json("PUT", path + "/status", body=body)
        except ClusterApiError as err:
            if err.code != 409 or attempt == attempts - 1:
                raise
            await asyncio.sleep(0.01 * (1.0 + 0.1 * random.random()))
            current = await cluster.request_json("GET", path)
            continue
        return dict(answer) if isinstance(answer, Mapping) else {}
    raise AssertionError("unreachable")
