"""`python -m adapter rules check|explain|query`, run as a user runs them.

The JSON shapes are fixed by /work/shared/contracts/rules-cli.md; these tests read the
real command's stdout, stderr and exit status.
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

WALKTHROUGH = """
rules:
- seriesQuery: 'cli_http_requests_total{namespace!="",pod!=""}'
  resources:
    overrides:
      namespace: {resource: namespace}
      pod: {resource: pod}
  name: {matches: "^(.*)_total$", as: "${1}_per_second"}
  metricsQuery: sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)
externalRules:
- seriesQuery: 'cli_queue_messages{queue!=""}'
  resources: {overrides: {namespace: {resource: namespace}}}
  name: {matches: "^cli_queue_messages$", as: queue_depth}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (queue)
"""

SERIES = [
    {"__name__": "cli_http_requests_total", "namespace": "shop", "pod": "web-1"},
    {"__name__": "cli_http_requests_total", "namespace": "shop", "pod": "web-2"},
    {"__name__": "cli_queue_messages", "namespace": "shop", "queue": "orders"},
]


@default_dataset
def _cli_series(data: SeriesData) -> None:
    for n, pod in enumerate(("web-1", "web-2"), start=1):
        data.counter(
            "cli_http_requests_total", {"namespace": "shop", "pod": pod}, rate_per_second=n
        )
    data.gauge("cli_queue_messages", {"namespace": "shop", "queue": "orders"}, 12.0)


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
    config.write_text(WALKTHROUGH)
    series = tmp_path / "series.json"
    series.write_text(json.dumps(SERIES))
    return {"config": config, "series": series}


def test_check_accepts_every_shipped_config() -> None:
    configs = sorted(str(p) for p in (REPO / "config").rglob("*.yaml"))
    assert configs
    result = run("check", *configs)
    assert result.returncode == 0, result.stderr


def test_check_names_file_section_rule_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "rules:\n"
        "- seriesQuery: up\n"
        "  metricsQuery: x\n"
        "- seriesQuery: up\n"
        "  name: {matches: '(', as: x}\n"
        "  metricsQuery: x\n"
        "  seriesFilter: []\n"
    )
    result = run("check", str(bad))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert f"{bad}: rules[1].name.matches: invalid regular expression: " in lines[0] or any(
        line.startswith(f"{bad}: rules[1].name.matches: invalid regular expression: ")
        for line in lines
    )
    assert any(line.startswith(f"{bad}: rules[1].seriesFilter: unknown field") for line in lines)


def test_check_warns_where_upstream_names_differently(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "rules:\n- seriesQuery: x\n  name: {matches: '^(.*)_total$', as: '$1_per_second'}\n"
        "  metricsQuery: x\n"
    )
    result = run("check", str(config))
    assert result.returncode == 0
    assert f"warning: {config}: rules[0].name.as:" in result.stderr
    assert "'${1}_per_second'" in result.stderr


def test_explain_json_follows_the_contract(files: dict[str, Path]) -> None:
    result = run(
        "explain", "--config", str(files["config"]), "--series", str(files["series"]), "-o", "json"
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document == {
        "custom": [
            {
                "metric": "cli_http_requests_per_second",
                "resource": {"group": "", "resource": "namespaces"},
                "namespaced": False,
                "series": "cli_http_requests_total",
                "rule": 0,
            },
            {
                "metric": "cli_http_requests_per_second",
                "resource": {"group": "", "resource": "pods"},
                "namespaced": True,
                "series": "cli_http_requests_total",
                "rule": 0,
            },
        ],
        "external": [
            {"metric": "queue_depth", "namespaced": True, "series": "cli_queue_messages", "rule": 0}
        ],
        "resource": {"cpu": False, "memory": False},
    }


def test_explain_text_lists_the_metrics(files: dict[str, Path]) -> None:
    result = run("explain", "--config", str(files["config"]), "--series", str(files["series"]))
    assert result.returncode == 0, result.stderr
    assert "cli_http_requests_per_second  pods" in result.stdout
    assert "queue_depth" in result.stdout


def _query(files: dict[str, Path], path: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run(
        "query", "--config", str(files["config"]), "--series", str(files["series"]),
        "--path", path, "-o", "json", *extra,
    )  # fmt: skip


def test_query_prints_the_promql_of_a_wildcard_request(files: dict[str, Path]) -> None:
    path = "/apis/custom.metrics.k8s.io/v1beta1/namespaces/shop/pods/*/cli_http_requests_per_second?labelSelector=app%3Dweb"
    result = _query(files, path, "--objects", "web-1,web-2")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "queries": [
            'sum(rate(cli_http_requests_total{namespace="shop",pod=~"web-1|web-2"}[2m])) by (pod)'
        ],
        "response": None,
    }


def test_query_single_object_and_metric_selector(files: dict[str, Path]) -> None:
    path = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/pods/web-1/cli_http_requests_per_second?metricLabelSelector=code%20in%20(200,201)"
    result = _query(files, path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["queries"] == [
        'sum(rate(cli_http_requests_total{code=~"200|201",namespace="shop",pod="web-1"}[2m])) by (pod)'
    ]


def test_query_unservable_path_prints_the_status(files: dict[str, Path]) -> None:
    path = "/apis/custom.metrics.k8s.io/v1beta1/namespaces/shop/pods/web-1/no_such_metric"
    result = _query(files, path)
    assert result.returncode == 1
    status: dict[str, Any] = json.loads(result.stdout)
    assert status["kind"] == "Status" and status["code"] == 404 and status["reason"] == "NotFound"
    assert status["message"] == "the server could not find the metric no_such_metric for pods"


def test_query_with_prometheus_runs_it(
    files: dict[str, Path], prometheus: PrometheusProcess
) -> None:
    path = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/pods/*/cli_http_requests_per_second"
    result = run(
        "query", "--config", str(files["config"]), "--prometheus-url", prometheus.url,
        "--path", path, "--objects", "web-1,web-2", "-o", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    response = document["response"]
    assert response["kind"] == "MetricValueList"
    assert response["apiVersion"] == "custom.metrics.k8s.io/v1beta2"
    values = {
        item["describedObject"]["name"]: Quantity.parse(item["value"]).as_float()
        for item in response["items"]
    }
    # Counters at 1 and 2 req/s; rate() may land a hair under (0.9999...), which
    # truncates to 999m exactly as upstream's milli-unit conversion does.
    assert values.keys() == {"web-1", "web-2"}
    assert values["web-1"] == pytest.approx(1.0, abs=0.002)
    assert values["web-2"] == pytest.approx(2.0, abs=0.002)
