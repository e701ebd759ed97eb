"""`hpa backtest`: flags in, report out, exit codes per contracts/hpa-backtest.md.

Owns the command's flow and I/O contract: read the window and the specs, read history
from Prometheus (or the decision records with `--records`), replay each spec, and print
the report (`-o json`, the contract; `-o table`, for people), with `--plot` drawing it.
Exit status 0 when the report was produced, 2 for invalid input (one line on stderr),
1 when Prometheus cannot be reached. Long windows print progress on stderr. The
flags are defined in `adapter.cli`; kube-controller-manager's are read as the loop's
are (`adapter.settings.fromflags.controller_config`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from adapter.backtest import loadmodel, plotting, reading, replay, report, simulation
from adapter.backtest.loadmodel import MAIN_CONTAINER
from adapter.backtest.specs import BacktestSpec, SpecError, load_spec, metric_reads
from adapter.backtest.window import WindowError, parse_window
from adapter.hpa.model import CONTAINER_RESOURCE, RESOURCE
from adapter.k8s.quantity import Quantity, QuantityError
from adapter.rules.config import ConfigError, load_config
from adapter.settings import ControllerConfig, fromflags

__all__ = ["EXIT_INVALID", "EXIT_OK", "EXIT_UNREACHABLE", "run"]

EXIT_OK = 0
EXIT_UNREACHABLE = 1
EXIT_INVALID = 2
PROGRESS_FROM = 5_000
"""Windows of more syncs than this report progress on stderr."""


class InputError(ValueError):
    """A flag the backtest cannot run with; the message names it."""


def _requests(items: Sequence[str]) -> dict[str, dict[str, Quantity]]:
    """`--pod-requests [CONTAINER/]RESOURCE=QUANTITY` into per-container requests."""
    result: dict[str, dict[str, Quantity]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        container, slash, resource = key.rpartition("/")
        if not sep or not resource:
            raise InputError(f"--pod-requests {item!r}: want [CONTAINER/]RESOURCE=QUANTITY")
        try:
            quantity = Quantity.parse(raw)
        except QuantityError as err:
            raise InputError(f"--pod-requests {item!r}: {err}") from err
        result.setdefault(container if slash else MAIN_CONTAINER, {})[resource] = quantity
    return result


def _config(args: argparse.Namespace) -> ControllerConfig:
    try:
        return fromflags.controller_config(args)
    except fromflags.FlagError as err:
        raise InputError(str(err)) from err


def _check_requests(
    specs: Sequence[BacktestSpec], requests: dict[str, dict[str, Quantity]]
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


def _connection(args: argparse.Namespace) -> Any:
    try:
        import requests
        from prometheus_api_client import PrometheusConnect
    except ImportError as err:
        raise InputError(
            "reading Prometheus needs prometheus-api-client: "
            "pip install 'metrics-adapter[analysis]'"
        ) from err
    session = requests.Session()
    headers: dict[str, str] = {}
    for item in args.prometheus_header:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--prometheus-header {item!r}: want KEY=VALUE")
        headers[key] = value
    if args.prometheus_token_file:
        try:
            token = Path(args.prometheus_token_file).read_text(encoding="utf-8").strip()
        except OSError as err:
            raise InputError(f"--prometheus-token-file: {err.strerror or err}") from err
        headers["Authorization"] = f"Bearer {token}"
    if args.prometheus_ca_file:
        session.verify = args.prometheus_ca_file
    if args.prometheus_client_tls_cert_file:
        session.cert = (args.prometheus_client_tls_cert_file, args.prometheus_client_tls_key_file)
    return PrometheusConnect(
        url=args.prometheus_url,
        headers=headers or None,
        session=session,
        timeout=args.prometheus_timeout,
        method=args.prometheus_verb,
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


def _runs(args: argparse.Namespace, err: TextIO) -> tuple[Any, list[simulation.SpecRun], str, str]:
    config = _config(args)
    gates = config.feature_gates
    specs = [load_spec(path, gates) for path in [args.spec, *args.compare]]
    if args.records:
        runs = [replay.replay_records(args.records, spec) for spec in specs]
        times = runs[0].times
        window = parse_window(
            times[0].strftime("%Y-%m-%dT%H:%M:%SZ"),
            (times[-1] + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            args.step,
        )
        return window, runs, f"--records {args.records}", replay.RECORDS_MODEL
    if not args.prometheus_url or not args.config:
        raise InputError("--prometheus-url and --config are required (or --records DIR)")
    if args.from_ is None or args.to is None:
        raise InputError("--from and --to are required (or --records DIR)")
    window = parse_window(args.from_, args.to, args.step)
    requests = _requests(args.pod_requests)
    _check_requests(specs, requests)
    if args.replicas is not None and args.replicas < 0:
        raise InputError(f"--replicas {args.replicas}: must not be negative")
    try:
        rules = load_config(args.config)
    except ConfigError as error:
        raise InputError(" ".join(str(error).split())) from error
    reader = reading.Reader(_connection(args), rules, window)
    history = reader.history(specs, metric_reads(specs), args.replicas)
    settings = simulation.Settings(
        config=config,
        requests=requests,
        resource_window=timedelta(
            seconds=rules.resource_rules.window_seconds if rules.resource_rules else 60.0
        ),
    )
    runs = [
        simulation.simulate(spec, history, settings, progress=_Progress(err, spec.name))
        for spec in specs
    ]
    return window, runs, history.replicas_source, loadmodel.MODEL


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        window, runs, source, model = _runs(args, err)
        if args.plot:
            plotting.plot(runs, args.plot)
    except (SpecError, WindowError, InputError, reading.ReadError, plotting.PlotError) as error:
        err.write(f"hpa backtest: {' '.join(str(error).split())}\n")
        return EXIT_INVALID
    except reading.UnreachableError as error:
        err.write(f"hpa backtest: {' '.join(str(error).split())}\n")
        return EXIT_UNREACHABLE
    if args.output == "json":
        document = report.document(window, runs, replicas_source=source, model=model)
        out.write(json.dumps(document, ensure_ascii=False) + "\n")
    else:
        out.write(report.table(window, runs, replicas_source=source, model=model))
    return EXIT_OK


def main(args: argparse.Namespace) -> int:
    return run(args, sys.stdout, sys.stderr)
