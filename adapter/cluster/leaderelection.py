"""Leader election over a coordination.k8s.io/v1 Lease, as client-go's leaderelection.

Owns deciding which of several replicas may act, with the Lease semantics every
Kubernetes controller uses, so `kubectl get lease` reads the same: `holderIdentity`,
`leaseDurationSeconds`, `acquireTime`, `renewTime` (MicroTime) and `leaseTransitions`.

* A candidate tries every `retry_period` (jittered by up to 1.2x) to take the lease: it
  creates it when missing, or takes it over when the holder has not renewed it for
  `lease_duration` as measured on the candidate's own clock from when it last saw the
  record change (client-go's observedTime, so clock skew between replicas does not
  matter). Taking it over bumps `leaseTransitions`.
* The leader renews every `retry_period`; when no renewal succeeds for
  `renew_deadline` it has lost the lease: the work it was doing is cancelled and it
  becomes a candidate again (kube-controller-manager exits instead; the effect on the
  cluster is the same, and the process stays up for its other duties).
* Writes are updates with the resourceVersion last read, so two candidates can never
  both win; on a clean shutdown the leader releases the lease (holder "", duration 1s)
  so a standby takes over at its next try instead of after the lease expires.

What runs while leading is the caller's coroutine; the Lease requests are
`connection`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from adapter.cluster.connection import Cluster, ClusterApiError, ClusterError
from adapter.k8s.timefmt import format_micro_time

__all__ = [
    "LeaderElectionConfig",
    "LeaderElector",
    "TimingError",
    "check_timing",
    "default_identity",
]

log = logging.getLogger(__name__)

JITTER_FACTOR = 1.2
"""client-go's JitterUntil factor for the acquire loop."""


class TimingError(ValueError):
    """Lease timings under which a leader could lose the lease without noticing."""


def check_timing(lease_duration: float, renew_deadline: float, retry_period: float) -> None:
    """client-go's NewLeaderElector checks, in its words: a standby must wait longer than
    the leader keeps retrying, and the leader must get more than one jittered try."""
    if lease_duration <= renew_deadline:
        raise TimingError("leaseDuration must be greater than renewDeadline")
    if renew_deadline <= JITTER_FACTOR * retry_period:
        raise TimingError("renewDeadline must be greater than retryPeriod*JitterFactor")
    if retry_period <= 0:
        raise TimingError("retryPeriod must be greater than zero")


