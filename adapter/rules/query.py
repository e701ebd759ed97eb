"""The PromQL a rule sends for one API request.

The template data (`.Series`, `.LabelMatchers`, `.LabelValuesByName`, `.GroupBy`,
`.GroupBySlice`) is assembled as prometheus-adapter assembles it: metric-selector
matchers in the selector's sorted order, then the namespace matcher, then the resource
matcher (`pod="a"` for one object, `pod=~"a|b"` for several); so the same rule and
request give the same query string, byte for byte.
"""

from __future__ import annotations

from collections.abc import Sequence

from adapter.k8s.resources import GroupResource
from adapter.k8s.selectors import LabelSelector
from adapter.rules import matchers
from adapter.rules.gotemplate import GoStruct, Template, TemplateError
from adapter.rules.resources import NAMESPACES, ResourceConverter, ResourceLabelError


class QueryBuildError(ValueError):
    """No query can be written for this request; the message says why."""


def _render(
    template: Template | None,
    series: str,
    expressions: list[str],
    values_by_name: dict[str, str],
    group_by: list[str],
    group_by_text: str,
) -> str:
    data = GoStruct(
        "naming.queryTemplateArgs",
        {
            "Series": series,
            "LabelMatchers": ",".join(expressions),
            "LabelValuesByName": values_by_name,
            "GroupBy": group_by_text,
            "GroupBySlice": group_by,
        },
    )
    try:
        query = template.execute(data) if template is not None else ""
    except TemplateError as err:
        raise QueryBuildError(str(err)) from err
    if not query:
        raise QueryBuildError("empty query produced by metrics query template")
    return query


def _namespace_parts(
    converter: ResourceConverter, namespace: str | None
) -> list[matchers.QueryPart]:
    if not namespace:
        return []
    try:
        label = converter.label_for_resource(NAMESPACES)
    except ResourceLabelError as err:
        raise QueryBuildError(str(err)) from err
    return [matchers.equals_part(label, namespace)]


def object_query(
    template: Template | None,
    converter: ResourceConverter,
    series: str,
    resource: GroupResource,
    namespace: str | None,
    names: Sequence[str],
    metric_selector: LabelSelector,
    extra_group_by: Sequence[str] = (),
) -> str:
    """A custom-metrics (or resource-metrics) query over named objects of one resource."""
    if not names:
        raise QueryBuildError("no object names to query for")
    parts = matchers.parts_from_selector(metric_selector)
    parts += _namespace_parts(converter, namespace)
    try:
        expressions, values_by_name = matchers.render(parts)
        label = converter.label_for_resource(resource)
    except (matchers.MatcherError, ResourceLabelError) as err:
        raise QueryBuildError(str(err)) from err
    expressions.append(matchers.resource_matcher(label, names))
    values_by_name[label] = "|".join(names)
    group_by = [label, *extra_group_by]
    return _render(template, series, expressions, values_by_name, group_by, ",".join(group_by))


def external_query(
    template: Template | None,
    converter: ResourceConverter,
    series: str,
    namespace: str | None,
    metric_selector: LabelSelector,
) -> str:
    """An external-metrics query: selector matchers, then the namespace when the rule wants it."""
    parts = matchers.parts_from_selector(metric_selector)
    parts += _namespace_parts(converter, namespace)
    try:
        expressions, values_by_name = matchers.render(parts)
    except matchers.MatcherError as err:
        raise QueryBuildError(str(err)) from err
    return _render(template, series, expressions, values_by_name, [], "")
