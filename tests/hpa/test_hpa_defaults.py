"""API defaulting and validation of autoscaling/v2 HPAs, as the API server applies them.

Pins pkg/apis/autoscaling/v2/defaults.go (SetDefaults_HorizontalPodAutoscaler,
GenerateHPAScaleUpRules/GenerateHPAScaleDownRules, copyHPAScalingRules) and
pkg/apis/autoscaling/validation/validation.go (validateHorizontalPodAutoscalerSpec,
validateMetricSpec and friends, validateScalingRules, validateScalingPolicy) and the
registry strategy's options (scale-to-zero lower bound, apiVersion checks).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from adapter.hpa.defaults import apply_defaults, validate_hpa
from adapter.hpa.wire import WireError


def _hpa(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 10,
        },
    }
    base["spec"].update(spec)
    return base


def _errors(
    hpa: dict[str, Any], *, scale_to_zero: bool = False, tolerance: bool = True
) -> list[str]:
    return [
        str(e)
        for e in validate_hpa(
            apply_defaults(hpa), scale_to_zero=scale_to_zero, configurable_tolerance=tolerance
        )
    ]


def test_min_replicas_and_cpu_metric_are_defaulted() -> None:
    """SetDefaults_HorizontalPodAutoscaler: minReplicas 1 and CPU at 80% when no metrics."""
    spec = apply_defaults(_hpa())["spec"]
    assert spec["minReplicas"] == 1
    assert spec["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80},
            },
        }
    ]
    assert "behavior" not in spec


def test_empty_metrics_list_is_defaulted_too() -> None:
    assert apply_defaults(_hpa(metrics=[]))["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_behavior_rules_are_filled_in() -> None:
    """GenerateHPAScaleUpRules/ScaleDownRules: 0s up window, Max of 4 pods or 100% per 15s;
    down: Max of 100% per 15s, window left unset for the controller's flag."""
    behavior = apply_defaults(_hpa(behavior={}))["spec"]["behavior"]
    assert behavior["scaleUp"] == {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ],
    }
    assert behavior["scaleDown"] == {
        "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
    }


def test_user_rules_win_field_by_field() -> None:
    """copyHPAScalingRules: only nil fields take the default; an empty list is not nil."""
    behavior = apply_defaults(
        _hpa(
            behavior={
                "scaleDown": {"stabilizationWindowSeconds": 60, "tolerance": "0.05"},
                "scaleUp": {"policies": []},
            }
        )
    )["spec"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 60
    assert behavior["scaleDown"]["tolerance"] == "0.05"
    assert behavior["scaleDown"]["selectPolicy"] == "Max"
    assert behavior["scaleUp"]["policies"] == []


def test_defaulting_is_idempotent_and_does_not_touch_input() -> None:
    original = _hpa(behavior={"scaleUp": {"selectPolicy": "Min"}})
    before = copy.deepcopy(original)
    once = apply_defaults(original)
    assert original == before
    assert apply_defaults(once) == once


def test_a_valid_hpa_has_no_errors() -> None:
    assert _errors(_hpa(behavior={})) == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"maxReplicas": 0}, "spec.maxReplicas: Invalid value: 0: must be greater than 0"),
        (
            {"minReplicas": 4, "maxReplicas": 3},
            "spec.maxReplicas: Invalid value: 3: must be greater than or equal to `minReplicas`",
        ),
        (
            {"minReplicas": 0},
            "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
        ),
        (
            {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment"}},
            "spec.scaleTargetRef.name: Required value",
        ),
        (
            {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deploy/ment", "name": "w"}},
            "spec.scaleTargetRef.kind: Invalid value: \"Deploy/ment\": may not contain '/'",
        ),
        (
            {"scaleTargetRef": {"apiVersion": "v1", "kind": "Deployment", "name": "w"}},
            'spec.scaleTargetRef.apiVersion: Invalid value: "v1": must specify a non-empty API group',
        ),
        (
            {
                "metrics": [
                    {
                        "type": "Pods",
                        "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue"}},
                    }
                ]
            },
            "spec.metrics[0].pods.target.averageValue: Required value: "
            "must specify a positive target averageValue",
        ),
        (
            {
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {
                                "type": "Utilization",
                                "averageUtilization": 50,
                                "averageValue": "1",
                            },
                        },
                    }
                ]
            },
            "spec.metrics[0].resource.target.averageValue: Forbidden: "
            "may not set both a target raw value and a target utilization",
        ),
        (
            {
                "metrics": [
                    {
                        "type": "Object",
                        "object": {
                            "describedObject": {"kind": "Service", "name": "s", "apiVersion": "v1"},
                            "metric": {"name": "qps"},
                            "target": {"type": "Value", "value": "-1"},
                        },
                    }
                ]
            },
            'spec.metrics[0].object.target.value: Invalid value: "-1": must be positive',
        ),
        (
            {
                "metrics": [
                    {
                        "type": "External",
                        "external": {
                            "metric": {"name": ""},
                            "target": {"type": "Value", "value": "1"},
                        },
                    }
                ]
            },
            "spec.metrics[0].external.metric.name: Required value: must specify a metric name",
        ),
        (
            {
                "metrics": [
                    {
                        "type": "Resource",
                        "pods": {
                            "metric": {"name": "qps"},
                            "target": {"type": "AverageValue", "averageValue": "1"},
                        },
                    }
                ]
            },
            "spec.metrics[0].resource: Required value: "
            "must populate information for the given metric source",
        ),
        (
            {
                "metrics": [
                    {
                        "type": "ContainerResource",
                        "containerResource": {
                            "name": "cpu",
                            "container": "",
                            "target": {"type": "Utilization", "averageUtilization": 50},
                        },
                    }
                ]
            },
            "spec.metrics[0].containerResource.container: Required value: must specify a container",
        ),
        (
            {
                "behavior": {
                    "scaleUp": {"policies": [{"type": "Pods", "value": 0, "periodSeconds": 15}]}
                }
            },
            "spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero",
        ),
        (
            {
                "behavior": {
                    "scaleDown": {
                        "policies": [{"type": "Replicas", "value": 1, "periodSeconds": 15}]
                    }
                }
            },
            'spec.behavior.scaleDown.policies[0].type: Unsupported value: "Replicas"',
        ),
        (
            {"behavior": {"scaleDown": {"stabilizationWindowSeconds": -1}}},
            "spec.behavior.scaleDown.stabilizationWindowSeconds: Invalid value: -1: "
            "must be greater than or equal to zero",
        ),
    ],
)
def test_validation_errors_name_the_field(spec: dict[str, Any], expected: str) -> None:
    errors = _errors(_hpa(**spec))
    assert any(e.startswith(expected) for e in errors), errors


