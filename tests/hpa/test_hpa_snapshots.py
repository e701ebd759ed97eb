"""Every snapshot under tests/hpa/snapshots runs through `hpa evaluate` and meets its `expect`.

Each snapshot restates a case of kube-controller-manager's own tests (its `source:` names
the upstream file and test function) as a whole sync, with the controller's real
settings rather than the test-only ones (upstream's tests raise the no-behavior scale-up
factor from 2 to 8, so expected counts here are worked out for the real factor).

`expect` keys:
  desiredReplicas    the count the sync sets on the target
  conditions         [type, status, reason] of status.conditions, in order, exactly
  conditionMessages  exact message per condition type
  conditionTimes     exact lastTransitionTime per condition type
  status             members of the output status that must equal these exactly
  events             [type, reason, message] of the events emitted, in order, exactly
  history            the output history, exactly
  error              for an invalid snapshot: exit 2 and this text in the error line
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from adapter.hpa.evaluate import evaluate_files

SNAPSHOTS = Path(__file__).parent / "snapshots"
CASES = sorted(SNAPSHOTS.rglob("*.yaml"))


def _run(path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = evaluate_files([str(path)], out, err)
    return code, out.getvalue(), err.getvalue()


def test_there_are_enough_snapshots() -> None:
    assert len(CASES) >= 80


@pytest.mark.parametrize("path", CASES, ids=lambda p: str(p.relative_to(SNAPSHOTS)))
def test_snapshot(path: Path) -> None:
    expect = yaml.safe_load(path.read_text(encoding="utf-8"))["expect"]
    source = yaml.safe_load(path.read_text(encoding="utf-8"))["source"]
    code, out, err = _run(path)

    if "error" in expect:
        assert code == 2, out
        assert out == ""
        assert err.count("\n") == 1
        assert expect["error"] in err, err
        return

    assert code == 0, err
    assert err == ""
    lines = out.splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert list(result)[:3] == ["desiredReplicas", "status", "history"]
    status = result["status"]

    assert result["desiredReplicas"] == expect["desiredReplicas"], source
    conditions = status.get("conditions", [])
    if "conditions" in expect:
        got = [[c["type"], c["status"], c.get("reason", "")] for c in conditions]
        assert got == expect["conditions"], source
    by_type = {c["type"]: c for c in conditions}
    for kind, message in expect.get("conditionMessages", {}).items():
        assert by_type[kind]["message"] == message, source
    for kind, moment in expect.get("conditionTimes", {}).items():
        assert by_type[kind]["lastTransitionTime"] == moment, source
    for key, value in expect.get("status", {}).items():
        assert status.get(key) == value, f"status.{key}: {source}"
    if "events" in expect:
        got_events = [
            [e["type"], e["reason"], e["message"]] for e in result["explanation"]["events"]
        ]
        assert got_events == expect["events"], source
    if "history" in expect:
        assert result["history"] == expect["history"], source
