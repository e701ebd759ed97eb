"""Logging as Kubernetes components log: klog text, component-base JSON, -v and --vmodule."""

from __future__ import annotations

import json
import logging

import pytest

from adapter.cli import logs


@pytest.fixture(autouse=True)
def restore_logging() -> object:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield None
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_format_is_one_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(0, logging_format="json")
    logging.getLogger("adapter.example").info("serving %s", "groups")
    line = capsys.readouterr().err.strip()
    entry = json.loads(line)
    assert entry["msg"] == "serving groups" and entry["v"] == 0
    assert entry["caller"].startswith("test_cli_logs.py:")
    assert isinstance(entry["ts"], float)


def test_text_format_is_klogs_header(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(0)
    logging.getLogger("adapter.example").warning("careful")
    line = capsys.readouterr().err.strip()
    assert line.startswith("W") and "test_cli_logs.py:" in line and line.endswith("] careful")


def test_vmodule_raises_verbosity_for_matching_modules_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure(0, modules=logs.vmodule("test_cli_*=6"))
    logging.getLogger("adapter.example").debug("query detail")
    assert "query detail" in capsys.readouterr().err
    logs.configure(0, modules=logs.vmodule("client=6"))
    logging.getLogger("adapter.example").debug("hidden detail")
    assert "hidden detail" not in capsys.readouterr().err