def test_replication_controller_target_may_omit_the_group() -> None:
    """The registry strategy allows an empty API group only for ReplicationController."""
    rc = {"scaleTargetRef": {"apiVersion": "v1", "kind": "ReplicationController", "name": "rc"}}
    assert _errors(_hpa(**rc)) == []


def test_scale_to_zero_gate_lowers_the_bound_but_needs_object_or_external() -> None:
    assert _errors(_hpa(minReplicas=0), scale_to_zero=True) == [
        "spec.metrics: Forbidden: must specify at least one Object or External metric to "
        "support scaling to zero replicas"
    ]
    external = {
        "type": "External",
        "external": {"metric": {"name": "queue"}, "target": {"type": "Value", "value": "5"}},
    }
    assert _errors(_hpa(minReplicas=0, metrics=[external]), scale_to_zero=True) == []


def test_negative_tolerance_is_rejected_only_with_the_gate() -> None:
    """With HPAConfigurableTolerance off the API server drops the field instead."""
    hpa = _hpa(behavior={"scaleUp": {"tolerance": "-0.5"}})
    assert _errors(hpa, tolerance=False) == []
    assert _errors(hpa) == [
        'spec.behavior.scaleUp.tolerance: Invalid value: "-500m": must be greater or equal to zero'
    ]


def test_unknown_metric_type_is_unsupported() -> None:
    errors = _errors(_hpa(metrics=[{"type": "CheddarCheese"}]))
    assert errors[0].startswith('spec.metrics[0].type: Unsupported value: "CheddarCheese": ')


def test_two_sources_in_one_metric_are_forbidden() -> None:
    metric = {
        "type": "Pods",
        "pods": {
            "metric": {"name": "qps"},
            "target": {"type": "AverageValue", "averageValue": "1"},
        },
        "external": {"metric": {"name": "q"}, "target": {"type": "Value", "value": "1"}},
    }
    errors = _errors(_hpa(metrics=[metric]))
    assert (
        "spec.metrics[0].external: Forbidden: must populate the given metric source only" in errors
    )


def test_metadata_name_is_required() -> None:
    hpa = _hpa()
    del hpa["metadata"]["name"]
    assert _errors(hpa) == ["metadata.name: Required value: name or generateName is required"]


def test_wrong_json_types_fail_with_the_field() -> None:
    with pytest.raises(WireError) as caught:
        validate_hpa(
            apply_defaults(_hpa(maxReplicas="ten")),
            scale_to_zero=False,
            configurable_tolerance=True,
        )
    assert caught.value.path == "spec.maxReplicas"
