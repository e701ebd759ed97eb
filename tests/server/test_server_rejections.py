"""What the HTTPS listener answers to requests its HTTP parser refuses, and to plain HTTP,
over real sockets against the real server on loopback.

Pinned: a Kubernetes Status with the right code for each refusal (a URL over 1 MiB:
414; a header field over 8,190 bytes: 431; anything else unreadable: 400), URLs up to
1 MiB served as Go's net/http serves them (`http.DefaultMaxHeaderBytes`), one debug
line in the log and never a traceback or an ERROR (a client must not be able to fill
the log), no `Server` header (as on every other answer), and for plain HTTP on the HTTPS port Go's own answer (net/http server.go:
"Client sent an HTTP request to an HTTPS server.").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapter.server.app import create_app
from adapter.server.running import running
from adapter.server.sniffing import PLAIN_HTTP_RESPONSE
from adapter.settings import ServingSettings


@pytest.fixture
async def port(tmp_path: Path) -> AsyncIterator[int]:
    app = create_app(custom=None, external=None, readiness=lambda: True)
    settings = ServingSettings(secure_port=0, bind_address="127.0.0.1", cert_dir=str(tmp_path))
    async with running(app, settings) as url:
        yield int(url.rsplit(":", 1)[1])


def _client_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def _exchange(port: int, data: bytes, *, tls: bool = True) -> bytes:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=_client_tls() if tls else None
    )
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(30):
            return await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()


def _status(response: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = response.partition(b"\r\n\r\n")
    code = int(head.split(b" ", 2)[1])
    assert b"application/json" in head, head
    return code, json.loads(body)


def _assert_quiet(caplog: pytest.LogCaptureFixture) -> None:
    assert "Traceback" not in caplog.text
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert loud == [], [r.getMessage()[:200] for r in loud]


REFUSED = [
    ("url-over-1MiB", b"GET /apis?x=" + b"a" * (1 << 20) + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (
        "header-over-8190",
        b"GET /apis HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
        431,
    ),
    ("unknown-method", b"FOO /apis HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("lowercase-method", b"get /apis HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("raw-non-ascii", b"GET /apis/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("no-host", b"GET /apis HTTP/1.1\r\n\r\n", 400),
    ("binary", b"\x00\x01\x02\x03 \r\n\r\n", 400),
    ("bad-version", b"GET /apis HTTP/9.9\r\nHost: x\r\n\r\n", 400),
    ("bad-header-name", b"GET /apis HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400),
    (
        "too-many-headers",
        b"GET /apis HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-%d: 1\r\n" % i for i in range(200))
        + b"\r\n",
        431,
    ),
]


@pytest.mark.parametrize(
    ("request_bytes", "code"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
async def test_refused_requests_get_a_status(
    port: int, request_bytes: bytes, code: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await _exchange(port, request_bytes)
    got, document = _status(response)
    assert got == code
    # Go's net/http names no server; aiohttp would say "Python/3.x aiohttp/3.x".
    head = response.partition(b"\r\n\r\n")[0].lower()
    assert b"\r\nserver:" not in head, head
    assert document["kind"] == "Status" and document["status"] == "Failure"
    assert document["code"] == code
    if code == 400:
        assert document["reason"] == "BadRequest"
    assert str(document["message"])
    _assert_quiet(caplog)
    refusals = [r for r in caplog.records if r.name == "adapter.server.rejections"]
    assert len(refusals) == 1 and refusals[0].levelno == logging.DEBUG


async def test_urls_up_to_1MiB_are_served(port: int, caplog: pytest.LogCaptureFixture) -> None:
    # Go's server reads up to 1 MiB of request line and headers; so do we.
    caplog.set_level(logging.DEBUG)
    query = b"a" * ((1 << 20) - 100)
    response = await _exchange(
        port, b"GET /apis?x=" + query + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    code, document = _status(response)
    assert code == 200 and document["kind"] == "APIGroupList"
    _assert_quiet(caplog)


async def test_plain_http_gets_gos_answer(port: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    response = await _exchange(port, b"GET /apis HTTP/1.1\r\nHost: x\r\n\r\n", tls=False)
    assert response == PLAIN_HTTP_RESPONSE
    assert b"Client sent an HTTP request to an HTTPS server." in response
    _assert_quiet(caplog)


async def test_plain_http_in_pieces(port: int) -> None:
    """A request line arriving a few bytes at a time is still recognised."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for piece in (b"PO", b"ST", b" /apis HTTP/1.1\r\nHost: x\r\n\r\n"):
        writer.write(piece)
        await writer.drain()
        await asyncio.sleep(0.05)
    async with asyncio.timeout(30):
        response = await reader.read()
    writer.close()
    await writer.wait_closed()
    assert response == PLAIN_HTTP_RESPONSE


async def test_neither_tls_nor_http_is_dropped_quietly(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await _exchange(port, b"\x00\x01\x02\x03\x04\x05garbage\r\n", tls=False)
    assert response == b""
    _assert_quiet(caplog)


async def test_tls_still_serves_after_refusals(port: int) -> None:
    await _exchange(port, b"FOO / HTTP/1.1\r\n\r\n")
    await _exchange(port, b"GET / HTTP/1.1\r\n\r\n", tls=False)
    response = await _exchange(port, b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 200 ")
    assert response.endswith(b"ok")


async def test_access_log_cuts_long_uris(port: int, caplog: pytest.LogCaptureFixture) -> None:
    # A 1 MiB URL is served, but its access-log line stays small and says what was cut.
    caplog.set_level(logging.INFO, logger="adapter.server.access")
    query = "a" * ((1 << 20) - 100)
    path = f"/apis?x={query}"
    await _exchange(
        port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode("ascii")
    )
    await _exchange(port, b"GET /livez?short=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    lines = [r.getMessage() for r in caplog.records if r.name == "adapter.server.access"]
    long_line, short_line = lines
    assert len(long_line) < 4096 + 300
    cut = len(path) - 4096
    assert f'URI="{path[:4096]}...({cut} more characters)"' in long_line
    assert 'URI="/livez?short=1"' in short_line
