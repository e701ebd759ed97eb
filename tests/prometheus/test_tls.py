"""TLS to a real Prometheus serving HTTPS and requiring client certificates
(`--web.config.file`), with certificates minted here.

Upstream (`cmd/adapter/adapter.go`, `makePrometheusCAClient`): `--prometheus-ca-file` is the
trust root, `--prometheus-client-tls-cert-file`/`-key-file` the client identity, TLS 1.2 at
least.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from support.prometheus import PrometheusProcess, SeriesData, TLSFiles

from adapter.prometheus import (
    PrometheusClient,
    PrometheusConfigError,
    PrometheusSettings,
    PrometheusUnreachable,
)


@dataclass(frozen=True)
class Pki:
    ca: Path
    server: TLSFiles
    client_cert: Path
    client_key: Path
    other_ca: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    server: bool = False,
    client: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    if client:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def _write_cert(cert: x509.Certificate, path: Path) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ca_key = _key()
    ca = _cert("test-ca", ca_key, None)
    server_key = _key()
    server = _cert("prometheus", server_key, (ca, ca_key), server=True)
    client_key = _key()
    client = _cert("adapter", client_key, (ca, ca_key), client=True)
    other_key = _key()
    other = _cert("other-ca", other_key, None)
    client_cert_path = _write_cert(client, d / "client.pem")
    client_key_path = _write_key(client_key, d / "client-key.pem")
    return Pki(
        ca=_write_cert(ca, d / "ca.pem"),
        server=TLSFiles(
            cert=_write_cert(server, d / "server.pem"),
            key=_write_key(server_key, d / "server-key.pem"),
            client_ca=d / "ca.pem",
            client_cert=client_cert_path,
            client_key=client_key_path,
        ),
        client_cert=client_cert_path,
        client_key=client_key_path,
        other_ca=_write_cert(other, d / "other-ca.pem"),
    )


@pytest.fixture(scope="module")
def tls_prometheus(
    pki: Pki, prometheus_factory: Callable[..., PrometheusProcess]
) -> PrometheusProcess:
    data = SeriesData().gauge("tls_probe", {"secure": "yes"}, 1.0)
    return prometheus_factory(data, tls=pki.server)


async def test_ca_and_client_certificate(tls_prometheus: PrometheusProcess, pki: Pki) -> None:
    assert tls_prometheus.url.startswith("https://")
    settings = PrometheusSettings(
        tls_prometheus.url,
        ca_file=str(pki.ca),
        client_cert_file=str(pki.client_cert),
        client_key_file=str(pki.client_key),
    )
    async with PrometheusClient(settings) as client:
        result = await client.query("tls_probe", at=tls_prometheus.now)
        series = [s async for batch in client.series("tls_probe", start=0) for s in batch]
    assert [s.value for s in result.samples] == [1.0]
    assert series == [{"__name__": "tls_probe", "secure": "yes"}]


async def test_missing_client_certificate_is_refused(
    tls_prometheus: PrometheusProcess, pki: Pki
) -> None:
    settings = PrometheusSettings(tls_prometheus.url, ca_file=str(pki.ca))
    async with PrometheusClient(settings) as client:
        with pytest.raises(PrometheusUnreachable):
            await client.query("tls_probe")


async def test_untrusted_server_certificate_is_refused(
    tls_prometheus: PrometheusProcess, pki: Pki
) -> None:
    settings = PrometheusSettings(
        tls_prometheus.url,
        ca_file=str(pki.other_ca),
        client_cert_file=str(pki.client_cert),
        client_key_file=str(pki.client_key),
    )
    async with PrometheusClient(settings) as client:
        with pytest.raises(PrometheusUnreachable, match="certificate verify failed"):
            await client.query("tls_probe")


async def test_insecure_skip_verify(tls_prometheus: PrometheusProcess, pki: Pki) -> None:
    settings = PrometheusSettings(
        tls_prometheus.url,
        insecure_skip_verify=True,
        client_cert_file=str(pki.client_cert),
        client_key_file=str(pki.client_key),
    )
    async with PrometheusClient(settings) as client:
        result = await client.query("tls_probe", at=tls_prometheus.now)
    assert [s.value for s in result.samples] == [1.0]


async def test_unreadable_ca_file_fails_at_open(tmp_path: Path) -> None:
    settings = PrometheusSettings("https://127.0.0.1:9", ca_file=str(tmp_path / "missing.pem"))
    with pytest.raises(PrometheusConfigError, match="TLS files"):
        async with PrometheusClient(settings):
            pass
