"""The generic Kubernetes API server's flags that prometheus-adapter 0.12 inherits:
secure serving, delegated authentication and authorization, audit, features.

Names, defaults and value syntax are those of k8s.io/apiserver v0.30's
SecureServingOptions, DelegatingAuthenticationOptions, DelegatingAuthorizationOptions,
AuditOptions and FeatureOptions (as custom-metrics-apiserver installs them), so the
`args:` of a prometheus-adapter Deployment start this adapter unchanged. Flags with no
meaning here (audit, profiling, HTTP/2 tuning) are accepted and named in a warning at
start-up (`IGNORED`); the README's compatibility table lists every difference. What the
rest become is `adapter.settings.fromflags`'.
"""

from __future__ import annotations

import argparse
from typing import Final

from adapter.cli import argtypes

__all__ = ["IGNORED", "add_apiserver_flags", "string_slice"]


class _StringSlice(argparse.Action):
    """pflag's StringSlice: comma-separated, the first use replaces the default and
    later uses add to it."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        seen = f"_{self.dest}_given"
        current = list(getattr(namespace, self.dest)) if getattr(namespace, seen, False) else []
        current.extend(string_slice(str(values)))
        setattr(namespace, self.dest, current)
        setattr(namespace, seen, True)


def string_slice(text: str) -> list[str]:
    """One StringSlice value: `a,b` -> [a, b]; "" -> []. Entries keep their spaces, as
    pflag's CSV reading does, so the whitespace checks upstream makes still apply."""
    return text.split(",") if text else []


IGNORED: Final = (
    "tls_sni_cert_key",
    "http2_max_streams_per_connection",
    "disable_http2",
    "permit_port_sharing",
    "permit_address_sharing",
    "profiling",
    "contention_profiling",
    "debug_socket_path",
    "discovery_interval",
    "audit_policy_file",
    "audit_log_path",
    "audit_webhook_config_file",
)
"""Flags accepted but without effect: each set one is named in a start-up warning.
The other audit tuning flags only matter with a policy file and a backend, and
`--profiling` defaults to on upstream, so only a non-default value of these is named."""


def add_apiserver_flags(parser: argparse.ArgumentParser) -> None:
    _add_secure_serving(parser)
    _add_authentication(parser)
    _add_authorization(parser)
    _add_audit(parser)
    features = parser.add_argument_group("features (accepted, ignored)")
    features.add_argument(
        "--profiling", type=argtypes.boolean, nargs="?", const=True, default=True, metavar="BOOL"
    )
    features.add_argument(
        "--contention-profiling",
        type=argtypes.boolean,
        nargs="?",
        const=True,
        default=False,
        metavar="BOOL",
    )
    features.add_argument("--debug-socket-path", default="")


def _bool_flag(group: argparse._ArgumentGroup, name: str, default: bool, text: str) -> None:
    """A Go boolean flag: `--x`, `--x=true`, `--x=false`."""
    group.add_argument(
        name,
        type=argtypes.boolean,
        nargs="?",
        const=True,
        default=default,
        metavar="BOOL",
        help=f"{text} (default {str(default).lower()})",
    )


