"""The real kubectl against a server under test.

Owns: writing a throwaway kubeconfig for one server (insecure-skip-tls-verify by
default, or a CA file; optionally a bearer token or a client certificate), and running
kubectl with it as an asyncio subprocess, so the server under test keeps serving on the
same event loop while kubectl talks to it. kubectl runs with HOME set to the test's
directory and without KUBECONFIG or proxy variables, so neither the developer's cluster
config nor the machine's proxy settings can leak in.

Use `get_raw(server_url, path, directory)` for one call, or `write_kubeconfig` +
`kubectl(...)` for several.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

PLACEHOLDER_TOKEN = "kubectl-under-test"
"""The bearer token written when a test gives no credentials. kubectl prompts for a
username (and, with stdin closed, fails with `error: EOF`) when the kubeconfig user has
none, so some credential must be there; a server without authentication ignores it."""

KUBECTL_TIMEOUT = 60.0
"""Seconds before a hung kubectl is killed; a safety net, not an expectation."""


@dataclass(frozen=True, slots=True)
class KubectlResult:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout parsed as JSON; fails the test with kubectl's stderr if it exited non-zero."""
        self.check()
        return orjson.loads(self.stdout)

    def check(self) -> KubectlResult:
        if self.returncode != 0:
            pytest.fail(
                f"kubectl {' '.join(self.args)} exited {self.returncode}:\n{self.stderr}",
                pytrace=False,
            )
        return self


def kubectl_path() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.fail("kubectl is not installed (it is part of the machine image)", pytrace=False)
    return path


def write_kubeconfig(
    directory: Path,
    server: str,
    *,
    insecure_skip_tls_verify: bool = True,
    certificate_authority: Path | None = None,
    token: str | None = PLACEHOLDER_TOKEN,
    client_certificate: Path | None = None,
    client_key: Path | None = None,
    namespace: str | None = None,
) -> Path:
    """A kubeconfig with one cluster, one user and one current context for `server`.

    `token` defaults to `PLACEHOLDER_TOKEN`; pass None with a client certificate to send
    only the certificate.
    """
    cluster: dict[str, Any] = {"server": server}
    if certificate_authority is not None:
        cluster["certificate-authority"] = str(certificate_authority)
    elif insecure_skip_tls_verify:
        cluster["insecure-skip-tls-verify"] = True
    user: dict[str, Any] = {}
    if token is not None:
        user["token"] = token
    if client_certificate is not None:
        user["client-certificate"] = str(client_certificate)
    if client_key is not None:
        user["client-key"] = str(client_key)
    context: dict[str, Any] = {"cluster": "under-test", "user": "tester"}
    if namespace is not None:
        context["namespace"] = namespace
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "under-test", "cluster": cluster}],
        "users": [{"name": "tester", "user": user}],
        "contexts": [{"name": "under-test", "context": context}],
        "current-context": "under-test",
        "preferences": {},
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "kubeconfig.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def _environment(home: Path) -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env["HOME"] = str(home)
    return env


async def kubectl(kubeconfig: Path, *args: str) -> KubectlResult:
    """Run `kubectl --kubeconfig=<kubeconfig> <args>`; never raises on a non-zero exit."""
    home = kubeconfig.parent
    argv = (
        kubectl_path(),
        f"--kubeconfig={kubeconfig}",
        f"--cache-dir={home / 'kube-cache'}",
        *args,
    )
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_environment(home),
        cwd=home,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), KUBECTL_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"kubectl {' '.join(args)} did not finish", pytrace=False)
    assert process.returncode is not None
    return KubectlResult(tuple(args), process.returncode, stdout.decode(), stderr.decode())


async def get_raw(server: str, path: str, directory: Path, **kubeconfig: Any) -> KubectlResult:
    """`kubectl get --raw PATH` against `server` (insecure-skip-tls-verify unless a
    `certificate_authority` is given)."""
    config = write_kubeconfig(directory, server, **kubeconfig)
    return await kubectl(config, "get", "--raw", path)
