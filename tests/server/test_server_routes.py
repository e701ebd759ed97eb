"""Every route of the app, through aiohttp's test server, with canned providers.

The server is the unit under test, so the providers here are small in-test objects
answering the `adapter.providers.base` protocols with fixed values; Prometheus is not
involved. Upstream behaviour pinned, by source:
- custom-metrics-apiserver `pkg/apiserver/installer/cmhandlers.go` (the three custom
  route shapes), `pkg/registry/custom_metrics/reststorage.go` (`namespaces/{ns}/metrics/{m}`
  rewritten to resource namespaces, name ns, root-scoped; `*` means every object),
  `installer/emhandlers.go` + `registry/external_metrics/reststorage.go` (labelSelector is
  the metric selector), `provider/resource_lister.go` (discovery entries);
- k8s.io/apiserver `endpoints/discovery/{root,group,version}.go` (discovery documents),
  `util/notfoundhandler` (404 body), `handlers` ListResource (bad labelSelector -> 400),
  `server/healthz` (health text), `responsewriters` isPrettyPrint (`?pretty`, curl).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.typedefs import Handler

from adapter.k8s import status
from adapter.k8s.resources import GroupResource
from adapter.k8s.selectors import LabelSelector
from adapter.providers.base import (
    CustomMetricInfo,
    CustomMetricRequest,
    CustomMetricValue,
    ExternalMetricInfo,
    ExternalMetricRequest,
    ExternalMetricValue,
    ObjectReference,
)
from adapter.server.app import HEALTH_PATHS, create_app
from adapter.server.documents import VersionInfo
from adapter.server.state import LIFECYCLE

NOW = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
CM = "/apis/custom.metrics.k8s.io"
EM = "/apis/external.metrics.k8s.io"

NOT_FOUND = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "the server could not find the requested resource",
    "reason": "NotFound",
    "code": 404,
}


@dataclass
class CannedCustom:
    """Answers every request with one value per requested name (or two for `*`)."""

    metrics: list[CustomMetricInfo] = field(
        default_factory=lambda: [
            CustomMetricInfo(GroupResource("", "pods"), "http_requests", True),
            CustomMetricInfo(GroupResource("", "nodes"), "load", False),
        ]
    )
    error: Exception | None = None
    requests: list[CustomMetricRequest] = field(default_factory=list)

    def list_metrics(self) -> Sequence[CustomMetricInfo]:
        return self.metrics

    async def get_metrics(self, request: CustomMetricRequest) -> Sequence[CustomMetricValue]:
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        names = ["a", "b"] if request.name == "*" else [request.name]
        selector = None if request.metric_selector.is_empty() else request.metric_selector
        return [
            CustomMetricValue(
                described_object=ObjectReference(
                    kind="Pod", name=name, api_version="/v1", namespace=request.namespace
                ),
                metric=request.metric,
                timestamp=NOW,
                value="500m",
                selector=selector,
            )
            for name in names
        ]


@dataclass
class CannedExternal:
    metrics: list[ExternalMetricInfo] = field(
        default_factory=lambda: [ExternalMetricInfo("queue_depth"), ExternalMetricInfo("lag")]
    )
    error: Exception | None = None
    requests: list[ExternalMetricRequest] = field(default_factory=list)

    def list_metrics(self) -> Sequence[ExternalMetricInfo]:
        return self.metrics

    async def get_metrics(self, request: ExternalMetricRequest) -> Sequence[ExternalMetricValue]:
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        return [
            ExternalMetricValue(
                metric_name=request.metric,
                metric_labels={"queue": "orders"},
                timestamp=NOW,
                value="42",
            )
        ]


@dataclass
class Ready:
    answer: bool | str = True

    def __call__(self) -> bool | str:
        return self.answer


@dataclass
class Harness:
    client: TestClient[Any, Any]
    custom: CannedCustom
    external: CannedExternal
    ready: Ready

    async def get(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        response = await self.client.get(path, **kwargs)
        body = await response.read()
        if response.content_type == "application/json":
            return response.status, orjson.loads(body)
        return response.status, body.decode()


@pytest.fixture
async def make_harness() -> AsyncIterator[Callable[..., Any]]:
    clients: list[TestClient[Any, Any]] = []

    async def make(
        *, custom: bool = True, external: bool = True, ready: bool | str = True
    ) -> Harness:
        canned_custom, canned_external, readiness = CannedCustom(), CannedExternal(), Ready(ready)
        app = create_app(
            custom=canned_custom if custom else None,
            external=canned_external if external else None,
            readiness=readiness,
            version=VersionInfo(major="0", minor="1", git_version="v0.1.0", platform="linux/amd64"),
        )
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return Harness(client, canned_custom, canned_external, readiness)

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def harness(make_harness: Callable[..., Any]) -> Harness:
    result: Harness = await make_harness()
    return result


# --- discovery ---------------------------------------------------------------------------


def group(name: str, versions: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "versions": [{"groupVersion": f"{name}/{v}", "version": v} for v in versions],
        "preferredVersion": {"groupVersion": f"{name}/{versions[0]}", "version": versions[0]},
    }


async def test_apis_lists_both_groups_with_v1beta2_preferred(harness: Harness) -> None:
    code, body = await harness.get("/apis")
    assert code == 200
    address = f"127.0.0.1:{harness.client.port}"
    cidrs = [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]
    assert body == {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                **group("custom.metrics.k8s.io", ["v1beta2", "v1beta1"]),
                "serverAddressByClientCIDRs": cidrs,
            },
            {**group("external.metrics.k8s.io", ["v1beta1"]), "serverAddressByClientCIDRs": cidrs},
        ],
    }


@pytest.mark.parametrize(
    ("path", "name", "versions"),
    [
        (CM, "custom.metrics.k8s.io", ["v1beta2", "v1beta1"]),
        (CM + "/", "custom.metrics.k8s.io", ["v1beta2", "v1beta1"]),
        (EM, "external.metrics.k8s.io", ["v1beta1"]),
    ],
)
async def test_api_group_document(
    harness: Harness, path: str, name: str, versions: list[str]
) -> None:
    code, body = await harness.get(path)
    assert code == 200
    assert body == {"kind": "APIGroup", "apiVersion": "v1", **group(name, versions)}


@pytest.mark.parametrize("version", ["v1beta1", "v1beta2"])
async def test_custom_resource_list(harness: Harness, version: str) -> None:
    code, body = await harness.get(f"{CM}/{version}")
    assert code == 200
    assert body == {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"custom.metrics.k8s.io/{version}",
        "resources": [
            {
                "name": "nodes/load",
                "singularName": "",
                "namespaced": False,
                "kind": "MetricValueList",
                "verbs": ["get"],
            },
            {
                "name": "pods/http_requests",
                "singularName": "",
                "namespaced": True,
                "kind": "MetricValueList",
                "verbs": ["get"],
            },
        ],
    }


async def test_custom_resource_list_follows_registry_swaps(harness: Harness) -> None:
    harness.custom.metrics = [CustomMetricInfo(GroupResource("apps", "deployments"), "x", True)]
    _, body = await harness.get(f"{CM}/v1beta2")
    assert [r["name"] for r in body["resources"]] == ["deployments.apps/x"]


async def test_external_resource_list(harness: Harness) -> None:
    code, body = await harness.get(f"{EM}/v1beta1/")
    assert code == 200
    assert body == {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": "external.metrics.k8s.io/v1beta1",
        "resources": [
            {
                "name": n,
                "singularName": "",
                "namespaced": True,
                "kind": "ExternalMetricValueList",
                "verbs": ["get"],
            }
            for n in ("lag", "queue_depth")
        ],
    }


async def test_disabled_external_group_is_absent(make_harness: Callable[..., Any]) -> None:
    harness: Harness = await make_harness(external=False)
    _, body = await harness.get("/apis")
    assert [g["name"] for g in body["groups"]] == ["custom.metrics.k8s.io"]
    for path in (EM, f"{EM}/v1beta1", f"{EM}/v1beta1/namespaces/default/queue_depth"):
        assert await harness.get(path) == (404, NOT_FOUND)
    assert harness.external.requests == []


async def test_disabled_custom_group_is_absent(make_harness: Callable[..., Any]) -> None:
    harness: Harness = await make_harness(custom=False)
    _, body = await harness.get("/apis")
    assert [g["name"] for g in body["groups"]] == ["external.metrics.k8s.io"]
    for path in (CM, f"{CM}/v1beta2", f"{CM}/v1beta1/namespaces/ns/pods/a/http_requests"):
        assert await harness.get(path) == (404, NOT_FOUND)


async def test_no_groups_at_all(make_harness: Callable[..., Any]) -> None:
    harness: Harness = await make_harness(custom=False, external=False)
    assert await harness.get("/apis") == (
        200,
        {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
    )


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/api",
        "/apis/custom.metrics.k8s.io/v1",
        "/apis/metrics.k8s.io/v1beta1",
        f"{CM}/v1beta2/pods/a",
        f"{CM}/v1beta2/namespaces/ns/pods/a",
        f"{EM}/v1beta2/namespaces/ns/m",
        f"{EM}/v1beta1/m",
    ],
)
async def test_unknown_paths_are_the_apiservers_not_found(harness: Harness, path: str) -> None:
    assert await harness.get(path) == (404, NOT_FOUND)


async def test_version(harness: Harness) -> None:
    assert await harness.get("/version") == (
        200,
        {
            "major": "0",
            "minor": "1",
            "gitVersion": "v0.1.0",
            "gitCommit": "",
            "gitTreeState": "",
            "buildDate": "",
            "goVersion": "",
            "compiler": "",
            "platform": "linux/amd64",
        },
    )


async def test_openapi_v2_is_valid_swagger(harness: Harness) -> None:
    # The documents themselves: tests/server/test_server_openapi.py.
    code, body = await harness.get("/openapi/v2")
    assert code == 200
    assert body["swagger"] == "2.0"
    assert not [p for p in body["paths"] if p.startswith("/apis/metrics.k8s.io/")]


# --- custom metric paths ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "resource", "name", "metric", "namespace"),
    [
        ("/namespaces/shop/pods/web-1/http_requests", "pods", "web-1", "http_requests", "shop"),
        ("/namespaces/shop/pods/*/http_requests", "pods", "*", "http_requests", "shop"),
        (
            "/namespaces/shop/deployments.apps/web/replicas",
            "deployments.apps",
            "web",
            "replicas",
            "shop",
        ),
        ("/nodes/n1/load", "nodes", "n1", "load", None),
        ("/nodes/*/load", "nodes", "*", "load", None),
        ("/namespaces/shop/load", "namespaces", "shop", "load", None),
        # reststorage.go: metrics describing a namespace are root-scoped namespace objects.
        ("/namespaces/shop/metrics/queue_length", "namespaces", "shop", "queue_length", None),
        ("/namespaces/*/metrics/queue_length", "namespaces", "*", "queue_length", None),
    ],
)
@pytest.mark.parametrize("version", ["v1beta1", "v1beta2"])
async def test_custom_paths_become_requests(
    harness: Harness,
    version: str,
    path: str,
    resource: str,
    name: str,
    metric: str,
    namespace: str | None,
) -> None:
    code, _ = await harness.get(f"{CM}/{version}{path}")
    assert code == 200
    assert harness.custom.requests == [
        CustomMetricRequest(
            resource=resource,
            name=name,
            metric=metric,
            namespace=namespace,
            label_selector=LabelSelector.everything(),
            metric_selector=LabelSelector.everything(),
        )
    ]


async def test_selectors_reach_the_provider(harness: Harness) -> None:
    code, _ = await harness.get(
        f"{CM}/v1beta2/namespaces/shop/pods/*/http_requests",
        params={"labelSelector": "app=web,tier in (a,b)", "metricLabelSelector": "verb=GET"},
    )
    assert code == 200
    (request,) = harness.custom.requests
    assert request.label_selector == LabelSelector.parse("app=web,tier in (a,b)")
    assert request.metric_selector == LabelSelector.parse("verb=GET")


async def test_v1beta2_body(harness: Harness) -> None:
    response = await harness.client.get(
        f"{CM}/v1beta2/namespaces/shop/pods/*/http_requests",
        params={"metricLabelSelector": "verb=GET"},
    )
    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.read() == (
        b'{"kind":"MetricValueList","apiVersion":"custom.metrics.k8s.io/v1beta2","metadata":{},"items":['
        b'{"describedObject":{"kind":"Pod","namespace":"shop","name":"a","apiVersion":"/v1"},'
        b'"metric":{"name":"http_requests","selector":{"matchLabels":{"verb":"GET"}}},'
        b'"timestamp":"2024-03-01T12:00:00Z","value":"500m"},'
        b'{"describedObject":{"kind":"Pod","namespace":"shop","name":"b","apiVersion":"/v1"},'
        b'"metric":{"name":"http_requests","selector":{"matchLabels":{"verb":"GET"}}},'
        b'"timestamp":"2024-03-01T12:00:00Z","value":"500m"}]}\n'
    )


async def test_v1beta1_body(harness: Harness) -> None:
    response = await harness.client.get(f"{CM}/v1beta1/nodes/n1/load")
    assert await response.read() == (
        b'{"kind":"MetricValueList","apiVersion":"custom.metrics.k8s.io/v1beta1","metadata":{},"items":['
        b'{"describedObject":{"kind":"Pod","name":"n1","apiVersion":"/v1"},"metricName":"load",'
        b'"timestamp":"2024-03-01T12:00:00Z","value":"500m","selector":null}]}\n'
    )


async def test_not_equals_metric_selector_is_echoed_as_not_in(harness: Harness) -> None:
    # Upstream: 500 `"!=" is not a valid label selector operator`. Ours: the values.
    code, body = await harness.get(
        f"{CM}/v1beta1/namespaces/shop/pods/web-1/http_requests",
        params={"metricLabelSelector": "verb!=LIST"},
    )
    assert code == 200
    assert body["items"][0]["selector"] == {
        "matchExpressions": [{"key": "verb", "operator": "NotIn", "values": ["LIST"]}]
    }


async def test_metric_selector_without_api_form_is_upstreams_plain_500(harness: Harness) -> None:
    code, body = await harness.get(
        f"{CM}/v1beta2/namespaces/shop/pods/web-1/http_requests",
        params={"metricLabelSelector": "size>3"},
    )
    assert code == 500
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": '"gt" isn\'t supported in label selectors',
        "code": 500,
    }


async def test_bad_label_selector_is_400_bad_request(harness: Harness) -> None:
    code, body = await harness.get(
        f"{CM}/v1beta2/namespaces/shop/pods/*/http_requests", params={"labelSelector": "app=(web"}
    )
    assert code == 400
    assert body["kind"] == "Status"
    assert body["reason"] == "BadRequest"
    assert body["code"] == 400
    assert body["message"]
    assert harness.custom.requests == []


async def test_bad_metric_label_selector_is_400_here_500_upstream(harness: Harness) -> None:
    code, body = await harness.get(
        f"{CM}/v1beta1/nodes/n1/load", params={"metricLabelSelector": "verb in GET"}
    )
    assert (code, body["reason"], body["code"]) == (400, "BadRequest", 400)
    assert harness.custom.requests == []


async def test_provider_status_error_passes_through(harness: Harness) -> None:
    harness.custom.error = status.StatusError(
        404, "NotFound", "the server could not find the metric nope for pods"
    )
    assert await harness.get(f"{CM}/v1beta2/namespaces/shop/pods/*/nope") == (
        404,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "the server could not find the metric nope for pods",
            "reason": "NotFound",
            "code": 404,
        },
    )


async def test_provider_internal_error_is_500_with_causes(harness: Harness) -> None:
    harness.custom.error = status.internal_error("unable to fetch metrics")
    assert await harness.get(f"{CM}/v1beta2/nodes/*/load") == (
        500,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "Internal error occurred: unable to fetch metrics",
            "reason": "InternalError",
            "details": {"causes": [{"message": "unable to fetch metrics"}]},
            "code": 500,
        },
    )


async def test_unexpected_provider_exception_is_500_internal_error(harness: Harness) -> None:
    harness.custom.error = RuntimeError("boom")
    code, body = await harness.get(f"{CM}/v1beta2/nodes/*/load")
    assert code == 500
    assert body["reason"] == "InternalError"
    # No Python internals (exception types, reprs) reach the caller; the log has them.
    assert (
        body["message"] == "Internal error occurred: the adapter failed unexpectedly; see its log"
    )
    assert "boom" not in str(body) and "RuntimeError" not in str(body)


@pytest.mark.parametrize(
    ("method", "verb"),
    [("POST", "create"), ("PUT", "update"), ("PATCH", "patch"), ("DELETE", "delete")],
)
async def test_writes_to_metric_paths_are_405_method_not_supported(
    harness: Harness, method: str, verb: str
) -> None:
    response = await harness.client.request(
        method, f"{CM}/v1beta2/namespaces/shop/pods/a/http_requests"
    )
    assert response.status == 405
    assert orjson.loads(await response.read()) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'{verb} is not supported on resources of kind "pods.custom.metrics.k8s.io"',
        "reason": "MethodNotAllowed",
        "details": {"group": "custom.metrics.k8s.io", "kind": "pods"},
        "code": 405,
    }
    assert harness.custom.requests == []


@pytest.mark.parametrize(
    "path", ["/apis", CM, f"{CM}/v1beta1", "/version", "/healthz", "/readyz", "/openapi/v2"]
)
async def test_writes_to_other_paths_are_405(harness: Harness, path: str) -> None:
    response = await harness.client.post(path)
    assert response.status == 405
    body = orjson.loads(await response.read())
    assert (body["reason"], body["code"]) == ("MethodNotAllowed", 405)


async def test_head_is_answered_like_get_without_body(harness: Harness) -> None:
    response = await harness.client.head(f"{CM}/v1beta2/nodes/n1/load")
    assert response.status == 200
    assert await response.read() == b""


# --- external metric path -----------------------------------------------------------------


async def test_external_path_and_label_selector_as_metric_selector(harness: Harness) -> None:
    code, body = await harness.get(
        f"{EM}/v1beta1/namespaces/default/queue_depth", params={"labelSelector": "queue=orders"}
    )
    assert code == 200
    assert harness.external.requests == [
        ExternalMetricRequest(
            namespace="default",
            metric="queue_depth",
            metric_selector=LabelSelector.parse("queue=orders"),
        )
    ]
    assert body == {
        "kind": "ExternalMetricValueList",
        "apiVersion": "external.metrics.k8s.io/v1beta1",
        "metadata": {},
        "items": [
            {
                "metricName": "queue_depth",
                "metricLabels": {"queue": "orders"},
                "timestamp": "2024-03-01T12:00:00Z",
                "value": "42",
            }
        ],
    }


async def test_external_bad_selector_is_400(harness: Harness) -> None:
    code, body = await harness.get(
        f"{EM}/v1beta1/namespaces/default/q", params={"labelSelector": "a in (x"}
    )
    assert (code, body["reason"]) == (400, "BadRequest")
    assert harness.external.requests == []


async def test_external_write_is_405(harness: Harness) -> None:
    response = await harness.client.delete(f"{EM}/v1beta1/namespaces/default/queue_depth")
    assert response.status == 405
    body = orjson.loads(await response.read())
    assert (
        body["message"]
        == 'delete is not supported on resources of kind "queue_depth.external.metrics.k8s.io"'
    )


# --- encoding and headers -----------------------------------------------------------------


async def test_pretty_parameter_and_curl_user_agent(harness: Harness) -> None:
    for kwargs in ({"params": {"pretty": "true"}}, {"headers": {"User-Agent": "curl/8.5.0"}}):
        response = await harness.client.get(f"{CM}/v1beta2", **kwargs)  # type: ignore[arg-type]
        text = await response.text()
        assert text.startswith('{\n  "kind": "APIResourceList",\n  "apiVersion": "v1",\n')
        assert not text.endswith("\n")
    # An explicit false wins over the user agent.
    response = await harness.client.get(
        f"{CM}/v1beta2", params={"pretty": "false"}, headers={"User-Agent": "curl/8.5.0"}
    )
    assert (await response.text()).startswith('{"kind":"APIResourceList"')


async def test_response_headers(harness: Harness) -> None:
    response = await harness.client.get(f"{CM}/v1beta2/nodes/n1/load")
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-cache, private"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Server" not in response.headers


# --- health -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz"])
async def test_health_ok(harness: Harness, path: str) -> None:
    response = await harness.client.get(path)
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert await response.text() == "ok"


async def test_readyz_fails_until_discovery_ran(
    make_harness: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    # k8s.io/apiserver pkg/server/healthz/healthz.go (handleRootHealth): the public list
    # withholds a failed check's reason; the log has it.
    caplog.set_level(logging.INFO, logger="adapter.server.health")
    harness: Harness = await make_harness(ready=False)
    expected = (
        "[+]ping ok\n"
        "[-]metric-discovery failed: reason withheld\n"
        "[+]prometheus ok\n"
        "[+]shutdown ok\n"
        "readyz check failed\n"
    )
    assert await harness.get("/readyz") == (500, expected)
    assert "metric-discovery failed: the first metric discovery has not completed" in caplog.text
    # Liveness does not depend on discovery.
    assert await harness.get("/livez") == (200, "ok")
    assert await harness.get("/healthz") == (200, "ok")
    harness.ready.answer = True
    assert await harness.get("/readyz") == (200, "ok")


async def test_readyz_shows_the_reason_given(make_harness: Callable[..., Any]) -> None:
    harness: Harness = await make_harness(ready="prometheus unreachable: connection refused")
    code, text = await harness.get("/readyz/metric-discovery")
    assert (code, text) == (
        500,
        "internal server error: prometheus unreachable: connection refused\n",
    )


async def test_readyz_verbose_and_single_checks(harness: Harness) -> None:
    assert await harness.get("/readyz", params={"verbose": ""}) == (
        200,
        "[+]ping ok\n[+]metric-discovery ok\n[+]prometheus ok\n[+]shutdown ok\n"
        "readyz check passed\n",
    )
    assert await harness.get("/livez", params={"verbose": "1"}) == (
        200,
        "[+]ping ok\nlivez check passed\n",
    )
    assert await harness.get("/livez/ping") == (200, "ok")
    assert await harness.get("/readyz/nosuchcheck") == (404, NOT_FOUND)


async def test_readyz_fails_once_shutting_down(harness: Harness) -> None:
    harness.client.app[LIFECYCLE].shutting_down = True
    code, text = await harness.get("/readyz")
    assert code == 500
    assert "[-]shutdown failed: reason withheld\n" in text
    assert await harness.get("/readyz/shutdown") == (
        500,
        "internal server error: process is shutting down\n",
    )
    assert await harness.get("/livez") == (200, "ok")


# --- the authentication/authorization slot ------------------------------------------------


async def test_extra_middlewares_run_inside_the_status_middleware() -> None:
    # What a later authentication middleware does: refuse everything but health paths
    # with a Status error, which must reach the client as a Status body (401).
    seen: list[str] = []

    @web.middleware
    async def deny(request: web.Request, handler: Handler) -> web.StreamResponse:
        seen.append(request.path)
        if not request.path.startswith(HEALTH_PATHS):
            raise status.unauthorized("")
        return await handler(request)

    app = create_app(custom=CannedCustom(), external=None, readiness=Ready(), middlewares=[deny])
    async with TestClient(TestServer(app)) as client:
        response = await client.get(f"{CM}/v1beta2/nodes/n1/load")
        assert response.status == 401
        assert orjson.loads(await response.read()) == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "not authorized",
            "reason": "Unauthorized",
            "code": 401,
        }
        assert (await client.get("/readyz")).status == 200
    assert seen == [f"{CM}/v1beta2/nodes/n1/load", "/readyz"]
