"""Label selectors: grammar, validation messages, text form, matching, API conversions.

Cases restate apimachinery's `pkg/labels/selector_test.go` (named per table) and the
behaviour of `metav1.LabelSelectorAsSelector` / `ParseToLabelSelector` in
`pkg/apis/meta/v1/helpers.go`.
"""

from __future__ import annotations

from typing import Any

import pytest

from adapter.k8s.selectors import (
    LabelSelector,
    Operator,
    Requirement,
    SelectorError,
    is_qualified_name,
    is_valid_label_value,
)

VALUE_REGEX_ERROR = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
KEY_NAME_REGEX_ERROR = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


@pytest.mark.parametrize(
    "text",
    # TestSelectorParse good strings: they print back without their spaces
    ["x=a,y=b,z=c", "", "x!=a,y=b", "x=", "x= ", "x=,z= ", "x= ,z= ", "!x", "x>1", "x>1,z<5"],
)
def test_good_strings_round_trip(text: str) -> None:
    assert str(LabelSelector.parse(text)) == text.replace(" ", "")


def test_parse_is_deterministic() -> None:
    """TestDeterministicParse: requirements are sorted by key."""
    assert str(LabelSelector.parse("x=a,a=x")) == str(LabelSelector.parse("a=x,x=a")) == "a=x,x=a"


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        # TestSetSelectorParser valid rows, with the canonical text they come back as
        ("\rx", "x"),
        ("this-is-a-dns.domain.com/key-with-dash", "this-is-a-dns.domain.com/key-with-dash"),
        (
            "this-is-another-dns.domain.com/key-with-dash in (so,what)",
            "this-is-another-dns.domain.com/key-with-dash in (so,what)",
        ),
        (
            "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
            "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)",
        ),
        ("foo  in\t (abc)", "foo in (abc)"),
        ("x notin\n (abc)", "x notin (abc)"),
        ("x  notin\t\t\t(abc,def)", "x notin (abc,def)"),
        ("x in (abc,)", "x in (,abc)"),
        ("x in ()", "x in ()"),
        ("x notin (abc,def),bar,z in (),w", "bar,w,x notin (abc,def),z in ()"),
        ("x,y in (a)", "x,y in (a)"),
        ("x=a,y!=b,z in (h,i,j)", "x=a,y!=b,z in (h,i,j)"),
        ("x notin ( )", "x notin ()"),
        ("x notin (, a)", "x notin (,a)"),
        ("a ", "a"),
        ("a in (x,y,notin, z,in)", "a in (in,notin,x,y,z)"),
        # values are a set: sorted, duplicates dropped
        ("x in (b,a,a)", "x in (a,b)"),
        ("x in (a, b)", "x in (a,b)"),
        ("x==", "x=="),
        ("x,y", "x,y"),
        # 'in' and 'notin' are plain identifiers where a key or value is expected
        ("in=notin", "in=notin"),
        ("notin=in", "notin=in"),
        # Go's lexer reads a NUL as end of input: it ends the scan where a token
        # starts, and is merely swallowed after an operator or an identifier
        ("x=a \0garbage", "x=a"),
        ("x=\0y", "x=y"),
        ("x=a,y=b\0,c", "c,x=a,y=b"),
    ],
)
def test_valid_selectors_print_canonically(text: str, printed: str) -> None:
    assert str(LabelSelector.parse(text)) == printed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # TestSelectorParse bad strings and TestSetSelectorParser invalid rows
        (
            "x=a||y=b",
            'unable to parse requirement: values[0][x]: Invalid value: "a||y": '
            + VALUE_REGEX_ERROR,
        ),
        ("x==a==b", "found '==', expected: ',' or 'end of string'"),
        ("!x=a", "found '=', expected: ',' or 'end of string'"),
        (
            "x<a",
            'unable to parse requirement: values[0]: Invalid value: "a": '
            "for 'Gt', 'Lt' operators, the value must be an integer",
        ),
        (",x,y", "found ',', expected: !, identifier, or 'end of string'"),
        (
            "x nott in (y)",
            "unable to parse requirement: found 'nott', expected: in, notin, =, ==, !=, gt, lt",
        ),
        ("a in (xyz),", "found '', expected: identifier after ','"),
        ("x=a,", "found '', expected: identifier after ','"),
        ("x,,y", "found ',', expected: identifier after ','"),
        ("a in (xyz)b notin ()", "found 'b', expected: ',' or 'end of string'"),
        ("a in (xyz abc)", "unable to parse requirement: found 'abc', expected: ',' or ')'"),
        ("a notin(", "unable to parse requirement: found '', expected: ',', ')' or identifier"),
        ("a (", "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"),
        ("(", "found '(', expected: !, identifier, or 'end of string'"),
        ("x in (a,=)", "unable to parse requirement: found '=', expected: ',', or identifier"),
        ("x=!y", "unable to parse requirement: found '!', expected: identifier"),
        ("x=a b", "found 'b', expected: ',' or 'end of string'"),
        # key validation happens while reading the key, with a nil field path
        (
            "a/b/c=x",
            'unable to parse requirement: <nil>: Invalid value: "a/b/c": a valid label key '
            + KEY_NAME_REGEX_ERROR
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
        ),
        (
            "/x",
            'unable to parse requirement: <nil>: Invalid value: "/x": '
            "prefix part must be non-empty",
        ),
        (
            "x/",
            'unable to parse requirement: <nil>: Invalid value: "x/": name part must be '
            "non-empty; name part " + KEY_NAME_REGEX_ERROR,
        ),
        (
            "x=" + "a" * 64,
            'unable to parse requirement: values[0][x]: Invalid value: "'
            + "a" * 64
            + '": must be no more than 63 bytes',
        ),
        # two complaints about one value are aggregated in brackets
        (
            "x>a_",
            "unable to parse requirement: [values[0]: Invalid value: \"a_\": for 'Gt', 'Lt' "
            'operators, the value must be an integer, values[0][x]: Invalid value: "a_": '
            + VALUE_REGEX_ERROR
            + "]",
        ),
        # a NUL inside an identifier only ends that identifier
        (
            "x\0y",
            "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt",
        ),
    ],
)
def test_invalid_selectors_fail_with_upstream_messages(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as caught:
        LabelSelector.parse(text)
    assert str(caught.value) == message


def test_key_validation_lists_each_problem() -> None:
    """IsQualifiedName: prefix and name problems are reported together."""
    assert is_qualified_name("example.com/MyName") == []
    assert is_qualified_name("a" * 63) == []
    assert is_qualified_name("a" * 64) == ["name part must be no more than 63 bytes"]
    assert is_qualified_name(("a" * 254) + "/x")[0] == "prefix part must be no more than 253 bytes"
    assert is_valid_label_value("") == []
    assert is_valid_label_value("a" * 63) == []
    assert is_valid_label_value("-a") == [VALUE_REGEX_ERROR]


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        # TestSelectorMatches
        ("", {"x": "y"}, True),
        ("x=y", {"x": "y"}, True),
        ("x=y,z=w", {"x": "y", "z": "w"}, True),
        ("x!=y,z!=w", {"x": "z", "z": "a"}, True),
        ("notin=in", {"notin": "in"}, True),
        ("x", {"x": "z"}, True),
        ("!x", {"y": "z"}, True),
        ("x>1", {"x": "2"}, True),
        ("x<1", {"x": "0"}, True),
        ("x=z", {}, False),
        ("x=y", {"x": "z"}, False),
        ("x=y,z=w", {"x": "w", "z": "w"}, False),
        ("x!=y,z!=w", {"x": "z", "z": "w"}, False),
        ("x", {"y": "z"}, False),
        ("!x", {"x": "z"}, False),
        ("x>1", {"x": "0"}, False),
        ("x<1", {"x": "2"}, False),
        ("foo=bar,baz=blah", {"foo": "bar", "baz": "blah"}, True),
        ("foo=bar,foobar=bar,baz=blah", {"foo": "bar", "baz": "blah"}, False),
        # TestRequirementSelectorMatching
        ("x in (foo),y notin (alpha)", {"x": "foo", "y": "baz"}, True),
        ("x in (foo),y in (alpha)", {"x": "foo", "y": "baz"}, False),
        ("x notin (),y", {"y": ""}, True),  # notin matches an absent key
        ("!x,y", {"y": ""}, True),
        ("x notin (),!y", {"y": ""}, False),
        ("x in ()", {"y": "baz"}, False),
        ("x in ()", {"x": ""}, True),  # () is the set holding the empty value
        ("z>1", {"z": "2"}, True),
        ("z>1", {"z": "v2"}, False),  # a non-integer label never compares
        ("x!=y", {}, True),  # != also matches an absent key
        ("x==y", {"x": "y"}, True),
        ("x<10", {"x": "+9"}, True),  # strconv.ParseInt accepts a '+' sign
        ("x<10", {"x": "9_0"}, False),  # but not Python's underscores
    ],
)
def test_matches(text: str, labels: dict[str, str], expected: bool) -> None:
    assert LabelSelector.parse(text).matches(labels) is expected


