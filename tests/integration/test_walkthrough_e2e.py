"""The walkthrough's commands, typed with the real kubectl against `python -m adapter sandbox`.

One sandbox for the module (real pod processes, Service proxies, Debian's Prometheus,
the adapter as `serve --hpa`, RBAC enforced); the tests run in the walkthrough's order
(../shared/seeds/, the Chinese HPA walkthrough) and assert on what a user sees on the
screen: kubectl's own output, curl's status codes and bodies. The sandbox is shortened
(1s scrapes, 10s rate windows, 2s HPA sync, 5s downscale stabilization, 10s CPU
initialization period) so the module runs in about a minute and a half.

The installed kubectl is v1.32.4, not the v1.36 the issue compared against; the
outputs asserted here are the same in both (kubectl's HPA describer and printers did
not change in between for these fields).

Expected output is taken from kube-controller-manager's and kubectl's sources, in our
words: the conditions' reasons from pkg/controller/podautoscaler/horizontal.go
(ReadyForNewScale, ScaleDownStabilized, SucceededRescale; ValidMetricFound;
DesiredWithinRange, TooFewReplicas, TooManyReplicas), the rescale event
`New size: N; reason: All metrics below target` from the same file, and the describe
layout from k8s.io/kubectl/pkg/describe (describeHorizontalPodAutoscalerV2).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
import pytest_asyncio
import yaml
from support.kubectl import KubectlResult, kubectl

from adapter.sandbox.demo import MANIFESTS
from adapter.sandbox.onemachine import Sandbox, SandboxSettings, adapter_config, running_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

T = TypeVar("T")


async def _until(check: Callable[[], Awaitable[T]], timeout: float = 60.0) -> T:
    """The first truthy answer of `check`, or its last answer after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.5)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Sandbox]:
    settings = SandboxSettings(
        workdir=tmp_path_factory.mktemp("walkthrough"),
        scrape_interval=1.0,
        rate_window="10s",
        relist_interval="3s",
        probe_period=1.0,
        hpa_args=(
            "--hpa-sync-period", "2s",
            "--horizontal-pod-autoscaler-downscale-stabilization", "5s",
            "--horizontal-pod-autoscaler-cpu-initialization-period", "10s",
        ),
    )  # fmt: skip
    async with running_sandbox(settings) as running:
        yield running


async def k(sandbox: Sandbox, *args: str) -> KubectlResult:
    """kubectl with the sandbox's kubeconfig, as after `export KUBECONFIG=...`."""
    return await kubectl(sandbox.kubeconfig, *args)


