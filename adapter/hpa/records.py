"""Decision records: one HPA snapshot per sync that scaled or failed, in a bounded directory.

Owns writing what a sync saw as a snapshot in the format of
contracts/hpa-snapshot.md - the controller's clock and settings, the HPA as read, the
target's Scale, the pods, the metric responses and the controller's memory before the
sync - so that `python -m adapter hpa evaluate RECORD` replays the decision and answers
"why did it (not) scale?" after the fact. The evaluator ignores keys it does not know;
a record adds `decision` (what the live sync decided and wrote, with its explanation)
and `errors` (the text of failed reads, which the snapshot format can only express as
"absent").

Records are JSON files named by time, so the directory lists in the order they were
made; when the directory grows past its byte budget the oldest are deleted. What gets
recorded (scaled, failed, or everything) is decided by the caller.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from adapter.hpa import snapshot
from adapter.hpa.sync import ControllerMemory
from adapter.k8s.timefmt import format_micro_time
from adapter.settings.hpa import ControllerConfig, RecordSettings

__all__ = ["DecisionRecorder", "render_config", "snapshot_document"]

log = logging.getLogger(__name__)

SUFFIX = ".json"


def render_config(config: ControllerConfig) -> dict[str, Any]:
    """The snapshot's `config` for these controller settings."""
    gates = config.feature_gates
    return {
        "tolerance": config.tolerance,
        "cpuInitializationPeriod": config.cpu_initialization_period.total_seconds(),
        "initialReadinessDelay": config.initial_readiness_delay.total_seconds(),
        "downscaleStabilizationWindow": config.downscale_stabilization_window.total_seconds(),
        "featureGates": {
            "HPAConfigurableTolerance": gates.hpa_configurable_tolerance,
            "HPAScaleToZero": gates.hpa_scale_to_zero,
            "PodLevelResources": gates.pod_level_resources,
        },
    }


def snapshot_document(
    *,
    now: datetime,
    config: ControllerConfig,
    hpa: Mapping[str, Any],
    scale: Mapping[str, Any] | None,
    pods: Sequence[Mapping[str, Any]],
    metrics: Mapping[str, Any],
    memory: ControllerMemory,
    decision: Mapping[str, Any] | None = None,
    errors: Sequence[Mapping[str, str]] = (),
) -> dict[str, Any]:
    """A snapshot (contracts/hpa-snapshot.md) of one sync's inputs, plus what it decided."""
    document: dict[str, Any] = {
        "apiVersion": snapshot.API_VERSION,
        "kind": snapshot.KIND,
        "now": format_micro_time(now),
        "config": render_config(config),
        "hpa": dict(hpa),
    }
    if scale is not None:
        document["scale"] = dict(scale)
    document["pods"] = [dict(pod) for pod in pods]
    document["metrics"] = dict(metrics)
    document["history"] = snapshot.render_memory(memory)
    if decision is not None:
        document["decision"] = dict(decision)
    if errors:
        document["errors"] = [dict(error) for error in errors]
    return document


@dataclass(slots=True)
class _Kept:
    path: Path
    size: int


class DecisionRecorder:
    """Writes records into one directory and keeps it within its byte budget."""

    def __init__(self, settings: RecordSettings) -> None:
        if settings.directory is None:
            raise ValueError("a decision recorder needs a directory")
        self.settings = settings
        self.directory = Path(settings.directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._kept: deque[_Kept] = deque()
        self.total_bytes = 0
        self.written = 0
        self.pruned = 0
        self._last_stem = ""
        self._sequence = 0
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            try:
                size = path.stat().st_size
            except OSError:
                continue
            self._kept.append(_Kept(path, size))
            self.total_bytes += size
        self._prune()

    def wants(self, *, scaled: bool, failed: bool) -> bool:
        return self.settings.record_all or scaled or failed

    def write(self, document: Mapping[str, Any], now: datetime, namespace: str, name: str) -> Path:
        """Write one record; returns its path. Errors writing are logged, not raised."""
        stamp = format_micro_time(now).replace("-", "").replace(":", "")
        stem = f"{stamp}-{namespace}-{name}"
        if stem == self._last_stem:
            self._sequence += 1
            stem = f"{stem}-{self._sequence}"
        else:
            self._last_stem, self._sequence = stem, 0
        path = self.directory / f"{stem}{SUFFIX}"
        data = orjson.dumps(document, option=orjson.OPT_INDENT_2)
        temporary = path.with_suffix(".tmp")
        try:
            temporary.write_bytes(data)
            os.replace(temporary, path)
        except OSError as err:
            log.error("unable to write decision record %s: %s", path, err)
            return path
        self._kept.append(_Kept(path, len(data)))
        self.total_bytes += len(data)
        self.written += 1
        self._prune()
        return path

    def _prune(self) -> None:
        while self.total_bytes > self.settings.max_bytes and len(self._kept) > 1:
            oldest = self._kept.popleft()
            self.total_bytes -= oldest.size
            try:
                oldest.path.unlink()
            except FileNotFoundError:
                pass
            except OSError as err:
                log.warning("unable to delete old decision record %s: %s", oldest.path, err)
            self.pruned += 1
