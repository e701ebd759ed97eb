"""`python -m adapter <command>`: argparse subcommands and nothing else.

Each subcommand turns its flags into typed settings and hands them to the module that
does the work; exit codes are theirs. Flag names follow prometheus-adapter's.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from adapter import __version__
from adapter.hpa import flags as hpa_flags
from adapter.k8s import timefmt


def _duration(text: str) -> float:
    try:
        return timefmt.parse_go_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: {err}") from err


def _bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "t", "true", "yes"):
        return True
    if lowered in ("0", "f", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}")


def _add_prometheus_flags(parser: argparse.ArgumentParser, *, required: bool) -> None:
    group = parser.add_argument_group("prometheus")
    group.add_argument(
        "--prometheus-url",
        required=required,
        default=None,
        help="base URL of the Prometheus-compatible API",
    )
    group.add_argument(
        "--prometheus-verb",
        choices=("GET", "POST"),
        default="GET",
        help="HTTP method for queries; queries too long for a URL use POST anyway",
    )
    group.add_argument(
        "--prometheus-header",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra header on every Prometheus call (repeatable)",
    )
    group.add_argument("--prometheus-token-file", help="file holding a bearer token for Prometheus")
    group.add_argument("--prometheus-ca-file", help="CA bundle to verify Prometheus' certificate")
    group.add_argument(
        "--prometheus-client-tls-cert-file", help="client certificate for Prometheus"
    )
    group.add_argument("--prometheus-client-tls-key-file", help="client key for Prometheus")
    group.add_argument(
        "--prometheus-auth-config",
        metavar="KUBECONFIG",
        help="kubeconfig whose current context's CA and user credentials are used for Prometheus",
    )
    group.add_argument(
        "--prometheus-auth-incluster",
        type=_bool,
        nargs="?",
        const=True,
        default=False,
        metavar="BOOL",
        help="use the pod's service account token and CA for Prometheus",
    )
    group.add_argument(
        "--prometheus-timeout",
        type=_duration,
        default=30.0,
        metavar="DURATION",
        help="longest wait for one Prometheus call (default 30s)",
    )


def _add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="run the aggregated metrics API server")
    _add_prometheus_flags(serve, required=True)
    serve.add_argument(
        "--config", required=True, help="rule config file (prometheus-adapter format)"
    )
    serve.add_argument(
        "--config-reload-interval",
        type=_duration,
        default=5.0,
        metavar="DURATION",
        help="how often the config file is checked for changes (default 5s; 0: only on SIGHUP)",
    )
    serve.add_argument(
        "--metrics-relist-interval",
        type=_duration,
        default=600.0,
        metavar="DURATION",
        help="how often discovery lists series (default 10m)",
    )
    serve.add_argument(
        "--metrics-max-age",
        type=_duration,
        default=None,
        metavar="DURATION",
        help="series history each relist asks for (default: the relist interval)",
    )
    serving = serve.add_argument_group("serving")
    serving.add_argument("--secure-port", type=int, default=6443, help="HTTPS port (default 6443)")
    serving.add_argument("--bind-address", default="0.0.0.0", help="address to listen on")
    serving.add_argument("--tls-cert-file", help="serving certificate (PEM)")
    serving.add_argument("--tls-private-key-file", help="serving key (PEM)")
    serving.add_argument(
        "--cert-dir",
        default="apiserver.local.config/certificates",
        help="where a self-signed certificate is written when none is given",
    )
    cluster = serve.add_argument_group("cluster")
    cluster.add_argument(
        "--lister-kubeconfig",
        "--kubeconfig",
        dest="kubeconfig",
        help="kubeconfig for the cluster (default: $KUBECONFIG, ~/.kube/config, in-cluster)",
    )
    cluster.add_argument("--client-qps", type=float, default=20.0)
    cluster.add_argument("--client-burst", type=int, default=40)
    cluster.add_argument(
        "--object-cache",
        type=_bool,
        default=True,
        metavar="BOOL",
        help="watch object metadata instead of listing it per request (default true)",
    )
    apis = serve.add_argument_group("API groups")
    apis.add_argument("--enable-custom-metrics-api", type=_bool, default=True, metavar="BOOL")
    apis.add_argument("--enable-external-metrics-api", type=_bool, default=True, metavar="BOOL")
    apis.add_argument("--enable-resource-metrics-api", type=_bool, default=True, metavar="BOOL")
    hpa_flags.add_loop_flags(serve, embedded=True)


def _add_rules(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rules = commands.add_parser(
        "rules", help="check, explain and query rule configs without a cluster"
    )
    sub = rules.add_subparsers(dest="rules_command", required=True)
    check = sub.add_parser("check", help="validate config files")
    check.add_argument("configs", nargs="+", metavar="CONFIG")
    for name, text in (
        ("explain", "list the metrics a config makes of some series"),
        ("query", "print the PromQL an API request would run"),
    ):
        parser = sub.add_parser(name, help=text)
        parser.add_argument("--config", required=True)
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument(
            "--series", help="YAML/JSON list of label sets, as /api/v1/series returns"
        )
        source.add_argument("--prometheus-url", help="list series from this Prometheus")
        parser.add_argument(
            "--metrics-max-age",
            type=_duration,
            default=600.0,
            metavar="DURATION",
            help="series history to list with --prometheus-url (default 10m)",
        )
        parser.add_argument(
            "--kubeconfig", help="use this cluster's resources instead of the built-in table"
        )
        parser.add_argument("-o", "--output", choices=("text", "json"), default="text")
        if name == "query":
            parser.add_argument(
                "--path", required=True, help="API request path with its query string"
            )
            parser.add_argument("--objects", default="", help="NAME,... the label selector matches")


def _add_hpa(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    hpa = commands.add_parser("hpa", help="the HorizontalPodAutoscaler")
    sub = hpa.add_subparsers(dest="hpa_command", required=True)
    evaluate = sub.add_parser("evaluate", help="replay one sync of an HPA snapshot, offline")
    evaluate.add_argument("files", nargs="+", metavar="SNAPSHOT", help="YAML or JSON; - for stdin")
    run = sub.add_parser("run", help="run the HPA loop against the cluster's metrics APIs")
    run.add_argument("--kubeconfig", help="default: $KUBECONFIG, ~/.kube/config, in-cluster")
    run.add_argument("--client-qps", type=float, default=20.0)
    run.add_argument("--client-burst", type=int, default=30)
    run.add_argument(
        "--metrics-bind-address",
        default=":8080",
        metavar="HOST:PORT",
        help="plain-HTTP /metrics and /healthz (default :8080; 0 turns them off)",
    )
    hpa_flags.add_loop_flags(run, embedded=False)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="metrics-adapter", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v",
        "--v",
        dest="verbosity",
        type=int,
        default=0,
        help="log verbosity, as klog's -v (2: requests, 6: queries)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _add_serve(commands)
    _add_rules(commands)
    _add_hpa(commands)
    return parser


def _configure_logging(verbosity: int) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbosity >= 6 else logging.INFO,
        format="%(levelname).1s%(asctime)s %(process)d %(name)s] %(message)s",
        datefmt="%m%d %H:%M:%S",
        stream=sys.stderr,
    )
    if verbosity < 2:
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbosity)
    if args.command == "serve":
        from adapter import serving

        return asyncio.run(serving.serve_command(args))
    if args.command == "rules":
        from adapter.tools import rules_tool

        return rules_tool.run(args)
    if args.command == "hpa" and args.hpa_command == "run":
        from adapter.hpa import running

        return asyncio.run(running.run_command(args))
    if args.command == "hpa":
        from adapter.hpa import evaluate

        return evaluate.evaluate_files(args.files, sys.stdout, sys.stderr)
    raise AssertionError(f"unhandled command {args.command}")
