"""`deploy/`: what `kubectl apply -k deploy/` would create, rendered by the real kubectl's
kustomize, checked against the Kubernetes API's own types and against the adapter's own
command line.

Schema: kubernetes-asyncio's models are generated from the Kubernetes OpenAPI document;
each object is walked field by field against them (every field name known, every value
of the documented type) and then built with the client's deserializer, which refuses
missing required fields. `kubectl apply --dry-run=client --validate` would need a
server. The layout follows prometheus-adapter's deploy/manifests and metrics-server's
(auth-delegator, the extension-apiserver-authentication-reader RoleBinding in
kube-system, aggregated metrics reader, HPA controller access to custom/external).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio import client as k8s

from adapter import cli
from adapter.server import tls
from adapter.settings import fromflags

REPO = Path(__file__).parents[2]
DEPLOY = REPO / "deploy"
OVERLAY = DEPLOY / "overlays" / "with-metrics-server"

MODELS = {
    ("v1", "Namespace"): "V1Namespace",
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("v1", "Service"): "V1Service",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("apps/v1", "Deployment"): "V1Deployment",
    ("policy/v1", "PodDisruptionBudget"): "V1PodDisruptionBudget",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "V1ClusterRole",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "V1ClusterRoleBinding",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "V1RoleBinding",
    ("apiregistration.k8s.io/v1", "APIService"): "V1APIService",
}
SERVED = {
    ("custom.metrics.k8s.io", "v1beta1"),
    ("custom.metrics.k8s.io", "v1beta2"),
    ("external.metrics.k8s.io", "v1beta1"),
    ("metrics.k8s.io", "v1beta1"),
}


def render(directory: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not installed (it is part of the machine image)")
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return render(DEPLOY)


@pytest.fixture(scope="module")
def overlay() -> list[dict[str, Any]]:
    return render(OVERLAY)


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [found] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


# -- the schema walk ------------------------------------------------------------------------

_LIST = re.compile(r"list\[(.+)\]\Z")
_DICT = re.compile(r"dict\(str, (.+)\)\Z")


def schema_problems(value: Any, type_name: str, path: str) -> list[str]:
    """Where `value` does not fit the OpenAPI-generated type `type_name`."""
    if type_name == "object":  # IntOrString, RawExtension: anything goes
        return []
    if type_name == "str":
        return [] if isinstance(value, str) else [f"{path}: want a string, got {value!r}"]
    if type_name == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: want an integer, got {value!r}"]
    if type_name == "bool":
        return [] if isinstance(value, bool) else [f"{path}: want a boolean, got {value!r}"]
    if match := _LIST.match(type_name):
        if not isinstance(value, list):
            return [f"{path}: want a list"]
        return [
            p for i, v in enumerate(value) for p in schema_problems(v, match[1], f"{path}[{i}]")
        ]
    if match := _DICT.match(type_name):
        if not isinstance(value, dict):
            return [f"{path}: want a mapping"]
        return [p for k, v in value.items() for p in schema_problems(v, match[1], f"{path}.{k}")]
    model = getattr(k8s, type_name)
    if not isinstance(value, dict):
        return [f"{path}: want a {type_name} mapping"]
    by_json = {json: attr for attr, json in model.attribute_map.items()}
    problems: list[str] = []
    for key, item in value.items():
        if key not in by_json:
            problems.append(f"{path}.{key}: no such field in {type_name}")
            continue
        problems += schema_problems(item, model.openapi_types[by_json[key]], f"{path}.{key}")
    return problems


def deserialize(obj: dict[str, Any], model: str) -> Any:
    """The client's own deserializer: raises on a missing required field or a bad enum."""
    api = k8s.ApiClient.__new__(k8s.ApiClient)  # no connection pool needed to decode
    api.configuration = k8s.Configuration()
    return api._ApiClient__deserialize(obj, model)  # type: ignore[attr-defined]


@pytest.mark.parametrize("directory", [DEPLOY, OVERLAY], ids=["base", "with-metrics-server"])
def test_every_object_fits_the_kubernetes_api_types(directory: Path) -> None:
    objects = render(directory)
    problems: list[str] = []
    for obj in objects:
        key = (obj.get("apiVersion"), obj.get("kind"))
        assert key in MODELS, f"unknown apiVersion/kind {key}"
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        problems += schema_problems(obj, MODELS[key], where)
        deserialize(obj, MODELS[key])
    assert problems == []


