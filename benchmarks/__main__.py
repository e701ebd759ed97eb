"""`python -m benchmarks [--quick] [NAME...]`: run the suite, print tables, write JSON.

Runs each named benchmark (all by default) in turn, prints its tables and which targets
it met, and writes `benchmarks/results/<name>.json`. The exit status is 0 when every
benchmark produced figures, whether or not the targets were met: a missed target is a
finding to read, not a crash; 1 when a benchmark could not measure at all.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable, Sequence

from benchmarks import authn, backtest, bench_hpa_loop, discovery, pods
from benchmarks.common import BenchmarkError, Options, Result, load_average, write_result

BUSY_LOAD = 0.5
"""A 1-minute load average above this before a benchmark means other work is running."""

BENCHMARKS: dict[str, Callable[[Options], Result]] = {
    pods.NAME: pods.run,
    discovery.NAME: discovery.run,
}
BENCHMARKS[bench_hpa_loop.NAME] = bench_hpa_loop.run
BENCHMARKS[backtest.NAME] = backtest.run
BENCHMARKS[authn.NAME] = authn.run


def parse_options(argv: Sequence[str] | None) -> tuple[Options, list[str]]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"benchmarks to run: {', '.join(BENCHMARKS)}"
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes and short runs (a smoke test)"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="seconds of each load run (default 20, 5 with --quick)",
    )
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument(
        "--keep-workdir", action="store_true", help="keep logs and data for a post-mortem"
    )
    parser.add_argument(
        "--adapter-arg",
        action="append",
        default=[],
        metavar="FLAG",
        help="extra flag for `adapter serve` in the pods benchmark (repeatable; "
        "--adapter-arg=--client-qps=100)",
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; have {', '.join(BENCHMARKS)}")
    duration = args.duration if args.duration is not None else (5.0 if args.quick else 20.0)
    options = Options(
        quick=args.quick,
        duration=duration,
        loadgen=args.loadgen,
        keep_workdir=args.keep_workdir,
        adapter_args=tuple(args.adapter_arg),
    )
    return options, args.names or list(BENCHMARKS)


def main(argv: Sequence[str] | None = None) -> int:
    options, names = parse_options(argv)
    failed = False
    missed: list[str] = []
    for name in names:
        print(f"== {name}{' (quick)' if options.quick else ''}", flush=True)
        load = load_average()
        if load > BUSY_LOAD:
            print(
                f"! load average {load:.2f} before the start: other work on the machine "
                "will skew these figures (see the `other load` column where shown)",
                flush=True,
            )
        started = time.monotonic()
        try:
            result = BENCHMARKS[name](options)
        except BenchmarkError as err:
            print(f"{name}: could not measure: {err}", file=sys.stderr, flush=True)
            failed = True
            continue
        except Exception:
            traceback.print_exc()
            failed = True
            continue
        for table in result.tables:
            print(table.render(), end="\n\n")
        for target in result.targets:
            print(("  " if target.met else "! ") + target.describe())
            if not target.met:
                missed.append(f"{name}: {target.figure}")
        result.data["load_average_before"] = load
        path = write_result(result)
        print(f"({time.monotonic() - started:.0f}s; written to {path})\n", flush=True)
    if missed:
        print("targets missed:\n  " + "\n  ".join(missed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
