"""REST mapping: what a resource name resolves to, as client-go's discovery mapper says.

Pins `restmapper.NewDiscoveryRESTMapper` + `meta.DefaultRESTMapper.ResourcesFor` +
`meta.PriorityRESTMapper.ResourceFor` (k8s.io/client-go/restmapper/discovery.go,
k8s.io/apimachinery/pkg/api/meta/restmapper.go, priority.go), which prometheus-adapter
normalises rule resources with (reference §2.5: labels such as `job` resolve through it,
issue #185 "All metrics appear like jobs.batch").
"""

from __future__ import annotations

from typing import Any

import pytest

from adapter.k8s.resources import (
    AmbiguousResourceError,
    GroupResource,
    ResourceInfo,
    RestMapper,
    UnknownResourceError,
)

BUILTIN = RestMapper.builtin()


@pytest.mark.parametrize(
    ("asked", "group", "resource"),
    [
        # plural, singular and kind, any case (coerceResourceForMatching lower-cases)
        ("pods", "", "pods"),
        ("pod", "", "pods"),
        ("Pod", "", "pods"),
        ("PODS", "", "pods"),
        # prometheus-adapter's label -> resource cases (resource_converter.go)
        ("namespace", "", "namespaces"),
        ("node", "", "nodes"),
        ("service", "", "services"),
        ("job", "batch", "jobs"),
        ("deployment", "apps", "deployments"),
        ("ingress", "networking.k8s.io", "ingresses"),
        ("persistentvolume", "", "persistentvolumes"),
        # group given: exact, then prefix (DefaultRESTMapper: storageclass.storage)
        ("deployments.apps", "apps", "deployments"),
        ("deployment.apps", "apps", "deployments"),
        ("storageclass.storage", "storage.k8s.io", "storageclasses"),
        ("ingresses.networking.k8s.io", "networking.k8s.io", "ingresses"),
        # the same name in two groups: the core group is always first
        ("events", "", "events"),
        ("event.events.k8s.io", "events.k8s.io", "events"),
        # singular equal to plural
        ("endpoints", "", "endpoints"),
        # several versions of a group: the preferred one (autoscaling/v2)
        ("horizontalpodautoscalers", "autoscaling", "horizontalpodautoscalers"),
    ],
)
def test_builtin_resolution(asked: str, group: str, resource: str) -> None:
    info = BUILTIN.resolve(GroupResource.parse(asked))
    assert (info.group, info.resource) == (group, resource)


def test_preferred_version_wins() -> None:
    info = BUILTIN.resolve(GroupResource("", "horizontalpodautoscaler"))
    assert info.version == "v2"
    assert info.api_version == "autoscaling/v2"


@pytest.mark.parametrize(
    ("asked", "message"),
    [
        # labels that are no resource are skipped by the adapter (NoResourceMatchError)
        ("instance", "no matches for /, Resource=instance"),
        ("container", "no matches for /, Resource=container"),
        # short names are kubectl's expansion, not the REST mapper's
        ("po", "no matches for /, Resource=po"),
        ("hpa", "no matches for /, Resource=hpa"),
        ("deploy", "no matches for /, Resource=deploy"),
        # a group that has no such resource
        ("pods.apps", "no matches for apps/, Resource=pods"),
        ("widgets.example.com", "no matches for example.com/, Resource=widgets"),
    ],
)
def test_unknown_resources_fail_with_client_go_message(asked: str, message: str) -> None:
    with pytest.raises(UnknownResourceError) as caught:
        BUILTIN.resolve(GroupResource.parse(asked))
    assert str(caught.value) == message
    assert isinstance(caught.value, LookupError)


def test_empty_resource_is_an_error() -> None:
    with pytest.raises(UnknownResourceError, match="a resource must be present"):
        BUILTIN.resolve(GroupResource("", ""))


def test_by_kind() -> None:
    assert BUILTIN.by_kind("apps", "Deployment").resource == "deployments"
    assert BUILTIN.by_kind("", "Pod").resource == "pods"
    assert BUILTIN.by_kind("autoscaling", "HorizontalPodAutoscaler").version == "v2"
    # discovery registers the lower-cased kind too (restmapper.NewDiscoveryRESTMapper)
    assert BUILTIN.by_kind("apps", "deployment").kind == "Deployment"
    with pytest.raises(UnknownResourceError) as caught:
        BUILTIN.by_kind("apps", "Pod")
    assert str(caught.value) == 'no matches for kind "Pod" in group "apps"'


def test_builtin_table_facts() -> None:
    """Spot checks against kubernetes/kubernetes api/discovery documents (v1.36)."""
    pods = BUILTIN.resolve(GroupResource("", "pods"))
    assert pods == ResourceInfo(
        group="",
        version="v1",
        resource="pods",
        singular="pod",
        kind="Pod",
        namespaced=True,
        verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
        short_names=("po",),
        categories=("all",),
    )
    namespaces = BUILTIN.resolve(GroupResource("", "namespaces"))
    assert not namespaces.namespaced
    assert "deletecollection" not in namespaces.verbs
    assert BUILTIN.resolve(GroupResource("", "componentstatuses")).verbs == ("get", "list")
    assert BUILTIN.resolve(GroupResource("", "tokenreviews")).verbs == ("create",)
    crd = BUILTIN.resolve(GroupResource("", "customresourcedefinitions"))
    assert crd.short_names == ("crd", "crds")
    groups = [group for group, _ in BUILTIN.group_versions()]
    assert groups[:3] == ["", "apiregistration.k8s.io", "apps"]
    assert dict(BUILTIN.group_versions())["autoscaling"] == ["v2", "v1"]
    # no beta API is on by default, and no subresource is mapped
    assert all(not info.version.startswith(("v1beta", "v1alpha", "v2beta")) for info in BUILTIN)
    assert all("/" not in info.resource for info in BUILTIN)


