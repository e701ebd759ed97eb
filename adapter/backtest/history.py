"""History as the backtest read it: per step, each metric's served value and the replicas.

Owns the shape that `reading` fills from Prometheus and `simulation` replays, so the
simulation runs on data a test can build by hand. `None` at a step is a gap: no sample
there (after Prometheus' lookback), or one the adapter could not have served. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from adapter.backtest.specs import MetricRead
from adapter.k8s.quantity import Quantity
from adapter.settings.backtest import Window

__all__ = ["History", "MetricHistory"]


@dataclass(slots=True)
class MetricHistory:
    read: MetricRead
    query: str
    """The PromQL that read it (as the adapter's rule writes it for the live request)."""
    per_pod: list[float | None] = field(default_factory=list)
    """Per-pod metrics: the average of the served per-pod values at each step."""
    values: list[tuple[tuple[Mapping[str, str], Quantity], ...] | None] = field(
        default_factory=list
    )
    """Object and External metrics: the served values at each step, with their series'
    labels (one for an object; every series of an external metric's query)."""

    def has_data(self) -> bool:
        return any(v is not None for v in self.per_pod) or any(v for v in self.values)


@dataclass(slots=True)
class History:
    window: Window
    replicas: list[int | None]
    """What actually ran at each step (None where its history has a gap)."""
    replicas_source: str
    """Where `replicas` came from: the series read, or `--replicas N`."""
    metrics: dict[MetricRead, MetricHistory]
