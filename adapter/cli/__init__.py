"""`python -m adapter <command>`: the flags of every command, and nothing else.

Each subcommand's flags are defined in this package (`serveflags`, `loopflags`, and the
tool commands below); `adapter.settings.fromflags` turns them into typed settings, and
the module that does the work gets those settings, never argparse. Exit status 2 is a
flag the process cannot run with; other exit codes are the commands' own.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import Final, TextIO

from adapter import __version__
from adapter.cli import apiserverflags, argtypes, logs, loopflags, sandboxflags, serveflags
from adapter.settings import fromflags

__all__ = ["EXIT_FLAGS", "backtest", "build_parser", "main"]

EXIT_FLAGS: Final = 2
"""A flag value or combination the process cannot run with, as argparse's own exit."""


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
            type=argtypes.duration,
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
    loopflags.add_loop_flags(run, embedded=False)
    _add_backtest(sub)


def _add_backtest(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backtest = sub.add_parser(
        "backtest", help="replay HPA specs over a window of Prometheus history, offline"
    )
    backtest.add_argument("spec", metavar="HPA.yaml", help="autoscaling/v2 HPA manifest")
    backtest.add_argument(
        "--compare", action="append", default=[], metavar="OTHER.yaml", help="another spec"
    )
    backtest.add_argument("--config", help="rule config file the adapter serves with")
    backtest.add_argument("--from", dest="from_", metavar="T", help="RFC 3339, or 7d before now")
    backtest.add_argument("--to", metavar="T", help="RFC 3339, or a duration before now (0s)")
    backtest.add_argument("--step", default="15s", help="time between syncs (default 15s)")
    backtest.add_argument(
        "--replicas", type=int, metavar="N", help="replicas that ran, when no history has them"
    )
    backtest.add_argument(
        "--pod-requests",
        action="append",
        default=[],
        metavar="[CONTAINER/]RESOURCE=QUANTITY",
        help="per-pod requests, for Utilization targets (repeatable)",
    )
    backtest.add_argument("--records", metavar="DIR", help="replay these decision records")
    backtest.add_argument("-o", "--output", choices=("json", "table"), default="table")
    backtest.add_argument("--plot", metavar="FILE.png", help="draw replicas and metrics")
    loopflags.add_controller_flags(
        backtest.add_argument_group("controller (kube-controller-manager's flags)")
    )
    serveflags.add_prometheus_flags(backtest, required=False)


def _add_sandbox(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sandbox = commands.add_parser(
        "sandbox", help="a one-machine cluster (API server stand-in) with the adapter in it"
    )
    sandboxflags.add_sandbox_flags(sandbox)
    demo = commands.add_parser(
        "demo", help="the walkthrough's story on the sandbox: ab load, HPAs scale up and down"
    )
    sandboxflags.add_demo_flags(demo)


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
    serve = commands.add_parser("serve", help="run the aggregated metrics API server")
    serveflags.add_serve_flags(serve)
    _add_rules(commands)
    _add_hpa(commands)
    _add_sandbox(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(
        args.verbosity,
        logging_format=getattr(args, "logging_format", "text"),
        modules=getattr(args, "vmodule", ()),
    )
    if args.command == "serve":
        from adapter import serving

        try:
            settings = fromflags.serve_settings(args)
            hpa = fromflags.hpa_settings(args) if args.hpa else None
        except fromflags.FlagError as err:
            print(f"serve: {err}", file=sys.stderr)
            return EXIT_FLAGS
        _warn_ignored(args)
        return asyncio.run(serving.serve_command(settings, hpa))
    if args.command == "rules":
        from adapter.tools import rules_tool

        return rules_tool.run(fromflags.rules_tool_settings(args))
    if args.command == "sandbox":
        from adapter.sandbox import onemachine

        try:
            sandbox_settings = fromflags.sandbox_settings(args)
        except fromflags.FlagError as err:
            print(f"sandbox: {err}", file=sys.stderr)
            return EXIT_FLAGS
        return asyncio.run(onemachine.sandbox_command(sandbox_settings))
    if args.command == "demo":
        from adapter.sandbox import demo

        return asyncio.run(demo.demo_command(fromflags.demo_settings(args)))
    if args.command == "hpa" and args.hpa_command == "run":
        from adapter.hpa import running

        try:
            run_settings = fromflags.hpa_run_settings(args)
        except fromflags.FlagError as err:
            print(f"hpa run: {err}", file=sys.stderr)
            return EXIT_FLAGS
        return asyncio.run(running.run_command(run_settings))
    if args.command == "hpa" and args.hpa_command == "backtest":
        return backtest(args, sys.stdout, sys.stderr)
    if args.command == "hpa":
        from adapter.hpa import evaluate

        return evaluate.evaluate_files(args.files, sys.stdout, sys.stderr)
    raise AssertionError(f"unhandled command {args.command}")


def backtest(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`hpa backtest`: its flags as settings (a bad one is one line and exit 2), then
    the command, whose exit codes follow contracts/hpa-backtest.md."""
    from adapter.backtest import command

    try:
        settings = fromflags.backtest_settings(args)
    except fromflags.FlagError as error:
        err.write(f"hpa backtest: {' '.join(str(error).split())}\n")
        return EXIT_FLAGS
    return command.run(settings, out, err)


def _warn_ignored(args: argparse.Namespace) -> None:
    """Name every flag given that has no effect here (see apiserverflags.IGNORED)."""
    defaults = argparse.ArgumentParser()
    serveflags.add_serve_flags(defaults)
    baseline = defaults.parse_args(["--prometheus-url=-", "--config=-"])
    ignored = fromflags.ignored_flags(args, apiserverflags.IGNORED, baseline)
    log = logging.getLogger("adapter.cli")
    if ignored:
        log.warning("accepted for compatibility, without effect here: %s", ", ".join(ignored))
    extra = [arg for arg in args.program if arg != "/adapter"]
    if extra:
        log.warning("ignoring arguments that are not flags: %s", " ".join(extra))
