"""The real kubectl (`kubectl get --raw`) against the running HTTPS server.

kubectl is the client users reach for first (`kubectl get --raw
/apis/custom.metrics.k8s.io/v1beta2/...`), and client-go inside it decodes our Status
errors into its `Error from server (<Reason>): <message>` lines, so these tests check
both the documents and that the errors are real Kubernetes errors to a Kubernetes client.
The providers are canned (the server is the unit under test).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.kubectl import get_raw, kubectl, write_kubeconfig

from adapter.k8s import status
from adapter.k8s.resources import GroupResource
from adapter.providers.base import (
    CustomMetricInfo,
    CustomMetricRequest,
    CustomMetricValue,
    ExternalMetricInfo,
    ExternalMetricRequest,
    ExternalMetricValue,
    ObjectReference,
)
from adapter.server.app import create_app
from adapter.server.running import running
from adapter.server.tls import SELF_SIGNED_CERT
from adapter.settings import ServingSettings

NOW = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


class Custom:
    def list_metrics(self) -> Sequence[CustomMetricInfo]:
        return [CustomMetricInfo(GroupResource("", "pods"), "http_requests_per_second", True)]

    async def get_metrics(self, request: CustomMetricRequest) -> Sequence[CustomMetricValue]:
        if request.metric != "http_requests_per_second":
            raise status.StatusError(
                404,
                "NotFound",
                f"the server could not find the metric {request.metric} for {request.resource}",
            )
        names = ["web-1", "web-2"] if request.name == "*" else [request.name]
        return [
            CustomMetricValue(
                ObjectReference("Pod", name, "/v1", request.namespace),
                request.metric,
                NOW,
                "16m",
                None if request.metric_selector.is_empty() else request.metric_selector,
            )
            for name in names
        ]


class External:
    def list_metrics(self) -> Sequence[ExternalMetricInfo]:
        return [ExternalMetricInfo("queue_depth")]

    async def get_metrics(self, request: ExternalMetricRequest) -> Sequence[ExternalMetricValue]:
        return [ExternalMetricValue(request.metric, {"queue": "orders"}, NOW, "2k")]


@dataclass
class Served:
    url: str
    cert_dir: Path
    directory: Path


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    app = create_app(custom=Custom(), external=External(), readiness=lambda: True)
    cert_dir = tmp_path / "certs"
    settings = ServingSettings(secure_port=0, bind_address="127.0.0.1", cert_dir=str(cert_dir))
    async with running(app, settings) as url:
        yield Served(url, cert_dir, tmp_path / "kube")


async def test_discovery_through_kubectl(served: Served) -> None:
    groups = (await get_raw(served.url, "/apis", served.directory)).json()
    assert [(g["name"], g["preferredVersion"]["version"]) for g in groups["groups"]] == [
        ("custom.metrics.k8s.io", "v1beta2"),
        ("external.metrics.k8s.io", "v1beta1"),
    ]
    resources = (
        await get_raw(served.url, "/apis/custom.metrics.k8s.io/v1beta2", served.directory)
    ).json()
    assert resources == {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": "custom.metrics.k8s.io/v1beta2",
        "resources": [
            {
                "name": "pods/http_requests_per_second",
                "singularName": "",
                "namespaced": True,
                "kind": "MetricValueList",
                "verbs": ["get"],
            }
        ],
    }


async def test_custom_metric_through_kubectl(served: Served) -> None:
    path = (
        "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/pods/*/http_requests_per_second"
        "?labelSelector=app%3Dweb&metricLabelSelector=verb%21%3DLIST"
    )
    document = (await get_raw(served.url, path, served.directory)).json()
    assert document == {
        "kind": "MetricValueList",
        "apiVersion": "custom.metrics.k8s.io/v1beta2",
        "metadata": {},
        "items": [
            {
                "describedObject": {
                    "kind": "Pod",
                    "namespace": "shop",
                    "name": name,
                    "apiVersion": "/v1",
                },
                "metric": {
                    "name": "http_requests_per_second",
                    "selector": {
                        "matchExpressions": [
                            {"key": "verb", "operator": "NotIn", "values": ["LIST"]}
                        ]
                    },
                },
                "timestamp": "2024-03-01T12:00:00Z",
                "value": "16m",
            }
            for name in ("web-1", "web-2")
        ],
    }


async def test_external_metric_through_kubectl(served: Served) -> None:
    path = (
        "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/queue_depth"
        "?labelSelector=queue%3Dorders"
    )
    document = (await get_raw(served.url, path, served.directory)).json()
    assert document["kind"] == "ExternalMetricValueList"
    assert document["items"] == [
        {
            "metricName": "queue_depth",
            "metricLabels": {"queue": "orders"},
            "timestamp": "2024-03-01T12:00:00Z",
            "value": "2k",
        }
    ]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/pods/*/nope",
            "Error from server (NotFound): the server could not find the metric nope for pods",
        ),
        (
            "/apis/custom.metrics.k8s.io/v1",
            "Error from server (NotFound): the server could not find the requested resource",
        ),
        (
            "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/pods/*/x?labelSelector=a%20in%20%28b",
            "Error from server (BadRequest): ",
        ),
    ],
)
async def test_status_errors_read_by_kubectl(served: Served, path: str, message: str) -> None:
    result = await get_raw(served.url, path, served.directory)
    assert result.returncode == 1
    assert result.stderr.startswith(message)


async def test_generated_certificate_verifies_for_kubectl(served: Served) -> None:
    # No insecure-skip-tls-verify: the self-signed certificate is the CA, and it names
    # 127.0.0.1, so client-go's verification passes.
    config = write_kubeconfig(
        served.directory / "verified",
        served.url,
        certificate_authority=served.cert_dir / SELF_SIGNED_CERT,
    )
    result = await kubectl(config, "get", "--raw", "/readyz")
    assert result.check().stdout == "ok"


async def test_kubectl_reads_aggregated_discovery(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    # client-go (kubectl 1.26+) asks /api and /apis for apidiscovery.k8s.io/v2 first and,
    # when the answer is that, fetches no /apis/<group>/<version>: so the access log shows
    # that kubectl read our APIGroupDiscoveryList, and its table shows what it holds.
    caplog.set_level(logging.INFO, logger="adapter.server.access")
    config = write_kubeconfig(served.directory, served.url)
    result = await kubectl(config, "api-resources", "--api-group=external.metrics.k8s.io")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert rows == [
        ["queue_depth", "external.metrics.k8s.io/v1beta1", "true", "ExternalMetricValueList"]
    ]
    uris = [r.getMessage().split('URI="', 1)[1].split("?")[0] for r in caplog.records]
    assert "/apis" in uris
    assert not [u for u in uris if u.startswith("/apis/")], uris