def test_schema_walk_catches_mistakes() -> None:
    """The check itself: a misspelt field, a wrong type and a missing required field."""
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
           "spec": {"ports": [{"port": "443"}], "selectr": {}}}  # fmt: skip
    assert schema_problems(bad, "V1Service", "Service/x") == [
        "Service/x.spec.ports[0].port: want an integer, got '443'",
        "Service/x.spec.selectr: no such field in V1ServiceSpec",
    ]
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                  "spec": {"template": {}}}  # fmt: skip
    with pytest.raises(ValueError, match="selector"):
        deserialize(deployment, "V1Deployment")


# -- what is deployed -----------------------------------------------------------------------


def test_base_objects(base: list[dict[str, Any]]) -> None:
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in base)
    assert kinds == sorted([
        ("Namespace", "metrics-adapter"),
        ("ServiceAccount", "metrics-adapter"),
        ("ClusterRoleBinding", "metrics-adapter:system:auth-delegator"),
        ("RoleBinding", "metrics-adapter-auth-reader"),
        ("ClusterRole", "metrics-adapter:resource-reader"),
        ("ClusterRoleBinding", "metrics-adapter:resource-reader"),
        ("ClusterRole", "metrics-adapter:custom-metrics-reader"),
        ("ClusterRoleBinding", "metrics-adapter:hpa-controller-custom-metrics"),
        ("ClusterRole", "metrics-adapter:aggregated-metrics-reader"),
        ("ConfigMap", "metrics-adapter-config"),
        ("Deployment", "metrics-adapter"),
        ("PodDisruptionBudget", "metrics-adapter"),
        ("Service", "metrics-adapter"),
        ("APIService", "v1beta1.custom.metrics.k8s.io"),
        ("APIService", "v1beta2.custom.metrics.k8s.io"),
        ("APIService", "v1beta1.external.metrics.k8s.io"),
        ("APIService", "v1beta1.metrics.k8s.io"),
    ])  # fmt: skip


def test_rbac_as_an_aggregated_api_server_needs_it(base: list[dict[str, Any]]) -> None:
    adapter = {"kind": "ServiceAccount", "name": "metrics-adapter", "namespace": "metrics-adapter"}
    delegator = one(base, "ClusterRoleBinding", "metrics-adapter:system:auth-delegator")
    assert delegator["roleRef"]["name"] == "system:auth-delegator"
    assert delegator["subjects"] == [adapter]
    reader = one(base, "RoleBinding", "metrics-adapter-auth-reader")
    assert reader["metadata"]["namespace"] == "kube-system"
    assert reader["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "extension-apiserver-authentication-reader",
    }
    assert reader["subjects"] == [adapter]
    hpa = one(base, "ClusterRoleBinding", "metrics-adapter:hpa-controller-custom-metrics")
    assert hpa["subjects"] == [
        {"kind": "ServiceAccount", "name": "horizontal-pod-autoscaler", "namespace": "kube-system"}
    ]
    [rule] = one(base, "ClusterRole", hpa["roleRef"]["name"])["rules"]
    assert set(rule["apiGroups"]) == {"custom.metrics.k8s.io", "external.metrics.k8s.io"}
    assert rule["resources"] == ["*"] and {"get", "list"} <= set(rule["verbs"])
    resources = one(base, "ClusterRole", "metrics-adapter:resource-reader")["rules"]
    core = next(r for r in resources if r["apiGroups"] == [""])
    assert {"namespaces", "pods", "nodes", "services"} <= set(core["resources"])
    for r in resources:
        assert set(r["verbs"]) == {"get", "list", "watch"}
    aggregated = one(base, "ClusterRole", "metrics-adapter:aggregated-metrics-reader")
    labels = aggregated["metadata"]["labels"]
    for role in ("view", "edit", "admin"):
        assert labels[f"rbac.authorization.k8s.io/aggregate-to-{role}"] == "true"


def test_one_apiservice_per_served_group_version(base: list[dict[str, Any]]) -> None:
    service = one(base, "Service", "metrics-adapter")
    apiservices = [o for o in base if o["kind"] == "APIService"]
    assert {(a["spec"]["group"], a["spec"]["version"]) for a in apiservices} == SERVED
    for a in apiservices:
        spec = a["spec"]
        assert a["metadata"]["name"] == f"{spec['version']}.{spec['group']}"
        assert spec["service"] == {
            "name": service["metadata"]["name"],
            "namespace": service["metadata"]["namespace"],
            "port": 443,
        }
    v1beta2 = one(base, "APIService", "v1beta2.custom.metrics.k8s.io")["spec"]
    v1beta1 = one(base, "APIService", "v1beta1.custom.metrics.k8s.io")["spec"]
    assert v1beta2["versionPriority"] > v1beta1["versionPriority"]  # what HPAs call first


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    spec = one(objects, "Deployment", "metrics-adapter")["spec"]["template"]["spec"]
    [only] = spec["containers"]
    assert isinstance(only, dict)
    return only


