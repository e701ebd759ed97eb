"""Services of the sandbox: a round-robin TCP proxy per Service, over its ready pods.

Owns what kube-proxy does on a real node, for the one-machine cluster: every Service
with a selector gets a listener on a loopback port of its own (written to the Service as
the `sandbox.metrics-adapter.io/address` annotation, since its clusterIP cannot be
reached here), and each new connection goes to the next pod, in turn, among the pods of
the Service's namespace that match its selector, are Ready and have an address (the
kubelet's annotation). As with kube-proxy's iptables mode the choice is per connection:
`ab` without keep-alive spreads its requests over the pods; a pod that is not ready, or
is being deleted, gets no new connections. The endpoints are recomputed from the store
on every Pod or Service change.

A Service without a selector forwards to the addresses of its Endpoints object of the
same name, as kube-proxy does: that is how the sandbox gives the adapter, which runs as
a plain process and not a pod, its `kube-system/metrics-adapter` Service address.

Pods and their addresses are the kubelet's (`adapter.sandbox.kubelet`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from adapter.k8s.resources import GroupResource
from adapter.k8s.selectors import LabelSelector
from adapter.sandbox.kubelet import ADDRESS_ANNOTATION, pod_address, pod_is_ready
from adapter.sandbox.store import ClusterState, StoredObject, Watcher

__all__ = ["ServiceProxies"]

log = logging.getLogger(__name__)

SERVICES = GroupResource("", "services")
PODS = GroupResource("", "pods")
ENDPOINTS = GroupResource("", "endpoints")
_CHUNK = 64 * 1024


@dataclass
class _Proxy:
    namespace: str
    name: str
    uid: str
    selector: LabelSelector | None
    """None: a Service without a selector, whose Endpoints object says where to go."""
    server: asyncio.Server
    port: int
    endpoints: list[tuple[str, int]] = field(default_factory=list)
    next_index: int = 0
    connections: set[asyncio.Task[None]] = field(default_factory=set)

    def pick(self) -> tuple[str, int] | None:
        if not self.endpoints:
            return None
        endpoint = self.endpoints[self.next_index % len(self.endpoints)]
        self.next_index = (self.next_index + 1) % len(self.endpoints)
        return endpoint


class ServiceProxies:
    """`async with ServiceProxies(state):` - one proxy per Service, kept current."""

    def __init__(self, state: ClusterState) -> None:
        self._state = state
        self._proxies: dict[tuple[str, str], _Proxy] = {}
        self._watchers: list[Watcher] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._changed = asyncio.Event()

    async def __aenter__(self) -> ServiceProxies:
        for resource in (SERVICES, PODS, ENDPOINTS):
            watcher, _ = self._state.watch(resource, "", lambda _: True, None)
            self._watchers.append(watcher)
            self._tasks.append(
                asyncio.create_task(self._drain(watcher), name=f"services-watch-{resource}")
            )
        self._changed.set()
        self._tasks.append(asyncio.create_task(self._sync_loop(), name="services-sync"))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for watcher in self._watchers:
            watcher.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for proxy in list(self._proxies.values()):
            await self._close(proxy)
        self._proxies.clear()

    def address(self, namespace: str, name: str) -> str | None:
        """host:port where the Service answers, once its proxy runs."""
        proxy = self._proxies.get((namespace, name))
        return f"127.0.0.1:{proxy.port}" if proxy is not None else None

    def endpoints(self, namespace: str, name: str) -> list[tuple[str, int]]:
        proxy = self._proxies.get((namespace, name))
        return list(proxy.endpoints) if proxy is not None else []

    async def _drain(self, watcher: Watcher) -> None:
        while True:
            await watcher.queue.get()
            self._changed.set()

    async def _sync_loop(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            try:
                await self.sync()
            except Exception:  # keep proxying on a bad object
                log.exception("service proxies: sync failed")

    async def sync(self) -> None:
        """Bring listeners and endpoints in line with the stored Services and Pods."""
        wanted: dict[tuple[str, str], StoredObject] = {}
        for stored in self._state.scan(SERVICES):
            spec = stored.obj.get("spec") or {}
            selector = spec.get("selector")
            if (isinstance(selector, dict) and selector) or (
                spec.get("type", "ClusterIP") != "ExternalName"
                and self._state.stored(ENDPOINTS, stored.namespace, stored.name) is not None
            ):
                wanted[(stored.namespace, stored.name)] = stored
        for key, proxy in list(self._proxies.items()):
            stored_service = wanted.get(key)
            if stored_service is None or stored_service.obj["metadata"].get("uid") != proxy.uid:
                del self._proxies[key]
                await self._close(proxy)
        for key, stored in wanted.items():
            chosen = stored.obj["spec"].get("selector")
            selector = LabelSelector.from_set(chosen) if chosen else None
            existing = self._proxies.get(key)
            if existing is None:
                existing = self._proxies[key] = await self._open(stored, selector)
            proxy = existing
            proxy.selector = selector
            endpoints = (
                self._ready_endpoints(stored.namespace, selector)
                if selector is not None
                else self._listed_endpoints(stored.namespace, stored.name)
            )
            if endpoints != proxy.endpoints:
                proxy.endpoints = endpoints
                log.info(
                    "service %s/%s: %d ready endpoint(s)",
                    proxy.namespace,
                    proxy.name,
                    len(endpoints),
                )

    def _ready_endpoints(self, namespace: str, selector: LabelSelector) -> list[tuple[str, int]]:
        endpoints: list[tuple[str, int]] = []
        for stored in self._state.scan(PODS, namespace):
            if not selector.matches(stored.labels):
                continue
            pod: dict[str, Any] = stored.obj
            address = pod_address(pod)
            if address is None or not pod_is_ready(pod):
                continue
            host, _, port = address.rpartition(":")
            endpoints.append((host, int(port)))
        return endpoints

    def _listed_endpoints(self, namespace: str, name: str) -> list[tuple[str, int]]:
        """The ready addresses of the Endpoints object of a Service without a selector."""
        endpoints: list[tuple[str, int]] = []
        stored = self._state.stored(ENDPOINTS, namespace, name)
        obj: dict[str, Any] = stored.obj if stored is not None else {}
        for subset in obj.get("subsets") or []:
            ports = [int(port["port"]) for port in subset.get("ports") or [] if "port" in port]
            for address in subset.get("addresses") or []:
                endpoints.extend((str(address["ip"]), port) for port in ports[:1])
        return endpoints

    async def _open(self, stored: StoredObject, selector: LabelSelector | None) -> _Proxy:
        holder: list[_Proxy] = []

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            proxy = holder[0]
            task = asyncio.current_task()
            assert task is not None
            proxy.connections.add(task)
            try:
                await self._forward(proxy, reader, writer)
            finally:
                proxy.connections.discard(task)

        server = await asyncio.start_server(accept, "127.0.0.1", 0)
        port = int(server.sockets[0].getsockname()[1])
        proxy = _Proxy(
            namespace=stored.namespace,
            name=stored.name,
            uid=str(stored.obj["metadata"].get("uid", "")),
            selector=selector,
            server=server,
            port=port,
        )
        holder.append(proxy)
        annotations = dict(stored.obj["metadata"].get("annotations") or {})
        annotations[ADDRESS_ANNOTATION] = f"127.0.0.1:{port}"
        with contextlib.suppress(Exception):
            self._state.patch(
                "services",
                stored.name,
                {"metadata": {"annotations": annotations}},
                stored.namespace,
            )
        log.info("service %s/%s listens on 127.0.0.1:%d", stored.namespace, stored.name, port)
        return proxy

    async def _close(self, proxy: _Proxy) -> None:
        proxy.server.close()
        for task in list(proxy.connections):
            task.cancel()
        await asyncio.gather(*proxy.connections, return_exceptions=True)
        with contextlib.suppress(Exception):
            await proxy.server.wait_closed()

    async def _forward(
        self, proxy: _Proxy, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        # A pod that went away between two syncs refuses: try the others once each.
        for _ in range(max(len(proxy.endpoints), 1)):
            endpoint = proxy.pick()
            if endpoint is None:
                break
            try:
                upstream = await asyncio.open_connection(*endpoint)
                break
            except OSError:
                continue
        if upstream is None:  # no ready endpoint: refuse, as a Service without endpoints
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            return
        up_reader, up_writer = upstream
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            for stream in (writer, up_writer):
                stream.close()
                with contextlib.suppress(Exception):
                    await stream.wait_closed()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(_CHUNK)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()
