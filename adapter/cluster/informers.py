"""Object metadata kept current by list and watch, so `*` requests ask the API server nothing.

Owns a metadata informer per (resource, field selector): one metadata-only LIST of the
whole cluster (`as=PartialObjectMetadataList`), then a WATCH from that list's
resourceVersion asking for `as=PartialObjectMetadata` events, re-watched when the
server ends it and listed again on 410 Gone or a broken watch, with backoff, as
client-go's reflector does (the watch request itself is `watching.watch_events`'). Of
each object only namespace, name and labels are kept, per namespace, with the names in
the API server's list order (etcd key order: `<namespace>/<name>`), so an answer is
the order a list call would have given. Answers are memoised per (namespace, label
selector) until that namespace changes: an HPA asks the same question every 15 s, and
matching a thousand label sets costs more than the rest of the request.

Also the cache of informers (`MetadataCache`): started lazily on first use of a
resource, waited for until the first list is in (client-go's HasSynced), and
supervised. Where the cache cannot serve, callers list per request as before: the
server refuses the list or the watch (RBAC without `watch`, or a namespaced Role: 403;
a resource without watch: 405; logged once), the first list failed, or the cache is
closed. An informer whose task dies of anything else makes requests fail with a clear
503 and `MetadataCache.supervise` end (the process exits, it does not limp on).

`CachedObjectLister` is the custom metrics provider's ObjectLister on top of it; the
resource metrics provider's cached pods and nodes are `adapter.providers.resource`'s.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from adapter.cluster import objects, watching
from adapter.cluster.connection import Cluster, ClusterApiError, ClusterError
from adapter.k8s import status
from adapter.k8s.resources import ResourceInfo
from adapter.k8s.selectors import LabelSelector

__all__ = [
    "METADATA_WATCH_ACCEPT",
    "CachedObject",
    "CachedObjectLister",
    "InformerRefused",
    "InformerStopped",
    "MetadataCache",
    "MetadataInformer",
]

log = logging.getLogger(__name__)

METADATA_WATCH_ACCEPT: Final = (
    "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
)
"""client-go's metadata client asks for PartialObjectMetadata events when it watches
(and PartialObjectMetadataList when it lists); the plain JSON fallback is for servers
without the transform, whose whole objects carry the same metadata."""

REFUSING_CODES: Final = frozenset({403, 405})
"""Answers that will not change by retrying: no RBAC for cluster-wide list or watch,
or a resource that cannot be watched."""

_BACKOFF_INITIAL: Final = 0.8
_BACKOFF_MAX: Final = 30.0
_QUICK_WATCH: Final = 1.0
"""A watch that ends within this many seconds without an event is backed off from, so a
server (or a proxy) that closes watches at once is not asked in a tight loop."""
_ANSWERS_PER_NAMESPACE: Final = 64
"""Memoised selector answers per namespace; more selectors than this and they start
over (each one costs a scan of the namespace to rebuild)."""


class InformerError(ClusterError):
    """A metadata informer cannot serve its resource."""


class InformerRefused(InformerError):
    """The API server refuses to let this client list or watch the resource cluster-wide:
    its objects are listed per request instead."""


class InformerStopped(InformerError):
    """An informer's task ended unexpectedly (a bug, not the server's answer)."""


@dataclass(frozen=True, slots=True)
class CachedObject:
    """What the cache keeps of an object: who it is and its labels (read-only)."""

    namespace: str
    name: str
    labels: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class _Answer:
    objects: tuple[CachedObject, ...]
    names: tuple[str, ...]


def _answer(candidates: Sequence[CachedObject], selector: LabelSelector) -> _Answer:
    if selector.is_empty():
        chosen = tuple(candidates)
    else:
        matches = selector.matches
        chosen = tuple(obj for obj in candidates if matches(obj.labels))
    return _Answer(chosen, tuple(obj.name for obj in chosen))


class _Bucket:
    """One namespace's objects (a cluster-scoped resource's under ""), with the names in
    order and the answers given since the last change."""

    __slots__ = ("_answers", "_ordered", "objects")

    def __init__(self) -> None:
        self.objects: dict[str, CachedObject] = {}
        self._ordered: tuple[CachedObject, ...] | None = None
        self._answers: dict[LabelSelector, _Answer] = {}

    def put(self, obj: CachedObject) -> bool:
        """Store `obj`; False when nothing an answer depends on changed (a status update)."""
        if self.objects.get(obj.name) == obj:
            return False
        self.objects[obj.name] = obj
        self._ordered = None
        self._answers.clear()
        return True

    def remove(self, name: str) -> bool:
        if self.objects.pop(name, None) is None:
            return False
        self._ordered = None
        self._answers.clear()
        return True

    def ordered(self) -> tuple[CachedObject, ...]:
        ordered = self._ordered
        if ordered is None:
            ordered = self._ordered = tuple(self.objects[name] for name in sorted(self.objects))
        return ordered

    def matching(self, selector: LabelSelector) -> _Answer:
        answer = self._answers.get(selector)
        if answer is None:
            if len(self._answers) >= _ANSWERS_PER_NAMESPACE:
                self._answers.clear()
            answer = self._answers[selector] = _answer(self.ordered(), selector)
        return answer


_NO_ANSWER: Final = _Answer((), ())


def _cached_object(item: Any) -> CachedObject | None:
    metadata = item.get("metadata") if isinstance(item, Mapping) else None
    if not isinstance(metadata, Mapping):
        return None
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        return None
    labels = metadata.get("labels")
    return CachedObject(
        str(metadata.get("namespace") or ""),
        name,
        labels if isinstance(labels, dict) else {},
    )


class MetadataInformer:
    """List and watch of one resource's metadata, cluster-wide, under a field selector.

    `run` keeps it current for ever (or raises InformerRefused); `synced` is set once the
    first list is in. Reads (`names`, `objects`, `get`) are synchronous and only valid
    once synced.
    """

    def __init__(
        self,
        cluster: Cluster,
        info: ResourceInfo,
        *,
        field_selector: str = "",
        page_size: int | None = None,
        watch_timeout: float | None = None,
    ) -> None:
        self._cluster = cluster
        self.info = info
        self.field_selector = field_selector
        self._page_size = page_size
        """None: one list call, as the reflector's first list (served by the watch cache,
        which ignores limits) effectively is."""
        self._watch_timeout = watch_timeout
        self.synced = asyncio.Event()
        self.resource_version = ""
        self.relists = 0
        """Lists made so far (the first included): more than one means watches expired
        or broke, worth a look when it keeps growing."""
        self.last_error: ClusterError | None = None
        """Why the last list failed, while the informer has never synced."""
        self._settled = asyncio.Event()
        """Set when a waiter has something to look at: synced, a failed first list, or
        the task's end (set by the cache)."""
        self._buckets: dict[str, _Bucket] = {}
        self._everywhere: dict[LabelSelector, _Answer] = {}

    def describe(self) -> str:
        what = str(self.info.group_resource)
        return f"{what} ({self.field_selector})" if self.field_selector else what

    # -- reads ---------------------------------------------------------------------

    def names(self, namespace: str | None, selector: LabelSelector) -> list[str]:
        """Names matching `selector` in `namespace` (None: every namespace), in the
        API server's list order."""
        return list(self._matching(namespace, selector).names)

    def objects(self, namespace: str | None, selector: LabelSelector) -> tuple[CachedObject, ...]:
        return self._matching(namespace, selector).objects

    def get(self, namespace: str | None, name: str) -> CachedObject | None:
        bucket = self._buckets.get(self._bucket_key(namespace))
        return bucket.objects.get(name) if bucket is not None else None

    def _bucket_key(self, namespace: str | None) -> str:
        return (namespace or "") if self.info.namespaced else ""

    def _matching(self, namespace: str | None, selector: LabelSelector) -> _Answer:
        if selector.matches_nothing:
            return _NO_ANSWER
        if namespace is not None or not self.info.namespaced:
            bucket = self._buckets.get(self._bucket_key(namespace))
            return bucket.matching(selector) if bucket is not None else _NO_ANSWER
        answer = self._everywhere.get(selector)
        if answer is None:
            if len(self._everywhere) >= _ANSWERS_PER_NAMESPACE:
                self._everywhere.clear()
            # etcd orders keys `<namespace>/<name>`; a namespace cannot hold "/", so the
            # namespaces compare as their prefixes do ("a-b/" before "a/").
            ordered = [
                obj
                for key in sorted(self._buckets, key=lambda ns: ns + "/")
                for obj in self._buckets[key].matching(selector).objects
            ]
            answer = self._everywhere[selector] = _Answer(
                tuple(ordered), tuple(obj.name for obj in ordered)
            )
        return answer

    # -- keeping current -------------------------------------------------------------

    def forget(self) -> None:
        """Drop what is kept: the informer will not be used again."""
        self.synced.clear()
        self._buckets = {}
        self._everywhere = {}

    async def wait_settled(self) -> None:
        await self._settled.wait()

    def settle(self) -> None:
        self._settled.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = _BACKOFF_INITIAL
        need_list = True
        while True:
            try:
                if need_list:
                    if not self.synced.is_set():
                        self._settled.clear()
                    await self.relist()
                    need_list = False
                started = loop.time()
                events = await self._watch()
                if events == 0 and loop.time() - started < _QUICK_WATCH:
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, _BACKOFF_MAX)
                else:
                    backoff = _BACKOFF_INITIAL
            except watching.WatchExpired as err:
                log.info("watch of %s expired (%s); listing again", self.describe(), err)
                need_list = True
            except ClusterError as err:
                if isinstance(err, ClusterApiError) and err.code in REFUSING_CODES:
                    raise InformerRefused(str(err)) from err
                self._failed(err)
                log.warning(
                    "%s of %s failed: %s; retrying in %.1fs",
                    "list" if need_list else "watch",
                    self.describe(),
                    err,
                    backoff,
                )
                if isinstance(err, ClusterApiError):
                    need_list = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)

    def _failed(self, err: ClusterError) -> None:
        if not self.synced.is_set():
            self.last_error = err
            self._settled.set()

    async def relist(self) -> None:
        """List again and replace what is kept: watches resume from this list."""
        path = objects.collection_path(self.info, None)
        headers = {"Accept": objects.METADATA_LIST_ACCEPT}
        buckets: dict[str, _Bucket] = {}
        resource_version = ""
        token = ""
        while True:
            query: list[tuple[str, str]] = []
            if self.field_selector:
                query.append(("fieldSelector", self.field_selector))
            if self._page_size:
                query.append(("limit", str(self._page_size)))
            if token:
                query.append(("continue", token))
            body = await self._cluster.request_json("GET", path, query=query, headers=headers)
            if not isinstance(body, Mapping):
                body = {}
            for item in body.get("items") or ():
                obj = _cached_object(item)
                if obj is not None:
                    bucket = buckets.get(obj.namespace)
                    if bucket is None:
                        bucket = buckets[obj.namespace] = _Bucket()
                    bucket.objects[obj.name] = obj
            metadata = body.get("metadata") or {}
            if not resource_version:
                resource_version = str(metadata.get("resourceVersion") or "")
            token = str(metadata.get("continue") or "")
            if not token:
                break
        self._buckets = buckets
        self._everywhere = {}
        self.resource_version = resource_version
        self.relists += 1
        self.last_error = None
        self.synced.set()
        self._settled.set()

    async def _watch(self) -> int:
        """One watch until the server ends it; the number of events seen."""
        timeout = self._watch_timeout
        if timeout is None:
            timeout = watching.MIN_WATCH_TIMEOUT * (1.0 + random.random())
        seen = 0
        async for event in watching.watch_events(
            self._cluster,
            objects.collection_path(self.info, None),
            resource_version=self.resource_version,
            field_selector=self.field_selector,
            timeout=timeout,
            accept=METADATA_WATCH_ACCEPT,
        ):
            seen += 1
            self._apply(event)
        return seen

    def _apply(self, event: watching.WatchEvent) -> None:
        metadata = event.object.get("metadata")
        if not isinstance(metadata, Mapping):
            return
        if event.type != "BOOKMARK":
            obj = _cached_object(event.object)
            if obj is not None and self._change(event.type, obj):
                self._everywhere.clear()
        resource_version = metadata.get("resourceVersion")
        if resource_version:
            self.resource_version = str(resource_version)

    def _change(self, kind: str, obj: CachedObject) -> bool:
        key = obj.namespace if self.info.namespaced else ""
        bucket = self._buckets.get(key)
        if kind == "DELETED":
            if bucket is None or not bucket.remove(obj.name):
                return False
            if not bucket.objects:
                del self._buckets[key]
            return True
        if kind not in ("ADDED", "MODIFIED"):
            return False
        if bucket is None:
            bucket = self._buckets[key] = _Bucket()
        return bucket.put(obj)


