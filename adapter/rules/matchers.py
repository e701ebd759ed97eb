"""Kubernetes label selectors as PromQL label matchers, the way prometheus-adapter writes them.

A metric selector (`metricLabelSelector`, or an external metric's `labelSelector`)
becomes part of `.LabelMatchers` in a rule's query. The mapping — one matcher per
requirement, in the selector's sorted order, values joined by `|` into a regex for
several values, values passed through unescaped, Go `%q` quoting — is what
prometheus-adapter's `processQueryParts` does; queries must come out byte for byte the
same. Errors carry upstream's messages.

`check_expressible` is this adapter's own gate, run before any query is built: a key
that Kubernetes accepts but Prometheus cannot name (`k8s.io/app`, `a.b/c`) and the `>`/`<`
operators have no PromQL matcher. Upstream sends the first to Prometheus (whose parse
error comes back as a 500) and refuses the second as "metric not found" (custom) or a
500 (external); both are the client's error, so both are a 400 in every API.
"""

from __future__ import annotations

import re
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


class InexpressibleSelectorError(MatcherError):
    """A metric selector that is valid Kubernetes but has no PromQL form: the client's
    error, found before any query is sent."""


LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
"""A Prometheus label name (data model: `[a-zA-Z_][a-zA-Z0-9_]*`)."""


def check_expressible(selector: LabelSelector) -> None:
    """Raise InexpressibleSelectorError for the first requirement PromQL cannot say."""
    for requirement in selector.requirements:
        if not LABEL_NAME.match(requirement.key):
            raise InexpressibleSelectorError(
                f"label {requirement.key!r} is not a Prometheus label name "
                "(letters, digits and underscores, not starting with a digit)"
            )
        if requirement.operator in (Operator.GREATER_THAN, Operator.LESS_THAN):
            raise InexpressibleSelectorError(
                f"operator {requirement.operator.value!r} on label {requirement.key!r} is "
                "not supported by prometheus"
            )


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
