"""The report: the JSON of contracts/hpa-backtest.md, a table for people, the figures.

Owns turning simulation runs into what the user reads: per spec the timeline
(simulated beside actual replicas, each metric against its target), scale events,
replica-hours (cost), time over target and the peak load ratio (risk), the gaps, and
the decisions that rescaled with the explanation `hpa evaluate` gives; with several
specs a side-by-side table. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapter.backtest.loadmodel import MODEL
from adapter.backtest.simulation import SpecRun
from adapter.k8s.timefmt import format_time
from adapter.settings.backtest import Window

__all__ = ["Figures", "document", "figures", "table"]


@dataclass(frozen=True, slots=True)
class Figures:
    scale_events: int
    replica_hours: float
    over_target_seconds: float
    peak_load_ratio: float | None
    actual_replica_hours: float | None
    """What ran, over the steps whose replica count is known (None if none is)."""


def figures(run: SpecRun, step: float) -> Figures:
    durations = run.durations or [step] * len(run.times)
    over = 0.0
    peak: float | None = None
    for points, seconds in zip(run.metrics, durations, strict=True):
        ratios = [p.ratio for p in points if p.ratio is not None]
        if not ratios:
            continue
        highest = max(ratios)
        peak = highest if peak is None else max(peak, highest)
        if highest > 1.0:
            over += seconds
    known = [(a, s) for a, s in zip(run.actual, durations, strict=True) if a is not None]
    return Figures(
        scale_events=len(run.events),
        replica_hours=sum(r * s for r, s in zip(run.simulated, durations, strict=True)) / 3600.0,
        over_target_seconds=over,
        peak_load_ratio=peak,
        actual_replica_hours=sum(a * s for a, s in known) / 3600.0 if known else None,
    )


def _spec_document(run: SpecRun, step: float, timeline: bool) -> dict[str, Any]:
    figs = figures(run, step)
    document: dict[str, Any] = {
        "name": run.spec.name,
        "file": run.spec.file,
    }
    if timeline:
        document["timeline"] = [
            {
                "time": format_time(moment),
                "simulatedReplicas": simulated,
                "actualReplicas": actual,
                "metrics": [
                    {"name": name, "value": point.value, "target": point.target}
                    for name, point in zip(run.names, points, strict=True)
                ],
            }
            for moment, simulated, actual, points in zip(
                run.times, run.simulated, run.actual, run.metrics, strict=True
            )
        ]
    document.update(
        {
            "scaleEvents": figs.scale_events,
            "replicaHours": round(figs.replica_hours, 6),
            "actualReplicaHours": None
            if figs.actual_replica_hours is None
            else round(figs.actual_replica_hours, 6),
            "overTargetSeconds": figs.over_target_seconds,
            "peakLoadRatio": None
            if figs.peak_load_ratio is None
            else round(figs.peak_load_ratio, 6),
            "gaps": [
                {"from": format_time(gap.start), "to": format_time(gap.end), "metric": gap.metric}
                for gap in run.gaps
            ],
            "events": [
                {
                    "time": format_time(event.time),
                    "from": event.from_replicas,
                    "to": event.to_replicas,
                    "explanation": event.explanation,
                }
                for event in run.events
            ],
        }
    )
    return document


def document(
    window: Window, runs: list[SpecRun], *, replicas_source: str = "", model: str = MODEL
) -> dict[str, Any]:
    """The contract's JSON object (contracts/hpa-backtest.md), plus `replicasSource`."""
    return {
        "window": {
            "from": format_time(window.start),
            "to": format_time(window.end),
            "step": window.step_text(),
        },
        "model": model,
        "replicasSource": replicas_source,
        "specs": [_spec_document(run, window.step, True) for run in runs],
    }


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(
    window: Window, runs: list[SpecRun], *, replicas_source: str = "", model: str = MODEL
) -> str:
    """The figures per spec side by side, then each spec's scale events and gaps."""
    lines = [
        f"window {format_time(window.start)} .. {format_time(window.end)}, step "
        f"{window.step_text()}, {window.count} syncs per spec",
        f"replicas that ran: {replicas_source or '-'}",
        f"model: {model}",
        "",
    ]
    header = ["", *[f"{run.spec.name} ({run.spec.file})" for run in runs]]
    figs = [figures(run, window.step) for run in runs]
    rows = [
        ["scale events", *[str(f.scale_events) for f in figs]],
        ["replica-hours", *[f"{f.replica_hours:.2f}" for f in figs]],
        [
            "replica-hours that ran",
            *[
                "-" if f.actual_replica_hours is None else f"{f.actual_replica_hours:.2f}"
                for f in figs
            ],
        ],
        ["time over target", *[f"{f.over_target_seconds:.0f}s" for f in figs]],
        ["peak load/target", *[_ratio(f.peak_load_ratio) for f in figs]],
        ["gaps", *[str(len(run.gaps)) for run in runs]],
        [
            "replicas min..max",
            *[
                f"{min(run.simulated)}..{max(run.simulated)}" if run.simulated else "-"
                for run in runs
            ],
        ],
    ]
    widths = [max(len(row[col]) for row in [header, *rows]) for col in range(len(header))]
    for row in [header, *rows]:
        lines.append(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    for run in runs:
        lines.append("")
        lines.append(f"{run.spec.name}: {len(run.events)} scale events")
        for event in run.events:
            reason = event.explanation.get("rescaleReason") or ""
            lines.append(
                f"  {format_time(event.time)}  "
                f"{event.from_replicas} -> {event.to_replicas}  {reason}"
            )
        for gap in run.gaps:
            lines.append(
                f"  gap {format_time(gap.start)} .. {format_time(gap.end)}  "
                f"{gap.metric}: no data (never read as zero)"
            )
    return "\n".join(lines) + "\n"
