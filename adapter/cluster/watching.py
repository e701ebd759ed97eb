"""List and watch one resource into memory: client-go's reflector and informer store.

Owns keeping a local copy of every object of one resource (optionally in one namespace,
optionally filtered by a label selector on the server) current, the way client-go's
reflector does: list (in pages of 500), then watch from the list's resourceVersion with
bookmarks, re-watch from the last seen resourceVersion when a watch ends (the server
closes each one after `timeoutSeconds`, five to ten minutes as client-go picks), and
list again when the server says that resourceVersion is too old (410 Gone, or an ERROR
event) or the watch cannot be reopened. After a relist the store is diffed against the
new list so handlers see the adds, updates and deletes they missed.

Handlers are plain synchronous callables run on the event loop; they must be quick
(the HPA loop only enqueues keys or updates an index). What the objects mean is the
caller's business; requests and errors are `connection`'s.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from adapter.cluster import objects
from adapter.cluster.connection import (
    Cluster,
    ClusterApiError,
    ClusterError,
    ClusterUnavailable,
    status_from_response,
)
from adapter.k8s import status
from adapter.k8s.resources import ResourceInfo
from adapter.k8s.selectors import LabelSelector

__all__ = ["Informer", "WatchEvent", "WatchExpired", "object_key", "watch_events"]

log = logging.getLogger(__name__)

LIST_PAGE_SIZE = 500
"""client-go's pager default: big lists arrive in pages, not one giant body."""
MIN_WATCH_TIMEOUT = 300.0
"""client-go's reflector asks for a watch of 5-10 minutes, randomised, so that a fleet of
clients does not reconnect in step."""
_BACKOFF_INITIAL = 0.8
_BACKOFF_MAX = 30.0


class WatchExpired(ClusterError):
    """The resourceVersion a watch started from is no longer known: list again."""


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: str
    """ADDED, MODIFIED, DELETED, BOOKMARK (ERROR events are raised, not returned)."""
    object: dict[str, Any]


def object_key(obj: Mapping[str, Any]) -> str:
    """cache.MetaNamespaceKeyFunc: `namespace/name`, or `name` for cluster-scoped objects."""
    metadata = obj.get("metadata") or {}
    namespace = metadata.get("namespace") or ""
    name = metadata.get("name") or ""
    return f"{namespace}/{name}" if namespace else str(name)


def _resource_version(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


async def watch_events(
    cluster: Cluster,
    path: str,
    *,
    resource_version: str,
    label_selector: str = "",
    field_selector: str = "",
    timeout: float = MIN_WATCH_TIMEOUT,
    accept: str = "application/json",
) -> AsyncIterator[WatchEvent]:
    """One watch request: its events until the server ends the stream.

    `accept` may ask for PartialObjectMetadata events (the metadata informers of
    `adapter.cluster.informers`); servers without the transform send whole objects.
    Raises WatchExpired for a 410 (as a response or as an ERROR event), ClusterApiError
    for other refusals and ClusterUnavailable when the connection breaks.
    """
    query = [("watch", "1"), ("allowWatchBookmarks", "true"), ("timeoutSeconds", str(int(timeout)))]
    if resource_version:
        query.append(("resourceVersion", resource_version))
    if label_selector:
        query.append(("labelSelector", label_selector))
    if field_selector:
        query.append(("fieldSelector", field_selector))
    await cluster.limiter.acquire()
    try:
        response = await cluster.api.call_api(
            path,
            "GET",
            query_params=query,
            header_params={"Accept": accept},
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=30.0, sock_read=timeout + 30.0
            ),
        )
    except (aiohttp.ClientError, TimeoutError, OSError) as err:
        raise ClusterUnavailable(f"GET {cluster.host}{path} (watch): {err}") from err
    try:
        if not 200 <= response.status < 300:
            raw = await response.read()
            error = status_from_response(response.status, "GET", raw)
            if error.code == 410:
                raise WatchExpired(error.message)
            raise ClusterApiError(error, "GET", path)
        pending = b""
        async for chunk in response.content.iter_any():
            pending += chunk
            while True:
                newline = pending.find(b"\n")
                if newline < 0:
                    break
                line, pending = pending[:newline], pending[newline + 1 :]
                if line.strip():
                    yield _decode_event(line, path)
        if pending.strip():
            yield _decode_event(pending, path)
    except (aiohttp.ClientError, TimeoutError, OSError) as err:
        raise ClusterUnavailable(f"GET {cluster.host}{path} (watch): {err}") from err
    finally:
        response.release()


