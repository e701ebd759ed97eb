"""`hpa evaluate FILE...`: one JSON line per file, errors on stderr, exit 2 on any bad file.

Pins contracts/hpa-snapshot.md: files are evaluated on their own in the order given, `-`
reads standard input, YAML and JSON both work, an invalid file prints
`{"file": ..., "error": ...}` on its line when several were given, and a single invalid
file gives exit 2 with one line on stderr naming the field.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from adapter.hpa.evaluate import evaluate_files

SNAPSHOTS = Path(__file__).parent / "snapshots"
SCALE_UP = SNAPSHOTS / "resource" / "01-scale-up.yaml"
INVALID = SNAPSHOTS / "invalid" / "01-max-replicas-zero.yaml"
# Both checks of validateHorizontalPodAutoscalerSpec fire for maxReplicas 0 under minReplicas 1.
INVALID_ERROR = (
    "hpa.spec.maxReplicas: Invalid value: 0: must be greater than 0; "
    "hpa.spec.maxReplicas: Invalid value: 0: must be greater than or equal to `minReplicas`"
)


def _run(paths: list[str], stdin: str = "") -> tuple[int, list[str], str]:
    out, err = io.StringIO(), io.StringIO()
    code = evaluate_files(paths, out, err, stdin=io.StringIO(stdin))
    return code, out.getvalue().splitlines(), err.getvalue()


def test_single_valid_file() -> None:
    code, lines, err = _run([str(SCALE_UP)])
    assert (code, err) == (0, "")
    assert [json.loads(line)["desiredReplicas"] for line in lines] == [5]


def test_single_invalid_file_reports_on_stderr_only() -> None:
    code, lines, err = _run([str(INVALID)])
    assert code == 2
    assert lines == []
    assert err.splitlines() == [f"hpa evaluate: {INVALID}: {INVALID_ERROR}"]


def test_several_files_keep_their_order_and_mark_the_bad_one() -> None:
    code, lines, err = _run([str(SCALE_UP), str(INVALID), str(SCALE_UP)])
    assert code == 2
    documents = [json.loads(line) for line in lines]
    assert documents[0]["desiredReplicas"] == 5
    assert documents[1] == {"file": str(INVALID), "error": INVALID_ERROR}
    assert documents[2]["desiredReplicas"] == 5
    assert len(err.splitlines()) == 1


def test_stdin_and_json_input() -> None:
    import yaml

    document = yaml.safe_load(SCALE_UP.read_text(encoding="utf-8"))
    code, lines, _ = _run(["-"], stdin=json.dumps(document))
    assert code == 0
    assert json.loads(lines[0])["desiredReplicas"] == 5


def test_unreadable_and_unparsable_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: [unclosed\n", encoding="utf-8")
    missing = tmp_path / "missing.yaml"
    code, lines, err = _run([str(missing), str(broken)])
    assert code == 2
    errors = [json.loads(line)["error"] for line in lines]
    assert errors[0].startswith("cannot read file")
    assert errors[1].startswith("not valid YAML or JSON")
    assert len(err.splitlines()) == 2


def test_output_history_replays_as_input() -> None:
    """The output history has the input's form: feeding it back is the next sync."""
    import yaml

    document = yaml.safe_load(SCALE_UP.read_text(encoding="utf-8"))
    code, lines, _ = _run([str(SCALE_UP)])
    first = json.loads(lines[0])
    document["history"] = first["history"]
    document["hpa"]["status"] = first["status"]
    document["scale"]["spec"]["replicas"] = first["desiredReplicas"]
    code, lines, _ = _run(["-"], stdin=json.dumps(document))
    second = json.loads(lines[0])
    assert code == 0
    # The same three pods still propose 5, which is now the current count: no rescale,
    # and the proposal joins the two recommendations the first sync left.
    assert second["desiredReplicas"] == 5
    assert second["status"]["lastScaleTime"] == first["status"]["lastScaleTime"]
    assert [r["replicas"] for r in second["history"]["recommendations"]] == [3, 5, 5]


INT32_MAX = 2**31 - 1


def _with(document: dict[str, object], path: str, value: object) -> dict[str, object]:
    """A copy of `document` with the dotted `path` set to `value` (made if absent)."""
    import copy

    out = copy.deepcopy(document)
    node: dict[str, object] = out
    *parents, last = path.split(".")
    for key in parents:
        node = node.setdefault(key, {})  # type: ignore[assignment]
    node[last] = value
    return out


@pytest.mark.parametrize(
    ("path", "reported"),
    [
        ("hpa.spec.maxReplicas", "spec.maxReplicas"),
        ("hpa.spec.minReplicas", "spec.minReplicas"),
        ("scale.spec.replicas", "scale.spec.replicas"),
        ("scale.status.replicas", "scale.status.replicas"),
        ("hpa.status.currentReplicas", "currentReplicas"),
        ("hpa.spec.behavior.scaleUp.stabilizationWindowSeconds", "stabilizationWindowSeconds"),
    ],
)
@pytest.mark.parametrize("value", [INT32_MAX + 1, -(2**31) - 1, 2**63, 10**30])
def test_int32_fields_beyond_int32_are_invalid(path: str, reported: str, value: object) -> None:
    """autoscaling/v2 declares replica counts, seconds and percentages int32
    (k8s.io/api autoscaling/v2 types.go); the API server's JSON decoder refuses a
    number outside int32 ("cannot unmarshal number ... of type int32") before
    validation, so such a snapshot is invalid, not evaluated with a huge count."""
    import yaml

    document = yaml.safe_load(SCALE_UP.read_text(encoding="utf-8"))
    code, lines, err = _run(["-"], stdin=json.dumps(_with(document, path, value)))
    assert code == 2, lines
    assert reported in err and "must fit in int32" in err, err
    assert len(err.splitlines()) == 1


def test_policy_values_beyond_int32_are_invalid() -> None:
    import yaml

    document = yaml.safe_load(SCALE_UP.read_text(encoding="utf-8"))
    for field in ("value", "periodSeconds"):
        policy = {"type": "Pods", "value": 4, "periodSeconds": 60, field: INT32_MAX + 1}
        changed = _with(document, "hpa.spec.behavior.scaleUp.policies", [policy])
        code, _, err = _run(["-"], stdin=json.dumps(changed))
        assert code == 2
        assert f"policies[0].{field}" in err and "must fit in int32" in err, err


def test_int32_max_itself_is_valid() -> None:
    import yaml

    document = yaml.safe_load(SCALE_UP.read_text(encoding="utf-8"))
    code, lines, err = _run(
        ["-"], stdin=json.dumps(_with(document, "hpa.spec.maxReplicas", INT32_MAX))
    )
    assert (code, err) == (0, "")
    assert json.loads(lines[0])["desiredReplicas"] == 5
