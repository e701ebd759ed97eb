"""The sandbox's kube-controller-manager: Deployments -> ReplicaSets -> Pod objects.

Owns the workload controllers the walkthrough relies on, reduced to what one machine
needs: the deployment controller (one ReplicaSet per pod template, named
`<deployment>-<pod-template-hash>`, older ones scaled to zero; the Deployment's status
counts and its Available/Progressing conditions; ScalingReplicaSet events), the
replicaset controller (Pod objects created from the template with `generateName`,
labels, `ownerReferences` and the pod-template-hash; surplus pods deleted, unready and
newest first; SuccessfulCreate/SuccessfulDelete events; ReplicaSet status), and the
namespace controller's finish (a Terminating namespace is emptied, then removed).

Pods are only objects here: they stay Pending until a kubelet (the demo's, which runs
real processes) binds them to a node and reports their phase and Ready condition
through `ClusterState.patch` or the API. `ControllerManager(ready_pods=True)` stands in
for a kubelet that starts every pod at once (for tests without one). Graceful pod
deletion is the REST layer's (`adapter.sandbox.rest`); a kubelet finishes it with
`ClusterState.finish_pod_deletion`.

Use: `async with ControllerManager(state):` around the server, or `start()`/`stop()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import orjson

from adapter.k8s import timefmt
from adapter.k8s.resources import GroupResource
from adapter.k8s.selectors import LabelSelector, SelectorError
from adapter.sandbox.store import ClusterState, JSONObject, StoredObject

__all__ = ["ControllerManager", "pod_template_hash"]

log = logging.getLogger(__name__)

_DEPLOYMENTS = GroupResource("apps", "deployments")
_REPLICASETS = GroupResource("apps", "replicasets")
_PODS = GroupResource("", "pods")
_NAMESPACES = GroupResource("", "namespaces")
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
HASH_LABEL = "pod-template-hash"


def pod_template_hash(template: Mapping[str, Any]) -> str:
    """A stable short hash of a pod template (fnv-1a 32 of its canonical JSON, spelled
    with apimachinery's SafeEncodeString alphabet, as controller.ComputeHash spells)."""
    value = 0x811C9DC5
    for byte in orjson.dumps(template, option=orjson.OPT_SORT_KEYS):
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_ALPHANUMS[int(ch) % len(_ALPHANUMS)] for ch in str(value))


