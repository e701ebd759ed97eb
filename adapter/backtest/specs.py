"""The HPA specs a backtest replays, and what each needs read from history.

Owns reading an autoscaling/v2 HorizontalPodAutoscaler manifest (as `kubectl get -o
yaml` writes it) through the API server's defaulting and validation — the very path
`hpa evaluate` takes, `adapter.hpa.snapshot.hpa_from_api` — and naming, per metric of
the spec, the history to read (`MetricRead`): a resource's or a custom metric's per-pod
values, an object's value, or an external metric's series. Two specs that read the
same metric share one read. The manifest's `status` is dropped: a replay starts from a
controller that has not seen the HPA yet. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapter.hpa import snapshot
from adapter.hpa.model import (
    CONTAINER_RESOURCE,
    EXTERNAL,
    OBJECT,
    PODS,
    RESOURCE,
    CrossVersionObjectReference,
    HorizontalPodAutoscaler,
    MetricSpec,
    MetricTarget,
)
from adapter.hpa.sources import selector_from_spec
from adapter.k8s.selectors import SelectorError
from adapter.settings import FeatureGates

__all__ = ["BacktestSpec", "MetricRead", "SpecError", "load_spec", "metric_reads"]


class SpecError(ValueError):
    """A spec file that cannot be replayed; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class MetricRead:
    """One metric's history, as the live adapter would serve it; the key of a read."""

    type: str
    """`Resource` (also for ContainerResource), `Pods`, `Object` or `External`."""
    name: str
    """The metric's name, or the resource's (`cpu`, `memory`)."""
    container: str = ""
    selector: str = ""
    """The metric selector, in canonical text ("" selects everything)."""
    described: CrossVersionObjectReference | None = None

    def label(self) -> str:
        """How reports name it: the metric, with its container or object when it has one."""
        if self.container:
            return f"{self.name} (container {self.container})"
        if self.described is not None:
            return f"{self.name} ({self.described.kind}/{self.described.name})"
        return self.name


@dataclass(frozen=True, slots=True)
class BacktestSpec:
    file: str
    hpa: HorizontalPodAutoscaler
    """Defaulted and validated, with an empty status."""
    manifest: dict[str, Any]
    """The manifest as stored, without `status`: what a snapshot's `hpa` holds."""

    @property
    def name(self) -> str:
        return self.hpa.name


def load_spec(path: str, gates: FeatureGates) -> BacktestSpec:
    """Read and validate one HPA manifest; raises SpecError naming the file and field."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise SpecError(f"{path}: cannot read file: {reason}") from err
    try:
        document = snapshot.load_document(text)
    except snapshot.SnapshotError as err:
        raise SpecError(f"{path}: {err}") from err
    if not isinstance(document, dict):
        raise SpecError(f"{path}: not a HorizontalPodAutoscaler manifest (a mapping)")
    kind, version = document.get("kind"), document.get("apiVersion")
    if kind != "HorizontalPodAutoscaler" or version != "autoscaling/v2":
        raise SpecError(
            f"{path}: must be an autoscaling/v2 HorizontalPodAutoscaler, not "
            f"{version or '(no apiVersion)'} {kind or '(no kind)'}"
        )
    manifest = {key: value for key, value in document.items() if key != "status"}
    try:
        hpa = snapshot.hpa_from_api(manifest, gates)
    except snapshot.SnapshotError as err:
        raise SpecError(f"{path}: {' '.join(str(err).split())}") from err
    if not hpa.namespace:
        raise SpecError(f"{path}: hpa.metadata.namespace: Required value")
    for index, metric in enumerate(hpa.spec.metrics):
        # The API server accepts any metric selector (the controller fails on a bad one
        # at every sync); a backtest cannot read history for it, so it is refused here.
        try:
            read_for(metric)
        except SelectorError as err:
            field = _SOURCE_FIELDS.get(metric.type, metric.type)
            raise SpecError(
                f"{path}: hpa.spec.metrics[{index}].{field}.metric.selector: {err}"
            ) from err
    return BacktestSpec(path, hpa, manifest)


_SOURCE_FIELDS = {PODS: "pods", OBJECT: "object", EXTERNAL: "external"}


def _selector(spec_selector: Any) -> str:
    return str(selector_from_spec(spec_selector))


def read_for(metric: MetricSpec) -> MetricRead:
    """The history one metric spec needs (the spec was validated: its source is set)."""
    if metric.type == RESOURCE and metric.resource is not None:
        return MetricRead(RESOURCE, metric.resource.name)
    if metric.type == CONTAINER_RESOURCE and metric.container_resource is not None:
        source = metric.container_resource
        return MetricRead(RESOURCE, source.name, container=source.container)
    if metric.type == PODS and metric.pods is not None:
        identifier = metric.pods.metric
        return MetricRead(PODS, identifier.name, selector=_selector(identifier.selector))
    if metric.type == OBJECT and metric.object is not None:
        identifier = metric.object.metric
        return MetricRead(
            OBJECT,
            identifier.name,
            selector=_selector(identifier.selector),
            described=metric.object.described_object,
        )
    if metric.type == EXTERNAL and metric.external is not None:
        identifier = metric.external.metric
        return MetricRead(EXTERNAL, identifier.name, selector=_selector(identifier.selector))
    raise SpecError(f"metric type {metric.type!r} cannot be replayed")


def target_of(metric: MetricSpec) -> MetricTarget:
    for source in (
        metric.resource,
        metric.container_resource,
        metric.pods,
        metric.object,
        metric.external,
    ):
        if source is not None:
            return source.target
    raise SpecError(f"metric type {metric.type!r} has no target")


def metric_reads(specs: list[BacktestSpec]) -> list[MetricRead]:
    """Every distinct read the specs need, in first-use order."""
    seen: dict[MetricRead, None] = {}
    for spec in specs:
        for metric in spec.hpa.spec.metrics:
            seen.setdefault(read_for(metric), None)
    return list(seen)
