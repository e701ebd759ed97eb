"""One sync of one HPA: kube-controller-manager's reconcileAutoscaler, as a pure function.

Owns the decision flow of upstream's `horizontal.go` (v1.36): read the scale (or report
FailedGetScale), seed the recommendation history on first sight, handle a target at
zero (scaling disabled, unless the HPA itself scaled it there and `HPAScaleToZero` lets
it come back), fix a count outside [minReplicas, maxReplicas] at once, otherwise
compute one proposal per metric and take the largest — refusing to scale down while
any metric is invalid — normalize it (stabilization, policies, limits), and rescale,
with the conditions, events, `status.currentMetrics` and `lastScaleTime` upstream
writes, and the ScaledToZero condition kept current on every rescale.

Inputs are values (HPA after defaulting, scale or its read error, pods, a
`MetricsSource`, the controller's memory, `now`, settings); the result is the decision,
the new status, the updated memory, the events to emit and an explanation. Nothing here
does I/O: the controller loop fetches, calls `sync`, then writes what it returns;
`hpa evaluate` does the same from a snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from adapter.hpa import behavior as behavior_rules
from adapter.hpa.behavior import Normalization, ScaleEvent, TimestampedRecommendation
from adapter.hpa.calculation import (
    CalculationDetail,
    CalculationError,
    MetricsSource,
    ReplicaCalculator,
    Tolerances,
)
from adapter.hpa.conditions import (
    CONDITION_FALSE,
    CONDITION_TRUE,
    MSG_FAILED_GET_SCALE,
    MSG_FAILED_UPDATE_SCALE,
    MSG_INVALID_SELECTOR_MISSING,
    MSG_NOT_SCALED_TO_ZERO,
    MSG_SCALED_TO_ZERO,
    MSG_SCALING_DISABLED,
    MSG_SUCCEEDED_GET_SCALE,
    MSG_SUCCEEDED_RESCALE,
    MSG_UNABLE_TO_COMPUTE,
    MSG_VALID_METRIC_FOUND,
    remove_condition,
    set_condition,
)
from adapter.hpa.model import (
    ABLE_TO_SCALE,
    AVERAGE_VALUE,
    CONTAINER_RESOURCE,
    EXTERNAL,
    OBJECT,
    PODS,
    RESOURCE,
    SCALED_TO_ZERO,
    SCALING_ACTIVE,
    SCALING_LIMITED,
    VALUE,
    HorizontalPodAutoscaler,
    HPACondition,
    HPAStatus,
    LabelSelectorSpec,
    MetricIdentifier,
    MetricSpec,
    MetricStatus,
    MetricTarget,
    MetricValueStatus,
    Pod,
    Scale,
    go_selector_string,
)
from adapter.hpa.sources import selector_from_spec
from adapter.k8s import gostrings
from adapter.k8s.quantity import Quantity, QuantityFormat
from adapter.k8s.selectors import LabelSelector, SelectorError
from adapter.settings.hpa import ControllerConfig

__all__ = [
    "ControllerMemory",
    "Decision",
    "Event",
    "Explanation",
    "MetricExplanation",
    "ScaleReadError",
    "SyncResult",
    "decide",
    "finish",
    "scale_from_api",
    "sync",
]


@dataclass(frozen=True, slots=True)
class ControllerMemory:
    """What the controller remembers of an HPA between syncs (lost on restart upstream).

    `recommendations` is None for an HPA the controller has not seen yet.
    """

    recommendations: tuple[TimestampedRecommendation, ...] | None = None
    scale_up_events: tuple[ScaleEvent, ...] = ()
    scale_down_events: tuple[ScaleEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class ScaleReadError:
    """The `/scale` read failed; `message` is the error as the scale client reports it."""

    message: str


@dataclass(frozen=True, slots=True)
class Event:
    """A Kubernetes Event the controller records on the HPA."""

    type: str
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class MetricExplanation:
    """How one metric spec contributed to the decision."""

    index: int
    type: str
    name: str
    proposal: int | None
    tolerances: Tolerances
    detail: CalculationDetail | None = None
    error: str | None = None
    timestamp: datetime | None = None
    """When the metrics API sampled the value (upstream reports the zero time for
    Object and External Value targets, and so does this)."""


@dataclass(frozen=True, slots=True)
class Explanation:
    """The why of a sync: the path taken, every metric's proposal, what limited it."""

    path: str
    current_replicas: int | None
    min_replicas: int
    max_replicas: int
    metrics: tuple[MetricExplanation, ...] = ()
    proposal: int | None = None
    proposal_metric: str = ""
    invalid_metrics: int = 0
    scale_down_blocked_by_invalid_metrics: bool = False
    normalization: Normalization | None = None
    rescale_reason: str = ""


