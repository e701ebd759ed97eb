"""Everything the command line can say, as frozen, typed values.

`serving`: the adapter server's settings (`serve`); `hpa`: the HPA loop's (`serve --hpa`,
`hpa run`), including kube-controller-manager's algorithm flags; `tools`: the rules
tooling's; `sandbox`: the sandbox's and the demo's; `backtest`: `hpa backtest`'s (its
window, Prometheus, pod requests); `fromflags`: the one place where parsed flags become
these values and flags are checked against each other.
The flags themselves are defined in the CLI layer (`adapter.cli`); this package is plain
data below every layer that uses it, so the server, the HPA loop and the tools read their
settings without reaching up or sideways.
"""

from adapter.settings.backtest import BacktestPrometheus, BacktestSettings, Window
from adapter.settings.hpa import (
    ControllerConfig,
    FeatureGates,
    HPARunSettings,
    HPASettings,
    LeaderElectionSettings,
    Mode,
    RecordSettings,
)
from adapter.settings.serving import (
    ApiGroups,
    AuthenticationSettings,
    AuthorizationSettings,
    ClusterSettings,
    DiscoverySettings,
    RequestHeaderSettings,
    ServingSettings,
    Settings,
)
from adapter.settings.tools import RulesToolSettings

__all__ = [
    "ApiGroups",
    "AuthenticationSettings",
    "AuthorizationSettings",
    "BacktestPrometheus",
    "BacktestSettings",
    "ClusterSettings",
    "ControllerConfig",
    "DiscoverySettings",
    "FeatureGates",
    "HPARunSettings",
    "HPASettings",
    "LeaderElectionSettings",
    "Mode",
    "RecordSettings",
    "RequestHeaderSettings",
    "RulesToolSettings",
    "ServingSettings",
    "Settings",
    "Window",
]
