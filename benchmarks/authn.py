"""Delegated authentication and authorization on versus off, in the same run.

The adapter's server (canned custom-metrics provider, so Prometheus does not dominate)
serves one metric path over HTTPS, once with `--delegated-auth=false` and once
delegating to the TLS API stand-in: every request carries a bearer token of a user
RBAC allows (not system:masters, so both the TokenReview and the SubjectAccessReview
are really needed) and the caches answer all but the first of each per TTL. Load comes
from `wrk` in its own process; CPU is this process's (the server and the stand-in's
rare reviews). Target: authenticated throughput within 10% of unauthenticated.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from benchmarks.common import BenchmarkError, Options, Result, Table, Target, format_number

NAME = "authn"
PATH = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/pods/*/http_requests"
TOKEN = "bench-reader-token"
CONCURRENCY = 8


async def _measure(url: str, token: str | None, duration: float) -> tuple[float, float, int]:
    """(requests/s, CPU seconds of this process per request, non-2xx answers)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchmarkError("wrk is not installed (Debian package wrk)")
    args = [wrk, "-t2", f"-c{CONCURRENCY}", f"-d{max(duration, 1.0):.0f}s", "--latency"]
    if token:
        args += ["-H", f"Authorization: Bearer {token}"]
    cpu_before = time.process_time()
    process = await asyncio.create_subprocess_exec(
        *args, url + PATH, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await process.communicate()
    cpu = time.process_time() - cpu_before
    text = stdout.decode()
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    total = re.search(r"(\d+) requests in", text)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if process.returncode != 0 or rate is None or total is None:
        raise BenchmarkError(f"wrk failed: {stderr.decode()}{text}")
    requests = int(total.group(1))
    return float(rate.group(1)), cpu / max(requests, 1), int(bad.group(1)) if bad else 0


async def _run(options: Options) -> Result:
    from benchmarks.common import use_test_support

    use_test_support()
    from adapter import serving
    from adapter.cluster import connection as cluster_connection
    from adapter.k8s.resources import GroupResource
    from adapter.prometheus.settings import PrometheusSettings
    from adapter.providers.base import (
        CustomMetricInfo,
        CustomMetricRequest,
        CustomMetricValue,
        ObjectReference,
    )
    from adapter.sandbox.access import PolicyRule, RuleAuthorizer
    from adapter.sandbox.apiserver import run_apiserver
    from adapter.sandbox.store import ClusterState
    from adapter.server.app import create_app
    from adapter.server.running import running
    from adapter.server.state import AUTHENTICATOR
    from adapter.settings import (
        AuthenticationSettings,
        AuthorizationSettings,
        ServingSettings,
        Settings,
    )

    now = datetime.now(UTC)

    class Custom:
        def list_metrics(self) -> Sequence[CustomMetricInfo]:
            return [CustomMetricInfo(GroupResource("", "pods"), "http_requests", True)]

        async def get_metrics(self, request: CustomMetricRequest) -> Sequence[CustomMetricValue]:
            return [
                CustomMetricValue(
                    ObjectReference("Pod", f"web-{i}", "/v1", request.namespace),
                    request.metric,
                    now,
                    "16m",
                    None,
                )
                for i in range(10)
            ]

    duration = options.duration
    figures: dict[str, dict[str, Any]] = {}
    state = ClusterState()
    authorizer = RuleAuthorizer()
    authorizer.allow(
        PolicyRule(
            verbs=("get",),
            api_groups=("custom.metrics.k8s.io",),
            resources=("pods/http_requests",),
            users=("reader",),
        )
    )
    state.authorizer = authorizer
    state.authenticator.add_token(TOKEN, "reader")
    with TemporaryDirectory(prefix="bench-authn-") as tmp:
        async with run_apiserver(state, tls=True) as apiserver:
            kubeconfig = apiserver.write_kubeconfig(Path(tmp) / "kubeconfig")
            async with cluster_connection.connect(str(kubeconfig), qps=0) as cluster:
                for mode, enabled in (("off", False), ("on", True), ("off again", False)):
                    settings = Settings(
                        config_file="-",
                        prometheus=PrometheusSettings(url="http://127.0.0.1:9"),
                        authentication=AuthenticationSettings(enabled=enabled),
                        authorization=AuthorizationSettings(enabled=enabled),
                    )
                    authenticator, middlewares = serving.delegated_access(
                        settings, cluster, cluster
                    )
                    app = create_app(
                        custom=Custom(),
                        external=None,
                        readiness=lambda: True,
                        middlewares=middlewares,
                    )
                    if authenticator is not None:
                        app[AUTHENTICATOR] = authenticator
                        await authenticator.load_cluster_config(cluster)
                    serving_settings = ServingSettings(
                        secure_port=0,
                        bind_address="127.0.0.1",
                        cert_dir=os.path.join(tmp, "certs"),
                    )
                    async with running(app, serving_settings) as url:
                        await _measure(url, TOKEN, 1.0)  # warm-up
                        rate, cpu, bad = await _measure(url, TOKEN, duration)
                    reviews = sum(
                        1 for record in state.audit_log or () if record.path.endswith("reviews")
                    )
                    figures[mode] = {
                        "requests_per_second": rate,
                        "cpu_ms_per_request": cpu * 1000,
                        "non_2xx": bad,
                        "reviews": reviews,
                    }
                    if bad:
                        raise BenchmarkError(f"{bad} requests failed with delegation {mode}")
    baseline = (
        figures["off"]["requests_per_second"] + figures["off again"]["requests_per_second"]
    ) / 2
    loss = 100.0 * (1 - figures["on"]["requests_per_second"] / baseline)
    table = Table(
        f"authn+authz on vs off ({CONCURRENCY} connections, {duration:.0f}s each, wrk)",
        ("delegation", "requests/s", "CPU ms/request"),
        [
            (
                mode,
                format_number(values["requests_per_second"]),
                format_number(values["cpu_ms_per_request"]),
            )
            for mode, values in figures.items()
        ],
    )
    return Result(
        NAME,
        tables=[table],
        targets=[Target("throughput lost with authn+authz on", loss, 10.0, "%")],
        data={"figures": figures, "throughput_loss_percent": loss},
    )


def run(options: Options) -> Result:
    return asyncio.run(_run(options))
