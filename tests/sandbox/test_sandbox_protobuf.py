"""kubectl's generators send protobuf bodies; the stand-in reads them.

`kubectl create namespace`, `create deployment`, `autoscale`, `create role`, `auth can-i`
and friends encode their object as `application/vnd.kubernetes.protobuf` (the `k8s\\x00`
prefix and a runtime.Unknown envelope, k8s.io/apimachinery/pkg/runtime/serializer/
protobuf). The walkthrough's first step is `kubectl create namespace test`; these tests
run the real kubectl and check what got stored, field by field.
"""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.kubectl import kubectl

from adapter.sandbox import protobuf
from adapter.sandbox.apiserver import RunningApiServer
from adapter.sandbox.store import ClusterState


async def test_generators_create_what_their_flags_say(
    sandbox_kubeconfig: Path, cluster_state: ClusterState
) -> None:
    async def run(*args: str) -> None:
        (await kubectl(sandbox_kubeconfig, *args)).check()

    await run("create", "namespace", "test")
    namespace = cluster_state.get("namespaces", "test")
    assert namespace is not None and namespace["status"] == {"phase": "Active"}
    await run(
        "create", "deployment", "web", "-n", "test", "--image=nginx:1", "--port=80", "--replicas=2"
    )
    web = cluster_state.get("deployments.apps", "web", "test")
    assert web is not None
    assert web["spec"]["replicas"] == 2
    assert web["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert web["spec"]["template"]["metadata"]["labels"] == {"app": "web"}
    [container] = web["spec"]["template"]["spec"]["containers"]
    assert container["name"] == "nginx" and container["image"] == "nginx:1"
    assert container["ports"][0]["containerPort"] == 80
    await run("create", "serviceaccount", "test-pods-admin", "-n", "test")
    assert cluster_state.get("serviceaccounts", "test-pods-admin", "test") is not None
    await run("create", "configmap", "cfg", "-n", "test", "--from-literal=a=1")
    assert (cluster_state.get("configmaps", "cfg", "test") or {})["data"] == {"a": "1"}
    await run("create", "secret", "generic", "sec", "-n", "test", "--from-literal=p=q")
    secret = cluster_state.get("secrets", "sec", "test") or {}
    assert secret["data"] == {"p": base64.b64encode(b"q").decode()}
    await run(
        "create", "role", "r", "-n", "test", "--verb=get,list", "--resource=pods,deployments.apps"
    )
    role = cluster_state.get("roles.rbac.authorization.k8s.io", "r", "test") or {}
    assert role["rules"] == [
        {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]},
        {"verbs": ["get", "list"], "apiGroups": ["apps"], "resources": ["deployments"]},
    ]
    await run(
        "create",
        "rolebinding",
        "rb",
        "-n",
        "test",
        "--role=r",
        "--serviceaccount=test:test-pods-admin",
    )
    binding = cluster_state.get("rolebindings.rbac.authorization.k8s.io", "rb", "test") or {}
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "test-pods-admin", "namespace": "test"}
    ]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "r",
    }
    await run(
        "autoscale", "deployment", "web", "-n", "test", "--cpu-percent=80", "--min=1", "--max=3"
    )
    hpa = (
        await kubectl(
            # the full name: kubectl drops the version from a short name's expansion
            sandbox_kubeconfig,
            "get",
            "horizontalpodautoscalers.v1.autoscaling",
            "web",
            "-n",
            "test",
            "-o",
            "json",
        )
    ).json()
    assert hpa["spec"]["scaleTargetRef"] == {
        "kind": "Deployment",
        "name": "web",
        "apiVersion": "apps/v1",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 3)
    assert hpa["spec"]["targetCPUUtilizationPercentage"] == 80
    await run("create", "service", "clusterip", "svc", "-n", "test", "--tcp=80:8080")
    service = cluster_state.get("services", "svc", "test") or {}
    assert service["spec"]["ports"][0]["port"] == 80
    assert service["spec"]["ports"][0]["targetPort"] == 8080
    assert service["spec"]["type"] == "ClusterIP"


async def test_auth_commands_send_protobuf_reviews(
    tls_apiserver: RunningApiServer, cluster_state: ClusterState, tmp_path: Path
) -> None:
    """Over HTTPS, where client-go sends the kubeconfig's bearer token."""
    sandbox_kubeconfig = tls_apiserver.write_kubeconfig(tmp_path / "tls" / "kubeconfig")
    cluster_state.ensure_namespace("test")
    can = await kubectl(sandbox_kubeconfig, "auth", "can-i", "list", "deployments", "-n", "test")
    assert can.check().stdout.strip() == "yes"
    whoami = await kubectl(sandbox_kubeconfig, "auth", "whoami", "-o", "json")
    info = whoami.json()["status"]["userInfo"]
    assert info["username"] == "sandbox-admin"
    assert "system:masters" in info["groups"]


def test_unknown_kind_and_garbage_are_errors_not_crashes() -> None:
    envelope = b"\n\x0e\n\x02v1\x12\x08PodThing"
    with pytest.raises(protobuf.UnknownKind):
        protobuf.decode(protobuf.MAGIC + envelope)
    with pytest.raises(protobuf.ProtobufError):
        protobuf.decode(b"{}")
    with pytest.raises(protobuf.ProtobufError):
        protobuf.decode(protobuf.MAGIC + b"\n\xff")


@given(st.binary(max_size=200))
def test_hostile_bytes_never_raise_anything_but_protobuf_error(data: bytes) -> None:
    try:
        obj = protobuf.decode(protobuf.MAGIC + data)
    except protobuf.ProtobufError:
        return
    orjson.dumps(obj)
