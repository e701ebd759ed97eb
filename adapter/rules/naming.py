"""Series names to the API's metric names, per rule.

A series survives a rule when its name passes every `seriesFilters` entry and, when
`name.matches` is set, matches that too (upstream adds it as an implicit `is` filter).
Its metric name is `name.as` expanded against the first match of `name.matches`, with
Go's expansion rules (see `adapter.rules.goregex` for the one deliberate difference).
Results are cached per series name: discovery sees the same names many times.
"""

from __future__ import annotations

from adapter.rules import goregex
from adapter.rules.config import DiscoveryRule


class MetricNamer:
    def __init__(self, rule: DiscoveryRule) -> None:
        self.rule = rule
        self._names: dict[str, str | None] = {}

    def metric_name(self, series_name: str) -> str | None:
        """The API name for a series name, or None when the rule filters it out."""
        try:
            return self._names[series_name]
        except KeyError:
            pass
        name = self._compute(series_name)
        self._names[series_name] = name
        return name

    def _compute(self, series_name: str) -> str | None:
        rule = self.rule
        for series_filter in rule.series_filters:
            if not series_filter.allows(series_name):
                return None
        regex = rule.name.regex
        if regex is None:
            return None
        match = regex.search(series_name)
        if match is None:
            return None
        return goregex.expand(regex, rule.name.effective_as, series_name, match)
