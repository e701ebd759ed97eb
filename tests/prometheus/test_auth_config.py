"""Credentials for Prometheus from a kubeconfig (`--prometheus-auth-config`) or the pod's
service account (`--prometheus-auth-incluster`), against a real Prometheus serving TLS,
requiring a client certificate and HTTP basic auth (`--web.config.file`).

Upstream (`cmd/adapter/adapter.go`, `makePromClient` and `makeKubeconfigHTTPClient`):
the kubeconfig goes through client-go's `rest.TransportFor`, so its cluster CA (file or
data), insecure-skip-tls-verify, the user's client certificate, bearer token or token
file and basic-auth username/password are what Prometheus sees; in-cluster and an
explicit kubeconfig together are refused; `--prometheus-ca-file` selects a different
client and the kubeconfig is then not used; `--prometheus-token-file` wraps whatever
transport was built (its bearer wins).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.faultproxy import FaultProxy
from support.pki import Pki, b64, make_pki
from support.prometheus import TEST_BASIC_AUTH, PrometheusProcess, SeriesData

from adapter.prometheus import (
    PrometheusClient,
    PrometheusConfigError,
    PrometheusResponseError,
    PrometheusSettings,
    PrometheusUnreachable,
    auth,
)


def kubeconfig(
    path: Path,
    *,
    cluster: dict[str, Any] | None = None,
    user: dict[str, Any] | None = None,
) -> Path:
    """A kubeconfig with one context; the server URL is a decoy the adapter must ignore."""
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "prom",
        "contexts": [{"name": "prom", "context": {"cluster": "c", "user": "u"}}],
        "clusters": [
            {"name": "c", "cluster": {"server": "https://192.0.2.1:6443", **(cluster or {})}}
        ],
        "users": [{"name": "u", "user": user or {}}],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def secured(pki: Pki, prometheus_factory: Callable[..., PrometheusProcess]) -> PrometheusProcess:
    """TLS with a required client certificate and basic auth, all at once."""
    data = SeriesData().gauge("auth_probe", {"secure": "yes"}, 3.0)
    return prometheus_factory(
        data, tls=pki.server_tls(require_client_cert=True), basic_auth=TEST_BASIC_AUTH
    )


async def probe(settings: PrometheusSettings, at: float | None = None) -> list[float]:
    async with PrometheusClient(settings) as client:
        result = await client.query("auth_probe", at=at)
    return [s.value for s in result.samples]


def good_user(pki: Pki) -> dict[str, Any]:
    return {
        "client-certificate-data": b64(pki.client_cert),
        "client-key-data": b64(pki.client_key),
        "username": TEST_BASIC_AUTH.username,
        "password": TEST_BASIC_AUTH.password,
    }


async def test_kubeconfig_with_inline_ca_client_cert_and_basic_auth(
    secured: PrometheusProcess, pki: Pki, tmp_path: Path
) -> None:
    config = kubeconfig(
        tmp_path / "kc.yaml",
        cluster={"certificate-authority-data": b64(pki.ca)},
        user=good_user(pki),
    )
    settings = PrometheusSettings(secured.url, auth_config=str(config))
    assert await probe(settings, secured.now) == [3.0]


async def test_kubeconfig_file_paths_are_relative_to_the_kubeconfig(
    secured: PrometheusProcess, pki: Pki, tmp_path: Path
) -> None:
    # client-go resolves relative paths against the kubeconfig's directory, not the cwd.
    config = kubeconfig(
        pki.ca.parent / "sub" / "kc.yaml",
        cluster={"certificate-authority": "../ca.pem"},
        user={
            "client-certificate": "../client.pem",
            "client-key": "../client-key.pem",
            "username": TEST_BASIC_AUTH.username,
            "password": TEST_BASIC_AUTH.password,
        },
    )
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert await probe(PrometheusSettings(secured.url, auth_config=str(config))) == [3.0]
    finally:
        os.chdir(cwd)


async def test_wrong_password_is_a_clear_refusal(
    secured: PrometheusProcess, pki: Pki, tmp_path: Path
) -> None:
    user = good_user(pki) | {"password": "not-the-password"}
    config = kubeconfig(
        tmp_path / "kc.yaml", cluster={"certificate-authority-data": b64(pki.ca)}, user=user
    )
    with pytest.raises(PrometheusResponseError) as caught:
        await probe(PrometheusSettings(secured.url, auth_config=str(config)))
    assert caught.value.status == 401
    message = str(caught.value)
    assert "Prometheus refused the request: HTTP 401 Unauthorized" in message
    assert "not-the-password" not in message


async def test_untrusted_ca_in_kubeconfig_is_refused(
    secured: PrometheusProcess, pki: Pki, tmp_path: Path
) -> None:
    config = kubeconfig(
        tmp_path / "kc.yaml",
        cluster={"certificate-authority-data": b64(pki.other_ca)},
        user=good_user(pki),
    )
    with pytest.raises(PrometheusUnreachable, match="certificate verify failed"):
        await probe(PrometheusSettings(secured.url, auth_config=str(config)))


async def test_insecure_skip_tls_verify_in_kubeconfig(
    secured: PrometheusProcess, pki: Pki, tmp_path: Path
) -> None:
    config = kubeconfig(
        tmp_path / "kc.yaml", cluster={"insecure-skip-tls-verify": True}, user=good_user(pki)
    )
    assert await probe(PrometheusSettings(secured.url, auth_config=str(config))) == [3.0]


async def test_missing_client_certificate_is_refused(
    secured: PrometheusProcess, pki: Pki, tmp_path: Path
) -> None:
    user = {"username": TEST_BASIC_AUTH.username, "password": TEST_BASIC_AUTH.password}
    config = kubeconfig(
        tmp_path / "kc.yaml", cluster={"certificate-authority-data": b64(pki.ca)}, user=user
    )
    with pytest.raises(PrometheusUnreachable):
        await probe(PrometheusSettings(secured.url, auth_config=str(config)))


# -- bearer tokens: Prometheus has no bearer auth, so the proxy in front records them -----


async def test_kubeconfig_token_and_token_file_are_sent(
    fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    config = kubeconfig(tmp_path / "a.yaml", user={"token": "tok-inline"})
    await probe(PrometheusSettings(fault_proxy.url, auth_config=str(config)))
    (tmp_path / "token").write_text("tok-from-file\n")
    config = kubeconfig(tmp_path / "b.yaml", user={"tokenFile": "token"})
    await probe(PrometheusSettings(fault_proxy.url, auth_config=str(config)))
    sent = [r.header_values("Authorization") for r in fault_proxy.seen("/api/v1/query")]
    assert sent == [["Bearer tok-inline"], ["Bearer tok-from-file"]]


async def test_token_file_flag_and_header_flag_win_in_that_order(
    fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    config = kubeconfig(tmp_path / "kc.yaml", user={"username": "u", "password": "p"})
    (tmp_path / "token").write_text("flag-token")
    auth_config = str(config)
    await probe(PrometheusSettings(fault_proxy.url, auth_config=auth_config))
    await probe(
        PrometheusSettings(
            fault_proxy.url, token_file=str(tmp_path / "token"), auth_config=auth_config
        )
    )
    await probe(
        PrometheusSettings(
            fault_proxy.url,
            token_file=str(tmp_path / "token"),
            headers=(("Authorization", "Custom xyz"), ("X-Scope-Orgid", "tenant-a")),
            auth_config=auth_config,
        )
    )
    seen = fault_proxy.seen("/api/v1/query")
    assert [r.header_values("Authorization") for r in seen] == [
        ["Basic dTpw"],  # base64("u:p")
        ["Bearer flag-token"],
        ["Custom xyz"],
    ]
    assert seen[2].header_values("X-Scope-Orgid") == ["tenant-a"]


async def test_in_cluster_service_account_token_is_reread(
    fault_proxy: FaultProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("first-token")
    monkeypatch.setattr(auth, "SERVICE_ACCOUNT_DIR", account)
    monkeypatch.setattr(auth, "TOKEN_REREAD_SECONDS", 0.0)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    settings = PrometheusSettings(fault_proxy.url, auth_incluster=True)
    async with PrometheusClient(settings) as client:
        await client.query("auth_probe")
        (account / "token").write_text("rotated-token")  # the kubelet rotates it
        await client.query("auth_probe")
    sent = [r.header_values("Authorization") for r in fault_proxy.seen("/api/v1/query")]
    assert sent == [["Bearer first-token"], ["Bearer rotated-token"]]


# -- refusals at start-up, each naming what is wrong ----------------------------------------


def test_in_cluster_and_kubeconfig_together_are_refused() -> None:
    with pytest.raises(PrometheusConfigError, match="may not use both in-cluster auth"):
        PrometheusSettings("http://127.0.0.1:9", auth_config="kc.yaml", auth_incluster=True)


def test_in_cluster_outside_a_cluster_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(PrometheusConfigError, match="KUBERNETES_SERVICE_HOST"):
        auth.in_cluster()


def test_in_cluster_files(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("t")
    (tmp_path / "ca.crt").write_text("ca")
    env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    found = auth.in_cluster(env, tmp_path)
    assert (found.token_file, found.ca_file) == (
        str(tmp_path / "token"),
        str(tmp_path / "ca.crt"),
    )


@pytest.mark.parametrize(
    ("user", "cluster", "message"),
    [
        ({"exec": {"command": "aws"}}, {}, "user 'u': exec credential plugins are not supported"),
        ({"auth-provider": {"name": "gcp"}}, {}, "auth-provider credential plugins"),
        ({"token": "t", "username": "a"}, {}, "username/password or bearer token may be set"),
        ({"client-certificate-data": "QQ=="}, {}, "a client certificate needs its key"),
        ({"token": "t"}, {"certificate-authority-data": "%%%"}, "not valid base64"),
        (
            {},
            {"insecure-skip-tls-verify": True, "certificate-authority": "/ca.pem"},
            "root certificates file with the insecure flag",
        ),
    ],
)
def test_kubeconfig_problems_name_file_and_entry(
    tmp_path: Path, user: dict[str, Any], cluster: dict[str, Any], message: str
) -> None:
    path = kubeconfig(tmp_path / "kc.yaml", user=user, cluster=cluster)
    with pytest.raises(PrometheusConfigError) as caught:
        auth.from_kubeconfig(str(path))
    assert str(caught.value).startswith(f"--prometheus-auth-config {path}: ")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "not a kubeconfig"),
        ("kind: Config\n", "no current-context"),
        ("current-context: x\ncontexts: []\n", "contexts has no entry named 'x'"),
        ("a: [\n", "is not valid YAML"),
    ],
)
def test_malformed_kubeconfig(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "kc.yaml"
    path.write_text(text)
    with pytest.raises(PrometheusConfigError, match=message):
        auth.from_kubeconfig(str(path))


def test_unreadable_kubeconfig(tmp_path: Path) -> None:
    with pytest.raises(PrometheusConfigError, match="cannot read"):
        auth.from_kubeconfig(str(tmp_path / "missing.yaml"))


def test_secrets_stay_out_of_repr(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "kc.yaml", user={"username": "u", "password": "hunter2"})
    assert "hunter2" not in repr(auth.from_kubeconfig(str(path)))