@dataclass(frozen=True, slots=True)
class SyncResult:
    desired_replicas: int
    """The replica count this sync sets on the target (the current count if unchanged)."""
    rescale: bool
    status: HPAStatus
    memory: ControllerMemory
    events: tuple[Event, ...]
    explanation: Explanation


@dataclass(frozen=True, slots=True)
class Decision:
    """What one sync decided before the scale write, to be completed by `finish`."""

    desired_replicas: int
    rescale: bool
    """Whether to write `desired_replicas` to the target's /scale."""
    rescale_reason: str
    current_replicas: int
    hpa: HorizontalPodAutoscaler
    now: datetime
    config: ControllerConfig
    conditions: tuple[HPACondition, ...]
    events: tuple[Event, ...]
    memory: ControllerMemory
    metric_statuses: tuple[MetricStatus, ...] | None
    explanation: Explanation
    result: SyncResult | None = None
    """Set when the sync ended before deciding on a count (nothing to write)."""


def scale_from_api(
    spec_replicas: int, status_replicas: int, selector: str
) -> Scale | ScaleReadError:
    """The scale as client-go's scale client returns it, or its read error.

    The client converts `status.selector` through a metav1.LabelSelector, so a selector
    that does not parse, or uses `!=`, `gt` or `lt`, fails the read; one that converts
    comes back in its canonical text form.
    """
    if not selector:
        return Scale(spec_replicas, status_replicas, "")
    try:
        api = LabelSelector.parse(selector).to_api()
    except SelectorError as err:
        return ScaleReadError(str(err))
    return Scale(spec_replicas, status_replicas, str(LabelSelector.from_api(api)))


def _tolerances_for(hpa: HorizontalPodAutoscaler, config: ControllerConfig) -> Tolerances:
    """tolerancesForHpa: the flag, overridden per direction by behavior.*.tolerance."""
    scale_down = scale_up = config.tolerance
    spec_behavior = hpa.spec.behavior
    if spec_behavior is None or not config.feature_gates.hpa_configurable_tolerance:
        return Tolerances(scale_down, scale_up)
    if spec_behavior.scale_down.tolerance is not None:
        scale_down = spec_behavior.scale_down.tolerance.as_float()
    if spec_behavior.scale_up.tolerance is not None:
        scale_up = spec_behavior.scale_up.tolerance.as_float()
    return Tolerances(scale_down, scale_up)


def _build_quantity(resource: str, raw: int) -> Quantity:
    """buildQuantity: memory averages print in binary units, like metrics-server."""
    fmt = QuantityFormat.BINARY_SI if resource == "memory" else QuantityFormat.DECIMAL_SI
    return Quantity.from_milli(raw, fmt)


def _spec_label(spec: MetricSpec) -> str:
    """A name for a metric that produced no proposal (upstream names only successes)."""
    if spec.resource is not None:
        return f"{spec.resource.name} resource"
    if spec.container_resource is not None:
        container = spec.container_resource
        return f"{container.name} resource of container {container.container}"
    for source in (spec.pods, spec.object, spec.external):
        if source is not None:
            return f"{spec.type.lower()} metric {source.metric.name}"
    return spec.type


@dataclass(slots=True)
class _MetricOutcome:
    proposal: int = 0
    name: str = ""
    status: MetricStatus | None = None
    condition: tuple[str, str] | None = None
    """(reason, message) of the ScalingActive=False condition a failure proposes."""
    error: str | None = None
    detail: CalculationDetail | None = None
    timestamp: datetime | None = None


