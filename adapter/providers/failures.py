"""How a provider's failures read as Kubernetes Status errors, the same in every API.

Owns the mapping the three metrics APIs share: a metric the registry does not know or a
query that answered nothing is custom-metrics-apiserver's 404 ("the server could not
find the metric M for R"), Prometheus down or slow is a 503, anything else Prometheus
said is a 500 — never a zero. A sample with no value (NaN, ±Inf) reads like no sample:
404 with the reason; a value no quantity holds is a 500. custom, external and resource
providers raise these; writing them as a response is the server's job.
"""

from __future__ import annotations

from adapter.k8s import status
from adapter.k8s.resources import GroupResource
from adapter.k8s.selectors import LabelSelector
from adapter.prometheus import errors as prom_errors
from adapter.providers.values import NoValueError, UnrepresentableValueError
from adapter.rules import matchers

__all__ = [
    "inexpressible_selector",
    "metric_not_found",
    "no_samples",
    "prometheus_failure",
    "unreadable_value",
]


def metric_not_found(
    resource: GroupResource, metric: str, name: str | None = None
) -> status.StatusError:
    """custom-metrics-apiserver's NewMetricNotFoundError / NewMetricNotFoundForError."""
    target = f"{resource} {name}" if name is not None else str(resource)
    return status.StatusError(
        404, "NotFound", f"the server could not find the metric {metric} for {target}"
    )


def no_samples(error: status.StatusError) -> status.StatusError:
    """A not-found that says why: the query ran and answered nothing usable."""
    return status.StatusError(
        error.code, error.reason, f"{error.message}: the query returned no samples", error.details
    )


def prometheus_failure(err: prom_errors.PrometheusError) -> status.StatusError:
    """Prometheus down or slow: 503; anything else Prometheus said: 500 (never a zero)."""
    if isinstance(err, prom_errors.PrometheusUnreachable):
        return status.service_unavailable("unable to fetch metrics: prometheus is unreachable")
    if isinstance(err, prom_errors.PrometheusTimeout):
        return status.service_unavailable(
            "unable to fetch metrics: prometheus did not answer in time"
        )
    if isinstance(err, prom_errors.PrometheusQueryError):
        return status.internal_error(
            f"unable to fetch metrics: prometheus rejected the query: {err}"
        )
    return status.internal_error(f"unable to fetch metrics: {err}")


def unreadable_value(
    err: UnrepresentableValueError, metric: str, target: str
) -> status.StatusError:
    """A named object's (or an external metric's) sample that cannot be shown.

    `target` is what the value is of: `pods web-1`, `namespaces` (external). NaN and
    ±Inf are "no value", the same 404 as no sample at all, so clients and the HPA treat
    both alike; a value beyond a quantity is the server's 500, since a value exists.
    """
    if isinstance(err, NoValueError):
        return status.StatusError(
            404, "NotFound", f"the server could not find the metric {metric} for {target}: {err}"
        )
    return status.internal_error(f"unable to fetch metrics: {metric} for {target}: {err}")


def check_metric_selector(selector: LabelSelector, parameter: str) -> None:
    """The 400 for a metric selector PromQL cannot express, before any query is sent;
    `parameter` is the query parameter the client wrote it in."""
    try:
        matchers.check_expressible(selector)
    except matchers.InexpressibleSelectorError as err:
        raise inexpressible_selector(err, parameter, selector) from err


def inexpressible_selector(
    err: matchers.InexpressibleSelectorError, parameter: str, selector: LabelSelector
) -> status.StatusError:
    """400 BadRequest, the same words in custom and external metrics."""
    return status.bad_request(f"invalid {parameter} {str(selector)!r}: {err}")