def test_every_builtin_resolves_by_plural_and_singular() -> None:
    for info in BUILTIN:
        for name in (info.resource, info.singular):
            found = BUILTIN.resolve(GroupResource(info.group, name))
            assert found.group_resource == info.group_resource


def _api_resource(
    name: str, kind: str, *, namespaced: bool = True, singular: str | None = None
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": name,
        "namespaced": namespaced,
        "kind": kind,
        "verbs": ["get", "list"],
    }
    if singular is not None:
        doc["singularName"] = singular
    return doc


def _resource_list(group_version: str, *resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": list(resources),
    }


CORE = {
    "kind": "APIResourceList",
    "groupVersion": "v1",
    "resources": [
        _api_resource("pods", "Pod", singular="pod"),
        _api_resource("pods/status", "Pod", singular=""),
        _api_resource("nodes", "Node", namespaced=False, singular="node"),
    ],
}


def test_from_discovery_skips_subresources_and_guesses_singulars() -> None:
    mapper = RestMapper.from_discovery(
        CORE,
        [_resource_list("example.com/v1", _api_resource("widgets", "Widget"))],
    )
    assert [info.resource for info in mapper] == ["pods", "nodes", "widgets"]
    # no singularName: client-go guesses the lower-cased kind (UnsafeGuessKindToResource)
    widget = mapper.resolve(GroupResource("", "widget"))
    assert (widget.group, widget.resource, widget.singular) == ("example.com", "widgets", "widget")
    assert widget.api_version == "example.com/v1"
    assert mapper.resolve(GroupResource("", "Pod")).resource == "pods"


def test_first_group_in_discovery_order_wins() -> None:
    """An empty group resolves to the first group in /apis order, not alphabetically
    (PriorityRESTMapper's group priority), and the core group comes before all."""
    mapper = RestMapper.from_discovery(
        {
            "kind": "APIResourceList",
            "groupVersion": "v1",
            "resources": [_api_resource("jobs", "Job")],
        },
        [
            _resource_list(
                "zeta.example.com/v1", _api_resource("gadgets", "Gadget", singular="gadget")
            ),
            _resource_list(
                "alpha.example.com/v1", _api_resource("gadgets", "Gadget", singular="gadget")
            ),
            _resource_list("batch/v1", _api_resource("jobs", "Job", singular="job")),
        ],
    )
    assert mapper.resolve(GroupResource("", "gadget")).group == "zeta.example.com"
    assert mapper.resolve(GroupResource("", "jobs")).group == ""
    assert mapper.resolve(GroupResource("alpha", "gadgets")).group == "alpha.example.com"


def test_preferred_version_comes_from_document_order() -> None:
    mapper = RestMapper.from_discovery(
        None,
        [
            _resource_list("example.com/v2", _api_resource("widgets", "Widget")),
            _resource_list(
                "example.com/v1", _api_resource("widgets", "Widget"), _api_resource("olds", "Old")
            ),
        ],
    )
    assert mapper.resolve(GroupResource("", "widgets")).version == "v2"
    # a resource only the older version serves is still found
    assert mapper.resolve(GroupResource("", "old")).version == "v1"
    assert mapper.group_versions() == [("example.com", ["v2", "v1"])]


def test_ambiguous_names_in_one_group_version() -> None:
    mapper = RestMapper(
        [
            ResourceInfo("example.com", "v1", "things", "stuff", "Thing", True),
            ResourceInfo("example.com", "v1", "stuff", "stuffing", "Stuff", True),
        ]
    )
    with pytest.raises(AmbiguousResourceError) as caught:
        mapper.resolve(GroupResource("", "stuff"))
    assert "matches multiple resources" in str(caught.value)
    assert isinstance(caught.value, UnknownResourceError)


def test_with_resources_adds_custom_resources_after_builtins() -> None:
    widget = ResourceInfo("example.com", "v1", "widgets", "widget", "Widget", True)
    mapper = BUILTIN.with_resources([widget])
    assert mapper.resolve(GroupResource("", "widget")) == widget
    assert mapper.group_versions()[-1] == ("example.com", ["v1"])
    assert mapper.for_version("example.com", "v1", "widgets") == widget
    assert mapper.for_version("example.com", "v2", "widgets") is None


def test_api_resource_round_trip() -> None:
    for info in BUILTIN:
        doc = info.to_api()
        assert ResourceInfo.from_api(info.group, info.version, dict(doc)) == info
    assert BUILTIN.resolve(GroupResource("", "pods")).path_prefix == "/api/v1"
    assert BUILTIN.resolve(GroupResource("apps", "deployments")).path_prefix == "/apis/apps/v1"


@pytest.mark.parametrize(
    ("text", "group", "resource"),
    [
        ("pods", "", "pods"),
        ("deployments.apps", "apps", "deployments"),
        ("ingresses.networking.k8s.io", "networking.k8s.io", "ingresses"),
    ],
)
def test_group_resource_parse(text: str, group: str, resource: str) -> None:
    """apimachinery's ParseGroupResource splits at the first dot."""
    parsed = GroupResource.parse(text)
    assert parsed == GroupResource(group, resource)
    assert str(parsed) == text
