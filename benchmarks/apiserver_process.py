"""The Kubernetes API stand-in as a process of its own, holding the pods a benchmark needs.

`python -m benchmarks.apiserver_process --names FILE --namespace NS --label K=V
--kubeconfig OUT` stores one pod per line of FILE (shaped as a Deployment's pods are on a
real cluster: owner reference, pod-template-hash, managed fields, so the metadata list the
adapter receives is as large as a real one), serves them over HTTPS with
`adapter.sandbox.apiserver.run_apiserver`, writes an admin kubeconfig for it, prints
`READY <url>` on stdout and serves until SIGTERM. A process of its own so that its CPU is
not counted as the adapter's or the harness's; the stand-in itself is `adapter.sandbox`'s.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

from adapter.sandbox.apiserver import run_apiserver
from adapter.sandbox.store import ClusterState

CREATED = "2026-01-01T00:00:00Z"


def deployment_pod(name: str, namespace: str, labels: dict[str, str], node: str) -> dict[str, Any]:
    """A running, ready pod of a Deployment, with the metadata a real server keeps."""
    template_hash = name.rsplit("-", 2)[-2] if name.count("-") >= 2 else "5d8f7c9b6"
    owner = name.rsplit("-", 1)[0]
    managed = {
        "apiVersion": "v1",
        "fieldsType": "FieldsV1",
        "manager": "kube-controller-manager",
        "operation": "Update",
        "time": CREATED,
        "fieldsV1": {
            "f:metadata": {
                "f:generateName": {},
                "f:labels": {f"f:{key}": {} for key in labels},
                "f:ownerReferences": {},
            },
            "f:spec": {"f:containers": {}, "f:nodeName": {}},
        },
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "generateName": f"{owner}-",
            "namespace": namespace,
            "labels": {**labels, "pod-template-hash": template_hash},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": owner,
                    "uid": "00000000-0000-4000-8000-000000000001",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
            "managedFields": [managed],
        },
        "spec": {
            "nodeName": node,
            "containers": [
                {
                    "name": "app",
                    "image": "registry.example/app:1",
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                }
            ],
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": CREATED}],
            "startTime": CREATED,
        },
    }


async def serve(args: argparse.Namespace) -> None:
    key, _, value = args.label.partition("=")
    names = [line.strip() for line in Path(args.names).read_text().splitlines() if line.strip()]
    state = ClusterState()
    for index, name in enumerate(names):
        state.create(deployment_pod(name, args.namespace, {key: value}, f"node-{index % 8}"))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with run_apiserver(state, tls=True) as server:
        server.write_kubeconfig(args.kubeconfig)
        print(f"READY {server.url} {len(names)}", flush=True)
        await stop.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--names", required=True, help="file with one pod name per line")
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--label", required=True, help="KEY=VALUE on every pod")
    parser.add_argument("--kubeconfig", required=True, help="where to write the kubeconfig")
    args = parser.parse_args()
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
