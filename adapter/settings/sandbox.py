"""`sandbox` and `demo`'s settings: where the one-machine cluster works and how long the
story runs.

Plain data made by `adapter.settings.fromflags`; what the commands build from it (the
sandbox's and the demo's detailed timings) is `adapter.sandbox`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DemoCommandSettings", "SandboxCommandSettings"]


@dataclass(frozen=True, slots=True)
class SandboxCommandSettings:
    workdir: str | None = None
    """`--workdir`: logs, kubeconfig and Prometheus data; None: a new temporary folder."""
    scrape_interval: float = 5.0
    """`--scrape-interval` (seconds) of the sandbox's Prometheus."""
    verbosity: int = 0
    """`-v`, passed on to the adapter the sandbox runs."""


@dataclass(frozen=True, slots=True)
class DemoCommandSettings:
    output: str = "demo-output"
    """`--output`: where the plot, the decision records and the logs go (emptied first)."""
    short: bool = False
    """`--short`: the same story in about two minutes (tests, CI)."""
