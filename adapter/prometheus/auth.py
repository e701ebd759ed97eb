"""Credentials and TLS trust for Prometheus taken from a kubeconfig file or from the pod's
service account (`--prometheus-auth-config`, `--prometheus-auth-incluster`).

Why a kubeconfig: prometheus-adapter (`cmd/adapter/adapter.go`, `makeKubeconfigHTTPClient`)
builds its Prometheus transport with client-go's `rest.TransportFor` from such a file, so
deployments in the wild (OpenShift's monitoring stack, kube-rbac-proxy in front of
Prometheus) carry one. Only the current context's cluster and user are read, and of them
only what reaching an HTTP server needs: the server's CA (file or data),
insecure-skip-tls-verify, tls-server-name, the client certificate and key (file or data), a
bearer token or token file, basic-auth username and password. The cluster's `server` is not
used: the URL is always `--prometheus-url`, as upstream. Plugins (`exec`, `auth-provider`)
would silently send no credentials here, so they are refused with a clear error instead.

Owns: reading and checking the file (relative paths are relative to the file, as in
client-go), the in-cluster service account files, and a token file that is re-read once a
minute (bound service account tokens rotate; client-go re-reads them on the same period).
Building the TLS context and sending the headers is `client`'s business; which flags win
over which is said in `client`'s docstring.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from adapter.prometheus.errors import PrometheusConfigError

__all__ = [
    "SERVICE_ACCOUNT_DIR",
    "Credentials",
    "TokenFile",
    "from_kubeconfig",
    "in_cluster",
]

SERVICE_ACCOUNT_DIR: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount")
"""Where the kubelet mounts the pod's service account token and the cluster CA."""

TOKEN_REREAD_SECONDS: Final = 60.0
"""How long a token read from a file is used before the file is read again: client-go's
cached token source period. Kubelet rotates bound tokens at 80% of their (>= 10 min) life."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """How to authenticate to Prometheus and whom to trust, as a kubeconfig user and
    cluster say it. Secrets are kept out of `repr` so a logged value leaks nothing."""

    source: str
    """Where these came from, for error messages: `kubeconfig FILE (context NAME)`."""
    ca_file: str | None = None
    ca_data: bytes | None = field(default=None, repr=False)
    insecure_skip_verify: bool = False
    tls_server_name: str | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    client_cert_data: bytes | None = field(default=None, repr=False)
    client_key_data: bytes | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    token_file: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)


class TokenFile:
    """A bearer token kept in a file, re-read at most every `TOKEN_REREAD_SECONDS`. A
    read that fails after a good one keeps the last token (the kubelet replaces the file
    atomically, but a failed read must not turn into an unauthenticated call)."""

    def __init__(self, path: str, *, reread_seconds: float | None = None) -> None:
        self.path = path
        self._reread = TOKEN_REREAD_SECONDS if reread_seconds is None else reread_seconds
        self._token = self._read()
        self._read_at = time.monotonic()

    def _read(self) -> str:
        try:
            with open(self.path, encoding="utf-8") as f:
                return f.read().strip()
        except OSError as exc:
            raise PrometheusConfigError(
                f"failed to read Prometheus token file {self.path}: {exc.strerror or exc}"
            ) from exc

    def token(self) -> str:
        if time.monotonic() - self._read_at >= self._reread:
            # A failed read keeps the last good token; the next call tries again.
            with contextlib.suppress(PrometheusConfigError):
                self._token = self._read()
            self._read_at = time.monotonic()
        return self._token


def in_cluster(
    environ: Mapping[str, str] | None = None, directory: Path | None = None
) -> Credentials:
    """The pod's service account: its token (re-read as it rotates) and the cluster CA.

    As client-go's `rest.InClusterConfig`, outside a pod (no `KUBERNETES_SERVICE_HOST` and
    `KUBERNETES_SERVICE_PORT`) this is an error rather than an anonymous client."""
    env = os.environ if environ is None else environ
    root = SERVICE_ACCOUNT_DIR if directory is None else directory
    if not env.get("KUBERNETES_SERVICE_HOST") or not env.get("KUBERNETES_SERVICE_PORT"):
        raise PrometheusConfigError(
            "--prometheus-auth-incluster: not running in a cluster "
            "(KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined)"
        )
    token = root / "token"
    if not token.is_file():
        raise PrometheusConfigError(
            f"--prometheus-auth-incluster: no service account token at {token}"
        )
    ca = root / "ca.crt"
    return Credentials(
        source="in-cluster service account",
        ca_file=str(ca) if ca.is_file() else None,
        token_file=str(token),
    )


def from_kubeconfig(path: str) -> Credentials:
    """The current context's cluster TLS settings and user credentials from `path`."""
    try:
        with open(path, encoding="utf-8") as f:
            document = yaml.safe_load(f)
    except OSError as exc:
        raise PrometheusConfigError(
            f"--prometheus-auth-config: cannot read {path}: {exc.strerror or exc}"
        ) from exc
    except yaml.YAMLError as exc:
        raise PrometheusConfigError(
            f"--prometheus-auth-config: {path} is not valid YAML: {exc}"
        ) from exc
    return _Kubeconfig(path, document).credentials()


