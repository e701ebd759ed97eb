"""Reading the window from Prometheus: each metric as the adapter's rules would query it.

Owns the I/O of a backtest. Discovery runs once, over the window (each rule's
`seriesQuery` on `/api/v1/series` from `--from` to `--to`), so the registry holds the
metrics that existed then. Each metric a spec reads is then queried with the PromQL the
adapter builds for the live request (`adapter.rules.query`, the resource rules'
`ResourceQuery`), run as a range query (`/api/v1/query_range`, in chunks under
Prometheus' 11,000-points-per-series limit) instead of an instant one. The pods a
per-pod query names are the target's, by name pattern, since the pods of the past
cannot be listed. The replicas that ran come from kube-state-metrics' series for the
target's kind, unless `--replicas` says.

The HTTP client is prometheus-api-client (the `analysis` extra): blocking is right for
a command that does one thing at a time, and the server image does not carry it.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapter.backtest import loadmodel
from adapter.backtest.history import History, MetricHistory
from adapter.backtest.specs import BacktestSpec, MetricRead, read_for
from adapter.hpa.model import OBJECT, PODS, RESOURCE
from adapter.k8s.quantity import Quantity
from adapter.k8s.resources import GroupResource, RestMapper, UnknownResourceError
from adapter.k8s.selectors import LabelSelector
from adapter.providers.resource import ResourceQuery
from adapter.rules import query as queries
from adapter.rules.config import MetricsDiscoveryConfig
from adapter.rules.registry import Registry, RegistryBuilder, RuleSet
from adapter.rules.resources import PODS as POD_RESOURCE
from adapter.rules.resources import ResourceConverter
from adapter.settings.backtest import Window

__all__ = ["CHUNK_STEPS", "ReadError", "ReadStats", "Reader", "UnreachableError"]

CHUNK_STEPS = 10_000
"""Steps per range query: under Prometheus' limit of 11,000 points per series."""

_REPLICA_SERIES = {
    "Deployment": ("kube_deployment_status_replicas", "deployment"),
    "StatefulSet": ("kube_statefulset_status_replicas", "statefulset"),
    "ReplicaSet": ("kube_replicaset_status_replicas", "replicaset"),
}


class ReadError(ValueError):
    """History that cannot be read as asked (unknown metric, no data, bad query)."""


class UnreachableError(ConnectionError):
    """Prometheus did not answer (refused, timed out, or a server error)."""


@dataclass(slots=True)
class ReadStats:
    queries: int = 0
    seconds: float = 0.0
    """Wall time spent waiting on Prometheus and decoding its answers."""
    samples: int = 0


RangeResult = list[dict[str, Any]]
"""`data.result` of a matrix answer: [{"metric": {...}, "values": [[t, "v"], ...]}]."""


def pod_name_pattern(spec: BacktestSpec) -> str:
    """The names the target's pods had: `<name>-<hash>-<suffix>` (Deployment) or
    `<name>-<ordinal>` (StatefulSet)."""
    name = re.escape(spec.hpa.spec.scale_target_ref.name)
    return f"{name}-[a-z0-9]+-[a-z0-9]+|{name}-[0-9]+"


def _names(pattern: str) -> list[str]:
    """The pattern as the object names a query's `pod=~"a|b"` matcher joins back."""
    parts = pattern.split("|")
    return parts if len(parts) > 1 else [pattern, pattern]


