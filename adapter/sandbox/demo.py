"""`python -m adapter demo` (and `make demo`): the walkthrough's story, on the sandbox.

Owns the script: start the sandbox (`onemachine`), apply the walkthrough's manifests
with the real kubectl (examples/walkthrough/: namespace `test`, the `myblog`
Deployment and Service, the seed's `hpa-myblog.yaml` unchanged, and an HPA on requests
per second through custom.metrics.k8s.io on a second Deployment of the same app), then
run `ab` against each Service's address - never a pod's - in three phases (idle, load,
idle until the HPAs are back at their minimum), printing the HPAs in the format of
`kubectl get hpa -w`. Everything is shortened so the story fits in about five minutes
(`--short`: about two) and the screen says by how much: the HPA sync period, the
downscale stabilization window, the CPU initialization period, the rate windows of the
rules, the scrape interval.

It leaves in the output directory: `demo.png` (load, each metric against its target and
the replicas over time; matplotlib, the `analysis` extra), `samples.json` (the numbers
behind the plot), `records/` (the HPA loop's decision record of every sync that scaled,
which `python -m adapter hpa evaluate` replays; the demo replays one), and every
process's log. Every process it starts is stopped on the way out - at the end, on
Ctrl-C, or after a failure (`processes`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from adapter.k8s.quantity import Quantity, QuantityError
from adapter.k8s.resources import GroupResource
from adapter.sandbox import printing, processes
from adapter.sandbox.onemachine import (
    CONFIG_DIR,
    STAND_IN_NOTICE,
    Sandbox,
    SandboxError,
    SandboxSettings,
    running_sandbox,
)
from adapter.settings.sandbox import DemoCommandSettings

__all__ = ["DemoResult", "DemoSettings", "demo_command", "run_demo"]

MANIFESTS = CONFIG_DIR.parent / "examples" / "walkthrough"
NAMESPACE = "test"
HPAS = GroupResource("autoscaling", "horizontalpodautoscalers")
DEPLOYMENTS = GroupResource("apps", "deployments")


class DemoError(RuntimeError):
    """A step of the story failed; the message names the step and the log to read."""


@dataclass(frozen=True, slots=True)
class LoadPlan:
    service: str
    concurrency: int


@dataclass(frozen=True, slots=True)
class DemoSettings:
    output: Path
    idle_seconds: float = 20.0
    load_seconds: float = 100.0
    cooldown_limit: float = 150.0
    """Longest wait, after the load, for every HPA to be back at its minimum."""
    sync_period: str = "5s"
    downscale_stabilization: str = "60s"
    cpu_initialization_period: str = "1m"
    rate_window: str = "30s"
    scrape_interval: float = 2.0
    sample_every: float = 2.0
    loads: tuple[LoadPlan, ...] = (LoadPlan("myblog", 3), LoadPlan("myblog-rps", 2))

    @classmethod
    def short(cls, output: Path) -> DemoSettings:
        return cls(
            output=output,
            idle_seconds=10.0,
            load_seconds=45.0,
            cooldown_limit=70.0,
            downscale_stabilization="20s",
            cpu_initialization_period="30s",
            rate_window="20s",
        )

    def shortened_note(self) -> str:
        return (
            "Shortened so the story fits in minutes (real defaults in brackets): HPA sync "
            f"period {self.sync_period} [15s], downscale stabilization "
            f"{self.downscale_stabilization} [5m], CPU initialization period "
            f"{self.cpu_initialization_period} [5m], rate windows of the rules "
            f"{self.rate_window} [5m, 2m], scrape interval {self.scrape_interval:g}s [30s-1m]."
        )


@dataclass
class DemoResult:
    started: float
    first_scale_up: float | None = None
    finished: float = 0.0
    max_replicas: dict[str, int] = field(default_factory=dict)
    final_replicas: dict[str, int] = field(default_factory=dict)
    plot: Path | None = None
    records: list[Path] = field(default_factory=list)
    replay: dict[str, Any] | None = None
    replayed_record: Path | None = None


# -- the view: `kubectl get hpa -w` ------------------------------------------------------
#
# The demo prints what `kubectl get hpa -w` prints rather than running it, because the
# same read of each HPA also feeds the plot's samples and the end-of-demo checks: the
# cells come from the stand-in's own Table for HPAs (the one `kubectl get hpa` and, since
# the stand-in streams Table rows on watches, `kubectl get hpa -w` show, TARGETS as
# kube-apiserver's printer formats them), laid out as kubectl's tabwriter does (a column
# is its widest cell plus three spaces, at least six; the last one unpadded). As with
# `-w`, the header and the first rows are aligned together and every later row is
# flushed on its own, with widths of its own. Run the real command beside it with the
# sandbox's kubeconfig to compare.


def hpa_row(hpa: dict[str, Any], now: datetime) -> tuple[str, ...]:
    """The cells `kubectl get hpa` prints for one HPA."""
    table = printing.table(HPAS, [hpa], now, {})
    return tuple(str(cell) for cell in table["rows"][0]["cells"])


def hpa_header() -> tuple[str, ...]:
    table = printing.table(HPAS, [], datetime.now(UTC), {})
    return tuple(str(column["name"]).upper() for column in table["columnDefinitions"])


def tabwriter(rows: Sequence[Sequence[str]]) -> list[str]:
    """text/tabwriter as kubectl configures it (minwidth 6, padding 3, blanks)."""
    if not rows:
        return []
    widths = [max(6, max(len(row[index]) for row in rows) + 3) for index in range(len(rows[0]) - 1)]
    return [
        "".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + row[-1]
        for row in rows
    ]


# -- samples for the plot -----------------------------------------------------------------


def _number(text: object) -> float | None:
    if text is None:
        return None
    try:
        return Quantity.parse(str(text)).as_float()
    except QuantityError:
        return None


def hpa_sample(hpa: dict[str, Any]) -> dict[str, Any]:
    """Each metric's current value and target as numbers, and the replica counts."""
    spec = hpa.get("spec") or {}
    status = hpa.get("status") or {}
    current = status.get("currentMetrics") or []
    metrics: list[dict[str, Any]] = []
    for index, metric in enumerate(spec.get("metrics") or []):
        now = current[index] if index < len(current) else {}
        if metric.get("type") == "Resource":
            name = metric["resource"]["name"]
            target = metric["resource"]["target"]
            got = ((now or {}).get("resource") or {}).get("current") or {}
            metrics.append(
                {
                    "name": f"{name} utilization (%)",
                    "current": got.get("averageUtilization"),
                    "target": target.get("averageUtilization"),
                }
            )
        elif metric.get("type") == "Pods":
            name = metric["pods"]["metric"]["name"]
            got = ((now or {}).get("pods") or {}).get("current") or {}
            metrics.append(
                {
                    "name": f"{name} per pod",
                    "current": _number(got.get("averageValue")),
                    "target": _number(metric["pods"]["target"].get("averageValue")),
                }
            )
    return {
        # None until the HPA's first sync writes a status: not a count of zero.
        "current_replicas": status.get("currentReplicas"),
        "desired_replicas": status.get("desiredReplicas"),
        "metrics": metrics,
    }