class _Kubeconfig:
    """One parsed kubeconfig file; every complaint names the file and the entry."""

    def __init__(self, path: str, document: Any) -> None:
        self.path = path
        self.base = Path(path).resolve().parent
        if not isinstance(document, dict):
            self.fail("not a kubeconfig (want a mapping with contexts, clusters, users)")
        self.document: dict[str, Any] = document

    def fail(self, problem: str) -> Any:
        raise PrometheusConfigError(f"--prometheus-auth-config {self.path}: {problem}")

    def entry(self, section: str, name: str, key: str) -> dict[str, Any]:
        entries = self.document.get(section) or []
        if not isinstance(entries, list):
            self.fail(f"{section} is not a list")
        for item in entries:
            if isinstance(item, dict) and item.get("name") == name:
                body = item.get(key) or {}
                if not isinstance(body, dict):
                    self.fail(f"{section} entry {name!r}: {key} is not a mapping")
                return body
        return self.fail(f"{section} has no entry named {name!r}")  # type: ignore[no-any-return]

    def file(self, value: Any, where: str) -> str | None:
        if value in (None, ""):
            return None
        if not isinstance(value, str):
            self.fail(f"{where} is not a string")
        resolved = Path(value) if os.path.isabs(value) else self.base / value
        return str(resolved)

    def data(self, value: Any, where: str) -> bytes | None:
        if value in (None, ""):
            return None
        if not isinstance(value, str):
            self.fail(f"{where} is not a base64 string")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return self.fail(f"{where} is not valid base64")  # type: ignore[no-any-return]

    def string(self, value: Any, where: str) -> str | None:
        if value in (None, ""):
            return None
        if not isinstance(value, str):
            self.fail(f"{where} is not a string")
        return str(value)

    def credentials(self) -> Credentials:
        current = self.document.get("current-context")
        if not current or not isinstance(current, str):
            return self.fail("no current-context")  # type: ignore[no-any-return]
        context = self.entry("contexts", current, "context")
        cluster_name = context.get("cluster")
        user_name = context.get("user")
        if not cluster_name:
            self.fail(f"context {current!r} names no cluster")
        cluster = self.entry("clusters", str(cluster_name), "cluster")
        user = self.entry("users", str(user_name), "user") if user_name else {}
        where_c = f"cluster {cluster_name!r}"
        where_u = f"user {user_name!r}"
        for plugin in ("exec", "auth-provider"):
            if user.get(plugin):
                self.fail(
                    f"{where_u}: {plugin} credential plugins are not supported for "
                    "Prometheus; use a token, token file, client certificate or "
                    "username/password"
                )
        insecure = cluster.get("insecure-skip-tls-verify", False)
        if not isinstance(insecure, bool):
            self.fail(f"{where_c}: insecure-skip-tls-verify is not a boolean")
        found = Credentials(
            source=f"kubeconfig {self.path} (context {current!r})",
            ca_file=self.file(
                cluster.get("certificate-authority"), f"{where_c}: certificate-authority"
            ),
            ca_data=self.data(
                cluster.get("certificate-authority-data"),
                f"{where_c}: certificate-authority-data",
            ),
            insecure_skip_verify=insecure,
            tls_server_name=self.string(cluster.get("tls-server-name"), f"{where_c}: sni"),
            client_cert_file=self.file(
                user.get("client-certificate"), f"{where_u}: client-certificate"
            ),
            client_key_file=self.file(user.get("client-key"), f"{where_u}: client-key"),
            client_cert_data=self.data(
                user.get("client-certificate-data"), f"{where_u}: client-certificate-data"
            ),
            client_key_data=self.data(user.get("client-key-data"), f"{where_u}: client-key-data"),
            token=self.string(user.get("token"), f"{where_u}: token"),
            token_file=self.file(user.get("tokenFile"), f"{where_u}: tokenFile"),
            username=self.string(user.get("username"), f"{where_u}: username"),
            password=self.string(user.get("password"), f"{where_u}: password"),
        )
        self.check(found, where_u)
        return found

    def check(self, found: Credentials, where: str) -> None:
        """The combinations client-go's `rest.Config` validation refuses."""
        if (found.token or found.token_file) and (found.username or found.password):
            self.fail(f"{where}: username/password or bearer token may be set, but not both")
        if found.insecure_skip_verify and (found.ca_file or found.ca_data):
            self.fail("specifying a root certificates file with the insecure flag is not allowed")
        has_cert = bool(found.client_cert_file or found.client_cert_data)
        has_key = bool(found.client_key_file or found.client_key_data)
        if has_cert != has_key:
            self.fail(f"{where}: a client certificate needs its key, and a key its certificate")
