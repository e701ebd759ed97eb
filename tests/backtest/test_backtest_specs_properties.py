"""Spec files are user input: any mutation of a valid HPA manifest loads or is a SpecError.

`hpa backtest HPA.yaml` turns a SpecError into one line on stderr and exit 2; any other
exception would be a traceback. The cases start from a manifest that uses every part a
backtest reads (each metric type, selectors, behavior with policies and tolerance) and
mutate it at random: values replaced by other JSON values (wrong types, huge and
negative numbers, quantity-like and empty strings, nested objects), keys removed or
added, and the file's text cut or spliced. Whatever loads must also give the reads and
targets the replay asks for, since the command calls those next.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapter.backtest.specs import SpecError, load_spec, metric_reads, target_of
from adapter.settings import FeatureGates

MANIFEST: dict[str, Any] = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 2,
        "maxReplicas": 40,
        "metrics": [
            {
                "type": "Pods",
                "pods": {
                    "metric": {
                        "name": "http_requests_per_second",
                        "selector": {"matchLabels": {"verb": "GET"}},
                    },
                    "target": {"type": "AverageValue", "averageValue": "10"},
                },
            },
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 60},
                },
            },
            {
                "type": "ContainerResource",
                "containerResource": {
                    "name": "memory",
                    "container": "app",
                    "target": {"type": "AverageValue", "averageValue": "500Mi"},
                },
            },
            {
                "type": "Object",
                "object": {
                    "describedObject": {
                        "apiVersion": "networking.k8s.io/v1",
                        "kind": "Ingress",
                        "name": "main",
                    },
                    "metric": {"name": "requests"},
                    "target": {"type": "Value", "value": "2k"},
                },
            },
            {
                "type": "External",
                "external": {
                    "metric": {
                        "name": "queue_depth",
                        "selector": {
                            "matchExpressions": [
                                {"key": "queue", "operator": "In", "values": ["orders"]}
                            ]
                        },
                    },
                    "target": {"type": "AverageValue", "averageValue": "20"},
                },
            },
        ],
        "behavior": {
            "scaleUp": {
                "stabilizationWindowSeconds": 0,
                "tolerance": "0.05",
                "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
            },
            "scaleDown": {
                "stabilizationWindowSeconds": 300,
                "selectPolicy": "Min",
                "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
            },
        },
    },
    "status": {"currentReplicas": 3, "desiredReplicas": 3},
}

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["", "0", "-1", "1e400", "0.5", "1Ki", "100m", "NaN", "In", "Pods"])
)
_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found.extend(_paths(child, (*prefix, index)))
    return found


def _parent(document: Any, path: tuple[Any, ...]) -> Any:
    node = document
    for step in path[:-1]:
        node = node[step]
    return node


@st.composite
def mutated_manifests(draw: st.DrawFn) -> Any:
    document: Any = json.loads(json.dumps(MANIFEST))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(_paths(document)))
        if not path:
            document = draw(_values)
            continue
        parent, last = _parent(document, path), path[-1]
        operation = draw(st.sampled_from(["replace", "delete", "add"]))
        if operation == "replace":
            parent[last] = draw(_values)
        elif operation == "delete":
            del parent[last]
        elif isinstance(parent[last], dict):
            parent[last][draw(st.text(max_size=12))] = draw(_values)
        elif isinstance(parent[last], list):
            parent[last].append(draw(_values))
        if not isinstance(document, (dict, list)):
            break
    return document


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("specs") / "hpa.yaml"


def _load_and_read(path: Path) -> None:
    try:
        spec = load_spec(str(path), FeatureGates())
    except SpecError as err:
        assert str(path) in str(err), "the error names the file"
        assert "Traceback" not in str(err)
        return
    # What the command does next with a loaded spec: name its reads and targets.
    metric_reads([spec])
    for metric in spec.hpa.spec.metrics:
        target_of(metric)


def test_the_unmutated_manifest_loads(spec_file: Path) -> None:
    """The starting point is valid, so every mutation starts from a loading spec."""
    spec_file.write_text(yaml.safe_dump(MANIFEST))
    spec = load_spec(str(spec_file), FeatureGates())
    assert len(metric_reads([spec])) == 5


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_manifests())
def test_mutated_manifests_load_or_raise_spec_error(spec_file: Path, document: Any) -> None:
    spec_file.write_text(yaml.safe_dump(document, allow_unicode=True))
    _load_and_read(spec_file)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_cut_and_spliced_files_load_or_raise_spec_error(
    spec_file: Path, data: st.DataObject
) -> None:
    text = yaml.safe_dump(MANIFEST)
    start = data.draw(st.integers(min_value=0, max_value=len(text)))
    end = data.draw(st.integers(min_value=start, max_value=min(len(text), start + 40)))
    splice = data.draw(
        st.text(max_size=20)
        | st.sampled_from(["\t", ": [", "&a *a", "!!python/object:os.system", "\x00"])
    )
    spec_file.write_text(
        text[:start] + splice + text[end:], encoding="utf-8", errors="surrogatepass"
    )
    _load_and_read(spec_file)
