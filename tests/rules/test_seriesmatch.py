"""`rules explain --series FILE` evaluates each seriesQuery as Prometheus would.

Checked against the real Prometheus: for each selector, the label sets our predicate
keeps out of everything the server holds must be exactly the series
`/api/v1/series?match[]=...` returns.
"""

from __future__ import annotations

import json

import pytest
from support.prometheus import PrometheusProcess

from adapter.rules.seriesmatch import SeriesQueryError, compile_series_query

SELECTORS = [
    "http_requests_total",
    'http_requests_total{pod="web-2"}',
    '{__name__=~"http_.*|queue_.*",namespace!=""}',
    '{namespace="shop",__name__!~"^http_.*"}',
    'queue_depth{queue=~"ord.*"}',
    'queue_depth{queue!~"ord.*"}',
    "{__name__='tricky_labels',value=~'.*\"inside'}",
    '{__name__="tricky_labels",value=""}',
    "{__name__=`special_values`, case=~`n.*`}",
    '{__name__=~"http_requests_total", pod =~ "web-(1|3)" }',
]


def _series(prometheus: PrometheusProcess, match: str) -> list[dict[str, str]]:
    code, body = prometheus.get(
        "/api/v1/series", [("match[]", match), ("start", str(prometheus.now - 600))]
    )
    assert code == 200, body
    data: list[dict[str, str]] = json.loads(body)["data"]
    return data


def _key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


@pytest.mark.parametrize("selector", SELECTORS)
def test_predicate_selects_what_prometheus_selects(
    prometheus: PrometheusProcess, selector: str
) -> None:
    everything = _series(prometheus, '{__name__=~".+"}')
    selects = compile_series_query(selector)
    ours = sorted(_key(labels) for labels in everything if selects(labels))
    theirs = sorted(_key(labels) for labels in _series(prometheus, selector))
    assert theirs, "the selector should select something in the shared data set"
    assert ours == theirs


@pytest.mark.parametrize("query", ["rate(x[5m])", "x{a=}", '{a=~"("}', "x or y"])
def test_what_is_no_plain_selector_is_refused(query: str) -> None:
    with pytest.raises(SeriesQueryError):
        compile_series_query(query)
