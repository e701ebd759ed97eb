"""The Dockerfile, tested as far as this machine allows: no base image can be pulled
here, so (1) the Dockerfile is read for the rules the image must keep, and (2) what its
build stage makes - the project's wheel - is installed into a fresh virtual environment
and started, outside the source tree, as the image's entrypoint would start it.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.apiserver import pod
from support.kubectl import PLACEHOLDER_TOKEN, get_raw
from support.prometheus import PrometheusProcess, SeriesData, default_dataset, free_port

from adapter.k8s.quantity import Quantity
from adapter.sandbox.apiserver import RunningApiServer
from adapter.sandbox.store import ClusterState

REPO = Path(__file__).parents[2]
ENTRYPOINT = '["python", "-m", "adapter", "serve"]'


@dataclass(frozen=True)
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]]


def stages(text: str) -> list[Stage]:
    """Dockerfile stages: FROM lines and the instructions under each (continuations joined)."""
    logical = re.sub(r"\\\n", " ", text)
    found: list[Stage] = []
    for line in logical.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            found.append(Stage(parts[0], name, []))
        else:
            assert found, f"{keyword} before any FROM"
            found[-1].instructions.append((keyword, rest.strip()))
    return found


@pytest.fixture(scope="module")
def dockerfile() -> list[Stage]:
    return stages((REPO / "Dockerfile").read_text())


def test_multi_stage_with_pinned_bases(dockerfile: list[Stage]) -> None:
    assert len(dockerfile) >= 2
    for stage in dockerfile:
        pinned_digest = "@sha256:" in stage.base
        tag = stage.base.partition(":")[2]
        exact_tag = re.fullmatch(r"\d+\.\d+\.\d+(-[a-z0-9.-]+)?", tag.split("@")[0]) is not None
        assert pinned_digest or exact_tag, f"{stage.base}: pin an exact version or a digest"
        assert "$" not in stage.base, "the base must not come from a build argument"


def test_final_stage_installs_only_the_wheels_and_runs_unprivileged(
    dockerfile: list[Stage],
) -> None:
    builder, final = dockerfile[0], dockerfile[-1]
    assert builder.name is not None
    builder_runs = " ".join(arg for kw, arg in builder.instructions if kw == "RUN")
    assert "pip wheel" in builder_runs
    copies = [arg for kw, arg in final.instructions if kw in ("COPY", "ADD")]
    assert copies and all(arg.startswith(f"--from={builder.name} ") for arg in copies), copies
    runs = " ".join(arg for kw, arg in final.instructions if kw == "RUN")
    assert "--no-cache-dir" in runs and "--no-index" in runs
    for tool in ("gcc", "g++", "build-essential", "apt-get", "make ", "cc "):
        assert tool not in runs, f"build tool {tool!r} in the final stage"
    [user] = [arg for kw, arg in final.instructions if kw == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "USER must be a numeric, non-root uid"
    [entrypoint] = [arg for kw, arg in final.instructions if kw == "ENTRYPOINT"]
    assert json.loads(entrypoint) == json.loads(ENTRYPOINT)
    keywords = [kw for kw, _ in final.instructions]
    assert keywords.index("USER") > max(i for i, kw in enumerate(keywords) if kw == "RUN")


def test_dockerignore_keeps_local_state_out() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    assert "*" in lines  # everything out, then only what the build needs back in
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "adapter"}


# -- the wheel, installed and started -------------------------------------------------------


@dataclass(frozen=True)
class Installed:
    python: Path
    wheel: Path


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("image")
    wheels = root / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w", str(wheels)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    [wheel] = wheels.glob("metrics_adapter-*.whl")
    env_dir = root / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    # The outer pip installs into the new environment; dependencies come from its cache
    # and configured indexes, as `pip install` in the image's build stage would get them.
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", str(wheel)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    if result.returncode != 0:
        unreachable = ("No matching distribution", "Could not find a version", "NewConnectionError")
        if any(text in result.stderr for text in unreachable):
            pytest.skip(
                f"package index unreachable, cannot install dependencies: {result.stderr[-300:]}"
            )
        pytest.fail(f"installing the wheel failed:\n{result.stderr[-2000:]}")
    yield Installed(python, wheel)


@pytest.mark.slow
def test_wheel_holds_the_package_and_its_type_marker(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    assert "adapter/py.typed" in names and "adapter/__main__.py" in names
    assert not [n for n in names if n.startswith("tests/")]


@pytest.mark.slow
def test_installed_wheel_prints_serve_help(installed: Installed, tmp_path: Path) -> None:
    # cwd outside the source tree: `import adapter` must find the installed wheel.
    result = subprocess.run(
        [str(installed.python), "-c", "import adapter, sys; print(adapter.__file__)"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert str(installed.python.parents[1]) in result.stdout, result.stdout + result.stderr
    help_text = subprocess.run(
        [str(installed.python), "-m", "adapter", "serve", "--help"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert help_text.returncode == 0, help_text.stderr
    assert "--prometheus-url" in help_text.stdout and "--config" in help_text.stdout


CONFIG = """
rules:
- seriesQuery: 'image_jobs_total{namespace!="",pod!=""}'
  resources: {template: <<.Resource>>}
  name: {matches: "^(.*)_total$", as: "${1}_per_second"}
  metricsQuery: sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)
"""


@default_dataset
def _image_series(data: SeriesData) -> None:
    data.counter("image_jobs_total", {"namespace": "img", "pod": "worker-1"}, rate_per_second=3.0)


@pytest.mark.slow
async def test_installed_wheel_serves_until_ready(
    installed: Installed,
    tls_apiserver: RunningApiServer,
    cluster_state: ClusterState,
    prometheus: PrometheusProcess,
    tmp_path: Path,
) -> None:
    cluster_state.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "img"}})
    cluster_state.create(pod("worker-1", "img", {"app": "worker"}))
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    # Delegated authentication as in a cluster: the TLS stand-in publishes the front
    # proxy's CA, and kubectl's token is a user its TokenReview knows.
    cluster_state.authenticator.add_token(PLACEHOLDER_TOKEN, "kubectl-user")
    kubeconfig = tls_apiserver.write_kubeconfig(tmp_path / "adapter" / "kubeconfig")
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        str(installed.python), "-m", "adapter", "serve",
        "--prometheus-url", prometheus.url, "--config", str(config),
        "--kubeconfig", str(kubeconfig), "--secure-port", str(port),
        "--bind-address", "127.0.0.1", "--cert-dir", str(tmp_path / "certs"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=tmp_path,
    )  # fmt: skip
    url = f"https://127.0.0.1:{port}"
    try:
        for _ in range(300):
            ready = await get_raw(url, "/readyz", tmp_path / "kubectl")
            if ready.returncode == 0:
                break
            assert process.returncode is None
            await asyncio.sleep(0.1)
        assert ready.returncode == 0 and ready.stdout.strip() == "ok"
        path = (
            "/apis/custom.metrics.k8s.io/v1beta2/namespaces/img/pods/worker-1/image_jobs_per_second"
        )
        result = await get_raw(url, path, tmp_path / "kubectl")
        assert result.returncode == 0, result.stderr
        [item] = json.loads(result.stdout)["items"]
        assert Quantity.parse(item["value"]).as_float() == pytest.approx(3.0, abs=0.01)
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.communicate(), 30)
