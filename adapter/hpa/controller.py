"""The HPA loop: kube-controller-manager's HorizontalController, around the pure sync.

Owns everything one leadership term of the loop does (pkg/controller/podautoscaler/
horizontal.go, v1.36), in the same order and with the same words:

* **Watch.** HPAs (autoscaling/v2, filtered on the server by `--hpa-selector`) and pods
  are listed and watched (`adapter.cluster.watching`); workers start once both caches
  are synced. Every add or update of an HPA, and every resync period for all of them,
  queues its key one sync period ahead (the HPA rate limiter), so each HPA is synced
  every period; a new HPA waits one period for its first sync, as upstream.
* **Sync** (reconcileAutoscaler), by `--hpa-workers` workers, one key at a time each:
  read the target's `/scale` through the REST mapping of its kind (any version of its
  group), take the pods its selector picks from the pod cache, check that no other
  managed HPA selects those pods (AmbiguousSelector), ask the metrics the calculation
  needs (`adapter.hpa.fetching`), decide (`adapter.hpa.sync.decide`), write the new
  replica count to `/scale`, complete the decision with the write's outcome
  (`sync.finish`), emit its Events, and write the status only when it changed (with
  retry on conflict). The controller's memory of each HPA (recommendations, scale
  events) lives here, keyed `namespace/name`, and is dropped when the HPA is deleted.
* **Shadow mode** runs every step but the writes: no `/scale`, no status, no Events.
  Its memory is what an active loop's would be (the decision counted as made), so its
  decisions track the in-tree controller's.
* **Records and metrics**: a sync that scaled or failed (or any, with
  `--hpa-record-all`) is written as a replayable snapshot (`adapter.hpa.records`), and
  every sync is exported (`adapter.hpa.exporting`).

A sync never raises out of a worker: bad input (an invalid selector, a missing target,
an unreadable metric) ends as a condition and an Event, as upstream; an unexpected
error is logged and the key synced again next period. Leader election around `run` is
`adapter.cluster.leaderelection`'s; composition is `adapter.hpa.running`'s.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adapter.cluster import autoscaling
from adapter.cluster import discovery as cluster_discovery
from adapter.cluster.connection import Cluster, ClusterError
from adapter.cluster.events import EventRecorder
from adapter.cluster.watching import Informer
from adapter.hpa import exporting, objects, snapshot
from adapter.hpa.caches import PodIndex, SelectorStore
from adapter.hpa.exporting import HPAExporter, MetricObservation
from adapter.hpa.fetching import (
    Fetched,
    FetchedMetricsSource,
    MetricRequest,
    MetricsBackend,
    ProbeSource,
    fetch_all,
    record_metrics,
)
from adapter.hpa.model import HorizontalPodAutoscaler, Pod, Scale
from adapter.hpa.queueing import QueueShutDown, WorkQueue
from adapter.hpa.records import DecisionRecorder, snapshot_document
from adapter.hpa.sync import (
    ControllerMemory,
    Decision,
    ScaleReadError,
    SyncResult,
    decide,
    finish,
    scale_from_api,
)
from adapter.k8s.resources import ResourceInfo, RestMapper, UnknownResourceError
from adapter.k8s.selectors import LabelSelector, SelectorError
from adapter.k8s.timefmt import format_time
from adapter.settings.hpa import HPASettings, Mode

__all__ = ["HorizontalController", "SyncOutcome"]

log = logging.getLogger(__name__)

COMPONENT = "horizontal-pod-autoscaler"
"""The Events' source component, kube-controller-manager's."""


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    """What one sync did, for tests, benchmarks and records."""

    key: str
    decision: Decision
    result: SyncResult
    fetched: dict[MetricRequest, Fetched]
    wrote_scale: bool
    status_written: bool


def _scale_value(raw: dict[str, Any]) -> Scale | ScaleReadError:
    spec = raw.get("spec") or {}
    status = raw.get("status") or {}
    replicas = spec.get("replicas") or 0
    status_replicas = status.get("replicas") or 0
    selector = status.get("selector") or ""
    if not isinstance(replicas, int) or not isinstance(status_replicas, int):
        return ScaleReadError("the scale's replica counts are not integers")
    return scale_from_api(replicas, status_replicas, str(selector))


class HorizontalController:
    """The loop; `run` is one leadership term (cancel it to stop)."""

    def __init__(
        self,
        cluster: Cluster,
        mapper: RestMapper,
        backend: MetricsBackend,
        settings: HPASettings,
        *,
        events: EventRecorder,
        exporter: HPAExporter | None = None,
        recorder: DecisionRecorder | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_sync: Callable[[SyncOutcome], None] | None = None,
    ) -> None:
        self._cluster = cluster
        self.mapper = mapper
        self.backend = backend
        self.settings = settings
        self.events = events
        self.exporter = exporter
        self.recorder = recorder
        self._clock = clock
        self._on_sync = on_sync
        self._selector = LabelSelector.parse(settings.selector)
        self.memory: dict[str, ControllerMemory] = {}
        self.pods = PodIndex()
        self.selectors = SelectorStore()
        self.queue = WorkQueue()
        self.syncs = 0
        self.synced = asyncio.Event()
        """Set once the HPA and pod caches are filled in a term (workers start then)."""
        self._hpas: Informer | None = None
        self._mapper_refreshed = 0.0
        self._invalid_logged: dict[str, str] = {}
        self._parsed: dict[str, tuple[str, HorizontalPodAutoscaler]] = {}
        self._set_backend_mapper()

    @property
    def active(self) -> bool:
        return self.settings.mode is Mode.ACTIVE

    def _set_backend_mapper(self) -> None:
        self.backend.mapper = self.mapper

    def _info(self, group: str, version: str, resource: str) -> ResourceInfo:
        info = self.mapper.for_version(group, version, resource)
        if info is None:
            info = RestMapper.builtin().for_version(group, version, resource)
        assert info is not None, f"{resource} unknown"
        return info

    @property
    def hpa_info(self) -> ResourceInfo:
        return self._info("autoscaling", "v2", "horizontalpodautoscalers")

    # -- the term ----------------------------------------------------------------------

    async def run(self) -> None:
        """Watch, wait for the caches, then sync with the workers until cancelled."""
        self.memory = {}
        self.pods = PodIndex()
        self.selectors = SelectorStore()
        self.queue = WorkQueue()
        self.synced.clear()
        period = self.settings.sync_period
        pods = Informer(
            self._cluster,
            self._info("", "v1", "pods"),
            on_add=lambda _key, obj: self.pods.put(obj),
            on_update=lambda _key, _old, obj: self.pods.put(obj),
            on_delete=lambda _key, obj: self.pods.remove_object(obj),
        )
        hpas = Informer(
            self._cluster,
            self.hpa_info,
            label_selector=self._selector,
            on_add=self._hpa_seen,
            on_update=lambda key, _old, obj: self._hpa_seen(key, obj),
            on_delete=self._hpa_deleted,
        )
        self._hpas = hpas
        log.info(
            "starting HPA loop (%s mode, %d workers, sync period %.0fs, selector %r)",
            self.settings.mode.value,
            self.settings.workers,
            period,
            self.settings.selector,
        )
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(pods.run(), name="hpa-pod-informer")
                group.create_task(hpas.run(), name="hpa-informer")
                await pods.synced.wait()
                await hpas.synced.wait()
                self.synced.set()
                for number in range(self.settings.workers):
                    group.create_task(self._worker(), name=f"hpa-worker-{number}")
                group.create_task(self._resync(hpas), name="hpa-resync")
        finally:
            self.queue.shut_down()
            self._hpas = None

    def _hpa_seen(self, key: str, obj: dict[str, Any]) -> None:
        namespace = str((obj.get("metadata") or {}).get("namespace") or "")
        self.queue.add_after(key, self.settings.sync_period)
        self.selectors.register(namespace, key)
        self._count()

    def _hpa_deleted(self, key: str, obj: dict[str, Any]) -> None:
        namespace = str((obj.get("metadata") or {}).get("namespace") or "")
        self.queue.forget(key)
        self.selectors.delete(namespace, key)
        self._count()

    def _count(self) -> None:
        if self.exporter is not None and self._hpas is not None:
            self.exporter.set_count(len(self._hpas.store))

    async def _resync(self, hpas: Informer) -> None:
        while True:
            await asyncio.sleep(self.settings.sync_period)
            for key in list(hpas.store):
                self.queue.add_after(key, self.settings.sync_period)

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except QueueShutDown:
                return
            deleted = False
            try:
                deleted = await self.reconcile_key(key)
            except Exception:
                log.exception("sync of HPA %s failed unexpectedly", key)
            finally:
                self.queue.done(key)
            if not deleted:
                self.queue.add_after(key, self.settings.sync_period)

    def cached_hpa(self, key: str) -> dict[str, Any] | None:
        """The HPA as the watch cache holds it now (None outside a term)."""
        return self._hpas.store.get(key) if self._hpas is not None else None

    async def sync(self, key: str) -> SyncOutcome | None:
        """Sync one HPA now, outside the queue (for tools and tests); None when it is not
        in the cache or cannot be read."""
        raw = self._hpas.store.get(key) if self._hpas is not None else None
        if raw is None:
            return None
        return await self.reconcile(key, raw)

    async def reconcile_key(self, key: str) -> bool:
        """reconcileKey: sync the HPA, or forget it if it is gone; True when gone."""
        raw = self._hpas.store.get(key) if self._hpas is not None else None
        if raw is None:
            namespace, _, name = key.partition("/")
            log.info("HPA %s has been deleted", key)
            self.memory.pop(key, None)
            self._invalid_logged.pop(key, None)
            self._parsed.pop(key, None)
            if self.exporter is not None:
                self.exporter.forget(namespace, name)
            return True
        await self.reconcile(key, raw)
        return False

    # -- one sync ----------------------------------------------------------------------

    async def _mappings(self, api_version: str, kind: str) -> list[ResourceInfo]:
        try:
            return autoscaling.scale_mappings(self.mapper, api_version, kind)
        except UnknownResourceError:
            # A kind served since the last discovery (a CRD installed later): look again,
            # at most once a sync period.
            loop = asyncio.get_running_loop()
            if loop.time() - self._mapper_refreshed < self.settings.sync_period:
                raise
            self._mapper_refreshed = loop.time()
            try:
                self.mapper = await cluster_discovery.fetch_rest_mapper(self._cluster)
            except ClusterError as err:
                log.warning("unable to refresh the REST mapping: %s", err)
                raise UnknownResourceError(f'no matches for kind "{kind}"') from err
            self._set_backend_mapper()
            return autoscaling.scale_mappings(self.mapper, api_version, kind)

    async def reconcile(self, key: str, raw: dict[str, Any]) -> SyncOutcome | None:
        started = time.perf_counter()
        action, error = exporting.ACTION_NONE, exporting.ERROR_NONE
        observations: list[MetricObservation] = []
        try:
            outcome = await self._reconcile(key, raw)
            if outcome is None:
                error = exporting.ERROR_SPEC
                return None
            result = outcome.result
            if outcome.decision.rescale:
                current = outcome.decision.current_replicas
                desired = outcome.decision.desired_replicas
                action = exporting.ACTION_UP if desired > current else exporting.ACTION_DOWN
            if result.events and any(e.type == "Warning" for e in result.events):
                error = exporting.ERROR_INTERNAL
            fetch_seconds = max((f.seconds for f in outcome.fetched.values()), default=0.0)
            for metric in result.explanation.metrics:
                metric_action = exporting.ACTION_NONE
                current = result.explanation.current_replicas or 0
                if metric.proposal is not None and metric.proposal > current:
                    metric_action = exporting.ACTION_UP
                elif metric.proposal is not None and metric.proposal < current:
                    metric_action = exporting.ACTION_DOWN
                observations.append(
                    MetricObservation(
                        metric.type,
                        metric_action,
                        exporting.ERROR_INTERNAL if metric.error else exporting.ERROR_NONE,
                        fetch_seconds,
                    )
                )
            return outcome
        except Exception:
            error = exporting.ERROR_INTERNAL
            raise
        finally:
            self.syncs += 1
            if self.exporter is not None:
                self.exporter.observe(
                    action=action,
                    error=error,
                    seconds=time.perf_counter() - started,
                    metrics=observations,
                )

    async def _reconcile(self, key: str, raw: dict[str, Any]) -> SyncOutcome | None:
        config = self.settings.controller
        version = str((raw.get("metadata") or {}).get("resourceVersion") or "")
        parsed = self._parsed.get(key)
        if parsed is not None and parsed[0] == version and version:
            hpa = parsed[1]
        else:
            try:
                hpa = objects.parse_hpa(raw, config.feature_gates)
            except objects.InvalidObject as err:
                if self._invalid_logged.get(key) != version:
                    self._invalid_logged[key] = version
                    log.warning("HPA %s cannot be synced: %s", key, err)
                return None
            # An object version parses the same every time: keep it until it changes.
            self._parsed[key] = (version, hpa)
        now = self._clock()
        ref = hpa.spec.scale_target_ref
        errors: list[dict[str, str]] = []
        scale_raw: dict[str, Any] | None = None
        target: ResourceInfo | None = None
        scale: Scale | ScaleReadError
        try:
            mappings = await self._mappings(ref.api_version, ref.kind)
            scale_raw, target = await autoscaling.get_scale(
                self._cluster, mappings, hpa.namespace, ref.name
            )
            scale = _scale_value(scale_raw)
        except (ClusterError, UnknownResourceError, autoscaling.InvalidGroupVersion) as err:
            scale = ScaleReadError(autoscaling.error_text(err))
            errors.append({"read": "scale", "error": scale.message})

        pods: list[Pod] = []
        ambiguous: str | None = None
        if isinstance(scale, Scale) and scale.selector:
            try:
                selector = LabelSelector.parse(scale.selector)
            except SelectorError:
                selector = None
            if selector is not None:
                pods = self.pods.select(hpa.namespace, selector)
                self.selectors.update(hpa.namespace, key, selector)
                holders = self.selectors.hpas_matching(hpa.namespace, pods)
                if len(holders) > 1:
                    ambiguous = (
                        f"pods by selector {scale.selector} are controlled by multiple HPAs: "
                        f"[{' '.join(holders)}]"
                    )

        memory = self.memory.get(key, ControllerMemory())
        probe = ProbeSource()
        decide(hpa, scale, pods, probe, memory, now, config, ambiguous=ambiguous)
        fetched = await fetch_all(self.backend, probe.requests)
        for result_of_fetch in fetched.values():
            if result_of_fetch.error is not None:
                errors.append(
                    {
                        "read": type(result_of_fetch.request).__name__,
                        "error": result_of_fetch.error,
                    }
                )
        decision = decide(
            hpa, scale, pods, FetchedMetricsSource(fetched), memory, now, config,
            ambiguous=ambiguous,
        )  # fmt: skip

        write_error: str | None = None
        wrote_scale = False
        if decision.rescale and self.active and scale_raw is not None and target is not None:
            try:
                await autoscaling.update_scale(
                    self._cluster, target, hpa.namespace, ref.name, scale_raw,
                    decision.desired_replicas,
                )  # fmt: skip
                wrote_scale = True
            except ClusterError as err:
                write_error = autoscaling.error_text(err)
                errors.append({"write": "scale", "error": write_error})
        result = finish(decision, write_error)
        self.memory[key] = result.memory
        if result.rescale:
            log.info(
                "%s HPA %s: %d -> %d replicas (%s)",
                "rescaled" if self.active else "would rescale (shadow)",
                key,
                decision.current_replicas,
                result.desired_replicas,
                decision.rescale_reason,
            )

        reference = objects.hpa_reference(raw)
        if self.active:
            for event in result.events:
                self.events.record(reference, event.type, event.reason, event.message)
        status_written = False
        new_status = result.status.to_wire(format_time)
        if self.active and new_status != hpa.status.to_wire(format_time):
            try:
                await autoscaling.update_status(self._cluster, self.hpa_info, raw, new_status)
                status_written = True
            except ClusterError as err:
                message = autoscaling.error_text(err)
                errors.append({"write": "status", "error": message})
                self.events.record(reference, "Warning", "FailedUpdateStatus", message)

        outcome = SyncOutcome(key, decision, result, fetched, wrote_scale, status_written)
        if self.exporter is not None:
            self.exporter.publish(hpa, result)
        if self.recorder is not None:
            failed = bool(errors) or any(e.type == "Warning" for e in result.events)
            if self.recorder.wants(scaled=result.rescale, failed=failed):
                self._record(raw, hpa, scale_raw, pods, fetched, memory, now, outcome, errors)
        if self._on_sync is not None:
            self._on_sync(outcome)
        return outcome

    def _record(
        self,
        raw: dict[str, Any],
        hpa: HorizontalPodAutoscaler,
        scale_raw: dict[str, Any] | None,
        pods: Sequence[Pod],
        fetched: dict[MetricRequest, Fetched],
        memory: ControllerMemory,
        now: datetime,
        outcome: SyncOutcome,
        errors: Sequence[dict[str, str]],
    ) -> None:
        assert self.recorder is not None
        decision = snapshot.render_result(outcome.result)
        decision["mode"] = self.settings.mode.value
        decision["wrote"] = {"scale": outcome.wrote_scale, "status": outcome.status_written}
        document = snapshot_document(
            now=now,
            config=self.settings.controller,
            hpa=raw,
            scale=scale_raw,
            pods=[objects.pod_to_wire(pod, now) for pod in pods],
            metrics=record_metrics(fetched),
            memory=memory,
            decision=decision,
            errors=errors,
        )
        self.recorder.write(document, now, hpa.namespace, hpa.name)
