"""`--plot FILE.png`: replicas and metrics over the window, on shared time axes.

Owns the picture: the top panel draws the replicas that ran beside each spec's
simulated replicas; below it, one panel per metric of the first spec, its value in the
simulation against its target. matplotlib (the `analysis` extra) with the Agg backend,
so no display is needed.
"""

from __future__ import annotations

from pathlib import Path

from adapter.backtest.simulation import SpecRun

__all__ = ["PlotError", "plot"]


class PlotError(RuntimeError):
    """The plot could not be drawn or written."""


def plot(runs: list[SpecRun], path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise PlotError("--plot needs matplotlib: pip install 'metrics-adapter[analysis]'") from err
    first = runs[0]
    panels = 1 + len(first.names)
    figure, axes = plt.subplots(panels, 1, sharex=True, figsize=(12, 2.6 * panels), squeeze=False)
    top = axes[0][0]
    top.step(
        first.times,
        [a if a is not None else float("nan") for a in first.actual],
        where="post",
        label="actual",
        color="black",
        linewidth=1.2,
    )
    for run in runs:
        top.step(run.times, run.simulated, where="post", label=f"{run.spec.name} ({run.spec.file})")
    top.set_ylabel("replicas")
    top.legend(loc="upper left", fontsize="small")
    for position, name in enumerate(first.names):
        axis = axes[position + 1][0]
        target = _number(first.metrics[0][position].target) if first.metrics else None
        target_value = float("nan") if target is None else target
        values = [_scaled(points[position].ratio, target_value) for points in first.metrics]
        axis.plot(first.times, values, label=f"{name} (simulated)", linewidth=1.0)
        axis.axhline(target_value, color="red", linestyle="--", linewidth=1.0, label="target")
        for gap in first.gaps:
            if gap.metric == name:
                axis.axvspan(gap.start, gap.end, color="grey", alpha=0.3)
        axis.set_ylabel(name, fontsize="small")
        axis.legend(loc="upper left", fontsize="small")
    figure.autofmt_xdate()
    figure.tight_layout()
    try:
        figure.savefig(Path(path), dpi=100)
    except OSError as err:
        raise PlotError(f"--plot {path}: {err.strerror or err}") from err
    finally:
        plt.close(figure)


def _scaled(ratio: float | None, target: float) -> float:
    return float("nan") if ratio is None else ratio * target


def _number(text: str) -> float | None:
    from adapter.k8s.quantity import Quantity, QuantityError

    try:
        return Quantity.parse(text).as_float()
    except QuantityError:
        return None
