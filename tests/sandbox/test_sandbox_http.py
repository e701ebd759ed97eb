"""The API server stand-in on the wire: paths, JSON shapes, Status errors, watch, paging.

Each test pins a behaviour of the real kube-apiserver that a client of this project
relies on, as documented in the Kubernetes API concepts page ("Efficient detection of
changes", "Retrieving large results sets in chunks", "Receiving resources as Tables /
metadata only", "Resource versions") and implemented in k8s.io/apiserver
(pkg/endpoints/handlers/{get,create,update,patch,delete,watch}.go,
pkg/storage/etcd3/store.go for continue tokens, pkg/storage/cacher for watch).
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
import pytest
from aiohttp import web
from support.apiserver import deployment, node, pod

from adapter.sandbox.access import PolicyRule, RuleAuthorizer
from adapter.sandbox.apiserver import RunningApiServer, run_apiserver
from adapter.sandbox.certs import CertificateAuthority
from adapter.sandbox.store import APIServiceBackend, ClusterState, ScaleSubresource

METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"


class Client:
    def __init__(self, server: RunningApiServer, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.session = session

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, Any]:
        send = {"Authorization": f"Bearer {token or self.server.admin_token}"}
        if body is not None:
            send["Content-Type"] = "application/json"
        send.update(headers or {})
        data = raw if raw is not None else (orjson.dumps(body) if body is not None else None)
        async with self.session.request(
            method, self.server.url + path, data=data, headers=send
        ) as resp:
            payload = await resp.read()
            return resp.status, orjson.loads(payload) if payload else None


@pytest.fixture
async def client(apiserver: RunningApiServer) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(apiserver, session)


def _names(body: dict[str, Any]) -> list[str]:
    return [item["metadata"]["name"] for item in body["items"]]


# -- discovery -------------------------------------------------------------------------


async def test_discovery_documents(client: Client, cluster_state: ClusterState) -> None:
    code, api = await client.call("GET", "/api")
    assert code == 200
    assert api["kind"] == "APIVersions" and api["versions"] == ["v1"]
    code, core = await client.call("GET", "/api/v1")
    assert core["kind"] == "APIResourceList" and core["groupVersion"] == "v1"
    assert "apiVersion" not in core  # /api/v1 is written without it, /apis/... with it
    by_name = {entry["name"]: entry for entry in core["resources"]}
    assert by_name["pods"] == {
        "name": "pods",
        "singularName": "pod",
        "namespaced": True,
        "kind": "Pod",
        "verbs": [
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ],
        "shortNames": ["po"],
        "categories": ["all"],
    }
    assert by_name["pods/status"]["verbs"] == ["get", "patch", "update"]
    code, groups = await client.call("GET", "/apis")
    assert groups["kind"] == "APIGroupList"
    autoscaling = next(g for g in groups["groups"] if g["name"] == "autoscaling")
    assert autoscaling["preferredVersion"] == {"groupVersion": "autoscaling/v2", "version": "v2"}
    assert [v["version"] for v in autoscaling["versions"]] == ["v2", "v1"]
    code, apps = await client.call("GET", "/apis/apps/v1")
    scale = next(r for r in apps["resources"] if r["name"] == "deployments/scale")
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    code, group = await client.call("GET", "/apis/apps")
    assert group["kind"] == "APIGroup" and group["name"] == "apps"
    code, version = await client.call("GET", "/version")
    assert (version["major"], version["minor"]) == ("1", "36")


async def test_unknown_paths_are_status_404(client: Client) -> None:
    """The real server's not-found handler answers every unknown path with a Status."""
    expected = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the server could not find the requested resource",
        "reason": "NotFound",
        "details": {},
        "code": 404,
    }
    for path in (
        "/apis/nope/v1/things",
        "/api/v2",
        "/api/v1/widgets",
        "/apis/apps/v1/pods",
        "/foo",
    ):
        code, body = await client.call("GET", path)
        assert (code, body) == (404, expected), path
    # a namespaced resource has no cluster-wide item path
    code, _ = await client.call("GET", "/api/v1/pods/x")
    assert code == 404


# -- get / list / metadata-only -----------------------------------------------------------


