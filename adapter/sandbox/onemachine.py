"""`python -m adapter sandbox`: a one-machine cluster, every part real but the API server.

Owns putting the sandbox together and taking it apart, in order: the Kubernetes API
server stand-in (`apiserver`, HTTPS with a throw-away CA, kubeconfig written for
kubectl), the controllers that make Deployments into pods when the stand-in has them,
the kubelet (pods as local processes), the Service proxies, Debian's Prometheus scraping
pods and node through file-based discovery, and the adapter itself - `python -m adapter
serve --hpa`, as a child process with its own log - registered as the APIServices of
the metrics groups it serves, so `kubectl top` and `kubectl get --raw
/apis/custom.metrics.k8s.io/...` go through the stand-in's aggregation layer to it.

Authorization is enforced, as in a real cluster: the stand-in checks RBAC with the
bootstrap roles of `bootstrap` (the admin kubeconfig is system:masters; the adapter runs
as the service account kube-system/metrics-adapter with deploy/base/rbac.yaml's
bindings). The adapter has a Service, kube-system/metrics-adapter, without a selector
and with an Endpoints object pointing at its port: the Service proxies give it an
address, which the APIServices use (as kube-aggregator dials the Service) and which a
user can curl straight, as the walkthrough does.

The adapter reads config/default.yaml plus the walkthrough's requests-per-second rule
(config/examples/walkthrough.yaml), combined into one file in the work directory; the
demo may shorten their rate windows (`rate_window`), and says so.

Teardown runs in reverse on any exit of the `async with` - Ctrl-C, an error half-way -
and `processes` kills whatever a hard exit leaves. The demo (`adapter.sandbox.demo`)
drives a running sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import yaml

import adapter
from adapter.k8s.resources import GroupResource
from adapter.sandbox import defaults, processes
from adapter.sandbox.apiserver import RunningApiServer, run_apiserver
from adapter.sandbox.bootstrap import ADAPTER_ACCOUNT, ADAPTER_NAMESPACE, bootstrap_rbac
from adapter.sandbox.controllers import ControllerManager
from adapter.sandbox.kubelet import Kubelet, KubeletSettings, free_port
from adapter.sandbox.scraping import PodTarget, PrometheusServer
from adapter.sandbox.services import ServiceProxies
from adapter.sandbox.store import APIServiceBackend, ClusterState
from adapter.settings.sandbox import SandboxCommandSettings

__all__ = ["Sandbox", "SandboxSettings", "adapter_config", "running_sandbox", "sandbox_command"]

log = logging.getLogger(__name__)

CONFIG_DIR = Path(adapter.__file__).resolve().parent.parent / "config"
DEFAULT_CONFIG = CONFIG_DIR / "default.yaml"
WALKTHROUGH_RULES = CONFIG_DIR / "examples" / "walkthrough.yaml"

STAND_IN_NOTICE = (
    "NOTE: the Kubernetes API server here is a stand-in (adapter/sandbox), not kube-apiserver;\n"
    "      pods are local processes. Prometheus, kubectl, ab and the adapter are the real ones."
)

API_SERVICES: tuple[tuple[str, str], ...] = (
    ("metrics.k8s.io", "v1beta1"),
    ("custom.metrics.k8s.io", "v1beta1"),
    ("custom.metrics.k8s.io", "v1beta2"),
)
"""What the adapter serves with the sandbox's config (no externalRules: no external group)."""


class SandboxError(RuntimeError):
    """A part of the sandbox did not start; the message says which and where its log is."""


@dataclass(frozen=True, slots=True)
class SandboxSettings:
    workdir: Path
    scrape_interval: float = 5.0
    """Seconds between Prometheus scrapes of pods and node."""
    rate_window: str | None = None
    """Replaces every rate window (`[5m]`, `[2m]`) and the resource window of the
    adapter's config when set (the demo's `30s`); None keeps the files' own."""
    relist_interval: str = "30s"
    """The adapter's --metrics-relist-interval: new pods' series appear within it."""
    hpa_args: Sequence[str] = ()
    """Extra flags for `serve --hpa` (sync period, windows, record directory)."""
    probe_period: float = 5.0
    verbosity: int = 0
    extra_adapter_args: Sequence[str] = field(default_factory=tuple)


