"""adapter.cluster against the API server stand-in: connection, names by selector, errors.

The adapter's `*` requests list objects with one metadata-only call whose label selector
the server applies (prometheus-adapter: `pkg/custom-provider/provider.go`
`metricsFor` lists through the dynamic client with `LabelSelector: selector.String()`;
client-go's metadata client asks for `as=PartialObjectMetadataList`), and answer items
in the list's order. Failures must stay distinguishable: an unreachable server, and
each Status the server returns (403 when RBAC lacks `list`, 404).
"""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from support.apiserver import node, pod

from adapter.cluster import connection, objects
from adapter.k8s.resources import GroupResource, ResourceInfo, RestMapper
from adapter.k8s.selectors import LabelSelector
from adapter.sandbox.access import PolicyRule, RuleAuthorizer
from adapter.sandbox.apiserver import RunningApiServer
from adapter.sandbox.store import ClusterState

MAPPER = RestMapper.builtin()
PODS = MAPPER.resolve(GroupResource("", "pods"))
NODES = MAPPER.resolve(GroupResource("", "nodes"))
DEPLOYMENTS = MAPPER.resolve(GroupResource("apps", "deployments"))


def _seed(state: ClusterState, count: int = 6) -> None:
    # created out of order: the server's list order is by name, and that is what counts
    for index in reversed(range(count)):
        state.create(pod(f"web-{index}", labels={"app": "web", "shard": str(index % 2)}))
    state.create(pod("db-0", labels={"app": "db"}))
    state.create(pod("web-x", "other", labels={"app": "web"}))


async def test_names_by_selector_in_server_order(
    apiserver: RunningApiServer, cluster_state: ClusterState, tmp_path: Path
) -> None:
    _seed(cluster_state)
    config = apiserver.write_kubeconfig(tmp_path / "kubeconfig")
    async with connection.connect(str(config), qps=-1, burst=1) as cluster:
        cluster_state.audit_log = []
        names = await objects.list_object_names(
            cluster, PODS, "shop", LabelSelector.parse("app=web,shard=0")
        )
        assert names == ["web-0", "web-2", "web-4"]
        # exactly one request: a metadata-only list with the selector for the server
        [record] = cluster_state.audit_log
        assert (record.method, record.path, record.code) == (
            "GET",
            "/api/v1/namespaces/shop/pods",
            200,
        )
        assert parse_qs(record.query) == {"labelSelector": ["app=web,shard=0"]}
        assert record.accept.startswith(
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
        )
        assert record.user == "sandbox-admin"
        everything = await objects.list_object_names(
            cluster, PODS, None, LabelSelector.parse("app=web")
        )
        assert everything == ["web-x", *[f"web-{i}" for i in range(6)]]
        assert cluster_state.audit_log[-1].path == "/api/v1/pods"
        assert (
            await objects.list_object_names(cluster, PODS, "shop", LabelSelector.parse("app=none"))
            == []
        )
        calls = len(cluster_state.audit_log)
        assert await objects.list_object_names(cluster, PODS, "shop", LabelSelector.nothing()) == []
        assert len(cluster_state.audit_log) == calls  # nothing to ask


async def test_paging_follows_continue(
    apiserver: RunningApiServer, cluster_state: ClusterState, tmp_path: Path
) -> None:
    _seed(cluster_state, count=7)
    config = apiserver.write_kubeconfig(tmp_path / "kubeconfig")
    async with connection.connect(str(config)) as cluster:
        cluster_state.audit_log = []
        names = await objects.list_object_names(
            cluster, PODS, "shop", LabelSelector.parse("app=web"), page_size=3
        )
        assert names == [f"web-{i}" for i in range(7)]
        queries = [record.query for record in cluster_state.audit_log]
        assert len(queries) == 3
        assert "limit=3" in queries[0] and "continue=" not in queries[0]
        assert all("continue=" in query for query in queries[1:])
        lister = objects.ClusterObjectLister(cluster)
        assert await lister.list_object_names(PODS, "shop", LabelSelector.parse("app=db")) == [
            "db-0"
        ]


async def test_cluster_scoped_and_tls(
    tls_apiserver: RunningApiServer, cluster_state: ClusterState, tmp_path: Path
) -> None:
    cluster_state.create(node("node-b", {"pool": "a"}))
    cluster_state.create(node("node-a", {"pool": "a"}))
    cluster_state.create(node("node-c", {"pool": "b"}))
    config = tls_apiserver.write_kubeconfig(tmp_path / "kubeconfig")
    async with connection.connect(str(config)) as cluster:
        assert cluster.host.startswith("https://")
        names = await objects.list_object_names(
            cluster, NODES, "ignored", LabelSelector.parse("pool=a")
        )
        assert names == ["node-a", "node-b"]


