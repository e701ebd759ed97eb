"""Aggregated discovery at `/apis`: what kube-apiserver's aggregator and kubectl ask for
first (`Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`).

Pinned against k8s.io/apiserver endpoints/discovery/aggregated (wrapper.go picks the
aggregated handler from the Accept header; handler.go and etag.go answer with the
negotiated g/v/as in Content-Type, an ETag, `Vary: Accept`, 304 for a matching
If-None-Match), k8s.io/api apidiscovery/v2 types.go for the shapes, and endpoints/
installer.go `ConvertGroupVersionIntoToDiscovery` for how `pods/<metric>` names become
subresources. Plain JSON keeps the legacy APIGroupList, and every resource of every
legacy APIResourceList is in the aggregated document with the same verbs, kind and scope.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict

from adapter.k8s.resources import GroupResource
from adapter.providers.base import CustomMetricInfo, ExternalMetricInfo
from adapter.server import aggregated
from adapter.server.app import create_app

V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
# What client-go's discovery client sends (discovery_client.go, acceptDiscoveryFormats),
# and newer clients' first choice with `profile=nopeer` in front of it.
CLIENT_GO = f"{V2},{V2BETA1},application/json"
NOPEER = f"{V2};profile=nopeer,{CLIENT_GO}"


class Custom:
    def list_metrics(self) -> list[CustomMetricInfo]:
        return [
            CustomMetricInfo(GroupResource("", "pods"), "http_requests", True),
            CustomMetricInfo(GroupResource("apps", "deployments"), "http_requests", True),
            CustomMetricInfo(GroupResource("", "nodes"), "load", False),
            CustomMetricInfo(GroupResource("", "pods"), "latency", True),
        ]

    async def get_metrics(self, request: Any) -> list[Any]:
        return []


class External:
    def list_metrics(self) -> list[ExternalMetricInfo]:
        return [ExternalMetricInfo("queue_depth")]

    async def get_metrics(self, request: Any) -> list[Any]:
        return []


@pytest.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    # metrics.k8s.io's discovery is static: its provider is never called here.
    app = create_app(
        custom=Custom(), external=External(), resource=cast(Any, object()), readiness=lambda: True
    )
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def _get(
    client: TestClient[Any, Any], path: str, accept: str | None, **headers: str
) -> tuple[int, CIMultiDict[str], bytes]:
    if accept is not None:
        headers["Accept"] = accept
    async with client.get(path, headers=headers) as response:
        return response.status, CIMultiDict(response.headers), await response.read()


@pytest.mark.parametrize(
    ("accept", "version"),
    [
        (V2, "v2"),
        (V2BETA1, "v2beta1"),
        (CLIENT_GO, "v2"),
        (NOPEER, "v2"),
        (f"{V2BETA1},{V2}", "v2beta1"),
        (f"{V2BETA1};q=0.5,{V2}", "v2"),
    ],
)
async def test_aggregated_form_when_asked(
    client: TestClient[Any, Any], accept: str, version: str
) -> None:
    code, headers, body = await _get(client, "/apis", accept)
    assert code == 200
    assert headers["Content-Type"] == (
        f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
    )
    assert headers["Vary"] == "Accept"
    assert headers["ETag"].startswith('"') and len(headers["ETag"]) == 130
    document = orjson.loads(body)
    assert document["kind"] == "APIGroupDiscoveryList"
    assert document["apiVersion"] == f"apidiscovery.k8s.io/{version}"
    names = [item["metadata"]["name"] for item in document["items"]]
    assert names == ["custom.metrics.k8s.io", "external.metrics.k8s.io", "metrics.k8s.io"]
    custom = document["items"][0]
    assert [v["version"] for v in custom["versions"]] == ["v1beta2", "v1beta1"]
    assert all(v["freshness"] == "Current" for v in custom["versions"])


async def test_custom_metrics_are_subresources_of_their_resource(
    client: TestClient[Any, Any],
) -> None:
    document = orjson.loads((await _get(client, "/apis", V2))[2])
    v1beta2 = document["items"][0]["versions"][0]["resources"]
    kind = {"group": "custom.metrics.k8s.io", "version": "v1beta2", "kind": "MetricValueList"}
    by_name = {r["resource"]: r for r in v1beta2}
    assert by_name["pods"] == {
        "resource": "pods",
        "responseKind": {},
        "scope": "Namespaced",
        "singularResource": "",
        "verbs": [],
        "subresources": [
            {"subresource": "http_requests", "responseKind": kind, "verbs": ["get"]},
            {"subresource": "latency", "responseKind": kind, "verbs": ["get"]},
        ],
    }
    assert by_name["nodes"]["scope"] == "Cluster"
    assert [s["subresource"] for s in by_name["deployments.apps"]["subresources"]] == [
        "http_requests"
    ]
    external = document["items"][1]["versions"][0]["resources"]
    assert external == [
        {
            "resource": "queue_depth",
            "responseKind": {
                "group": "external.metrics.k8s.io",
                "version": "v1beta1",
                "kind": "ExternalMetricValueList",
            },
            "scope": "Namespaced",
            "singularResource": "",
            "verbs": ["get"],
        }
    ]
    resource = {r["resource"]: r for r in document["items"][2]["versions"][0]["resources"]}
    assert resource["nodes"]["scope"] == "Cluster"
    assert resource["nodes"]["responseKind"]["kind"] == "NodeMetrics"
    assert resource["pods"]["verbs"] == ["get", "list"]


async def test_every_legacy_resource_is_in_the_aggregated_document(
    client: TestClient[Any, Any],
) -> None:
    document = orjson.loads((await _get(client, "/apis", V2))[2])
    for item in document["items"]:
        group = item["metadata"]["name"]
        for version in item["versions"]:
            path = f"/apis/{group}/{version['version']}"
            legacy = orjson.loads((await _get(client, path, "application/json"))[2])
            flattened = {}
            for r in version["resources"]:
                scope = r["scope"] == "Namespaced"
                if r["verbs"]:
                    flattened[r["resource"]] = (scope, r["responseKind"]["kind"], r["verbs"])
                for sub in r.get("subresources", []):
                    name = f"{r['resource']}/{sub['subresource']}"
                    flattened[name] = (scope, sub["responseKind"]["kind"], sub["verbs"])
            assert flattened == {
                r["name"]: (r["namespaced"], r["kind"], r["verbs"]) for r in legacy["resources"]
            }, path


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "application/json",
        "application/json, */*",
        "*/*",
        # The aggregator's own proxied requests.
        "application/vnd.kubernetes.protobuf, */*",
        # A kind we do not serve, or the Table form: passed over.
        "application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList",
        f"{V2};q=0, application/json",
    ],
)
async def test_legacy_group_list_otherwise(
    client: TestClient[Any, Any], accept: str | None
) -> None:
    code, headers, body = await _get(client, "/apis", accept)
    assert code == 200
    assert headers["Content-Type"] == "application/json"
    assert "Vary" not in headers
    assert orjson.loads(body)["kind"] == "APIGroupList"


async def test_etag_answers_304_when_unchanged(client: TestClient[Any, Any]) -> None:
    _, headers, _ = await _get(client, "/apis", V2)
    code, again, body = await _get(client, "/apis", V2, **{"If-None-Match": headers["ETag"]})
    assert (code, body) == (304, b"")
    assert again["ETag"] == headers["ETag"]
    code, _, _ = await _get(client, "/apis", V2, **{"If-None-Match": '"stale"'})
    assert code == 200


@given(st.text(max_size=300))
def test_negotiation_takes_any_accept_header(accept: str) -> None:
    # A client controls the header: never an exception, only the forms we serve.
    negotiated = aggregated.negotiate(accept)
    assert negotiated.version in (None, "v2", "v2beta1")
