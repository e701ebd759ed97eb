"""The HorizontalPodAutoscaler: replica calculation and behavior (pure), snapshots (pure),
and the controller loop with its metric sources (I/O).
"""

from adapter.hpa.evaluate import evaluate_files
from adapter.hpa.snapshot import Snapshot, SnapshotError, evaluate_document, parse_snapshot
from adapter.hpa.sync import (
    ControllerMemory,
    Event,
    ScaleReadError,
    SyncResult,
    scale_from_api,
    sync,
)

__all__ = [
    "ControllerMemory",
    "Event",
    "ScaleReadError",
    "Snapshot",
    "SnapshotError",
    "SyncResult",
    "evaluate_document",
    "evaluate_files",
    "parse_snapshot",
    "scale_from_api",
    "sync",
]
