"""Parsed flags into settings: every conversion and every check across flags.

The CLI layer (`adapter.cli`) defines the flags and parses single values (durations,
booleans, sizes); this module turns the parsed namespace into `Settings`,
`HPASettings`, `HPARunSettings` and `BacktestSettings`, refusing combinations the
process cannot run with (`FlagError`, exit status 2, the message naming the flag). A
value type that can check itself does so when made (`LeaderElectionSettings`,
`PrometheusSettings`); this module only names the flag in its complaint.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from adapter.cluster.leaderelection import TimingError
from adapter.k8s import timefmt
from adapter.k8s.quantity import Quantity, QuantityError
from adapter.k8s.selectors import LabelSelector, SelectorError
from adapter.prometheus.errors import PrometheusConfigError
from adapter.prometheus.settings import PrometheusSettings, parse_header_flags
from adapter.settings.backtest import (
    MAIN_CONTAINER,
    MAX_STEPS,
    BacktestPrometheus,
    BacktestSettings,
    Window,
)
from adapter.settings.hpa import (
    ControllerConfig,
    FeatureGates,
    HPARunSettings,
    HPASettings,
    LeaderElectionSettings,
    Mode,
    RecordSettings,
)
from adapter.settings.sandbox import DemoCommandSettings, SandboxCommandSettings
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
    "FEATURE_GATES",
    "FlagError",
    "backtest_settings",
    "backtest_window",
    "controller_config",
    "demo_settings",
    "feature_gates",
    "hpa_run_settings",
    "hpa_settings",
    "ignored_flags",
    "parse_bool",
    "rules_tool_settings",
    "sandbox_settings",
    "serve_settings",
]

FEATURE_GATES: Final = {
    "HPAConfigurableTolerance": "hpa_configurable_tolerance",
    "HPAScaleToZero": "hpa_scale_to_zero",
    "PodLevelResources": "pod_level_resources",
}
"""The Kubernetes feature gates the HPA logic follows, by their Kubernetes names."""


class FlagError(ValueError):
    """A flag value, or a combination of flags, the process cannot run with; the
    message names the flag."""


def parse_bool(text: str) -> bool:
    """A boolean as Go's strconv.ParseBool reads it (the pflag spelling upstream takes)."""
    lowered = text.lower()
    if lowered in ("1", "t", "true", "yes"):
        return True
    if lowered in ("0", "f", "false", "no"):
        return False
    raise ValueError(f"invalid boolean {text!r}")


def serve_settings(args: argparse.Namespace) -> Settings:
    """`serve`'s flags as Settings."""
    try:
        prometheus = PrometheusSettings(
            url=args.prometheus_url,
            verb=args.prometheus_verb,
            headers=parse_header_flags(args.prometheus_header),
            token_file=args.prometheus_token_file,
            ca_file=args.prometheus_ca_file,
            client_cert_file=args.prometheus_client_tls_cert_file,
            client_key_file=args.prometheus_client_tls_key_file,
            auth_config=args.prometheus_auth_config,
            auth_incluster=args.prometheus_auth_incluster,
            timeout=args.prometheus_timeout,
        )
    except PrometheusConfigError as err:
        raise FlagError(f"--prometheus-*: {err}") from err
    return Settings(
        config_file=args.config,
        prometheus=prometheus,
        serving=serving_settings(args),
        discovery=DiscoverySettings(
            relist_interval=args.metrics_relist_interval, max_age=args.metrics_max_age
        ),
        cluster=_cluster(args, burst=args.client_burst),
        api_groups=ApiGroups(
            custom=args.enable_custom_metrics_api,
            external=args.enable_external_metrics_api,
            resource=args.enable_resource_metrics_api,
        ),
        query_timeout=args.prometheus_timeout,
        config_reload_interval=args.config_reload_interval,
        authentication=authentication_settings(args),
        authorization=authorization_settings(args),
    )


def serving_settings(args: argparse.Namespace) -> ServingSettings:
    """SecureServingOptions.Validate's checks, in its words."""
    if not 0 <= args.secure_port <= 65535:
        raise FlagError(
            f"--secure-port {args.secure_port} must be between 0 and 65535, inclusive. "
            "0 picks a free port"
        )
    try:
        ipaddress.ip_address(args.bind_address)
    except ValueError as err:
        raise FlagError(
            f'invalid argument "{args.bind_address}" for "--bind-address" flag: '
            f'failed to parse IP: "{args.bind_address}"'
        ) from err
    return ServingSettings(
        secure_port=args.secure_port,
        bind_address=args.bind_address,
        tls_cert_file=args.tls_cert_file,
        tls_private_key_file=args.tls_private_key_file,
        cert_dir=args.cert_dir,
        tls_min_version=args.tls_min_version,
        tls_cipher_suites=tuple(args.tls_cipher_suites),
    )


