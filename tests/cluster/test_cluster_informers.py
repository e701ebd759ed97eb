"""adapter.cluster.informers against the API server stand-in: metadata kept by list+watch.

The cache must answer what a list call would have answered, in the same order, without
asking: the names a label selector matches in etcd key order (`<namespace>/<name>`;
apiserver `storage/etcd3` lists keys in order, and prometheus-adapter answers `*`
items in its list's order, `pkg/custom-provider/provider.go` `metricsFor`). It is kept
as client-go's reflector keeps a store (`tools/cache/reflector.go` `ListAndWatch`: list,
watch from the list's resourceVersion, relist when the watch says 410 Gone), with the
metadata-only media types of client-go's metadata client (`metadata/metadata.go`:
`as=PartialObjectMetadataList` to list, `as=PartialObjectMetadata` to watch), and
metrics.k8s.io's pods are those in `status.phase=Running`, as prometheus-adapter's
resource provider informer filters them (`cmd/adapter/adapter.go`, its pod informer's
field selector). Where RBAC refuses `list` or `watch` cluster-wide, per-request lists go
on as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from support.apiserver import node, pod

from adapter import cli
from adapter.cluster import connection, informers, objects
from adapter.k8s import status
from adapter.k8s.fields import FieldRequirement, FieldSelector
from adapter.k8s.resources import GroupResource, ResourceInfo, RestMapper
from adapter.k8s.selectors import LabelSelector
from adapter.providers.resource import CachedResourceObjects, ClusterResourceObjects
from adapter.sandbox.access import PolicyRule, RuleAuthorizer, rules_for
from adapter.sandbox.apiserver import RunningApiServer, run_apiserver
from adapter.sandbox.store import AuditRecord, ClusterState
from adapter.settings import fromflags

MAPPER = RestMapper.builtin()
PODS = MAPPER.resolve(GroupResource("", "pods"))
NODES = MAPPER.resolve(GroupResource("", "nodes"))
ADAPTER_USER = "system:serviceaccount:monitoring:adapter"
RUNNING = "status.phase=Running"


async def eventually(check: Callable[[], bool], what: str) -> None:
    """Wait for a watch event to be applied (bounded: a hang fails, nothing is timed)."""
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
async def cluster(apiserver: RunningApiServer, tmp_path: Path) -> AsyncIterator[connection.Cluster]:
    config = apiserver.write_kubeconfig(tmp_path / "kubeconfig")
    async with connection.connect(str(config), qps=0) as connected:
        yield connected


@pytest.fixture
async def cache(cluster: connection.Cluster) -> AsyncIterator[informers.MetadataCache]:
    made = informers.MetadataCache(cluster)
    try:
        yield made
    finally:
        await made.close()


def _lists(state: ClusterState, path: str | None = None) -> list[AuditRecord]:
    return [
        record
        for record in state.audit_log or ()
        if record.method == "GET"
        and "watch=" not in record.query
        and record.path.endswith("/pods")
        and (path is None or record.path == path)
    ]


def _seed(state: ClusterState) -> None:
    # Created out of order; "a-b" sorts before "a" in etcd ("a-b/" < "a/").
    for index in reversed(range(6)):
        labels = {"app": "web", "shard": str(index % 2)}
        state.create(pod(f"web-{index}", labels=labels))
    state.create(pod("db-0", labels={"app": "db", "tier": "data"}))
    state.create(pod("bare", labels={}))
    state.create(pod("web-x", "a", labels={"app": "web", "shard": "7"}))
    state.create(pod("web-y", "a-b", labels={"app": "web"}))
    state.create(pod("web-z", "a-b", labels={"app": "api"}, phase="Pending"))


SELECTORS = [
    "",
    "app=web",
    "app==web",
    "app!=web",
    "app in (web,db)",
    "app notin (web)",
    "shard",
    "!shard",
    "app=web,shard=0",
    "shard>0",
    "tier=data,app=db",
    "app=none",
]


async def test_names_are_what_a_list_call_answers_in_its_order(
    cluster: connection.Cluster, cache: informers.MetadataCache, cluster_state: ClusterState
) -> None:
    """Every selector form, one namespace and all of them: the cache and a list call by
    the API server give the same names in the same order."""
    _seed(cluster_state)
    lister = informers.CachedObjectLister(cache, objects.ClusterObjectLister(cluster))
    cluster_state.audit_log = []
    first = await lister.list_object_names(PODS, "shop", LabelSelector.parse("app=web"))
    assert first == [f"web-{index}" for index in range(6)]
    # The first use lists once: cluster-wide, metadata only, no selector for the server.
    [listed] = _lists(cluster_state)
    assert (listed.path, listed.code) == ("/api/v1/pods", 200)
    assert parse_qs(listed.query) == {}
    assert listed.accept.startswith("application/json;as=PartialObjectMetadataList;")
    for namespace in ("shop", "a", "a-b", "nowhere", None):
        for text in SELECTORS:
            selector = LabelSelector.parse(text)
            expected = await objects.list_object_names(cluster, PODS, namespace, selector)
            cached = await lister.list_object_names(PODS, namespace, selector)
            assert cached == expected, (namespace, text)
    assert (await lister.list_object_names(PODS, None, LabelSelector.parse("app=web")))[:2] == [
        "web-y",  # a-b/ before a/
        "web-x",
    ]
    calls = len(_lists(cluster_state))
    assert await lister.list_object_names(PODS, "shop", LabelSelector.nothing()) == []
    answer = await lister.list_object_names(PODS, "shop", LabelSelector.parse("app=db"))
    assert answer == ["db-0"]
    answer.append("mutated")  # a caller's list is its own
    assert await lister.list_object_names(PODS, "shop", LabelSelector.parse("app=db")) == ["db-0"]
    assert len(_lists(cluster_state)) == calls  # the per-request lists above were the test's


async def test_cluster_scoped_resources_ignore_the_namespace(
    cluster: connection.Cluster, cache: informers.MetadataCache, cluster_state: ClusterState
) -> None:
    for name, pool in (("node-b", "a"), ("node-a", "a"), ("node-c", "b")):
        cluster_state.create(node(name, {"pool": pool}))
    lister = informers.CachedObjectLister(cache, objects.ClusterObjectLister(cluster))
    selector = LabelSelector.parse("pool=a")
    assert await lister.list_object_names(NODES, "ignored", selector) == ["node-a", "node-b"]
    assert await lister.list_object_names(NODES, None, selector) == ["node-a", "node-b"]


async def test_adds_label_changes_and_deletes_arrive_through_the_watch(
    cluster: connection.Cluster, cache: informers.MetadataCache, cluster_state: ClusterState
) -> None:
    _seed(cluster_state)
    informer = await cache.informer(PODS)
    assert informer is not None
    web = LabelSelector.parse("app=web")
    api = LabelSelector.parse("app=api")
    assert informer.names("shop", web) == [f"web-{index}" for index in range(6)]
    cluster_state.audit_log = []

    cluster_state.create(pod("web-3a", labels={"app": "web"}))
    await eventually(lambda: "web-3a" in informer.names("shop", web), "an added pod")
    assert informer.names("shop", web) == ["web-0", "web-1", "web-2", "web-3", "web-3a", "web-4", "web-5"]  # fmt: skip

    cluster_state.patch("pods", "web-1", {"metadata": {"labels": {"app": "api"}}}, "shop")
    await eventually(lambda: informer.names("shop", api) == ["web-1"], "a label change")
    assert "web-1" not in informer.names("shop", web)

    cluster_state.patch("pods", "web-2", {"status": {"phase": "Failed"}}, "shop")  # no label
    cluster_state.delete("pods", "web-0", "shop")
    await eventually(lambda: "web-0" not in informer.names("shop", web), "a deleted pod")
    assert informer.names("shop", web) == ["web-2", "web-3", "web-3a", "web-4", "web-5"]

    cluster_state.create(pod("new-0", "fresh", labels={"app": "web"}))
    await eventually(lambda: informer.names("fresh", web) == ["new-0"], "a new namespace")
    cluster_state.delete("pods", "new-0", "fresh")
    await eventually(lambda: informer.names("fresh", web) == [], "an emptied namespace")
    assert informer.get("fresh", "new-0") is None
    assert informer.relists == 1
    assert _lists(cluster_state) == []  # all of it came through the one watch


async def test_a_relist_replaces_what_was_missed(
    cluster: connection.Cluster, cluster_state: ClusterState
) -> None:
    """client-go's Replace: after a relist the store is the list, whatever was missed."""
    _seed(cluster_state)
    informer = informers.MetadataInformer(cluster, PODS)
    await informer.relist()
    everything = LabelSelector.everything()
    assert informer.names("a-b", everything) == ["web-y", "web-z"]
    cluster_state.delete("pods", "web-y", "a-b")
    cluster_state.patch("pods", "web-z", {"metadata": {"labels": {"app": "web"}}}, "a-b")
    cluster_state.create(pod("web-w", "a-b", labels={"app": "web"}))
    assert informer.names("a-b", LabelSelector.parse("app=web")) == ["web-y"]  # not watching
    await informer.relist()
    assert informer.names("a-b", LabelSelector.parse("app=web")) == ["web-w", "web-z"]
    assert informer.relists == 2
    assert informer.resource_version == str(cluster_state.resource_version)


