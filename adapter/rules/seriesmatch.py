"""A rule's `seriesQuery` evaluated against label sets, as Prometheus' series API would.

`rules explain --series FILE` stands in for Prometheus: each rule must see only the
series its own `seriesQuery` selects, or a catch-all rule would claim series Prometheus
never gives it. The selector is read by `adapter.rules.seriesselector` (Prometheus'
grammar); regex matchers are anchored at both ends, and a label a series lacks reads as
"", as in Prometheus.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from adapter.rules import seriesselector


class SeriesQueryError(ValueError):
    """A seriesQuery this reader cannot evaluate (not a plain vector selector)."""


def compile_series_query(query: str) -> Callable[[Mapping[str, str]], bool]:
    """A predicate on label sets; raises SeriesQueryError for what it cannot read."""
    try:
        selector = seriesselector.parse(query)
    except seriesselector.SeriesSelectorError as err:
        raise SeriesQueryError(f"not a vector selector: {err}") from err
    matchers = selector.all_matchers()
    return lambda labels: all(m.matches(labels.get(m.name, "")) for m in matchers)
