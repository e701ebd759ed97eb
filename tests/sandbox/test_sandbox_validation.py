"""Specs the real server refuses are refused here too, with its 422 wording.

Cases written from kubernetes pkg/apis/autoscaling/validation (validateHorizontalPod-
AutoscalerSpec, validateResourceSource, validateMetricTarget) and pkg/apis/apps/
validation (ValidateDeploymentSpec); values are printed as apimachinery v1.36 prints
field errors (maps as JSON). Each manifest goes through the real `kubectl apply`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from support.kubectl import kubectl

from adapter.sandbox.store import ClusterState


def _hpa(api_version: str = "autoscaling/v2", **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "myblog"},
        "minReplicas": 1,
        "maxReplicas": 3,
    }
    base.update(spec)
    return {
        "apiVersion": api_version,
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "myblog", "namespace": "test"},
        "spec": base,
    }


def _deployment(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "myblog"}},
        "template": {
            "metadata": {"labels": {"app": "myblog"}},
            "spec": {"containers": [{"name": "web", "image": "myblog:1"}]},
        },
    }
    spec.update(changes)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "myblog", "namespace": "test"},
        "spec": spec,
    }


_CPU_NO_VALUE = [
    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization"}}}
]

CASES = [
    (
        # minReplicas defaults to 1 first, so both bounds checks fire, as on a cluster
        _hpa(maxReplicas=0, minReplicas=None),
        'The HorizontalPodAutoscaler "myblog" is invalid: \n'
        "* spec.maxReplicas: Invalid value: 0: must be greater than 0\n"
        "* spec.maxReplicas: Invalid value: 0: must be greater than or equal to `minReplicas`",
    ),
    (
        _hpa(minReplicas=5, maxReplicas=3),
        'The HorizontalPodAutoscaler "myblog" is invalid: spec.maxReplicas: Invalid value: 3: '
        "must be greater than or equal to `minReplicas`",
    ),
    (
        _hpa(metrics=_CPU_NO_VALUE),
        'The HorizontalPodAutoscaler "myblog" is invalid: '
        "spec.metrics[0].resource.target.averageUtilization: Required value: must set either "
        "a target raw value or a target utilization",
    ),
    (
        _hpa("autoscaling/v1", minReplicas=0),
        'The HorizontalPodAutoscaler "myblog" is invalid: spec.minReplicas: Invalid value: 0: '
        "must be greater than or equal to 1",
    ),
    (
        _deployment(selector={"matchLabels": {"app": "other"}}),
        'The Deployment "myblog" is invalid: spec.template.metadata.labels: Invalid value: '
        '{"app":"myblog"}: `selector` does not match template `labels`',
    ),
    (
        _deployment(selector={"matchLabels": {"app": "-bad-"}}),
        'The Deployment "myblog" is invalid: spec.selector: Invalid value: ',
    ),
    (
        _deployment(
            template={"metadata": {"labels": {"app": "myblog"}}, "spec": {"containers": []}}
        ),
        'The Deployment "myblog" is invalid: spec.template.spec.containers: Required value',
    ),
    (
        _deployment(replicas=-2),
        'The Deployment "myblog" is invalid: spec.replicas: Invalid value: -2: must be greater '
        "than or equal to 0",
    ),
]


@pytest.mark.parametrize(("manifest", "message"), CASES)
async def test_invalid_specs_are_422_naming_the_field(
    sandbox_kubeconfig: Path,
    cluster_state: ClusterState,
    tmp_path: Path,
    manifest: dict[str, Any],
    message: str,
) -> None:
    cluster_state.ensure_namespace("test")
    manifest["spec"] = {k: v for k, v in manifest["spec"].items() if v is not None}
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(manifest))
    result = await kubectl(sandbox_kubeconfig, "apply", "-f", str(path))
    assert result.returncode == 1
    assert result.stderr.strip().startswith(message), result.stderr
    assert (
        cluster_state.list(
            "horizontalpodautoscalers" if manifest["kind"] != "Deployment" else "deployments",
            "test",
        )
        == []
    )


async def test_a_valid_update_then_an_invalid_one(
    sandbox_kubeconfig: Path, cluster_state: ClusterState
) -> None:
    """Updates are validated too: `kubectl scale` to a negative count is refused by
    /scale, a patch making the HPA's bounds cross is refused by the HPA."""
    cluster_state.ensure_namespace("test")
    cluster_state.create(_hpa())
    result = await kubectl(
        sandbox_kubeconfig,
        "patch",
        "hpa",
        "myblog",
        "-n",
        "test",
        "-p",
        '{"spec":{"minReplicas":4}}',
    )
    assert result.returncode == 1
    assert "spec.maxReplicas: Invalid value: 3: must be greater than or equal to `minReplicas`" in (
        result.stderr
    )
    stored = cluster_state.get("horizontalpodautoscalers", "myblog", "test")
    assert stored is not None and stored["spec"]["minReplicas"] == 1
