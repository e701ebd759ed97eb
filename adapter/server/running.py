"""Running the application on its HTTPS listener, and stopping it cleanly.

Owns the AppRunner lifecycle: `running()` (an async context manager, for tests and for
callers that run other tasks beside the server) and `serve()` (the process's main
serving loop, until SIGTERM or SIGINT). Shutdown is bounded: on a signal `/readyz` starts
failing, the listener closes, in-flight requests get `shutdown_timeout` seconds to
finish, then whatever is left is cancelled. The application itself is
`adapter.server.app`'s; the TLS context `adapter.server.tls`'; the listener, which
answers plain HTTP as Go does, `adapter.server.sniffing`'; the parser's own refusals
`adapter.server.rejections`'.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
from collections.abc import AsyncIterator, Callable
from typing import Final

from aiohttp import web

from adapter.server import rejections, sniffing, tls
from adapter.server.accesslog import KlogAccessLogger
from adapter.server.state import AUTHENTICATOR, LIFECYCLE
from adapter.settings import ServingSettings

log = logging.getLogger(__name__)

DEFAULT_SHUTDOWN_TIMEOUT: Final = 60.0
"""Seconds in-flight requests may take after a stop signal; the apiserver's default."""


def _url_host(host: str) -> str:
    """A host for a client URL: wildcard binds are reached through loopback."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.is_unspecified:
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    return f"[{address}]" if address.version == 6 else str(address)


@contextlib.asynccontextmanager
async def running(
    app: web.Application,
    settings: ServingSettings,
    *,
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
) -> AsyncIterator[str]:
    """Serve `app` over HTTPS while the block runs; yields the base URL
    (`https://127.0.0.1:<port>`, with the real port when `secure_port` is 0)."""
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log_class=KlogAccessLogger,
        shutdown_timeout=shutdown_timeout,
    )
    await runner.setup()  # start-up hooks first: they may load the client CAs
    try:
        context = tls.ssl_context(settings)
        authenticator = app.get(AUTHENTICATOR)
        if authenticator is not None:
            authenticator.attach(context)
        server, loop = runner.server, asyncio.get_running_loop()
        assert server is not None
        site = sniffing.SniffingTLSSite(
            runner,
            settings.bind_address,
            settings.secure_port,
            ssl_context=context,
            handler_factory=lambda: rejections.StatusRequestHandler(
                server,
                loop=loop,
                access_log_class=KlogAccessLogger,
                max_line_size=rejections.MAX_REQUEST_LINE_BYTES,
                max_field_size=rejections.MAX_FIELD_BYTES,
                max_headers=rejections.MAX_HEADERS,
            ),
        )
        await site.start()
        host, port = runner.addresses[0][:2]
        log.info("Serving securely on %s", _listen_text(str(host), int(port)))
        yield f"https://{_url_host(str(host))}:{port}"
    finally:
        app[LIFECYCLE].shutting_down = True
        await runner.cleanup()


def _listen_text(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def serve(
    app: web.Application,
    settings: ServingSettings,
    *,
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    on_serving: Callable[[str], object] | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT, then shut down within `shutdown_timeout`.

    `on_serving` is called with the base URL once the listener accepts connections
    (the CLI may log it; tests wait for it instead of polling the port).
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGTERM, signal.SIGINT)
    for signum in signals:
        loop.add_signal_handler(signum, _on_signal, stop, signum)
    try:
        async with running(app, settings, shutdown_timeout=shutdown_timeout) as base_url:
            if on_serving is not None:
                on_serving(base_url)
            await stop.wait()
            app[LIFECYCLE].shutting_down = True
            log.info("Shutting down: draining in-flight requests for up to %gs", shutdown_timeout)
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
    log.info("Stopped serving")


def _on_signal(stop: asyncio.Event, signum: signal.Signals) -> None:
    log.info("Received %s", signum.name)
    stop.set()
