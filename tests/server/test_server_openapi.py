"""`/openapi/v2` and `/openapi/v3`: valid documents (openapi-spec-validator, against the
Swagger 2.0 and OpenAPI 3.0 specs) describing exactly the served types and paths, read by
the real `kubectl explain`.

Pinned: every served kind (MetricValueList of custom.metrics.k8s.io v1beta1 and v1beta2,
ExternalMetricValueList, PodMetrics/NodeMetrics and their lists) has a schema carrying
`x-kubernetes-group-version-kind`, as kube-openapi writes it and `kubectl explain` looks
kinds up; every documented GET path is one the server routes, with one required path
parameter per `{segment}`; the v3 index lists `apis/<group>/<version>` with a
`serverRelativeURL` and a hash, as kube-apiserver's /openapi/v3 does; a group that is
not served is in neither.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from openapi_spec_validator import validate
from support.kubectl import kubectl, write_kubeconfig

from adapter.k8s.resources import GroupResource
from adapter.providers.base import CustomMetricInfo, ExternalMetricInfo
from adapter.server.app import create_app
from adapter.server.running import running
from adapter.settings import ServingSettings

KINDS = {
    ("custom.metrics.k8s.io", "v1beta1", "MetricValueList"),
    ("custom.metrics.k8s.io", "v1beta2", "MetricValueList"),
    ("external.metrics.k8s.io", "v1beta1", "ExternalMetricValueList"),
    ("metrics.k8s.io", "v1beta1", "NodeMetrics"),
    ("metrics.k8s.io", "v1beta1", "NodeMetricsList"),
    ("metrics.k8s.io", "v1beta1", "PodMetrics"),
    ("metrics.k8s.io", "v1beta1", "PodMetricsList"),
}


class Custom:
    def list_metrics(self) -> list[CustomMetricInfo]:
        return [CustomMetricInfo(GroupResource("", "pods"), "http_requests", True)]

    async def get_metrics(self, request: Any) -> list[Any]:
        return []


class External:
    def list_metrics(self) -> list[ExternalMetricInfo]:
        return [ExternalMetricInfo("queue_depth")]

    async def get_metrics(self, request: Any) -> list[Any]:
        return []


def make_app(*, resource: bool = True) -> web.Application:
    # metrics.k8s.io's documents are static: its provider is never called here.
    return create_app(
        custom=Custom(),
        external=External(),
        resource=cast(Any, object()) if resource else None,
        readiness=lambda: True,
    )


@pytest.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(make_app())) as test_client:
        yield test_client


async def _json(client: TestClient[Any, Any], path: str) -> tuple[int, Any]:
    async with client.get(path) as response:
        return response.status, orjson.loads(await response.read())


def _gvks(schemas: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (gvk["group"], gvk["version"], gvk["kind"])
        for schema in schemas.values()
        for gvk in schema.get("x-kubernetes-group-version-kind", [])
    }


async def _check_paths(app: web.Application, paths: dict[str, Any]) -> None:
    for path, item in paths.items():
        operation = item["get"]
        names = re.findall(r"{(\w+)}", path)
        in_path = [p["name"] for p in operation["parameters"] if p["in"] == "path"]
        assert in_path == names, path
        assert all(p["required"] for p in operation["parameters"] if p["in"] == "path")
        gvk = operation["x-kubernetes-group-version-kind"]
        assert path.startswith(f"/apis/{gvk['group']}/{gvk['version']}/")
        assert operation["x-kubernetes-action"] in ("get", "list")
        # The documented path is one the server routes (filled with sample values).
        filled = re.sub(r"{(\w+)}", lambda m: "pods" if m[1] == "resource" else "x", path)
        match = await app.router.resolve(make_mocked_request("GET", filled))
        assert match.http_exception is None, filled


async def test_openapi_v2_describes_the_served_types(client: TestClient[Any, Any]) -> None:
    code, document = await _json(client, "/openapi/v2")
    assert code == 200
    validate(document)  # Swagger 2.0
    assert _gvks(document["definitions"]) == KINDS
    await _check_paths(client.app, document["paths"])
    groups = {p.split("/")[2] for p in document["paths"]}
    assert groups == {"custom.metrics.k8s.io", "external.metrics.k8s.io", "metrics.k8s.io"}
    ok = document["paths"]["/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods"]["get"]
    assert ok["responses"]["200"]["schema"] == {
        "$ref": "#/definitions/io.k8s.metrics.pkg.apis.metrics.v1beta1.PodMetricsList"
    }
    v1beta2 = document["definitions"]["io.k8s.metrics.pkg.apis.custom_metrics.v1beta2.MetricValue"]
    assert set(v1beta2["required"]) == {"describedObject", "metric", "timestamp", "value"}


async def test_openapi_v3_index_and_documents(client: TestClient[Any, Any]) -> None:
    code, index = await _json(client, "/openapi/v3")
    assert code == 200
    assert sorted(index["paths"]) == [
        "apis/custom.metrics.k8s.io/v1beta1",
        "apis/custom.metrics.k8s.io/v1beta2",
        "apis/external.metrics.k8s.io/v1beta1",
        "apis/metrics.k8s.io/v1beta1",
    ]
    found: set[tuple[str, str, str]] = set()
    for key, entry in index["paths"].items():
        url = entry["serverRelativeURL"]
        assert re.fullmatch(rf"/{key}\?hash=[0-9A-F]{{128}}", url.removeprefix("/openapi/v3")), url
        code, document = await _json(client, url)
        assert code == 200
        validate(document)  # OpenAPI 3.0
        assert document["openapi"].startswith("3.0")
        await _check_paths(client.app, document["paths"])
        assert all(p.startswith(f"/{key}/") for p in document["paths"])
        found |= _gvks(document["components"]["schemas"])
    assert found == KINDS
    assert (await _json(client, "/openapi/v3/apis/metrics.k8s.io/v1"))[0] == 404


async def test_groups_not_served_are_not_documented() -> None:
    async with TestClient(TestServer(make_app(resource=False))) as client:
        _, index = await _json(client, "/openapi/v3")
        assert "apis/metrics.k8s.io/v1beta1" not in index["paths"]
        assert (await _json(client, "/openapi/v3/apis/metrics.k8s.io/v1beta1"))[0] == 404
        _, v2 = await _json(client, "/openapi/v2")
        assert not [n for n in v2["definitions"] if ".metrics.v1beta1." in n]


async def test_kubectl_explain_reads_the_schemas(tmp_path: Path) -> None:
    # kubectl explain maps the resource through discovery to its kind, then reads that
    # kind's schema from /openapi/v3/apis/metrics.k8s.io/v1beta1 by its GVK extension.
    settings = ServingSettings(secure_port=0, bind_address="127.0.0.1", cert_dir=str(tmp_path))
    async with running(make_app(), settings) as url:
        config = write_kubeconfig(tmp_path / "kube", url)
        pods = await kubectl(config, "explain", "pods.metrics.k8s.io")
        containers = await kubectl(
            config, "explain", "pods.metrics.k8s.io.containers", "--recursive"
        )
    assert pods.returncode == 0, pods.stderr
    assert "KIND:       PodMetrics" in pods.stdout
    assert "VERSION:    v1beta1" in pods.stdout
    fields = re.findall(r"^  (\w+)\t", pods.stdout, re.MULTILINE)
    assert fields == ["apiVersion", "containers", "kind", "metadata", "timestamp", "window"]
    assert containers.returncode == 0, containers.stderr
    assert re.findall(r"^  (\w+)\t", containers.stdout, re.MULTILINE) == ["name", "usage"]
