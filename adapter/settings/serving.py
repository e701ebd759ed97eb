"""The adapter server's settings: where it serves, what it reads, which groups it serves.

Flag names follow prometheus-adapter (and the generic Kubernetes API server flags it
inherits) wherever the meaning is the same, so a Deployment's `args:` carry over. Values
here are plain data; which flag sets which field, and the checks across flags, are
`adapter.settings.fromflags`'.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapter.prometheus.settings import PrometheusSettings


@dataclass(frozen=True, slots=True)
class ServingSettings:
    """Where and how the HTTPS listener serves (`--secure-port`, `--bind-address`, ...)."""

    secure_port: int = 6443
    """TCP port; 0 picks a free one (tests). 6443 because the adapter runs unprivileged;
    upstream's library default is 443 and its deployments pass 6443."""
    bind_address: str = "0.0.0.0"
    """IP address to listen on; `0.0.0.0` is every IPv4 interface, as upstream."""
    tls_cert_file: str | None = None
    """PEM serving certificate (with intermediates after it); needs the key too."""
    tls_private_key_file: str | None = None
    cert_dir: str = "apiserver.local.config/certificates"
    """Where the self-signed pair is written when no files are given (upstream's default,
    relative to the working directory)."""
    tls_min_version: str | None = None
    """Go name (`VersionTLS12`, `VersionTLS13`); None means TLS 1.2, the apiserver's floor."""
    tls_cipher_suites: tuple[str, ...] = ()
    """Go names of the TLS <= 1.2 suites to allow; empty means the library defaults."""


@dataclass(frozen=True, slots=True)
class RequestHeaderSettings:
    """The front proxy (`--requestheader-*`): whose client certificate may name the
    caller in headers. With no CA file the whole group comes from the cluster's
    extension-apiserver-authentication ConfigMap instead, as upstream."""

    client_ca_file: str | None = None
    username_headers: tuple[str, ...] = ("X-Remote-User",)
    group_headers: tuple[str, ...] = ("X-Remote-Group",)
    extra_headers_prefix: tuple[str, ...] = ("X-Remote-Extra-",)
    allowed_names: tuple[str, ...] = ()
    """Certificate CNs allowed to assert identities; empty: any the CA signed."""


@dataclass(frozen=True, slots=True)
class AuthenticationSettings:
    """Delegated authentication, as the generic apiserver's DelegatingAuthenticationOptions."""

    enabled: bool = True
    """False (`--delegated-auth=false`): nobody is authenticated or authorized; every
    request is served. Only for development without a cluster to delegate to."""
    kubeconfig: str | None = None
    """`--authentication-kubeconfig`: where TokenReviews go and the ConfigMap is read;
    None: the lister's connection."""
    skip_lookup: bool = False
    """`--authentication-skip-lookup`: do not read the missing CAs from the ConfigMap."""
    tolerate_lookup_failure: bool = False
    """`--authentication-tolerate-lookup-failure`: start even if the ConfigMap cannot be
    read (front-proxy requests then fail authentication)."""
    token_cache_ttl: float = 10.0
    """`--authentication-token-webhook-cache-ttl` (seconds) for TokenReview answers."""
    client_ca_file: str | None = None
    """`--client-ca-file`: client certificates it signed authenticate as their CN (user)
    and O (groups); None: the ConfigMap's `client-ca-file`."""
    request_header: RequestHeaderSettings = field(default_factory=RequestHeaderSettings)
    anonymous: bool = True
    """`--anonymous-auth`: requests without credentials run as system:anonymous (and are
    then authorized as such), as in Kubernetes; false answers them 401."""


@dataclass(frozen=True, slots=True)
class AuthorizationSettings:
    """Delegated authorization, as the generic apiserver's DelegatingAuthorizationOptions."""

    enabled: bool = True
    kubeconfig: str | None = None
    """`--authorization-kubeconfig`: where SubjectAccessReviews go; None: the lister's."""
    allow_cache_ttl: float = 10.0
    """`--authorization-webhook-cache-authorized-ttl` (seconds)."""
    deny_cache_ttl: float = 10.0
    """`--authorization-webhook-cache-unauthorized-ttl` (seconds)."""
    always_allow_paths: tuple[str, ...] = ("/healthz", "/readyz", "/livez")
    """`--authorization-always-allow-paths`: served to any authenticated (or anonymous)
    caller without a review, so kubelet probes work; a trailing `*` is a prefix."""
    always_allow_groups: tuple[str, ...] = ("system:masters",)
    """Allowed without a review (kube-apiserver allows them anyway)."""


@dataclass(frozen=True, slots=True)
class DiscoverySettings:
    relist_interval: float = 600.0
    """Seconds between relists (`--metrics-relist-interval`). Upstream's default is 10m;
    its manifests use 1m, which is what most clusters want."""
    max_age: float | None = None
    """Seconds of series history each relist asks for (`--metrics-max-age`); None means
    the relist interval, as upstream. Must not be shorter than the interval, or series
    that report less often than it disappear between relists."""

    @property
    def effective_max_age(self) -> float:
        return self.max_age if self.max_age is not None else self.relist_interval

    @property
    def unready_after(self) -> float:
        """Seconds every call to Prometheus must have failed before `/readyz` fails:
        three relist intervals, at most five minutes. Three relists in a row is an
        outage, not a Prometheus restart or a rolling update, which should not take the
        adapter out of its Service (an APIService without ready endpoints fails every
        request too, so unready too early gains nothing); five minutes bounds the wait
        with upstream's 10m interval, where the HPA's queries every 15s show the outage."""
        return min(3 * self.relist_interval, 300.0)


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    kubeconfig: str | None = None
    """`--lister-kubeconfig`; None: $KUBECONFIG or ~/.kube/config, else in-cluster."""
    qps: float = 20.0
    """`--client-qps`. Upstream's 5 throttles `*` requests on busy clusters."""
    burst: int = 40
    """`--client-burst`."""
    object_cache: bool = True
    """`--object-cache`: keep pod, node and other object metadata current by list and
    watch, so `*` requests and metrics.k8s.io ask the API server nothing (needs list and
    watch cluster-wide; without them the adapter lists per request). False lists on
    every request, as upstream's custom metrics provider does."""


@dataclass(frozen=True, slots=True)
class ApiGroups:
    """Which metrics API groups this process serves (others may be metrics-server's, KEDA's)."""

    custom: bool = True
    external: bool = True
    resource: bool = True


@dataclass(frozen=True, slots=True)
class Settings:
    config_file: str
    prometheus: PrometheusSettings
    serving: ServingSettings = field(default_factory=ServingSettings)
    discovery: DiscoverySettings = field(default_factory=DiscoverySettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    api_groups: ApiGroups = field(default_factory=ApiGroups)
    authentication: AuthenticationSettings = field(default_factory=AuthenticationSettings)
    authorization: AuthorizationSettings = field(default_factory=AuthorizationSettings)
    query_timeout: float = 30.0
    """Seconds a metrics request may wait for Prometheus (`--prometheus-timeout`); the
    HPA controller's own client gives up after 30s."""
    config_reload_interval: float = 5.0
    """Seconds between checks of the config file's content (`--config-reload-interval`);
    0 turns the check off (SIGHUP still reloads). See `adapter.providers.reloading`."""
