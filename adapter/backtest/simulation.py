"""The replay: one sync per step, through the sync the HPA loop runs.

Owns the loop of a backtest for one spec: at every step of the window, the simulated
target (its replica count and pods, `loadmodel.PodSet`) and the step's metrics
(`loadmodel`) go to `adapter.hpa.sync.sync` — the same pure function the controller
loop and `hpa evaluate` call — together with the HPA carrying the status the previous
sync wrote and the controller's memory (recommendations, scale events) it kept. What
the sync sets becomes the next step's replica count. Along the way it notes what the
report needs: replicas beside what ran, the metrics against their targets, the
decisions that rescaled with their explanation, and the gaps. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from adapter.backtest import loadmodel
from adapter.backtest.history import History, MetricHistory
from adapter.backtest.specs import BacktestSpec, MetricRead, read_for, target_of
from adapter.hpa import records, snapshot
from adapter.hpa.model import (
    EXTERNAL,
    OBJECT,
    PODS,
    RESOURCE,
    Container,
    HorizontalPodAutoscaler,
    MetricSpec,
    MetricStatus,
    MetricTarget,
    Scale,
)
from adapter.hpa.sync import ControllerMemory, SyncResult, sync
from adapter.k8s.quantity import Quantity
from adapter.k8s.timefmt import format_time
from adapter.settings import ControllerConfig

__all__ = ["Gap", "MetricPoint", "Settings", "SpecRun", "StepInputs", "measure", "simulate"]

SELECTOR = "app=backtest"
"""The simulated target's selector; its pods carry this label."""


@dataclass(frozen=True, slots=True)
class Settings:
    config: ControllerConfig = field(default_factory=ControllerConfig)
    requests: Mapping[str, Mapping[str, Quantity]] = field(default_factory=dict)
    """Per container of a simulated pod (MAIN_CONTAINER for Resource metrics): resource
    requests, which Utilization targets divide by."""
    resource_window: timedelta = timedelta(minutes=1)
    """The resource rules' `window`: the window metrics-server reports usage over."""


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One metric at one step of the simulation, as the controller's status wrote it."""

    value: str | None
    target: str
    ratio: float | None


@dataclass(frozen=True, slots=True)
class Gap:
    start: datetime
    end: datetime
    metric: str


@dataclass(frozen=True, slots=True)
class Event:
    time: datetime
    from_replicas: int
    to_replicas: int
    explanation: dict[str, Any]