class _Sync:
    def __init__(
        self,
        hpa: HorizontalPodAutoscaler,
        scale: Scale | ScaleReadError,
        pods: Sequence[Pod],
        metrics: MetricsSource,
        memory: ControllerMemory,
        now: datetime,
        config: ControllerConfig,
        ambiguous: str | None = None,
    ) -> None:
        self.hpa = hpa
        self.scale = scale
        self.ambiguous = ambiguous
        """Set when another HPA's selector overlaps this one's: the AmbiguousSelector
        message (only the running loop knows the other HPAs)."""
        self.pods = pods
        self.metrics = metrics
        self.memory = memory
        self.now = now
        self.config = config
        self.conditions: tuple[HPACondition, ...] = hpa.status.conditions
        self.events: list[Event] = []
        self.tolerances = _tolerances_for(hpa, config)

    # -- helpers ----------------------------------------------------------------------

    def set_condition(self, kind: str, status: str, reason: str, message: str) -> None:
        self.conditions = set_condition(self.conditions, kind, status, reason, message, self.now)

    def event(self, kind: str, reason: str, message: str) -> None:
        self.events.append(Event(kind, reason, message))

    def unable(self, reason: str, err: str) -> tuple[str, str]:
        """getUnableComputeReplicaCountCondition: a warning event and a proposed condition."""
        self.event("Warning", reason, err)
        return reason, MSG_UNABLE_TO_COMPUTE.format(err)

    def status(
        self,
        current_replicas: int,
        desired_replicas: int,
        metrics: tuple[MetricStatus, ...] | None,
        rescaled: bool,
    ) -> HPAStatus:
        """setStatus: the status is rebuilt from these fields and the conditions."""
        return HPAStatus(
            current_replicas=current_replicas,
            desired_replicas=desired_replicas,
            last_scale_time=self.now if rescaled else self.hpa.status.last_scale_time,
            current_metrics=metrics,
            conditions=self.conditions,
        )

    def ended(
        self,
        *,
        desired_replicas: int,
        status: HPAStatus,
        memory: ControllerMemory,
        events: tuple[Event, ...],
        explanation: Explanation,
    ) -> Decision:
        """A decision that ends the sync early: there is nothing to write but the status."""
        result = SyncResult(desired_replicas, False, status, memory, events, explanation)
        return Decision(
            desired_replicas=desired_replicas,
            rescale=False,
            rescale_reason="",
            current_replicas=desired_replicas,
            hpa=self.hpa,
            now=self.now,
            config=self.config,
            conditions=status.conditions,
            events=events,
            memory=memory,
            metric_statuses=status.current_metrics,
            explanation=explanation,
            result=result,
        )

    # -- the flow ---------------------------------------------------------------------

    def run(self) -> Decision:
        spec = self.hpa.spec
        if isinstance(self.scale, ScaleReadError):
            self.event("Warning", "FailedGetScale", self.scale.message)
            self.set_condition(
                ABLE_TO_SCALE,
                CONDITION_FALSE,
                "FailedGetScale",
                MSG_FAILED_GET_SCALE.format(self.scale.message),
            )
            status = HPAStatus(
                current_replicas=self.hpa.status.current_replicas,
                desired_replicas=self.hpa.status.desired_replicas,
                last_scale_time=self.hpa.status.last_scale_time,
                current_metrics=self.hpa.status.current_metrics,
                conditions=self.conditions,
            )
            return self.ended(
                desired_replicas=self.hpa.status.current_replicas,
                status=status,
                memory=self.memory,
                events=tuple(self.events),
                explanation=Explanation(
                    "scale-read-failed", None, spec.min_replicas, spec.max_replicas
                ),
            )

        scale = self.scale
        self.set_condition(
            ABLE_TO_SCALE, CONDITION_TRUE, "SucceededGetScale", MSG_SUCCEEDED_GET_SCALE
        )
        current = scale.spec_replicas
        memory = self.memory
        if memory.recommendations is None:
            memory = ControllerMemory(
                (TimestampedRecommendation(current, self.now),),
                memory.scale_up_events,
                memory.scale_down_events,
            )
        min_replicas = spec.min_replicas
        gates = self.config.feature_gates
        scale_to_zero = gates.hpa_scale_to_zero
        has_object_or_external = any(m.type in (OBJECT, EXTERNAL) for m in spec.metrics)
        scaled_to_zero_condition = scale_to_zero and self._scaled_to_zero()
        can_scale_from_zero = scaled_to_zero_condition and has_object_or_external

        desired = 0
        rescale = True
        rescale_reason = ""
        needs_metrics = True
        path = "metrics"
        statuses: tuple[MetricStatus, ...] | None = None
        explanation_metrics: tuple[MetricExplanation, ...] = ()
        proposal: int | None = None
        proposal_metric = ""
        invalid_count = 0
        blocked = False
        normalization: Normalization | None = None

        if current == 0:
            if not ((min_replicas != 0 and scaled_to_zero_condition) or can_scale_from_zero):
                needs_metrics = False
                rescale = False
                path = "scaling-disabled-at-zero"
                self.set_condition(
                    SCALING_ACTIVE, CONDITION_FALSE, "ScalingDisabled", MSG_SCALING_DISABLED
                )
                if not scale_to_zero:
                    self.conditions = remove_condition(self.conditions, SCALED_TO_ZERO)
            else:
                path = "scale-from-zero"
        elif current > spec.max_replicas:
            rescale_reason = "Current number of replicas above Spec.MaxReplicas"
            desired = spec.max_replicas
            needs_metrics = False
            path = "above-max-replicas"
        elif current < min_replicas:
            rescale_reason = "Current number of replicas below Spec.MinReplicas"
            desired = min_replicas
            needs_metrics = False
            path = "below-min-replicas"

        if needs_metrics:
            (
                metric_desired,
                metric_name,
                statuses,
                error,
                explanation_metrics,
                invalid_count,
                blocked,
            ) = self.compute_replicas_for_metrics(scale)
            if error is not None and metric_desired == -1:
                self.event("Warning", "FailedComputeMetricsReplicas", error)
                status = self.status(current, self.hpa.status.desired_replicas, statuses, False)
                return self.ended(
                    desired_replicas=current,
                    status=status,
                    memory=memory,
                    events=tuple(self.events),
                    explanation=Explanation(
                        "metrics-failed",
                        current,
                        min_replicas,
                        spec.max_replicas,
                        explanation_metrics,
                        None,
                        "",
                        invalid_count,
                        blocked,
                    ),
                )
            proposal = metric_desired
            proposal_metric = metric_name
            rescale_metric = ""
            if metric_desired > desired:
                desired = metric_desired
                rescale_metric = metric_name
            if desired > current:
                rescale_reason = f"{rescale_metric} above target"
            if desired < current:
                rescale_reason = "All metrics below target"
            if spec.behavior is None:
                normalization = behavior_rules.normalize_desired_replicas(
                    memory.recommendations or (),
                    current,
                    desired,
                    min_replicas,
                    spec.max_replicas,
                    self.config.downscale_stabilization_window.total_seconds(),
                    self.now,
                )
            else:
                normalization = behavior_rules.normalize_desired_replicas_with_behaviors(
                    spec.behavior,
                    memory.recommendations or (),
                    memory.scale_up_events,
                    memory.scale_down_events,
                    current,
                    desired,
                    min_replicas,
                    spec.max_replicas,
                    self.config.downscale_stabilization_window.total_seconds(),
                    self.now,
                )
            self.set_condition(ABLE_TO_SCALE, CONDITION_TRUE, *normalization.able_to_scale)
            self.set_condition(
                SCALING_LIMITED,
                CONDITION_TRUE if normalization.limited else CONDITION_FALSE,
                *normalization.scaling_limited,
            )
            memory = ControllerMemory(
                normalization.recommendations, memory.scale_up_events, memory.scale_down_events
            )
            desired = normalization.desired_replicas
            if (
                current == 0
                and min_replicas != 0
                and scaled_to_zero_condition
                and desired < min_replicas
            ):
                desired = min_replicas
                if not rescale_reason:
                    rescale_reason = "Current number of replicas below Spec.MinReplicas"
            rescale = desired != current

        if not rescale:
            desired = current
        return Decision(
            desired_replicas=desired,
            rescale=rescale,
            rescale_reason=rescale_reason if rescale else "",
            current_replicas=current,
            hpa=self.hpa,
            now=self.now,
            config=self.config,
            conditions=self.conditions,
            events=tuple(self.events),
            memory=memory,
            metric_statuses=statuses,
            explanation=Explanation(
                path,
                current,
                min_replicas,
                spec.max_replicas,
                explanation_metrics,
                proposal,
                proposal_metric,
                invalid_count,
                blocked,
                normalization,
                rescale_reason if rescale else "",
            ),
        )

    def _scaled_to_zero(self) -> bool:
        for condition in self.hpa.status.conditions:
            if condition.type == SCALED_TO_ZERO:
                return condition.status == CONDITION_TRUE
        return False

    # -- metrics ----------------------------------------------------------------------

    def compute_replicas_for_metrics(
        self, scale: Scale
    ) -> tuple[
        int,
        str,
        tuple[MetricStatus, ...] | None,
        str | None,
        tuple[MetricExplanation, ...],
        int,
        bool,
    ]:
        """computeReplicasForMetrics: (replicas or -1, metric, statuses, error, ...)."""
        if not scale.selector:
            message = "selector is required"
            self.event("Warning", "SelectorRequired", message)
            self.set_condition(
                SCALING_ACTIVE, CONDITION_FALSE, "InvalidSelector", MSG_INVALID_SELECTOR_MISSING
            )
            return -1, "", None, message, (), 0, False
        try:
            selector = LabelSelector.parse(scale.selector)
        except SelectorError as err:
            message = (
                f"couldn't convert selector into a corresponding internal selector object: {err}"
            )
            self.event("Warning", "InvalidSelector", message)
            self.set_condition(SCALING_ACTIVE, CONDITION_FALSE, "InvalidSelector", message)
            return -1, "", None, message, (), 0, False
        if self.ambiguous is not None:
            # validateAndParseSelector: after the selector parsed, before any metric.
            self.event("Warning", "AmbiguousSelector", self.ambiguous)
            self.set_condition(SCALING_ACTIVE, CONDITION_FALSE, "AmbiguousSelector", self.ambiguous)
            return -1, "", None, self.ambiguous, (), 0, False

        calculator = ReplicaCalculator(
            self.metrics,
            self.pods,
            cpu_initialization_period=self.config.cpu_initialization_period,
            delay_of_initial_readiness_status=self.config.initial_readiness_delay,
            now=self.now,
            pod_level_resources=self.config.feature_gates.pod_level_resources,
        )
        specs = self.hpa.spec.metrics
        statuses: list[MetricStatus] = []
        explained: list[MetricExplanation] = []
        replicas = 0
        metric = ""
        invalid = 0
        first_condition: tuple[str, str] | None = None
        first_error: str | None = None
        for position, spec in enumerate(specs):
            outcome = self.compute_replicas_for_metric(calculator, spec, scale, selector)
            statuses.append(outcome.status or MetricStatus())
            explained.append(
                MetricExplanation(
                    position,
                    spec.type,
                    outcome.name or _spec_label(spec),
                    None if outcome.error is not None else outcome.proposal,
                    self.tolerances,
                    outcome.detail,
                    outcome.error,
                    outcome.timestamp,
                )
            )
            if outcome.error is not None:
                if invalid <= 0:
                    first_condition = outcome.condition
                    first_error = outcome.error
                invalid += 1
                continue
            if replicas == 0 or outcome.proposal > replicas:
                replicas = outcome.proposal
                metric = outcome.name

        error = None
        if first_error is not None:
            error = (
                f"invalid metrics ({invalid} invalid out of {len(specs)}), "
                f"first error is: {first_error}"
            )
        blocked = 0 < invalid < len(specs) and replicas < scale.spec_replicas
        if invalid >= len(specs) or (invalid > 0 and replicas < scale.spec_replicas):
            if first_condition is not None:
                self.set_condition(SCALING_ACTIVE, CONDITION_FALSE, *first_condition)
            return -1, "", tuple(statuses), error, tuple(explained), invalid, blocked
        self.set_condition(
            SCALING_ACTIVE,
            CONDITION_TRUE,
            "ValidMetricFound",
            MSG_VALID_METRIC_FOUND.format(metric),
        )
        return replicas, metric, tuple(statuses), error, tuple(explained), invalid, False

    def compute_replicas_for_metric(
        self,
        calculator: ReplicaCalculator,
        spec: MetricSpec,
        scale: Scale,
        selector: LabelSelector,
    ) -> _MetricOutcome:
        """computeReplicasForMetric: one spec to a proposal, or a condition and error."""
        if spec.type == OBJECT and spec.object is not None:
            outcome = self._object(calculator, spec, scale, selector)
            if outcome.error is not None:
                outcome.error = f"failed to get object metric value: {outcome.error}"
            return outcome
        if spec.type == PODS and spec.pods is not None:
            outcome = self._pods(calculator, spec, scale, selector)
            if outcome.error is not None:
                outcome.error = f"failed to get pods metric value: {outcome.error}"
            return outcome
        if spec.type == RESOURCE and spec.resource is not None:
            resource = spec.resource
            outcome = self._resource(
                calculator, resource.name, "", resource.target, scale, selector, RESOURCE
            )
            if outcome.error is not None:
                outcome.condition = self.unable("FailedGetResourceMetric", outcome.error)
                outcome.error = (
                    f"failed to get {resource.name} resource metric value: {outcome.error}"
                )
            else:
                outcome.status = MetricStatus(
                    type=RESOURCE, name=resource.name, current=outcome.status_value
                )
            return outcome
        if spec.type == CONTAINER_RESOURCE and spec.container_resource is not None:
            source = spec.container_resource
            outcome = self._resource(
                calculator,
                source.name,
                source.container,
                source.target,
                scale,
                selector,
                CONTAINER_RESOURCE,
            )
            if outcome.error is not None:
                outcome.condition = self.unable("FailedGetContainerResourceMetric", outcome.error)
                outcome.error = (
                    f"failed to get {source.container} container metric value: {outcome.error}"
                )
            else:
                outcome.status = MetricStatus(
                    type=CONTAINER_RESOURCE,
                    name=source.name,
                    container=source.container,
                    current=outcome.status_value,
                )
            return outcome
        if spec.type == EXTERNAL and spec.external is not None:
            outcome = self._external(calculator, spec, scale, selector)
            if outcome.error is not None:
                outcome.error = (
                    f"failed to get {spec.external.metric.name} external metric value: "
                    f"{outcome.error}"
                )
            return outcome
        error = f"unknown metric source type {gostrings.quote(spec.type)}"
        return _MetricOutcome(condition=self.unable("InvalidMetricSourceType", error), error=error)

    def _metric_selector(self, identifier: MetricIdentifier) -> LabelSelector:
        # An absent metric selector reaches the metrics APIs as "", i.e. everything.
        return selector_from_spec(identifier.selector or LabelSelectorSpec())

    def _object(
        self, calculator: ReplicaCalculator, spec: MetricSpec, scale: Scale, selector: LabelSelector
    ) -> _MetricOutcome:
        source = spec.object
        assert source is not None
        try:
            metric_selector = self._metric_selector(source.metric)
        except SelectorError as err:
            return _MetricOutcome(
                condition=self.unable("FailedGetObjectMetric", str(err)), error=str(err)
            )
        target = source.target
        namespace = self.hpa.namespace
        if target.type == VALUE and target.value is not None:
            try:
                result = calculator.get_object_metric_replicas(
                    scale.spec_replicas,
                    target.value.milli_value(),
                    source.metric.name,
                    self.tolerances,
                    namespace,
                    source.described_object,
                    selector,
                    metric_selector,
                )
            except CalculationError as err:
                return _MetricOutcome(
                    condition=self.unable("FailedGetObjectMetric", str(err)), error=str(err)
                )
            return _MetricOutcome(
                proposal=result.replicas,
                name=f"{source.described_object.kind} metric {source.metric.name}",
                status=MetricStatus(
                    type=OBJECT,
                    metric=source.metric,
                    described_object=source.described_object,
                    current=MetricValueStatus(value=Quantity.from_milli(result.usage)),
                ),
                detail=result.detail,
                timestamp=result.timestamp,
            )
        if target.type == AVERAGE_VALUE and target.average_value is not None:
            try:
                result = calculator.get_object_per_pod_metric_replicas(
                    scale.status_replicas,
                    target.average_value.milli_value(),
                    source.metric.name,
                    self.tolerances,
                    namespace,
                    source.described_object,
                    metric_selector,
                )
            except CalculationError as err:
                return _MetricOutcome(
                    condition=self.unable("FailedGetObjectMetric", str(err)),
                    error=f"failed to get {source.metric.name} object metric: {err}",
                )
            return _MetricOutcome(
                proposal=result.replicas,
                # Upstream's own wording for this case says "external".
                name=f"external metric {source.metric.name}"
                f"({go_selector_string(source.metric.selector)})",
                status=MetricStatus(
                    type=OBJECT,
                    metric=source.metric,
                    described_object=source.described_object,
                    current=MetricValueStatus(average_value=Quantity.from_milli(result.usage)),
                ),
                detail=result.detail,
                timestamp=result.timestamp,
            )
        error = (
            "invalid object metric source: neither a value target nor an average value "
            "target was set"
        )
        return _MetricOutcome(condition=self.unable("FailedGetObjectMetric", error), error=error)

    def _pods(
        self, calculator: ReplicaCalculator, spec: MetricSpec, scale: Scale, selector: LabelSelector
    ) -> _MetricOutcome:
        source = spec.pods
        assert source is not None
        try:
            metric_selector = self._metric_selector(source.metric)
        except SelectorError as err:
            return _MetricOutcome(
                condition=self.unable("FailedGetPodsMetric", str(err)), error=str(err)
            )
        average = source.target.average_value
        target_milli = average.milli_value() if average is not None else 0
        try:
            result = calculator.get_metric_replicas(
                scale.spec_replicas,
                target_milli,
                source.metric.name,
                self.tolerances,
                self.hpa.namespace,
                selector,
                metric_selector,
            )
        except CalculationError as err:
            return _MetricOutcome(
                condition=self.unable("FailedGetPodsMetric", str(err)), error=str(err)
            )
        return _MetricOutcome(
            proposal=result.replicas,
            name=f"pods metric {source.metric.name}",
            status=MetricStatus(
                type=PODS,
                metric=source.metric,
                current=MetricValueStatus(average_value=Quantity.from_milli(result.usage)),
            ),
            detail=result.detail,
            timestamp=result.timestamp,
        )

    def _resource(
        self,
        calculator: ReplicaCalculator,
        resource: str,
        container: str,
        target: MetricTarget,
        scale: Scale,
        selector: LabelSelector,
        source_type: str,
    ) -> _ResourceOutcome:
        """computeStatusForResourceMetricGeneric (the caller adds the condition)."""
        namespace = self.hpa.namespace
        if target.average_value is not None:
            try:
                raw = calculator.get_raw_resource_replicas(
                    scale.spec_replicas,
                    target.average_value.milli_value(),
                    resource,
                    self.tolerances,
                    namespace,
                    selector,
                    container,
                )
            except CalculationError as err:
                return _ResourceOutcome(error=f"failed to get {resource} usage: {err}")
            return _ResourceOutcome(
                proposal=raw.replicas,
                name=f"{resource} resource",
                status_value=MetricValueStatus(average_value=_build_quantity(resource, raw.usage)),
                detail=raw.detail,
                timestamp=raw.timestamp,
            )
        if target.average_utilization is None:
            return _ResourceOutcome(
                error="invalid resource metric source: neither an average utilization target "
                "nor an average value (usage) target was set"
            )
        try:
            result = calculator.get_resource_replicas(
                scale.spec_replicas,
                target.average_utilization,
                resource,
                self.tolerances,
                namespace,
                selector,
                container,
            )
        except CalculationError as err:
            return _ResourceOutcome(error=f"failed to get {resource} utilization: {err}")
        name = f"{resource} resource utilization (percentage of request)"
        if source_type == CONTAINER_RESOURCE:
            name = f"{resource} container resource utilization (percentage of request)"
        return _ResourceOutcome(
            proposal=result.replicas,
            name=name,
            status_value=MetricValueStatus(
                average_value=_build_quantity(resource, result.raw_utilization),
                average_utilization=result.utilization,
            ),
            detail=result.detail,
            timestamp=result.timestamp,
        )

    def _external(
        self, calculator: ReplicaCalculator, spec: MetricSpec, scale: Scale, selector: LabelSelector
    ) -> _MetricOutcome:
        source = spec.external
        assert source is not None
        target = source.target
        selector_text = go_selector_string(source.metric.selector)
        name = f"external metric {source.metric.name}({selector_text})"
        namespace = self.hpa.namespace
        if target.average_value is not None:
            try:
                metric_selector = self._metric_selector(source.metric)
                result = calculator.get_external_per_pod_metric_replicas(
                    scale.status_replicas,
                    target.average_value.milli_value(),
                    source.metric.name,
                    self.tolerances,
                    namespace,
                    metric_selector,
                    selector_text,
                )
            except (CalculationError, SelectorError) as err:
                return _MetricOutcome(
                    condition=self.unable("FailedGetExternalMetric", str(err)),
                    error=f"failed to get {source.metric.name} external metric: {err}",
                )
            return _MetricOutcome(
                proposal=result.replicas,
                name=name,
                status=MetricStatus(
                    type=EXTERNAL,
                    metric=source.metric,
                    current=MetricValueStatus(average_value=Quantity.from_milli(result.usage)),
                ),
                detail=result.detail,
                timestamp=result.timestamp,
            )
        if target.value is not None:
            try:
                metric_selector = self._metric_selector(source.metric)
                result = calculator.get_external_metric_replicas(
                    scale.spec_replicas,
                    target.value.milli_value(),
                    source.metric.name,
                    self.tolerances,
                    namespace,
                    metric_selector,
                    selector_text,
                    selector,
                )
            except (CalculationError, SelectorError) as err:
                return _MetricOutcome(
                    condition=self.unable("FailedGetExternalMetric", str(err)),
                    error=f"failed to get external metric {source.metric.name}: {err}",
                )
            return _MetricOutcome(
                proposal=result.replicas,
                name=name,
                status=MetricStatus(
                    type=EXTERNAL,
                    metric=source.metric,
                    current=MetricValueStatus(value=Quantity.from_milli(result.usage)),
                ),
                detail=result.detail,
                timestamp=result.timestamp,
            )
        error = (
            "invalid external metric source: neither a value target nor an average value "
            "target was set"
        )
        return _MetricOutcome(condition=self.unable("FailedGetExternalMetric", error), error=error)


