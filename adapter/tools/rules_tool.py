"""`rules check`, `rules explain`, `rules query`: what a config does, without a cluster.

Answers "why is my metric not there, and what query does it run?" before deploying.
The JSON shapes are fixed by contracts/rules-cli.md; other tools read them. Without
`--kubeconfig`, resources resolve against the built-in table of Kubernetes' own
resources, so CRD-backed resources need a cluster.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from adapter.k8s import status, yamlsafe
from adapter.k8s.resources import ResourceInfo, RestMapper
from adapter.k8s.selectors import LabelSelector
from adapter.rules import goregex, seriesmatch
from adapter.rules.config import ConfigError, MetricsDiscoveryConfig, load_config
from adapter.rules.registry import Registry, RegistryBuilder, RuleSet
from adapter.rules.resources import check_against_mapper
from adapter.settings.tools import RulesToolSettings

EXIT_OK = 0
EXIT_UNSERVABLE = 1
EXIT_INVALID = 2


@dataclass(frozen=True, slots=True)
class Warning_:
    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"warning: {self.file}: {self.path}: {self.message}"


def compatibility_warnings(config: MetricsDiscoveryConfig) -> list[Warning_]:
    """Where this config behaves differently here than under prometheus-adapter."""
    warnings: list[Warning_] = []
    for rule in config.all_rules():
        regex = rule.name.regex
        if regex is None:
            continue
        for ref in goregex.references(rule.name.effective_as):
            if ref.braced or goregex.group_index(regex, ref.name) is not None:
                continue
            digits = len(ref.name) - len(ref.name.lstrip("0123456789"))
            if digits and goregex.group_index(regex, ref.name[:digits]) is not None:
                fixed = "${" + ref.name[:digits] + "}" + ref.name[digits:]
                warnings.append(
                    Warning_(
                        config.source,
                        f"{rule.location}.name.as",
                        f"{ref.text!r} expands to an empty string in prometheus-adapter (Go reads "
                        f"a group named {ref.name!r}); this adapter reads it as {fixed!r}. Write "
                        f"{fixed!r} to get the same name from both.",
                    )
                )
            else:
                warnings.append(
                    Warning_(
                        config.source,
                        f"{rule.location}.name.as",
                        f"{ref.text!r} names no capture group of {rule.name.matches!r}: it expands "
                        "to an empty string",
                    )
                )
        if rule.metrics_query is None:
            warnings.append(
                Warning_(
                    config.source,
                    f"{rule.location}.metricsQuery",
                    "empty: every request for this rule's metrics will fail",
                )
            )
        for key in rule.extensions:
            warnings.append(
                Warning_(
                    config.source,
                    f"{rule.location}.{key}",
                    "an extension of this adapter: prometheus-adapter rejects the whole file "
                    "(unknown field)",
                )
            )
    resource_rules = config.resource_rules
    if resource_rules is not None:
        for name in ("cpu", "memory"):
            resource_rule = getattr(resource_rules, name)
            for field, template, serves in (
                ("containerQuery", resource_rule.container_query, "pod"),
                ("nodeQuery", resource_rule.node_query, "node"),
            ):
                if template is None:
                    warnings.append(
                        Warning_(
                            config.source,
                            f"resourceRules.{name}.{field}",
                            f"empty: no {serve_text(serves)} will have metrics "
                            "(a pod or node needs both cpu and memory)",
                        )
                    )
        if not resource_rules.window_text:
            warnings.append(
                Warning_(
                    config.source,
                    "resourceRules.window",
                    'not set: every item reports a window of "0s"',
                )
            )
    return warnings


def serve_text(kind: str) -> str:
    return (
        "pod (kubectl top pods, CPU/memory HPAs)" if kind == "pod" else "node (kubectl top nodes)"
    )


def check(paths: Sequence[str], err: TextIO) -> int:
    mapper = RestMapper.builtin()
    exit_code = EXIT_OK
    for path in paths:
        try:
            config = load_config(path)
        except ConfigError as error:
            print(error, file=err)
            exit_code = EXIT_INVALID
            continue
        problems = check_against_mapper(config, mapper, known_groups_only=True)
        for problem in problems:
            print(problem, file=err)
        if problems:
            exit_code = EXIT_INVALID
        for warning in compatibility_warnings(config):
            print(warning, file=err)
    return exit_code


# --- explain ------------------------------------------------------------------------------


def read_series_file(path: str) -> list[dict[str, str]]:
    """A YAML or JSON list of label sets (JSON is YAML); `data` of /api/v1/series."""
    try:
        document = yamlsafe.load_file(path)
    except yamlsafe.DocumentError as err:
        raise ValueError(f"{path}: {err}") from err
    if isinstance(document, dict) and "data" in document:
        document = document["data"]  # a saved /api/v1/series response works too
    if not isinstance(document, list) or not all(isinstance(item, dict) for item in document):
        raise ValueError(f"{path}: expected a list of label sets")
    return [{str(k): str(v) for k, v in item.items()} for item in document]


def registry_from_series(
    rules: RuleSet, series: Iterable[Mapping[str, str]], err: TextIO | None = None
) -> Registry:
    """Discovery over a fixed list, standing in for Prometheus' series API.

    Each series query gets the series it selects, as Prometheus would answer it; a
    query that is not a plain vector selector gets every series, with a warning on
    `err`.
    """
    items = list(series)
    builder = RegistryBuilder(rules)
    for query in rules.series_queries():
        try:
            selects = seriesmatch.compile_series_query(query)
        except seriesmatch.SeriesQueryError as error:
            if err is not None:
                print(f"warning: {error}: offering it every series of the file", file=err)
            builder.add_series(query, items)
            continue
        builder.add_series(query, [labels for labels in items if selects(labels)])
    return builder.build()


async def registry_from_prometheus(
    rules: RuleSet, url: str, max_age: float, err: TextIO | None = None
) -> Registry:
    """One relist, as `serve` makes it: a rule whose series query fails is reported
    (one warning line each on `err`) and the others are listed; when none could be,
    ValueError with the reason."""
    from adapter.prometheus.client import PrometheusClient
    from adapter.prometheus.settings import PrometheusSettings
    from adapter.providers.discovery import Discovery, DiscoveryError

    async with PrometheusClient(PrometheusSettings(url=url)) as prometheus:
        discovery = Discovery(rules, prometheus, interval=max_age, max_age=max_age)
        try:
            return await discovery.relist()
        except DiscoveryError as error:
            raise ValueError(str(error)) from error
        finally:
            for rule, why in discovery.stats.rule_errors.items():
                if err is not None:
                    print(f"warning: {rule}: its seriesQuery failed, so it lists nothing: {why}",
                          file=err)  # fmt: skip


def explain_document(registry: Registry, config: MetricsDiscoveryConfig) -> dict[str, Any]:
    resource_rules = config.resource_rules
    return {
        "custom": [
            {
                "metric": entry.metric,
                "resource": {
                    "group": entry.group_resource.group,
                    "resource": entry.group_resource.resource,
                },
                "namespaced": entry.namespaced,
                "series": entry.series_name,
                "rule": entry.rule.rule.index,
            }
            for entry in registry.custom_entries()
        ],
        "external": [
            {
                "metric": entry.metric,
                "namespaced": entry.namespaced,
                "series": entry.series_name,
                "rule": entry.rule.rule.index,
            }
            for entry in registry.external_entries()
        ],
        "resource": {
            "cpu": resource_rules is not None and resource_rules.cpu.container_query is not None,
            "memory": resource_rules is not None
            and resource_rules.memory.container_query is not None,
        },
    }


def resource_summary(config: MetricsDiscoveryConfig) -> list[str]:
    """How `resourceRules` serve metrics.k8s.io, for people reading `rules explain`."""
    rules = config.resource_rules
    if rules is None:
        return []
    lines: list[str] = []
    for name in ("cpu", "memory"):
        rule = getattr(rules, name)
        objects = [
            kind
            for kind, template in (("pods", rule.container_query), ("nodes", rule.node_query))
            if template is not None
        ]
        label = rule.container_label or "(none: one unnamed container per pod)"
        lines.append(
            f"{name}: {', '.join(objects) or 'nothing'}; container label {label}; "
            "one query per namespace for pods, one for all nodes"
        )
    window = rules.window_text or "0s (not set)"
    lines.append(f"window: {window}")
    return lines


def print_explain_text(
    document: Mapping[str, Any], out: TextIO, resource_details: Sequence[str] = ()
) -> None:
    custom = document["custom"]
    print(f"custom.metrics.k8s.io: {len(custom)} metric(s)", file=out)
    rows: list[tuple[str, ...]] = [("METRIC", "RESOURCE", "SCOPE", "SERIES", "RULE")]
    for item in custom:
        group = item["resource"]["group"]
        resource = item["resource"]["resource"] + (f".{group}" if group else "")
        scope = "namespaced" if item["namespaced"] else "root"
        rows.append((item["metric"], resource, scope, item["series"], f"rules[{item['rule']}]"))
    _table(rows, out)
    external = document["external"]
    print(f"\nexternal.metrics.k8s.io: {len(external)} metric(s)", file=out)
    external_rows: list[tuple[str, ...]] = [("METRIC", "SCOPE", "SERIES", "RULE")]
    for item in external:
        scope = "namespaced" if item["namespaced"] else "any namespace"
        external_rows.append(
            (item["metric"], scope, item["series"], f"externalRules[{item['rule']}]")
        )
    _table(external_rows, out)
    resource = document["resource"]
    served = [name for name in ("cpu", "memory") if resource[name]]
    print(
        f"\nmetrics.k8s.io: {', '.join(served) if served else 'not served (no resourceRules)'}",
        file=out,
    )
    for line in resource_details:
        print(f"  {line}", file=out)


def _table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    if len(rows) == 1:
        print("  (none)", file=out)
        return
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  "
            + "  ".join(
                cell.ljust(width) for cell, width in zip(row, widths, strict=True)
            ).rstrip(),
            file=out,
        )


def _load_for_tool(
    args: RulesToolSettings, err: TextIO
) -> tuple[MetricsDiscoveryConfig, RestMapper] | int:
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(error, file=err)
        return EXIT_INVALID
    if args.kubeconfig:
        mapper = asyncio.run(_cluster_mapper(args.kubeconfig))
    else:
        mapper = RestMapper.builtin()
    problems = check_against_mapper(config, mapper, known_groups_only=not args.kubeconfig)
    if problems:
        for problem in problems:
            print(problem, file=err)
        return EXIT_INVALID
    return config, mapper


async def _cluster_mapper(kubeconfig: str) -> RestMapper:
    from adapter.cluster import connection, discovery

    async with connection.connect(kubeconfig) as cluster:
        return await discovery.fetch_rest_mapper(cluster)


def _registry_for(args: RulesToolSettings, rules: RuleSet, err: TextIO) -> Registry:
    if args.series_file:
        return registry_from_series(rules, read_series_file(args.series_file), sys.stderr)
    assert args.prometheus_url is not None  # one of the two, as the flags require
    return asyncio.run(
        registry_from_prometheus(rules, args.prometheus_url, args.metrics_max_age, err)
    )


def explain(args: RulesToolSettings, out: TextIO, err: TextIO) -> int:
    loaded = _load_for_tool(args, err)
    if isinstance(loaded, int):
        return loaded
    config, mapper = loaded
    try:
        registry = _registry_for(args, RuleSet(config, mapper), err)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=err)
        return EXIT_INVALID
    document = explain_document(registry, config)
    if args.output == "json":
        print(json.dumps(document, indent=2), file=out)
    else:
        print_explain_text(document, out, resource_summary(config))
    return EXIT_OK


# --- query --------------------------------------------------------------------------------


class StaticObjects:
    """The `--objects` list standing in for the cluster's answer to a label selector."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)

    async def list_object_names(
        self, info: ResourceInfo, namespace: str | None, selector: LabelSelector
    ) -> list[str]:
        return list(self.names)


