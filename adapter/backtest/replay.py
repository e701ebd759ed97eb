"""`hpa backtest --records DIR`: the decision records of a running loop, under a changed spec.

Owns replaying recorded syncs (adapter.hpa.records: one `hpa evaluate` snapshot per
sync that scaled or failed, or per sync with record-all) in time order with another
spec: each record's clock, settings, scale, pods and metric responses are kept as
recorded, the HPA is the new spec carrying the status the previous replayed sync wrote,
and the controller's memory is the replay's own. The load is as it was for the replicas
that actually ran (no redistribution: a record holds pods, not a load), and the syncs
between records (with the default record policy, those that did not scale) are not
replayed. Pure but for reading the files.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import orjson

from adapter.backtest.simulation import Event, SpecRun, measure
from adapter.backtest.specs import BacktestSpec, SpecError, read_for, target_of
from adapter.hpa import snapshot
from adapter.hpa.model import Scale
from adapter.hpa.sync import ControllerMemory, sync

__all__ = ["RECORDS_MODEL", "replay_records"]

RECORDS_MODEL = (
    "recorded syncs replayed in time order with the changed spec, each on the scale, pods "
    "and metric responses it recorded (the load as it was for the replicas that actually "
    "ran, not redistributed); syncs that left no record are not replayed"
)


def _load(path: Path) -> snapshot.Snapshot:
    try:
        document = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as err:
        raise SpecError(f"{path}: not a readable decision record: {err}") from err
    try:
        return snapshot.parse_snapshot(document)
    except snapshot.SnapshotError as err:
        raise SpecError(f"{path}: {' '.join(str(err).split())}") from err


def replay_records(directory: str, spec: BacktestSpec) -> SpecRun:
    """Replay every `*.json` record of `directory` (by name: time order) with `spec`."""
    folder = Path(directory)
    if not folder.is_dir():
        raise SpecError(f"--records {directory}: not a directory")
    paths = sorted(folder.glob("*.json"))
    if not paths:
        raise SpecError(f"--records {directory}: holds no decision records (*.json)")
    recorded = [_load(path) for path in paths]
    targets = [target_of(metric) for metric in spec.hpa.spec.metrics]
    run = SpecRun(spec, [read_for(metric).label() for metric in spec.hpa.spec.metrics])
    hpa = spec.hpa
    memory = ControllerMemory()
    for record in recorded:
        scale = record.scale
        actual = scale.spec_replicas if isinstance(scale, Scale) else None
        result = sync(hpa, scale, record.pods, record.metrics, memory, record.now, record.config)
        memory = result.memory
        hpa = replace(hpa, status=result.status)
        if actual is not None and result.desired_replicas != actual:
            run.events.append(
                Event(
                    record.now,
                    actual,
                    result.desired_replicas,
                    snapshot.render_result(result)["explanation"],
                )
            )
        statuses = result.status.current_metrics or ()
        run.times.append(record.now)
        run.simulated.append(result.desired_replicas)
        run.actual.append(actual)
        run.metrics.append(
            [
                measure(statuses[i] if i < len(statuses) else None, target)
                for i, target in enumerate(targets)
            ]
        )
    run.durations = [
        (later - earlier).total_seconds()
        for earlier, later in zip(
            run.times, [*run.times[1:], run.times[-1] + timedelta(seconds=15)], strict=True
        )
    ]
    return run
