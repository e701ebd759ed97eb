"""`hpa backtest`: settings in, report out, exit codes per contracts/hpa-backtest.md.

Owns the command's flow and I/O contract: read the specs, read history from
Prometheus (or the decision records with `--records`), replay each spec, and print the
report (`-o json`, the contract; `-o table`, for people), with `--plot` drawing it.
Exit status 0 when the report was produced, 2 for invalid input (one line on stderr),
1 when Prometheus cannot be reached. Long windows print progress on stderr. The flags
are defined in `adapter.cli` and become `BacktestSettings` in
`adapter.settings.fromflags.backtest_settings` (a bad flag is exit 2 there); this module
gets the settings, never argparse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from adapter.backtest import loadmodel, plotting, reading, replay, report, simulation
from adapter.backtest.specs import BacktestSpec, SpecError, load_spec, metric_reads
from adapter.hpa.model import CONTAINER_RESOURCE, RESOURCE
from adapter.k8s.quantity import Quantity
from adapter.rules.config import ConfigError, load_config
from adapter.settings import BacktestPrometheus, BacktestSettings, Window
from adapter.settings.backtest import MAIN_CONTAINER

__all__ = ["EXIT_INVALID", "EXIT_OK", "EXIT_UNREACHABLE", "run"]

EXIT_OK = 0
EXIT_UNREACHABLE = 1
EXIT_INVALID = 2
PROGRESS_FROM = 5_000
"""Windows of more syncs than this report progress on stderr."""


class InputError(ValueError):
    """Input the backtest cannot run with, found past the flags; the message names it."""


def _check_requests(
    specs: Sequence[BacktestSpec], requests: Mapping[str, Mapping[str, Quantity]]
) -> None:
    """Utilization targets divide by the pods' requests, which history does not hold."""
    for spec in specs:
        for metric in spec.hpa.spec.metrics:
            source = metric.resource if metric.type == RESOURCE else None
            container = MAIN_CONTAINER
            if metric.type == CONTAINER_RESOURCE and metric.container_resource is not None:
                source = None
                container = metric.container_resource.container
                name = metric.container_resource.name
                utilization = metric.container_resource.target.average_utilization
            elif source is not None:
                name, utilization = source.name, source.target.average_utilization
            else:
                continue
            if utilization is not None and name not in requests.get(container, {}):
                flag = name if container == MAIN_CONTAINER else f"{container}/{name}"
                raise InputError(
                    f"{spec.file}: the {name} target is a utilization of the pods' requests; "
                    f"give them with --pod-requests {flag}=QUANTITY"
                )


def _connection(prometheus: BacktestPrometheus) -> Any:
    try:
        import requests
        from prometheus_api_client import PrometheusConnect
    except ImportError as err:
        raise InputError(
            "reading Prometheus needs prometheus-api-client: "
            "pip install 'metrics-adapter[analysis]'"
        ) from err
    session = requests.Session()
    headers = dict(prometheus.headers)
    if prometheus.token_file:
        try:
            token = Path(prometheus.token_file).read_text(encoding="utf-8").strip()
        except OSError as err:
            raise InputError(f"--prometheus-token-file: {err.strerror or err}") from err
        headers["Authorization"] = f"Bearer {token}"
    if prometheus.ca_file:
        session.verify = prometheus.ca_file
    if prometheus.client_cert_file:
        key = prometheus.client_key_file
        session.cert = (prometheus.client_cert_file, key) if key else prometheus.client_cert_file
    return PrometheusConnect(
        url=prometheus.url,
        headers=headers or None,
        session=session,
        timeout=prometheus.timeout,
        method=prometheus.verb,
    )


class _Progress:
    def __init__(self, err: TextIO, name: str) -> None:
        self.err = err
        self.name = name
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        if total < PROGRESS_FROM:
            return
        tenth = done * 10 // total
        if tenth != self.shown:
            self.shown = tenth
            self.err.write(f"hpa backtest: {self.name}: {tenth * 10}% ({done}/{total} syncs)\n")
            self.err.flush()


def _records_window(times: Sequence[Any], step: float) -> Window:
    """The span the records cover, in whole seconds, for the report's `window`."""
    return Window(
        times[0].replace(microsecond=0),
        (times[-1] + timedelta(seconds=1)).replace(microsecond=0),
        step,
    )


def _runs(
    settings: BacktestSettings, err: TextIO
) -> tuple[Window, list[simulation.SpecRun], str, str]:
    config = settings.controller
    specs = [load_spec(path, config.feature_gates) for path in settings.specs]
    if settings.records:
        runs = [replay.replay_records(settings.records, spec) for spec in specs]
        covered = _records_window(runs[0].times, settings.step)
        return covered, runs, f"--records {settings.records}", replay.RECORDS_MODEL
    window, prometheus = settings.window, settings.prometheus
    if window is None or prometheus is None or settings.rules_file is None:
        raise InputError("--prometheus-url and --config are required (or --records DIR)")
    _check_requests(specs, settings.pod_requests)
    try:
        rules = load_config(settings.rules_file)
    except ConfigError as error:
        raise InputError(" ".join(str(error).split())) from error
    reader = reading.Reader(_connection(prometheus), rules, window)
    history = reader.history(specs, metric_reads(specs), settings.replicas)
    simulation_settings = simulation.Settings(
        config=config,
        requests=settings.pod_requests,
        resource_window=timedelta(
            seconds=rules.resource_rules.window_seconds if rules.resource_rules else 60.0
        ),
    )
    runs = [
        simulation.simulate(spec, history, simulation_settings, progress=_Progress(err, spec.name))
        for spec in specs
    ]
    return window, runs, history.replicas_source, loadmodel.MODEL


def run(settings: BacktestSettings, out: TextIO, err: TextIO) -> int:
    try:
        window, runs, source, model = _runs(settings, err)
        if settings.plot:
            plotting.plot(runs, settings.plot)
    except (SpecError, InputError, reading.ReadError, plotting.PlotError) as error:
        err.write(f"hpa backtest: {' '.join(str(error).split())}\n")
        return EXIT_INVALID
    except reading.UnreachableError as error:
        err.write(f"hpa backtest: {' '.join(str(error).split())}\n")
        return EXIT_UNREACHABLE
    if settings.output == "json":
        document = report.document(window, runs, replicas_source=source, model=model)
        out.write(json.dumps(document, ensure_ascii=False) + "\n")
    else:
        out.write(report.table(window, runs, replicas_source=source, model=model))
    return EXIT_OK
