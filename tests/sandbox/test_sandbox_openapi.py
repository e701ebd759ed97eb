"""`kubectl explain` works against the sandbox (OpenAPI v3, as kubectl 1.27+ reads it).

kubectl reads `/openapi/v3`, the group-version document it points to, and walks the
schema carrying the kind's `x-kubernetes-group-version-kind` through `allOf`/`$ref`
(staging/src/k8s.io/kubectl/pkg/explain/v2 and the document layout of
staging/src/k8s.io/kube-openapi's v3 spec, schema names as the Go packages'), so the
field types print as the referenced type names and `required` fields are marked.
"""

from __future__ import annotations

from pathlib import Path

from support.kubectl import kubectl


async def test_explain_hpa_behavior(sandbox_kubeconfig: Path) -> None:
    out = (await kubectl(sandbox_kubeconfig, "explain", "hpa.spec.behavior")).check().stdout
    assert "KIND:       HorizontalPodAutoscaler" in out
    assert "VERSION:    v2" in out
    assert "FIELD: behavior <HorizontalPodAutoscalerBehavior>" in out
    assert "  scaleDown\t<HPAScalingRules>" in out
    assert "  scaleUp\t<HPAScalingRules>" in out
    policies = (
        await kubectl(sandbox_kubeconfig, "explain", "hpa.spec.behavior.scaleDown.policies")
    ).check()
    assert "FIELD: policies <[]HPAScalingPolicy>" in policies.stdout
    assert "  periodSeconds\t<integer> -required-" in policies.stdout


async def test_explain_deployment_replicas_and_the_pod_template(sandbox_kubeconfig: Path) -> None:
    out = (await kubectl(sandbox_kubeconfig, "explain", "deployment.spec.replicas")).check().stdout
    assert "KIND:       Deployment" in out
    assert "FIELD: replicas <integer>" in out
    resources = (
        await kubectl(
            sandbox_kubeconfig, "explain", "deployment.spec.template.spec.containers.resources"
        )
    ).check()
    assert "  requests\t<map[string]Quantity>" in resources.stdout


async def test_explain_v1_hpa_and_a_kind_outside_the_table(sandbox_kubeconfig: Path) -> None:
    v1 = (
        await kubectl(sandbox_kubeconfig, "explain", "hpa.spec", "--api-version=autoscaling/v1")
    ).check()
    assert "VERSION:    v1" in v1.stdout
    assert "  targetCPUUtilizationPercentage\t<integer>" in v1.stdout
    assert "  maxReplicas\t<integer> -required-" in v1.stdout
    pods = (await kubectl(sandbox_kubeconfig, "explain", "pods")).check().stdout
    assert "KIND:       Pod" in pods
    assert "  metadata\t<ObjectMeta>" in pods