class Reader:
    """One Prometheus, one rule config, one window; every read a backtest makes."""

    def __init__(
        self,
        connection: Any,
        config: MetricsDiscoveryConfig,
        window: Window,
        *,
        mapper: RestMapper | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.connection = connection
        """A prometheus_api_client.PrometheusConnect (or anything with its methods)."""
        self.config = config
        self.window = window
        self.mapper = mapper or RestMapper.builtin()
        self.stats = ReadStats()
        self._clock = clock
        self._registry: Registry | None = None

    # -- Prometheus calls ------------------------------------------------------------

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        import requests
        from prometheus_api_client.exceptions import PrometheusApiClientException

        started = self._clock()
        try:
            return call()
        except requests.exceptions.RequestException as err:
            raise UnreachableError(
                f"Prometheus unreachable: {err.__class__.__name__}: {err}"
            ) from err
        except PrometheusApiClientException as err:
            text = str(err)
            status = re.match(r"HTTP Status Code (\d+)", text)
            detail = re.search(r'"error":"((?:[^"\\]|\\.)*)"', text)
            message = detail.group(1) if detail else text[:300]
            if status is None or int(status.group(1)) >= 500:
                raise UnreachableError(f"Prometheus failed {what}: {message}") from err
            raise ReadError(f"Prometheus refused {what}: {message}") from err
        except ValueError as err:  # a body that is not JSON
            raise UnreachableError(f"Prometheus answered {what} with no JSON: {err}") from err
        finally:
            self.stats.seconds += self._clock() - started
            self.stats.queries += 1

    def range_query(self, promql: str) -> RangeResult:
        """The whole window of one query, chunk by chunk, series merged by labels."""
        merged: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
        count = self.window.count
        step = f"{int(self.window.step)}"
        for first in range(0, count, CHUNK_STEPS):
            last = min(first + CHUNK_STEPS, count) - 1
            start, end = self.window.time(first), self.window.time(last)
            result = self._call(
                f"the range query {promql!r}",
                functools.partial(self.connection.custom_query_range, promql, start, end, step),
            )
            for series in result or ():
                labels = series.get("metric", {})
                key = tuple(sorted(labels.items()))
                entry = merged.setdefault(key, {"metric": labels, "values": []})
                entry["values"].extend(series.get("values", ()))
                self.stats.samples += len(series.get("values", ()))
        return list(merged.values())

    def registry(self) -> Registry:
        if self._registry is None:
            rules = RuleSet(self.config, self.mapper)
            builder = RegistryBuilder(rules)
            for series_query in rules.series_queries():
                found = self._call(
                    f"the series query {series_query!r}",
                    functools.partial(
                        self.connection.get_series,
                        self.window.start,
                        self.window.end,
                        params={"match[]": series_query},
                    ),
                )
                builder.add_series(series_query, found or ())
            self._registry = builder.build()
        return self._registry

    # -- per read ----------------------------------------------------------------------

    def _steps(self, series: Mapping[str, Any]) -> list[tuple[int, float]]:
        """(step, value) of a range answer's points; the hot loop of reading."""
        start, step, count = self.window.start_seconds, self.window.step, self.window.count
        points = []
        for stamp, text in series.get("values", ()):
            offset = (float(stamp) - start) / step
            index = round(offset)
            if 0 <= index < count and abs(offset - index) < 1e-6:
                points.append((index, float(text)))
        return points

    def _per_pod(
        self,
        read: MetricRead,
        promql: str,
        pod_label: str,
        value: Callable[[float], float | None],
        container_label: str = "",
    ) -> MetricHistory:
        """Per-pod values: summed per pod (over containers), averaged over the pods."""
        sums: list[dict[str, float]] = [{} for _ in range(self.window.count)]
        broken: list[set[str]] = [set() for _ in range(self.window.count)]
        for series in self.range_query(promql):
            labels = series.get("metric", {})
            if read.container and labels.get(container_label) != read.container:
                continue
            pod = labels.get(pod_label, "")
            for index, raw in self._steps(series):
                served = value(raw)
                if served is None:
                    broken[index].add(pod)
                    continue
                sums[index][pod] = sums[index].get(pod, 0.0) + served
        history = MetricHistory(read, promql)
        for index, by_pod in enumerate(sums):
            usable = [v for pod, v in by_pod.items() if pod not in broken[index]]
            history.per_pod.append(sum(usable) / len(usable) if usable else None)
            history.values.append(None)
        return history

    def _valued(
        self,
        read: MetricRead,
        promql: str,
        keep: Callable[[Mapping[str, str]], bool],
    ) -> MetricHistory:
        steps: list[list[tuple[Mapping[str, str], Quantity]] | None] = [
            [] for _ in range(self.window.count)
        ]
        for series in self.range_query(promql):
            labels = series.get("metric", {})
            if not keep(labels):
                continue
            for index, raw in self._steps(series):
                bucket = steps[index]
                if bucket is None:
                    continue
                quantity = loadmodel.served_custom(raw)
                if quantity is None:  # the adapter refuses the whole answer
                    steps[index] = None
                    continue
                bucket.append((labels, quantity))
        history = MetricHistory(read, promql)
        history.per_pod = [None] * self.window.count
        history.values = [tuple(bucket) if bucket else None for bucket in steps]
        return history

    def read(self, read: MetricRead, spec: BacktestSpec) -> MetricHistory:
        namespace = spec.hpa.namespace
        selector = LabelSelector.parse(read.selector)
        try:
            if read.type == RESOURCE:
                return self._resource(read, spec)
            registry = self.registry()
            if read.type == PODS:
                entry = registry.lookup_custom(POD_RESOURCE, True, read.name)
                if entry is None:
                    raise ReadError(self._unknown(f"custom metric {read.name!r} on pods"))
                converter = entry.rule.converter
                promql = queries.object_query(
                    entry.rule.rule.metrics_query, converter, entry.series_name, POD_RESOURCE,
                    namespace, _names(pod_name_pattern(spec)), selector,
                )  # fmt: skip
                label = converter.label_for_resource(POD_RESOURCE)
                return self._per_pod(
                    read,
                    promql,
                    label,
                    loadmodel.served_custom_float,
                )
            if read.type == OBJECT and read.described is not None:
                described = read.described
                group = (
                    described.api_version.split("/", 1)[0] if "/" in described.api_version else ""
                )
                try:
                    info = self.mapper.by_kind(group, described.kind)
                except UnknownResourceError as err:
                    raise ReadError(f"object metric {read.name!r}: {err}") from err
                resource = info.group_resource
                entry = registry.lookup_custom(resource, info.namespaced, read.name)
                if entry is None:
                    raise ReadError(self._unknown(f"custom metric {read.name!r} on {resource}"))
                converter = entry.rule.converter
                promql = queries.object_query(
                    entry.rule.rule.metrics_query, converter, entry.series_name, resource,
                    namespace if info.namespaced else None, [described.name], selector,
                )  # fmt: skip
                label = converter.label_for_resource(resource)
                return self._valued(
                    read, promql, lambda labels: labels.get(label) == described.name
                )
            external = registry.lookup_external(read.name)
            if external is None:
                raise ReadError(self._unknown(f"external metric {read.name!r}"))
            promql = queries.external_query(
                external.rule.rule.metrics_query, external.rule.converter, external.series_name,
                namespace if external.namespaced else None, selector,
            )  # fmt: skip
            return self._valued(read, promql, lambda labels: True)
        except queries.QueryBuildError as err:
            raise ReadError(f"metric {read.label()!r}: cannot build its query: {err}") from err

    def _unknown(self, what: str) -> str:
        between = f"between {_iso(self.window.start)} and {_iso(self.window.end)}"
        if self.registry().series_seen == 0:
            return (
                f"{what}: no data in the window: Prometheus held no series that the rules "
                f"of {self.config.source} select {between}"
            )
        return f"{what} is served by no rule of {self.config.source} for the series {between}"

    def _resource(self, read: MetricRead, spec: BacktestSpec) -> MetricHistory:
        rules = self.config.resource_rules
        if rules is None:
            raise ReadError(
                f"resource metric {read.name!r}: {self.config.source} has no resourceRules"
            )
        rule = rules.cpu if read.name == "cpu" else rules.memory if read.name == "memory" else None
        if rule is None:
            raise ReadError(f"resource metric {read.name!r}: only cpu and memory are served")
        resource_query = ResourceQuery(
            read.name, rule, ResourceConverter(rule.resources, self.mapper)
        )
        try:
            promql = resource_query.pod_query(spec.hpa.namespace, _names(pod_name_pattern(spec)))
            label = resource_query.converter.label_for_resource(GroupResource("", "pods"))
        except queries.QueryBuildError as err:
            raise ReadError(
                f"resource metric {read.name!r}: cannot build its query: {err}"
            ) from err
        return self._per_pod(
            read, promql, label,
            functools.partial(loadmodel.served_resource_float, read.name),
            container_label=rule.container_label,
        )  # fmt: skip

    def replicas(self, spec: BacktestSpec, given: int | None) -> tuple[list[int | None], str]:
        """What ran: `--replicas` when given, else the target's kube-state-metrics series."""
        if given is not None:
            return [given] * self.window.count, f"--replicas {given}"
        target = spec.hpa.spec.scale_target_ref
        found = _REPLICA_SERIES.get(target.kind)
        if found is None:
            raise ReadError(
                f"{spec.file}: no replica history for a {target.kind} target: give --replicas N"
            )
        metric, label = found
        promql = (
            f'max({metric}{{namespace="{_escape(spec.hpa.namespace)}",'
            f'{label}="{_escape(target.name)}"}})'
        )
        replicas: list[int | None] = [None] * self.window.count
        for series in self.range_query(promql):
            for index, value in self._steps(series):
                if value == value and value >= 0 and value != float("inf"):
                    replicas[index] = round(value)
        if all(r is None for r in replicas):
            raise ReadError(
                f"{spec.file}: no replica history in the window ({promql} has no samples): "
                "give --replicas N"
            )
        return replicas, promql

    def history(
        self, specs: Sequence[BacktestSpec], reads: Sequence[MetricRead], given: int | None
    ) -> History:
        """Everything the specs need; a metric with no sample in the whole window is an
        error, since replaying it would only replay a gap."""
        owner: dict[MetricRead, BacktestSpec] = {}
        for spec in specs:
            for metric in spec.hpa.spec.metrics:
                owner.setdefault(read_for(metric), spec)
        metrics: dict[MetricRead, MetricHistory] = {}
        for read in reads:
            history = self.read(read, owner[read])
            if not history.has_data():
                raise ReadError(
                    f"metric {read.label()!r}: no samples between {_iso(self.window.start)} and "
                    f"{_iso(self.window.end)} (query: {history.query})"
                )
            metrics[read] = history
        replicas, source = self.replicas(specs[0], given)
        return History(self.window, replicas, source, metrics)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
