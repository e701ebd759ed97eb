"""Async client for any Prometheus-compatible HTTP API (aiohttp): instant queries and
streamed series listings, with typed errors for each way a call can fail.
"""

from adapter.prometheus.client import PrometheusClient
from adapter.prometheus.errors import (
    PrometheusConfigError,
    PrometheusError,
    PrometheusQueryError,
    PrometheusResponseError,
    PrometheusServerError,
    PrometheusTimeout,
    PrometheusUnreachable,
)
from adapter.prometheus.results import QueryResult, ResultType, Sample
from adapter.prometheus.settings import (
    PrometheusSettings,
    canonical_header_key,
    parse_header_flags,
)

__all__ = [
    "PrometheusClient",
    "PrometheusConfigError",
    "PrometheusError",
    "PrometheusQueryError",
    "PrometheusResponseError",
    "PrometheusServerError",
    "PrometheusSettings",
    "PrometheusTimeout",
    "PrometheusUnreachable",
    "QueryResult",
    "ResultType",
    "Sample",
    "canonical_header_key",
    "parse_header_flags",
]