def _add_secure_serving(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("secure serving")
    group.add_argument(
        "--tls-min-version",
        type=argtypes.tls_version,
        default=None,
        metavar="VERSION",
        help="VersionTLS12 or VersionTLS13 (also VersionTLS10/11, as Go accepts them)",
    )
    group.add_argument(
        "--tls-cipher-suites",
        type=argtypes.cipher_suites,
        default=(),
        metavar="NAME,...",
        help="Go names of the TLS 1.2 cipher suites to allow (TLS 1.3's are always on)",
    )
    group.add_argument(
        "--tls-sni-cert-key",
        action="append",
        default=[],
        metavar="CERT,KEY[:NAMES]",
        help="accepted, not served: one serving certificate only (see the README)",
    )
    group.add_argument("--http2-max-streams-per-connection", type=int, default=0)
    _bool_flag(group, "--disable-http2", False, "accepted; HTTP/2 is never served")
    _bool_flag(group, "--permit-port-sharing", False, "accepted, ignored")
    _bool_flag(group, "--permit-address-sharing", False, "accepted, ignored")


def _add_authentication(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("delegated authentication")
    _bool_flag(
        group,
        "--delegated-auth",
        True,
        "authenticate and authorize every request by delegating to the cluster; false "
        "serves anyone who reaches the port (development only)",
    )
    group.add_argument(
        "--authentication-kubeconfig",
        default=None,
        help="kubeconfig with rights to create tokenreviews (default: the lister's)",
    )
    _bool_flag(
        group,
        "--authentication-skip-lookup",
        False,
        "do not read missing CAs from kube-system/extension-apiserver-authentication",
    )
    _bool_flag(
        group,
        "--authentication-tolerate-lookup-failure",
        False,
        "start even if that ConfigMap cannot be read",
    )
    group.add_argument(
        "--authentication-token-webhook-cache-ttl",
        type=argtypes.duration,
        default=10.0,
        metavar="DURATION",
        help="how long TokenReview answers are cached (default 10s)",
    )
    group.add_argument("--client-ca-file", default=None)
    group.add_argument("--requestheader-client-ca-file", default=None)
    for name, default in (
        ("--requestheader-username-headers", ["x-remote-user"]),
        ("--requestheader-group-headers", ["x-remote-group"]),
        ("--requestheader-extra-headers-prefix", ["x-remote-extra-"]),
        ("--requestheader-allowed-names", []),
    ):
        group.add_argument(name, action=_StringSlice, default=default, metavar="NAME,...")
    _bool_flag(
        group,
        "--anonymous-auth",
        True,
        "requests without credentials are system:anonymous (kube-apiserver's flag)",
    )


def _add_authorization(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("delegated authorization")
    group.add_argument(
        "--authorization-kubeconfig",
        default=None,
        help="kubeconfig with rights to create subjectaccessreviews (default: the lister's)",
    )
    group.add_argument(
        "--authorization-webhook-cache-authorized-ttl",
        type=argtypes.duration,
        default=10.0,
        metavar="DURATION",
    )
    group.add_argument(
        "--authorization-webhook-cache-unauthorized-ttl",
        type=argtypes.duration,
        default=10.0,
        metavar="DURATION",
    )
    group.add_argument(
        "--authorization-always-allow-paths",
        action=_StringSlice,
        default=["/healthz", "/readyz", "/livez"],
        metavar="PATH,...",
    )


def _add_audit(parser: argparse.ArgumentParser) -> None:
    """AuditOptions: every flag with upstream's type and choices; none has an effect."""
    group = parser.add_argument_group("audit (accepted, ignored: no audit log is written)")
    group.add_argument("--audit-policy-file", default="")
    for backend, mode in (("log", "blocking"), ("webhook", "batch")):
        prefix = f"--audit-{backend}"
        if backend == "log":
            group.add_argument("--audit-log-path", default="")
            group.add_argument("--audit-log-maxage", type=int, default=0)
            group.add_argument("--audit-log-maxbackup", type=int, default=0)
            group.add_argument("--audit-log-maxsize", type=int, default=0)
            group.add_argument("--audit-log-format", choices=("legacy", "json"), default="json")
            _bool_flag(group, "--audit-log-compress", False, "ignored")
        else:
            group.add_argument("--audit-webhook-config-file", default="")
            group.add_argument(
                "--audit-webhook-initial-backoff", type=argtypes.duration, default=10.0
            )
        group.add_argument(
            f"{prefix}-mode", choices=("batch", "blocking", "blocking-strict"), default=mode
        )
        group.add_argument(f"{prefix}-batch-buffer-size", type=int, default=10000)
        group.add_argument(
            f"{prefix}-batch-max-size", type=int, default=1 if backend == "log" else 400
        )
        group.add_argument(f"{prefix}-batch-max-wait", type=argtypes.duration, default=30.0)
        _bool_flag(group, f"{prefix}-batch-throttle-enable", backend == "webhook", "ignored")
        group.add_argument(f"{prefix}-batch-throttle-qps", type=float, default=10.0)
        group.add_argument(f"{prefix}-batch-throttle-burst", type=int, default=15)
        _bool_flag(group, f"{prefix}-truncate-enabled", False, "ignored")
        group.add_argument(f"{prefix}-truncate-max-batch-size", type=int, default=10485760)
        group.add_argument(f"{prefix}-truncate-max-event-size", type=int, default=102400)
        group.add_argument(f"{prefix}-version", default="audit.k8s.io/v1")
