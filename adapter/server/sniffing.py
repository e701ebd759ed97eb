"""The HTTPS listener, answering plain HTTP sent to it the way Go's server does.

A client that speaks plain HTTP to the HTTPS port (a wrong `http://` URL, a probe
without `scheme: HTTPS`) gets, from Go's net/http, `400 Bad Request` with "Client sent
an HTTP request to an HTTPS server." and can tell what went wrong; a TLS stack alone just
drops the connection. `SniffingTLSSite` looks at the first five bytes of each connection
without consuming them, as Go looks at the TLS record header: if they read like the
start of an HTTP request (`tlsRecordHeaderLooksLikeHTTP` in net/http's server.go) it
sends Go's answer and closes; otherwise the untouched connection is handed to asyncio's
TLS with the connection handler aiohttp would use.

Owns accepting connections and that first look; the TLS context is
`adapter.server.tls`', the per-connection HTTP handling aiohttp's (with
`adapter.server.rejections`' answers), the lifecycle `adapter.server.running`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable
from typing import Final

from aiohttp import web

__all__ = ["PLAIN_HTTP_RESPONSE", "SniffingTLSSite"]

log = logging.getLogger(__name__)

PLAIN_HTTP_RESPONSE: Final = (
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
)
"""Go's net/http answer, byte for byte."""

_HTTP_STARTS: Final = (b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIO")
"""What Go takes for HTTP in place of a TLS record header."""

FIRST_BYTES_TIMEOUT: Final = 60.0
"""Seconds a new connection may take to send its first five bytes (asyncio's TLS
handshake timeout, which would otherwise apply)."""


def looks_like_http(head: bytes) -> bool:
    return head[:5] in _HTTP_STARTS


class _Accepted(asyncio.Protocol):
    """Takes each accepted connection off the plain listener: the socket is duplicated
    for the site to look at, and this transport closed (the duplicate keeps the
    connection open)."""

    def __init__(self, site: SniffingTLSSite) -> None:
        self._site = site

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.pause_reading()
        raw = transport.get_extra_info("socket")
        try:
            conn = socket.fromfd(raw.fileno(), raw.family, raw.type)
        except OSError as err:
            log.debug("Dropped a connection: %s", err)
            transport.abort()
            return
        transport.close()
        conn.setblocking(False)
        self._site.accepted(conn)


class SniffingTLSSite(web.BaseSite):
    """A TCP site serving TLS, with Go's answer for plain HTTP (see the module)."""

    __slots__ = ("_handler_factory", "_host", "_port", "_tasks")

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext,
        handler_factory: Callable[[], asyncio.Protocol],
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context)
        self._host = host
        self._port = port
        self._handler_factory = handler_factory
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def name(self) -> str:
        return f"https://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Accepted(self), self._host, self._port, reuse_address=True
        )

    async def stop(self) -> None:
        await super().stop()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def accepted(self, conn: socket.socket) -> None:
        task = asyncio.get_running_loop().create_task(
            self._serve(conn), name=f"https-connection-{conn.fileno()}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        handed_over = False
        try:
            async with asyncio.timeout(FIRST_BYTES_TIMEOUT):
                head = await _peek(loop, conn, 5)
            if not head:
                return
            if looks_like_http(head):
                log.debug("Plain HTTP on the HTTPS port from %s", _peer(conn))
                await loop.sock_sendall(conn, PLAIN_HTTP_RESPONSE)
                await _close_gently(loop, conn)
                return
            assert self._ssl_context is not None
            await loop.connect_accepted_socket(self._handler_factory, conn, ssl=self._ssl_context)
            handed_over = True
        except (OSError, TimeoutError, EOFError) as err:  # ssl.SSLError is an OSError
            log.debug("TLS connection from %s failed: %s", _peer(conn), err)
        finally:
            if not handed_over:
                conn.close()


async def _peek(loop: asyncio.AbstractEventLoop, conn: socket.socket, size: int) -> bytes:
    """Up to `size` bytes at the front of the connection, left there for TLS to read.

    Returns as soon as the bytes can no longer read as HTTP (a TLS handshake starts with
    0x16), or `size` have arrived, or the peer closed (b"")."""
    while True:
        try:
            head = conn.recv(size, socket.MSG_PEEK)
        except BlockingIOError:
            head = None
        if head is not None:
            if len(head) >= size or not head or not any(s.startswith(head) for s in _HTTP_STARTS):
                return head
            await asyncio.sleep(0.01)  # part of a prefix: the readiness would not change
            continue
        ready = loop.create_future()
        loop.add_reader(conn.fileno(), _set_done, ready)
        try:
            await ready
        finally:
            loop.remove_reader(conn.fileno())


async def _close_gently(loop: asyncio.AbstractEventLoop, conn: socket.socket) -> None:
    """End our side, then read what the client still sends for a moment: closing with
    its request unread would reset the connection and could lose the answer."""
    with contextlib.suppress(OSError, TimeoutError):
        conn.shutdown(socket.SHUT_WR)
        async with asyncio.timeout(1.0):
            for _ in range(64):
                if not await loop.sock_recv(conn, 65536):
                    break


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _peer(conn: socket.socket) -> str:
    with contextlib.suppress(OSError):
        return str(conn.getpeername()[0])
    return "?"
