"""Test certificate authorities with trustme, written to files the way a kubeconfig, a
Prometheus web config or the adapter's flags want them.

Owns: one CA with a server certificate for 127.0.0.1 and a client certificate, and an
unrelated CA to prove that trust is really checked. Nothing here talks to a server.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import trustme

from support.prometheus import TLSFiles

__all__ = ["Pki", "b64", "make_pki"]


@dataclass(frozen=True, slots=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path

    def server_tls(self, *, require_client_cert: bool) -> TLSFiles:
        """What the Prometheus fixture serves with; it polls with the client cert."""
        return TLSFiles(
            cert=self.server_cert,
            key=self.server_key,
            client_ca=self.ca if require_client_cert else None,
            client_cert=self.client_cert,
            client_key=self.client_key,
        )


def make_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    client = ca.issue_cert("metrics-adapter")
    other = trustme.CA()
    paths = {
        name: directory / f"{name}.pem"
        for name in ("ca", "server", "server-key", "client", "client-key", "other-ca")
    }
    ca.cert_pem.write_to_path(str(paths["ca"]))
    server.cert_chain_pems[0].write_to_path(str(paths["server"]))
    server.private_key_pem.write_to_path(str(paths["server-key"]))
    client.cert_chain_pems[0].write_to_path(str(paths["client"]))
    client.private_key_pem.write_to_path(str(paths["client-key"]))
    other.cert_pem.write_to_path(str(paths["other-ca"]))
    return Pki(
        ca=paths["ca"],
        server_cert=paths["server"],
        server_key=paths["server-key"],
        client_cert=paths["client"],
        client_key=paths["client-key"],
        other_ca=paths["other-ca"],
    )


def b64(path: Path) -> str:
    """A file's bytes as a kubeconfig `*-data` field carries them."""
    return base64.b64encode(path.read_bytes()).decode("ascii")
