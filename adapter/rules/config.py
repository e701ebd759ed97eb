"""prometheus-adapter's rule config format: the typed model, loading and validation.

A config file written for prometheus-adapter loads here unchanged: the same keys, the
same strictness (unknown or duplicate keys are errors, as yaml.v2's UnmarshalStrict makes
them), the same defaults. What differs is how problems are reported: every problem in
the file is collected, each naming the file, the section, the rule index and the field
(`config.yaml: rules[3].name.matches: invalid regular expression: ...`), instead of
stopping at the first.

Checks that need the cluster's REST mapping (does an override name a real resource?)
live in `adapter.rules.resources`; this module needs nothing but the file.

One key is this adapter's own: `emptyResult` on a rule of `rules` or `externalRules`
(see `EmptyResult`). prometheus-adapter's strict loading rejects it, so a config that
uses it no longer loads there; `rules check` says so.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from adapter.k8s import timefmt, yamlsafe
from adapter.rules import goregex, seriesselector
from adapter.rules.gotemplate import GoStruct, Template, TemplateError

SECTIONS = ("rules", "externalRules", "resourceRules")

LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

LABEL_PATTERN_FIELDS = {"Group": "(?P<group>.+?)", "Resource": "(?P<resource>.+?)"}
"""What `.Group`/`.Resource` stand for when a resource template is read backwards."""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with a config file, located down to the field."""

    file: str
    path: str
    """`rules[3].name.matches`; empty for a problem with the whole file."""
    message: str

    def __str__(self) -> str:
        return (
            f"{self.file}: {self.path}: {self.message}"
            if self.path
            else f"{self.file}: {self.message}"
        )


class ConfigError(ValueError):
    """A config file that cannot be served; carries every problem found in it."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


@dataclass(frozen=True, slots=True)
class SeriesFilter:
    """`seriesFilters[i]`: keep (is) or drop (isNot) series whose *name* matches."""

    pattern: str
    keep_matching: bool
    regex: Any = field(compare=False, repr=False)

    def allows(self, series_name: str) -> bool:
        return (self.regex.search(series_name) is not None) == self.keep_matching


@dataclass(frozen=True, slots=True)
class GroupResourceRef:
    """An override's target as written: normalised against the cluster later."""

    group: str
    resource: str


@dataclass(frozen=True, slots=True)
class ResourceMapping:
    """`resources`: which series labels name which Kubernetes resources."""

    overrides: Mapping[str, GroupResourceRef]
    template: Template | None
    template_text: str
    namespaced: bool
    """Only external rules read it: False drops the namespace matcher from their queries."""


@dataclass(frozen=True, slots=True)
class NameMapping:
    """`name`: how a series name becomes the API's metric name."""

    matches: str
    """As written; empty means `.*`."""
    as_: str
    """As written; empty means `$0` or `$1` (see `effective_as`)."""
    regex: Any = field(compare=False, repr=False)
    effective_as: str = ""


class EmptyResult(enum.StrEnum):
    """`emptyResult`: what a query that returns no sample for an object (custom metrics)
    or no sample at all (external metrics) means.

    `notFound`, the default, answers 404 "the server could not find the metric": the
    HPA then leaves the workload alone (no scale-down on missing data), where reading
    the silence as 0 has scaled production workloads down in other adapters.
    `zero` is for metrics whose absence really means zero (a counter of errors that
    only appears after the first error): the value is reported as `0`.
    """

    NOT_FOUND = "notFound"
    ZERO = "zero"


EXTENSION_FIELDS = ("emptyResult",)
"""Rule keys this adapter reads that prometheus-adapter does not know (and rejects)."""


@dataclass(frozen=True, slots=True)
class DiscoveryRule:
    """One entry of `rules` or `externalRules`."""

    section: str
    index: int
    series_query: str
    series_filters: tuple[SeriesFilter, ...]
    resources: ResourceMapping
    name: NameMapping
    metrics_query: Template | None
    metrics_query_text: str
    empty_result: EmptyResult = EmptyResult.NOT_FOUND
    """`emptyResult` (this adapter's extension); see `EmptyResult`."""
    extensions: tuple[str, ...] = ()
    """Extension keys the rule spells out, for `rules check`'s compatibility note."""

    @property
    def location(self) -> str:
        return f"{self.section}[{self.index}]"