def adapter_config(rate_window: str | None) -> str:
    """config/default.yaml with the walkthrough's rule appended, windows replaced."""
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    walkthrough = yaml.safe_load(WALKTHROUGH_RULES.read_text())
    config["rules"] = list(config.get("rules") or []) + list(walkthrough["rules"])
    if rate_window is not None:
        pattern = re.compile(r"\[\d+[smh]\]")
        for rule in config["rules"]:
            rule["metricsQuery"] = pattern.sub(f"[{rate_window}]", rule["metricsQuery"])
        resource_rules = config.get("resourceRules") or {}
        for name in ("cpu", "memory"):
            rule = resource_rules.get(name) or {}
            for key in ("containerQuery", "nodeQuery"):
                if key in rule:
                    rule[key] = pattern.sub(f"[{rate_window}]", rule[key])
        if "window" in resource_rules:
            resource_rules["window"] = rate_window
    header = (
        "# Written by the metrics-adapter sandbox: config/default.yaml plus the rule of\n"
        "# config/examples/walkthrough.yaml"
        + (f", every rate window set to {rate_window}.\n" if rate_window else ".\n")
    )
    return header + yaml.safe_dump(config, sort_keys=False)


@dataclass
class Sandbox:
    """A running sandbox: where each part is."""

    settings: SandboxSettings
    state: ClusterState
    apiserver: RunningApiServer
    kubeconfig: Path
    kubelet: Kubelet
    services: ServiceProxies
    prometheus: PrometheusServer
    adapter_url: str
    """Where the adapter process listens."""
    adapter_service_url: str
    """The kube-system/metrics-adapter Service's address (a proxy to adapter_url)."""
    adapter_log: Path
    adapter_child: processes.Child

    def banner(self) -> str:
        work = self.settings.workdir
        return "\n".join(
            [
                "metrics-adapter sandbox: a one-machine cluster",
                STAND_IN_NOTICE,
                f"  API server (stand-in)  {self.apiserver.url}",
                f"  adapter (serve --hpa)  {self.adapter_url}   log: {self.adapter_log}",
                f"  adapter's Service      {self.adapter_service_url}   "
                f"({ADAPTER_NAMESPACE}/{ADAPTER_ACCOUNT})",
                f"  Prometheus             {self.prometheus.url}   "
                f"scrape every {self.settings.scrape_interval:g}s",
                f"  node metrics           {self.kubelet.metrics_url}/metrics/cadvisor",
                f"  work directory         {work}",
                "  authorization          RBAC enforced; this kubeconfig is system:masters",
                "",
                f"export KUBECONFIG={self.kubeconfig}",
            ]
        )


async def _wait_adapter(url: str, child: processes.Child, log_path: Path) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 90.0
    async with aiohttp.ClientSession(trust_env=False) as session:
        while loop.time() < deadline:
            if child.returncode is not None:
                raise SandboxError(f"the adapter exited with {child.returncode}; see {log_path}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(url + "/readyz", ssl=False) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise SandboxError(f"the adapter was not ready after 90s; see {log_path}")


def _adapter_service(state: ClusterState, url: str) -> None:
    """kube-system/metrics-adapter: a Service without a selector and its Endpoints
    (the adapter is a process, not a pod), as one would front an external server."""
    service: dict[str, object] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": ADAPTER_ACCOUNT, "namespace": ADAPTER_NAMESPACE},
        "spec": {"ports": [{"name": "https", "port": 443, "protocol": "TCP"}]},
    }
    defaults.apply_defaults(GroupResource("", "services"), service, state)
    state.apply(service)
    host, _, port = url.split("//", 1)[1].rpartition(":")
    state.apply(
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": ADAPTER_ACCOUNT, "namespace": ADAPTER_NAMESPACE},
            "subsets": [
                {
                    "addresses": [{"ip": host}],
                    "ports": [{"name": "https", "port": int(port), "protocol": "TCP"}],
                }
            ],
        }
    )


async def _service_address(services: ServiceProxies, namespace: str, name: str) -> str:
    for _ in range(100):
        address = services.address(namespace, name)
        if address is not None:
            return address
        await asyncio.sleep(0.05)
    raise SandboxError(f"the Service {namespace}/{name} got no proxy")


def _register_api_services(state: ClusterState, url: str) -> None:
    for group, version in API_SERVICES:
        state.register_api_service(
            APIServiceBackend(group, version, url, insecure_skip_tls_verify=True)
        )
        state.apply(
            {
                "apiVersion": "apiregistration.k8s.io/v1",
                "kind": "APIService",
                "metadata": {"name": f"{version}.{group}"},
                "spec": {
                    "service": {
                        "name": ADAPTER_ACCOUNT,
                        "namespace": ADAPTER_NAMESPACE,
                        "port": 443,
                    },
                    "group": group,
                    "version": version,
                    "insecureSkipTLSVerify": True,
                    "groupPriorityMinimum": 100,
                    "versionPriority": 100,
                },
                "status": {
                    "conditions": [
                        {
                            "type": "Available",
                            "status": "True",
                            "lastTransitionTime": time.strftime(
                                "%Y-%m-%dT%H:%M:%SZ", time.gmtime()
                            ),
                            "reason": "Passed",
                            "message": "all checks passed",
                        }
                    ]
                },
            }
        )


