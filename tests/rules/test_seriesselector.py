"""`seriesQuery` is read as Prometheus reads `match[]` (promql/parser ParseMetricSelector).

Checked against the real Prometheus: every selector below is accepted by our parser
exactly when `/api/v1/series` accepts it (200 rather than 400 bad_data). Then
Hypothesis: no text makes the parser raise anything but SeriesSelectorError, and a
selector written back with `str()` (Go-quoted values, as Prometheus' own String() does)
parses to the same selector.
"""

from __future__ import annotations

import contextlib
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.prometheus import PrometheusProcess

from adapter.rules.config import ConfigError, parse_config
from adapter.rules.seriesselector import (
    LabelMatcher,
    SeriesSelector,
    SeriesSelectorError,
    parse,
)

CASES = [
    # what prometheus-adapter configs write (config/default.yaml, config/examples, the
    # upstream walkthrough and config docs)
    '{__name__=~"^container_.*",container!="POD",namespace!="",pod!=""}',
    '{namespace!="",__name__!~"^container_.*"}',
    'http_requests_total{kubernetes_namespace!="",kubernetes_pod_name!=""}',
    'cheddar{sharp="true"}',
    "up",
    "node:cpu:rate5m",
    # lexer details
    'up{job="a",}',
    "up { job = 'a' }",
    "up{job=`raw\\n`}",
    'up{job="\\x41\\u00e9\\U0001F600\\101"}',
    'up{job="\\xc3\\xa9"}',
    "up # a comment\n",
    'up{job="a\\"b"}',
    "up{job='a\\'b'}",
    # refused
    "",
    "   ",
    "up{",
    "((",
    "{}",
    '{job=~".*"}',
    '{job=""}',
    "sum",
    "Sum",
    "offset",
    "by{a='b'}",
    "up offset 5m",
    "up[5m]",
    "rate(up[5m])",
    '{a="b"} or {c="d"}',
    'up{__name__="up"}',
    'up{job="\\q"}',
    'up{job="\\x4"}',
    'up{job="\\xff"}',
    'up{job=~"("}',
    'up{job="a",,}',
    "up{job!}",
    'up{"job"="a"}',
    'up{job="a\nb"}',
    "up{1job='a'}",
    "1up",
    "up{job='a'} extra",
]


@pytest.mark.parametrize("text", CASES)
def test_accepts_exactly_what_prometheus_accepts(prometheus: PrometheusProcess, text: str) -> None:
    code, body = prometheus.get("/api/v1/series", [("match[]", text)])
    assert code in (200, 400), body
    try:
        parse(text)
    except SeriesSelectorError as err:
        assert code == 400, f"we refuse what Prometheus accepts: {err}"
    else:
        assert code == 200, f"we accept what Prometheus refuses: {body!r}"


def test_values_are_unescaped_as_go_does() -> None:
    selector = parse('up{a="\\x41\\u00e9\\101\\t", b=`\\n`}')
    assert selector.matchers == (
        LabelMatcher("a", "=", "Aé" + "A\t"),
        LabelMatcher("b", "=", "\\n"),
    )


def test_errors_say_where() -> None:
    with pytest.raises(SeriesSelectorError) as raised:
        parse('up{job="a" x}')
    assert raised.value.position == 11
    assert "expected ',' or '}'" in str(raised.value)


# -- config load -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "says"),
    [("up{", "unclosed '{'"), ("((", "expected a metric name"), ('{a=~"("}', "regular")],
)
def test_config_names_file_rule_and_field(query: str, says: str) -> None:
    text = f"rules:\n- seriesQuery: 'up'\n- seriesQuery: '{query}'\n"
    with pytest.raises(ConfigError) as raised:
        parse_config(text, "bad.yaml")
    [problem] = raised.value.problems
    assert (problem.file, problem.path) == ("bad.yaml", "rules[1].seriesQuery")
    assert problem.message.startswith("not a PromQL series selector: ")
    assert says in problem.message


def test_container_label_and_override_keys_are_label_names() -> None:
    text = """
resourceRules:
  cpu:
    containerQuery: x
    nodeQuery: x
    containerLabel: k8s.io/container
    resources: {overrides: {a.b: {resource: namespace}}}
  memory: {containerQuery: x, nodeQuery: x, containerLabel: container}
"""
    with pytest.raises(ConfigError) as raised:
        parse_config(text, "bad.yaml")
    assert sorted(p.path for p in raised.value.problems) == [
        "resourceRules.cpu.containerLabel",
        "resourceRules.cpu.resources.overrides.a.b",
    ]


# -- properties --------------------------------------------------------------------------

ALPHABET = string.ascii_letters + string.digits + "_:{}=!~,\"'`\\ #\n()[].-*é"


@given(st.text(alphabet=ALPHABET, max_size=60) | st.text(max_size=40))
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_no_text_raises_anything_but_the_selector_error(text: str) -> None:
    with contextlib.suppress(SeriesSelectorError):
        parse(text)


names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,8}", fullmatch=True)
metric_names = st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,8}", fullmatch=True)
regex_values = st.sampled_from(["a.*", "", "x|y", "[0-9]+", "(?i)web", ".+"])
matchers = st.one_of(
    st.builds(LabelMatcher, names, st.sampled_from(["=", "!="]), st.text(max_size=12)),
    st.builds(LabelMatcher, names, st.sampled_from(["=~", "!~"]), regex_values),
)


@st.composite
def selectors(draw: st.DrawFn) -> SeriesSelector:
    metric = draw(st.none() | metric_names)
    found = tuple(draw(st.lists(matchers, min_size=0 if metric else 1, max_size=4)))
    return SeriesSelector(metric, found)


@given(selectors())
@settings(max_examples=400)
def test_valid_selectors_round_trip(selector: SeriesSelector) -> None:
    try:
        parsed = parse(str(selector))
    except SeriesSelectorError as err:
        # The only refusal a well-formed selector may get: nothing non-empty to match.
        assert "non-empty matcher" in str(err)
        assert all(m.matches("") for m in selector.all_matchers())
        return
    assert parsed == selector