def test_everything_and_nothing() -> None:
    """TestEverything, and labels.Nothing(): the null API selector."""
    everything = LabelSelector.everything()
    assert everything.matches({"x": "y"}) and everything.is_empty()
    assert LabelSelector.parse("") == everything
    nothing = LabelSelector.from_api(None)
    assert not nothing.matches({}) and not nothing.is_empty()
    assert str(nothing) == ""
    assert nothing.to_api() is None


def test_from_set() -> None:
    """TestSetMatches / TestNilMapIsValid: SelectorFromSet, unvalidated, {} selects all."""
    labels = {"foo": "bar", "baz": "blah"}
    assert LabelSelector.from_set({}).is_empty()
    assert LabelSelector.from_set({"foo": "bar"}).matches(labels)
    assert LabelSelector.from_set(labels).matches(labels)
    assert not LabelSelector.from_set({"foo": "bar", "x": "y"}).matches(labels)
    assert str(LabelSelector.from_set({"z": "1", "a": "2"})) == "a=2,z=1"
    assert str(LabelSelector.from_set({"bad key": "=v"})) == "bad key==v"


@pytest.mark.parametrize(
    ("requirements", "printed"),
    [
        # TestToString
        (
            [
                ("x", Operator.IN, ["abc", "def"]),
                ("y", Operator.NOT_IN, ["jkl"]),
                ("z", Operator.EXISTS, []),
            ],
            "x in (abc,def),y notin (jkl),z",
        ),
        (
            [
                ("x", Operator.NOT_IN, ["abc", "def"]),
                ("y", Operator.NOT_EQUALS, ["jkl"]),
                ("z", Operator.DOES_NOT_EXIST, []),
            ],
            "x notin (abc,def),y!=jkl,!z",
        ),
        (
            [
                ("x", Operator.NOT_IN, ["abc"]),
                ("y", Operator.IN, ["mno", "jkl"]),
                ("z", Operator.NOT_IN, [""]),
            ],
            "x notin (abc),y in (jkl,mno),z notin ()",
        ),
        (
            [
                ("x", Operator.EQUALS, ["abc"]),
                ("y", Operator.DOUBLE_EQUALS, ["jkl"]),
                ("z", Operator.NOT_EQUALS, ["a"]),
                ("z", Operator.EXISTS, []),
            ],
            "x=abc,y==jkl,z!=a,z",
        ),
        (
            [
                ("x", Operator.GREATER_THAN, ["2"]),
                ("y", Operator.LESS_THAN, ["8"]),
                ("z", Operator.EXISTS, []),
            ],
            "x>2,y<8,z",
        ),
    ],
)
def test_requirements_print(
    requirements: list[tuple[str, Operator, list[str]]], printed: str
) -> None:
    selector = LabelSelector(tuple(Requirement.new(k, op, vals) for k, op, vals in requirements))
    assert str(selector) == printed


