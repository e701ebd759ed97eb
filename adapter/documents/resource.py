"""metrics.k8s.io v1beta1 bodies: PodMetrics, NodeMetrics, their lists and Table form.

Owns the documents metrics-server writes, in the field order of k8s.io/metrics
`pkg/apis/metrics/v1beta1/types.go` (metadata: name, namespace, creationTimestamp,
labels; then timestamp, window as a Go duration such as `5m0s`, containers or usage,
resource names sorted as Go writes a ResourceList map); list items carry no
kind/apiVersion. The Table is the one metrics-server's `table.go` builds: Name, one
column per resource (summed over containers), Window, and each row's object as
PartialObjectMetadata (or the whole object, or none).

Pure, below both the server (`adapter.server.resource_metrics`, which parses requests and
negotiates Table) and the HPA loop's in-process metrics (`adapter.hpa.fetching`), so both
see the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final, NotRequired, TypedDict

from adapter.documents import metrics as metric_documents
from adapter.k8s import timefmt
from adapter.k8s.quantity import Quantity
from adapter.providers.base import NodeMetricsValue, PodMetricsValue

API_VERSION: Final = f"{metric_documents.METRICS_GROUP}/v1beta1"


# --- wire types -------------------------------------------------------------------------


class ObjectMetaJSON(TypedDict):
    name: str
    namespace: NotRequired[str]
    creationTimestamp: str
    labels: NotRequired[dict[str, str]]


class ContainerMetricsJSON(TypedDict):
    name: str
    usage: dict[str, str]


class PodMetricsJSON(TypedDict):
    kind: NotRequired[str]
    apiVersion: NotRequired[str]
    metadata: ObjectMetaJSON
    timestamp: str
    window: str
    containers: list[ContainerMetricsJSON]


class NodeMetricsJSON(TypedDict):
    kind: NotRequired[str]
    apiVersion: NotRequired[str]
    metadata: ObjectMetaJSON
    timestamp: str
    window: str
    usage: dict[str, str]


class TableColumnDefinitionJSON(TypedDict):
    name: str
    type: str
    format: str
    description: str
    priority: int


class TableRowJSON(TypedDict):
    cells: list[str]
    object: dict[str, Any] | None


class TableJSON(TypedDict):
    kind: str
    apiVersion: str
    metadata: metric_documents.ListMetaJSON
    columnDefinitions: list[TableColumnDefinitionJSON] | None
    rows: list[TableRowJSON] | None


# --- documents --------------------------------------------------------------------------


def _metadata(
    name: str, namespace: str | None, created: str, labels: Mapping[str, str]
) -> ObjectMetaJSON:
    meta: ObjectMetaJSON = {"name": name, "creationTimestamp": created}
    if namespace:
        meta = {"name": name, "namespace": namespace, "creationTimestamp": created}
    if labels:
        meta["labels"] = dict(sorted(labels.items()))
    return meta


def _usage(usage: Mapping[str, Quantity]) -> dict[str, str]:
    return {name: str(quantity) for name, quantity in sorted(usage.items())}


class Texts:
    """Time and window texts, made once per distinct value: the items of one list share
    their creation time, their sample time and their window, and a 5,000-pod list
    would otherwise format the same three strings 15,000 times."""

    __slots__ = ("_times", "_windows")

    def __init__(self) -> None:
        self._times: dict[datetime, str] = {}
        self._windows: dict[float, str] = {}

    def time(self, moment: datetime) -> str:
        text = self._times.get(moment)
        if text is None:
            text = self._times[moment] = timefmt.format_time(moment)
        return text

    def window(self, seconds: float) -> str:
        text = self._windows.get(seconds)
        if text is None:
            text = self._windows[seconds] = timefmt.format_go_duration(seconds)
        return text


def pod_metrics(
    value: PodMetricsValue, *, typed: bool = False, texts: Texts | None = None
) -> PodMetricsJSON:
    """One PodMetrics; `typed` adds kind/apiVersion (a GET has them, list items do not).
    Pass one `texts` for all items of a list."""
    texts = texts or Texts()
    doc: dict[str, Any] = {"kind": "PodMetrics", "apiVersion": API_VERSION} if typed else {}
    doc["metadata"] = _metadata(
        value.name,
        value.namespace,
        texts.time(value.creation_timestamp),
        value.labels,
    )
    doc["timestamp"] = texts.time(value.timestamp)
    doc["window"] = texts.window(value.window_seconds)
    doc["containers"] = [
        {"name": container.name, "usage": _usage(container.usage)} for container in value.containers
    ]
    return doc  # type: ignore[return-value]


def node_metrics(
    value: NodeMetricsValue, *, typed: bool = False, texts: Texts | None = None
) -> NodeMetricsJSON:
    texts = texts or Texts()
    doc: dict[str, Any] = {"kind": "NodeMetrics", "apiVersion": API_VERSION} if typed else {}
    doc["metadata"] = _metadata(
        value.name, None, texts.time(value.creation_timestamp), value.labels
    )
    doc["timestamp"] = texts.time(value.timestamp)
    doc["window"] = texts.window(value.window_seconds)
    doc["usage"] = _usage(value.usage)
    return doc  # type: ignore[return-value]


def metrics_list(kind: str, items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"kind": kind, "apiVersion": API_VERSION, "metadata": {}, "items": list(items)}


def summed(usages: Sequence[Mapping[str, Quantity]]) -> dict[str, Quantity]:
    """Usage added up over containers; each sum keeps the format of its first term, as
    Quantity.Add does on a zero Quantity."""
    total: dict[str, Quantity] = {}
    for usage in usages:
        for name, quantity in usage.items():
            before = total.get(name)
            total[name] = (
                quantity
                if before is None
                else Quantity(before.value + quantity.value, before.format)
            )
    return total


def table(
    rows: Sequence[tuple[str, Mapping[str, Quantity], float, dict[str, Any]]],
    *,
    version: str,
    include_object: str,
) -> TableJSON:
    """metav1.Table of metrics: (name, usage, window seconds, object) per row.

    The resource columns come from the first row's usage, as metrics-server's
    `addPodMetricsToTable` takes them; an empty list has no columns and no rows (null).
    """
    columns: list[TableColumnDefinitionJSON] | None = None
    table_rows: list[TableRowJSON] | None = None
    names: list[str] = []
    for name, usage, window, obj in rows:
        if columns is None:
            names = sorted(usage)
            columns = [_column("Name", "name", "Name of the resource")]
            columns += [_column(resource, "quantity") for resource in names]
            columns.append(_column("Window", "duration"))
            table_rows = []
        assert table_rows is not None
        cells = [name]
        cells += [str(usage[r]) if r in usage else "0" for r in names]
        cells.append(timefmt.format_go_duration(window))
        table_rows.append({"cells": cells, "object": _row_object(obj, version, include_object)})
    return {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": {},
        "columnDefinitions": columns,
        "rows": table_rows,
    }


def _column(name: str, fmt: str, description: str = "") -> TableColumnDefinitionJSON:
    return {
        "name": name,
        "type": "string",
        "format": fmt,
        "description": description,
        "priority": 0,
    }


def _row_object(obj: dict[str, Any], version: str, include_object: str) -> dict[str, Any] | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": obj["metadata"],
    }