@dataclass(slots=True)
class SpecRun:
    spec: BacktestSpec
    names: list[str]
    """The spec's metrics, in spec order: how the timeline names them."""
    times: list[datetime] = field(default_factory=list)
    simulated: list[int] = field(default_factory=list)
    actual: list[int | None] = field(default_factory=list)
    metrics: list[list[MetricPoint]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    durations: list[float] | None = None
    """Seconds each timeline entry stands for, when not one step each (records)."""


@dataclass(frozen=True, slots=True)
class StepInputs:
    """Everything one sync of the replay was given: enough to write it as a snapshot."""

    now: datetime
    spec: BacktestSpec
    hpa: HorizontalPodAutoscaler
    scale: Scale
    metrics: loadmodel.StepMetrics
    memory: ControllerMemory
    config: ControllerConfig

    def document(self) -> dict[str, Any]:
        """This sync as an `hpa evaluate` snapshot (contracts/hpa-snapshot.md)."""
        hpa = dict(self.spec.manifest)
        hpa["status"] = self.hpa.status.to_wire(format_time)
        return records.snapshot_document(
            now=self.now,
            config=self.config,
            hpa=hpa,
            scale={
                "spec": {"replicas": self.scale.spec_replicas},
                "status": {"replicas": self.scale.status_replicas, "selector": SELECTOR},
            },
            pods=[loadmodel.wire_pod(pod) for pod in self.metrics.pods],
            metrics=self.metrics.snapshot_metrics(self.spec.hpa.namespace),
            memory=self.memory,
        )


Observer = Callable[[StepInputs, SyncResult], None]
Progress = Callable[[int, int], None]


def _containers(spec: BacktestSpec, settings: Settings) -> tuple[Container, ...]:
    names = {loadmodel.MAIN_CONTAINER: None}
    for metric in spec.hpa.spec.metrics:
        if metric.container_resource is not None:
            names.setdefault(metric.container_resource.container, None)
    return tuple(Container(name, dict(settings.requests.get(name, {}))) for name in names)


def measure(status: MetricStatus | None, target: MetricTarget) -> MetricPoint:
    """The status' current value against the target of the same kind."""
    if target.average_utilization is not None:
        wanted = str(target.average_utilization)
        current = None if status is None else status.current.average_utilization
        if not status or not status.type or current is None:
            return MetricPoint(None, wanted, None)
        ratio = current / target.average_utilization if target.average_utilization else None
        return MetricPoint(str(current), wanted, ratio)
    goal = target.average_value if target.average_value is not None else target.value
    wanted = "" if goal is None else str(goal)
    if status is None or not status.type:
        return MetricPoint(None, wanted, None)
    value = (
        status.current.average_value if target.average_value is not None else status.current.value
    )
    if value is None:
        return MetricPoint(None, wanted, None)
    goal_float = goal.as_float() if goal is not None else 0.0
    return MetricPoint(str(value), wanted, value.as_float() / goal_float if goal_float else None)


class _GapTracker:
    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.open: dict[int, tuple[datetime, datetime]] = {}
        self.closed: list[Gap] = []

    def note(self, index: int, now: datetime, missing: bool) -> None:
        span = self.open.get(index)
        if missing:
            self.open[index] = (span[0] if span else now, now)
        elif span is not None:
            self.closed.append(Gap(span[0], span[1], self.names[index]))
            del self.open[index]

    def finish(self) -> list[Gap]:
        for index, (start, end) in sorted(self.open.items()):
            self.closed.append(Gap(start, end, self.names[index]))
        self.open.clear()
        return sorted(self.closed, key=lambda gap: (gap.start, gap.metric))


_READS_METRICS = frozenset({"metrics", "metrics-failed", "scale-from-zero"})
"""Sync paths that decide on metrics; the others (replicas outside [min, max], scaling
disabled at zero) read none, so a gap does not hold them."""


def _held(result: SyncResult, replicas: int) -> SyncResult:
    """The sync's result as the replay keeps it at a held step: its metric statuses
    (what the timeline shows), with the replica count unchanged."""
    return replace(result, desired_replicas=replicas, rescale=False)


def _step_metrics(
    spec: BacktestSpec,
    reads: list[tuple[MetricSpec, MetricRead, MetricHistory]],
    index: int,
    now: datetime,
    pods: loadmodel.PodSet,
    actual: int | None,
    settings: Settings,
) -> tuple[loadmodel.StepMetrics, list[bool]]:
    """The metrics APIs' answers at this step, and which metrics had no data."""
    step = loadmodel.StepMetrics(now, list(pods.pods), settings.resource_window)
    simulated = len(pods.pods)
    missing: list[bool] = []
    for metric, read, history in reads:
        if read.type in (RESOURCE, PODS):
            average = history.per_pod[index]
            per_pod = (
                None
                if average is None
                else loadmodel.redistribute(average, actual, max(simulated, 1))
            )
            missing.append(per_pod is None)
            if per_pod is None or simulated == 0:
                continue
            if read.type == RESOURCE:
                quantity = loadmodel.served_resource(read.name, per_pod)
                if quantity is not None:
                    container = read.container or loadmodel.MAIN_CONTAINER
                    step.usage[(read.name, container)] = quantity
                    step.resource_served = True
            else:
                quantity = loadmodel.served_custom(per_pod)
                if quantity is not None and metric.pods is not None:
                    step.per_pod[(read.name, read.selector)] = loadmodel.PodsValue(
                        metric.pods.metric.selector, quantity
                    )
            continue
        values = history.values[index]
        missing.append(not values)
        if not values:
            continue
        if read.type == OBJECT and metric.object is not None and read.described is not None:
            described = read.described
            step.objects[(read.name, described.kind, described.name, read.selector)] = (
                loadmodel.ObjectValue(described, metric.object.metric.selector, values[0][1])
            )
        elif read.type == EXTERNAL:
            step.external[(read.name, read.selector)] = list(values)
    del spec
    return step, missing


def simulate(
    spec: BacktestSpec,
    history: History,
    settings: Settings,
    *,
    observe: Observer | None = None,
    progress: Progress | None = None,
) -> SpecRun:
    """Replay the window for one spec; the history must hold every metric it reads."""
    window = history.window
    reads = []
    for metric in spec.hpa.spec.metrics:
        read = read_for(metric)
        reads.append((metric, read, history.metrics[read]))
    targets = [target_of(metric) for metric, _, _ in reads]
    names = [read.label() for _, read, _ in reads]
    run = SpecRun(spec, names)
    known = [r for r in history.replicas if r is not None]
    start_replicas = known[0] if known else 0
    pods = loadmodel.PodSet(
        spec.hpa.namespace,
        {"app": "backtest"},
        _containers(spec, settings),
        settings.config.initial_readiness_delay,
    )
    pods.seed(start_replicas, window.start)
    hpa = spec.hpa
    memory = ControllerMemory()
    gaps = _GapTracker(names)
    replicas = start_replicas
    count = window.count
    for index in range(count):
        now = window.time(index)
        pods.advance(now)
        actual = history.replicas[index]
        step, missing = _step_metrics(spec, reads, index, now, pods, actual, settings)
        scale = Scale(replicas, replicas, SELECTOR)
        result = sync(hpa, scale, step.pods, step, memory, now, settings.config)
        if observe is not None:
            observe(StepInputs(now, spec, hpa, scale, step, memory, settings.config), result)
        for position, absent in enumerate(missing):
            gaps.note(position, now, absent)
        if any(missing) and result.explanation.path in _READS_METRICS:
            # A gap in any metric holds the replicas (contracts/hpa-backtest.md): the
            # step's decision is not taken, and the controller remembers nothing of it
            # -- what a sync does when its only metric fails. Upstream would still
            # scale up on the metrics that answered; a backtest must not invent a
            # decision on a partial picture of the past. The sync still ran, so the
            # timeline shows the metrics that had data.
            result = _held(result, replicas)
        else:
            memory = result.memory
            hpa = replace(hpa, status=result.status)
        if result.desired_replicas != replicas:
            run.events.append(
                Event(
                    now,
                    replicas,
                    result.desired_replicas,
                    snapshot.render_result(result)["explanation"],
                )
            )
            replicas = result.desired_replicas
            pods.resize(replicas, now)
        statuses = result.status.current_metrics or ()
        run.times.append(now)
        run.simulated.append(replicas)
        run.actual.append(actual)
        run.metrics.append(
            [
                measure(statuses[position] if position < len(statuses) else None, target)
                for position, target in enumerate(targets)
            ]
        )
        if progress is not None:
            progress(index + 1, count)
    run.gaps = gaps.finish()
    return run
