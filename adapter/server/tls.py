"""The TLS context of the HTTPS listener.

Owns what the generic apiserver's SecureServingOptions do for this server: the serving
certificate from `--tls-cert-file`/`--tls-private-key-file`, or, when neither is given, a
self-signed one generated into `--cert-dir` as `apiserver.crt`/`apiserver.key` (the
generic apiserver's names) and reused on the next start; `--tls-min-version` and
`--tls-cipher-suites` with Go's names. Client-certificate verification (front-proxy
request-header CA, `--client-ca-file`) belongs to the authentication work, which will add
its CA bundles to the context this module returns (`verify_mode = CERT_OPTIONAL`).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from adapter.settings import ServingSettings


class TLSConfigError(ValueError):
    """Serving TLS settings that cannot work; the message names the flag."""


SELF_SIGNED_CERT: Final = "apiserver.crt"
SELF_SIGNED_KEY: Final = "apiserver.key"
SELF_SIGNED_VALIDITY: Final = dt.timedelta(days=365)

TLS_VERSIONS: Final[Mapping[str, ssl.TLSVersion]] = {
    "VersionTLS10": ssl.TLSVersion.TLSv1,
    "VersionTLS11": ssl.TLSVersion.TLSv1_1,
    "VersionTLS12": ssl.TLSVersion.TLSv1_2,
    "VersionTLS13": ssl.TLSVersion.TLSv1_3,
}

# Go's TLS 1.0-1.2 cipher suite names (crypto/tls) -> OpenSSL's. TLS 1.3 suites are not
# configurable in Go either; they are always on.
CIPHER_SUITES: Final[Mapping[str, str]] = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": "ECDHE-ECDSA-AES128-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256": "ECDHE-RSA-AES128-SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256": "AES128-SHA256",
}

GO_DEFAULT_CIPHER_SUITES: Final = (
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
)
"""The TLS 1.0-1.2 suites a Go server offers when `--tls-cipher-suites` is not given,
which is what kube-apiserver and prometheus-adapter serve with: crypto/tls'
`defaultCipherSuites` (defaults.go) is its preference list less `disabledCipherSuites`
(the CBC_SHA256 and RC4 suites), the RSA key-exchange suites (off since Go 1.22, GODEBUG
tlsrsakex) and 3DES (off since Go 1.23, tls3des). ECDHE with AEAD, and ECDHE with
AES-CBC-SHA, remain. OpenSSL's own default would add the CBC SHA256/SHA384 and DHE suites.
"""


def ssl_context(settings: ServingSettings) -> ssl.SSLContext:
    """A server-side SSLContext for `settings`, generating a self-signed pair if needed."""
    cert_file, key_file = serving_files(settings)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _min_version(settings.tls_min_version)
    context.set_ciphers(_openssl_ciphers(settings.tls_cipher_suites or GO_DEFAULT_CIPHER_SUITES))
    # aiohttp speaks HTTP/1.1 only; say so, so clients do not try h2.
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as err:
        raise TLSConfigError(
            f"unable to load server certificate {cert_file} and key {key_file}: {err}"
        ) from err
    return context


def serving_files(settings: ServingSettings) -> tuple[str, str]:
    """The certificate and key files to serve with: the configured pair, or the
    self-signed pair in `cert_dir` (generated now if either file is missing)."""
    cert, key = settings.tls_cert_file, settings.tls_private_key_file
    if cert and key:
        return cert, key
    if cert or key:
        missing = "--tls-private-key-file" if cert else "--tls-cert-file"
        raise TLSConfigError(
            f"--tls-cert-file and --tls-private-key-file go together: {missing} is not set"
        )
    directory = Path(settings.cert_dir)
    cert_path, key_path = directory / SELF_SIGNED_CERT, directory / SELF_SIGNED_KEY
    if not (cert_path.is_file() and key_path.is_file()):
        write_self_signed(directory, alternate_ips=_alternate_ips(settings.bind_address))
    return str(cert_path), str(key_path)


def _alternate_ips(bind_address: str) -> tuple[str, ...]:
    try:
        address = ipaddress.ip_address(bind_address)
    except ValueError:
        return ()
    return () if address.is_unspecified else (str(address),)


def write_self_signed(
    directory: Path,
    *,
    hostnames: Sequence[str] = (),
    alternate_ips: Sequence[str] = (),
    now: dt.datetime | None = None,
) -> tuple[Path, Path]:
    """Generate an ECDSA P-256 key and a self-signed certificate for localhost,
    127.0.0.1, ::1, this host's name and any extra names/IPs, valid for a year.

    The key file is written first with mode 0600, the certificate last, so a reader
    that finds the certificate also finds its key. Like client-go's
    GenerateSelfSignedCertKey the subject is `<host>@<unix time>`.
    """
    now = now or dt.datetime.now(dt.UTC)
    host = socket.gethostname() or "localhost"
    names = list(dict.fromkeys(["localhost", host, *hostnames]))
    ips = list(dict.fromkeys(["127.0.0.1", "::1", *alternate_ips]))

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{host}@{int(now.timestamp())}")])
    san = x509.SubjectAlternativeName(
        [x509.DNSName(name) for name in names]
        + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + SELF_SIGNED_VALIDITY)
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )

    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / SELF_SIGNED_CERT, directory / SELF_SIGNED_KEY
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    _write_atomically(key_path, key_pem, mode=0o600)
    _write_atomically(cert_path, certificate.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return cert_path, key_path


def _write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def _min_version(name: str | None) -> ssl.TLSVersion:
    if not name:
        return ssl.TLSVersion.TLSv1_2
    try:
        return TLS_VERSIONS[name]
    except KeyError:
        allowed = ", ".join(TLS_VERSIONS)
        raise TLSConfigError(
            f"--tls-min-version: unknown version {name!r} (one of {allowed})"
        ) from None


def _openssl_ciphers(names: Sequence[str]) -> str:
    out: list[str] = []
    for name in names:
        try:
            out.append(CIPHER_SUITES[name])
        except KeyError:
            raise TLSConfigError(
                f"--tls-cipher-suites: cipher suite {name} not supported or doesn't exist"
            ) from None
    return ":".join(dict.fromkeys(out))
