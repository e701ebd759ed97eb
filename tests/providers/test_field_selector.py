"""`fieldSelector` for metrics.k8s.io, parsed and matched as apimachinery does.

Cases from k8s.io/apimachinery `pkg/fields/selector_test.go` (`TestSelectorParse`,
`TestSelectorMatches`, escaping in `TestEscapeValue`/`TestUnescapeValue`) and the field
set metrics-server matches against (`pkg/api/filter.go`, `generic.AddObjectMetaFieldsSet`:
pods have metadata.name and metadata.namespace, nodes only metadata.name).
"""

from __future__ import annotations

import pytest

from adapter.k8s.fields import FieldRequirement, FieldSelector, FieldSelectorError
from adapter.providers.resource import ObjectMetadata


@pytest.mark.parametrize(
    ("text", "requirements"),
    [
        ("", ()),
        ("a=b", (FieldRequirement("a", "b"),)),
        ("a==b", (FieldRequirement("a", "b"),)),
        ("a!=b", (FieldRequirement("a", "b", negated=True),)),
        ("a=b,c!=d", (FieldRequirement("a", "b"), FieldRequirement("c", "d", negated=True))),
        ("a=", (FieldRequirement("a", ""),)),
        ("a=b=c", (FieldRequirement("a", "b=c"),)),  # the first operator splits
        (r"a=b\,c", (FieldRequirement("a", "b,c"),)),
        (r"a=b\=c", (FieldRequirement("a", "b=c"),)),
        (r"a=b\\c", (FieldRequirement("a", "b\\c"),)),
        ("a=b,,c=d", (FieldRequirement("a", "b"), FieldRequirement("c", "d"))),
    ],
)
def test_parse(text: str, requirements: tuple[FieldRequirement, ...]) -> None:
    assert FieldSelector.parse(text).requirements == requirements


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a", "invalid selector: 'a'; can't understand 'a'"),
        ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
        (r"a=b\c", "invalid escape sequence"),
        ("a=b\\", "invalid escape sequence"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(FieldSelectorError) as raised:
        FieldSelector.parse(text)
    assert message in str(raised.value)


@pytest.mark.parametrize("text", ["a=b", "a!=b", r"a=b\,c\=d\\e", "a=b,c!=d"])
def test_text_form_round_trips(text: str) -> None:
    selector = FieldSelector.parse(text)
    assert FieldSelector.parse(str(selector)) == selector
    assert str(selector) == text


@pytest.mark.parametrize(
    ("text", "pod", "node"),
    [
        ("metadata.name=web-1", True, True),
        ("metadata.name!=web-1", False, False),
        ("metadata.namespace=shop", True, False),  # nodes have no namespace field
        ("metadata.namespace!=shop", False, True),
        ("metadata.name=web-1,metadata.namespace=shop", True, False),
        ("", True, True),
    ],
)
def test_matches_object_meta_fields(text: str, pod: bool, node: bool) -> None:
    selector = FieldSelector.parse(text)
    assert selector.matches(ObjectMetadata("web-1", "shop").fields()) is pod
    assert selector.matches(ObjectMetadata("web-1").fields()) is node