async def test_an_expired_watch_lists_again(tmp_path: Path) -> None:
    """410 Gone on re-watch (the server forgot the resourceVersion: here because only
    pods outside the field selector changed) makes the informer list again."""
    state = ClusterState(history=3)
    state.audit_log = []
    state.create(pod("web-0", labels={"app": "web"}))
    async with run_apiserver(state) as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        async with connection.connect(str(kubeconfig), qps=0) as cluster:
            cache = informers.MetadataCache(cluster, watch_timeout=1)
            try:
                informer = await cache.informer(PODS, RUNNING)
                assert informer is not None
                listed_at = informer.resource_version
                for index in range(4):
                    state.create(pod(f"pending-{index}", phase="Pending"))
                await eventually(lambda: informer.relists == 2, "a second list")
                state.create(pod("web-1", labels={"app": "web"}))
                everything = LabelSelector.everything()
                await eventually(lambda: "web-1" in informer.names("shop", everything), "web-1")
                assert informer.names("shop", everything) == ["web-0", "web-1"]
            finally:
                await cache.close()
    records = [r for r in state.audit_log if r.path == "/api/v1/pods"]
    kinds = ["watch" if "watch=1" in r.query else "list" for r in records]
    assert kinds[:3] == ["list", "watch", "list"]  # the watch from listed_at met a 410
    list_query, watch_query = parse_qs(records[0].query), parse_qs(records[1].query)
    assert list_query == {"fieldSelector": [RUNNING]}
    assert watch_query["resourceVersion"] == [listed_at]
    assert watch_query["fieldSelector"] == [RUNNING]
    assert watch_query["allowWatchBookmarks"] == ["true"]
    assert records[1].accept.startswith("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,")  # fmt: skip