def _no_blank(flag: str, values: list[str]) -> tuple[str, ...]:
    """RequestHeaderAuthenticationOptions.Validate: no empty or blank entry."""
    if any(not value.strip() for value in values):
        raise FlagError(f'empty value in "{flag.removeprefix("--")}"')
    return tuple(values)


def authentication_settings(args: argparse.Namespace) -> AuthenticationSettings:
    """DelegatingAuthenticationOptions (plus `--anonymous-auth`, `--delegated-auth`)."""
    if args.authentication_token_webhook_cache_ttl < 0:
        raise FlagError("--authentication-token-webhook-cache-ttl: must not be negative")
    return AuthenticationSettings(
        enabled=args.delegated_auth,
        kubeconfig=args.authentication_kubeconfig or None,
        skip_lookup=args.authentication_skip_lookup,
        tolerate_lookup_failure=args.authentication_tolerate_lookup_failure,
        token_cache_ttl=args.authentication_token_webhook_cache_ttl,
        client_ca_file=args.client_ca_file or None,
        request_header=RequestHeaderSettings(
            client_ca_file=args.requestheader_client_ca_file or None,
            username_headers=_no_blank(
                "--requestheader-username-headers", args.requestheader_username_headers
            ),
            group_headers=_no_blank(
                "--requestheader-group-headers", args.requestheader_group_headers
            ),
            extra_headers_prefix=_no_blank(
                "--requestheader-extra-headers-prefix", args.requestheader_extra_headers_prefix
            ),
            allowed_names=_no_blank(
                "--requestheader-allowed-names", args.requestheader_allowed_names
            ),
        ),
        anonymous=args.anonymous_auth,
    )


def authorization_settings(args: argparse.Namespace) -> AuthorizationSettings:
    """DelegatingAuthorizationOptions; always-allow paths checked as path.NewAuthorizer."""
    for path in args.authorization_always_allow_paths:
        if "*" in path[:-1]:
            raise FlagError(
                f'--authorization-always-allow-paths: only trailing * allowed in "{path}"'
            )
    for flag in ("authorized", "unauthorized"):
        if getattr(args, f"authorization_webhook_cache_{flag}_ttl") < 0:
            raise FlagError(f"--authorization-webhook-cache-{flag}-ttl: must not be negative")
    return AuthorizationSettings(
        enabled=args.delegated_auth,
        kubeconfig=args.authorization_kubeconfig or None,
        allow_cache_ttl=args.authorization_webhook_cache_authorized_ttl,
        deny_cache_ttl=args.authorization_webhook_cache_unauthorized_ttl,
        always_allow_paths=tuple(args.authorization_always_allow_paths),
    )


def ignored_flags(
    args: argparse.Namespace, names: tuple[str, ...], defaults: argparse.Namespace
) -> list[str]:
    """The flags among `names` set to something other than their default: accepted for
    compatibility, without effect here (the CLI names them in a warning)."""
    return [
        "--" + name.replace("_", "-")
        for name in names
        if getattr(args, name, None) != getattr(defaults, name, None)
    ]


def _cluster(args: argparse.Namespace, *, burst: int) -> ClusterSettings:
    return ClusterSettings(
        kubeconfig=args.kubeconfig,
        qps=args.client_qps,
        burst=burst,
        object_cache=getattr(args, "object_cache", True),
    )


def feature_gates(text: str) -> FeatureGates:
    """`--feature-gates` (`Name=bool,...`); an unknown gate is an error, as in Kubernetes."""
    values: dict[str, bool] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, separator, raw = item.partition("=")
        if not separator or name not in FEATURE_GATES:
            known = ", ".join(sorted(FEATURE_GATES))
            raise FlagError(f"--feature-gates: unrecognized feature gate {item!r} (known: {known})")
        try:
            values[FEATURE_GATES[name]] = parse_bool(raw)
        except ValueError as err:
            raise FlagError(f"--feature-gates: {name}: {err}") from err
    return FeatureGates(**values)