@dataclass(frozen=True, slots=True)
class ResourceRule:
    """`resourceRules.cpu` or `resourceRules.memory`."""

    container_query: Template | None
    container_query_text: str
    node_query: Template | None
    node_query_text: str
    resources: ResourceMapping
    container_label: str


@dataclass(frozen=True, slots=True)
class ResourceRules:
    cpu: ResourceRule
    memory: ResourceRule
    window_seconds: float
    window_text: str


@dataclass(frozen=True, slots=True)
class MetricsDiscoveryConfig:
    source: str
    rules: tuple[DiscoveryRule, ...] = ()
    external_rules: tuple[DiscoveryRule, ...] = ()
    resource_rules: ResourceRules | None = None

    def all_rules(self) -> Iterator[DiscoveryRule]:
        yield from self.rules
        yield from self.external_rules


# --- loading -----------------------------------------------------------------------------


def _duplicate_keys(node: yaml.Node, path: str, found: list[str]) -> None:
    """Paths of keys defined twice in one mapping (yaml.v2's strict mode refuses them)."""
    if isinstance(node, yaml.MappingNode):
        seen: set[object] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            child = _join(path, str(key))
            if key is not None and key in seen:
                found.append(child)
            seen.add(key)
            _duplicate_keys(value_node, child, found)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _duplicate_keys(item, f"{path}[{index}]", found)


def load_config(path: str | Path) -> MetricsDiscoveryConfig:
    """Read and validate one config file; raise ConfigError naming every problem.

    The file is read within `adapter.k8s.yamlsafe`'s bounds (size, alias expansion,
    nesting), so a FIFO, a device or a YAML bomb is one error line, never a hang."""
    source = str(path)
    try:
        text = yamlsafe.read_file(path)
    except yamlsafe.DocumentError as err:
        raise ConfigError([ConfigProblem(source, "", str(err))]) from err
    return parse_config(text, source)


def parse_config(text: str, source: str = "<config>") -> MetricsDiscoveryConfig:
    duplicates: list[str] = []
    try:
        document = yamlsafe.load(text, inspect=lambda root: _duplicate_keys(root, "", duplicates))
    except yamlsafe.DocumentError as err:
        raise ConfigError([ConfigProblem(source, "", f"invalid YAML: {err}")]) from err
    builder = _Builder(source)
    for path in duplicates:
        builder.problem(path, "key defined more than once")
    config = builder.document(document)
    if builder.problems:
        raise ConfigError(builder.problems)
    return config