async def test_running_pods_follow_their_phase(
    cluster: connection.Cluster, cache: informers.MetadataCache, cluster_state: ClusterState
) -> None:
    """metrics.k8s.io lists pods in phase Running only, kept by a filtered watch: a pod
    that starts running comes in, one that finishes goes out."""
    _seed(cluster_state)
    cached = CachedResourceObjects(cache, ClusterResourceObjects(cluster), MAPPER)
    direct = ClusterResourceObjects(cluster)
    everything, no_fields = LabelSelector.everything(), FieldSelector()
    for namespace in ("shop", "a-b", None):
        for labels in (everything, LabelSelector.parse("app=web")):
            assert await cached.running_pods(namespace, labels, no_fields) == (
                await direct.running_pods(namespace, labels, no_fields)
            )
    assert [p.name for p in await cached.running_pods("a-b", everything, no_fields)] == ["web-y"]
    cluster_state.patch("pods", "web-z", {"status": {"phase": "Running"}}, "a-b")
    cluster_state.patch("pods", "web-y", {"status": {"phase": "Succeeded"}}, "a-b")

    async def names() -> list[str]:
        return [p.name for p in await cached.running_pods("a-b", everything, no_fields)]

    for _ in range(1000):
        if await names() == ["web-z"]:
            break
        await asyncio.sleep(0.02)
    assert await names() == ["web-z"]
    [web_z] = await cached.running_pods("a-b", everything, no_fields)
    assert (web_z.namespace, dict(web_z.labels or {})) == ("a-b", {"app": "api"})
    # A GET of one pod, and field selectors on what the cache keeps.
    one = FieldSelector((FieldRequirement("metadata.name", "web-3"),))
    assert [p.name for p in await cached.running_pods("shop", everything, one)] == ["web-3"]
    assert await cached.running_pods("shop", LabelSelector.parse("app=db"), one) == []
    assert await cached.running_pods("a", everything, one) == []
    not_shop = FieldSelector((FieldRequirement("metadata.namespace", "shop", negated=True),))
    found = await cached.running_pods(None, LabelSelector.parse("app=web"), not_shop)
    assert [(p.namespace, p.name) for p in found] == [("a", "web-x")]
    # Nodes come from their own informer.
    cluster_state.create(node("node-2", {"pool": "a"}))
    cluster_state.create(node("node-1", {"pool": "b"}))
    assert [n.name for n in await cached.nodes(everything, no_fields)] == ["node-1", "node-2"]
    pinned = FieldSelector((FieldRequirement("metadata.name", "node-2"),))
    assert [n.name for n in await cached.nodes(everything, pinned)] == ["node-2"]
    keys = {(info.resource, fields) for info, fields in cache.informers}
    assert keys == {("pods", RUNNING), ("nodes", "")}


