"""What an instant query answers, as values: `Sample` and `QueryResult`, and the decoding
of the `/api/v1/query` envelope into them.

Owns the wire shapes (TypedDicts) and their validation. The HTTP exchange and the mapping
of HTTP status codes to errors live in `client`; the streamed `/api/v1/series` body is
decoded by `series`. Values are floats parsed from Prometheus' string form, so `NaN`,
`+Inf` and `-Inf` survive; deciding what a NaN means for a metric is the provider's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypedDict, cast

from adapter.prometheus.errors import PrometheusResponseError, json_text

__all__ = ["QueryResult", "ResultType", "Sample", "decode_query_data"]

ResultType = Literal["vector", "scalar", "matrix", "string"]


class WireSeriesPoint(TypedDict):
    """One element of a `vector` result."""

    metric: dict[str, str]
    value: list[Any]  # [unix seconds as number, value as string]


class WireSeriesRange(TypedDict):
    """One element of a `matrix` result."""

    metric: dict[str, str]
    values: list[list[Any]]


class WireQueryData(TypedDict):
    """The `data` member of a successful `/api/v1/query` answer."""

    resultType: str
    result: Any  # list of points/ranges, or one [time, "value"] pair


@dataclass(frozen=True, slots=True)
class Sample:
    """One value at one time for one label set."""

    labels: Mapping[str, str]
    timestamp: float
    """Unix seconds (Prometheus gives milliseconds precision)."""
    value: float
    """Parsed from the string form; may be NaN or +-Inf."""


@dataclass(frozen=True, slots=True)
class QueryResult:
    """A decoded instant-query answer."""

    result_type: ResultType
    samples: tuple[Sample, ...]
    """Vector: one per series. Matrix (range selectors like `x[5m]`): one per point, in
    series order then time order. Empty for scalar and string results."""
    scalar: Sample | None
    """The value of a scalar result (empty labels); None otherwise."""
    warnings: tuple[str, ...]
    """Prometheus' `warnings`, e.g. partial answers from Thanos stores."""
    elapsed: float
    """Seconds from sending the request to having decoded the answer (client side)."""
    string: str | None = None
    """The value of a string result (PromQL string literal); None otherwise."""


def _value(pair: Any, path: str, status: int | None) -> tuple[float, str]:
    if not (isinstance(pair, list) and len(pair) == 2):
        raise PrometheusResponseError(
            f"{path}: malformed sample {json_text(pair)}: want [time, value]",
            path=path,
            status=status,
        )
    ts, raw = pair
    if not isinstance(ts, int | float) or isinstance(ts, bool) or not isinstance(raw, str):
        raise PrometheusResponseError(
            f"{path}: malformed sample {json_text(pair)}: want [number, string]",
            path=path,
            status=status,
        )
    return float(ts), raw


def _float(raw: str, path: str, status: int | None) -> float:
    try:
        return float(raw)
    except ValueError:
        raise PrometheusResponseError(
            f"{path}: sample value {json_text(raw)} is not a number", path=path, status=status
        ) from None


def _labels(metric: Any, path: str, status: int | None) -> dict[str, str]:
    if not isinstance(metric, dict) or not all(
        isinstance(v, str) for v in cast(dict[str, Any], metric).values()
    ):
        raise PrometheusResponseError(
            f"{path}: malformed label set {json_text(metric)}: want an object of strings",
            path=path,
            status=status,
        )
    return cast(dict[str, str], metric)


_NO_LABELS: dict[str, str] = {}


def _well_formed_point(item: Any) -> Sample | None:
    """A vector element of the usual shape as a Sample, checked with exact type tests
    (what orjson produces); None for anything else, which `_checked_point` then judges
    and names. A `*` request decodes one element per object: this is its hot loop."""
    if type(item) is not dict:
        return None
    pair = item.get("value")
    metric = item.get("metric", _NO_LABELS)
    if type(pair) is not list or len(pair) != 2 or type(metric) is not dict:
        return None
    ts, raw = pair
    if type(raw) is not str or (type(ts) is not float and type(ts) is not int):
        return None
    for label_value in metric.values():
        if type(label_value) is not str:
            return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return Sample(metric if metric else {}, float(ts), value)


def _checked_point(item: Any, path: str, status: int | None) -> Sample:
    if not isinstance(item, dict) or "value" not in item:
        raise PrometheusResponseError(
            f"{path}: malformed vector element {item!r:.200}", path=path, status=status
        )
    point = cast(WireSeriesPoint, item)
    ts, raw = _value(point["value"], path, status)
    return Sample(_labels(point.get("metric", {}), path, status), ts, _float(raw, path, status))


def decode_query_data(
    data: Any,
    warnings: tuple[str, ...],
    elapsed: float,
    path: str,
    status: int | None = None,
) -> QueryResult:
    """The `data` of a successful instant query as a `QueryResult`.

    Raises `PrometheusResponseError` for `data: null` or any shape Prometheus' API
    documentation does not describe, naming what was wrong: a half-understood answer
    must not become a metric value."""
    if data is None:
        raise PrometheusResponseError(f"{path}: response has data: null", path=path, status=status)
    if not isinstance(data, dict):
        raise PrometheusResponseError(
            f"{path}: data is not an object: {data!r:.200}", path=path, status=status
        )
    wire = cast(WireQueryData, data)
    result_type = wire.get("resultType")
    result = wire.get("result")
    samples: list[Sample] = []
    if result_type == "vector":
        if not isinstance(result, list):
            raise PrometheusResponseError(
                f"{path}: vector result is not a list", path=path, status=status
            )
        for item in result:
            sample = _well_formed_point(item)
            if sample is None:
                sample = _checked_point(item, path, status)
            samples.append(sample)
        return QueryResult("vector", tuple(samples), None, warnings, elapsed)
    if result_type == "matrix":
        if not isinstance(result, list):
            raise PrometheusResponseError(
                f"{path}: matrix result is not a list", path=path, status=status
            )
        for item in result:
            if not isinstance(item, dict) or not isinstance(item.get("values"), list):
                raise PrometheusResponseError(
                    f"{path}: malformed matrix element {item!r:.200}", path=path, status=status
                )
            series = cast(WireSeriesRange, item)
            labels = _labels(series.get("metric", {}), path, status)
            for pair in series["values"]:
                ts, raw = _value(pair, path, status)
                samples.append(Sample(labels, ts, _float(raw, path, status)))
        return QueryResult("matrix", tuple(samples), None, warnings, elapsed)
    if result_type == "scalar":
        ts, raw = _value(result, path, status)
        return QueryResult(
            "scalar", (), Sample({}, ts, _float(raw, path, status)), warnings, elapsed
        )
    if result_type == "string":
        ts, raw = _value(result, path, status)
        del ts
        return QueryResult("string", (), None, warnings, elapsed, string=raw)
    raise PrometheusResponseError(
        f"{path}: unknown resultType {json_text(result_type)}", path=path, status=status
    )
