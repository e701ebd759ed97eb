"""Delegated authentication and authorization over real TLS, against the API stand-in.

The adapter's HTTPS listener trusts the CAs that kube-system/extension-apiserver-
authentication publishes (the stand-in serves it, as kube-apiserver does), asks the
stand-in's TokenReview and SubjectAccessReview about callers, and answers as an
aggregated API server built on k8s.io/apiserver does:

- front-proxy certificate (request-header CA, allowed CN) + X-Remote-* headers: the
  headers name the user (authenticatorfactory's request-header authenticator);
- a CN outside requestheader-allowed-names, an unknown token: 401 Unauthorized;
- X-Remote-User without a front-proxy certificate: ignored (system:anonymous);
- a user RBAC does not allow: 403 worded as responsewriters.Forbidden words it;
- health paths and system:masters pass without a review
  (DelegatingAuthorizationOptions' AlwaysAllowPaths / AlwaysAllowGroups).

Certificates are minted with trustme. One deliberate difference is pinned: a client
certificate from a CA in neither bundle fails the TLS handshake (Python's ssl cannot
request a certificate without verifying it), where Go answers 401.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from support.kubectl import get_raw

from adapter import serving
from adapter.cluster import connection as cluster_connection
from adapter.k8s import status
from adapter.k8s.resources import GroupResource
from adapter.prometheus.settings import PrometheusSettings
from adapter.providers.base import (
    CustomMetricInfo,
    CustomMetricRequest,
    CustomMetricValue,
    ObjectReference,
)
from adapter.sandbox.access import PolicyRule, RuleAuthorizer
from adapter.sandbox.apiserver import RunningApiServer
from adapter.sandbox.store import APIServiceBackend, ClusterState
from adapter.server.app import create_app
from adapter.server.authn import Authenticator
from adapter.server.running import running
from adapter.server.state import AUTHENTICATOR
from adapter.settings import AuthenticationSettings, ServingSettings, Settings

NOW = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
METRIC = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/pods/*/http_requests"
GROUP = "custom.metrics.k8s.io"


class Custom:
    def list_metrics(self) -> Sequence[CustomMetricInfo]:
        return [CustomMetricInfo(GroupResource("", "pods"), "http_requests", True)]

    async def get_metrics(self, request: CustomMetricRequest) -> Sequence[CustomMetricValue]:
        if request.metric != "http_requests":
            raise status.not_found(GROUP, "pods", request.metric)
        return [
            CustomMetricValue(
                ObjectReference("Pod", "web-1", "/v1", request.namespace),
                request.metric,
                NOW,
                "16m",
                None,
            )
        ]


@dataclass
class Delegated:
    url: str
    state: ClusterState
    front_ca: trustme.CA
    client_ca: trustme.CA
    authenticator: Authenticator
    tmp: Path

    def context(self, leaf: trustme.LeafCert | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the adapter's certificate is self-signed
        if leaf is not None:
            leaf.configure_cert(context)
        return context

    def front_proxy(self, common_name: str = "front-proxy-client") -> ssl.SSLContext:
        return self.context(self.front_ca.issue_cert("client.test", common_name=common_name))

    def reviews(self, kind: str) -> int:
        assert self.state.audit_log is not None
        return sum(1 for record in self.state.audit_log if record.path.endswith(kind))


def publish(state: ClusterState, front: Sequence[bytes], client: bytes) -> None:
    """kube-system/extension-apiserver-authentication, as kube-apiserver publishes it."""
    state.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "extension-apiserver-authentication", "namespace": "kube-system"},
            "data": {
                "client-ca-file": client.decode(),
                "requestheader-client-ca-file": b"".join(front).decode(),
                "requestheader-allowed-names": '["front-proxy-client"]',
                "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]',
                "requestheader-group-headers": '["X-Remote-Group"]',
                "requestheader-username-headers": '["X-Remote-User"]',
            },
        }
    )


def rbac(state: ClusterState) -> None:
    """alice (and group readers) may read the metric in shop; nobody else anything."""
    authorizer = RuleAuthorizer()
    authorizer.allow(
        PolicyRule(
            verbs=("get", "list"),
            api_groups=(GROUP,),
            resources=("pods/http_requests",),
            users=("alice",),
            groups=("readers",),
            namespaces=("shop",),
        )
    )
    state.authorizer = authorizer


async def start(
    tls_apiserver: RunningApiServer,
    tmp_path: Path,
    authentication: AuthenticationSettings | None = None,
) -> AsyncIterator[Delegated]:
    state = tls_apiserver.state
    front_ca, client_ca = trustme.CA(), trustme.CA()
    sandbox_front = state.front_proxy_client
    assert sandbox_front is not None
    # The stand-in's own aggregation proxy certificate stays trusted too.
    publish(state, [front_ca.cert_pem.bytes(), sandbox_front.ca_pem], client_ca.cert_pem.bytes())
    rbac(state)
    state.authenticator.add_token("alice-token", "alice", ["developers"])
    state.authenticator.add_token("bob-token", "bob")
    kubeconfig = tls_apiserver.write_kubeconfig(tmp_path / "adapter" / "kubeconfig")
    settings = Settings(
        config_file="unused.yaml",
        prometheus=PrometheusSettings(url="http://127.0.0.1:9"),
        authentication=authentication or AuthenticationSettings(),
    )
    async with cluster_connection.connect(str(kubeconfig)) as cluster:
        authenticator, middlewares = serving.delegated_access(settings, cluster, cluster)
        assert authenticator is not None
        app = create_app(
            custom=Custom(), external=None, readiness=lambda: True, middlewares=middlewares
        )
        app[AUTHENTICATOR] = authenticator
        await authenticator.load_cluster_config(cluster)
        follow = asyncio.ensure_future(authenticator.follow_cluster_config(cluster))
        serving_settings = ServingSettings(
            secure_port=0, bind_address="127.0.0.1", cert_dir=str(tmp_path / "certs")
        )
        try:
            async with running(app, serving_settings) as url:
                yield Delegated(url, state, front_ca, client_ca, authenticator, tmp_path)
        finally:
            follow.cancel()
            await asyncio.gather(follow, return_exceptions=True)


@pytest.fixture
async def delegated(tls_apiserver: RunningApiServer, tmp_path: Path) -> AsyncIterator[Delegated]:
    async for value in start(tls_apiserver, tmp_path):
        yield value


async def call(
    url: str,
    context: ssl.SSLContext,
    path: str = METRIC,
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url + path, ssl=context, headers=headers) as response,
    ):
        body = await response.read()
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, body.decode()


async def test_front_proxy_identity_is_served(delegated: Delegated) -> None:
    code, body = await call(
        delegated.url, delegated.front_proxy(), headers={"X-Remote-User": "alice"}
    )
    assert code == 200, body
    assert body["kind"] == "MetricValueList"


async def test_front_proxy_groups_are_authorized(delegated: Delegated) -> None:
    headers = [
        ("X-Remote-User", "carol"),
        ("X-Remote-Group", "staff"),
        ("X-Remote-Group", "readers"),
    ]
    code, body = await call(delegated.url, delegated.front_proxy(), headers=headers)
    assert code == 200, body


async def test_denied_review_is_403_worded_as_kube_apiserver(delegated: Delegated) -> None:
    code, body = await call(
        delegated.url, delegated.front_proxy(), headers={"X-Remote-User": "bob"}
    )
    assert code == 403
    assert body["reason"] == "Forbidden"
    # responsewriters.Forbidden + apierrors.NewForbidden(group resource, name, ...)
    assert body["message"] == (
        'pods.custom.metrics.k8s.io "*" is forbidden: User "bob" cannot get resource '
        '"pods/http_requests" in API group "custom.metrics.k8s.io" in the namespace "shop"'
    )
    assert body["details"] == {"name": "*", "group": GROUP, "kind": "pods"}


async def test_cn_outside_allowed_names_is_401(delegated: Delegated) -> None:
    code, body = await call(
        delegated.url, delegated.front_proxy("intruder"), headers={"X-Remote-User": "alice"}
    )
    assert (code, body["reason"], body["message"]) == (401, "Unauthorized", "Unauthorized")


async def test_spoofed_identity_headers_on_plain_tls_are_ignored(delegated: Delegated) -> None:
    headers = {"X-Remote-User": "alice", "X-Remote-Group": "system:masters"}
    code, body = await call(delegated.url, delegated.context(), headers=headers)
    assert code == 403
    assert 'User "system:anonymous" cannot get' in body["message"]


async def test_client_ca_certificate_is_its_cn_and_headers_are_ignored(
    delegated: Delegated,
) -> None:
    alice = delegated.client_ca.issue_cert(
        "client.test", common_name="alice", organization_name="developers"
    )
    assert (await call(delegated.url, delegated.context(alice)))[0] == 200
    carol = delegated.client_ca.issue_cert("client.test", common_name="carol")
    code, body = await call(
        delegated.url, delegated.context(carol), headers={"X-Remote-User": "alice"}
    )
    assert code == 403 and 'User "carol" cannot get' in body["message"]


async def test_certificate_from_an_unknown_ca_fails_the_handshake(delegated: Delegated) -> None:
    stranger = trustme.CA().issue_cert("client.test", common_name="front-proxy-client")
    with pytest.raises(aiohttp.ClientError):
        await call(delegated.url, delegated.context(stranger), headers={"X-Remote-User": "alice"})


async def test_bearer_tokens_are_reviewed_and_cached(delegated: Delegated) -> None:
    context = delegated.context()
    for _ in range(3):
        code, _ = await call(
            delegated.url, context, headers={"Authorization": "Bearer alice-token"}
        )
        assert code == 200
    assert delegated.reviews("/tokenreviews") == 1
    assert delegated.reviews("/subjectaccessreviews") == 1
    code, body = await call(delegated.url, context, headers={"Authorization": "Bearer nope"})
    assert (code, body["reason"]) == (401, "Unauthorized")


async def test_masters_and_health_paths_need_no_review(delegated: Delegated) -> None:
    context = delegated.context()
    admin = {"Authorization": f"Bearer {delegated.state.authenticator and 'sandbox-admin-token'}"}
    assert (await call(delegated.url, context, headers=admin))[0] == 200
    for path in ("/healthz", "/readyz", "/livez"):
        assert await call(delegated.url, context, path) == (200, "ok")
    assert delegated.reviews("/subjectaccessreviews") == 0


async def test_discovery_is_a_non_resource_review(delegated: Delegated) -> None:
    code, body = await call(
        delegated.url, delegated.context(), "/apis/custom.metrics.k8s.io/v1beta2"
    )
    # The stand-in lets everyone read non-resource paths, as system:discovery does.
    assert code == 200 and body["kind"] == "APIResourceList"


async def test_aggregator_request_form_is_served(delegated: Delegated) -> None:
    """`*` escaped as %2A and a protobuf-first Accept, as kube-aggregator sends them."""
    headers = {
        "X-Remote-User": "alice",
        "Accept": "application/vnd.kubernetes.protobuf, */*",
    }
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            delegated.url + METRIC.replace("*", "%2A"),
            ssl=delegated.front_proxy(),
            headers=headers,
        ) as response,
    ):
        assert response.status == 200
        assert response.content_type == "application/json"
        assert (await response.json())["items"][0]["describedObject"]["name"] == "web-1"


async def test_front_proxy_ca_change_is_followed(delegated: Delegated) -> None:
    rotated = trustme.CA()
    publish(delegated.state, [rotated.cert_pem.bytes()], delegated.client_ca.cert_pem.bytes())
    new_front = delegated.context(
        rotated.issue_cert("client.test", common_name="front-proxy-client")
    )
    headers = {"X-Remote-User": "alice"}
    for _ in range(100):
        if delegated.authenticator.request_header is not None and (
            delegated.authenticator.request_header.ca.pem == rotated.cert_pem.bytes().decode()
        ):
            break
        await asyncio.sleep(0.05)
    assert (await call(delegated.url, new_front, headers=headers))[0] == 200
    # The old front-proxy CA is no longer trusted to assert identities.
    code, _ = await call(delegated.url, delegated.front_proxy(), headers=headers)
    assert code == 401


async def test_anonymous_can_be_refused(tls_apiserver: RunningApiServer, tmp_path: Path) -> None:
    async for delegated in start(tls_apiserver, tmp_path, AuthenticationSettings(anonymous=False)):
        code, body = await call(delegated.url, delegated.context(), "/healthz")
        assert (code, body["reason"]) == (401, "Unauthorized")


async def test_kubectl_with_client_kubeconfig(delegated: Delegated) -> None:
    alice = delegated.client_ca.issue_cert("client.test", common_name="alice")
    cert, key = delegated.tmp / "alice.crt", delegated.tmp / "alice.key"
    alice.cert_chain_pems[0].write_to_path(str(cert))
    alice.private_key_pem.write_to_path(str(key))
    result = await get_raw(
        delegated.url, METRIC, delegated.tmp / "kubectl", token=None,
        client_certificate=cert, client_key=key,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    denied = await get_raw(delegated.url, METRIC, delegated.tmp / "bob", token="bob-token")
    assert denied.returncode != 0
    assert (
        'Error from server (Forbidden): pods.custom.metrics.k8s.io "*" is forbidden: User "bob"'
        in denied.stderr
    )


async def test_through_the_aggregation_proxy(
    delegated: Delegated, tls_apiserver: RunningApiServer
) -> None:
    """kubectl -> API server (token) -> front proxy (client certificate, X-Remote-User)
    -> adapter -> SubjectAccessReview back to the API server."""
    delegated.state.register_api_service(
        APIServiceBackend(GROUP, "v1beta2", delegated.url, insecure_skip_tls_verify=True)
    )
    ca_file = delegated.tmp / "apiserver-ca.crt"
    assert tls_apiserver.ca_pem is not None
    ca_file.write_bytes(tls_apiserver.ca_pem)
    allowed = await get_raw(
        tls_apiserver.url, METRIC, delegated.tmp / "alice", token="alice-token",
        certificate_authority=ca_file,
    )  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr
    denied = await get_raw(
        tls_apiserver.url, METRIC, delegated.tmp / "bob", token="bob-token",
        certificate_authority=ca_file,
    )  # fmt: skip
    assert 'User "bob" cannot get resource "pods/http_requests"' in denied.stderr