async def test_get_and_not_found(client: Client, cluster_state: ClusterState) -> None:
    cluster_state.create(pod("web-1", labels={"app": "web"}))
    code, body = await client.call("GET", "/api/v1/namespaces/shop/pods/web-1")
    assert code == 200
    assert (body["kind"], body["apiVersion"]) == ("Pod", "v1")
    assert list(body)[:3] == ["kind", "apiVersion", "metadata"]
    assert body["metadata"]["uid"] and body["metadata"]["creationTimestamp"].endswith("Z")
    code, body = await client.call("GET", "/api/v1/namespaces/shop/pods/nope")
    assert code == 404
    assert body["message"] == 'pods "nope" not found'
    assert body["details"] == {"name": "nope", "kind": "pods"}
    code, body = await client.call("GET", "/apis/apps/v1/namespaces/shop/deployments/nope")
    assert body["message"] == 'deployments.apps "nope" not found'
    assert body["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}


async def test_list_by_label_selector_in_key_order(
    client: Client, cluster_state: ClusterState
) -> None:
    for name, app in (("web-b", "web"), ("db-0", "db"), ("web-a", "web"), ("web-c", "web")):
        cluster_state.create(pod(name, labels={"app": app}))
    cluster_state.create(pod("web-z", "other", labels={"app": "web"}))
    code, body = await client.call("GET", "/api/v1/namespaces/shop/pods?labelSelector=app%3Dweb")
    assert code == 200
    assert (body["kind"], body["apiVersion"]) == ("PodList", "v1")
    assert body["metadata"] == {"resourceVersion": str(cluster_state.resource_version)}
    assert _names(body) == ["web-a", "web-b", "web-c"]
    # built-in list items carry no kind/apiVersion
    assert "kind" not in body["items"][0]
    code, body = await client.call("GET", "/api/v1/pods?labelSelector=app+in+(web)")
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in body["items"]] == [
        ("other", "web-z"),
        ("shop", "web-a"),
        ("shop", "web-b"),
        ("shop", "web-c"),
    ]


async def test_metadata_only_list(client: Client, cluster_state: ClusterState) -> None:
    """Accept: ...;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1 (client-go metadata client)."""
    cluster_state.create(pod("web-1", labels={"app": "web"}))
    code, body = await client.call(
        "GET",
        "/api/v1/namespaces/shop/pods?labelSelector=app%3Dweb",
        headers={"Accept": METADATA_LIST},
    )
    assert code == 200
    assert body["kind"] == "PartialObjectMetadataList"
    assert body["apiVersion"] == "meta.k8s.io/v1"
    assert body["metadata"] == {"resourceVersion": str(cluster_state.resource_version)}
    [item] = body["items"]
    assert set(item) == {"kind", "apiVersion", "metadata"}
    assert (item["kind"], item["apiVersion"]) == ("PartialObjectMetadata", "meta.k8s.io/v1")
    assert item["metadata"]["labels"] == {"app": "web"}
    # single objects as PartialObjectMetadata; the list form on an object is refused
    code, body = await client.call(
        "GET",
        "/api/v1/namespaces/shop/pods/web-1",
        headers={"Accept": "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"},
    )
    assert (code, body["kind"]) == (200, "PartialObjectMetadata")
    code, body = await client.call(
        "GET", "/api/v1/namespaces/shop/pods/web-1", headers={"Accept": METADATA_LIST.split(",")[0]}
    )
    assert (code, body["reason"]) == (406, "NotAcceptable")


async def test_unacceptable_media_types(client: Client, cluster_state: ClusterState) -> None:
    code, body = await client.call(
        "GET",
        "/api/v1/namespaces/shop/pods",
        headers={"Accept": "application/vnd.kubernetes.protobuf"},
    )
    assert (code, body["reason"]) == (406, "NotAcceptable")
    assert body["message"].startswith("only the following media types are accepted:")
    # kubectl's Table request: served as a Table (tests/sandbox/test_sandbox_printing.py)
    code, body = await client.call(
        "GET",
        "/api/v1/namespaces/shop/pods",
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"},
    )
    assert (code, body["kind"]) == (200, "Table")
    code, body = await client.call(
        "POST",
        "/api/v1/namespaces/shop/configmaps",
        raw=b"\x6b\x38\x73\x00",
        headers={"Content-Type": "application/vnd.kubernetes.protobuf"},
    )
    assert (code, body["reason"]) == (415, "UnsupportedMediaType")


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        # messages of apimachinery labels.Parse, wrapped in a 400 by the list handler
        ("app in", "unable to parse requirement: found '' expected: '('"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a,", "found '', expected: identifier after ','"),
    ],
)
async def test_bad_label_selector_is_400(client: Client, selector: str, message: str) -> None:
    code, body = await client.call(
        "GET",
        "/api/v1/namespaces/shop/pods?" + urlencode({"labelSelector": selector}),
    )
    assert (code, body["reason"], body["message"]) == (400, "BadRequest", message)


