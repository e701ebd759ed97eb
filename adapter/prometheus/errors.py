"""The ways a call to Prometheus can fail, as one small exception tree.

Owns the classification only: `client` decides which class a failure belongs to and chains
the transport error as `__cause__`. Callers above (providers, discovery, the HPA loop) catch
by meaning: `PrometheusUnreachable` and `PrometheusTimeout` are transient and worth a retry
on the next tick, `PrometheusQueryError` means the rule's PromQL is wrong and retrying will
not help, `PrometheusServerError` is Prometheus' own trouble (overloaded, shutting down), and
`PrometheusResponseError` means something answered that did not speak the Prometheus API (a
proxy's HTML page, a truncated body, `data: null`).

Each error carries the URL path it was calling (never the host or any credentials in the
base URL), the HTTP status when there was one, and Prometheus' `errorType` when the body
had one, so a log line alone tells which call failed and why.
"""

from __future__ import annotations

import json

from adapter.k8s import gostrings

__all__ = [
    "PrometheusConfigError",
    "PrometheusError",
    "PrometheusQueryError",
    "PrometheusResponseError",
    "PrometheusServerError",
    "PrometheusTimeout",
    "PrometheusUnreachable",
]


class PrometheusError(Exception):
    """Any failed call to a Prometheus-compatible API."""

    def __init__(
        self,
        message: str,
        *,
        path: str = "",
        status: int | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        """URL path called, e.g. `/api/v1/query` (with any prefix of the base URL)."""
        self.status = status
        """HTTP status of the answer, or None when no answer came."""
        self.error_type = error_type
        """Prometheus' `errorType` (`bad_data`, `execution`, `timeout`, ...) when given."""


class PrometheusConfigError(PrometheusError, ValueError):
    """The client cannot be set up: bad URL or verb, unreadable token, CA or certificate file."""


class PrometheusUnreachable(PrometheusError, ConnectionError):
    """No answer: connection refused or reset, DNS failure, connection cut mid-answer."""


class PrometheusTimeout(PrometheusError, TimeoutError):
    """The caller's deadline passed, before the call or while waiting for the answer, or
    Prometheus itself gave up on the query within the `timeout` we sent it."""


class PrometheusQueryError(PrometheusError, ValueError):
    """Prometheus rejected the query (HTTP 400 `bad_data`, 422 `execution`): PromQL syntax
    errors, bad parameters, a query that cannot be evaluated. Retrying will not help."""


class PrometheusServerError(PrometheusError):
    """Prometheus answered with a 5xx: internal error, unavailable, overloaded, canceled."""


class PrometheusResponseError(PrometheusError):
    """An answer that is not a usable Prometheus API response: unexpected status code,
    unparseable or truncated body, `data: null`, a result of the wrong shape."""


def body_text(body: bytes | str, limit: int = 200) -> str:
    """An upstream answer's body for an error message: decoded as UTF-8 (bad bytes
    replaced), cut to `limit` characters and quoted as Go's %q quotes it, so a message
    reads `HTTP 500: "oops"`, never a Python bytes repr (`b'oops'`)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text.strip()
    if not text:
        return "(empty body)"
    cut = text[:limit]
    return gostrings.quote(cut) + ("..." if len(text) > limit else "")


def json_text(value: object, limit: int = 200) -> str:
    """A decoded JSON value for an error message, as JSON (not a Python repr)."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."
