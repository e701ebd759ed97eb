"""Kubernetes API errors: `metav1.Status` bodies and the constructors that make them.

Owns the error vocabulary of apimachinery's `api/errors` package: codes, reasons,
messages worded byte for byte as the API server words them (`pods "x" not found`,
`Internal error occurred: ...`), and the Status JSON object the server writes, with
Go's omitempty rules. Users and tools (kubectl, the HPA controller's events) show these
messages verbatim, so they must read the same. Writing the body to a response is the
server's job (`adapter.server`); reading one from a response is `adapter.cluster`'s.

Strings inside messages are quoted as Go's `%q` does (`adapter.k8s.gostrings`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from adapter.k8s.gostrings import quote as go_quote

__all__ = [
    "StatusBody",
    "StatusCauseDict",
    "StatusDetailsDict",
    "StatusError",
    "bad_request",
    "conflict",
    "forbidden",
    "generic",
    "generic_server_response",
    "internal_error",
    "invalid",
    "method_not_supported",
    "not_found",
    "service_unavailable",
    "timeout",
    "too_many_requests",
    "unauthorized",
]


class StatusCauseDict(TypedDict, total=False):
    """`metav1.StatusCause` on the wire (the cause type is serialised as "reason")."""

    reason: str
    message: str
    field: str


class StatusDetailsDict(TypedDict, total=False):
    """`metav1.StatusDetails` on the wire."""

    name: str
    group: str
    kind: str
    uid: str
    causes: list[StatusCauseDict]
    retryAfterSeconds: int


class StatusBody(TypedDict, total=False):
    """`metav1.Status` on the wire."""

    kind: str
    apiVersion: str
    metadata: dict[str, Any]
    status: str
    message: str
    reason: str
    details: StatusDetailsDict
    code: int


class StatusError(Exception):
    """An API error as a Status: what the server answers and what a client reads back.

    `details` None means the Status has no details object at all; an empty mapping
    means an empty one (`"details":{}`), which Go writes for, e.g., timeouts. The
    string form is the message, as `StatusError.Error()` is in Go.
    """

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"StatusError({self.code}, {self.reason!r}, {self.message!r})"

    def to_status(self) -> dict[str, Any]:
        """The Status object as the API server serialises it, fields in Go's order."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
        }
        if self.message:
            body["message"] = self.message
        if self.reason:
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = _details_json(self.details)
        # The server gives a Failure without a code 500 (ErrorToAPIStatus).
        body["code"] = self.code or 500
        return body

    @classmethod
    def from_status(cls, body: Mapping[str, Any], *, http_code: int | None = None) -> StatusError:
        """Rebuild the error from a Status body a server sent.

        The body's own code wins; without one the HTTP status code is used, and 500
        when neither is known (as the API server defaults a Failure without a code).
        """
        code = body.get("code")
        if not isinstance(code, int) or isinstance(code, bool) or code == 0:
            code = http_code or 500
        reason = body.get("reason")
        message = body.get("message")
        details = body.get("details")
        return cls(
            code,
            reason if isinstance(reason, str) else "",
            message if isinstance(message, str) else "",
            details if isinstance(details, Mapping) else None,
        )


def _details_json(details: Mapping[str, Any]) -> dict[str, Any]:
    """Details in `metav1.StatusDetails` field order, empty fields omitted."""
    out: dict[str, Any] = {}
    for key in ("name", "group", "kind", "uid"):
        value = details.get(key)
        if value:
            out[key] = value
    causes = details.get("causes")
    if causes:
        out["causes"] = [
            {key: cause[key] for key in ("reason", "message", "field") if cause.get(key)}
            for cause in causes
        ]
    retry = details.get("retryAfterSeconds")
    if retry:
        out["retryAfterSeconds"] = retry
    for key, value in details.items():
        if key not in out and key not in _KNOWN_DETAIL_KEYS and value:
            out[key] = value
    return out


_KNOWN_DETAIL_KEYS = frozenset({"name", "group", "kind", "uid", "causes", "retryAfterSeconds"})


def _group_resource(group: str, resource: str) -> str:
    """`schema.GroupResource.String()`."""
    return f"{resource}.{group}" if group else resource


def _group_kind(group: str, kind: str) -> str:
    """`schema.GroupKind.String()`."""
    return f"{kind}.{group}" if group else kind


