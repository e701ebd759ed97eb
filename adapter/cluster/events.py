"""Kubernetes Events about objects, recorded as client-go's event recorder records them.

Owns the core/v1 Event objects a controller leaves on the objects it manages (what
`kubectl describe` shows under Events), with client-go's `record` package semantics so
that runbooks and dashboards see what they see from kube-controller-manager:

* each event is named `<object>.<hex unix nanos>`, carries the involved object's
  reference, `source.component` and `reportingComponent`, `count` and first/last
  timestamps;
* a repeat of an identical event (same object, type, reason and message) patches the
  existing Event's `count`, `lastTimestamp` and `message` instead of creating another;
* more than ten different messages for the same object, type and reason within ten
  minutes are folded into one Event whose message starts with
  "(combined from similar events): ";
* a spam filter allows a burst of 25 events per object and source, then one every five
  minutes.

`record` never blocks the caller: events queue (up to 1000, the rest are dropped with a
log line, as the broadcaster drops) and `run` writes them, logging write failures.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from adapter.cluster.connection import Cluster, ClusterApiError, ClusterError
from adapter.k8s.timefmt import format_time

__all__ = ["EventRecorder", "ObjectReference", "reference_to"]

log = logging.getLogger(__name__)

QUEUE_LENGTH = 1000
CACHE_SIZE = 4096
SPAM_BURST = 25
SPAM_REFILL_SECONDS = 300.0
AGGREGATE_MAX_EVENTS = 10
AGGREGATE_INTERVAL_SECONDS = 600.0
COMBINED_PREFIX = "(combined from similar events): "


@dataclass(frozen=True, slots=True)
class ObjectReference:
    """A core/v1 ObjectReference to the object an event is about."""

    kind: str
    namespace: str
    name: str
    uid: str = ""
    api_version: str = ""
    resource_version: str = ""

    def to_wire(self) -> dict[str, str]:
        wire = {"kind": self.kind, "namespace": self.namespace, "name": self.name}
        if self.uid:
            wire["uid"] = self.uid
        if self.api_version:
            wire["apiVersion"] = self.api_version
        if self.resource_version:
            wire["resourceVersion"] = self.resource_version
        return wire


def reference_to(obj: Mapping[str, Any], kind: str, api_version: str) -> ObjectReference:
    """reference.GetReference for an object as read from the API."""
    metadata = obj.get("metadata") or {}
    return ObjectReference(
        kind=kind,
        namespace=str(metadata.get("namespace") or ""),
        name=str(metadata.get("name") or ""),
        uid=str(metadata.get("uid") or ""),
        api_version=api_version,
        resource_version=str(metadata.get("resourceVersion") or ""),
    )


class _LRU(OrderedDict[str, Any]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self._size = size

    def put(self, key: str, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self._size:
            self.popitem(last=False)


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


@dataclass(slots=True)
class _Aggregate:
    messages: set[str] = field(default_factory=set)
    last: float = 0.0


@dataclass(slots=True)
class _Observed:
    count: int
    name: str
    first_timestamp: str


@dataclass(frozen=True, slots=True)
class _Pending:
    involved: ObjectReference
    type: str
    reason: str
    message: str
    at: datetime


class EventRecorder:
    """Record events for one component; `run` (a supervised task) writes them."""

    def __init__(
        self,
        cluster: Cluster,
        component: str,
        *,
        host: str = "",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self._cluster = cluster
        self.component = component
        self.host = host
        self._clock = clock
        self._monotonic = monotonic
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(QUEUE_LENGTH)
        self._spam: _LRU = _LRU(CACHE_SIZE)
        self._aggregates: _LRU = _LRU(CACHE_SIZE)
        self._observed: _LRU = _LRU(CACHE_SIZE)
        self._last_nanos = 0
        self.written = 0
        self.dropped = 0

    def record(self, involved: ObjectReference, event_type: str, reason: str, message: str) -> None:
        """Queue an event; never waits."""
        try:
            self._queue.put_nowait(_Pending(involved, event_type, reason, message, self._clock()))
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning(
                "event queue full, dropping %s %s on %s/%s: %s",
                event_type,
                reason,
                involved.namespace,
                involved.name,
                message,
            )

    async def run(self) -> None:
        while True:
            pending = await self._queue.get()
            try:
                await self._write(pending)
            except ClusterError as err:
                log.warning(
                    "unable to write event %s on %s/%s: %s",
                    pending.reason,
                    pending.involved.namespace,
                    pending.involved.name,
                    err,
                )

    async def flush(self) -> None:
        """Write everything queued so far (for shutdown and tests)."""
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            try:
                await self._write(pending)
            except ClusterError as err:
                log.warning("unable to write event %s: %s", pending.reason, err)

    # -- correlation ----------------------------------------------------------------

    def _now(self) -> float:
        if self._monotonic is not None:
            return self._monotonic()
        return asyncio.get_running_loop().time()

    def _object_key(self, involved: ObjectReference) -> str:
        return "\x00".join(
            (
                self.component,
                self.host,
                involved.kind,
                involved.namespace,
                involved.name,
                involved.uid,
                involved.api_version,
            )
        )

    def _allowed(self, key: str) -> bool:
        """EventSourceObjectSpamFilter: a token bucket per source and object."""
        now = self._now()
        bucket = self._spam.get(key)
        if bucket is None:
            bucket = _Bucket(float(SPAM_BURST), now)
        else:
            refill = (now - bucket.stamp) / SPAM_REFILL_SECONDS
            bucket.tokens = min(float(SPAM_BURST), bucket.tokens + refill)
            bucket.stamp = now
        self._spam.put(key, bucket)
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def _aggregate(self, object_key: str, pending: _Pending) -> tuple[str, str]:
        """EventAggregator: (cache key, message) after folding similar events."""
        aggregate_key = "\x00".join((object_key, pending.type, pending.reason))
        event_key = "\x00".join((aggregate_key, pending.message))
        now = self._now()
        record = self._aggregates.get(aggregate_key)
        if record is None or now - record.last > AGGREGATE_INTERVAL_SECONDS:
            record = _Aggregate()
        record.messages.add(pending.message)
        record.last = now
        self._aggregates.put(aggregate_key, record)
        if len(record.messages) < AGGREGATE_MAX_EVENTS:
            return event_key, pending.message
        record.messages.pop()
        return aggregate_key, COMBINED_PREFIX + pending.message

    async def _write(self, pending: _Pending) -> None:
        object_key = self._object_key(pending.involved)
        if not self._allowed(object_key):
            log.debug("event %s on %s rate limited", pending.reason, pending.involved.name)
            return
        cache_key, message = self._aggregate(object_key, pending)
        timestamp = format_time(pending.at)
        involved = pending.involved
        namespace = involved.namespace or "default"
        observed = self._observed.get(cache_key)
        if observed is not None:
            path = f"/api/v1/namespaces/{quote(namespace, safe='')}/events/{quote(observed.name)}"
            patch = {"count": observed.count + 1, "lastTimestamp": timestamp, "message": message}
            try:
                await self._cluster.request_json(
                    "PATCH",
                    path,
                    body=patch,
                    content_type="application/strategic-merge-patch+json",
                )
            except ClusterApiError as err:
                if err.code != 404:
                    raise
            else:
                observed.count += 1
                self._observed.put(cache_key, observed)
                self.written += 1
                return
        # Names must be unique: two events in the same microsecond get successive nanos.
        nanos = max(int(pending.at.timestamp() * 1_000_000) * 1000, self._last_nanos + 1)
        self._last_nanos = nanos
        name = f"{involved.name}.{nanos:x}"
        event: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved.to_wire(),
            "reason": pending.reason,
            "message": message,
            "source": {"component": self.component, **({"host": self.host} if self.host else {})},
            "firstTimestamp": timestamp,
            "lastTimestamp": timestamp,
            "count": 1,
            "type": pending.type,
            "eventTime": None,
            "reportingComponent": self.component,
            "reportingInstance": self.host,
        }
        await self._cluster.request_json(
            "POST", f"/api/v1/namespaces/{quote(namespace, safe='')}/events", body=event
        )
        self._observed.put(cache_key, _Observed(1, name, timestamp))
        self.written += 1
