"""`rules check|explain|query` for external.metrics.k8s.io and metrics.k8s.io, run as a
user runs them (the real command's stdout, stderr and exit status).

Shapes are fixed by /work/shared/contracts/rules-cli.md: `explain` lists external
metrics and says whether cpu and memory are served; `query --path` takes any of the
three APIs' paths and prints the PromQL the adapter would run (and, with
`--prometheus-url`, the response document).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.prometheus import PrometheusProcess, SeriesData, default_dataset

from adapter.k8s.quantity import Quantity

REPO = Path(__file__).parents[2]

CONFIG = """
externalRules:
- seriesQuery: 'cliapi_queue_messages{namespace!=""}'
  resources: {overrides: {namespace: {resource: namespace}}}
  name: {matches: ^cliapi_queue_messages$, as: cliapi_queue_depth}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (queue)
- seriesQuery: 'cliapi_backlog'
  resources: {namespaced: false}
  name: {matches: ^cliapi_backlog$}
  emptyResult: zero
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>})
resourceRules:
  cpu:
    containerQuery: sum(rate(cliapi_cpu_seconds_total{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)
    nodeQuery: sum(rate(cliapi_cpu_seconds_total{<<.LabelMatchers>>,id="/"}[2m])) by (<<.GroupBy>>)
    resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}, node: {resource: node}}}
    containerLabel: container
  memory:
    containerQuery: sum(cliapi_memory_bytes{<<.LabelMatchers>>}) by (<<.GroupBy>>)
    nodeQuery: sum(cliapi_memory_bytes{<<.LabelMatchers>>,id="/"}) by (<<.GroupBy>>)
    resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}, node: {resource: node}}}
    containerLabel: container
  window: 2m
