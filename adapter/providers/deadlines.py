"""How long the request being answered may still take, for the queries it makes.

A Kubernetes client says how long it will wait with `?timeout=` (client-go sends it when
its request has a timeout, as the HPA controller's metrics clients do); the server
records that as an absolute event-loop time here, and every provider caps its
Prometheus calls by it, so the `timeout` sent to Prometheus is what is really left, never
more than the caller will wait and never negative (upstream PR #710 sent a negative one).
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar

REQUEST_DEADLINE: ContextVar[float | None] = ContextVar("request_deadline", default=None)
"""Absolute event-loop time by which the current API request must be answered."""


def query_deadline(query_timeout: float) -> float:
    """The deadline for a query made now: the provider's own limit or the request's, sooner."""
    own = asyncio.get_running_loop().time() + query_timeout
    requested = REQUEST_DEADLINE.get()
    return own if requested is None else min(own, requested)
