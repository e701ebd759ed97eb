"""Who is calling: front-proxy client certificates, client certificates, bearer tokens,
anonymous — the generic apiserver's delegating authenticator.

Owns the order upstream's union authenticator tries them in and what each believes:

1. a client certificate issued by the request-header CA, whose CN is in the allowed
   names, names the caller in `X-Remote-User` / `X-Remote-Group` / `X-Remote-Extra-*`
   (the aggregator's front proxy). Those headers on any other request are ignored;
2. a client certificate issued by the client CA is its CN (user) and O (groups);
3. a bearer token is whoever a TokenReview says (answers cached for
   `--authentication-token-webhook-cache-ttl`; failures to ask are not cached);
4. nothing at all is system:anonymous when allowed. A credential that fails (a
   certificate from the wrong CA or CN, an unknown token) is 401, never anonymous.

Authenticated users get system:authenticated added. The TLS handshake already verified
any certificate against the union of both bundles (`attach` puts them in the serving
context with CERT_OPTIONAL; Python's ssl cannot request a certificate without verifying
it, so a certificate from neither CA fails the handshake instead of answering 401); per
request, which bundle issued the leaf decides what it may assert. The CAs come from the
flags or, for what the flags leave unset, from ConfigMap kube-system/extension-apiserver-
authentication, followed by a watch (`follow_cluster_config`). Deciding what the caller
may do is `adapter.server.authz`'s.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

from aiohttp import web
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID

from adapter.cluster import reviews
from adapter.cluster.connection import Cluster, ClusterError
from adapter.cluster.reviews import AuthenticationConfig, TokenRejected
from adapter.cluster.watching import WatchExpired
from adapter.k8s import status
from adapter.k8s.access import ANONYMOUS_USER, UserInfo, extra_from, with_authenticated_group
from adapter.settings import AuthenticationSettings

__all__ = [
    "AuthenticationConfigError",
    "Authenticator",
    "CABundle",
    "RequestHeaderConfig",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

TokenReviewer = Callable[[str], Awaitable[UserInfo]]

CACHE_SIZE: Final = 4096
"""Distinct tokens (or certificates) remembered at once; the oldest goes first."""
RETRY_SECONDS: Final = 10.0
"""Wait before reading the ConfigMap again after a failed read or watch."""


class AuthenticationConfigError(Exception):
    """The CA bundles or the cluster's authentication settings cannot be read."""


class CABundle:
    """PEM certificates trusted to issue client certificates."""

    def __init__(self, pem: str, source: str) -> None:
        self.pem = pem
        self.source = source
        try:
            self.certificates = tuple(x509.load_pem_x509_certificates(pem.encode()))
        except ValueError as err:
            raise AuthenticationConfigError(f"{source}: no certificate could be read") from err

    @classmethod
    def from_file(cls, path: str) -> CABundle:
        try:
            with open(path, encoding="utf-8") as handle:
                return cls(handle.read(), path)
        except OSError as err:
            raise AuthenticationConfigError(
                f"unable to load client CA file {path}: {err.strerror or err}"
            ) from err
        except UnicodeDecodeError as err:
            raise AuthenticationConfigError(
                f"unable to load client CA file {path}: not a PEM file"
            ) from err

    def issued(self, leaf: x509.Certificate) -> bool:
        """Whether a certificate of this bundle signed `leaf`."""
        for ca in self.certificates:
            try:
                leaf.verify_directly_issued_by(ca)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return True
        return False


@dataclass(frozen=True, slots=True)
class RequestHeaderConfig:
    """The front proxy's trust: its CA, allowed CNs and the identity headers."""

    ca: CABundle
    username_headers: tuple[str, ...]
    group_headers: tuple[str, ...]
    extra_headers_prefix: tuple[str, ...]
    allowed_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _CertificateCheck:
    """What one presented certificate may do, under one generation of CA bundles."""

    generation: int
    common_name: str
    organizations: tuple[str, ...]
    by_request_header: bool
    by_client_ca: bool


