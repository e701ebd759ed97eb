"""REST mapping from a live API server's discovery documents (stand-in).

prometheus-adapter builds its mapper from discovery at startup (custom-metrics-apiserver
`dynamicmapper`, client-go `restmapper.GetAPIGroupResources` +
`NewDiscoveryRESTMapper`); unlike upstream (reference §2.5, the refresher is never
started) ours can be fetched again, so CRDs added later become resolvable.
"""

from __future__ import annotations

from pathlib import Path

from adapter.cluster import connection, discovery
from adapter.k8s.resources import GroupResource, RestMapper
from adapter.sandbox.apiserver import RunningApiServer
from adapter.sandbox.store import APIServiceBackend, ClusterState


async def test_discovery_builds_the_mapper(
    apiserver: RunningApiServer, cluster_state: ClusterState, tmp_path: Path
) -> None:
    cluster_state.register_custom_resource(
        "example.com", "Widget", "widgets", versions=("v2", "v1")
    )
    config = apiserver.write_kubeconfig(tmp_path / "kubeconfig")
    async with connection.connect(str(config), qps=-1, burst=1) as cluster:
        mapper = await discovery.fetch_rest_mapper(cluster)
    for asked, expected in (
        ("pods", ("", "v1", "pods")),
        ("pod", ("", "v1", "pods")),
        ("deployments.apps", ("apps", "v1", "deployments")),
        ("deployment", ("apps", "v1", "deployments")),
        ("job", ("batch", "v1", "jobs")),
        ("horizontalpodautoscaler", ("autoscaling", "v2", "horizontalpodautoscalers")),
        ("widget", ("example.com", "v2", "widgets")),
        ("widgets.example.com", ("example.com", "v2", "widgets")),
    ):
        info = mapper.resolve(GroupResource.parse(asked))
        assert (info.group, info.version, info.resource) == expected, asked
    # the same resources, in the same order, as the built-in table plus the CRD
    assert [(i.group, i.version, i.resource) for i in mapper][: len(RestMapper.builtin())] == [
        (i.group, i.version, i.resource) for i in RestMapper.builtin()
    ]
    assert mapper.resolve(GroupResource("", "pods")) == RestMapper.builtin().resolve(
        GroupResource("", "pods")
    )


async def test_refresh_sees_new_custom_resources(
    apiserver: RunningApiServer, cluster_state: ClusterState, tmp_path: Path
) -> None:
    config = apiserver.write_kubeconfig(tmp_path / "kubeconfig")
    async with connection.connect(str(config), qps=-1, burst=1) as cluster:
        before = await discovery.fetch_rest_mapper(cluster)
        assert before.for_version("example.com", "v1", "gadgets") is None
        cluster_state.register_custom_resource("example.com", "Gadget", "gadgets", namespaced=False)
        after = await discovery.fetch_rest_mapper(cluster)
    gadget = after.resolve(GroupResource("", "gadget"))
    assert (gadget.group, gadget.namespaced, gadget.kind) == ("example.com", False, "Gadget")


async def test_unavailable_aggregated_api_is_left_out(
    apiserver: RunningApiServer, cluster_state: ClusterState, tmp_path: Path
) -> None:
    """An APIService whose backend is down answers 503; discovery carries on without it,
    as client-go's partial discovery does."""
    cluster_state.register_api_service(
        APIServiceBackend("metrics.k8s.io", "v1beta1", "http://127.0.0.1:9")
    )
    config = apiserver.write_kubeconfig(tmp_path / "kubeconfig")
    async with connection.connect(str(config), qps=-1, burst=1) as cluster:
        mapper = await discovery.fetch_rest_mapper(cluster)
    assert all(info.group != "metrics.k8s.io" for info in mapper)
    assert mapper.resolve(GroupResource("", "pods")).resource == "pods"


def test_group_version_order_puts_preferred_first() -> None:
    groups = {
        "groups": [
            {
                "name": "autoscaling",
                "versions": [
                    {"groupVersion": "autoscaling/v1", "version": "v1"},
                    {"groupVersion": "autoscaling/v2", "version": "v2"},
                ],
                "preferredVersion": {"groupVersion": "autoscaling/v2", "version": "v2"},
            },
            {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}]},
        ]
    }
    assert discovery.group_version_order(groups) == ["autoscaling/v2", "autoscaling/v1", "apps/v1"]
