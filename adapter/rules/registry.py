"""The registry: which metrics exist, on which resources, served by which rule.

`RuleSet` is a config compiled against one REST mapping (namers and resource converters
with their caches); it lives as long as the config and the mapping do. Each relist feeds
the series it fetched into a `RegistryBuilder`, which keeps only what naming needs — one
entry per distinct (series name, label names) shape, never the series themselves — and
yields a new immutable `Registry` that the providers swap in whole.

Registration follows prometheus-adapter: every resource label of a series registers the
metric on that resource; later rules and series overwrite earlier ones. Two deliberate
differences: whether a metric is namespaced comes from the resource's scope in the REST
mapping (upstream treats every resource but namespaces, nodes and persistentvolumes as
namespaced, which makes metrics of other cluster-scoped resources, such as
storageclasses, unreachable), and a metric name that expands to "" is dropped (upstream
lists it as `pods/`, which no client can ask for).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from adapter.k8s.resources import GroupResource, RestMapper, UnknownResourceError
from adapter.rules.config import DiscoveryRule, MetricsDiscoveryConfig
from adapter.rules.naming import MetricNamer
from adapter.rules.resources import ResourceConverter


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule: DiscoveryRule
    namer: MetricNamer = field(compare=False)
    converter: ResourceConverter = field(compare=False)


class RuleSet:
    """A config's discovery rules, compiled against one REST mapping."""

    def __init__(self, config: MetricsDiscoveryConfig, mapper: RestMapper) -> None:
        self.config = config
        self.mapper = mapper
        self.custom = tuple(self._compile(rule) for rule in config.rules)
        self.external = tuple(self._compile(rule) for rule in config.external_rules)

    def _compile(self, rule: DiscoveryRule) -> CompiledRule:
        return CompiledRule(rule, MetricNamer(rule), ResourceConverter(rule.resources, self.mapper))

    def rules_for_query(self, series_query: str) -> list[CompiledRule]:
        """The rules that list through `series_query` (rules sharing one query share
        its fate: one call, one answer)."""
        return [c for c in (*self.custom, *self.external) if c.rule.series_query == series_query]

    def series_queries(self) -> list[str]:
        """Distinct `seriesQuery` strings, in first-use order: one /api/v1/series call each."""
        seen: dict[str, None] = {}
        for compiled in (*self.custom, *self.external):
            seen.setdefault(compiled.rule.series_query, None)
        return list(seen)


@dataclass(frozen=True, slots=True)
class CustomEntry:
    group_resource: GroupResource
    metric: str
    namespaced: bool
    series_name: str
    rule: CompiledRule


@dataclass(frozen=True, slots=True)
class ExternalEntry:
    metric: str
    series_name: str
    rule: CompiledRule

    @property
    def namespaced(self) -> bool:
        return self.rule.rule.resources.namespaced


CustomKey = tuple[GroupResource, bool, str]


@dataclass(frozen=True, slots=True)
class Registry:
    """An immutable snapshot of discovery's result."""

    rules: RuleSet | None = None
    custom: Mapping[CustomKey, CustomEntry] = field(default_factory=dict)
    external: Mapping[str, ExternalEntry] = field(default_factory=dict)
    series_seen: int = 0
    shapes_seen: int = 0

    def lookup_custom(
        self, resource: GroupResource, namespaced: bool, metric: str
    ) -> CustomEntry | None:
        return self.custom.get((resource, namespaced, metric))

    def lookup_external(self, metric: str) -> ExternalEntry | None:
        return self.external.get(metric)

    def custom_entries(self) -> list[CustomEntry]:
        """Sorted by metric, then group, then resource: a stable discovery document."""
        return sorted(
            self.custom.values(),
            key=lambda e: (
                e.metric,
                e.group_resource.group,
                e.group_resource.resource,
                e.namespaced,
            ),
        )

    def external_entries(self) -> list[ExternalEntry]:
        return sorted(self.external.values(), key=lambda e: e.metric)


Shape = tuple[str, frozenset[str]]


@dataclass(frozen=True, slots=True)
class SeriesListing:
    """What one series query answered in one relist: its shapes and how many series."""

    shapes: tuple[Shape, ...] = ()
    series: int = 0


class RegistryBuilder:
    """Collects series shapes per series query, then names and registers them."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self._shapes: dict[str, dict[Shape, None]] = {q: {} for q in rules.series_queries()}
        self._series: dict[str, int] = dict.fromkeys(self._shapes, 0)
        self.series_seen = 0

    def listing(self, series_query: str) -> SeriesListing:
        """What has been added for `series_query` so far."""
        return SeriesListing(tuple(self._shapes[series_query]), self._series[series_query])

    def restore(self, series_query: str, listing: SeriesListing) -> None:
        """Replace what `series_query` answered with an earlier listing (a failed or
        suspicious answer keeps the last good one)."""
        self.series_seen += listing.series - self._series[series_query]
        self._shapes[series_query] = dict.fromkeys(listing.shapes)
        self._series[series_query] = listing.series

    def add_series(self, series_query: str, batch: Iterable[Mapping[str, str]]) -> None:
        """Record one batch of label sets returned for `series_query`."""
        shapes = self._shapes[series_query]
        count = 0
        for labels in batch:
            count += 1
            name = labels.get("__name__")
            if name:
                shapes[(name, frozenset(labels))] = None
        self.series_seen += count
        self._series[series_query] += count

    def build(self) -> Registry:
        custom: dict[CustomKey, CustomEntry] = {}
        external: dict[str, ExternalEntry] = {}
        mapper = self.rules.mapper
        for compiled in self.rules.custom:
            for series_name, label_names in self._shapes[compiled.rule.series_query]:
                metric = compiled.namer.metric_name(series_name)
                if not metric:
                    continue
                for resource in compiled.converter.resources_for_series(label_names):
                    namespaced = _is_namespaced(mapper, resource)
                    custom[(resource, namespaced, metric)] = CustomEntry(
                        resource, metric, namespaced, series_name, compiled
                    )
        for compiled in self.rules.external:
            for series_name, _label_names in self._shapes[compiled.rule.series_query]:
                metric = compiled.namer.metric_name(series_name)
                if not metric:
                    continue
                external[metric] = ExternalEntry(metric, series_name, compiled)
        shapes = sum(len(s) for s in self._shapes.values())
        return Registry(self.rules, custom, external, self.series_seen, shapes)


def _is_namespaced(mapper: RestMapper, resource: GroupResource) -> bool:
    try:
        return mapper.resolve(resource).namespaced
    except UnknownResourceError:
        return True
