"""A small HTTP proxy in front of the real Prometheus, for fault tests.

Owns: forwarding requests unchanged (bytes, headers, compression) to an upstream, and
breaking that on demand - delaying, answering with an error status and a Prometheus-style
error body, cutting the connection before or in the middle of the answer - while recording
every request it saw (method, path, query and form parameters, headers). Tests switch the
mode at any time by assigning `proxy.mode`. Prometheus itself stays real: the proxy never
invents a successful answer.

Runs in the test's event loop (aiohttp server on a free 127.0.0.1 port); `async with
FaultProxy(upstream_url) as proxy:` starts and stops it. The pytest fixture is in
`tests/conftest.py`; the Prometheus behind it in `tests/support/prometheus.py`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self
from urllib.parse import parse_qsl

import aiohttp
import orjson
from aiohttp import web
from yarl import URL

__all__ = [
    "Cut",
    "Delay",
    "FaultProxy",
    "Mode",
    "PassThrough",
    "Reply",
    "SeenRequest",
]

# Headers that describe one hop, not the message; aiohttp sets its own.
_HOP_HEADERS = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Host",
        "Content-Length",
    )
)


@dataclass(frozen=True, slots=True)
class PassThrough:
    """Forward unchanged."""


@dataclass(frozen=True, slots=True)
class Delay:
    """Wait `seconds`, then forward (or give up quietly when the proxy stops)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Reply:
    """Answer `status` without asking upstream; the default body is Prometheus' error
    envelope (`{"status":"error","errorType":...,"error":...}`)."""

    status: int = 503
    error_type: str = "unavailable"
    error: str = "injected by fault proxy"
    body: bytes | None = None
    content_type: str = "application/json"

    def payload(self) -> bytes:
        if self.body is not None:
            return self.body
        return orjson.dumps({"status": "error", "errorType": self.error_type, "error": self.error})


@dataclass(frozen=True, slots=True)
class Cut:
    """Close the connection without an answer; with `after_bytes`, forward the upstream
    answer's headers and that many body bytes first, then close mid-body."""

    after_bytes: int | None = None


Mode = PassThrough | Delay | Reply | Cut


@dataclass(frozen=True, slots=True)
class SeenRequest:
    """One request as it reached the proxy."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    form: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]

    def params(self, name: str) -> list[str]:
        """Values of a parameter from the query string and the form body, as Prometheus
        reads them (Go's `Request.FormValue` merges both)."""
        return [v for k, v in (*self.form, *self.query) if k == name]

    def param(self, name: str) -> str | None:
        values = self.params(name)
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


@dataclass
class FaultProxy:
    """Proxy to `upstream` (a base URL); `url` is where clients should connect."""

    upstream: str
    mode: Mode = field(default_factory=PassThrough)
    requests: list[SeenRequest] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def seen(self, path_suffix: str = "") -> list[SeenRequest]:
        """Requests whose path ends with `path_suffix` (all when empty)."""
        return [r for r in self.requests if r.path.endswith(path_suffix)]

    async def start(self) -> Self:
        # auto_decompress=False: bytes go back exactly as upstream sent them, with their
        # Content-Encoding, so the client under test decodes what Prometheus produced.
        app = web.Application(client_max_size=64 << 20)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        try:
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        except BaseException:
            await self.stop()
            raise
        self.port = int(self._runner.addresses[0][1])
        self._session = aiohttp.ClientSession(auto_decompress=False)
        return self

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- the handler -------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        form: Sequence[tuple[str, str]] = ()
        if request.content_type == "application/x-www-form-urlencoded":
            form = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        self.requests.append(
            SeenRequest(
                method=request.method,
                path=request.path,
                query=tuple(request.query.items()),
                form=tuple(form),
                headers=tuple(request.headers.items()),
            )
        )
        mode = self.mode
        if isinstance(mode, Reply):
            return web.Response(
                status=mode.status, body=mode.payload(), content_type=mode.content_type
            )
        if isinstance(mode, Cut) and mode.after_bytes is None:
            return self._cut(request)
        if isinstance(mode, Delay):
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=mode.seconds)
                return self._cut(request)  # proxy stopping: nobody waits any more
            except TimeoutError:
                pass
        return await self._forward(request, body, mode)

    @staticmethod
    def _cut(request: web.Request) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:
            transport.abort()
        # aiohttp writes nothing on a closed transport; the client sees the connection
        # drop without a status line.
        raise asyncio.CancelledError

    async def _forward(self, request: web.Request, body: bytes, mode: Mode) -> web.StreamResponse:
        assert self._session is not None
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS]
        target = self.upstream.rstrip("/") + request.rel_url.raw_path_qs
        async with self._session.request(
            request.method,
            URL(target, encoded=True),
            headers=headers,
            data=body if body else None,
            allow_redirects=False,
        ) as upstream:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for key, value in upstream.headers.items():
                if key.lower() not in _HOP_HEADERS:
                    response.headers.add(key, value)
            await response.prepare(request)
            budget = mode.after_bytes if isinstance(mode, Cut) else None
            async for chunk in upstream.content.iter_chunked(1 << 16):
                if budget is not None:
                    if len(chunk) >= budget:
                        await response.write(chunk[:budget])
                        return self._cut(request)
                    budget -= len(chunk)
                await response.write(chunk)
            await response.write_eof()
            return response