async def test_field_selectors(client: Client, cluster_state: ClusterState) -> None:
    cluster_state.create(pod("a", phase="Running"))
    cluster_state.create(pod("b", phase="Pending"))
    _, body = await client.call(
        "GET", "/api/v1/namespaces/shop/pods?fieldSelector=metadata.name%3Db"
    )
    assert _names(body) == ["b"]
    _, body = await client.call("GET", "/api/v1/pods?fieldSelector=status.phase!%3DPending")
    assert _names(body) == ["a"]
    code, body = await client.call("GET", "/api/v1/pods?fieldSelector=spec.bogus%3Dx")
    assert (code, body["message"]) == (400, "field label not supported: spec.bogus")
    code, body = await client.call("GET", "/api/v1/pods?fieldSelector=bogus")
    assert (code, body["message"]) == (400, "invalid selector: 'bogus'; can't understand 'bogus'")


# -- paging ----------------------------------------------------------------------------


async def test_limit_and_continue_page_a_consistent_snapshot(
    client: Client, cluster_state: ClusterState
) -> None:
    for index in range(5):
        cluster_state.create(pod(f"p{index}", labels={"app": "web"}))
    _, first = await client.call("GET", "/api/v1/namespaces/shop/pods?limit=2")
    assert _names(first) == ["p0", "p1"]
    token = first["metadata"]["continue"]
    assert first["metadata"]["remainingItemCount"] == 3
    decoded = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    assert decoded == {
        "v": "meta.k8s.io/v1",
        "rv": int(first["metadata"]["resourceVersion"]),
        "start": "shop/p1\x00",
    }
    # changes after the first page do not show in the following pages
    cluster_state.create(pod("p10", labels={"app": "web"}))
    cluster_state.delete("pods", "p3", "shop")
    _, second = await client.call("GET", f"/api/v1/namespaces/shop/pods?limit=2&continue={token}")
    assert _names(second) == ["p2", "p3"]
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    _, third = await client.call(
        "GET", f"/api/v1/namespaces/shop/pods?limit=2&continue={second['metadata']['continue']}"
    )
    assert _names(third) == ["p4"]
    assert "continue" not in third["metadata"]
    code, body = await client.call(
        "GET", f"/api/v1/namespaces/shop/pods?limit=2&continue={token}&resourceVersion=5"
    )
    assert (code, body["message"]) == (
        400,
        "specifying resource version is not allowed when using continue",
    )


async def test_selector_pages_have_no_remaining_count(
    client: Client, cluster_state: ClusterState
) -> None:
    for index in range(4):
        cluster_state.create(pod(f"p{index}", labels={"app": "web" if index % 2 == 0 else "db"}))
    _, page = await client.call(
        "GET", "/api/v1/namespaces/shop/pods?limit=1&labelSelector=app%3Dweb"
    )
    assert _names(page) == ["p0"]
    assert "remainingItemCount" not in page["metadata"]
    names = _names(page)
    while page["metadata"].get("continue"):
        _, page = await client.call(
            "GET",
            f"/api/v1/namespaces/shop/pods?limit=1&labelSelector=app%3Dweb&continue={page['metadata']['continue']}",
        )
        names += _names(page)
    assert names == ["p0", "p2"]


async def test_bad_and_expired_continue_tokens(client: Client, cluster_state: ClusterState) -> None:
    code, body = await client.call("GET", "/api/v1/namespaces/shop/pods?limit=1&continue=%21%21")
    assert (code, body["reason"]) == (400, "BadRequest")
    assert body["message"].startswith("invalid continue token:")
    stale = (
        base64.urlsafe_b64encode(b'{"v":"meta.k8s.io/v1","rv":1,"start":"shop/a\\u0000"}')
        .decode()
        .rstrip("=")
    )
    code, body = await client.call("GET", f"/api/v1/namespaces/shop/pods?limit=1&continue={stale}")
    assert (code, body["reason"]) == (410, "Expired")
    assert body["message"].startswith("The provided continue parameter is too old")


