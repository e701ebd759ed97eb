"""Kubernetes label selectors as PromQL label matchers, the way prometheus-adapter writes them.

A metric selector (`metricLabelSelector`, or an external metric's `labelSelector`)
becomes part of `.LabelMatchers` in a rule's query. The mapping — one matcher per
requirement, in the selector's sorted order, values joined by `|` into a regex for
several values, values passed through unescaped, Go `%q` quoting — is what
prometheus-adapter's `processQueryParts` does; queries must come out byte for byte the
same. Errors carry upstream's messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from adapter.k8s.gostrings import quote as go_quote
from adapter.k8s.selectors import LabelSelector, Operator


class MatcherError(ValueError):
    """A selector that has no faithful PromQL form; upstream refuses it the same way."""


class UnsupportedOperatorError(MatcherError):
    def __init__(self) -> None:
        super().__init__("operator not supported by prometheus")


class LabelNotSpecifiedError(MatcherError):
    def __init__(self) -> None:
        super().__init__("label not specified")


class MalformedQueryError(MatcherError):
    def __init__(self) -> None:
        super().__init__("operator requires values")


class UnsupportedValuesError(MatcherError):
    def __init__(self) -> None:
        super().__init__("operator does not support values")


@dataclass(frozen=True, slots=True)
class QueryPart:
    """One requirement on one label, before it is written as a matcher."""

    label: str
    operator: Operator
    values: tuple[str, ...]


_EQUALITY = (Operator.EQUALS, Operator.DOUBLE_EQUALS)


def matcher(label: str, op: str, value: str) -> str:
    """`label<op>"value"`: label names raw, the value Go-quoted (upstream's LabelEq & co)."""
    return f"{label}{op}{go_quote(value)}"


def parts_from_selector(selector: LabelSelector) -> list[QueryPart]:
    return [QueryPart(req.key, req.operator, req.values) for req in selector.requirements]


def _operator_and_value(part: QueryPart) -> tuple[str, str]:
    op, values = part.operator, part.values
    if op in (Operator.GREATER_THAN, Operator.LESS_THAN):
        raise UnsupportedOperatorError()
    if not values:
        if op is Operator.EXISTS:
            return "!=", ""
        if op is Operator.DOES_NOT_EXIST:
            return "=", ""
        raise MalformedQueryError()
    if op in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
        raise UnsupportedValuesError()
    if len(values) == 1:
        symbol = {
            Operator.EQUALS: "=",
            Operator.DOUBLE_EQUALS: "=",
            Operator.NOT_EQUALS: "!=",
            Operator.IN: "=~",
            Operator.NOT_IN: "!~",
        }[op]
        return symbol, values[0]
    # Several values can only be a regex: a label holds one value at a time.
    symbol = "=~" if op in (*_EQUALITY, Operator.IN) else "!~"
    return symbol, "|".join(values)


def render(parts: Iterable[QueryPart]) -> tuple[list[str], dict[str, str]]:
    """Matchers in order, and each label's values joined by `|` (`.LabelValuesByName`)."""
    expressions: list[str] = []
    values_by_name: dict[str, str] = {}
    for part in parts:
        if not part.label:
            raise LabelNotSpecifiedError()
        symbol, value = _operator_and_value(part)
        expressions.append(matcher(part.label, symbol, value))
        values_by_name[part.label] = "|".join(part.values)
    return expressions, values_by_name


def equals_part(label: str, value: str) -> QueryPart:
    return QueryPart(label, Operator.EQUALS, (value,))


def resource_matcher(label: str, names: Sequence[str]) -> str:
    """One object: `pod="a"`; several: `pod=~"a|b"` (names are not regex-escaped upstream)."""
    return matcher(label, "=~" if len(names) > 1 else "=", "|".join(names))