@pytest.mark.parametrize(
    ("key", "operator", "values", "ok"),
    [
        # TestRequirementConstructor
        ("x", Operator.IN, [], False),
        ("x", Operator.NOT_IN, [], False),
        ("x", Operator.IN, ["foo"], True),
        ("x", Operator.NOT_IN, ["foo"], True),
        ("x", Operator.EXISTS, [], True),
        ("x", Operator.DOES_NOT_EXIST, [], True),
        ("1foo", Operator.IN, ["bar"], True),
        ("1234", Operator.IN, ["bar"], True),
        ("y", Operator.GREATER_THAN, ["1"], True),
        ("z", Operator.LESS_THAN, ["6"], True),
        ("foo", Operator.GREATER_THAN, ["bar"], False),
        ("barz", Operator.LESS_THAN, ["blah"], False),
        ("a" * 254, Operator.EXISTS, [], False),
        ("x", Operator.EQUALS, ["a", "b"], False),
        ("x", Operator.EXISTS, ["a"], False),
    ],
)
def test_requirement_constructor(key: str, operator: Operator, values: list[str], ok: bool) -> None:
    if ok:
        assert Requirement.new(key, operator, values).values == tuple(sorted(values))
    else:
        with pytest.raises(SelectorError):
            Requirement.new(key, operator, values)


def test_requirement_constructor_messages() -> None:
    """NewRequirement words its complaints with field paths key / values / values[i][key]."""
    with pytest.raises(SelectorError) as caught:
        Requirement.new("x", Operator.IN, [])
    assert str(caught.value) == (
        "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty"
    )
    with pytest.raises(SelectorError) as caught:
        Requirement.new("a/b/c", Operator.EXISTS, ["v"])
    assert str(caught.value).startswith('[key: Invalid value: "a/b/c": a valid label key')
    assert str(caught.value).endswith(
        ', values: Invalid value: ["v"]: values set must be empty for exists and does not exist]'
    )


