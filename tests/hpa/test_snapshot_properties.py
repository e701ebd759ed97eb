"""Property: any text given to `hpa evaluate` either evaluates or raises `SnapshotError`.

Never another exception, never a hang: mutations of the shipped snapshots
(`tests/hpa/snapshots/`) at the structure level — a field deleted or given a value of
another type, out of range, NaN or infinite, a huge list — and at the character
level, plus random YAML-flavoured text. The entry point is `evaluate_text`, what
`hpa evaluate` runs on each file after reading it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapter.hpa.evaluate import evaluate_text
from adapter.hpa.snapshot import SnapshotError, load_document

SNAPSHOTS = Path(__file__).parent / "snapshots"
SHIPPED = {
    str(path.relative_to(SNAPSHOTS)): path.read_text(encoding="utf-8")
    for path in sorted(SNAPSHOTS.rglob("*.yaml"))
}
PARSED = {name: load_document(text) for name, text in SHIPPED.items()}
"""As `hpa evaluate` reads them (timestamps stay text)."""

PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from(
        [0, -1, 1, 2**31 - 1, 2**31, -(2**31) - 1, 2**63, math.nan, math.inf, -math.inf]
    )
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "1e309",
            "-1",
            "NaN",
            "9223372036854775808",
            "1Ei",
            "0.000000001m",
            "2026-11-22T10:00:00Z",
            "9999-12-31T23:59:59Z",
            "0001-01-01T00:00:00Z",
            "not-a-time",
            "Utilization",
            "AverageValue",
            "Value",
            "Resource",
            "Pods",
            "Object",
            "External",
            "ContainerResource",
            "cpu",
            "memory",
            "Max",
            "Min",
            "Disabled",
            "Percent",
        ]
    )
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _evaluates_or_snapshot_error(text: str) -> None:
    try:
        output = evaluate_text(text)
    except SnapshotError as error:
        assert str(error)
        return
    assert isinstance(output, dict)
    assert isinstance(output["desiredReplicas"], int)
    assert 0 <= output["desiredReplicas"] <= 2**31 - 1


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


def _replace(node: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    copy: Any = dict(node) if isinstance(node, dict) else list(node)
    if delete and not rest:
        del copy[head]
    else:
        copy[head] = _replace(node[head], rest, value, delete)
    return copy


@PROPERTY_SETTINGS
@given(name=st.sampled_from(sorted(SHIPPED)), data=st.data())
def test_structural_mutations(name: str, data: st.DataObject) -> None:
    document = PARSED[name]
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(_paths(document)))
        delete = bool(path) and data.draw(st.booleans())
        document = _replace(document, path, data.draw(values), delete)
    _evaluates_or_snapshot_error(yaml.safe_dump(document))


@PROPERTY_SETTINGS
@given(name=st.sampled_from(sorted(SHIPPED)), data=st.data())
def test_character_mutations(name: str, data: st.DataObject) -> None:
    text = SHIPPED[name]
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        start = data.draw(st.integers(min_value=0, max_value=len(text)))
        end = data.draw(st.integers(min_value=start, max_value=min(len(text), start + 12)))
        insert = data.draw(st.text(alphabet="0123456789-.:eEmMkKiI []{}&*\n", max_size=6))
        text = text[:start] + insert + text[end:]
    _evaluates_or_snapshot_error(text)


@PROPERTY_SETTINGS
@given(values)
def test_random_documents(document: Any) -> None:
    _evaluates_or_snapshot_error(yaml.safe_dump(document))


def test_mutations_still_reach_the_calculation() -> None:
    """The mutated snapshots above are not all refused at the first field: the shipped
    ones evaluate, so a single structural mutation often leaves a valid snapshot."""
    evaluated = sum(1 for text in SHIPPED.values() if _evaluated(text))
    assert evaluated >= len(SHIPPED) * 0.8


def _evaluated(text: str) -> bool:
    try:
        evaluate_text(text)
    except SnapshotError:
        return False
    return True
