"""How to reach one Prometheus: URL, verb, auth headers, TLS files and time limits.

Owns the settings value and the parsing of `--prometheus-header` flags into it. Reading the
token, CA and certificate files is left to `client`, which does it once when the client
opens (as upstream reads them once at startup: a rotated token needs a restart there too).
The command line (`adapter.settings`) builds this object from flags with the same names as
kubernetes-sigs/prometheus-adapter (`--prometheus-url`, `--prometheus-verb`,
`--prometheus-header`, `--prometheus-token-file`, `--prometheus-ca-file`,
`--prometheus-client-tls-cert-file`, `--prometheus-client-tls-key-file`,
`--prometheus-auth-config`, `--prometheus-auth-incluster`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from yarl import URL

from adapter.prometheus.errors import PrometheusConfigError

__all__ = ["PrometheusSettings", "canonical_header_key", "parse_header_flags"]

# Bytes Go's textproto accepts in a header field name (RFC 7230 tchar).
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


def canonical_header_key(key: str) -> str:
    """Header name as Go's `http.CanonicalHeaderKey` spells it: first letter and every
    letter after a hyphen upper case, the rest lower case (`x-scope-orgid` ->
    `X-Scope-Orgid`). A name with a byte that is not a token character (space, colon,
    non-ASCII) comes back unchanged, as in Go."""
    if not key or any(ch not in _TOKEN_CHARS for ch in key):
        return key
    out: list[str] = []
    upper = True
    for ch in key:
        out.append(ch.upper() if upper else ch.lower())
        upper = ch == "-"
    return "".join(out)


def parse_header_flags(flags: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """`--prometheus-header` values (`Key=Value`, repeatable) as header pairs.

    Upstream (`cmd/adapter/adapter.go`, `parseHeaderArgs`): split on the first `=`, a flag
    without `=` gives an empty value, keys are canonicalized and repeated keys accumulate
    (each becomes its own header line, e.g. several `X-Scope-OrgID` tenants)."""
    pairs: list[tuple[str, str]] = []
    for flag in flags:
        key, _, value = flag.partition("=")
        pairs.append((canonical_header_key(key), value))
    return tuple(pairs)


@dataclass(frozen=True, slots=True)
class PrometheusSettings:
    """Everything the client needs to talk to one Prometheus-compatible API."""

    url: str
    """Base URL; API paths are joined under its path (`http://thanos:9090/prefix` ->
    `/prefix/api/v1/query`) and any query string on it is dropped, as upstream does."""
    verb: Literal["GET", "POST"] = "GET"
    """HTTP method for queries. GET is upstream's default and shows up in access logs;
    POST avoids URL-length limits. Long queries go by POST anyway, see
    `max_get_url_length`."""
    headers: tuple[tuple[str, str], ...] = ()
    """Extra header lines sent on every call (tenant IDs, auth for a proxy in front);
    repeated keys give repeated lines. Build from flags with `parse_header_flags`."""
    token_file: str | None = None
    """File holding a bearer token, read once when the client opens; surrounding
    whitespace is stripped so a file written by `echo` works."""
    ca_file: str | None = None
    """PEM bundle to verify Prometheus' serving certificate instead of the system roots."""
    client_cert_file: str | None = None
    """PEM client certificate for mutual TLS; needs `client_key_file` too."""
    client_key_file: str | None = None
    """PEM private key of `client_cert_file`."""
    insecure_skip_verify: bool = False
    """Do not verify Prometheus' certificate at all (test setups only)."""
    auth_config: str | None = None
    """`--prometheus-auth-config`: a kubeconfig whose current context's cluster CA /
    insecure-skip-tls-verify and user credentials (token, token file, client certificate,
    username/password) are used for Prometheus (see `auth`). Ignored when `ca_file` is
    set, as upstream."""
    auth_incluster: bool = False
    """`--prometheus-auth-incluster`: the pod's service account token and cluster CA."""
    timeout: float = 30.0
    """Seconds a call may take when the caller gives no deadline. Thirty seconds is
    longer than any sane instant query yet short enough that a hung Prometheus does not
    stall discovery for a whole relist interval."""
    max_get_url_length: int = 8192
    """Longest URL (bytes, query string included) sent by GET; longer requests go by POST
    as a form. 8 KiB is below the common proxy and server limits (nginx 8 KiB per
    header line, Go's 1 MiB header limit, many ingress defaults), so an HPA over
    thousands of pods never meets a 414 as upstream does."""

    def __post_init__(self) -> None:
        base = URL(self.url)
        if base.scheme not in ("http", "https") or not base.host:
            raise PrometheusConfigError(
                f"invalid Prometheus URL {self.url!r}: want http(s)://host[:port][/path]"
            )
        if self.verb not in ("GET", "POST"):
            raise PrometheusConfigError(
                f'unsupported Prometheus HTTP verb {self.verb!r}; supported verbs: "GET" and "POST"'
            )
        if not self.timeout > 0:
            raise PrometheusConfigError(f"Prometheus timeout must be positive, got {self.timeout}")
        if self.max_get_url_length <= 0:
            raise PrometheusConfigError(
                f"max_get_url_length must be positive, got {self.max_get_url_length}"
            )
        if self.auth_incluster and self.auth_config:
            raise PrometheusConfigError(
                "may not use both in-cluster auth and an explicit kubeconfig at the same time"
            )
        if (self.client_cert_file is None) != (self.client_key_file is None):
            raise PrometheusConfigError(
                "client_cert_file and client_key_file must be given together"
            )