def hpa_settings(args: argparse.Namespace) -> HPASettings:
    """The HPA loop's flags (`serve --hpa`, `hpa run`) as HPASettings."""
    if args.hpa_sync_period <= 0:
        raise FlagError("--hpa-sync-period: must be positive")
    if args.hpa_workers < 1:
        raise FlagError("--hpa-workers: must be at least 1")
    try:
        LabelSelector.parse(args.hpa_selector)
    except SelectorError as err:
        raise FlagError(f"--hpa-selector: {err}") from err
    try:
        election = LeaderElectionSettings(
            enabled=args.leader_elect,
            lease_duration=args.leader_elect_lease_duration,
            renew_deadline=args.leader_elect_renew_deadline,
            retry_period=args.leader_elect_retry_period,
            resource_name=args.leader_elect_resource_name,
            resource_namespace=args.leader_elect_resource_namespace,
        )
    except TimingError as err:
        raise FlagError(f"--leader-elect-*: {_flag_names(str(err))}") from err
    return HPASettings(
        sync_period=args.hpa_sync_period,
        workers=args.hpa_workers,
        mode=Mode(args.hpa_mode),
        selector=args.hpa_selector,
        controller=controller_config(args),
        leader_election=election,
        records=RecordSettings(
            directory=args.hpa_record_dir,
            record_all=args.hpa_record_all,
            max_bytes=args.hpa_record_max_bytes,
        ),
    )


def controller_config(args: argparse.Namespace) -> ControllerConfig:
    """kube-controller-manager's HPA flags (`loopflags.add_controller_flags`)."""
    if args.horizontal_pod_autoscaler_tolerance < 0:
        raise FlagError("--horizontal-pod-autoscaler-tolerance: must not be negative")
    return ControllerConfig(
        tolerance=args.horizontal_pod_autoscaler_tolerance,
        cpu_initialization_period=timedelta(
            seconds=args.horizontal_pod_autoscaler_cpu_initialization_period
        ),
        initial_readiness_delay=timedelta(
            seconds=args.horizontal_pod_autoscaler_initial_readiness_delay
        ),
        downscale_stabilization_window=timedelta(
            seconds=args.horizontal_pod_autoscaler_downscale_stabilization
        ),
        feature_gates=feature_gates(args.feature_gates),
    )


_TIMING_FLAGS: Final = (
    ("leaseDuration", "--leader-elect-lease-duration"),
    ("renewDeadline", "--leader-elect-renew-deadline"),
    ("retryPeriod", "--leader-elect-retry-period"),
)


def _flag_names(message: str) -> str:
    """client-go's field names in a timing complaint, as the flags that set them."""
    for field_name, flag in _TIMING_FLAGS:
        message = message.replace(field_name, flag)
    return message.replace("*JitterFactor", " x 1.2")


def hpa_run_settings(args: argparse.Namespace) -> HPARunSettings:
    """`hpa run`'s flags: the loop's, the cluster connection and the metrics listener."""
    return HPARunSettings(
        loop=hpa_settings(args),
        cluster=_cluster(args, burst=args.client_burst),
        metrics_address=bind_address(args.metrics_bind_address),
    )


def bind_address(text: str) -> tuple[str, int] | None:
    """`host:port` (host may be empty: every interface); `0` or empty turns it off."""
    if text in ("", "0"):
        return None
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError as err:
        raise FlagError(f"--metrics-bind-address: invalid port in {text!r}") from err
    return host or "0.0.0.0", number


def rules_tool_settings(args: argparse.Namespace) -> RulesToolSettings:
    """`rules check|explain|query`'s flags."""
    command = args.rules_command
    return RulesToolSettings(
        command=command,
        configs=tuple(args.configs) if command == "check" else (args.config,),
        series_file=getattr(args, "series", None),
        prometheus_url=getattr(args, "prometheus_url", None),
        metrics_max_age=getattr(args, "metrics_max_age", 600.0),
        kubeconfig=getattr(args, "kubeconfig", None),
        output=getattr(args, "output", "text"),
        path=getattr(args, "path", ""),
        objects=tuple(name for name in getattr(args, "objects", "").split(",") if name),
    )


def sandbox_settings(args: argparse.Namespace) -> SandboxCommandSettings:
    """`sandbox`'s flags."""
    if args.scrape_interval <= 0:
        raise FlagError("--scrape-interval: must be positive")
    return SandboxCommandSettings(
        workdir=args.workdir, scrape_interval=args.scrape_interval, verbosity=args.verbosity
    )


def demo_settings(args: argparse.Namespace) -> DemoCommandSettings:
    """`demo`'s flags."""
    return DemoCommandSettings(output=args.output, short=args.short)


# -- hpa backtest ---------------------------------------------------------------------