@dataclass(slots=True)
class _ResourceOutcome(_MetricOutcome):
    status_value: MetricValueStatus = field(default_factory=MetricValueStatus)


def decide(
    hpa: HorizontalPodAutoscaler,
    scale: Scale | ScaleReadError,
    pods: Sequence[Pod],
    metrics: MetricsSource,
    memory: ControllerMemory,
    now: datetime,
    config: ControllerConfig,
    *,
    ambiguous: str | None = None,
) -> Decision:
    """Everything reconcileAutoscaler does before it writes the scale.

    `hpa` must already be defaulted. When `decision.rescale` is true the caller writes
    `decision.desired_replicas` to the target's /scale, then calls `finish` with the
    write's error, if any. `ambiguous` is the AmbiguousSelector message when another
    HPA's selector overlaps this one's.
    """
    return _Sync(hpa, scale, pods, metrics, memory, now, config, ambiguous).run()


def finish(decision: Decision, write_error: str | None = None) -> SyncResult:
    """Everything after the scale write: conditions, event, memory and status.

    A failed write is reported as upstream does: a FailedRescale warning,
    AbleToScale=False (FailedUpdateScale), the previous desired count kept in the status
    and no scale event remembered.
    """
    if decision.result is not None:
        return decision.result
    hpa = decision.hpa
    now = decision.now
    current = decision.current_replicas
    desired = decision.desired_replicas
    conditions = decision.conditions
    events = list(decision.events)
    memory = decision.memory
    statuses = decision.metric_statuses
    if not decision.rescale:
        status = HPAStatus(current, current, hpa.status.last_scale_time, statuses, conditions)
        return SyncResult(current, False, status, memory, tuple(events), decision.explanation)
    reason = decision.rescale_reason
    if write_error is not None:
        events.append(
            Event(
                "Warning",
                "FailedRescale",
                f"New size: {desired}; reason: {reason}; error: {write_error}",
            )
        )
        conditions = set_condition(
            conditions,
            ABLE_TO_SCALE,
            CONDITION_FALSE,
            "FailedUpdateScale",
            MSG_FAILED_UPDATE_SCALE.format(write_error),
            now,
        )
        status = HPAStatus(
            current, hpa.status.desired_replicas, hpa.status.last_scale_time, statuses, conditions
        )
        return SyncResult(current, False, status, memory, tuple(events), decision.explanation)

    conditions = set_condition(
        conditions,
        ABLE_TO_SCALE,
        CONDITION_TRUE,
        "SucceededRescale",
        MSG_SUCCEEDED_RESCALE.format(desired),
        now,
    )
    events.append(Event("Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}"))
    spec = hpa.spec
    up, down = behavior_rules.store_scale_event(
        spec.behavior, memory.scale_up_events, memory.scale_down_events, current, desired, now
    )
    memory = ControllerMemory(memory.recommendations, up, down)
    if decision.config.feature_gates.hpa_scale_to_zero:
        has_object_or_external = any(m.type in (OBJECT, EXTERNAL) for m in spec.metrics)
        if current > 0 and desired == 0 and spec.min_replicas == 0 and has_object_or_external:
            conditions = set_condition(
                conditions, SCALED_TO_ZERO, CONDITION_TRUE, "ScaledToZero", MSG_SCALED_TO_ZERO, now
            )
        else:
            conditions = set_condition(
                conditions,
                SCALED_TO_ZERO,
                CONDITION_FALSE,
                "NotScaledToZero",
                MSG_NOT_SCALED_TO_ZERO,
                now,
            )
    else:
        conditions = remove_condition(conditions, SCALED_TO_ZERO)
    status = HPAStatus(current, desired, now, statuses, conditions)
    return SyncResult(desired, True, status, memory, tuple(events), decision.explanation)


def sync(
    hpa: HorizontalPodAutoscaler,
    scale: Scale | ScaleReadError,
    pods: Sequence[Pod],
    metrics: MetricsSource,
    memory: ControllerMemory,
    now: datetime,
    config: ControllerConfig,
) -> SyncResult:
    """One whole sync whose scale write succeeds (what `hpa evaluate` replays)."""
    return finish(decide(hpa, scale, pods, metrics, memory, now, config))