def _object_details(group: str, kind: str, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    return details


# --- constructors (k8s.io/apimachinery/pkg/api/errors) ---------------------------------


def not_found(group: str, resource: str, name: str) -> StatusError:
    """`NewNotFound`: 404 NotFound, `pods "x" not found`."""
    return StatusError(
        404,
        "NotFound",
        f"{_group_resource(group, resource)} {go_quote(name)} not found",
        _object_details(group, resource, name),
    )


def bad_request(message: str) -> StatusError:
    """`NewBadRequest`: 400 BadRequest with the message as given, no details."""
    return StatusError(400, "BadRequest", message)


def internal_error(cause: str) -> StatusError:
    """`NewInternalError`: 500 InternalError, the cause repeated as details.causes[0]."""
    return StatusError(
        500,
        "InternalError",
        f"Internal error occurred: {cause}",
        {"causes": [{"message": cause}]},
    )


def service_unavailable(message: str) -> StatusError:
    """`NewServiceUnavailable`: 503 ServiceUnavailable, no details."""
    return StatusError(503, "ServiceUnavailable", message)


def forbidden(group: str, resource: str, name: str, reason: str) -> StatusError:
    """`NewForbidden`: 403 Forbidden; the wording depends on which parts are known."""
    if not group and not resource:
        message = f"forbidden: {reason}"
    elif not name:
        message = f"{_group_resource(group, resource)} is forbidden: {reason}"
    else:
        message = f"{_group_resource(group, resource)} {go_quote(name)} is forbidden: {reason}"
    return StatusError(403, "Forbidden", message, _object_details(group, resource, name))


def unauthorized(message: str) -> StatusError:
    """`NewUnauthorized`: 401 Unauthorized, "not authorized" when no message is given."""
    return StatusError(401, "Unauthorized", message or "not authorized")


def conflict(group: str, resource: str, name: str, cause: str) -> StatusError:
    """`NewConflict`: 409 Conflict, `Operation cannot be fulfilled on ...`."""
    return StatusError(
        409,
        "Conflict",
        f"Operation cannot be fulfilled on {_group_resource(group, resource)} "
        f"{go_quote(name)}: {cause}",
        _object_details(group, resource, name),
    )


def invalid(
    group: str, kind: str, name: str, causes: Sequence[tuple[str, str, str]]
) -> StatusError:
    """`NewInvalid`: 422 Invalid.

    Each cause is (type, field, message) as it appears in details.causes, e.g.
    ("FieldValueInvalid", "spec.minReplicas", "Invalid value: 0: must be greater than
    or equal to 1"); the Status message aggregates them as `field: message`.
    """
    cause_list = [
        {
            key: value
            for key, value in (("reason", kind_), ("message", msg), ("field", path))
            if value
        }
        for kind_, path, msg in causes
    ]
    subject = f"{_group_kind(group, kind)} {go_quote(name)} is invalid"
    errors = list(dict.fromkeys(f"{path}: {msg}" for _, path, msg in causes))
    if not errors:
        message = subject
    elif len(errors) == 1:
        message = f"{subject}: {errors[0]}"
    else:
        message = f"{subject}: [{', '.join(errors)}]"
    details = _object_details(group, kind, name)
    if cause_list:
        details["causes"] = cause_list
    return StatusError(422, "Invalid", message, details)


def method_not_supported(group: str, resource: str, verb: str) -> StatusError:
    """`NewMethodNotSupported`: 405 MethodNotAllowed."""
    gr = _group_resource(group, resource)
    return StatusError(
        405,
        "MethodNotAllowed",
        f"{verb} is not supported on resources of kind {go_quote(gr)}",
        _object_details(group, resource, ""),
    )


def timeout(message: str, retry_after_seconds: int = 0) -> StatusError:
    """`NewTimeoutError`: 504 Timeout, `Timeout: <message>`, details always present."""
    details: dict[str, Any] = {}
    if retry_after_seconds:
        details["retryAfterSeconds"] = retry_after_seconds
    return StatusError(504, "Timeout", f"Timeout: {message}", details)


def too_many_requests(message: str, retry_after_seconds: int = 0) -> StatusError:
    """`NewTooManyRequests`: 429 TooManyRequests, details always present."""
    details: dict[str, Any] = {}
    if retry_after_seconds:
        details["retryAfterSeconds"] = retry_after_seconds
    return StatusError(429, "TooManyRequests", message, details)


def generic(code: int, message: str, reason: str = "") -> StatusError:
    """A plain error turned into a Status, as the API server does for non-Status errors.

    Upstream's `ErrorToAPIStatus` gives such an error code 500 and an empty (unknown)
    reason; custom-metrics-apiserver returns some errors this way.
    """
    return StatusError(code, reason, message)


_GENERIC_RESPONSES: dict[int, tuple[str, str | None]] = {
    400: ("BadRequest", "the server rejected our request for an unknown reason"),
    401: ("Unauthorized", "the server has asked for the client to provide credentials"),
    403: ("Forbidden", None),
    404: ("NotFound", "the server could not find the requested resource"),
    405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
    415: ("UnsupportedMediaType", None),
    422: ("Invalid", "the server rejected our request due to an error in our request"),
    429: (
        "TooManyRequests",
        "the server has received too many requests and has asked us to try again later",
    ),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: (
        "Timeout",
        "the server was unable to return a response in the time allotted, "
        "but may still be processing the request",
    ),
}


def generic_server_response(
    code: int,
    verb: str,
    group: str,
    resource: str,
    name: str,
    server_message: str,
    retry_after_seconds: int = 0,
    *,
    unexpected_response: bool = False,
) -> StatusError:
    """`NewGenericServerResponse`: what client-go makes of a non-Status error response."""
    reason = ""
    message = (
        f"the server responded with the status code {code} but did not return more information"
    )
    if code == 409:
        reason = "AlreadyExists" if verb == "POST" else "Conflict"
        message = "the server reported a conflict"
    elif code == 406:
        reason = "NotAcceptable"
        message = (
            server_message
            if server_message and server_message != "unknown"
            else "the server was unable to respond with a content type that the client supports"
        )
    elif code in _GENERIC_RESPONSES:
        reason, fixed = _GENERIC_RESPONSES[code]
        message = server_message if fixed is None else fixed
    elif code >= 500:
        reason = "InternalError"
        message = (
            f"an error on the server ({go_quote(server_message)}) "
            "has prevented the request from succeeding"
        )
    gr = _group_resource(group, resource)
    if (group or resource) and name:
        message = f"{message} ({verb.lower()} {gr} {name})"
    elif group or resource:
        message = f"{message} ({verb.lower()} {gr})"
    details = _object_details(group, resource, name)
    if unexpected_response:
        details["causes"] = [{"reason": "UnexpectedServerResponse", "message": server_message}]
    if retry_after_seconds:
        details["retryAfterSeconds"] = retry_after_seconds
    return StatusError(code, reason, message, details)