async def test_raw_reads(
    apiserver: RunningApiServer, cluster_state: ClusterState, tmp_path: Path
) -> None:
    _seed(cluster_state, count=2)
    config = apiserver.write_kubeconfig(tmp_path / "kubeconfig")
    async with connection.connect(str(config)) as cluster:
        listed = await objects.list_objects(cluster, PODS, "shop", LabelSelector.parse("app=web"))
        assert [item["metadata"]["name"] for item in listed.items] == ["web-0", "web-1"]
        assert listed.resource_version == str(cluster_state.resource_version)
        one = await objects.get_object(cluster, PODS, "shop", "db-0")
        assert one["status"]["phase"] == "Running"
        by_field = await objects.list_objects(
            cluster, PODS, "shop", field_selector="metadata.name=web-1"
        )
        assert [item["metadata"]["name"] for item in by_field.items] == ["web-1"]


async def test_forbidden_is_a_typed_api_error(
    apiserver: RunningApiServer, cluster_state: ClusterState, tmp_path: Path
) -> None:
    """A lister without RBAC `list` gets the Status the server sent, parsed."""
    _seed(cluster_state, count=1)
    cluster_state.authenticator.add_token(
        "adapter-token", "system:serviceaccount:monitoring:adapter"
    )
    authorizer = RuleAuthorizer()
    authorizer.allow(
        PolicyRule(
            verbs=("list",),
            resources=("nodes",),
            users=("system:serviceaccount:monitoring:adapter",),
        )
    )
    cluster_state.authorizer = authorizer
    config = apiserver.write_kubeconfig(tmp_path / "kubeconfig", token="adapter-token")
    async with connection.connect(str(config)) as cluster:
        with pytest.raises(connection.ClusterApiError) as caught:
            await objects.list_object_names(cluster, PODS, "shop", LabelSelector.parse("app=web"))
        error = caught.value
        assert (error.code, error.reason) == (403, "Forbidden")
        assert error.status.message == (
            'pods is forbidden: User "system:serviceaccount:monitoring:adapter" cannot list resource '
            '"pods" in API group "" in the namespace "shop"'
        )
        assert isinstance(error, connection.ClusterError)
        assert (
            await objects.list_object_names(cluster, NODES, None, LabelSelector.everything()) == []
        )


async def test_not_found_resource_and_object(apiserver: RunningApiServer, tmp_path: Path) -> None:
    config = apiserver.write_kubeconfig(tmp_path / "kubeconfig")
    widgets = ResourceInfo("example.com", "v1", "widgets", "widget", "Widget", True)
    async with connection.connect(str(config)) as cluster:
        with pytest.raises(connection.ClusterApiError) as caught:
            await objects.list_object_names(cluster, widgets, "shop", LabelSelector.everything())
        assert (caught.value.code, caught.value.status.message) == (
            404,
            "the server could not find the requested resource",
        )
        with pytest.raises(connection.ClusterApiError) as missing:
            await objects.get_object(cluster, DEPLOYMENTS, "shop", "nope")
        assert missing.value.status.message == 'deployments.apps "nope" not found'
        assert missing.value.status.details == {
            "name": "nope",
            "group": "apps",
            "kind": "deployments",
        }


async def test_unreachable_server(tmp_path: Path, apiserver: RunningApiServer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # a kubeconfig for a port nobody listens on (the probe socket never listened)
    dead = RunningApiServer(apiserver.state, "127.0.0.1", port, f"http://127.0.0.1:{port}")
    config = dead.write_kubeconfig(tmp_path / "kubeconfig")
    async with connection.connect(str(config), timeout=10) as cluster:
        with pytest.raises(connection.ClusterUnavailable) as caught:
            await objects.list_object_names(cluster, PODS, "shop", LabelSelector.everything())
    assert isinstance(caught.value, ConnectionError)
    assert caught.value.__cause__ is not None


async def test_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(connection.ClusterConfigError) as caught:
        async with connection.connect(str(tmp_path / "missing-kubeconfig")):
            pass
    assert isinstance(caught.value, ValueError)
    broken = tmp_path / "broken"
    broken.write_text("apiVersion: v1\nkind: Config\ncurrent-context: nowhere\n")
    with pytest.raises(connection.ClusterConfigError):
        async with connection.connect(str(broken)):
            pass


async def test_default_kubeconfig_from_environment(
    apiserver: RunningApiServer,
    cluster_state: ClusterState,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No --lister-kubeconfig: $KUBECONFIG, then ~/.kube/config, then in-cluster."""
    cluster_state.create(pod("web-0", labels={"app": "web"}))
    config = apiserver.write_kubeconfig(tmp_path / "env" / "kubeconfig")
    monkeypatch.setenv("KUBECONFIG", str(config))
    async with connection.connect(None) as cluster:
        assert await objects.list_object_names(
            cluster, PODS, "shop", LabelSelector.everything()
        ) == ["web-0"]
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("HOME", str(tmp_path / "empty-home"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(connection.ClusterConfigError, match="in-cluster service account"):
        async with connection.connect(None):
            pass