# -- the script ---------------------------------------------------------------------------


async def _kubectl(sandbox: Sandbox, *args: str) -> str:
    home = sandbox.settings.workdir / "kubectl-home"
    home.mkdir(exist_ok=True)
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise DemoError("kubectl is not installed")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "KUBECONFIG": str(sandbox.kubeconfig),
    }
    child = await processes.spawn(
        [kubectl, *args], name="kubectl", env=env, stdout=asyncio.subprocess.PIPE,
        log_file=sandbox.settings.workdir / "kubectl.log",
    )  # fmt: skip
    assert child.process.stdout is not None
    output = await child.process.stdout.read()
    code = await child.wait()
    if code != 0:
        raise DemoError(
            f"kubectl {' '.join(args)} exited {code}; "
            f"see {sandbox.settings.workdir / 'kubectl.log'}"
        )
    return output.decode()


class _Recorder:
    """Samples the HPAs, the pods' request rates and the load phase; prints rows."""

    def __init__(self, sandbox: Sandbox, settings: DemoSettings, out: TextIO) -> None:
        self.sandbox = sandbox
        self.settings = settings
        self.out = out
        self.samples: list[dict[str, Any]] = []
        self.phase = "idle"
        self.started = time.monotonic()
        self.first_scale_up: float | None = None
        self._printed: dict[str, tuple[str, ...]] = {}
        self._app_of_pod: dict[str, str] = {}
        self._header_pending = True

    def print_rows(self, rows: list[tuple[str, ...]]) -> None:
        """As `kubectl get hpa -w`: the header with the first rows, then a row at a time."""
        if self._header_pending:
            self._header_pending = False
            lines = tabwriter([hpa_header(), *rows])
        else:
            lines = [line for row in rows for line in tabwriter([row])]
        for line in lines:
            print(line, file=self.out, flush=True)

    def hpas(self) -> list[dict[str, Any]]:
        return [stored.obj for stored in self.sandbox.state.scan(HPAS, NAMESPACE)]

    async def run(self) -> None:
        async with aiohttp.ClientSession(trust_env=False) as session:
            while True:
                await self.sample(session)
                await asyncio.sleep(self.settings.sample_every)

    async def sample(self, session: aiohttp.ClientSession) -> None:
        now = datetime.now(UTC)
        elapsed = time.monotonic() - self.started
        for stored in self.sandbox.state.scan(GroupResource("", "pods"), NAMESPACE):
            app = stored.labels.get("app")
            if app:
                self._app_of_pod[stored.name] = app
        rates: dict[str, float] = {}
        with contextlib.suppress(Exception):
            result = await self.sandbox.prometheus.query(
                session,
                "sum by (pod) (rate(http_requests_total"
                f'{{namespace="{NAMESPACE}",code="200"}}[10s]))',
            )
            for item in result:
                labels: Any = item.get("metric") or {}
                pod = str(labels.get("pod", ""))
                app = self._app_of_pod.get(pod, pod)
                pair: Any = item["value"]
                value = float(pair[1])
                rates[app] = rates.get(app, 0.0) + value
        hpas: dict[str, Any] = {}
        changed: list[tuple[str, ...]] = []
        for hpa in self.hpas():
            name = hpa["metadata"]["name"]
            sample = hpa_sample(hpa)
            hpas[name] = sample
            if self.first_scale_up is None and (sample["current_replicas"] or 0) > (
                hpa["spec"].get("minReplicas", 1)
            ):
                self.first_scale_up = elapsed
            row = hpa_row(hpa, now)
            if self._printed.get(name, ())[:-1] != row[:-1]:
                self._printed[name] = row
                changed.append(row)
        if changed or self._header_pending:
            self.print_rows(changed)
        self.samples.append(
            {"t": round(elapsed, 2), "phase": self.phase, "rps": rates, "hpas": hpas}
        )

    def at_minimum(self) -> bool:
        hpas = self.hpas()
        return bool(hpas) and all(
            (hpa.get("status") or {}).get("currentReplicas", 0) <= hpa["spec"].get("minReplicas", 1)
            for hpa in hpas
        )


