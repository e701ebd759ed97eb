"""PATCH arithmetic: RFC 7386 (JSON merge patch) and RFC 6902 (JSON patch).

The merge-patch cases are the examples of RFC 7386 Appendix A, which the API server's
merge patch (evanphx/json-patch MergePatch) follows; the JSON patch cases are RFC 6902
operations as kubectl `patch --type=json` sends them.
"""

from __future__ import annotations

from typing import Any

import pytest

from adapter.sandbox import patching


@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_rfc7386_examples(target: Any, patch: Any, result: Any) -> None:
    assert patching.merge_patch(target, patch) == result


def test_strategic_patch_drops_directives() -> None:
    target = {"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [{"name": "x"}]}}
    patch = {
        "metadata": {"labels": {"b": "2"}},
        "spec": {
            "$setElementOrder/containers": [{"name": "x"}],
            "containers": [{"name": "x", "image": "i"}],
        },
    }
    assert patching.strategic_merge_patch(target, patch) == {
        "metadata": {"labels": {"a": "1", "b": "2"}},
        "spec": {"containers": [{"name": "x", "image": "i"}]},
    }


def test_json_patch_operations() -> None:
    document: dict[str, Any] = {
        "spec": {"replicas": 1, "ports": [80, 443]},
        "metadata": {"labels": {"a/b": "x"}},
    }
    result = patching.json_patch(
        document,
        [
            {"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "add", "path": "/spec/ports/-", "value": 8080},
            {"op": "add", "path": "/spec/ports/0", "value": 22},
            {"op": "remove", "path": "/metadata/labels/a~1b"},
            {"op": "copy", "from": "/spec/replicas", "path": "/spec/copied"},
            {"op": "move", "from": "/spec/copied", "path": "/spec/moved"},
            {"op": "test", "path": "/spec/moved", "value": 3},
        ],
    )
    assert result == {
        "spec": {"replicas": 3, "ports": [22, 80, 443, 8080], "moved": 3},
        "metadata": {"labels": {}},
    }
    assert document["spec"]["replicas"] == 1  # the target is not modified


@pytest.mark.parametrize(
    ("operations", "error"),
    [
        ([{"op": "test", "path": "/a", "value": 2}], patching.PatchError),
        ([{"op": "remove", "path": "/missing"}], patching.PatchError),
        ([{"op": "replace", "path": "/list/5", "value": 1}], patching.PatchError),
        ([{"op": "frobnicate", "path": "/a"}], patching.PatchFormatError),
        ([{"op": "add", "path": "/a"}], patching.PatchFormatError),
        ({"op": "add"}, patching.PatchFormatError),
    ],
)
def test_json_patch_failures(operations: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        patching.json_patch({"a": 1, "list": [0]}, operations)
