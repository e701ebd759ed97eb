"""The rules tooling's settings (`rules check|explain|query`).

Plain data: which command, which config and series source, how to print. Made by
`adapter.settings.fromflags.rules_tool_settings`; read by `adapter.tools.rules_tool`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["RulesToolSettings"]


@dataclass(frozen=True, slots=True)
class RulesToolSettings:
    command: Literal["check", "explain", "query"]
    configs: tuple[str, ...]
    """`check`: every file named; `explain`/`query`: the one `--config`."""
    series_file: str | None = None
    """`--series`: a YAML/JSON list of label sets, as `/api/v1/series` returns them."""
    prometheus_url: str | None = None
    """`--prometheus-url`: list series from this Prometheus instead (and, for `query`,
    run the request's queries against it)."""
    metrics_max_age: float = 600.0
    """`--metrics-max-age` (seconds): series history to list with `--prometheus-url`."""
    kubeconfig: str | None = None
    """`--kubeconfig`: resolve resources against this cluster, not the built-in table."""
    output: Literal["text", "json"] = "text"
    path: str = ""
    """`query --path`: the API request path with its query string."""
    objects: tuple[str, ...] = ()
    """`query --objects`: the object names the request's label selector matches."""

    @property
    def config(self) -> str:
        return self.configs[0]