InformerKey = tuple[ResourceInfo, str]


class MetadataCache:
    """Metadata informers by (resource, field selector), started on first use.

    `informer()` answers None where the caller must list per request instead. Close
    with `close()` (or by cancelling `supervise()`): no informer outlives it.
    """

    def __init__(
        self,
        cluster: Cluster,
        *,
        sync_timeout: float | None = None,
        watch_timeout: float | None = None,
        page_size: int | None = None,
    ) -> None:
        self._cluster = cluster
        self._sync_timeout = sync_timeout if sync_timeout is not None else cluster.timeout
        """Seconds a request waits for a first list before listing for itself (the
        client's own request timeout: what a per-request list could have taken)."""
        self._watch_timeout = watch_timeout
        self._page_size = page_size
        self._informers: dict[InformerKey, MetadataInformer] = {}
        self._tasks: dict[InformerKey, asyncio.Task[None]] = {}
        self._unwatchable: set[InformerKey] = set()
        self._failure: asyncio.Future[InformerStopped] | None = None
        self.closed = False

    @property
    def informers(self) -> Mapping[InformerKey, MetadataInformer]:
        return self._informers

    async def informer(
        self, info: ResourceInfo, field_selector: str = ""
    ) -> MetadataInformer | None:
        """The synced informer for the resource, or None: list per request this time.

        Raises InformerStopped when the informer died (never for a refusal)."""
        key = (info, field_selector)
        informer = self._informers.get(key)
        if informer is None:
            if self.closed:
                return None
            if "list" not in info.verbs or "watch" not in info.verbs:
                if key not in self._unwatchable:
                    self._unwatchable.add(key)
                    log.info(
                        "%s cannot be listed and watched; listing it per request",
                        info.group_resource,
                    )
                return None
            informer = self._start(key)
        task = self._tasks[key]
        if not task.done():
            if informer.synced.is_set():
                return informer
            try:
                async with asyncio.timeout(self._sync_timeout):
                    await informer.wait_settled()
            except TimeoutError:
                log.warning(
                    "the first list of %s has not completed in %gs; listing per request",
                    informer.describe(),
                    self._sync_timeout,
                )
                return None
            if not task.done():
                # Synced, or the first list failed: this request lists for itself and
                # meets the same error a list per request would have met.
                return informer if informer.synced.is_set() else None
        self._raise_if_died(informer, task)
        return None

    def _start(self, key: InformerKey) -> MetadataInformer:
        info, field_selector = key
        informer = MetadataInformer(
            self._cluster,
            info,
            field_selector=field_selector,
            page_size=self._page_size,
            watch_timeout=self._watch_timeout,
        )
        task = asyncio.get_running_loop().create_task(
            informer.run(), name=f"informer {informer.describe()}"
        )
        self._informers[key] = informer
        self._tasks[key] = task
        task.add_done_callback(lambda done: self._on_end(informer, done))
        return informer

    def _on_end(self, informer: MetadataInformer, task: asyncio.Task[None]) -> None:
        informer.settle()
        if task.cancelled():
            return
        error = task.exception()
        if isinstance(error, InformerRefused):
            informer.forget()
            log.warning(
                "the API server refused to list and watch %s for the cache (%s); listing "
                "it per request instead: grant list and watch on it cluster-wide to use "
                "the cache",
                informer.describe(),
                error,
            )
            return
        log.error(
            "the cache of %s stopped: %s",
            informer.describe(),
            error or "it returned",
            exc_info=error,
        )
        if self._failure is not None and not self._failure.done():
            self._failure.set_result(self._stopped(informer, task))

    @staticmethod
    def _stopped(informer: MetadataInformer, task: asyncio.Task[None]) -> InformerStopped:
        error = None if task.cancelled() else task.exception()
        stopped = InformerStopped(
            f"the cache of {informer.describe()} stopped: {error or 'it returned'}"
        )
        stopped.__cause__ = error
        return stopped

    def _raise_if_died(self, informer: MetadataInformer, task: asyncio.Task[None]) -> None:
        """An ended task: cancelled (closed) or refused mean "list per request"."""
        if task.cancelled() or isinstance(task.exception(), InformerRefused):
            return
        raise self._stopped(informer, task)

    async def supervise(self) -> None:
        """Run beside the server: raise InformerStopped when an informer dies, and close
        the cache when cancelled."""
        self._failure = asyncio.get_running_loop().create_future()
        for informer, task in zip(self._informers.values(), self._tasks.values(), strict=True):
            if task.done() and not task.cancelled():
                error = task.exception()
                if not isinstance(error, InformerRefused):
                    raise self._stopped(informer, task)
        try:
            raise await self._failure
        finally:
            await self.close()

    async def close(self) -> None:
        """Stop every informer and wait for them; later calls list per request."""
        self.closed = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class CachedObjectLister:
    """The custom metrics provider's ObjectLister, answered from the cache; per request
    through `fallback` where the cache cannot serve."""

    def __init__(self, cache: MetadataCache, fallback: objects.ClusterObjectLister) -> None:
        self._cache = cache
        self._fallback = fallback

    async def list_object_names(
        self, info: ResourceInfo, namespace: str | None, selector: LabelSelector
    ) -> list[str]:
        if selector.matches_nothing:
            return []
        try:
            informer = await self._cache.informer(info)
        except InformerStopped as err:
            raise status.service_unavailable(
                f"unable to list {info.group_resource}: {err}"
            ) from err
        if informer is None:
            return await self._fallback.list_object_names(info, namespace, selector)
        return informer.names(namespace, selector)
