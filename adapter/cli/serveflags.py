"""`serve`'s flags: prometheus-adapter's own, custom-metrics-apiserver's and the generic
API server's, with their names, so a Deployment's `args:` carry over unchanged.

Defined here and nowhere else; what they become is `adapter.settings.fromflags.serve_settings`.
"""

from __future__ import annotations

import argparse

from adapter.cli import apiserverflags, argtypes, logs, loopflags

__all__ = ["add_prometheus_flags", "add_serve_flags"]


def add_prometheus_flags(parser: argparse.ArgumentParser, *, required: bool) -> None:
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
        type=argtypes.boolean,
        nargs="?",
        const=True,
        default=False,
        metavar="BOOL",
        help="use the pod's service account token and CA for Prometheus",
    )
    group.add_argument(
        "--prometheus-timeout",
        type=argtypes.duration,
        default=30.0,
        metavar="DURATION",
        help="longest wait for one Prometheus call (default 30s)",
    )


def add_serve_flags(serve: argparse.ArgumentParser) -> None:
    """`serve`'s own flags, prometheus-adapter's names; the loop's come with `--hpa`."""
    add_prometheus_flags(serve, required=True)
    serve.add_argument(
        "--config", required=True, help="rule config file (prometheus-adapter format)"
    )
    serve.add_argument(
        "--config-reload-interval",
        type=argtypes.duration,
        default=5.0,
        metavar="DURATION",
        help="how often the config file is checked for changes (default 5s; 0: only on SIGHUP)",
    )
    serve.add_argument(
        "--metrics-relist-interval",
        type=argtypes.duration,
        default=600.0,
        metavar="DURATION",
        help="how often discovery lists series (default 10m)",
    )
    serve.add_argument(
        "--metrics-max-age",
        type=argtypes.duration,
        default=None,
        metavar="DURATION",
        help="series history each relist asks for (default: the relist interval)",
    )
    serve.add_argument(
        "program",
        nargs="*",
        default=[],
        help=argparse.SUPPRESS,  # pflag ignores arguments that are not flags (`- /adapter`)
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
    cluster.add_argument(
        "--discovery-interval",
        type=argtypes.duration,
        default=0.0,
        metavar="DURATION",
        help="accepted, ignored: the REST mapping is read at start-up",
    )
    cluster.add_argument("--client-qps", type=float, default=20.0)
    cluster.add_argument("--client-burst", type=int, default=40)
    cluster.add_argument(
        "--object-cache",
        type=argtypes.boolean,
        default=True,
        metavar="BOOL",
        help="watch object metadata instead of listing it per request (default true)",
    )
    apis = serve.add_argument_group("API groups")
    apis.add_argument(
        "--enable-custom-metrics-api", type=argtypes.boolean, default=True, metavar="BOOL"
    )
    apis.add_argument(
        "--enable-external-metrics-api", type=argtypes.boolean, default=True, metavar="BOOL"
    )
    apis.add_argument(
        "--enable-resource-metrics-api", type=argtypes.boolean, default=True, metavar="BOOL"
    )
    apiserverflags.add_apiserver_flags(serve)
    logs.add_logging_flags(serve)
    loopflags.add_loop_flags(serve, embedded=True)
