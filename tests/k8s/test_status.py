"""Status errors: codes, reasons, messages and the Status JSON the API server writes.

Each case restates a constructor of apimachinery `pkg/api/errors/errors.go` and the
metav1.Status JSON shape (field order and omitempty rules of `types.go`); the server
turns plain errors into code 500 without a reason (`ErrorToAPIStatus`).
"""

from __future__ import annotations

from typing import Any

import pytest

from adapter.k8s import status
from adapter.k8s.status import StatusError

HEAD = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}


def _status(**fields: Any) -> dict[str, Any]:
    return {**HEAD, **fields}


@pytest.mark.parametrize(
    ("error", "body"),
    [
        (
            status.not_found("", "pods", "web-0"),
            _status(
                message='pods "web-0" not found',
                reason="NotFound",
                details={"name": "web-0", "kind": "pods"},
                code=404,
            ),
        ),
        (
            status.not_found("apps", "deployments", "web"),
            _status(
                message='deployments.apps "web" not found',
                reason="NotFound",
                details={"name": "web", "group": "apps", "kind": "deployments"},
                code=404,
            ),
        ),
        (
            status.bad_request("unable to parse requirement: found '', expected: identifier"),
            _status(
                message="unable to parse requirement: found '', expected: identifier",
                reason="BadRequest",
                code=400,
            ),
        ),
        (
            status.internal_error("unable to fetch metrics"),
            _status(
                message="Internal error occurred: unable to fetch metrics",
                reason="InternalError",
                details={"causes": [{"message": "unable to fetch metrics"}]},
                code=500,
            ),
        ),
        (
            status.service_unavailable("the server is currently unable to handle the request"),
            _status(
                message="the server is currently unable to handle the request",
                reason="ServiceUnavailable",
                code=503,
            ),
        ),
        (
            status.forbidden(
                "",
                "pods",
                "",
                'User "system:anonymous" cannot list resource "pods" in API group "" '
                'in the namespace "default"',
            ),
            _status(
                message='pods is forbidden: User "system:anonymous" cannot list resource "pods" '
                'in API group "" in the namespace "default"',
                reason="Forbidden",
                details={"kind": "pods"},
                code=403,
            ),
        ),
        (
            status.forbidden("custom.metrics.k8s.io", "pods", "web-0", "no"),
            _status(
                message='pods.custom.metrics.k8s.io "web-0" is forbidden: no',
                reason="Forbidden",
                details={"name": "web-0", "group": "custom.metrics.k8s.io", "kind": "pods"},
                code=403,
            ),
        ),
        (
            # an empty GroupResource: "forbidden: <reason>" and an empty details object
            status.forbidden("", "", "", "User cannot get path /metrics"),
            _status(
                message="forbidden: User cannot get path /metrics",
                reason="Forbidden",
                details={},
                code=403,
            ),
        ),
        (
            status.unauthorized(""),
            _status(message="not authorized", reason="Unauthorized", code=401),
        ),
        (
            status.unauthorized("Unauthorized"),
            _status(message="Unauthorized", reason="Unauthorized", code=401),
        ),
        (
            status.conflict(
                "coordination.k8s.io",
                "leases",
                "metrics-adapter",
                "the object has been modified; please apply your changes to the latest "
                "version and try again",
            ),
            _status(
                message="Operation cannot be fulfilled on leases.coordination.k8s.io "
                '"metrics-adapter": the object has been modified; please apply your changes '
                "to the latest version and try again",
                reason="Conflict",
                details={
                    "name": "metrics-adapter",
                    "group": "coordination.k8s.io",
                    "kind": "leases",
                },
                code=409,
            ),
        ),
        (
            status.method_not_supported("custom.metrics.k8s.io", "pods", "create"),
            _status(
                message='create is not supported on resources of kind "pods.custom.metrics.k8s.io"',
                reason="MethodNotAllowed",
                details={"group": "custom.metrics.k8s.io", "kind": "pods"},
                code=405,
            ),
        ),
        (
            # NewTimeoutError always carries a details object, empty when no retry is given
            status.timeout(
                "request did not complete within requested timeout - context deadline exceeded"
            ),
            _status(
                message="Timeout: request did not complete within requested timeout - "
                "context deadline exceeded",
                reason="Timeout",
                details={},
                code=504,
            ),
        ),
        (
            status.too_many_requests("too many requests, please try again later", 1),
            _status(
                message="too many requests, please try again later",
                reason="TooManyRequests",
                details={"retryAfterSeconds": 1},
                code=429,
            ),
        ),
        (
            # a plain error: no reason, no details (custom-metrics-apiserver's 500s)
            status.generic(500, '"!=" is not a valid label selector operator'),
            _status(message='"!=" is not a valid label selector operator', code=500),
        ),
    ],
)
def test_status_bodies(error: StatusError, body: dict[str, Any]) -> None:
    assert error.to_status() == body
    # Go writes the fields in struct order: kind, apiVersion, metadata, status, message,
    # reason, details, code
    assert list(error.to_status()) == list(body)
    assert str(error) == body["message"]
    assert error.code == body["code"]