class _Builder:
    """Walks the YAML document, building the model and collecting problems with their paths."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[ConfigProblem] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(ConfigProblem(self.source, path, message))

    # -- generic shape checks, in yaml.v2's vocabulary --

    def mapping(self, value: object, path: str, known: tuple[str, ...]) -> dict[str, Any] | None:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping, got {_kind(value)}")
            return None
        for key in value:
            if not isinstance(key, str):
                self.problem(path, f"expected string keys, got {_kind(key)} {key!r}")
            elif key not in known:
                self.problem(_join(path, key), f"unknown field (known fields: {', '.join(known)})")
        return {key: item for key, item in value.items() if key in known}

    def string(self, value: object, path: str) -> str:
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.problem(path, f"expected a string, got {_kind(value)}")
            return ""
        # yaml.v2 accepts a bare scalar such as 5m or 300 into a string field.
        return value if isinstance(value, str) else str(value)

    def boolean(self, value: object, path: str, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(path, f"expected a boolean, got {_kind(value)}")
            return default
        return value

    def sequence(self, value: object, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(path, f"expected a list, got {_kind(value)}")
            return []
        return value

    def regex(self, pattern: str, path: str, what: str = "regular expression") -> Any:
        try:
            return goregex.compile_go(pattern)
        except goregex.RegexError as err:
            self.problem(path, f"invalid {what}: {err}")
            return None

    def label_name(self, name: str, path: str, what: str) -> bool:
        """Label names go into PromQL unquoted: one Prometheus cannot parse would fail
        every query of the rule at run time."""
        if LABEL_NAME.fullmatch(name):
            return True
        self.problem(
            path,
            f"{what} {name!r} is not a Prometheus label name "
            "(letters, digits and underscores, not starting with a digit)",
        )
        return False

    def template(self, text: str, path: str, name: str) -> Template | None:
        if not text:
            return None
        try:
            return Template.parse(text, name=name, left_delim="<<", right_delim=">>")
        except TemplateError as err:
            self.problem(path, f"invalid template: {err}")
            return None

    # -- the document --

    def document(self, document: object) -> MetricsDiscoveryConfig:
        top = self.mapping(document, "", SECTIONS)
        if top is None:
            return MetricsDiscoveryConfig(self.source)
        rules = tuple(
            rule
            for index, raw in enumerate(self.sequence(top.get("rules"), "rules"))
            if (rule := self.discovery_rule(raw, "rules", index)) is not None
        )
        external = tuple(
            rule
            for index, raw in enumerate(self.sequence(top.get("externalRules"), "externalRules"))
            if (rule := self.discovery_rule(raw, "externalRules", index)) is not None
        )
        resource_rules = None
        if top.get("resourceRules") is not None:
            resource_rules = self.resource_rules(top["resourceRules"], "resourceRules")
        return MetricsDiscoveryConfig(self.source, rules, external, resource_rules)

    def discovery_rule(self, raw: object, section: str, index: int) -> DiscoveryRule | None:
        path = f"{section}[{index}]"
        known = ("seriesQuery", "seriesFilters", "resources", "name", "metricsQuery")
        fields = self.mapping(raw, path, (*known, *EXTENSION_FIELDS))
        if fields is None:
            return None
        series_query = self.string(fields.get("seriesQuery"), f"{path}.seriesQuery")
        if not series_query.strip() and "seriesQuery" not in _reported(self, path):
            self.problem(f"{path}.seriesQuery", "required: the series selector discovery lists")
        elif series_query.strip():
            try:
                seriesselector.parse(series_query)
            except seriesselector.SeriesSelectorError as err:
                self.problem(f"{path}.seriesQuery", f"not a PromQL series selector: {err}")
        filters = tuple(
            item
            for position, raw_filter in enumerate(
                self.sequence(fields.get("seriesFilters"), f"{path}.seriesFilters")
            )
            if (item := self.series_filter(raw_filter, f"{path}.seriesFilters[{position}]"))
        )
        resources = self.resource_mapping(fields.get("resources"), f"{path}.resources")
        name = self.name_mapping(fields.get("name"), f"{path}.name")
        query_text = self.string(fields.get("metricsQuery"), f"{path}.metricsQuery")
        query = self.template(query_text, f"{path}.metricsQuery", "metrics-query")
        empty_result = self.empty_result(fields.get("emptyResult"), f"{path}.emptyResult")
        return DiscoveryRule(
            section=section,
            index=index,
            series_query=series_query,
            series_filters=filters,
            resources=resources,
            name=name,
            metrics_query=query,
            metrics_query_text=query_text,
            empty_result=empty_result,
            extensions=tuple(key for key in EXTENSION_FIELDS if key in fields),
        )

    def empty_result(self, value: object, path: str) -> EmptyResult:
        text = self.string(value, path)
        if not text:
            return EmptyResult.NOT_FOUND
        try:
            return EmptyResult(text)
        except ValueError:
            choices = ", ".join(member.value for member in EmptyResult)
            self.problem(path, f"unknown value {text!r} (one of: {choices})")
            return EmptyResult.NOT_FOUND

    def series_filter(self, raw: object, path: str) -> SeriesFilter | None:
        fields = self.mapping(raw, path, ("is", "isNot"))
        if fields is None:
            return None
        keep = self.string(fields.get("is"), f"{path}.is")
        drop = self.string(fields.get("isNot"), f"{path}.isNot")
        if keep and drop:
            self.problem(path, "a filter takes either `is` or `isNot`, not both")
            return None
        if not keep and not drop:
            self.problem(path, "a filter needs an `is` or an `isNot` expression")
            return None
        pattern, field_name = (keep, "is") if keep else (drop, "isNot")
        regex = self.regex(pattern, f"{path}.{field_name}")
        if regex is None:
            return None
        return SeriesFilter(pattern=pattern, keep_matching=bool(keep), regex=regex)

    def resource_mapping(self, raw: object, path: str) -> ResourceMapping:
        fields = self.mapping(raw, path, ("overrides", "template", "namespaced")) or {}
        overrides: dict[str, GroupResourceRef] = {}
        raw_overrides = fields.get("overrides")
        if raw_overrides is not None and not isinstance(raw_overrides, dict):
            self.problem(f"{path}.overrides", f"expected a mapping, got {_kind(raw_overrides)}")
        elif raw_overrides:
            for label, target in raw_overrides.items():
                target_path = f"{path}.overrides.{label}"
                self.label_name(str(label), target_path, "an override's key")
                target_fields = self.mapping(target, target_path, ("group", "resource"))
                if target_fields is None:
                    continue
                resource = self.string(target_fields.get("resource"), f"{target_path}.resource")
                if not resource:
                    self.problem(
                        f"{target_path}.resource", "required: the resource this label names"
                    )
                    continue
                group = self.string(target_fields.get("group"), f"{target_path}.group")
                overrides[str(label)] = GroupResourceRef(group=group, resource=resource)
        template_text = self.string(fields.get("template"), f"{path}.template")
        template = self.template(template_text, f"{path}.template", "resource-label")
        if template is not None and not self.label_template_reads_back(
            template, f"{path}.template"
        ):
            template = None
        namespaced = self.boolean(fields.get("namespaced"), f"{path}.namespaced", True)
        return ResourceMapping(overrides, template, template_text, namespaced)

    def label_template_reads_back(self, template: Template, path: str) -> bool:
        """A resource template must also work backwards, as a regex that reads labels."""
        if not template.references_field("Resource"):
            self.problem(path, "must reference <<.Resource>> to name a resource")
            return False
        try:
            pattern = template.execute(GoStruct("schema.GroupResource", LABEL_PATTERN_FIELDS))
        except TemplateError as err:
            self.problem(path, f"cannot be executed: {err}")
            return False
        what = "template: as a label pattern it is no regular expression"
        return self.regex(f"^{pattern}$", path, what) is not None

    def name_mapping(self, raw: object, path: str) -> NameMapping:
        fields = self.mapping(raw, path, ("matches", "as")) or {}
        matches = self.string(fields.get("matches"), f"{path}.matches")
        as_ = self.string(fields.get("as"), f"{path}.as")
        regex = self.regex(matches or ".*", f"{path}.matches")
        effective = as_
        if regex is not None and not as_:
            if regex.groups == 0:
                effective = "$0"
            elif regex.groups == 1:
                effective = "$1"
            else:
                self.problem(
                    f"{path}.as",
                    f"required: `matches` has {regex.groups} capture groups, so which one names "
                    "the metric must be said (e.g. `as: ${1}`)",
                )
        return NameMapping(matches=matches, as_=as_, regex=regex, effective_as=effective)

    def resource_rules(self, raw: object, path: str) -> ResourceRules | None:
        fields = self.mapping(raw, path, ("cpu", "memory", "window"))
        if fields is None:
            return None
        for needed in ("cpu", "memory"):
            if fields.get(needed) is None:
                self.problem(
                    f"{path}.{needed}", "required: resource metrics serve both cpu and memory"
                )
        cpu = self.resource_rule(fields.get("cpu"), f"{path}.cpu")
        memory = self.resource_rule(fields.get("memory"), f"{path}.memory")
        window_text = self.string(fields.get("window"), f"{path}.window")
        window = 0.0
        if window_text:
            try:
                window = timefmt.parse_prometheus_duration(window_text)
            except ValueError as err:
                self.problem(f"{path}.window", f"invalid duration: {err}")
        return ResourceRules(cpu=cpu, memory=memory, window_seconds=window, window_text=window_text)

    def resource_rule(self, raw: object, path: str) -> ResourceRule:
        known = ("containerQuery", "nodeQuery", "resources", "containerLabel")
        fields = self.mapping(raw, path, known) or {}
        container_text = self.string(fields.get("containerQuery"), f"{path}.containerQuery")
        node_text = self.string(fields.get("nodeQuery"), f"{path}.nodeQuery")
        resources = self.resource_mapping(fields.get("resources"), f"{path}.resources")
        container_label = self.string(fields.get("containerLabel"), f"{path}.containerLabel")
        if container_label:
            self.label_name(container_label, f"{path}.containerLabel", "containerLabel")
        return ResourceRule(
            container_query=self.template(
                container_text, f"{path}.containerQuery", "container-query"
            ),
            container_query_text=container_text,
            node_query=self.template(node_text, f"{path}.nodeQuery", "node-query"),
            node_query_text=node_text,
            resources=resources,
            container_label=container_label,
        )


def _reported(builder: _Builder, path: str) -> set[str]:
    """Fields under `path` that already have a problem (so one mistake is reported once)."""
    prefix = f"{path}."
    return {
        p.path[len(prefix) :].split(".")[0] for p in builder.problems if p.path.startswith(prefix)
    }


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__