async def test_too_large_resource_version(client: Client, cluster_state: ClusterState) -> None:
    ahead = cluster_state.resource_version + 100
    code, body = await client.call("GET", f"/api/v1/namespaces/shop/pods?resourceVersion={ahead}")
    assert (code, body["reason"]) == (504, "Timeout")
    assert body["details"]["causes"] == [
        {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
    ]


# -- writes ----------------------------------------------------------------------------


async def test_create_update_conflict_and_status_split(
    client: Client, cluster_state: ClusterState
) -> None:
    cluster_state.ensure_namespace("shop")
    dep = deployment("web", replicas=2)
    code, created = await client.call("POST", "/apis/apps/v1/namespaces/shop/deployments", dep)
    assert code == 201
    assert created["metadata"]["generation"] == 1
    assert created["status"] == {}  # status is the controller's, not the creator's
    code, body = await client.call("POST", "/apis/apps/v1/namespaces/shop/deployments", dep)
    assert (code, body["reason"], body["message"]) == (
        409,
        "AlreadyExists",
        'deployments.apps "web" already exists',
    )
    stale = dict(created, spec={**created["spec"], "replicas": 3}, status={"replicas": 99})
    code, updated = await client.call("PUT", "/apis/apps/v1/namespaces/shop/deployments/web", stale)
    assert code == 200
    assert updated["spec"]["replicas"] == 3
    assert updated["status"] == {}  # the main resource ignores .status
    assert updated["metadata"]["generation"] == 2
    code, body = await client.call("PUT", "/apis/apps/v1/namespaces/shop/deployments/web", stale)
    assert code == 409
    assert body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    status_update = dict(updated, spec={**updated["spec"], "replicas": 7}, status={"replicas": 3})
    code, after = await client.call(
        "PUT", "/apis/apps/v1/namespaces/shop/deployments/web/status", status_update
    )
    assert code == 200
    assert after["status"] == {"replicas": 3}
    assert after["spec"]["replicas"] == 3  # the status subresource ignores the spec
    assert after["metadata"]["generation"] == 2


async def test_create_errors(client: Client, cluster_state: ClusterState) -> None:
    code, body = await client.call(
        "POST", "/api/v1/namespaces/ghost/configmaps", {"metadata": {"name": "x"}}
    )
    assert (code, body["message"]) == (404, 'namespaces "ghost" not found')
    cluster_state.ensure_namespace("shop")
    code, body = await client.call(
        "POST", "/api/v1/namespaces/shop/configmaps", {"metadata": {"name": "Bad_Name"}}
    )
    assert (code, body["reason"]) == (422, "Invalid")
    assert body["message"].startswith(
        'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain'
    )
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    code, body = await client.call("POST", "/api/v1/namespaces/shop/configmaps", {"metadata": {}})
    assert (
        body["message"]
        == 'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required'
    )
    code, body = await client.call(
        "POST",
        "/api/v1/namespaces/shop/configmaps",
        {"metadata": {"name": "ok", "labels": {"k": "bad value"}}},
    )
    assert code == 422
    assert 'metadata.labels: Invalid value: "bad value": a valid label must be' in body["message"]
    code, body = await client.call(
        "POST",
        "/api/v1/namespaces/shop/configmaps",
        {"metadata": {"name": "ok", "namespace": "other"}},
    )
    assert (code, body["reason"]) == (400, "BadRequest")
    code, made = await client.call(
        "POST", "/api/v1/namespaces/shop/configmaps", {"metadata": {"generateName": "cfg-"}}
    )
    assert (
        code == 201
        and made["metadata"]["name"].startswith("cfg-")
        and len(made["metadata"]["name"]) == 9
    )


async def test_methods_a_route_lacks_are_405(client: Client, cluster_state: ClusterState) -> None:
    cluster_state.create(pod("a"))
    code, body = await client.call("POST", "/api/v1/namespaces/shop/pods/a", {})
    assert (code, body["reason"]) == (405, "MethodNotAllowed")
    code, body = await client.call("POST", "/api/v1/componentstatuses", {})
    assert code == 405
    code, body = await client.call("POST", "/api/v1/namespaces/shop/pods/a/status", {})
    assert code == 405


async def test_patch_types(client: Client, cluster_state: ClusterState) -> None:
    cluster_state.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "shop"},
            "data": {"a": "1", "b": "2"},
        }
    )
    path = "/api/v1/namespaces/shop/configmaps/c"
    code, body = await client.call(
        "PATCH",
        path,
        raw=b'{"data":{"a":null,"c":"3"}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert (code, body["data"]) == (200, {"b": "2", "c": "3"})
    code, body = await client.call(
        "PATCH",
        path,
        raw=b'{"metadata":{"labels":{"x":"y"}},"$setElementOrder/data":[]}',
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )
    assert body["metadata"]["labels"] == {"x": "y"}
    assert "$setElementOrder/data" not in body
    code, body = await client.call(
        "PATCH",
        path,
        raw=b'[{"op":"replace","path":"/data/b","value":"20"},{"op":"add","path":"/data/d","value":"4"}]',
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert body["data"] == {"b": "20", "c": "3", "d": "4"}
    code, body = await client.call(
        "PATCH",
        path,
        raw=b'[{"op":"test","path":"/data/b","value":"nope"}]',
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert code == 422
    code, body = await client.call(
        "PATCH", path, raw=b"{}", headers={"Content-Type": "application/apply-patch+yaml"}
    )
    # server-side apply needs a field manager (apiserver's patch handler validation)
    assert (code, body["reason"]) == (422, "Invalid")
    assert body["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required '
        "for apply patch"
    )
    code, body = await client.call(
        "PATCH",
        path,
        raw=b'{"metadata":{"resourceVersion":"1"},"data":{"z":"0"}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert (code, body["reason"]) == (409, "Conflict")


async def test_delete_and_deletecollection(client: Client, cluster_state: ClusterState) -> None:
    for name, app in (("a", "web"), ("b", "web"), ("c", "db")):
        cluster_state.create(pod(name, labels={"app": app}))
    # grace 0: a forced delete, gone at once (a plain delete of a scheduled pod is
    # graceful; tests/sandbox/test_sandbox_controllers.py covers that)
    code, body = await client.call(
        "DELETE",
        "/api/v1/namespaces/shop/pods/c",
        {"kind": "DeleteOptions", "gracePeriodSeconds": 0},
    )
    assert (code, body["metadata"]["name"]) == (200, "c")
    code, body = await client.call("DELETE", "/api/v1/namespaces/shop/pods/c")
    assert code == 404
    code, body = await client.call("DELETE", "/api/v1/namespaces/shop/pods?labelSelector=app%3Dweb")
    assert (code, body["kind"], _names(body)) == (200, "PodList", ["a", "b"])
    assert cluster_state.list("pods", "shop") == []
    cluster_state.create(pod("d"))
    code, body = await client.call(
        "DELETE",
        "/api/v1/namespaces/shop/pods/d",
        {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"resourceVersion": "1"}},
    )
    assert (code, body["reason"]) == (409, "Conflict")


async def test_deleting_a_namespace_deletes_its_objects(
    client: Client, cluster_state: ClusterState
) -> None:
    cluster_state.create(pod("a", "gone"))
    cluster_state.create(pod("b", "kept"))
    code, _ = await client.call("DELETE", "/api/v1/namespaces/gone")
    assert code == 200
    assert [p["metadata"]["name"] for p in cluster_state.list("pods")] == ["b"]


# -- /scale ----------------------------------------------------------------------------


async def test_deployment_scale_subresource(client: Client, cluster_state: ClusterState) -> None:
    """autoscaling/v1 Scale, the selector as a string: what the HPA controller reads."""
    made = cluster_state.create(
        deployment("web", replicas=2, match_labels={"app": "web", "tier": "fe"})
    )
    path = "/apis/apps/v1/namespaces/shop/deployments/web/scale"
    code, scale = await client.call("GET", path)
    assert code == 200
    assert scale == {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "uid": made["metadata"]["uid"],
            "resourceVersion": made["metadata"]["resourceVersion"],
            "creationTimestamp": made["metadata"]["creationTimestamp"],
        },
        "spec": {"replicas": 2},
        "status": {"replicas": 2, "selector": "app=web,tier=fe"},
    }
    code, scaled = await client.call("PUT", path, dict(scale, spec={"replicas": 5}))
    assert (code, scaled["spec"]["replicas"]) == (200, 5)
    stored = cluster_state.get("deployments.apps", "web", "shop")
    assert stored is not None and stored["spec"]["replicas"] == 5
    code, body = await client.call("PUT", path, dict(scale, spec={"replicas": 6}))
    assert (code, body["reason"]) == (409, "Conflict")  # the old resourceVersion
    code, body = await client.call(
        "PUT",
        path,
        {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {"name": "web"},
            "spec": {"replicas": -1},
        },
    )
    assert (code, body["message"]) == (
        422,
        'Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0',
    )
    code, body = await client.call(
        "PATCH",
        path,
        raw=b'{"spec":{"replicas":1}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert (code, body["spec"]["replicas"]) == (200, 1)
    code, body = await client.call("GET", "/api/v1/namespaces/shop/pods/x/scale")
    assert code == 404


async def test_custom_resource_scale_and_unstructured_lists(
    client: Client, cluster_state: ClusterState
) -> None:
    cluster_state.register_custom_resource(
        "example.com",
        "Widget",
        "widgets",
        scale=ScaleSubresource(label_selector_path=".status.selector"),
    )
    cluster_state.create(
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w", "namespace": "shop"},
            "spec": {"replicas": 3},
            "status": {"replicas": 2, "selector": "app=w"},
        }
    )
    code, scale = await client.call("GET", "/apis/example.com/v1/namespaces/shop/widgets/w/scale")
    assert (scale["spec"], scale["status"]) == (
        {"replicas": 3},
        {"replicas": 2, "selector": "app=w"},
    )
    code, body = await client.call("GET", "/apis/example.com/v1/namespaces/shop/widgets")
    # unstructured lists: Go writes sorted map keys, continue always, items with kind
    assert list(body) == ["apiVersion", "items", "kind", "metadata"]
    assert body["kind"] == "WidgetList"
    assert body["metadata"] == {
        "continue": "",
        "resourceVersion": str(cluster_state.resource_version),
    }
    assert body["items"][0]["kind"] == "Widget"
    code, body = await client.call(
        "GET", "/apis/example.com/v1/namespaces/shop/widgets?fieldSelector=spec.x%3D1"
    )
    assert (
        body["message"]
        == '"spec.x" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )
    code, body = await client.call(
        "PATCH",
        "/apis/example.com/v1/namespaces/shop/widgets/w",
        raw=b"{}",
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )
    assert code == 415  # no strategic merge patch for custom resources


# -- watch -----------------------------------------------------------------------------


async def _events(response: aiohttp.ClientResponse, count: int) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    while len(out) < count:
        line = await response.content.readline()
        assert line, "watch ended early"
        event = orjson.loads(line)
        out.append((event["type"], event["object"]))
    return out


async def test_watch_streams_changes(
    apiserver: RunningApiServer, cluster_state: ClusterState
) -> None:
    cluster_state.create(pod("a", labels={"app": "web"}))
    cluster_state.create(pod("b", labels={"app": "db"}))
    headers = {"Authorization": f"Bearer {apiserver.admin_token}"}
    url = f"{apiserver.url}/api/v1/namespaces/shop/pods?watch=true&labelSelector=app%3Dweb"
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/json")
        [(kind, obj)] = await _events(response, 1)
        assert (kind, obj["metadata"]["name"], obj["kind"]) == ("ADDED", "a", "Pod")
        cluster_state.patch("pods", "a", {"metadata": {"annotations": {"x": "1"}}}, "shop")
        cluster_state.patch("pods", "b", {"metadata": {"labels": {"app": "web"}}}, "shop")
        cluster_state.patch("pods", "a", {"metadata": {"labels": {"app": "db"}}}, "shop")
        cluster_state.delete("pods", "b", "shop")
        events = await _events(response, 4)
    assert [(kind, obj["metadata"]["name"]) for kind, obj in events] == [
        ("MODIFIED", "a"),
        ("ADDED", "b"),  # moved into the selector
        ("DELETED", "a"),  # moved out of it
        ("DELETED", "b"),
    ]
    # each event carries the resourceVersion of its write
    versions = [int(obj["metadata"]["resourceVersion"]) for _, obj in events]
    assert versions == sorted(versions)


async def test_watch_resumes_from_resource_version_and_expires() -> None:
    state = ClusterState(history=3)
    async with run_apiserver(state) as server, aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {server.admin_token}"}
        state.create(pod("a"))
        since = state.resource_version
        state.patch("pods", "a", {"metadata": {"labels": {"v": "1"}}}, "shop")
        state.create(pod("b"))
        url = f"{server.url}/api/v1/namespaces/shop/pods?watch=1&resourceVersion={since}"
        async with session.get(url, headers=headers) as response:
            events = await _events(response, 2)
            assert [(k, o["metadata"]["name"]) for k, o in events] == [
                ("MODIFIED", "a"),
                ("ADDED", "b"),
            ]
        for index in range(5):
            state.patch("pods", "a", {"metadata": {"labels": {"v": str(index)}}}, "shop")
        async with session.get(url, headers=headers) as response:
            assert response.status == 200  # the watch cache answers with an ERROR event
            [(kind, obj)] = await _events(response, 1)
            assert kind == "ERROR"
            assert (obj["kind"], obj["code"], obj["reason"]) == ("Status", 410, "Expired")
            assert obj["message"].startswith(f"too old resource version: {since} (")


async def test_metadata_watch_and_initial_events_bookmark(
    apiserver: RunningApiServer, cluster_state: ClusterState
) -> None:
    cluster_state.create(pod("a"))
    headers = {
        "Authorization": f"Bearer {apiserver.admin_token}",
        "Accept": "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
    }
    url = (
        f"{apiserver.url}/api/v1/namespaces/shop/pods?watch=true&sendInitialEvents=true"
        "&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&resourceVersion="
    )
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        events = await _events(response, 2)
    assert events[0][0] == "ADDED"
    assert events[0][1]["kind"] == "PartialObjectMetadata"
    assert events[1][0] == "BOOKMARK"
    assert events[1][1]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


# -- authentication, authorization, reviews ---------------------------------------------


async def test_authentication_and_forbidden_wording(
    client: Client, cluster_state: ClusterState
) -> None:
    cluster_state.authenticator.add_token("viewer-token", "viewer")
    authorizer = RuleAuthorizer()
    authorizer.allow(
        PolicyRule(verbs=("get",), resources=("pods",), users=("viewer",), namespaces=("shop",))
    )
    cluster_state.authorizer = authorizer
    code, body = await client.call("GET", "/api/v1/namespaces/shop/pods", token="viewer-token")
    assert (code, body["reason"]) == (403, "Forbidden")
    assert body["message"] == (
        'pods is forbidden: User "viewer" cannot list resource "pods" in API group "" in the namespace "shop"'
    )
    assert body["details"] == {"kind": "pods"}
    code, body = await client.call("GET", "/api/v1/nodes", token="viewer-token")
    assert (
        body["message"]
        == 'nodes is forbidden: User "viewer" cannot list resource "nodes" in API group "" at the cluster scope'
    )
    code, body = await client.call(
        "GET", "/apis/apps/v1/namespaces/shop/deployments/web/scale", token="viewer-token"
    )
    assert body["message"] == (
        'deployments.apps "web" is forbidden: User "viewer" cannot get resource "deployments/scale" '
        'in API group "apps" in the namespace "shop"'
    )
    cluster_state.create(pod("a"))
    code, _ = await client.call("GET", "/api/v1/namespaces/shop/pods/a", token="viewer-token")
    assert code == 200
    code, body = await client.call("GET", "/api/v1/namespaces/shop/pods", token="wrong")
    assert (code, body["reason"]) == (401, "Unauthorized")
    code, _ = await client.call("GET", "/api", token="viewer-token")  # discovery is public
    assert code == 200


async def test_token_and_access_reviews(client: Client, cluster_state: ClusterState) -> None:
    cluster_state.authenticator.add_token(
        "t-1", "system:serviceaccount:monitoring:adapter", ["system:serviceaccounts"]
    )
    authorizer = RuleAuthorizer()
    authorizer.allow(
        PolicyRule(verbs=("list",), resources=("pods",), groups=("system:serviceaccounts",))
    )
    cluster_state.authorizer = authorizer
    code, review = await client.call(
        "POST",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1", "spec": {"token": "t-1"}},
    )
    assert code == 201
    assert review["status"]["authenticated"] is True
    assert review["status"]["user"]["username"] == "system:serviceaccount:monitoring:adapter"
    _, review = await client.call(
        "POST", "/apis/authentication.k8s.io/v1/tokenreviews", {"spec": {"token": "nope"}}
    )
    assert "authenticated" not in review["status"]
    sar: dict[str, Any] = {
        "spec": {
            "user": "system:serviceaccount:monitoring:adapter",
            "groups": ["system:serviceaccounts"],
            "resourceAttributes": {"verb": "list", "resource": "pods", "namespace": "shop"},
        }
    }
    _, answer = await client.call("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar)
    assert answer["status"] == {"allowed": True}
    sar["spec"]["resourceAttributes"]["verb"] = "delete"
    _, answer = await client.call("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar)
    assert answer["status"] == {"allowed": False}


# -- aggregation -----------------------------------------------------------------------


async def test_api_service_is_proxied_with_front_proxy_headers(
    client: Client, cluster_state: ClusterState
) -> None:
    """kube-aggregator forwards /apis/<group>/<version>/... to the APIService's backend
    with the caller in X-Remote-User / X-Remote-Group."""
    seen: list[tuple[str, str, list[str]]] = []

    async def backend_handler(request: web.Request) -> web.Response:
        seen.append(
            (
                request.path_qs,
                request.headers.get("X-Remote-User", ""),
                request.headers.getall("X-Remote-Group", []),
            )
        )
        return web.json_response(
            {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": "custom.metrics.k8s.io/v1beta2",
                "resources": [],
            }
        )

    backend_app = web.Application()
    backend_app.router.add_get("/{tail:.*}", backend_handler)
    runner = web.AppRunner(backend_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        cluster_state.register_api_service(
            APIServiceBackend("custom.metrics.k8s.io", "v1beta2", f"http://127.0.0.1:{port}")
        )
        _, groups = await client.call("GET", "/apis")
        assert groups["groups"][-1]["name"] == "custom.metrics.k8s.io"
        code, body = await client.call(
            "GET",
            "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/pods/*/rps?labelSelector=app%3Dweb",
        )
        assert code == 200 and body["groupVersion"] == "custom.metrics.k8s.io/v1beta2"
        assert seen == [
            (
                "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/pods/*/rps?labelSelector=app%3Dweb",
                "sandbox-admin",
                ["system:masters", "system:authenticated"],
            )
        ]
    finally:
        await runner.cleanup()
    code, body = await client.call("GET", "/apis/custom.metrics.k8s.io/v1beta2")
    assert (code, body["reason"]) == (503, "ServiceUnavailable")
    assert body["message"].startswith("error trying to reach service:")


async def test_nodes_are_cluster_scoped(client: Client, cluster_state: ClusterState) -> None:
    cluster_state.create(node("n1"))
    code, body = await client.call("GET", "/api/v1/nodes")
    assert _names(body) == ["n1"]
    assert "namespace" not in body["items"][0]["metadata"]
    code, _ = await client.call("GET", "/api/v1/namespaces/shop/nodes")
    assert code == 404


async def test_server_stops_with_watch_open(cluster_state: ClusterState) -> None:
    """A watch in progress does not hold up shutdown (the runner wakes it)."""
    async with run_apiserver(cluster_state) as server:
        session = aiohttp.ClientSession()
        response = await session.get(
            f"{server.url}/api/v1/pods?watch=true",
            headers={"Authorization": f"Bearer {server.admin_token}"},
        )
        assert response.status == 200
    rest = await asyncio.wait_for(response.content.read(), timeout=30)
    assert rest == b""
    response.release()
    await session.close()


async def test_aggregation_over_tls_presents_the_front_proxy_certificate(
    cluster_state: ClusterState,
) -> None:
    """With TLS the stand-in publishes kube-system/extension-apiserver-authentication
    (the requestheader client CA aggregated servers trust) and proxies with a client
    certificate issued by that CA for `front-proxy-client`, as kube-aggregator does."""
    async with run_apiserver(cluster_state, tls=True) as server:
        config_map = cluster_state.get(
            "configmaps", "extension-apiserver-authentication", "kube-system"
        )
        assert config_map is not None
        data = config_map["data"]
        assert data["requestheader-allowed-names"] == '["front-proxy-client"]'
        assert data["requestheader-username-headers"] == '["X-Remote-User"]'
        authority = CertificateAuthority("backend-ca")
        serving = authority.issue_server(["127.0.0.1"])
        context = serving.server_context(
            client_ca_pem=data["requestheader-client-ca-file"].encode()
        )
        context.verify_mode = ssl.CERT_REQUIRED
        peers: list[str] = []

        async def handler(request: web.Request) -> web.Response:
            transport = request.transport
            assert transport is not None
            cert = transport.get_extra_info("peercert")
            subject = dict(item[0] for item in cert["subject"])
            peers.append(f"{subject['commonName']} as {request.headers['X-Remote-User']}")
            return web.json_response(
                {
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": "metrics.k8s.io/v1beta1",
                    "resources": [],
                }
            )

        backend = web.Application()
        backend.router.add_get("/{tail:.*}", handler)
        runner = web.AppRunner(backend)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        try:
            port = runner.addresses[0][1]
            cluster_state.register_api_service(
                APIServiceBackend(
                    "metrics.k8s.io",
                    "v1beta1",
                    f"https://127.0.0.1:{port}",
                    ca_bundle=authority.cert_pem,
                )
            )
            assert server.ca_pem is not None
            client_context = ssl.create_default_context(cadata=server.ca_pem.decode())
            async with (
                aiohttp.ClientSession() as session,
                session.get(
                    f"{server.url}/apis/metrics.k8s.io/v1beta1",
                    headers={"Authorization": f"Bearer {server.admin_token}"},
                    ssl=client_context,
                ) as response,
            ):
                assert response.status == 200
                assert (await response.json())["groupVersion"] == "metrics.k8s.io/v1beta1"
        finally:
            await runner.cleanup()
    assert peers == ["front-proxy-client as sandbox-admin"]