"""

SERIES = [
    {"__name__": "cliapi_queue_messages", "namespace": "shop", "queue": "orders"},
    {"__name__": "cliapi_backlog", "region": "eu"},
]


@default_dataset
def _cliapi_series(data: SeriesData) -> None:
    data.gauge("cliapi_queue_messages", {"namespace": "shop", "queue": "orders"}, 12.0)
    data.gauge("cliapi_queue_messages", {"namespace": "shop", "queue": "billing"}, 3.0)
    data.gauge("cliapi_backlog", {"region": "eu"}, 8.0)
    for pod, container, cores, memory in (
        ("web-1", "app", 0.5, 64 << 20),
        ("web-2", "app", 0.25, 32 << 20),
    ):
        labels = {"namespace": "cliapi", "pod": pod, "container": container}
        data.counter("cliapi_cpu_seconds_total", labels, rate_per_second=cores)
        data.gauge("cliapi_memory_bytes", labels, float(memory))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adapter", "rules", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    series = tmp_path / "series.json"
    series.write_text(json.dumps(SERIES))
    return {"config": config, "series": series}


def query(files: dict[str, Path], path: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run(
        "query", "--config", str(files["config"]), "--series", str(files["series"]),
        "--path", path, "-o", "json", *extra,
    )  # fmt: skip


def test_check_notes_the_empty_result_extension(files: dict[str, Path]) -> None:
    result = run("check", str(files["config"]))
    assert result.returncode == 0, result.stderr
    assert (
        f"warning: {files['config']}: externalRules[1].emptyResult: an extension of this "
        "adapter: prometheus-adapter rejects the whole file (unknown field)"
    ) in result.stderr


def test_check_warns_about_resource_rules_that_serve_nothing(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "resourceRules:\n"
        "  cpu: {containerQuery: x, resources: {template: <<.Resource>>}}\n"
        "  memory: {containerQuery: x, resources: {template: <<.Resource>>}}\n"
    )
    result = run("check", str(config))
    assert result.returncode == 0, result.stderr
    assert f"warning: {config}: resourceRules.cpu.nodeQuery: empty: no node" in result.stderr
    assert f"warning: {config}: resourceRules.window: not set" in result.stderr


def test_explain_lists_external_metrics_and_resource_support(files: dict[str, Path]) -> None:
    result = run(
        "explain", "--config", str(files["config"]), "--series", str(files["series"]), "-o", "json"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "custom": [],
        "external": [
            {
                "metric": "cliapi_backlog",
                "namespaced": False,
                "series": "cliapi_backlog",
                "rule": 1,
            },
            {
                "metric": "cliapi_queue_depth",
                "namespaced": True,
                "series": "cliapi_queue_messages",
                "rule": 0,
            },
        ],
        "resource": {"cpu": True, "memory": True},
    }


def test_explain_text_describes_resource_metrics(files: dict[str, Path]) -> None:
    result = run("explain", "--config", str(files["config"]), "--series", str(files["series"]))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "external.metrics.k8s.io: 2 metric(s)" in lines
    assert "metrics.k8s.io: cpu, memory" in lines
    assert any(
        line.strip().startswith("cpu: pods, nodes; container label container") for line in lines
    )
    assert "  window: 2m" in lines


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/cliapi_queue_depth?labelSelector=queue%20notin%20(billing)",
            ['sum(cliapi_queue_messages{queue!~"billing",namespace="shop"}) by (queue)'],
        ),
        (
            "/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/cliapi_backlog?labelSelector=region",
            ['sum(cliapi_backlog{region!=""})'],
        ),
        (
            "/apis/metrics.k8s.io/v1beta1/namespaces/cliapi/pods/web-1",
            [
                'sum(rate(cliapi_cpu_seconds_total{namespace="cliapi",pod="web-1"}[2m])) by (pod,container)',
                'sum(cliapi_memory_bytes{namespace="cliapi",pod="web-1"}) by (pod,container)',
            ],
        ),
        (
            "/apis/metrics.k8s.io/v1beta1/nodes/n1",
            [
                'sum(rate(cliapi_cpu_seconds_total{node="n1",id="/"}[2m])) by (node)',
                'sum(cliapi_memory_bytes{node="n1",id="/"}) by (node)',
            ],
        ),
    ],
)
def test_query_prints_the_promql_of_external_and_resource_paths(
    files: dict[str, Path], path: str, expected: list[str]
) -> None:
    result = query(files, path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"queries": expected, "response": None}


def test_query_resource_list_runs_two_queries_per_namespace(files: dict[str, Path]) -> None:
    result = query(files, "/apis/metrics.k8s.io/v1beta1/pods", "--objects", "b/x,a/y,a/z")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["queries"] == [
        'sum(rate(cliapi_cpu_seconds_total{namespace="a",pod=~"y|z"}[2m])) by (pod,container)',
        'sum(cliapi_memory_bytes{namespace="a",pod=~"y|z"}) by (pod,container)',
        'sum(rate(cliapi_cpu_seconds_total{namespace="b",pod="x"}[2m])) by (pod,container)',
        'sum(cliapi_memory_bytes{namespace="b",pod="x"}) by (pod,container)',
    ]


def test_query_resource_list_without_objects_says_what_to_do(files: dict[str, Path]) -> None:
    result = query(files, "/apis/metrics.k8s.io/v1beta1/namespaces/cliapi/pods")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["queries"] == []
    assert "--objects" in result.stderr


def test_query_unknown_external_metric_prints_the_status(files: dict[str, Path]) -> None:
    result = query(files, "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/nope")
    assert result.returncode == 1
    status: dict[str, Any] = json.loads(result.stdout)
    assert (status["code"], status["reason"]) == (404, "NotFound")
    assert status["message"] == "the server could not find the metric nope for namespaces"


def test_query_path_of_a_group_the_config_does_not_serve(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("externalRules: []\n")
    series = tmp_path / "s.json"
    series.write_text("[]")
    result = run(
        "query", "--config", str(config), "--series", str(series),
        "--path", "/apis/metrics.k8s.io/v1beta1/nodes", "-o", "json",
    )  # fmt: skip
    assert result.returncode == 1
    assert json.loads(result.stdout)["message"] == (
        "the server could not find the requested resource"
    )


def test_query_with_prometheus_answers_external(
    files: dict[str, Path], prometheus: PrometheusProcess
) -> None:
    result = run(
        "query", "--config", str(files["config"]), "--prometheus-url", prometheus.url,
        "--path", "/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/cliapi_queue_depth",
        "-o", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)["response"]
    assert response["kind"] == "ExternalMetricValueList"
    values = {item["metricLabels"]["queue"]: item["value"] for item in response["items"]}
    assert values == {"orders": "12", "billing": "3"}


def test_query_with_prometheus_answers_pod_metrics(
    files: dict[str, Path], prometheus: PrometheusProcess
) -> None:
    result = run(
        "query", "--config", str(files["config"]), "--prometheus-url", prometheus.url,
        "--path", "/apis/metrics.k8s.io/v1beta1/namespaces/cliapi/pods",
        "--objects", "web-1,web-2,web-3", "-o", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert len(document["queries"]) == 2
    response = document["response"]
    assert response["kind"] == "PodMetricsList"
    by_pod = {item["metadata"]["name"]: item["containers"] for item in response["items"]}
    assert sorted(by_pod) == ["web-1", "web-2"]  # web-3 has no series: left out
    [app] = by_pod["web-1"]
    assert app["usage"]["memory"] == "64Mi"
    assert Quantity.parse(app["usage"]["cpu"]).as_float() == pytest.approx(0.5, abs=1e-6)