class Authenticator:
    """Turns a request into a UserInfo or a 401 (see the module docstring)."""

    def __init__(
        self,
        settings: AuthenticationSettings,
        review_token: TokenReviewer | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._review_token = review_token
        self._clock = clock
        self.client_ca: CABundle | None = None
        self.request_header: RequestHeaderConfig | None = None
        self._generation = 0
        self._contexts: list[ssl.SSLContext] = []
        self._loaded: set[str] = set()
        self._tokens: dict[bytes, tuple[float, UserInfo | None]] = {}
        self._certificates: dict[bytes, _CertificateCheck] = {}
        self.token_reviews = 0
        """TokenReviews sent (for tests and benchmarks)."""
        if settings.client_ca_file:
            self.client_ca = CABundle.from_file(settings.client_ca_file)
        header = settings.request_header
        if header.client_ca_file:
            self.request_header = RequestHeaderConfig(
                CABundle.from_file(header.client_ca_file),
                header.username_headers,
                header.group_headers,
                header.extra_headers_prefix,
                header.allowed_names,
            )

    @property
    def needs_cluster_config(self) -> bool:
        """Whether some CA is to be read from the cluster's ConfigMap."""
        if self.settings.skip_lookup:
            return False
        return not (self.settings.client_ca_file and self.settings.request_header.client_ca_file)

    # -- CA bundles and the TLS context ------------------------------------------------

    def attach(self, context: ssl.SSLContext) -> None:
        """Ask for client certificates on `context` and trust both bundles there (now
        and after every later change: certificates of a CA added to the ConfigMap are
        accepted by the handshake from then on)."""
        if self.client_ca is None and self.request_header is None and not self.needs_cluster_config:
            return  # no CA will ever be trusted: do not ask (a certificate is then ignored)
        context.verify_mode = ssl.CERT_OPTIONAL
        self._contexts.append(context)
        self._load_into(context)

    def _load_into(self, context: ssl.SSLContext) -> None:
        for bundle in (self.client_ca, self.request_header.ca if self.request_header else None):
            if bundle is not None:
                context.load_verify_locations(cadata=bundle.pem)

    def apply_cluster_config(self, config: AuthenticationConfig | None) -> None:
        """Take what the flags left unset from the ConfigMap's current contents."""
        if config is None:
            config = AuthenticationConfig()
        changed = False
        if not self.settings.client_ca_file:
            bundle = _bundle_or_none(config.client_ca, "configmap client-ca-file")
            if _pem(bundle) != _pem(self.client_ca):
                self.client_ca = bundle
                changed = True
        if not self.settings.request_header.client_ca_file:
            ca = _bundle_or_none(
                config.requestheader_client_ca, "configmap requestheader-client-ca-file"
            )
            header = None
            if ca is not None and config.requestheader_username_headers:
                header = RequestHeaderConfig(
                    ca,
                    config.requestheader_username_headers,
                    config.requestheader_group_headers,
                    config.requestheader_extra_headers_prefix,
                    config.requestheader_allowed_names,
                )
            if header != self.request_header:
                self.request_header = header
                changed = True
        if changed:
            self._generation += 1
            self._certificates.clear()
            for context in self._contexts:
                self._load_into(context)
            log.info(
                "Loaded authentication settings from configmap/%s in %s: client CA %s, "
                "front proxy %s",
                reviews.AUTHENTICATION_CONFIGMAP[1],
                reviews.AUTHENTICATION_CONFIGMAP[0],
                "set" if self.client_ca else "none",
                "set" if self.request_header else "none",
            )

    async def load_cluster_config(self, cluster: Cluster) -> str:
        """The first read at start-up; returns the resourceVersion to watch from.

        As the generic apiserver: a ConfigMap that cannot be read stops start-up unless
        `--authentication-tolerate-lookup-failure`."""
        try:
            config, version = await reviews.list_authentication_config(cluster)
            if config is None:
                namespace, name = reviews.AUTHENTICATION_CONFIGMAP
                raise AuthenticationConfigError(
                    f'configmaps "{name}" not found in namespace {namespace}'
                )
        except (ClusterError, AuthenticationConfigError) as err:
            message = f"unable to load configmap based request-header-client-ca-file: {_plain(err)}"
            if not self.settings.tolerate_lookup_failure:
                raise AuthenticationConfigError(message) from err
            log.warning("%s", message)
            log.warning(
                "Continuing without authentication configuration. This may treat all "
                "requests as anonymous."
            )
            return ""
        self.apply_cluster_config(config)
        return version

    async def follow_cluster_config(self, cluster: Cluster, version: str = "") -> None:
        """Keep the ConfigMap's settings current: watch it, list again when the watch
        ends or fails. Runs until cancelled."""
        while True:
            try:
                if not version:
                    config, version = await reviews.list_authentication_config(cluster)
                    self.apply_cluster_config(config)
                async for config in reviews.watch_authentication_config(cluster, version):
                    self.apply_cluster_config(config)
                version = ""  # the watch ended: list again
            except WatchExpired:
                version = ""
            except (ClusterError, AuthenticationConfigError) as err:
                log.warning("watching the authentication configmap: %s", _plain(err))
                version = ""
                await asyncio.sleep(RETRY_SECONDS)

    # -- requests ----------------------------------------------------------------------

    async def authenticate(self, request: web.BaseRequest) -> UserInfo:
        failed = False
        check = self._check_certificate(request)
        if check is not None:
            header = self.request_header
            if header is not None:
                if not check.by_request_header:
                    failed = True
                elif header.allowed_names and check.common_name not in header.allowed_names:
                    log.debug(
                        "x509: subject with cn=%s is not in the allowed list", check.common_name
                    )
                    failed = True
                else:
                    user = _user_from_headers(request, header)
                    if user is not None:
                        return with_authenticated_group(user)
            if self.client_ca is not None:
                if check.by_client_ca:
                    return with_authenticated_group(
                        UserInfo(check.common_name, check.organizations)
                    )
                failed = True
        token = _bearer_token(request)
        if token is not None and self._review_token is not None:
            user = await self._token_user(token)
            if user is not None:
                return with_authenticated_group(user)
            failed = True
        elif token is not None:
            failed = True
        if failed or not self.settings.anonymous:
            raise status.unauthorized("Unauthorized")
        return ANONYMOUS_USER

    def _check_certificate(self, request: web.BaseRequest) -> _CertificateCheck | None:
        transport = request.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        if ssl_object is None:
            return None
        der = ssl_object.getpeercert(binary_form=True)
        if not der:
            return None
        cached = self._certificates.get(der)
        if cached is not None and cached.generation == self._generation:
            return cached
        try:
            leaf = x509.load_der_x509_certificate(der)
        except ValueError:
            return None
        subject = leaf.subject
        common = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        check = _CertificateCheck(
            generation=self._generation,
            common_name=str(common[0].value) if common else "",
            organizations=tuple(
                str(attr.value)
                for attr in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
            ),
            by_request_header=self.request_header is not None
            and self.request_header.ca.issued(leaf),
            by_client_ca=self.client_ca is not None and self.client_ca.issued(leaf),
        )
        _remember(self._certificates, der, check)
        return check

    async def _token_user(self, token: str) -> UserInfo | None:
        key = hashlib.sha256(token.encode()).digest()
        now = self._clock()
        cached = self._tokens.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        assert self._review_token is not None
        self.token_reviews += 1
        try:
            user: UserInfo | None = await self._review_token(token)
        except TokenRejected:
            user = None
        except ClusterError as err:
            # Not an answer: the next request asks again.
            log.warning("TokenReview failed: %s", _plain(err))
            return None
        _remember(self._tokens, key, (now + self.settings.token_cache_ttl, user))
        return user


def _remember(cache: dict[bytes, _T], key: bytes, value: _T) -> None:
    if len(cache) >= CACHE_SIZE:
        cache.pop(next(iter(cache)))
    cache[key] = value


def _bundle_or_none(pem: str | None, source: str) -> CABundle | None:
    if not pem:
        return None
    try:
        return CABundle(pem, source)
    except AuthenticationConfigError as err:
        log.warning("%s", err)
        return None


def _pem(bundle: CABundle | None) -> str | None:
    return bundle.pem if bundle is not None else None


def _bearer_token(request: web.BaseRequest) -> str | None:
    """bearertoken.Authenticator: `Authorization: Bearer <token>`; other schemes and
    empty tokens are not this authenticator's business."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    return token or None


def _first_value(request: web.BaseRequest, names: Sequence[str]) -> str:
    for name in names:
        for value in request.headers.getall(name, ()):
            if value.strip():
                return value
    return ""


def _user_from_headers(request: web.BaseRequest, header: RequestHeaderConfig) -> UserInfo | None:
    """headerrequest.requestHeaderAuthRequestHandler: None when no user header is set."""
    name = _first_value(request, header.username_headers)
    if not name:
        return None
    groups = [
        value
        for group_header in header.group_headers
        for value in request.headers.getall(group_header, ())
        if value
    ]
    extra: dict[str, list[str]] = {}
    prefixes = tuple(prefix.lower() for prefix in header.extra_headers_prefix)
    if prefixes:
        for key, value in request.headers.items():
            lowered = key.lower()
            for prefix in prefixes:
                if lowered.startswith(prefix):
                    extra_key = urllib.parse.unquote(lowered[len(prefix) :])
                    extra.setdefault(extra_key, []).append(value)
                    break
    return UserInfo(name, tuple(groups), "", extra_from(extra))


def _plain(err: BaseException) -> str:
    return str(err) or type(err).__name__
