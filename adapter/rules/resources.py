"""Which series labels name which Kubernetes resources, in both directions.

Discovery asks "which resources does a series with these label names describe?"; a query
asks "which label holds the names of this resource?". A rule answers both with
`resources.overrides` (label -> resource, and back) and `resources.template` (a Go
template over `.Group` and `.Resource`, run forwards to make a label and turned into an
anchored regex to read one), exactly as prometheus-adapter's resource converter does.
Resource names are normalised through a `RestMapper`, so `pod`, `Pod` and `pods` agree.
"""

from __future__ import annotations

from collections.abc import Iterable

import re2

from adapter.k8s.resources import GroupResource, RestMapper, UnknownResourceError
from adapter.rules.config import (
    LABEL_PATTERN_FIELDS,
    ConfigProblem,
    MetricsDiscoveryConfig,
    ResourceMapping,
)
from adapter.rules.gotemplate import GoStruct, TemplateError

NAMESPACES = GroupResource("", "namespaces")
NODES = GroupResource("", "nodes")
PODS = GroupResource("", "pods")


class ResourceLabelError(LookupError):
    """A resource the rule has no label for; queries for it cannot be written."""


def _sanitize_group(group: str) -> str:
    return group.replace(".", "_").replace("-", "_")


class ResourceConverter:
    """One rule's label <-> resource mapping, against one cluster's REST mapping.

    Built once per (rule, mapper); caches label decisions, which depend on nothing else.
    """

    def __init__(self, mapping: ResourceMapping, mapper: RestMapper) -> None:
        self._mapping = mapping
        self._mapper = mapper
        self._label_to_resource: dict[str, GroupResource | None] = {}
        self._resource_to_label: dict[GroupResource, str] = {}
        for label, ref in mapping.overrides.items():
            try:
                info = mapper.resolve(GroupResource(ref.group, ref.resource))
            except UnknownResourceError:
                # Only offline tools get here (serving checks overrides first): a CRD the
                # built-in table cannot know serves nothing in this run.
                continue
            self._label_to_resource[label] = info.group_resource
            self._resource_to_label[info.group_resource] = label
        self._extractor = None
        if mapping.template is not None:
            pattern = mapping.template.execute(
                GoStruct("schema.GroupResource", LABEL_PATTERN_FIELDS)
            )
            self._extractor = re2.compile(f"^{pattern}$")
        self._shapes: dict[frozenset[str], tuple[GroupResource, ...]] = {}

    @property
    def mapper(self) -> RestMapper:
        return self._mapper

    def resource_for_label(self, label: str) -> GroupResource | None:
        if label in self._label_to_resource:
            return self._label_to_resource[label]
        found: GroupResource | None = None
        if self._extractor is not None:
            match = self._extractor.search(label)
            if match is not None:
                groups = match.groupdict()
                candidate = GroupResource(groups.get("group") or "", groups["resource"])
                try:
                    found = self._mapper.resolve(candidate).group_resource
                except UnknownResourceError:
                    found = None
        self._label_to_resource[label] = found
        return found

    def resources_for_series(self, label_names: Iterable[str]) -> tuple[GroupResource, ...]:
        """The resources a series shape describes, one per label naming one; cached."""
        key = label_names if isinstance(label_names, frozenset) else frozenset(label_names)
        cached = self._shapes.get(key)
        if cached is not None:
            return cached
        resources = tuple(
            resource
            for label in sorted(key)
            if label != "__name__" and (resource := self.resource_for_label(label)) is not None
        )
        self._shapes[key] = resources
        return resources

    def label_for_resource(self, resource: GroupResource) -> str:
        label = self._resource_to_label.get(resource)
        if label is not None:
            return label
        # Messages as upstream's LabelForResource words them: users search for them.
        prefix = f"unable to convert resource {resource} into label"
        if self._mapping.template is None:
            raise ResourceLabelError(
                f"{prefix}: no generic resource label form specified for this metric"
            )
        try:
            singular = self._mapper.resolve(resource).singular
        except UnknownResourceError as err:
            raise ResourceLabelError(
                f"{prefix}: unable to singularize resource {resource}: {err}"
            ) from err
        fields = {"Group": _sanitize_group(resource.group), "Resource": singular}
        try:
            label = self._mapping.template.execute(GoStruct("schema.GroupResource", fields))
        except TemplateError as err:
            raise ResourceLabelError(f"{prefix}: {err}") from err
        if not label:
            raise ResourceLabelError(f"{prefix}: empty label produced by label template")
        self._resource_to_label[resource] = label
        return label


def check_against_mapper(
    config: MetricsDiscoveryConfig, mapper: RestMapper, *, known_groups_only: bool = False
) -> list[ConfigProblem]:
    """The checks that need a REST mapping: overrides must name resources the cluster knows.

    With `known_groups_only` (checking offline against the built-in table), an override in
    an API group the table does not have is passed over: it may be a CRD, which only the
    cluster can resolve, and the adapter resolves it at start-up.
    """
    problems: list[ConfigProblem] = []
    groups = {info.group for info in mapper}

    def check(mapping: ResourceMapping, path: str) -> None:
        for label, ref in mapping.overrides.items():
            if known_groups_only and ref.group not in groups:
                continue
            try:
                mapper.resolve(GroupResource(ref.group, ref.resource))
            except UnknownResourceError as err:
                problems.append(
                    ConfigProblem(
                        config.source,
                        f"{path}.overrides.{label}.resource",
                        f"unknown resource: {err}",
                    )
                )

    for rule in config.all_rules():
        check(rule.resources, f"{rule.location}.resources")
    if config.resource_rules is not None:
        for name in ("cpu", "memory"):
            rule = getattr(config.resource_rules, name)
            path = f"resourceRules.{name}.resources"
            check(rule.resources, path)
            if rule.resources.template is None:
                mapped = set()
                for ref in rule.resources.overrides.values():
                    try:
                        mapped.add(
                            mapper.resolve(GroupResource(ref.group, ref.resource)).group_resource
                        )
                    except UnknownResourceError:
                        continue
                for needed in (NAMESPACES, PODS, NODES):
                    if needed not in mapped:
                        problems.append(
                            ConfigProblem(
                                config.source,
                                path,
                                f"must map a label to {needed.resource} "
                                "(an override or a template)",
                            )
                        )
    return problems
