"""Throw-away certificate authorities for the sandbox: serving and client certificates.

Owns minting what a local cluster needs for TLS that real clients verify (kubectl and
kubernetes-asyncio check the API server's certificate against the kubeconfig's CA, and
an aggregated API server checks the aggregator's front-proxy client certificate). Keys
are P-256, certificates last a day: nothing here is meant to outlive a test or a demo.
How the adapter's own serving certificate is made is `adapter.server`'s business.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_LIFETIME = datetime.timedelta(days=1)
_BACKDATE = datetime.timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    """A PEM certificate and its private key, plus the CA that signed it."""

    cert_pem: bytes
    key_pem: bytes
    ca_pem: bytes

    def server_context(self, *, client_ca_pem: bytes | None = None) -> ssl.SSLContext:
        """A TLS server context; with `client_ca_pem`, client certificates signed by
        that CA are verified when offered (optional, as kube-apiserver does)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        load_chain(context, self.cert_pem, self.key_pem)
        if client_ca_pem is not None:
            context.load_verify_locations(cadata=client_ca_pem.decode("ascii"))
            context.verify_mode = ssl.CERT_OPTIONAL
        return context

    def client_context(self, *, server_ca_pem: bytes | None = None) -> ssl.SSLContext:
        """A TLS client context presenting this certificate."""
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH,
            cadata=server_ca_pem.decode("ascii") if server_ca_pem is not None else None,
        )
        load_chain(context, self.cert_pem, self.key_pem)
        return context


def load_chain(context: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    """`load_cert_chain` only reads files; write them to a private directory briefly."""
    with tempfile.TemporaryDirectory(prefix="sandbox-tls-") as directory:
        cert_path = os.path.join(directory, "tls.crt")
        key_path = os.path.join(directory, "tls.key")
        with open(cert_path, "wb") as handle:
            handle.write(cert_pem)
        with open(os.open(key_path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as handle:
            handle.write(key_pem)
        context.load_cert_chain(cert_path, key_path)


class CertificateAuthority:
    """A self-signed CA that issues serving and client certificates."""

    def __init__(self, common_name: str = "sandbox-ca") -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        public = self._key.public_key()
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + _LIFETIME)
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
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self._key, hashes.SHA256())
        )

    @property
    def cert_pem(self) -> bytes:
        return self._cert.public_bytes(serialization.Encoding.PEM)

    def issue_server(self, hosts: Sequence[str]) -> IssuedCertificate:
        """A serving certificate for these IP addresses and DNS names."""
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        return self._issue(hosts[0] if hosts else "sandbox", (), names, server=True)

    def issue_client(
        self, common_name: str, organizations: Sequence[str] = ()
    ) -> IssuedCertificate:
        """A client certificate: CN is the user name, O the groups (Kubernetes' x509
        authenticator reads them so)."""
        return self._issue(common_name, organizations, [], server=False)

    def _issue(
        self,
        common_name: str,
        organizations: Sequence[str],
        names: list[x509.GeneralName],
        *,
        server: bool,
    ) -> IssuedCertificate:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attributes))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + _LIFETIME)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return IssuedCertificate(
            cert_pem=cert.public_bytes(serialization.Encoding.PEM),
            key_pem=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            ca_pem=self.cert_pem,
        )
