"""A rule's `seriesQuery` evaluated against label sets, as Prometheus' series API would.

`rules explain --series FILE` stands in for Prometheus: each rule must see only the
series its own `seriesQuery` selects, or a catch-all rule would claim series Prometheus
never gives it. This understands the vector-selector form seriesQuery takes
(`name{label="v",other!="",x=~"re",y!~"re"}`, or either half): regex matchers are
anchored at both ends, and a label a series lacks reads as "", as in Prometheus.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from adapter.rules import goregex


class SeriesQueryError(ValueError):
    """A seriesQuery this reader cannot evaluate (not a plain vector selector)."""


_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
_STRING = r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`'
_MATCHER = re.compile(rf"\s*({_LABEL})\s*(=~|!~|!=|=)\s*({_STRING})\s*(,|$)")
_SELECTOR = re.compile(rf"\s*({_NAME})?\s*(?:\{{(.*)\}})?\s*\Z", re.S)


def _unquote(text: str) -> str:
    if text.startswith("`"):
        return text[1:-1]
    body = text[1:-1]
    return re.sub(
        r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), body
    )


@dataclass(frozen=True, slots=True)
class _Matcher:
    label: str
    op: str
    value: str
    regex: Any = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = self.regex.fullmatch(actual) is not None
        return found if self.op == "=~" else not found


def compile_series_query(query: str) -> Callable[[Mapping[str, str]], bool]:
    """A predicate on label sets; raises SeriesQueryError for what it cannot read."""
    whole = _SELECTOR.match(query)
    if whole is None or (whole.group(1) is None and whole.group(2) is None):
        raise SeriesQueryError(f"not a vector selector: {query!r}")
    matchers: list[_Matcher] = []
    if whole.group(1):
        matchers.append(_Matcher("__name__", "=", whole.group(1)))
    body = (whole.group(2) or "").strip()
    position = 0
    while position < len(body):
        found = _MATCHER.match(body, position)
        if found is None:
            raise SeriesQueryError(f"cannot read the matchers of {query!r}")
        label, op, raw, _ = found.groups()
        value = _unquote(raw)
        regex = None
        if op in ("=~", "!~"):
            try:
                regex = goregex.compile_go(value)
            except goregex.RegexError as err:
                raise SeriesQueryError(f"bad regex in {query!r}: {err}") from err
        matchers.append(_Matcher(label, op, value, regex))
        position = found.end()
    return lambda labels: all(m.matches(labels) for m in matchers)