def query(args: RulesToolSettings, out: TextIO, err: TextIO) -> int:
    loaded = _load_for_tool(args, err)
    if isinstance(loaded, int):
        return loaded
    config, mapper = loaded
    rules = RuleSet(config, mapper)
    try:
        registry = _registry_for(args, rules, err)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=err)
        return EXIT_INVALID
    names = list(args.objects)
    objects = StaticObjects(names)
    from adapter.tools import request_preview

    if _is_resource_list(args.path) and not names:
        print(
            "note: metrics.k8s.io lists query the running pods (or nodes) the cluster has; "
            "name them with --objects NS/NAME,... to see the queries",
            file=err,
        )
    try:
        preview = asyncio.run(
            request_preview.preview(
                args.path,
                registry,
                mapper,
                objects,
                args.prometheus_url,
                resource_rules=config.resource_rules,
                objects_by_name=names,
            )
        )
    except status.StatusError as error:
        print(json.dumps(error.to_status(), indent=2), file=out)
        return EXIT_UNSERVABLE
    if args.output == "json":
        print(
            json.dumps({"queries": preview.queries, "response": preview.response}, indent=2),
            file=out,
        )
    else:
        for promql in preview.queries:
            print(promql, file=out)
        if preview.response is not None:
            print(json.dumps(preview.response, indent=2), file=out)
    return EXIT_OK


def _is_resource_list(path: str) -> bool:
    parts = path.split("?", 1)[0].strip("/").split("/")
    if parts[:3] != ["apis", "metrics.k8s.io", "v1beta1"]:
        return False
    rest = parts[3:]
    return rest in (["pods"], ["nodes"]) or (
        len(rest) == 3 and rest[0] == "namespaces" and rest[2] == "pods"
    )


def run(args: RulesToolSettings) -> int:
    if args.command == "check":
        return check(list(args.configs), sys.stderr)
    if args.command == "explain":
        return explain(args, sys.stdout, sys.stderr)
    return query(args, sys.stdout, sys.stderr)
