"""myblog: the web app of the walkthrough, as one pod container of the sandbox.

Owns what a pod of the demo does with a request, so that the numbers an HPA sees come
from real work: every `GET /` burns some CPU (hashing, measured in the thread's own CPU
time) and then waits a little (a stand-in for the database of a real blog), and the
process holds some memory from start to end. Readiness follows the real start-up: `/healthz`
answers 503 until the memory is allocated and the start-up delay is over. `/metrics`
exports the app's own series (`http_requests_total{code,method}`), which Prometheus
scrapes with the pod's namespace and name added by relabelling. SIGTERM drains in-flight
requests and exits, as a well-behaved container does.

The container's CPU and memory as cAdvisor sees them are not measured here but by the
kubelet (`adapter.sandbox.kubelet`), from /proc, as cAdvisor reads cgroups.

Tuned by environment variables (the container spec's `env`), with the defaults in
`WorkloadSettings`.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import ctypes.util
import hashlib
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, disable_created_metrics, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["WorkloadSettings", "build_app", "main"]

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class WorkloadSettings:
    """What one request costs and what the process holds."""

    cpu_ms: float = 2.0
    """CPU milliseconds burnt per `GET /`. With the demo's 50m CPU request, 25 requests a
    second per pod are its 100%."""
    latency_ms: float = 40.0
    """Milliseconds each `GET /` then waits without CPU (the blog's database)."""
    memory_mib: int = 16
    """MiB allocated and touched at start and held: the working set above Python's own."""
    startup_seconds: float = 1.0
    """Seconds before `/healthz` turns 200, after the memory is in place."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WorkloadSettings:
        defaults = cls()

        def number(name: str, default: float) -> float:
            raw = env.get(name)
            if raw is None or raw == "":
                return default
            try:
                value = float(raw)
            except ValueError:
                raise SystemExit(f"myblog: {name}={raw!r} is not a number") from None
            if value < 0:
                raise SystemExit(f"myblog: {name}={raw!r} must not be negative")
            return value

        return cls(
            cpu_ms=number("MYBLOG_CPU_MS", defaults.cpu_ms),
            latency_ms=number("MYBLOG_LATENCY_MS", defaults.latency_ms),
            memory_mib=int(number("MYBLOG_MEMORY_MIB", defaults.memory_mib)),
            startup_seconds=number("MYBLOG_STARTUP_SECONDS", defaults.startup_seconds),
        )


def burn(seconds: float) -> None:
    """Spend `seconds` of this thread's CPU time."""
    deadline = time.thread_time() + seconds
    digest = hashlib.sha256()
    block = b"myblog" * 64
    while time.thread_time() < deadline:
        for _ in range(50):
            digest.update(block)


_READY = web.AppKey("ready", asyncio.Event)
_STARTING = web.AppKey("starting", asyncio.Task[None])


def build_app(settings: WorkloadSettings, pod_name: str) -> web.Application:
    registry = CollectorRegistry(auto_describe=False)
    requests = Counter(
        "http_requests", "HTTP requests served, by method and status code.",
        ["method", "code"], registry=registry,
    )  # fmt: skip
    held: list[bytearray] = []

    async def index(request: web.Request) -> web.Response:
        if not request.app[_READY].is_set():
            requests.labels(request.method, "503").inc()
            return web.Response(status=503, text="myblog is starting\n")
        burn(settings.cpu_ms / 1000.0)
        await asyncio.sleep(settings.latency_ms / 1000.0)
        requests.labels(request.method, "200").inc()
        return web.Response(
            text=f"<html><body><h1>myblog</h1><p>served by {pod_name}</p></body></html>\n",
            content_type="text/html",
            headers={"X-Pod-Name": pod_name},
        )

    async def healthz(request: web.Request) -> web.Response:
        if request.app[_READY].is_set():
            return web.Response(text="ok\n")
        return web.Response(status=503, text="starting\n")

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def start_up(app: web.Application) -> None:
        held.append(bytearray(b"\x01" * (settings.memory_mib * 1024 * 1024)))
        await asyncio.sleep(settings.startup_seconds)
        app[_READY].set()

    async def on_startup(app: web.Application) -> None:
        app[_STARTING] = asyncio.ensure_future(start_up(app))

    app = web.Application()
    app[_READY] = asyncio.Event()
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.on_startup.append(on_startup)
    return app


def _die_with_parent() -> None:
    """Also asked by the kubelet's spawn; repeated here for runs by hand."""
    name = ctypes.util.find_library("c") if sys.platform.startswith("linux") else None
    if name is not None:
        ctypes.CDLL(name).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="myblog", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--pod-name", default=os.environ.get("HOSTNAME", "myblog"))
    parser.add_argument("--grace", type=float, default=25.0, help="drain time on SIGTERM")
    args = parser.parse_args(argv)
    _die_with_parent()
    disable_created_metrics()  # type: ignore[no-untyped-call]  # an http_requests_created gauge would become a metric too
    settings = WorkloadSettings.from_env(os.environ)
    app = build_app(settings, args.pod_name)
    print(f"myblog {args.pod_name} listening on {args.host}:{args.port}", flush=True)
    web.run_app(
        app,
        host=args.host,
        port=args.port,
        print=None,
        access_log=None,
        shutdown_timeout=args.grace,
        handle_signals=True,
    )
    print(f"myblog {args.pod_name} stopped", flush=True)
    return 0