async def _curl(url: str, token: str) -> tuple[int, str]:
    """`curl -k -H "Authorization: Bearer $TOKEN" URL`: the status code and the body."""
    curl = shutil.which("curl")
    assert curl is not None, "curl is part of the machine image"
    process = await asyncio.create_subprocess_exec(
        curl, "-sk", "--noproxy", "*", "-w", "\n%{http_code}",
        "-H", f"Authorization: Bearer {token}", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    body, _, code = out.decode().rpartition("\n")
    return int(code), body


async def _ab(sandbox: Sandbox, service: str, requests: int) -> None:
    """`ab` against the Service's address (never a pod's, as the walkthrough insists)."""
    address = sandbox.services.address("test", service)
    assert address is not None
    ab = shutil.which("ab")
    assert ab is not None, "ab (apache2-utils) is part of the machine image"
    process = await asyncio.create_subprocess_exec(
        ab, "-q", "-n", str(requests), "-c", "2", f"http://{address}/",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()


def _rows(output: str) -> list[list[str]]:
    """kubectl's table, split on its column padding (two spaces or more)."""
    return [re.split(r"\s{2,}", line.strip()) for line in output.strip().splitlines()]


async def test_create_namespace_and_apply_the_manifests(sandbox: Sandbox) -> None:
    created = (await k(sandbox, "create", "namespace", "test")).check()
    assert created.stdout.strip() == "namespace/test created"
    applied = (await k(sandbox, "apply", "-f", str(MANIFESTS / "myblog.yaml"))).check()
    assert applied.stdout.splitlines() == [
        "deployment.apps/myblog created",
        "service/myblog created",
    ]

    async def ready() -> str:
        result = await k(sandbox, "-n", "test", "get", "deployment", "myblog")
        return result.stdout if result.returncode == 0 and " 1/1 " in result.stdout else ""

    shown = await _until(ready)
    assert _rows(shown)[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], shown
    assert _rows(shown)[1][:4] == ["myblog", "1/1", "1", "1"], shown


async def test_scale_to_two_replicas_runs_two_real_processes(sandbox: Sandbox) -> None:
    scaled = (
        await k(sandbox, "-n", "test", "scale", "deployment", "myblog", "--replicas=2")
    ).check()
    assert scaled.stdout.strip() == "deployment.apps/myblog scaled"

    async def two_running() -> list[list[str]]:
        result = await k(sandbox, "-n", "test", "get", "pods", "-l", "app=myblog")
        rows = [row for row in _rows(result.stdout)[1:] if row[1:3] == ["1/1", "Running"]]
        return rows if len(rows) == 2 else []

    rows = await _until(two_running)
    assert len(rows) == 2, rows
    # Each pod's container is a process of this machine running the blog.
    ids = (
        await k(sandbox, "-n", "test", "get", "pods", "-l", "app=myblog", "-o",
                "jsonpath={.items[*].status.containerStatuses[*].containerID}")
    ).check().stdout.split()  # fmt: skip
    assert len(ids) == 2 and all(i.startswith("sandbox://") for i in ids), ids
    for container_id in ids:
        cmdline = Path(f"/proc/{container_id.removeprefix('sandbox://')}/cmdline").read_bytes()
        assert b"adapter.sandbox.workload" in cmdline, cmdline


async def test_autoscale_creates_an_hpa_and_delete_removes_it(sandbox: Sandbox) -> None:
    created = (
        await k(sandbox, "-n", "test", "autoscale", "deployment", "myblog",
                "--cpu-percent=80", "--min=1", "--max=3")
    ).check()  # fmt: skip
    assert created.stdout.strip() == "horizontalpodautoscaler.autoscaling/myblog autoscaled"
    shown = (await k(sandbox, "-n", "test", "get", "hpa", "myblog")).check().stdout
    header, row = _rows(shown)
    assert header == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert row[:2] == ["myblog", "Deployment/myblog"] and row[3:5] == ["1", "3"], shown
    # kubectl 1.32 drops the version when it expands the short name `hpa.v1.autoscaling`
    # and reads v2; the full resource name reads autoscaling/v1, where `kubectl
    # autoscale` wrote the CPU target.
    v1 = (
        await k(sandbox, "-n", "test", "get", "horizontalpodautoscalers.v1.autoscaling", "myblog", "-o",
                "jsonpath={.spec.targetCPUUtilizationPercentage}")
    ).check()  # fmt: skip
    assert v1.stdout == "80"
    deleted = (await k(sandbox, "-n", "test", "delete", "hpa", "myblog")).check()
    assert deleted.stdout.strip() == 'horizontalpodautoscaler.autoscaling "myblog" deleted'
    gone = await k(sandbox, "-n", "test", "get", "hpa", "myblog")
    assert gone.returncode == 1
    assert 'horizontalpodautoscalers.autoscaling "myblog" not found' in gone.stderr


async def test_autoscale_hpa_reads_through_v2_with_its_cpu_target(sandbox: Sandbox) -> None:
    (
        await k(sandbox, "-n", "test", "autoscale", "deployment", "myblog", "--name=v1-check",
                "--cpu-percent=80", "--min=1", "--max=3")
    ).check()  # fmt: skip
    try:
        shown = (await k(sandbox, "-n", "test", "get", "hpa", "v1-check")).check().stdout
        # kubectl reads autoscaling/v2: the v1 CPU target is a Resource metric there.
        assert "cpu: <unknown>/80%" in shown or re.search(r"cpu: \d+%/80%", shown), shown
    finally:
        await k(sandbox, "-n", "test", "delete", "hpa", "v1-check")


async def test_the_seed_hpa_shows_cpu_and_memory_targets(sandbox: Sandbox) -> None:
    manifest = MANIFESTS / "hpa-myblog.yaml"
    applied = (await k(sandbox, "-n", "test", "apply", "-f", str(manifest))).check()
    assert applied.stdout.strip() == "horizontalpodautoscaler.autoscaling/hpa-myblog created"
    await _ab(sandbox, "myblog", 200)  # some traffic for the request counter

    async def targets() -> list[str]:
        result = await k(sandbox, "-n", "test", "get", "hpa")
        rows = _rows(result.stdout)
        row = next((r for r in rows[1:] if r[0] == "hpa-myblog"), None)
        if row is None or not re.fullmatch(r"memory: \d+%/80%, cpu: \d+%/80%", row[2]):
            return []
        return row

    row = await _until(targets)
    assert row, "TARGETS never showed both metrics' values (still <unknown>?)"
    assert row[1] == "Deployment/myblog" and row[3:5] == ["1", "3"], row


async def test_describe_shows_metrics_conditions_and_the_rescale_event(sandbox: Sandbox) -> None:
    # Two replicas of a real process: at a few percent of their requests the HPA scales
    # down to one once the (shortened) stabilization window has passed; on a loaded
    # machine their start-up CPU can push it up first. Either way it says so in an
    # Event worded as kube-controller-manager words it.
    last: list[str] = [""]

    async def rescaled() -> str:
        result = await k(sandbox, "-n", "test", "describe", "hpa", "hpa-myblog")
        last[0] = result.stdout + result.stderr
        return result.stdout if "SuccessfulRescale" in result.stdout else ""

    # Generous: on a loaded machine metrics arrive late; a pass returns as soon as it can.
    shown = await _until(rescaled, timeout=180)
    assert shown, f"no SuccessfulRescale event after 180s:\n{last[0]}"
    assert re.search(r"^Reference:\s+Deployment/myblog$", shown, re.M), shown
    assert re.search(r"^Metrics:\s+\( current / target \)$", shown, re.M), shown
    assert re.search(
        r"resource memory on pods\s+\(as a percentage of request\):\s+\d+% \(\d+\w*\) / 80%",
        shown,
    ), shown
    assert re.search(
        r"resource cpu on pods\s+\(as a percentage of request\):\s+\d+% \(\d+\w*\) / 80%", shown
    ), shown
    assert re.search(r"^Min replicas:\s+1$", shown, re.M), shown
    assert re.search(r"^Max replicas:\s+3$", shown, re.M), shown
    conditions = dict(
        (m.group(1), (m.group(2), m.group(3)))
        for m in re.finditer(r"^  (AbleToScale|ScalingActive|ScalingLimited)\s+(\w+)\s+(\w+)",
                             shown, re.M)
    )  # fmt: skip
    assert set(conditions) == {"AbleToScale", "ScalingActive", "ScalingLimited"}, shown
    assert conditions["AbleToScale"] in {
        ("True", "ReadyForNewScale"), ("True", "ScaleDownStabilized"),
        ("True", "SucceededRescale"),
    }, shown  # fmt: skip
    assert conditions["ScalingActive"] == ("True", "ValidMetricFound"), shown
    assert conditions["ScalingLimited"] in {
        ("False", "DesiredWithinRange"), ("True", "TooFewReplicas"),
    }, shown  # fmt: skip
    event = re.search(
        r"^  Normal\s+SuccessfulRescale\s+\S+\s+horizontal-pod-autoscaler\s+"
        r"New size: ([123]); reason: (All metrics below target|"
        r"(cpu|memory) resource utilization \(percentage of request\) above target)$",
        shown,
        re.M,
    )
    assert event, shown
    # The loop wrote the target's /scale: the Deployment wants what the HPA bounds allow.
    pods = (await k(sandbox, "-n", "test", "get", "deployment", "myblog")).check()
    _, wanted = _rows(pods.stdout)[1][1].split("/")
    assert 1 <= int(wanted) <= 3, pods.stdout


async def test_top_pods_and_nodes(sandbox: Sandbox) -> None:
    pods = (await k(sandbox, "-n", "test", "top", "pods")).check().stdout
    rows = _rows(pods)
    assert rows[0] == ["NAME", "CPU(cores)", "MEMORY(bytes)"], pods
    assert rows[1:] and all(re.fullmatch(r"\d+m", r[1]) and re.fullmatch(r"\d+Mi", r[2])
                            for r in rows[1:]), pods  # fmt: skip
    assert any(r[0].startswith("myblog-") for r in rows[1:]), pods

    async def node_row() -> list[str]:
        result = await k(sandbox, "top", "nodes")
        table = _rows(result.stdout) if result.returncode == 0 else []
        return next((r for r in table[1:] if r[0] == sandbox.kubelet.node_name), [])

    row = await _until(node_row)
    assert row, "kubectl top nodes never listed the node"
    assert re.fullmatch(r"\d+m", row[1]) and re.fullmatch(r"\d+%", row[2]), row
    assert re.fullmatch(r"\d+Mi", row[3]) and re.fullmatch(r"\d+%", row[4]), row


async def test_apiservices_are_available(sandbox: Sandbox) -> None:
    listed = (await k(sandbox, "get", "apiservice")).check().stdout
    rows = {row[0]: row for row in _rows(listed)}
    assert rows["NAME"][:3] == ["NAME", "SERVICE", "AVAILABLE"], listed
    for name in ("v1beta1.metrics.k8s.io", "v1beta1.custom.metrics.k8s.io"):
        assert rows[name][1:3] == ["kube-system/metrics-adapter", "True"], listed
    document = yaml.safe_load(
        (await k(sandbox, "get", "apiservice", "v1beta1.metrics.k8s.io", "-o", "yaml"))
        .check()
        .stdout
    )
    assert document["spec"]["service"] == {
        "name": "metrics-adapter", "namespace": "kube-system", "port": 443,
    }  # fmt: skip
    assert document["spec"]["group"] == "metrics.k8s.io"
    assert document["spec"]["insecureSkipTLSVerify"] is True
    available = next(c for c in document["status"]["conditions"] if c["type"] == "Available")
    assert available["status"] == "True"
    # The Service the APIServices name is real: it has a cluster IP, and its address
    # (the proxy) reaches the adapter.
    service = (await k(sandbox, "-n", "kube-system", "get", "svc", "metrics-adapter")).check()
    row = _rows(service.stdout)[1]
    assert row[:2] == ["metrics-adapter", "ClusterIP"] and row[2].startswith("10."), row
    assert row[4] == "443/TCP", row


async def test_get_raw_on_each_metrics_api(sandbox: Sandbox) -> None:
    pods = json.loads(
        (await k(sandbox, "get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/test/pods"))
        .check()
        .stdout
    )
    assert pods["kind"] == "PodMetricsList"
    assert pods["items"] and all(i["metadata"]["namespace"] == "test" for i in pods["items"])
    assert all(c["name"] == "myblog" for i in pods["items"] for c in i["containers"])
    await _ab(sandbox, "myblog", 100)

    async def rates() -> list[dict[str, object]]:
        result = await k(
            sandbox, "get", "--raw",
            "/apis/custom.metrics.k8s.io/v1beta1/namespaces/test/pods/*/http_requests_per_second",
        )  # fmt: skip
        if result.returncode != 0:
            return []
        items: list[dict[str, object]] = json.loads(result.stdout)["items"]
        return items

    items = await _until(rates)
    assert items, "custom.metrics.k8s.io never served http_requests_per_second"
    assert all(item["metricName"] == "http_requests_per_second" for item in items)
    # No external rule in the sandbox's config: the group is not served, and the
    # aggregator says so as kube-apiserver does for a group nobody registered.
    assert not (yaml.safe_load(adapter_config(None)).get("externalRules") or [])
    external = await k(sandbox, "get", "--raw", "/apis/external.metrics.k8s.io/v1beta1")
    assert external.returncode == 1
    assert "the server could not find the requested resource" in external.stderr


async def test_a_service_account_token_reads_pod_metrics_only_with_rbac(
    sandbox: Sandbox,
) -> None:
    applied = (await k(sandbox, "apply", "-f", str(MANIFESTS / "test-pods-admin.yaml"))).check()
    assert applied.stdout.splitlines() == [
        "serviceaccount/test-pods-admin created",
        "role.rbac.authorization.k8s.io/test-pods-admin created",
        "rolebinding.rbac.authorization.k8s.io/test-pods-admin created",
    ]
    (await k(sandbox, "-n", "test", "create", "serviceaccount", "no-rbac")).check()
    token = (await k(sandbox, "-n", "test", "create", "token", "test-pods-admin")).check()
    other = (await k(sandbox, "-n", "test", "create", "token", "no-rbac")).check()
    allowed, denied = token.stdout.strip(), other.stdout.strip()
    assert allowed and denied and allowed != denied
    pod = (
        await k(sandbox, "-n", "test", "get", "pods", "-l", "app=myblog", "-o",
                "jsonpath={.items[0].metadata.name}")
    ).check().stdout  # fmt: skip
    path = "/apis/metrics.k8s.io/v1beta1/namespaces/test/pods"
    # Through the API server (the aggregator proxies to the adapter) and straight to the
    # adapter's Service address (the adapter asks the API server: a TokenReview for who,
    # a SubjectAccessReview for whether).
    for base in (sandbox.apiserver.url, sandbox.adapter_service_url):
        code, body = await _curl(base + path + "/" + pod, allowed)
        assert code == 200, (base, body)
        document = json.loads(body)
        assert document["kind"] == "PodMetrics" and document["metadata"]["name"] == pod
        assert set(document["containers"][0]["usage"]) == {"cpu", "memory"}
        code, body = await _curl(base + path, allowed)
        assert code == 200 and json.loads(body)["kind"] == "PodMetricsList", (base, body)
        code, body = await _curl(base + path, denied)
        assert code == 403, (base, body)
        status = json.loads(body)
        assert status["kind"] == "Status" and status["reason"] == "Forbidden"
        assert status["message"] == (
            'pods.metrics.k8s.io is forbidden: User "system:serviceaccount:test:no-rbac" '
            'cannot list resource "pods" in API group "metrics.k8s.io" in the namespace "test"'
        ), (base, body)
        code, _ = await _curl(base + path, "not-a-token")
        assert code == 401, base