def _decode_event(line: bytes, path: str) -> WatchEvent:
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError as err:
        raise ClusterUnavailable(f"GET {path} (watch): undecodable event: {err}") from err
    kind = str(event.get("type", ""))
    obj = event.get("object")
    if not isinstance(obj, dict):
        raise ClusterUnavailable(f"GET {path} (watch): event without an object")
    if kind == "ERROR":
        error = status.StatusError.from_status(obj)
        if error.code == 410:
            raise WatchExpired(error.message)
        raise ClusterApiError(error, "GET", path)
    return WatchEvent(kind, obj)


Handler = Callable[[str, dict[str, Any]], None]
UpdateHandler = Callable[[str, dict[str, Any], dict[str, Any]], None]


def _ignore(*_: Any) -> None:
    return None


class Informer:
    """A reflector and its store for one resource; `run` keeps it current for ever.

    `synced` is set once the first list has been applied, as client-go's HasSynced.
    """

    def __init__(
        self,
        cluster: Cluster,
        info: ResourceInfo,
        *,
        namespace: str | None = None,
        label_selector: LabelSelector | None = None,
        on_add: Handler = _ignore,
        on_update: UpdateHandler = _ignore,
        on_delete: Handler = _ignore,
        page_size: int = LIST_PAGE_SIZE,
    ) -> None:
        self._cluster = cluster
        self.info = info
        self._namespace = namespace
        self._selector = label_selector or LabelSelector.everything()
        self._on_add = on_add
        self._on_update = on_update
        self._on_delete = on_delete
        self._page_size = page_size
        self.store: dict[str, dict[str, Any]] = {}
        self.synced = asyncio.Event()
        self.resource_version = ""
        self.relists = 0
        """Lists made so far (the first included): more than one means watches expired
        or broke, worth a look when it keeps growing."""

    async def run(self) -> None:
        backoff = _BACKOFF_INITIAL
        need_list = True
        while True:
            try:
                if need_list:
                    await self.relist()
                    need_list = False
                await self._watch()
                backoff = _BACKOFF_INITIAL
            except WatchExpired as err:
                log.info("watch of %s expired (%s); listing again", self.info.resource, err)
                need_list = True
            except ClusterError as err:
                log.warning(
                    "watch of %s failed: %s; retrying in %.1fs", self.info.resource, err, backoff
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
                if isinstance(err, ClusterApiError):
                    need_list = True

    async def relist(self) -> None:
        """List again, replace the store and tell the handlers what changed."""
        listed = await objects.list_objects(
            self._cluster,
            self.info,
            self._namespace,
            self._selector,
            page_size=self._page_size,
        )
        self.relists += 1
        fresh: dict[str, dict[str, Any]] = {}
        for item in listed.items:
            obj = dict(item)
            fresh[object_key(obj)] = obj
        previous = self.store
        self.store = fresh
        self.resource_version = listed.resource_version
        for key, obj in previous.items():
            if key not in fresh:
                self._on_delete(key, obj)
        for key, obj in fresh.items():
            old = previous.get(key)
            if old is None:
                self._on_add(key, obj)
            elif _resource_version(old) != _resource_version(obj):
                self._on_update(key, old, obj)
        self.synced.set()

    async def _watch(self) -> None:
        path = objects.collection_path(self.info, self._namespace)
        selector = "" if self._selector.is_empty() else str(self._selector)
        timeout = MIN_WATCH_TIMEOUT * (1.0 + random.random())
        async for event in watch_events(
            self._cluster,
            path,
            resource_version=self.resource_version,
            label_selector=selector,
            timeout=timeout,
        ):
            rv = _resource_version(event.object)
            if event.type == "BOOKMARK":
                if rv:
                    self.resource_version = rv
                continue
            key = object_key(event.object)
            if event.type == "DELETED":
                old = self.store.pop(key, None)
                self._on_delete(key, old if old is not None else event.object)
            elif event.type in ("ADDED", "MODIFIED"):
                old = self.store.get(key)
                self.store[key] = event.object
                if old is None:
                    self._on_add(key, event.object)
                else:
                    self._on_update(key, old, event.object)
            if rv:
                self.resource_version = rv
