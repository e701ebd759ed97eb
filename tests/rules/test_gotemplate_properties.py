"""Property: parsing and executing any template raises nothing but the module's own
`TemplateError`s (`TemplateSyntaxError`, `TemplateExecError`).

Templates are drawn from Go template vocabulary (actions, keywords, built-ins, literals,
variables, the `<<` `>>` delimiters prometheus-adapter uses, stray delimiters and
quotes), so most examples get deep into the lexer, parser and executor, not just past
the first character. Data is what the adapter executes them with: prometheus-adapter's
`queryTemplateArgs` and `schema.GroupResource`.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapter.rules.gotemplate import (
    MAX_RANGE_ITERATIONS,
    GoStruct,
    Template,
    TemplateError,
    TemplateExecError,
)

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

TOKENS = [
    "{{", "}}", "{{-", "-}}", "<<", ">>", "<<-", "->>", " ", "\n", ".", "..", "$", "$x", "$y",
    ":=", "=", "|", "(", ")", ",", "Series", "LabelMatchers", "GroupBy", "GroupBySlice",
    "LabelValuesByName", "Group", "Resource", "pod", ".Series", ".LabelMatchers", ".GroupBy",
    ".GroupBySlice", ".LabelValuesByName.pod", ".Resource", ".Missing", "if", "else", "end",
    "range", "with", "define", "template", "block", "break", "continue", "nil", "true",
    "false", "and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge", "len", "index", "slice",
    "print", "printf", "println", "html", "js", "urlquery", "call", '"a"', '"%d"', '"%v"',
    '"%s"', '"%q"', '"%x"', '"%5.2f"', '"%*d"', '"%!"', '"\\x"', "`raw`", "'a'", "'\\n'",
    "0", "1", "-1", "3", "1.5", "1e3", "0x1F", "0b101", "0o7", "1_000", "9223372036854775808",
    "1i", "1000000000", "{{range 1000000000}}", "<<range 1000000000>>", '"t"', "/*", "*/", "{{/* c */}}", "<</* c */>>", "\"", "'", "`", "\\", "}", "{",
]  # fmt: skip

templates = st.lists(st.sampled_from(TOKENS), max_size=25).map("".join)

QUERY_ARGS = GoStruct(
    "naming.queryTemplateArgs",
    {
        "Series": "http_requests_total",
        "LabelMatchers": 'namespace="a",pod=~"b|c"',
        "LabelValuesByName": {"pod": "b|c", "namespace": "a"},
        "GroupBy": "pod",
        "GroupBySlice": ["pod", "namespace"],
    },
)
GROUP_RESOURCE = GoStruct("schema.GroupResource", {"Group": "apps", "Resource": "deployments"})


def _parse_and_run(text: str, delims: tuple[str, str]) -> None:
    try:
        template = Template.parse(
            text, name="metrics-query", left_delim=delims[0], right_delim=delims[1]
        )
    except TemplateError:
        return
    for data in (QUERY_ARGS, GROUP_RESOURCE, None, {"a": [1, 2]}):
        try:
            output = template.execute(data)
        except TemplateError:
            continue
        assert isinstance(output, str)


@PROPERTY_SETTINGS
@given(templates, st.sampled_from([("{{", "}}"), ("<<", ">>")]))
def test_templates_raise_only_template_errors(text: str, delims: tuple[str, str]) -> None:
    _parse_and_run(text, delims)


@PROPERTY_SETTINGS
@given(st.text(max_size=60), st.sampled_from([("{{", "}}"), ("<<", ">>")]))
def test_any_text_raises_only_template_errors(text: str, delims: tuple[str, str]) -> None:
    _parse_and_run(text, delims)


@PROPERTY_SETTINGS
@given(st.lists(st.sampled_from(TOKENS), max_size=12).map("".join))
def test_actions_with_adapter_delimiters(inner: str) -> None:
    """Whole actions, as a rule's metricsQuery holds them."""
    _parse_and_run(f"sum(<<{inner}>>) by (<<.GroupBy>>)", ("<<", ">>"))


@pytest.mark.parametrize(
    "text",
    [
        "{{range 1000000000}}x{{end}}",
        "{{range 1000000000}}{{end}}",
        "{{range 1001}}{{range 1000}}{{end}}{{end}}",
        '{{define "a"}}{{range 600000}}{{end}}{{end}}{{template "a"}}{{template "a"}}',
    ],
)
def test_range_iterations_are_bounded(text: str) -> None:
    """Go (1.22+) ranges over an integer with no limit; one execution here stops after
    MAX_RANGE_ITERATIONS, counted across nested loops and called templates, so a
    template cannot run for minutes per request."""
    with pytest.raises(TemplateExecError, match=f"more than {MAX_RANGE_ITERATIONS} iterations"):
        Template.parse(text).execute(None)


def test_range_within_the_bound_runs() -> None:
    assert Template.parse("{{range 1000}}x{{end}}").execute(None) == "x" * 1000
