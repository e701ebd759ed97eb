"""`sandbox` and `demo`'s flags: the one-machine cluster and the walkthrough played on it.

What they start is `adapter.sandbox.onemachine`'s and `adapter.sandbox.demo`'s.
"""

from __future__ import annotations

import argparse

__all__ = ["add_demo_flags", "add_sandbox_flags"]


def add_sandbox_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workdir", help="where logs, kubeconfig and Prometheus data go (default: a new temp dir)"
    )
    parser.add_argument(
        "--scrape-interval", type=float, default=5.0, help="seconds between scrapes (default 5)"
    )


def add_demo_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output",
        default="demo-output",
        help="where the plot, records and logs go (default: demo-output)",
    )
    parser.add_argument(
        "--short", action="store_true", help="the same story in about two minutes (tests, CI)"
    )