@contextlib.asynccontextmanager
async def running_sandbox(settings: SandboxSettings) -> AsyncIterator[Sandbox]:
    """Every part started, in order; stopped in reverse when the block ends."""
    work = settings.workdir
    work.mkdir(parents=True, exist_ok=True)
    state = ClusterState()
    async with contextlib.AsyncExitStack() as stack:
        apiserver = await stack.enter_async_context(run_apiserver(state, tls=True))
        kubeconfig = apiserver.write_kubeconfig(work / "kubeconfig")
        adapter_token = "sandbox." + secrets.token_urlsafe(32)
        bootstrap_rbac(state, adapter_token)
        await stack.enter_async_context(ControllerManager(state))
        kubelet = await stack.enter_async_context(
            Kubelet(state, KubeletSettings(workdir=work, probe_period=settings.probe_period))
        )
        services = await stack.enter_async_context(ServiceProxies(state))
        prometheus = await stack.enter_async_context(
            PrometheusServer(work / "prometheus", scrape_interval=settings.scrape_interval)
        )
        node = kubelet.node_name
        prometheus.set_node(node, kubelet.metrics_url.split("//", 1)[1])

        def update_targets() -> None:
            prometheus.set_pods(
                PodTarget(namespace, pod, container, node, f"127.0.0.1:{port}")
                for namespace, pod, containers in kubelet.running_pods()
                for container, port in containers
            )

        kubelet.on_change.append(update_targets)
        update_targets()

        config_path = work / "adapter-config.yaml"
        config_path.write_text(adapter_config(settings.rate_window))
        adapter_kubeconfig = apiserver.write_kubeconfig(
            work / "adapter" / "kubeconfig", token=adapter_token, namespace=ADAPTER_NAMESPACE
        )
        port = free_port()
        adapter_url = f"https://127.0.0.1:{port}"
        adapter_log = work / "adapter.log"
        argv = [
            sys.executable, "-m", "adapter", f"-v={settings.verbosity}", "serve",
            "--prometheus-url", prometheus.url,
            "--config", str(config_path),
            "--kubeconfig", str(adapter_kubeconfig),
            "--secure-port", str(port),
            "--bind-address", "127.0.0.1",
            "--cert-dir", str(work / "adapter" / "certs"),
            "--metrics-relist-interval", settings.relist_interval,
            "--hpa",
            "--leader-elect=false",
            *settings.hpa_args,
            *settings.extra_adapter_args,
        ]  # fmt: skip
        child = await processes.spawn(argv, name="adapter", log_file=adapter_log)
        stack.push_async_callback(child.stop, 10.0)
        await _wait_adapter(adapter_url, child, adapter_log)
        _adapter_service(state, adapter_url)
        service_url = "https://" + await _service_address(
            services, ADAPTER_NAMESPACE, ADAPTER_ACCOUNT
        )
        _register_api_services(state, service_url)
        yield Sandbox(
            settings=settings,
            state=state,
            apiserver=apiserver,
            kubeconfig=kubeconfig,
            kubelet=kubelet,
            services=services,
            prometheus=prometheus,
            adapter_url=adapter_url,
            adapter_service_url=service_url,
            adapter_log=adapter_log,
            adapter_child=child,
        )


async def sandbox_command(args: SandboxCommandSettings) -> int:
    """`python -m adapter sandbox`: up until Ctrl-C; 1 when a part cannot start."""
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="metrics-adapter-sandbox-"))
    settings = SandboxSettings(
        workdir=workdir, scrape_interval=args.scrape_interval, verbosity=args.verbosity
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"starting the sandbox in {workdir} ...", flush=True)
    try:
        async with running_sandbox(settings) as sandbox:
            print(sandbox.banner(), flush=True)
            print("\nCtrl-C stops every part.", flush=True)
            waiter = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, asyncio.ensure_future(sandbox.adapter_child.wait())},
                               return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
            if not stop.is_set():
                print(f"the adapter exited; see {sandbox.adapter_log}", file=sys.stderr)
                waiter.cancel()
                return 1
            waiter.cancel()
            print("\nstopping ...", flush=True)
    except SandboxError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    print("stopped.", flush=True)
    return 0