def parse_serve_args(args: list[str]) -> argparse.Namespace:
    """The Deployment's args as the image runs them: `python -m adapter serve ARGS`."""
    try:
        return cli.build_parser().parse_args(["serve", *args])
    except SystemExit as exit:
        pytest.fail(f"the adapter refuses the Deployment's args {args}: exit {exit.code}")


def test_deployment_args_are_ones_the_adapter_accepts(
    base: list[dict[str, Any]], tmp_path: Path
) -> None:
    pod = one(base, "Deployment", "metrics-adapter")["spec"]["template"]["spec"]
    c = container(base)
    args = parse_serve_args(c["args"])
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    # The config is the generated ConfigMap's key, the certificates go to an emptyDir.
    config_volume = next(n for n, v in volumes.items() if "configMap" in v)
    assert volumes[config_volume]["configMap"]["name"] == "metrics-adapter-config"
    assert args.config == f"{mounts[config_volume]}/config.yaml"
    cert_volume = next(n for n, p in mounts.items() if p == args.cert_dir)
    assert volumes[cert_volume] == {"name": cert_volume, "emptyDir": {}}
    [port] = c["ports"]
    assert port["containerPort"] == args.secure_port
    service = one(base, "Service", "metrics-adapter")
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]
    template = one(base, "Deployment", "metrics-adapter")["spec"]["template"]
    assert service["spec"]["selector"].items() <= template["metadata"]["labels"].items()
    assert args.enable_resource_metrics_api is True
    # As upstream's Helm chart: klog level 4 to stderr; as kube-prometheus: TLS >= 1.2
    # with a fixed list of suites, which the settings turn into the listener's context.
    assert args.verbosity == 4
    serving = fromflags.serving_settings(args)
    assert serving.tls_min_version == "VersionTLS12"
    assert serving.tls_cipher_suites
    assert all(s.startswith("TLS_ECDHE_") for s in serving.tls_cipher_suites)
    context = tls.ssl_context(dataclasses.replace(serving, cert_dir=str(tmp_path)))
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    offered = {c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.2"}
    assert offered and all(name.startswith("ECDHE-") for name in offered)
    configmap = one(base, "ConfigMap", "metrics-adapter-config")
    assert list(configmap["data"]) == ["config.yaml"]


def test_overlay_leaves_metrics_k8s_io_to_metrics_server(
    base: list[dict[str, Any]], overlay: list[dict[str, Any]]
) -> None:
    apiservices = {
        (o["spec"]["group"], o["spec"]["version"]) for o in overlay if o["kind"] == "APIService"
    }
    assert apiservices == SERVED - {("metrics.k8s.io", "v1beta1")}
    names = {(o["kind"], o["metadata"]["name"]) for o in overlay}
    assert ("ClusterRole", "metrics-adapter:aggregated-metrics-reader") not in names
    args = parse_serve_args(container(overlay)["args"])
    assert args.enable_resource_metrics_api is False
    assert len(overlay) == len(base) - 2


def test_deployment_runs_hardened_and_highly_available(base: list[dict[str, Any]]) -> None:
    deployment = one(base, "Deployment", "metrics-adapter")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["serviceAccountName"] == "metrics-adapter"
    c = container(base)
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    for probe, path in (("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
        assert c[probe]["httpGet"] == {"path": path, "port": "https", "scheme": "HTTPS"}
    assert {"cpu", "memory"} <= c["resources"]["requests"].keys()
    assert "memory" in c["resources"]["limits"]
    pdb = one(base, "PodDisruptionBudget", "metrics-adapter")
    assert pdb["spec"]["minAvailable"] == 1
    assert (
        pdb["spec"]["selector"]["matchLabels"].items()
        <= deployment["spec"]["template"]["metadata"]["labels"].items()
    )


def test_configmap_copy_equals_config_default() -> None:
    """kustomize reads nothing outside deploy/: its copy must stay the shipped rules."""
    copy = DEPLOY / "base" / "config" / "default.yaml"
    assert copy.read_bytes() == (REPO / "config" / "default.yaml").read_bytes(), (
        "deploy/base/config/default.yaml differs from config/default.yaml: "
        "cp config/default.yaml deploy/base/config/default.yaml"
    )


def test_configmap_carries_the_rules(base: list[dict[str, Any]]) -> None:
    configmap = one(base, "ConfigMap", "metrics-adapter-config")
    assert configmap["data"]["config.yaml"] == (REPO / "config" / "default.yaml").read_text()
