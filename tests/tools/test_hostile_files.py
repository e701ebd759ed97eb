"""Hostile or mistaken files given to the commands that read them: one error line naming
the file and exit 2, never a hang, a traceback or an exhausted machine.

Each command runs as a process with a timeout, so a regression to a hang fails the test
instead of hanging the suite. The documents are the classic ones: a "billion laughs"
alias bomb (a few hundred bytes expanding to 10^9 nodes; Go's yaml.v2 refuses it since
CVE-2019-11254), nesting thousands of levels deep (PyYAML's composer recurses), a FIFO
with no writer (an open for reading blocks), `/dev/zero` (endless) and a 50 MB file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
TIMEOUT = 120.0
"""Seconds before a command counts as hung; generous for a loaded 2-core machine."""


def _bomb(levels: int = 9, fan_out: int = 9) -> str:
    lines = [f"a0: &a0 [{', '.join(['lol'] * fan_out)}]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * fan_out)}]")
    lines.append(f"rules: *a{levels}")
    return "\n".join(lines) + "\n"


def _deep_list(depth: int, prefix: str = "") -> str:
    return prefix + "[" * depth + "]" * depth + "\n"


def _deep_map(depth: int, prefix: str = "") -> str:
    return prefix + "{a: " * depth + "1" + "}" * depth + "\n"


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adapter", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


def _assert_one_line_error(result: subprocess.CompletedProcess[str], path: str, why: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert path in lines[0]
    assert why in lines[0]


@pytest.fixture
def hostile(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """name -> (path, words the error must contain)."""
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(_bomb(), encoding="utf-8")
    assert bomb.stat().st_size < 1000
    deep_list = tmp_path / "deep-list.yaml"
    deep_list.write_text(_deep_list(5000, "rules: "), encoding="utf-8")
    deep_map = tmp_path / "deep-map.yaml"
    deep_map.write_text(_deep_map(5000, "rules: "), encoding="utf-8")
    recursive = tmp_path / "recursive.yaml"
    recursive.write_text("rules: &r [*r]\n", encoding="utf-8")
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    big = tmp_path / "big.yaml"
    with big.open("w", encoding="utf-8") as f:
        f.write("rules: []\n#")
        f.write("x" * (50 * 1024 * 1024))
        f.write("\n")
    return {
        "bomb": (str(bomb), "expands to more than"),
        "deep-list": (str(deep_list), "nesting"),
        "deep-map": (str(deep_map), "nesting"),
        "recursive": (str(recursive), "used inside itself"),
        "fifo": (str(fifo), "a FIFO, not a regular file"),
        "dev-zero": ("/dev/zero", "a device, not a regular file"),
        "big": (str(big), "file larger than"),
        "directory": (str(tmp_path), "a directory, not a regular file"),
    }


CASES = ("bomb", "deep-list", "deep-map", "recursive", "fifo", "dev-zero", "big", "directory")


@pytest.mark.parametrize("case", CASES)
def test_rules_check_refuses_in_one_line(hostile: dict[str, tuple[str, str]], case: str) -> None:
    path, why = hostile[case]
    _assert_one_line_error(_run("rules", "check", path), path, why)


@pytest.mark.parametrize("case", ("bomb", "deep-list", "fifo", "dev-zero", "big"))
def test_serve_refuses_at_start_up(hostile: dict[str, tuple[str, str]], case: str) -> None:
    # The config is read before anything is contacted: nothing listens on port 9 and
    # nothing needs to.
    path, why = hostile[case]
    result = _run("serve", "--config", path, "--prometheus-url", "http://127.0.0.1:9")
    _assert_one_line_error(result, path, why)


@pytest.mark.parametrize(
    "case", ("bomb", "deep-list", "deep-map", "recursive", "fifo", "dev-zero", "big")
)
def test_hpa_evaluate_refuses_in_one_line(
    hostile: dict[str, tuple[str, str]], tmp_path: Path, case: str
) -> None:
    path, why = hostile[case]
    _assert_one_line_error(_run("hpa", "evaluate", path), path, why)


def test_hpa_evaluate_refuses_3000_deep_json(tmp_path: Path) -> None:
    snapshot = tmp_path / "deep.json"
    snapshot.write_text(_deep_list(3000, '{"apiVersion": "hpa-snapshot/v1", "x": ') + "}")
    _assert_one_line_error(_run("hpa", "evaluate", str(snapshot)), str(snapshot), "nesting")


def test_hpa_evaluate_bomb_on_stdin() -> None:
    result = _run("hpa", "evaluate", "-", stdin=_bomb())
    _assert_one_line_error(result, "-", "expands to more than")