def default_identity() -> str:
    """What kube-controller-manager uses: the host name plus a random suffix, so two
    processes on one host (or a restarted one) are different candidates."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


@dataclass(frozen=True, slots=True)
class LeaderElectionConfig:
    namespace: str
    name: str
    identity: str
    lease_duration: float = 15.0
    """Seconds a standby waits after the last observed renewal before taking over."""
    renew_deadline: float = 10.0
    """Seconds the leader keeps retrying a renewal before it gives up leading."""
    retry_period: float = 2.0
    """Seconds between attempts to acquire or renew."""
    release_on_cancel: bool = True

    def __post_init__(self) -> None:
        check_timing(self.lease_duration, self.renew_deadline, self.retry_period)


@dataclass(frozen=True, slots=True)
class _Record:
    holder_identity: str
    lease_duration_seconds: int
    acquire_time: str | None
    renew_time: str | None
    lease_transitions: int

    @classmethod
    def from_lease(cls, lease: dict[str, Any]) -> _Record:
        spec = lease.get("spec") or {}
        return cls(
            holder_identity=str(spec.get("holderIdentity") or ""),
            lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=spec.get("acquireTime"),
            renew_time=spec.get("renewTime"),
            lease_transitions=int(spec.get("leaseTransitions") or 0),
        )

    def to_spec(self) -> dict[str, Any]:
        return {
            "holderIdentity": self.holder_identity,
            "leaseDurationSeconds": self.lease_duration_seconds,
            "acquireTime": self.acquire_time,
            "renewTime": self.renew_time,
            "leaseTransitions": self.lease_transitions,
        }


class LeaderElector:
    """One candidate. `run(lead)` campaigns for ever and runs `lead()` while leading."""

    def __init__(
        self,
        cluster: Cluster,
        config: LeaderElectionConfig,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self._cluster = cluster
        self.config = config
        self._clock = clock
        self._on_change = on_change
        self._lease: dict[str, Any] | None = None
        self._observed: _Record | None = None
        self._observed_raw: dict[str, Any] | None = None
        self._observed_time = 0.0
        self.is_leader = False

    @property
    def _path(self) -> str:
        namespace = quote(self.config.namespace, safe="")
        return f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"

    def _loop_time(self) -> float:
        return asyncio.get_running_loop().time()

    def _set_leader(self, leading: bool) -> None:
        if leading != self.is_leader:
            self.is_leader = leading
            if self._on_change is not None:
                self._on_change(leading)

    def _set_observed(self, record: _Record) -> None:
        self._observed = record
        self._observed_time = self._loop_time()

    def _holds(self) -> bool:
        return self._observed is not None and self._observed.holder_identity == (
            self.config.identity
        )

    def _lease_valid(self) -> bool:
        if self._observed is None:
            return False
        expiry = self._observed_time + self._observed.lease_duration_seconds
        return expiry > self._loop_time()

    # -- the lease ---------------------------------------------------------------------

    async def _get(self) -> dict[str, Any] | None:
        try:
            lease = await self._cluster.request_json(
                "GET", f"{self._path}/{quote(self.config.name, safe='')}"
            )
        except ClusterApiError as err:
            if err.code == 404:
                return None
            raise
        return dict(lease)

    async def _create(self, record: _Record) -> None:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.config.name, "namespace": self.config.namespace},
            "spec": record.to_spec(),
        }
        self._lease = dict(await self._cluster.request_json("POST", self._path, body=body))

    async def _update(self, record: _Record) -> None:
        if self._lease is None:
            raise ClusterError("lease not initialized, call get or create first")
        body = dict(self._lease)
        body["spec"] = record.to_spec()
        self._lease = dict(
            await self._cluster.request_json(
                "PUT", f"{self._path}/{quote(self.config.name, safe='')}", body=body
            )
        )

    async def try_acquire_or_renew(self) -> bool:
        """tryAcquireOrRenew: one attempt; True when this candidate holds the lease."""
        now = format_micro_time(self._clock())
        desired = _Record(
            holder_identity=self.config.identity,
            lease_duration_seconds=int(self.config.lease_duration),
            acquire_time=now,
            renew_time=now,
            lease_transitions=0,
        )
        # Fast path: the leader renews the record it wrote last, without a read.
        if self._holds() and self._lease_valid() and self._observed is not None:
            renewal = _Record(
                desired.holder_identity,
                desired.lease_duration_seconds,
                self._observed.acquire_time,
                now,
                self._observed.lease_transitions,
            )
            try:
                await self._update(renewal)
            except ClusterError as err:
                log.info("optimistic renewal failed (%s), reading the lease", err)
            else:
                self._set_observed(renewal)
                return True
        try:
            lease = await self._get()
        except ClusterError as err:
            log.warning("unable to read lease %s: %s", self._describe(), err)
            return False
        if lease is None:
            try:
                await self._create(desired)
            except ClusterError as err:
                log.warning("unable to create lease %s: %s", self._describe(), err)
                return False
            self._set_observed(desired)
            return True
        self._lease = lease
        current = _Record.from_lease(lease)
        spec = lease.get("spec") or {}
        if spec != self._observed_raw:
            self._observed_raw = dict(spec)
            self._set_observed(current)
        if current.holder_identity and self._lease_valid() and not self._holds():
            return False
        if self._holds():
            desired = _Record(
                desired.holder_identity,
                desired.lease_duration_seconds,
                current.acquire_time,
                now,
                current.lease_transitions,
            )
        else:
            desired = _Record(
                desired.holder_identity,
                desired.lease_duration_seconds,
                now,
                now,
                current.lease_transitions + 1,
            )
        try:
            await self._update(desired)
        except ClusterError as err:
            log.info("unable to take lease %s: %s", self._describe(), err)
            return False
        self._set_observed(desired)
        return True

    async def release(self) -> None:
        """Give the lease up at once (holder "", duration 1s) if this candidate holds it."""
        if not self._holds() or self._observed is None:
            return
        now = format_micro_time(self._clock())
        record = _Record("", 1, now, now, self._observed.lease_transitions)
        try:
            await self._update(record)
        except ClusterError as err:
            log.warning("unable to release lease %s: %s", self._describe(), err)
            return
        self._set_observed(record)

    def _describe(self) -> str:
        return f"{self.config.namespace}/{self.config.name}"

    # -- the loops ---------------------------------------------------------------------

    async def _acquire(self) -> None:
        while True:
            if await self.try_acquire_or_renew():
                log.info("successfully acquired lease %s", self._describe())
                return
            delay = self.config.retry_period * (1.0 + random.random() * JITTER_FACTOR)
            await asyncio.sleep(delay)

    async def _renew(self) -> None:
        """Returns when a renewal could not be made within renew_deadline."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.config.retry_period)
            deadline = loop.time() + self.config.renew_deadline
            renewed = False
            while loop.time() < deadline:
                try:
                    async with asyncio.timeout(max(deadline - loop.time(), 0.001)):
                        renewed = await self.try_acquire_or_renew()
                except TimeoutError:
                    renewed = False
                if renewed:
                    break
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                await asyncio.sleep(min(self.config.retry_period, remaining))
            if not renewed:
                log.warning("failed to renew lease %s: deadline exceeded", self._describe())
                return

    async def run(self, lead: Callable[[], Awaitable[None]]) -> None:
        """Campaign, lead while holding the lease, campaign again after losing it.

        `lead()` is cancelled when the lease is lost; if it returns or raises on its own,
        that ends `run` too (with its exception), so a supervisor sees it.
        """
        try:
            while True:
                await self._acquire()
                self._set_leader(True)
                leading = asyncio.ensure_future(lead())
                renewing = asyncio.ensure_future(self._renew())
                try:
                    done, _ = await asyncio.wait(
                        {leading, renewing}, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    for task in (leading, renewing):
                        task.cancel()
                    await asyncio.gather(leading, renewing, return_exceptions=True)
                    self._set_leader(False)
                if leading in done:
                    leading.result()  # its exception, if any, ends the election
                    return
                log.warning("leadership of %s lost; standing by", self._describe())
                self._observed = None
                self._observed_raw = None
        finally:
            if self.config.release_on_cancel:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self.release())