async def _as_adapter(
    apiserver: RunningApiServer, state: ClusterState, tmp_path: Path, *rules: PolicyRule
) -> Path:
    state.authenticator.add_token("adapter-token", ADAPTER_USER)
    authorizer = RuleAuthorizer()
    for rule in rules:
        authorizer.allow(rule)
    state.authorizer = authorizer
    return apiserver.write_kubeconfig(tmp_path / "adapter-kubeconfig", token="adapter-token")


async def test_without_watch_permission_it_lists_per_request(
    apiserver: RunningApiServer,
    cluster_state: ClusterState,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """RBAC with `list` but no `watch`: the informer stops, says so once, and requests
    list as they did without a cache."""
    _seed(cluster_state)
    kubeconfig = await _as_adapter(
        apiserver, cluster_state, tmp_path, rules_for(ADAPTER_USER, ["list"], ["pods"])
    )
    async with connection.connect(str(kubeconfig), qps=0) as cluster:
        cache = informers.MetadataCache(cluster)
        lister = informers.CachedObjectLister(cache, objects.ClusterObjectLister(cluster))
        selector = LabelSelector.parse("app=web,shard=1")
        try:
            with caplog.at_level(logging.WARNING, logger=informers.__name__):
                informer = await cache.informer(PODS)
                assert informer is not None  # the list worked: synced
                await eventually(lambda: not informer.synced.is_set(), "the refused watch")
                cluster_state.audit_log = []
                for _ in range(3):
                    assert await lister.list_object_names(PODS, "shop", selector) == [
                        "web-1",
                        "web-3",
                        "web-5",
                    ]
        finally:
            await cache.close()
    paths = [(r.path, parse_qs(r.query)) for r in _lists(cluster_state)]
    assert paths == [("/api/v1/namespaces/shop/pods", {"labelSelector": ["app=web,shard=1"]})] * 3
    refusals = [r for r in caplog.records if "refused to list and watch" in r.getMessage()]
    assert len(refusals) == 1
    assert "cannot watch resource" in refusals[0].getMessage()


async def test_a_namespaced_role_lists_per_request(
    apiserver: RunningApiServer, cluster_state: ClusterState, tmp_path: Path
) -> None:
    """A Role in one namespace: the cluster-wide list is refused, the namespaced one not."""
    _seed(cluster_state)
    kubeconfig = await _as_adapter(
        apiserver,
        cluster_state,
        tmp_path,
        rules_for(ADAPTER_USER, ["list", "watch"], ["pods"], namespaces=["shop"]),
    )
    async with connection.connect(str(kubeconfig), qps=0) as cluster:
        cache = informers.MetadataCache(cluster)
        lister = informers.CachedObjectLister(cache, objects.ClusterObjectLister(cluster))
        try:
            names = await lister.list_object_names(PODS, "shop", LabelSelector.parse("app=db"))
            assert names == ["db-0"]
            assert await cache.informer(PODS) is None
        finally:
            await cache.close()
    codes = [(r.path, r.code) for r in _lists(cluster_state)]
    assert codes[0] == ("/api/v1/pods", 403)
    assert codes[1:] == [("/api/v1/namespaces/shop/pods", 200)]


async def test_resources_that_cannot_be_watched_are_listed_per_request(
    cluster: connection.Cluster, cache: informers.MetadataCache, cluster_state: ClusterState
) -> None:
    _seed(cluster_state)
    list_only = ResourceInfo("", "v1", "pods", "pod", "Pod", True, verbs=("get", "list"))
    lister = informers.CachedObjectLister(cache, objects.ClusterObjectLister(cluster))
    cluster_state.audit_log = []
    assert await lister.list_object_names(list_only, "a", LabelSelector.everything()) == ["web-x"]
    assert [r.path for r in _lists(cluster_state)] == ["/api/v1/namespaces/a/pods"]
    assert cache.informers == {}


async def test_a_dead_informer_is_a_503_and_stops_the_supervisor(
    cluster: connection.Cluster, cluster_state: ClusterState
) -> None:
    """Not the server's answer but a broken client (a bug): requests get a 503 at once,
    and `supervise` ends so the process exits rather than limping on."""
    _seed(cluster_state)
    cache = informers.MetadataCache(cluster)
    supervisor = asyncio.ensure_future(cache.supervise())
    await asyncio.sleep(0)  # supervising
    await cluster.api.close()  # every request now raises RuntimeError("Session is closed")
    lister = informers.CachedObjectLister(cache, objects.ClusterObjectLister(cluster))
    with pytest.raises(status.StatusError) as caught:
        await lister.list_object_names(PODS, "shop", LabelSelector.everything())
    assert caught.value.code == 503
    assert (
        caught.value.message == "unable to list pods: the cache of pods stopped: Session is closed"
    )
    with pytest.raises(informers.InformerStopped, match="the cache of pods stopped"):
        await supervisor
    assert cache.closed


async def test_closed_cache_lists_per_request_and_leaves_no_task(
    cluster: connection.Cluster, cluster_state: ClusterState
) -> None:
    _seed(cluster_state)
    cache = informers.MetadataCache(cluster)
    supervisor = asyncio.ensure_future(cache.supervise())
    assert await cache.informer(PODS) is not None
    supervisor.cancel()  # what `serve` does on shutdown
    await asyncio.gather(supervisor, return_exceptions=True)
    assert cache.closed
    assert await cache.informer(PODS) is None
    assert await cache.informer(NODES) is None
    lister = informers.CachedObjectLister(cache, objects.ClusterObjectLister(cluster))
    assert await lister.list_object_names(PODS, "a", LabelSelector.everything()) == ["web-x"]
    assert [task for task in asyncio.all_tasks() if task.get_name().startswith("informer")] == []


@pytest.mark.parametrize(("flag", "expected"), [([], True), (["--object-cache=false"], False)])
def test_object_cache_flag(flag: list[str], expected: bool) -> None:
    args = cli.build_parser().parse_args(
        ["serve", "--prometheus-url=http://127.0.0.1:9090", "--config=c.yaml", *flag]
    )
    assert fromflags.serve_settings(args).cluster.object_cache is expected
