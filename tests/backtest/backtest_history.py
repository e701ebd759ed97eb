"""Generated history for the backtest tests: a load curve, a step, a spike and a gap.

All times are offsets in seconds from the data set's anchor (`SeriesData.now`); the
window the tests replay is `[-WINDOW, -END]`. The Deployment `web` in namespace `shop`
ran 4 replicas for the first half and 6 after (kube-state-metrics'
`kube_deployment_status_replicas`), each pod exposing `http_requests_per_second` (its
share of the total), `container_cpu_usage` (cores, container `app`); the external
`queue_depth{queue="orders"}` is one series. The total request rate follows a daily
curve compressed into the window, doubles for half an hour (the step), quadruples for
two minutes (the spike), and the request series stop for 20 minutes (the gap).
"""

from __future__ import annotations

import math

from support.prometheus import SeriesData

WINDOW = 3 * 3600
"""Seconds of history the tests replay, ending END before the anchor."""
END = 600
STEP = 15
GAP = (-WINDOW + 7800, -WINDOW + 9000)
"""Offsets between which no request-rate samples exist (longer than the 5m lookback)."""

RULES = """\
rules:
  - seriesQuery: 'http_requests_per_second{namespace!="",pod!=""}'
    resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}}}
    metricsQuery: 'sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)'
externalRules:
  - seriesQuery: 'queue_depth{namespace!="",queue!=""}'
    resources: {overrides: {namespace: {resource: namespace}}}
    metricsQuery: 'sum(<<.Series>>{<<.LabelMatchers>>}) by (queue)'
resourceRules:
  cpu:
    containerQuery: 'sum(container_cpu_usage{<<.LabelMatchers>>}) by (<<.GroupBy>>)'
    nodeQuery: 'sum(node_cpu_usage{<<.LabelMatchers>>}) by (<<.GroupBy>>)'
    resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}, node: {resource: node}}}
    containerLabel: container
  memory:
    containerQuery: 'sum(container_memory_usage{<<.LabelMatchers>>}) by (<<.GroupBy>>)'
    nodeQuery: 'sum(node_memory_usage{<<.LabelMatchers>>}) by (<<.GroupBy>>)'
    resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}, node: {resource: node}}}
    containerLabel: container
  window: 1m
"""


def actual_replicas(offset: float) -> int:
    return 4 if offset < -WINDOW / 2 - END else 6


def total_requests(offset: float) -> float:
    """Requests per second across the Deployment at this offset."""
    into = offset + WINDOW
    daily = 60.0 + 40.0 * math.sin(2 * math.pi * into / WINDOW - math.pi / 2)
    if 3600 <= into < 5400:
        daily *= 2.0  # the step
    if 6000 <= into < 6120:
        daily *= 4.0  # the spike
    return daily


def build(data: SeriesData, *, window: int = WINDOW, step: int = STEP) -> None:
    offsets = range(-window - 600, 1, step)
    data.add(
        "kube_deployment_status_replicas",
        {"namespace": "shop", "deployment": "web"},
        [(o, float(actual_replicas(o))) for o in offsets],
    )
    data.add(
        "queue_depth",
        {"namespace": "shop", "queue": "orders"},
        [(o, 20.0 + 0.01 * ((o + window) % 3600)) for o in offsets],
    )
    for k in range(6):
        pod = f"web-5d9c7b-{'abcdef'[k]}x{k}"
        running = [o for o in offsets if k < actual_replicas(o)]
        share = [(o, total_requests(o) / actual_replicas(o)) for o in running]
        data.add(
            "http_requests_per_second",
            {"namespace": "shop", "pod": pod},
            [(o, v) for o, v in share if not GAP[0] <= o < GAP[1]],
        )
        data.add(
            "container_cpu_usage",
            {"namespace": "shop", "pod": pod, "container": "app"},
            [(o, v * 0.01) for o, v in share],
        )
        data.add(
            "container_memory_usage",
            {"namespace": "shop", "pod": pod, "container": "app"},
            [(o, 2.0e8) for o in running],
        )
    # A pod of another Deployment, which the target's name pattern must leave out.
    data.add(
        "http_requests_per_second",
        {"namespace": "shop", "pod": "webhook-7f7f7f-zz1"},
        [(o, 1000.0) for o in offsets],
    )