@pytest.mark.parametrize(
    ("obj", "printed"),
    [
        ({}, ""),
        ({"matchLabels": {}, "matchExpressions": []}, ""),
        ({"matchLabels": {"app": "web", "a": "b"}}, "a=b,app=web"),
        (
            {
                "matchLabels": {"tier": "front"},
                "matchExpressions": [
                    {"key": "env", "operator": "In", "values": ["prod", "canary"]},
                    {"key": "zone", "operator": "NotIn", "values": ["b"]},
                    {"key": "gpu", "operator": "Exists"},
                    {"key": "legacy", "operator": "DoesNotExist", "values": []},
                ],
            },
            "env in (canary,prod),gpu,!legacy,tier=front,zone notin (b)",
        ),
        # matchLabels come before expressions on the same key
        (
            {"matchLabels": {"k": "v"}, "matchExpressions": [{"key": "k", "operator": "Exists"}]},
            "k=v,k",
        ),
    ],
)
def test_from_api(obj: dict[str, Any], printed: str) -> None:
    """LabelSelectorAsSelector: {} selects everything; entries become requirements."""
    selector = LabelSelector.from_api(obj)
    assert str(selector) == printed
    assert selector.is_empty() is (printed == "")


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (
            {"matchExpressions": [{"key": "x", "operator": "Gt", "values": ["1"]}]},
            '"Gt" is not a valid pod selector operator',
        ),
        (
            {"matchExpressions": [{"key": "x", "operator": "In"}]},
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty",
        ),
        (
            {"matchExpressions": [{"key": "x", "operator": "Exists", "values": ["a"]}]},
            'values: Invalid value: ["a"]: values set must be empty for exists and does not exist',
        ),
        (
            {"matchLabels": {"x": "-bad"}},
            'values[0][x]: Invalid value: "-bad": ' + VALUE_REGEX_ERROR,
        ),
        (
            {"matchLabels": {"a/b/c": "v"}},
            'key: Invalid value: "a/b/c": a valid label key '
            + KEY_NAME_REGEX_ERROR
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
        ),
    ],
)
def test_from_api_errors(obj: dict[str, Any], message: str) -> None:
    with pytest.raises(SelectorError) as caught:
        LabelSelector.from_api(obj)
    assert str(caught.value) == message


def test_from_api_matches_like_parsed_text() -> None:
    obj = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}],
    }
    selector = LabelSelector.from_api(obj)
    assert selector == LabelSelector.parse("app=web,tier notin (db)")
    assert selector.matches({"app": "web"})
    assert not selector.matches({"app": "web", "tier": "db"})


@pytest.mark.parametrize(
    ("text", "api"),
    [
        # ParseToLabelSelector: the empty selector has empty (omitted) parts
        ("", {}),
        ("x=a,y==b", {"matchLabels": {"x": "a", "y": "b"}}),
        ("z=1,a=2", {"matchLabels": {"a": "2", "z": "1"}}),
        (
            "app=web,tier in (b,a),x notin (c),gpu,!legacy",
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [
                    {"key": "gpu", "operator": "Exists"},
                    {"key": "legacy", "operator": "DoesNotExist"},
                    {"key": "tier", "operator": "In", "values": ["a", "b"]},
                    {"key": "x", "operator": "NotIn", "values": ["c"]},
                ],
            },
        ),
        # a later exact match on the same key overwrites the map entry
        ("k=a,k=b", {"matchLabels": {"k": "b"}}),
    ],
)
def test_to_api(text: str, api: dict[str, Any]) -> None:
    result = LabelSelector.parse(text).to_api()
    assert result == api
    assert list(result or {}) == list(api)  # matchLabels before matchExpressions


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("k!=v", '"!=" is not a valid label selector operator'),
        ("a=b,k!=v", '"!=" is not a valid label selector operator'),
        ("k>1", '"gt" isn\'t supported in label selectors'),
        ("k<1", '"lt" isn\'t supported in label selectors'),
    ],
)
def test_to_api_refuses_operators_without_api_form(text: str, message: str) -> None:
    """ParseToLabelSelector has no case for != and refuses gt/lt (reference §3.1)."""
    with pytest.raises(SelectorError) as caught:
        LabelSelector.parse(text).to_api()
    assert str(caught.value) == message


def test_to_api_round_trips_through_from_api() -> None:
    selector = LabelSelector.parse("app=web,tier in (a,b),!legacy")
    assert LabelSelector.from_api(selector.to_api()) == selector


def test_parsed_selectors_are_shared_values() -> None:
    first = LabelSelector.parse("app=web,tier in (a,b)")
    second = LabelSelector.parse("app=web,tier in (a,b)")
    assert first == second
    assert hash(first) == hash(second)
    assert first.requirements[1].values == ("a", "b")