def test_invalid_aggregates_causes() -> None:
    """NewInvalid: causes keep type/message/field; the message joins `field: body`."""
    error = status.invalid(
        "autoscaling",
        "HorizontalPodAutoscaler",
        "web",
        [
            ("FieldValueInvalid", "spec.minReplicas", "Invalid value: 0: must be greater than 0"),
            ("FieldValueRequired", "spec.scaleTargetRef.name", "Required value"),
        ],
    )
    assert error.to_status() == _status(
        message='HorizontalPodAutoscaler.autoscaling "web" is invalid: '
        "[spec.minReplicas: Invalid value: 0: must be greater than 0, "
        "spec.scaleTargetRef.name: Required value]",
        reason="Invalid",
        details={
            "name": "web",
            "group": "autoscaling",
            "kind": "HorizontalPodAutoscaler",
            "causes": [
                {
                    "reason": "FieldValueInvalid",
                    "message": "Invalid value: 0: must be greater than 0",
                    "field": "spec.minReplicas",
                },
                {
                    "reason": "FieldValueRequired",
                    "message": "Required value",
                    "field": "spec.scaleTargetRef.name",
                },
            ],
        },
        code=422,
    )


def test_invalid_with_one_or_no_cause() -> None:
    one = status.invalid("", "Pod", "x", [("FieldValueRequired", "spec", "Required value")])
    assert one.message == 'Pod "x" is invalid: spec: Required value'
    none = status.invalid("", "Pod", "x", [])
    assert none.message == 'Pod "x" is invalid'
    assert "causes" not in none.to_status()["details"]


@pytest.mark.parametrize(
    ("code", "verb", "resource", "name", "server_message", "reason", "message"),
    [
        # NewGenericServerResponse: what client-go makes of a non-Status error body
        (404, "GET", "", "", "", "NotFound", "the server could not find the requested resource"),
        (
            404,
            "GET",
            "pods",
            "web-0",
            "",
            "NotFound",
            "the server could not find the requested resource (get pods web-0)",
        ),
        (409, "POST", "", "", "", "AlreadyExists", "the server reported a conflict"),
        (409, "PUT", "", "", "", "Conflict", "the server reported a conflict"),
        (403, "GET", "", "", "denied by webhook", "Forbidden", "denied by webhook"),
        (
            502,
            "GET",
            "",
            "",
            "bad gateway",
            "InternalError",
            'an error on the server ("bad gateway") has prevented the request from succeeding',
        ),
        (
            418,
            "GET",
            "",
            "",
            "teapot",
            "",
            "the server responded with the status code 418 but did not return more information",
        ),
    ],
)
def test_generic_server_response(
    code: int, verb: str, resource: str, name: str, server_message: str, reason: str, message: str
) -> None:
    error = status.generic_server_response(code, verb, "", resource, name, server_message)
    assert (error.code, error.reason, error.message) == (code, reason, message)


def test_from_status_reads_a_server_body() -> None:
    body = status.not_found("apps", "deployments", "web").to_status()
    error = StatusError.from_status(body, http_code=404)
    assert (error.code, error.reason, error.message) == (
        404,
        "NotFound",
        'deployments.apps "web" not found',
    )
    assert error.to_status() == body


def test_from_status_fills_missing_fields() -> None:
    error = StatusError.from_status({"kind": "Status", "status": "Failure"}, http_code=503)
    assert (error.code, error.reason, error.message, error.details) == (503, "", "", None)
    assert StatusError.from_status({"message": "boom"}).code == 500


def test_status_error_is_an_exception_with_the_message() -> None:
    with pytest.raises(StatusError, match='pods "x" not found'):
        raise status.not_found("", "pods", "x")
