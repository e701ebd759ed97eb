"""Feeds the compatibility cases in tests/compat/cases/*.yaml to the rule engine.

Each case was written from prometheus-adapter's own tests and documentation and cites
its source; this module only knows how to run each kind. Cases marked `deviation`
record where this adapter deliberately differs; their `expect` is our behaviour.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from adapter.k8s.resources import GroupResource, RestMapper
from adapter.k8s.selectors import LabelSelector
from adapter.rules import matchers, query
from adapter.rules.config import ConfigError, parse_config
from adapter.rules.registry import RegistryBuilder, RuleSet
from adapter.rules.resources import check_against_mapper

CASES = Path(__file__).parent / "cases"
MAPPER = RestMapper.builtin()


def _load(kind: str) -> list[Any]:
    path = CASES / f"{kind}.yaml"
    if not path.exists():
        return []
    cases = yaml.safe_load(path.read_text()) or []
    return [pytest.param(case, id=case["id"]) for case in cases]


REPO = Path(__file__).parents[2]


def _rules(case: dict[str, Any]) -> list[dict[str, Any]]:
    return case["rules"] if "rules" in case else [case["rule"]]


def _rule_config(case: dict[str, Any]) -> str:
    section = case.get("section", "rules")
    return yaml.safe_dump({section: _rules(case)})


def _resource(text: str) -> GroupResource:
    return MAPPER.resolve(GroupResource.parse(text)).group_resource


@pytest.mark.parametrize("case", _load("query"))
def test_query_rendering(case: dict[str, Any]) -> None:
    config = parse_config(_rule_config(case), case["id"])
    rules = RuleSet(config, MAPPER)
    section = case.get("section", "rules")
    compiled = (rules.custom if section == "rules" else rules.external)[0]
    request = case["request"]
    selector = LabelSelector.parse(request.get("metric_selector", "") or "")
    expect = case["expect"]

    def build() -> str:
        if section == "rules":
            return query.object_query(
                compiled.rule.metrics_query,
                compiled.converter,
                case["series_name"],
                _resource(request["resource"]),
                request.get("namespace"),
                request["names"],
                selector,
            )
        namespace = request.get("namespace") if compiled.rule.resources.namespaced else None
        return query.external_query(
            compiled.rule.metrics_query,
            compiled.converter,
            case["series_name"],
            namespace,
            selector,
        )

    if "error" in expect:
        with pytest.raises(query.QueryBuildError) as raised:
            build()
        assert expect["error"] in str(raised.value)
    else:
        assert build() == expect["query"]


@pytest.mark.parametrize("case", _load("naming"))
def test_discovery_naming(case: dict[str, Any]) -> None:
    config = parse_config(_rule_config(case), case["id"])
    rules = RuleSet(config, MAPPER)
    compiled = rules.custom if case.get("section", "rules") == "rules" else rules.external
    # Each rule gets the series its seriesQuery selects (the case says which); rules that
    # share a seriesQuery share one listing, as in the adapter.
    series = case["series"]
    selection = case.get("series_for_rule") or [list(range(len(series)))] * len(compiled)
    by_query: dict[str, dict[int, None]] = {}
    for rule, indexes in zip(compiled, selection, strict=True):
        by_query.setdefault(rule.rule.series_query, {}).update(dict.fromkeys(indexes))
    builder = RegistryBuilder(rules)
    for series_query, indexes in by_query.items():
        builder.add_series(series_query, [series[i] for i in indexes])
    registry = builder.build()
    expect = case["expect"]
    if "custom" in expect:
        got = {
            (e.metric, str(e.group_resource), e.namespaced): e for e in registry.custom_entries()
        }
        want = {
            (m["metric"], str(_resource(m["resource"])), m["namespaced"]): m
            for m in expect["custom"]
        }
        assert sorted(got) == sorted(want)
        for key, wanted in want.items():
            if "series" in wanted:
                assert got[key].series_name == wanted["series"], key
            if "rule" in wanted:
                assert got[key].rule.rule.index == wanted["rule"], key
    if "external" in expect:
        got_external = {e.metric: e for e in registry.external_entries()}
        assert sorted(got_external) == sorted(m["metric"] for m in expect["external"])
        for wanted in expect["external"]:
            if "series" in wanted:
                assert got_external[wanted["metric"]].series_name == wanted["series"]
            if "rule" in wanted:
                assert got_external[wanted["metric"]].rule.rule.index == wanted["rule"]


@pytest.mark.parametrize("case", _load("selectors"))
def test_selector_matchers(case: dict[str, Any]) -> None:
    def render() -> str:
        selector = LabelSelector.parse(case["selector"])
        expressions, _ = matchers.render(matchers.parts_from_selector(selector))
        return ",".join(expressions)

    if "expect_error" in case:
        with pytest.raises(ValueError) as raised:
            render()
        assert case["expect_error"] in str(raised.value)
    else:
        assert render() == case["expect"]


@pytest.mark.parametrize("case", _load("config_errors"))
def test_config_validation(case: dict[str, Any]) -> None:
    if "config_file" in case:
        source = str(REPO / case["config_file"])
        text = (REPO / case["config_file"]).read_text()
    else:
        source, text = "case.yaml", case["config"]
    problems = []
    try:
        config = parse_config(text, source)
    except ConfigError as error:
        problems = error.problems
    else:
        # Checks that need a REST mapping (override targets, resource rules' mappings).
        problems = check_against_mapper(config, MAPPER, known_groups_only=True)
    if case.get("expect_valid"):
        assert problems == []
        return
    paths = [problem.path for problem in problems]
    expected = case["expect_errors"]
    for prefix in expected:
        assert any(path.startswith(prefix) for path in paths), (prefix, paths)
    for path in paths:
        assert any(path.startswith(prefix) for prefix in expected), (path, expected)
