"""Requests the HTTP parser refuses before any route sees them, answered as Kubernetes
Status documents.

aiohttp's parser rejects a request line or header it cannot read (a URL or header field
over its size limits, a method it does not know, raw bytes outside ASCII, no Host) and
by default answers in plain text and logs an ERROR with a traceback: a client could fill
the log at will. `StatusRequestHandler` answers those with a metav1.Status of the
right code (414 for a URL, 431 for header fields, 400 otherwise) and logs one line at
debug level. Everything after parsing, errors included, stays with the application's
middleware (`adapter.server.app`).

Limits follow Go's net/http where the apiserver relies on it: a request line of up to
1 MiB (`http.DefaultMaxHeaderBytes`), so URLs with thousands of object names pass.
Header fields keep aiohttp's 8,190 bytes each (Go bounds all headers together at 1 MiB
instead): no Kubernetes client sends a longer single header.

These answers carry no `Server` header, like every other answer (Go's net/http sends
none): the application's `on_response_prepare` hook that drops it elsewhere never runs
for a request that no route matched, so the responses built here drop it themselves.
"""

from __future__ import annotations

import logging
from typing import Final

from aiohttp import http_exceptions, web

from adapter.k8s import status
from adapter.server import responses

__all__ = [
    "MAX_FIELD_BYTES",
    "MAX_HEADERS",
    "MAX_REQUEST_LINE_BYTES",
    "StatusRequestHandler",
    "rejection",
]

log = logging.getLogger(__name__)

MAX_REQUEST_LINE_BYTES: Final = 1 << 20
"""Longest URL read: Go's `http.DefaultMaxHeaderBytes` (1 MiB)."""
MAX_FIELD_BYTES: Final = 8190
"""Longest header name or value read (aiohttp's default)."""
MAX_HEADERS: Final = 128
"""Most header fields read (aiohttp's default)."""


def rejection(error: http_exceptions.HttpProcessingError) -> status.StatusError:
    """The Status a request the parser refused gets. metav1 has no reason for 414 and
    431, so those carry none (as ErrorToAPIStatus leaves a code it has no reason for)."""
    if isinstance(error, http_exceptions.LineTooLong):
        limit = error.args[1] if len(error.args) > 1 else None
        if limit == MAX_REQUEST_LINE_BYTES:
            return status.generic(414, f"request URI longer than {MAX_REQUEST_LINE_BYTES} bytes")
        return status.generic(431, f"request header field longer than {MAX_FIELD_BYTES} bytes")
    reason = _first_line(error.message if isinstance(error.message, str) else "")
    if "too many headers" in reason.lower():
        return status.generic(431, f"more than {MAX_HEADERS} request header fields")
    return status.bad_request(f"malformed HTTP request: {reason or 'cannot be parsed'}")


def _first_line(message: str) -> str:
    """The parser's reason without the echoed request bytes and caret that follow it."""
    line = message.strip().splitlines()[0] if message.strip() else ""
    return line.rstrip(":").strip()[:200]


class _ServerlessResponse(web.Response):
    """A response that leaves out the `Server` header aiohttp adds to every answer.

    aiohttp sets the header while preparing the headers and offers no public switch; an
    application's `on_response_prepare` signal would drop it, but only requests matched
    to the application reach it, and the parser's refusals never are.
    """

    async def _prepare_headers(self) -> None:
        await super()._prepare_headers()
        self.headers.popall("Server", None)


def _serverless(response: web.Response) -> web.Response:
    body = response.body
    assert isinstance(body, bytes)
    answer = _ServerlessResponse(status=response.status, body=body, headers=response.headers)
    answer.force_close()
    return answer


class StatusRequestHandler(web.RequestHandler):
    """aiohttp's connection handler, answering the parser's refusals with a Status."""

    __slots__ = ()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if not isinstance(exc, http_exceptions.HttpProcessingError):
            # aiohttp's own answer (and its log line) for what escaped the application.
            plain = super().handle_error(request, status, exc, message)
            return _serverless(plain) if isinstance(plain, web.Response) else plain
        error = rejection(exc)
        log.debug("Refused a request from %s: %d %s", request.remote, error.code, error)
        if request.writer.output_size > 0:  # nothing more can be said on this connection
            raise ConnectionError("refused request after a response had started")
        return _serverless(responses.status_response(request, error))
