"""Property: any text given as a rule config either loads or raises `ConfigError`.

Never another exception (a traceback for the user), never a hang: random YAML
documents, random YAML-flavoured text, alias bombs of random shape, and mutations of
the shipped configs (`config/default.yaml`, `config/examples/`) at the character level
and at the structure level. Mutated configs are the realistic case: a typo, a stray
indent, a value of the wrong type in a file that was fine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapter.rules.config import ConfigError, MetricsDiscoveryConfig, parse_config

ROOT = Path(__file__).parents[2]
SHIPPED = {
    path.name: path.read_text(encoding="utf-8")
    for path in [
        ROOT / "config" / "default.yaml",
        *sorted((ROOT / "config" / "examples").glob("*.yaml")),
    ]
}

PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

YAML_ALPHABET = "[]{}:,-&*!|>'\"#%@`?\n\t  abcxyz019._<>$=~(){}/\\"

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["<<.Series>>", "<<.LabelMatchers>>", "<<", ">>", "${1}", "(.*)", "[", "up{"])
)
documents = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(
                [
                    "rules",
                    "externalRules",
                    "resourceRules",
                    "seriesQuery",
                    "seriesFilters",
                    "resources",
                    "overrides",
                    "template",
                    "name",
                    "matches",
                    "as",
                    "metricsQuery",
                    "cpu",
                    "memory",
                    "containerQuery",
                    "nodeQuery",
                    "containerLabel",
                    "window",
                    "is",
                    "isNot",
                    "resource",
                    "group",
                    "namespaced",
                    "emptyResult",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=5,
        )
    ),
    max_leaves=30,
)


def _loads_or_config_error(text: str) -> None:
    try:
        config = parse_config(text, "prop.yaml")
    except ConfigError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.file == "prop.yaml"
        return
    assert isinstance(config, MetricsDiscoveryConfig)


@PROPERTY_SETTINGS
@given(documents)
def test_random_documents(document: Any) -> None:
    _loads_or_config_error(yaml.safe_dump(document))


@PROPERTY_SETTINGS
@given(st.dictionaries(st.sampled_from(["rules", "externalRules", "resourceRules"]), documents))
def test_random_sections(document: dict[str, Any]) -> None:
    _loads_or_config_error(yaml.safe_dump(document))


@PROPERTY_SETTINGS
@given(st.text(alphabet=YAML_ALPHABET, max_size=200))
def test_random_yaml_flavoured_text(text: str) -> None:
    _loads_or_config_error(text)


@PROPERTY_SETTINGS
@given(
    levels=st.integers(min_value=1, max_value=12),
    fan_out=st.integers(min_value=1, max_value=12),
    section=st.sampled_from(["rules", "externalRules", "resourceRules", "unknown"]),
)
def test_alias_bombs_of_any_shape(levels: int, fan_out: int, section: str) -> None:
    lines = [f"a0: &a0 [{', '.join(['{seriesQuery: up}'] * fan_out)}]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * fan_out)}]")
    lines.append(f"{section}: *a{levels}")
    _loads_or_config_error("\n".join(lines))


@PROPERTY_SETTINGS
@given(
    name=st.sampled_from(sorted(SHIPPED)),
    data=st.data(),
)
def test_character_mutations_of_shipped_configs(name: str, data: st.DataObject) -> None:
    text = SHIPPED[name]
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        start = data.draw(st.integers(min_value=0, max_value=len(text)))
        end = data.draw(st.integers(min_value=start, max_value=min(len(text), start + 20)))
        insert = data.draw(st.text(alphabet=YAML_ALPHABET, max_size=6))
        text = text[:start] + insert + text[end:]
    _loads_or_config_error(text)


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
    if isinstance(node, dict):
        copy = dict(node)
        if delete and not rest:
            del copy[head]
        else:
            copy[head] = _replace(node[head], rest, value, delete)
        return copy
    copy_list = list(node)
    if delete and not rest:
        del copy_list[head]
    else:
        copy_list[head] = _replace(node[head], rest, value, delete)
    return copy_list


@PROPERTY_SETTINGS
@given(name=st.sampled_from(sorted(SHIPPED)), data=st.data())
def test_structural_mutations_of_shipped_configs(name: str, data: st.DataObject) -> None:
    try:
        document = yaml.safe_load(SHIPPED[name])
    except yaml.YAMLError:
        return  # sample-config.yaml is not valid YAML as published (tests/compat/README.md)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(_paths(document)))
        delete = bool(path) and data.draw(st.booleans())
        document = _replace(document, path, data.draw(documents), delete)
    _loads_or_config_error(yaml.safe_dump(document))