def backtest_settings(args: argparse.Namespace, *, now: datetime | None = None) -> BacktestSettings:
    """`hpa backtest`'s flags as BacktestSettings. With `--records` the history comes
    from the records, so the window, Prometheus and pod flags are not read (as before
    they existed); without it they are required."""
    controller = controller_config(args)
    specs = (args.spec, *args.compare)
    output: Literal["json", "table"] = "json" if args.output == "json" else "table"
    if args.records:
        return BacktestSettings(
            specs=specs,
            controller=controller,
            step=_backtest_step(args.step),
            output=output,
            plot=args.plot,
            records=args.records,
        )
    if not args.prometheus_url or not args.config:
        raise FlagError("--prometheus-url and --config are required (or --records DIR)")
    if args.from_ is None or args.to is None:
        raise FlagError("--from and --to are required (or --records DIR)")
    window = backtest_window(args.from_, args.to, args.step, now=now)
    requests = _pod_requests(args.pod_requests)
    if args.replicas is not None and args.replicas < 0:
        raise FlagError(f"--replicas {args.replicas}: must not be negative")
    return BacktestSettings(
        specs=specs,
        controller=controller,
        step=window.step,
        output=output,
        plot=args.plot,
        window=window,
        rules_file=args.config,
        prometheus=_backtest_prometheus(args),
        replicas=args.replicas,
        pod_requests=requests,
    )


def backtest_window(start: str, end: str, step: str, *, now: datetime | None = None) -> Window:
    """`--from`, `--to` (RFC 3339, or a Prometheus duration before now: `7d`, `90m`) and
    `--step`; times are cut to whole seconds."""
    clock = (now or datetime.now(UTC)).replace(microsecond=0)
    begin = _moment(start, "--from", clock).replace(microsecond=0)
    finish = _moment(end, "--to", clock).replace(microsecond=0)
    seconds = _backtest_step(step)
    if finish <= begin:
        raise FlagError(
            f"--from {timefmt.format_time(begin)} is not before --to {timefmt.format_time(finish)}"
        )
    window = Window(begin, finish, seconds)
    if window.count > MAX_STEPS:
        raise FlagError(
            f"the window holds {window.count} steps of {step}; at most {MAX_STEPS} are replayed"
        )
    return window


def _moment(text: str, flag: str, now: datetime) -> datetime:
    try:
        return timefmt.parse_time(text)
    except ValueError:
        pass
    try:
        seconds = timefmt.parse_prometheus_duration(text)
    except ValueError as err:
        raise FlagError(
            f"{flag} {text!r}: neither an RFC 3339 time nor a duration before now ({err})"
        ) from err
    return now - timedelta(seconds=seconds)


def _backtest_step(step: str) -> float:
    """`--step`: a Go or Prometheus duration, whole seconds, at least 1s."""
    try:
        seconds = timefmt.parse_go_duration(step)
    except ValueError:
        try:
            seconds = timefmt.parse_prometheus_duration(step)
        except ValueError as err:
            raise FlagError(f"--step {step!r}: not a duration ({err})") from err
    if seconds < 1 or not math.isclose(seconds, round(seconds)):
        raise FlagError(f"--step {step!r}: must be a whole number of seconds, at least 1s")
    return float(round(seconds))


def _pod_requests(items: Sequence[str]) -> dict[str, dict[str, Quantity]]:
    """`--pod-requests [CONTAINER/]RESOURCE=QUANTITY` into per-container requests."""
    result: dict[str, dict[str, Quantity]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        container, slash, resource = key.rpartition("/")
        if not sep or not resource:
            raise FlagError(f"--pod-requests {item!r}: want [CONTAINER/]RESOURCE=QUANTITY")
        try:
            quantity = Quantity.parse(raw)
        except QuantityError as err:
            raise FlagError(f"--pod-requests {item!r}: {err}") from err
        result.setdefault(container if slash else MAIN_CONTAINER, {})[resource] = quantity
    return result


def _backtest_prometheus(args: argparse.Namespace) -> BacktestPrometheus:
    """The `--prometheus-*` flags the backtest's client honours (URL, verb, headers,
    bearer token file, CA, client certificate, timeout)."""
    headers: list[tuple[str, str]] = []
    for item in args.prometheus_header:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise FlagError(f"--prometheus-header {item!r}: want KEY=VALUE")
        headers.append((key, value))
    return BacktestPrometheus(
        url=args.prometheus_url,
        verb=args.prometheus_verb,
        headers=tuple(headers),
        token_file=args.prometheus_token_file or None,
        ca_file=args.prometheus_ca_file or None,
        client_cert_file=args.prometheus_client_tls_cert_file or None,
        client_key_file=args.prometheus_client_tls_key_file,
        timeout=args.prometheus_timeout,
    )
