"""The HTTPS listener's certificates and TLS settings, with real handshakes on loopback.

Upstream behaviour pinned: k8s.io/apiserver `pkg/server/options/serving.go`
(SecureServingOptions.MaybeDefaultWithSelfSignedCerts: with no --tls-cert-file and
--tls-private-key-file, a self-signed pair `apiserver.crt`/`apiserver.key` is generated
in --cert-dir, or reused when it can be read; TLS 1.2 is the default floor;
--tls-cipher-suites takes Go's suite names and rejects unknown ones).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
import stat
from pathlib import Path

import aiohttp
import pytest
import yarl
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapter.server.app import create_app
from adapter.server.running import running
from adapter.server.tls import (
    SELF_SIGNED_CERT,
    SELF_SIGNED_KEY,
    TLSConfigError,
    serving_files,
    ssl_context,
)
from adapter.settings import ServingSettings


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def mint_ca_and_server(directory: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate it signed for localhost/127.0.0.1."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("test-ca"))
        .issuer_name(_name("test-ca"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("metrics-adapter"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_path, cert_path, key_path = (
        directory / "ca.crt",
        directory / "tls.crt",
        directory / "tls.key",
    )
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_path, cert_path, key_path


def app() -> object:
    return create_app(custom=None, external=None, readiness=lambda: True)


def client_context(cafile: Path, **versions: ssl.TLSVersion) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cafile))
    for attribute, version in versions.items():
        setattr(context, attribute, version)
    return context


async def fetch(url: str, context: ssl.SSLContext) -> tuple[int, str, bytes]:
    """GET url verifying the server against `context`; also the served certificate (DER)."""
    async with aiohttp.ClientSession() as session, session.get(url, ssl=context) as response:
        code, text = response.status, await response.text()
    parsed = yarl.URL(url)
    assert parsed.host is not None and parsed.port is not None
    _, writer = await asyncio.open_connection(parsed.host, parsed.port, ssl=context)
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    await writer.wait_closed()
    return code, text, der


def der_of(pem_file: Path) -> bytes:
    cert = x509.load_pem_x509_certificate(pem_file.read_bytes())
    return cert.public_bytes(serialization.Encoding.DER)


async def test_serves_the_given_certificate(tmp_path: Path) -> None:
    ca, cert, key = mint_ca_and_server(tmp_path / "pki")
    settings = ServingSettings(
        secure_port=0,
        bind_address="127.0.0.1",
        tls_cert_file=str(cert),
        tls_private_key_file=str(key),
        cert_dir=str(tmp_path / "unused"),
    )
    async with running(app(), settings) as url:  # type: ignore[arg-type]
        code, text, der = await fetch(url + "/livez", client_context(ca))
    assert (code, text) == (200, "ok")
    assert der == der_of(cert)
    assert not (tmp_path / "unused").exists()


async def test_generates_self_signed_pair_when_none_given(tmp_path: Path) -> None:
    cert_dir = tmp_path / "apiserver.local.config" / "certificates"
    settings = ServingSettings(secure_port=0, bind_address="127.0.0.1", cert_dir=str(cert_dir))
    async with running(app(), settings) as url:  # type: ignore[arg-type]
        # The generated certificate is its own trust anchor and valid for 127.0.0.1.
        code, text, der = await fetch(url + "/healthz", client_context(cert_dir / SELF_SIGNED_CERT))
    assert (code, text) == (200, "ok")
    assert der == der_of(cert_dir / SELF_SIGNED_CERT)

    assert stat.S_IMODE((cert_dir / SELF_SIGNED_KEY).stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate((cert_dir / SELF_SIGNED_CERT).read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    host = socket.gethostname()
    assert {"localhost", host} <= set(sans.get_values_for_type(x509.DNSName))
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    common_name = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert str(common_name).startswith(f"{host}@")
    assert cert.not_valid_after_utc - cert.not_valid_before_utc >= dt.timedelta(days=365)


def test_serving_defaults() -> None:
    # 6443 as upstream's deployments pass it (the library default is 443); the cert dir is
    # the generic apiserver's default.
    defaults = ServingSettings()
    assert (defaults.secure_port, defaults.bind_address) == (6443, "0.0.0.0")
    assert defaults.cert_dir == "apiserver.local.config/certificates"
    assert (defaults.tls_cert_file, defaults.tls_private_key_file) == (None, None)


def test_generated_pair_is_reused(tmp_path: Path) -> None:
    settings = ServingSettings(cert_dir=str(tmp_path / "certs"))
    first = serving_files(settings)
    cert_bytes = Path(first[0]).read_bytes()
    key_bytes = Path(first[1]).read_bytes()
    second = serving_files(settings)
    assert second == first
    assert Path(second[0]).read_bytes() == cert_bytes
    assert Path(second[1]).read_bytes() == key_bytes


async def test_pair_placed_in_cert_dir_is_used(tmp_path: Path) -> None:
    ca, cert, key = mint_ca_and_server(tmp_path / "pki")
    cert_dir = tmp_path / "certs"
    cert_dir.mkdir()
    (cert_dir / SELF_SIGNED_CERT).write_bytes(cert.read_bytes())
    (cert_dir / SELF_SIGNED_KEY).write_bytes(key.read_bytes())
    settings = ServingSettings(secure_port=0, bind_address="127.0.0.1", cert_dir=str(cert_dir))
    async with running(app(), settings) as url:  # type: ignore[arg-type]
        _, _, der = await fetch(url + "/livez", client_context(ca))
    assert der == der_of(cert)


@pytest.mark.parametrize(
    ("cert", "key", "missing"),
    [("tls.crt", None, "--tls-private-key-file"), (None, "tls.key", "--tls-cert-file")],
)
def test_half_a_pair_is_refused(cert: str | None, key: str | None, missing: str) -> None:
    with pytest.raises(TLSConfigError, match=missing):
        ssl_context(ServingSettings(tls_cert_file=cert, tls_private_key_file=key))


def test_unreadable_files_are_refused(tmp_path: Path) -> None:
    settings = ServingSettings(
        tls_cert_file=str(tmp_path / "missing.crt"),
        tls_private_key_file=str(tmp_path / "missing.key"),
    )
    with pytest.raises(TLSConfigError, match="unable to load server certificate"):
        ssl_context(settings)


def test_unknown_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TLSConfigError, match="--tls-min-version"):
        ssl_context(ServingSettings(cert_dir=str(tmp_path), tls_min_version="VersionTLS14"))
    with pytest.raises(TLSConfigError, match="TLS_FOO not supported or doesn't exist"):
        ssl_context(ServingSettings(cert_dir=str(tmp_path), tls_cipher_suites=("TLS_FOO",)))


async def test_min_version_is_enforced(tmp_path: Path) -> None:
    ca, cert, key = mint_ca_and_server(tmp_path / "pki")
    settings = ServingSettings(
        secure_port=0,
        bind_address="127.0.0.1",
        tls_cert_file=str(cert),
        tls_private_key_file=str(key),
        tls_min_version="VersionTLS13",
    )
    async with running(app(), settings) as url:  # type: ignore[arg-type]
        old = client_context(ca, maximum_version=ssl.TLSVersion.TLSv1_2)
        with pytest.raises(aiohttp.ClientConnectorError):
            await fetch(url + "/livez", old)
        code, _, _ = await fetch(url + "/livez", client_context(ca))
    assert code == 200


def test_default_floor_is_tls12(tmp_path: Path) -> None:
    _, cert, key = mint_ca_and_server(tmp_path / "pki")
    context = ssl_context(ServingSettings(tls_cert_file=str(cert), tls_private_key_file=str(key)))
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


async def test_cipher_suites_limit_tls12_handshakes(tmp_path: Path) -> None:
    ca, cert, key = mint_ca_and_server(tmp_path / "pki")
    settings = ServingSettings(
        secure_port=0,
        bind_address="127.0.0.1",
        tls_cert_file=str(cert),
        tls_private_key_file=str(key),
        tls_cipher_suites=("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",),
    )
    async with running(app(), settings) as url:  # type: ignore[arg-type]
        other = client_context(ca, maximum_version=ssl.TLSVersion.TLSv1_2)
        other.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384")
        with pytest.raises(aiohttp.ClientConnectorError):
            await fetch(url + "/livez", other)
        allowed = client_context(ca, maximum_version=ssl.TLSVersion.TLSv1_2)
        allowed.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
        code, _, _ = await fetch(url + "/livez", allowed)
    assert code == 200


async def test_default_suites_are_gos(tmp_path: Path) -> None:
    """Without --tls-cipher-suites the TLS 1.2 suites are Go's defaults, what
    kube-apiserver offers (crypto/tls defaults.go `defaultCipherSuites`: no CBC_SHA256,
    no RSA key exchange, no 3DES). A client offering only a suite Go leaves out (which
    OpenSSL's defaults would accept) fails the handshake; an ECDHE-GCM client and an
    ECDHE-CBC-SHA client (still in Go's defaults) succeed."""
    ca, cert, key = mint_ca_and_server(tmp_path / "pki")
    settings = ServingSettings(
        secure_port=0,
        bind_address="127.0.0.1",
        tls_cert_file=str(cert),
        tls_private_key_file=str(key),
    )
    async with running(app(), settings) as url:  # type: ignore[arg-type]
        for left_out in ("ECDHE-ECDSA-AES256-SHA384", "ECDHE-ECDSA-AES128-SHA256"):
            client = client_context(ca, maximum_version=ssl.TLSVersion.TLSv1_2)
            client.set_ciphers(left_out)
            with pytest.raises(aiohttp.ClientConnectorError):
                await fetch(url + "/livez", client)
        for offered in ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA"):
            client = client_context(ca, maximum_version=ssl.TLSVersion.TLSv1_2)
            client.set_ciphers(offered)
            code, _, _ = await fetch(url + "/livez", client)
            assert code == 200, offered


async def test_named_suites_replace_the_defaults(tmp_path: Path) -> None:
    """A suite Go leaves out of its defaults is served when --tls-cipher-suites names it."""
    ca, cert, key = mint_ca_and_server(tmp_path / "pki")
    settings = ServingSettings(
        secure_port=0,
        bind_address="127.0.0.1",
        tls_cert_file=str(cert),
        tls_private_key_file=str(key),
        tls_cipher_suites=("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",),
    )
    async with running(app(), settings) as url:  # type: ignore[arg-type]
        client = client_context(ca, maximum_version=ssl.TLSVersion.TLSv1_2)
        client.set_ciphers("ECDHE-ECDSA-AES128-SHA256")
        code, _, _ = await fetch(url + "/livez", client)
    assert code == 200