def _owner(obj: Mapping[str, Any]) -> JSONObject:
    metadata = obj["metadata"]
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": metadata["name"],
        "uid": metadata["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _owned_by(stored: StoredObject, uid: str) -> bool:
    refs = stored.obj["metadata"].get("ownerReferences") or []
    return any(ref.get("uid") == uid and ref.get("controller") for ref in refs)


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


class ControllerManager:
    """Runs the controllers as one supervised task on the running event loop."""

    def __init__(self, state: ClusterState, *, ready_pods: bool = False) -> None:
        self.state = state
        self.ready_pods = ready_pods
        """Stand in for a kubelet: bind new pods to a node and mark them Running and
        Ready at once (tests without a kubelet)."""
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def __aenter__(self) -> ControllerManager:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sandbox-controllers")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        watchers = [
            self.state.watch(resource, "", lambda _s: True, None)[0]
            for resource in (_DEPLOYMENTS, _REPLICASETS, _PODS, _NAMESPACES)
        ]
        forwarders = [
            asyncio.get_running_loop().create_task(self._forward(w.queue)) for w in watchers
        ]
        try:
            while True:
                self.reconcile()
                await self._wake.wait()
                self._wake.clear()
                await asyncio.sleep(0)  # let a burst of writes land before the next pass
        finally:
            for task in forwarders:
                task.cancel()
            for watcher in watchers:
                watcher.close()

    async def _forward(self, queue: asyncio.Queue[Any]) -> None:
        while True:
            await queue.get()
            self._wake.set()

    # -- one pass over everything (small clusters: simple beats clever) ---------------

    def reconcile(self) -> None:
        """One pass of every controller; the task calls it after each burst of writes."""
        for stored in list(self.state.scan(_NAMESPACES)):
            if stored.obj["metadata"].get("deletionTimestamp"):
                self._finish_namespace(stored)
        for stored in list(self.state.scan(_DEPLOYMENTS)):
            try:
                self._sync_deployment(stored)
            except Exception:  # one bad object must not stop the others
                log.exception("deployment %s/%s failed to sync", stored.namespace, stored.name)
        for stored in list(self.state.scan(_REPLICASETS)):
            try:
                self._sync_replicaset(stored)
            except Exception:
                log.exception("replicaset %s/%s failed to sync", stored.namespace, stored.name)
        if self.ready_pods:
            for stored in list(self.state.scan(_PODS)):
                self._start_pod(stored)

    # -- namespaces ----------------------------------------------------------------------

    def _finish_namespace(self, stored: StoredObject) -> None:
        self.state.delete(_NAMESPACES, stored.name)

    # -- deployments ---------------------------------------------------------------------

    def _sync_deployment(self, stored: StoredObject) -> None:
        deployment = stored.obj
        if deployment["metadata"].get("deletionTimestamp"):
            return
        namespace = stored.namespace
        spec = deployment.get("spec") or {}
        template = spec.get("template") or {}
        template_hash = pod_template_hash(template)
        uid = deployment["metadata"]["uid"]
        owned = [rs for rs in self.state.scan(_REPLICASETS, namespace) if _owned_by(rs, uid)]
        new_name = f"{stored.name}-{template_hash}"
        replicas = int(spec.get("replicas", 1))
        new_rs = next((rs for rs in owned if rs.name == new_name), None)
        if new_rs is None:
            labels = {
                **(template.get("metadata") or {}).get("labels", {}),
                HASH_LABEL: template_hash,
            }
            selector = dict(spec.get("selector") or {})
            selector["matchLabels"] = {
                **(selector.get("matchLabels") or {}),
                HASH_LABEL: template_hash,
            }
            rs_template = orjson.loads(orjson.dumps(template))
            rs_template.setdefault("metadata", {})["labels"] = labels
            revision = 1 + max(
                (
                    int(
                        (rs.obj["metadata"].get("annotations") or {}).get(
                            "deployment.kubernetes.io/revision", "0"
                        )
                    )
                    for rs in owned
                ),
                default=0,
            )
            self.state.create(
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": {
                        "name": new_name,
                        "namespace": namespace,
                        "labels": labels,
                        "annotations": {
                            "deployment.kubernetes.io/desired-replicas": str(replicas),
                            "deployment.kubernetes.io/max-replicas": str(replicas),
                            "deployment.kubernetes.io/revision": str(revision),
                        },
                        "ownerReferences": [_owner(deployment)],
                    },
                    "spec": {"replicas": replicas, "selector": selector, "template": rs_template},
                    "status": {"replicas": 0},
                }
            )
            self._event(
                deployment,
                "ScalingReplicaSet",
                f"Scaled up replica set {new_name} from 0 to {replicas}",
                "deployment-controller",
            )
        else:
            current = int((new_rs.obj.get("spec") or {}).get("replicas", 0))
            if current != replicas:
                self._scale_rs(new_rs, replicas)
                direction = "up" if replicas > current else "down"
                self._event(
                    deployment,
                    "ScalingReplicaSet",
                    f"Scaled {direction} replica set {new_name} from {current} to {replicas}",
                    "deployment-controller",
                )
        for rs in owned:
            if rs.name != new_name and int((rs.obj.get("spec") or {}).get("replicas", 0)) > 0:
                old = int(rs.obj["spec"]["replicas"])
                self._scale_rs(rs, 0)
                self._event(
                    deployment,
                    "ScalingReplicaSet",
                    f"Scaled down replica set {rs.name} from {old} to 0",
                    "deployment-controller",
                )
        self._deployment_status(stored, new_name)

    def _scale_rs(self, rs: StoredObject, replicas: int) -> None:
        updated = rs.copy()
        updated["spec"]["replicas"] = replicas
        annotations = updated["metadata"].setdefault("annotations", {})
        annotations["deployment.kubernetes.io/desired-replicas"] = str(replicas)
        annotations["deployment.kubernetes.io/max-replicas"] = str(replicas)
        self.state.replace(self.state.resolve(_REPLICASETS), updated)

    def _deployment_status(self, stored: StoredObject, new_name: str) -> None:
        deployment = stored.copy()
        uid = deployment["metadata"]["uid"]
        totals = {"replicas": 0, "updatedReplicas": 0, "readyReplicas": 0, "availableReplicas": 0}
        for rs in self.state.scan(_REPLICASETS, stored.namespace):
            if not _owned_by(rs, uid):
                continue
            counts = rs.obj.get("status") or {}
            totals["replicas"] += int(counts.get("replicas", 0))
            totals["readyReplicas"] += int(counts.get("readyReplicas", 0))
            totals["availableReplicas"] += int(counts.get("availableReplicas", 0))
            if rs.name == new_name:
                totals["updatedReplicas"] += int(counts.get("replicas", 0))
        desired = int((deployment.get("spec") or {}).get("replicas", 1))
        old_status = deployment.get("status") or {}
        status: JSONObject = {"observedGeneration": deployment["metadata"].get("generation", 1)}
        for key, value in totals.items():
            if value:
                status[key] = value
        unavailable = max(desired - totals["availableReplicas"], 0)
        if unavailable:
            status["unavailableReplicas"] = unavailable
        now = timefmt.format_time(self.state.now())
        previous = {c.get("type"): c for c in old_status.get("conditions") or []}

        def condition(kind: str, value: str, reason: str, message: str) -> JSONObject:
            before = previous.get(kind) or {}
            same = before.get("status") == value and before.get("reason") == reason
            return {
                "type": kind,
                "status": value,
                "lastUpdateTime": before.get("lastUpdateTime", now) if same else now,
                "lastTransitionTime": before.get("lastTransitionTime", now)
                if before.get("status") == value
                else now,
                "reason": reason,
                "message": message,
            }

        available = totals["availableReplicas"] >= desired
        complete = available and totals["updatedReplicas"] == desired
        status["conditions"] = [
            condition(
                "Available",
                "True" if available else "False",
                "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                "Deployment has minimum availability."
                if available
                else "Deployment does not have minimum availability.",
            ),
            condition(
                "Progressing",
                "True",
                "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                f'ReplicaSet "{new_name}" has successfully progressed.'
                if complete
                else f'ReplicaSet "{new_name}" is progressing.',
            ),
        ]
        if status != old_status:
            deployment["status"] = status
            self.state.replace(self.state.resolve(_DEPLOYMENTS), deployment)

    # -- replicasets ---------------------------------------------------------------------

    def _sync_replicaset(self, stored: StoredObject) -> None:
        rs = stored.obj
        spec = rs.get("spec") or {}
        try:
            selector = LabelSelector.from_api(spec.get("selector"))
        except SelectorError:
            return
        uid = rs["metadata"]["uid"]
        pods = [
            pod
            for pod in self.state.scan(_PODS, stored.namespace)
            if _owned_by(pod, uid) and selector.matches(pod.labels)
        ]
        live = [pod for pod in pods if not pod.obj["metadata"].get("deletionTimestamp")]
        desired = int(spec.get("replicas", 1))
        if len(live) < desired:
            for _ in range(desired - len(live)):
                name = self._create_pod(rs)
                self._event(rs, "SuccessfulCreate", f"Created pod: {name}", "replicaset-controller")
        elif len(live) > desired:
            ranked = sorted(
                live,
                key=lambda p: (
                    bool((p.obj["spec"] or {}).get("nodeName")),
                    _pod_ready(p.obj),
                    -p.rv,
                ),
            )
            for pod in ranked[: len(live) - desired]:
                self.state.begin_pod_deletion(stored.namespace, pod.name)
                self._event(
                    rs, "SuccessfulDelete", f"Deleted pod: {pod.name}", "replicaset-controller"
                )
        self._replicaset_status(stored)

    def _create_pod(self, rs: Mapping[str, Any]) -> str:
        template = (rs.get("spec") or {}).get("template") or {}
        base = rs["metadata"]["name"]
        while True:
            name = f"{base}-" + "".join(random.choice(_ALPHANUMS) for _ in range(5))
            if self.state.stored(_PODS, rs["metadata"]["namespace"], name) is None:
                break
        pod_spec = orjson.loads(orjson.dumps(template.get("spec") or {}))
        from adapter.sandbox import defaults, rest

        pod: JSONObject = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "generateName": f"{base}-",
                "namespace": rs["metadata"]["namespace"],
                "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                "ownerReferences": [_owner(rs)],
            },
            "spec": pod_spec,
        }
        defaults.apply_defaults(_PODS, pod, self.state)
        pod["status"] = {"phase": "Pending", "qosClass": rest.pod_qos_class(pod["spec"])}
        self.state.create(pod)
        return name

    def _replicaset_status(self, stored: StoredObject) -> None:
        rs = stored.copy()
        uid = rs["metadata"]["uid"]
        pods = [
            p
            for p in self.state.scan(_PODS, stored.namespace)
            if _owned_by(p, uid) and not p.obj["metadata"].get("deletionTimestamp")
        ]
        ready = sum(1 for p in pods if _pod_ready(p.obj))
        status: JSONObject = {"replicas": len(pods)}
        if pods:
            status["fullyLabeledReplicas"] = len(pods)
        if ready:
            status["readyReplicas"] = ready
            status["availableReplicas"] = ready
        status["observedGeneration"] = rs["metadata"].get("generation", 1)
        if status != (rs.get("status") or {}):
            rs["status"] = status
            self.state.replace(self.state.resolve(_REPLICASETS), rs)

    # -- a kubelet stand-in ---------------------------------------------------------------

    def _start_pod(self, stored: StoredObject) -> None:
        pod = stored.obj
        if pod["metadata"].get("deletionTimestamp"):
            self.state.finish_pod_deletion(stored.namespace, stored.name)
            return
        if (pod.get("status") or {}).get("phase") == "Running":
            return
        now = timefmt.format_time(self.state.now())
        updated = stored.copy()
        updated["spec"].setdefault("nodeName", "sandbox-node")
        updated["status"] = {
            **(pod.get("status") or {}),
            "phase": "Running",
            "startTime": now,
            "conditions": [
                {"type": kind, "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
                for kind in (
                    "PodReadyToStartContainers",
                    "Initialized",
                    "Ready",
                    "ContainersReady",
                    "PodScheduled",
                )
            ],
        }
        self.state.replace(self.state.resolve(_PODS), updated)

    # -- events --------------------------------------------------------------------------

    def _event(self, obj: Mapping[str, Any], reason: str, message: str, component: str) -> None:
        self.state.record_event(obj, reason, message, component)
