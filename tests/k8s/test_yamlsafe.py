"""adapter.k8s.yamlsafe: the bounds hold exactly where they say, and ordinary documents
(anchors reused a few times, merge keys, JSON) read as PyYAML's SafeLoader reads them."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
import yaml

from adapter.k8s import yamlsafe
from adapter.rules.config import ConfigError, parse_config

ROOT = Path(__file__).parents[2]


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_depth_up_to_the_bound_reads_one_more_is_refused() -> None:
    value = yamlsafe.load(_nested(yamlsafe.MAX_DEPTH))
    for _ in range(yamlsafe.MAX_DEPTH - 1):
        (value,) = value
    assert value == []
    with pytest.raises(yamlsafe.DocumentError, match="nesting deeper than 100 levels"):
        yamlsafe.load(_nested(yamlsafe.MAX_DEPTH + 1))


def test_alias_uses_are_counted_at_each_use() -> None:
    class Small(yamlsafe.BoundedSafeLoader):
        max_nodes = 110

    # The root, two keys, the 9-node anchor and a sequence of 10 uses of it (1 + 10 * 9):
    # 103 nodes; with 12 uses, 121.
    fits = "x: &x [1, 2, 3, 4, 5, 6, 7, 8]\ny: [" + ", ".join(["*x"] * 10) + "]"
    assert yamlsafe.load(fits, Small)["y"][9] == [1, 2, 3, 4, 5, 6, 7, 8]
    too_many = "x: &x [1, 2, 3, 4, 5, 6, 7, 8]\ny: [" + ", ".join(["*x"] * 12) + "]"
    with pytest.raises(yamlsafe.DocumentError, match="expands to more than 110 nodes"):
        yamlsafe.load(too_many, Small)


def test_anchor_inside_itself_is_refused() -> None:
    with pytest.raises(yamlsafe.DocumentError, match="anchor &a is used inside itself"):
        yamlsafe.load("a: &a {b: *a}")


def test_errors_are_one_line_with_a_position() -> None:
    with pytest.raises(yamlsafe.DocumentError) as caught:
        yamlsafe.load("a: [1, 2\nb: {")
    message = str(caught.value)
    assert "\n" not in message
    assert "line " in message


@pytest.mark.parametrize("text", ["\x1fa: 1", "a: b\x00", "a: \x7f"])
def test_control_characters_are_a_document_error(text: str) -> None:
    """PyYAML's reader refuses them while it is built, before any parsing: still one
    DocumentError, not a YAML exception escaping to the caller."""
    with pytest.raises(yamlsafe.DocumentError, match="special characters are not allowed"):
        yamlsafe.load(text)


def test_same_values_as_safe_load_for_the_shipped_configs() -> None:
    files = [ROOT / "config" / "default.yaml", *sorted((ROOT / "config" / "examples").glob("*"))]
    assert len(files) > 2
    for path in files:
        text = path.read_text(encoding="utf-8")
        try:
            expected = yaml.safe_load(text)
        except yaml.YAMLError:
            with pytest.raises(yamlsafe.DocumentError):
                yamlsafe.load(text)
            continue
        assert yamlsafe.load(text) == expected, path


def test_json_reads_as_json() -> None:
    document = {"a": [1, 2.5, None, True, "x"], "b": {"c": {}}}
    assert yamlsafe.load(json.dumps(document)) == document


def test_merge_keys_are_not_duplicate_keys() -> None:
    # `<<` copies the anchor's keys; overriding one of them is not a duplicate key.
    config = parse_config(
        "rules:\n"
        "- &base\n"
        "  seriesQuery: 'up{pod!=\"\"}'\n"
        "  resources: {template: <<.Resource>>}\n"
        "  metricsQuery: 'sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)'\n"
        "- <<: *base\n"
        "  seriesQuery: 'other{pod!=\"\"}'\n",
        "merge.yaml",
    )
    assert [rule.series_query for rule in config.rules] == ['up{pod!=""}', 'other{pod!=""}']
    with pytest.raises(ConfigError, match=r"rules\[0\]\.seriesQuery: key defined more than once"):
        parse_config("rules:\n- seriesQuery: a\n  seriesQuery: b\n", "dup.yaml")


def test_read_file_limit_counts_bytes_read_not_the_size_reported(tmp_path: Path) -> None:
    exact = tmp_path / "exact"
    exact.write_bytes(b"a" * 64)
    assert yamlsafe.read_file(exact, limit=64) == "a" * 64
    with pytest.raises(yamlsafe.DocumentError, match="file larger than 63 bytes"):
        yamlsafe.read_file(exact, limit=63)
    # /proc files say they are empty and are not: the read itself is bounded.
    with pytest.raises(yamlsafe.DocumentError, match="file larger than"):
        yamlsafe.read_file("/proc/self/maps", limit=10)


def test_read_file_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(yamlsafe.DocumentError, match="a FIFO"):
        yamlsafe.read_file(fifo)
    with pytest.raises(yamlsafe.DocumentError, match="a device"):
        yamlsafe.read_file("/dev/zero")
    with pytest.raises(yamlsafe.DocumentError, match="No such file"):
        yamlsafe.read_file(tmp_path / "missing")
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(yamlsafe.DocumentError, match="not UTF-8"):
        yamlsafe.read_file(binary)


def test_read_stream_is_bounded() -> None:
    assert yamlsafe.read_stream(io.BytesIO(b"abc"), limit=3) == "abc"
    with pytest.raises(yamlsafe.DocumentError, match="file larger than"):
        yamlsafe.read_stream(io.BytesIO(b"abcd"), limit=3)
    with pytest.raises(yamlsafe.DocumentError, match="file larger than"):
        yamlsafe.read_stream(io.StringIO("abcd"), limit=3)