async def _wait_ready(sandbox: Sandbox, services: Sequence[str], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(sandbox.services.endpoints(NAMESPACE, name) for name in services):
            return
        await asyncio.sleep(0.5)
    raise DemoError(
        f"the pods of {', '.join(services)} were not ready after {timeout:g}s; "
        f"see {sandbox.settings.workdir / 'pods'}"
    )


async def _run_load(sandbox: Sandbox, plan: LoadPlan, seconds: float) -> processes.Child:
    address = sandbox.services.address(NAMESPACE, plan.service)
    if address is None:
        raise DemoError(f"service {NAMESPACE}/{plan.service} has no proxy")
    ab = shutil.which("ab")
    if ab is None:
        raise DemoError("ab is not installed (Debian: apt-get install apache2-utils)")
    return await processes.spawn(
        [ab, "-q", "-t", f"{seconds:g}", "-n", "1000000", "-c", str(plan.concurrency),
         "-s", "10", f"http://{address}/"],
        name=f"ab {plan.service}",
        log_file=sandbox.settings.workdir / f"ab-{plan.service}.log",
    )  # fmt: skip


async def run_demo(settings: DemoSettings, out: TextIO = sys.stdout) -> DemoResult:
    """The whole story; raises DemoError (or whatever failed) after stopping everything."""
    output = settings.output
    output.mkdir(parents=True, exist_ok=True)
    records = output / "records"
    sandbox_settings = SandboxSettings(
        workdir=output,
        scrape_interval=settings.scrape_interval,
        rate_window=settings.rate_window,
        relist_interval="10s",
        probe_period=2.0,
        hpa_args=(
            "--hpa-sync-period", settings.sync_period,
            "--horizontal-pod-autoscaler-downscale-stabilization",
            settings.downscale_stabilization,
            "--horizontal-pod-autoscaler-cpu-initialization-period",
            settings.cpu_initialization_period,
            "--hpa-record-dir", str(records),
        ),
    )  # fmt: skip
    result = DemoResult(started=time.monotonic())
    print(STAND_IN_NOTICE, file=out)
    print(settings.shortened_note(), file=out, flush=True)
    async with running_sandbox(sandbox_settings) as sandbox:
        print(f"sandbox up: export KUBECONFIG={sandbox.kubeconfig}", file=out, flush=True)
        for manifest in ("namespace.yaml", "myblog.yaml", "myblog-rps.yaml"):
            print((await _kubectl(sandbox, "apply", "-f", str(MANIFESTS / manifest))).rstrip(),
                  file=out, flush=True)  # fmt: skip
        services = [plan.service for plan in settings.loads]
        await _wait_ready(sandbox, services)
        for manifest in ("hpa-myblog.yaml", "hpa-myblog-rps.yaml"):
            print(
                (await _kubectl(sandbox, "-n", NAMESPACE, "apply", "-f", str(MANIFESTS / manifest)))
                .rstrip(),
                file=out, flush=True,
            )  # fmt: skip
        for service in services:
            address = sandbox.services.address(NAMESPACE, service)
            print(f"service {NAMESPACE}/{service}: http://{address}/ "
                  "(ab's target)", file=out)  # fmt: skip
        print(
            "hpa-myblog-rps scales the second Deployment, myblog-rps: two HPAs on one "
            "Deployment is what\nkube-controller-manager refuses (AmbiguousSelector), so "
            "the requests-per-second HPA gets its own.",
            file=out,
        )
        recorder = _Recorder(sandbox, settings, out)
        print(
            f"\n$ kubectl -n {NAMESPACE} get hpa -w   (a row when it changes; printed by the "
            "demo\n  in kubectl's layout from the same Table rows, as it also samples them "
            "for the plot)",
            file=out,
        )
        sampling = asyncio.create_task(recorder.run(), name="demo-sampler")
        loads: list[processes.Child] = []
        try:
            print(f"# phase 1: idle for {settings.idle_seconds:g}s", file=out, flush=True)
            await asyncio.sleep(settings.idle_seconds)
            recorder.phase = "load"
            print(
                f"# phase 2: ab against the Services for {settings.load_seconds:g}s: "
                + ", ".join(f"{p.service} -c {p.concurrency}" for p in settings.loads),
                file=out, flush=True,
            )  # fmt: skip
            loads = [
                await _run_load(sandbox, plan, settings.load_seconds) for plan in settings.loads
            ]
            await asyncio.wait_for(
                asyncio.gather(*(child.wait() for child in loads)), settings.load_seconds + 30
            )
            recorder.phase = "idle"
            print(
                f"# phase 3: idle until the HPAs are back at their minimum "
                f"(at most {settings.cooldown_limit:g}s)",
                file=out, flush=True,
            )  # fmt: skip
            deadline = time.monotonic() + settings.cooldown_limit
            while time.monotonic() < deadline and not recorder.at_minimum():
                await asyncio.sleep(1.0)
            async with aiohttp.ClientSession(trust_env=False) as session:
                await recorder.sample(session)
        finally:
            sampling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampling
            await asyncio.gather(*(child.stop(5.0) for child in loads))
        result.first_scale_up = recorder.first_scale_up
        for name, values in _replica_extremes(recorder.samples).items():
            result.max_replicas[name], result.final_replicas[name] = values
        (output / "samples.json").write_text(json.dumps(recorder.samples, indent=1))
    result.finished = time.monotonic()
    result.records = sorted(records.glob("*.json")) if records.exists() else []
    result.plot = _plot(recorder.samples, output / "demo.png", out)
    replayed = await _replay(result.records, out)
    if replayed is not None:
        result.replayed_record, result.replay = replayed
    return result


def _replica_extremes(samples: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    extremes: dict[str, tuple[int, int]] = {}
    for sample in samples:
        for name, hpa in sample["hpas"].items():
            if hpa["current_replicas"] is None:
                continue
            most, _ = extremes.get(name, (0, 0))
            extremes[name] = (max(most, hpa["current_replicas"]), hpa["current_replicas"])
    return extremes


def _plot(samples: list[dict[str, Any]], path: Path, out: TextIO) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no plot: matplotlib is missing (pip install '.[analysis]')", file=out)
        return None
    times = [sample["t"] for sample in samples]
    names = sorted({name for sample in samples for name in sample["hpas"]})
    metric_panels = [
        (name, index, metric["name"])
        for name in names
        for index, metric in enumerate(
            next(s["hpas"][name]["metrics"] for s in samples if name in s["hpas"])
        )
    ]
    rows = 2 + len(metric_panels)
    figure, axes = plt.subplots(rows, 1, figsize=(10, 2.4 * rows), sharex=True)
    load_phases = [sample["t"] for sample in samples if sample["phase"] == "load"]

    def shade(axis: Any) -> None:
        if load_phases:
            axis.axvspan(min(load_phases), max(load_phases), color="orange", alpha=0.12)

    apps = sorted({app for sample in samples for app in sample["rps"]})
    for app in apps:
        axes[0].plot(times, [s["rps"].get(app, 0.0) for s in samples], label=app)
    axes[0].set_ylabel("requests/s")
    axes[0].set_title("load: ab against each Service (shaded: load phase)")
    axes[0].legend(loc="upper right")
    shade(axes[0])
    for axis, (name, index, label) in zip(axes[1:-1], metric_panels, strict=True):
        current = [
            (s["hpas"][name]["metrics"][index]["current"] if name in s["hpas"] and
             index < len(s["hpas"][name]["metrics"]) else None)
            for s in samples
        ]  # fmt: skip
        target = [
            (s["hpas"][name]["metrics"][index]["target"] if name in s["hpas"] and
             index < len(s["hpas"][name]["metrics"]) else None)
            for s in samples
        ]  # fmt: skip
        axis.plot(times, [float("nan") if v is None else v for v in current], label="current")
        axis.plot(times, [float("nan") if v is None else v for v in target], "--", label="target")
        axis.set_ylabel(label.split(" ")[0])
        axis.set_title(f"{name}: {label}")
        axis.legend(loc="upper right")
        shade(axis)
    # Equal counts would hide one line under the other: each its own width and dashes.
    for index, name in enumerate(names):
        counts = [s["hpas"].get(name, {}).get("current_replicas") for s in samples]
        axes[-1].step(
            times,
            [float("nan") if count is None else count for count in counts],
            where="post",
            label=name,
            linewidth=3.0 if index == 0 else 1.5,
            linestyle="-" if index == 0 else "--",
        )
    axes[-1].set_ylabel("replicas")
    axes[-1].set_xlabel("seconds since the HPAs were created")
    axes[-1].legend(loc="upper left")
    shade(axes[-1])
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


async def _replay(records: list[Path], out: TextIO) -> tuple[Path, dict[str, Any]] | None:
    """`hpa evaluate` on the first record that scaled: the decision, replayed offline."""
    for record in records:
        document = json.loads(record.read_text())
        decision = document.get("decision") or {}
        scale = document.get("scale") or {}
        before = (scale.get("spec") or {}).get("replicas") if isinstance(scale, dict) else None
        if not decision.get("desiredReplicas") or decision["desiredReplicas"] == before:
            continue  # replay a sync that scaled
        child = await processes.spawn(
            [sys.executable, "-m", "adapter", "hpa", "evaluate", str(record)],
            name="hpa evaluate",
            stdout=asyncio.subprocess.PIPE,
        )
        assert child.process.stdout is not None
        raw = await child.process.stdout.read()
        await child.wait()
        try:
            replayed: dict[str, Any] = json.loads(raw)
        except ValueError:
            print(f"hpa evaluate {record.name}: unreadable output", file=out)
            return None
        print(
            f"replayed {record.name} with `python -m adapter hpa evaluate`: desiredReplicas "
            f"{replayed.get('desiredReplicas')} (live: {decision.get('desiredReplicas')})",
            file=out,
        )
        return record, replayed
    return None


async def demo_command(args: DemoCommandSettings) -> int:
    logging.getLogger("adapter.sandbox").setLevel(logging.WARNING)  # the view is the output
    output = Path(args.output).resolve()
    if output.exists():
        shutil.rmtree(output)
    settings = DemoSettings.short(output) if args.short else DemoSettings(output=output)
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, main.cancel)
    try:
        result = await run_demo(settings)
    except asyncio.CancelledError:
        print("\ninterrupted: every process the demo started is stopped.", file=sys.stderr)
        return 130
    except (DemoError, SandboxError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    total = result.finished - result.started
    first = (
        f"{result.first_scale_up:.0f}s after the HPAs were created"
        if result.first_scale_up is not None
        else "none"
    )
    print(
        f"\ndone in {total:.0f}s. first scale-up: {first}. replicas (most, at the end): "
        + ", ".join(f"{k} {v[0]} -> {v[1]}" for k, v in
                    ((name, (result.max_replicas[name], result.final_replicas[name]))
                     for name in sorted(result.max_replicas)))
    )  # fmt: skip
    print(
        f"plot: {result.plot or 'none'}; "
        f"decision records: {len(result.records)} in {output / 'records'}"
    )
    print(
        "replay one: python -m adapter hpa evaluate "
        + str(result.replayed_record or (result.records[0] if result.records else "<record>"))
    )
    return 0
