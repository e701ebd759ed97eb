"""Turning a proposed replica count into the count the HPA sets: stabilization and limits.

Owns the normalization half of kube-controller-manager's `horizontal.go`: the
stabilization window over earlier recommendations, the scale-up limit that applies when
an HPA has no `spec.behavior` (double the current count, at least 4), the rate limits of
`behavior.scaleUp/scaleDown.policies` with `selectPolicy` Max, Min or Disabled measured
against the scale events of the last `periodSeconds`, and the clamp to min/max replicas,
each with the condition reason and message upstream reports.

Everything here is a pure function of the controller's memory (recommendations and
scale events, passed in and returned updated) and an injected `now`. A window or period
is strict: a record exactly `stabilizationWindowSeconds` or `periodSeconds` old is
outside it (and may be reused), which is also what upstream's wall-clock comparisons
amount to. `adapter.hpa.sync` decides when to call what; conditions are set there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from adapter.hpa.calculation import INT32_MAX, INT32_MIN, ceil, int32_from_float, wrap_int32
from adapter.hpa.model import (
    DISABLED_POLICY_SELECT,
    MIN_POLICY_SELECT,
    PERCENT_POLICY,
    PODS_POLICY,
    HPABehavior,
    HPAScalingRules,
)

__all__ = [
    "Normalization",
    "ScaleEvent",
    "TimestampedRecommendation",
    "calculate_scale_down_limit_with_behaviors",
    "calculate_scale_up_limit",
    "calculate_scale_up_limit_with_scaling_rules",
    "convert_desired_replicas_with_behavior_rate",
    "convert_desired_replicas_with_rules",
    "normalize_desired_replicas",
    "normalize_desired_replicas_with_behaviors",
    "replicas_change_per_period",
    "stabilize_recommendation",
    "stabilize_recommendation_with_behaviors",
    "store_scale_event",
]

SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0

READY_FOR_NEW_SCALE = ("ReadyForNewScale", "recommended size matches current size")
SCALE_DOWN_STABILIZED = (
    "ScaleDownStabilized",
    "recent recommendations were higher than current one, applying the highest recent "
    "recommendation",
)
SCALE_UP_STABILIZED = (
    "ScaleUpStabilized",
    "recent recommendations were lower than current one, applying the lowest recent recommendation",
)
DESIRED_WITHIN_RANGE = ("DesiredWithinRange", "the desired count is within the acceptable range")
TOO_MANY_REPLICAS = (
    "TooManyReplicas",
    "the desired replica count is more than the maximum replica count",
)
TOO_FEW_REPLICAS = (
    "TooFewReplicas",
    "the desired replica count is less than the minimum replica count",
)
SCALE_UP_LIMIT = (
    "ScaleUpLimit",
    "the desired replica count is increasing faster than the maximum scale rate",
)
SCALE_DOWN_LIMIT = (
    "ScaleDownLimit",
    "the desired replica count is decreasing faster than the maximum scale rate",
)


@dataclass(frozen=True, slots=True)
class TimestampedRecommendation:
    """An unstabilized recommendation the controller remembers for an HPA."""

    recommendation: int
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class ScaleEvent:
    """A rescale the controller made, as a non-negative change in replicas."""

    replica_change: int
    timestamp: datetime


def _inside(timestamp: datetime, now: datetime, seconds: int | float) -> bool:
    """Strictly younger than the window or period."""
    return now - timestamp < timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class Normalization:
    """The outcome of one normalization and the memory it leaves behind.

    `able_to_scale` and `scaling_limited` are (reason, message); `limited` says whether
    ScalingLimited is True. The remaining fields exist to explain the decision.
    """

    desired_replicas: int
    stabilized_recommendation: int
    able_to_scale: tuple[str, str]
    scaling_limited: tuple[str, str]
    limited: bool
    recommendations: tuple[TimestampedRecommendation, ...]
    scale_up_window_seconds: int | None = None
    scale_down_window_seconds: int | None = None
    rate_limit: int | None = None
    """The policy-derived bound (scale-up or scale-down limit) when one was computed."""


# -- without spec.behavior ------------------------------------------------------------


def stabilize_recommendation(
    recommendations: Sequence[TimestampedRecommendation],
    prenormalized: int,
    window_seconds: float,
    now: datetime,
) -> tuple[int, tuple[TimestampedRecommendation, ...]]:
    """stabilizeRecommendation: the highest recommendation inside the downscale window.

    The new recommendation replaces the last one that fell out of the window, or is
    appended when none did.
    """
    highest = prenormalized
    old_index: int | None = None
    for index, rec in enumerate(recommendations):
        if not _inside(rec.timestamp, now, window_seconds):
            old_index = index
        elif rec.recommendation > highest:
            highest = rec.recommendation
    updated = list(recommendations)
    entry = TimestampedRecommendation(prenormalized, now)
    if old_index is None:
        updated.append(entry)
    else:
        updated[old_index] = entry
    return highest, tuple(updated)


def calculate_scale_up_limit(current_replicas: int) -> int:
    """calculateScaleUpLimit: at most double, and at least 4, when there is no behavior."""
    return int32_from_float(
        max(SCALE_UP_LIMIT_FACTOR * float(current_replicas), SCALE_UP_LIMIT_MINIMUM)
    )


def convert_desired_replicas_with_rules(
    current_replicas: int, desired_replicas: int, min_replicas: int, max_replicas: int
) -> tuple[int, str, str]:
    """convertDesiredReplicasWithRules: clamp to min, max and the scale-up limit."""
    scale_up_limit = calculate_scale_up_limit(current_replicas)
    if max_replicas > scale_up_limit:
        maximum_allowed = scale_up_limit
        reason, message = SCALE_UP_LIMIT
    else:
        maximum_allowed = max_replicas
        reason, message = TOO_MANY_REPLICAS
    if desired_replicas < min_replicas:
        return (min_replicas, *TOO_FEW_REPLICAS)
    if desired_replicas > maximum_allowed:
        return maximum_allowed, reason, message
    return (desired_replicas, *DESIRED_WITHIN_RANGE)


def normalize_desired_replicas(
    recommendations: Sequence[TimestampedRecommendation],
    current_replicas: int,
    prenormalized: int,
    min_replicas: int,
    max_replicas: int,
    downscale_window_seconds: float,
    now: datetime,
) -> Normalization:
    """normalizeDesiredReplicas: the path for an HPA without spec.behavior."""
    stabilized, updated = stabilize_recommendation(
        recommendations, prenormalized, downscale_window_seconds, now
    )
    able = SCALE_DOWN_STABILIZED if stabilized != prenormalized else READY_FOR_NEW_SCALE
    desired, reason, message = convert_desired_replicas_with_rules(
        current_replicas, stabilized, min_replicas, max_replicas
    )
    return Normalization(
        desired_replicas=desired,
        stabilized_recommendation=stabilized,
        able_to_scale=able,
        scaling_limited=(reason, message),
        limited=desired != stabilized,
        recommendations=updated,
        scale_down_window_seconds=int(downscale_window_seconds),
        rate_limit=calculate_scale_up_limit(current_replicas)
        if stabilized > current_replicas
        else None,
    )


# -- with spec.behavior ---------------------------------------------------------------


def stabilize_recommendation_with_behaviors(
    recommendations: Sequence[TimestampedRecommendation],
    desired_replicas: int,
    current_replicas: int,
    scale_up_window_seconds: int,
    scale_down_window_seconds: int,
    now: datetime,
) -> tuple[int, str, str, tuple[TimestampedRecommendation, ...]]:
    """stabilizeRecommendationWithBehaviors: keep within [lowest up, highest down].

    Scaling up goes no higher than the lowest recommendation inside the scale-up window,
    scaling down no lower than the highest inside the scale-down window. A record
    outside both windows is reused for the new recommendation.
    """
    up_recommendation = desired_replicas
    down_recommendation = desired_replicas
    old_index: int | None = None
    for index, rec in enumerate(recommendations):
        inside_up = _inside(rec.timestamp, now, scale_up_window_seconds)
        inside_down = _inside(rec.timestamp, now, scale_down_window_seconds)
        if inside_up:
            up_recommendation = min(rec.recommendation, up_recommendation)
        if inside_down:
            down_recommendation = max(rec.recommendation, down_recommendation)
        if not inside_up and not inside_down:
            old_index = index
    recommendation = current_replicas
    if recommendation < up_recommendation:
        recommendation = up_recommendation
    if recommendation > down_recommendation:
        recommendation = down_recommendation
    updated = list(recommendations)
    entry = TimestampedRecommendation(desired_replicas, now)
    if old_index is None:
        updated.append(entry)
    else:
        updated[old_index] = entry
    if desired_replicas >= current_replicas:
        reason, message = SCALE_UP_STABILIZED
    else:
        reason, message = SCALE_DOWN_STABILIZED
    return recommendation, reason, message, tuple(updated)


def replicas_change_per_period(
    period_seconds: int, events: Sequence[ScaleEvent], now: datetime
) -> int:
    """getReplicasChangePerPeriod: the replicas changed inside the last period."""
    total = 0
    for event in events:
        if _inside(event.timestamp, now, period_seconds):
            total = wrap_int32(total + event.replica_change)
    return total


def calculate_scale_up_limit_with_scaling_rules(
    current_replicas: int,
    scale_up_events: Sequence[ScaleEvent],
    scale_down_events: Sequence[ScaleEvent],
    rules: HPAScalingRules,
    now: datetime,
) -> int:
    """calculateScaleUpLimitWithScalingRules: the most replicas the policies allow now.

    Each policy counts from the replica count at the start of its period (current,
    minus what was added, plus what was removed inside the period); Max takes the
    loosest policy, Min the strictest, Disabled allows no change.
    """
    if rules.select_policy == DISABLED_POLICY_SELECT:
        return current_replicas
    if rules.select_policy == MIN_POLICY_SELECT:
        result = INT32_MAX
        pick = min
    else:
        result = INT32_MIN
        pick = max
    proposed = 0
    for policy in rules.policies:
        added = replicas_change_per_period(policy.period_seconds, scale_up_events, now)
        deleted = replicas_change_per_period(policy.period_seconds, scale_down_events, now)
        period_start = wrap_int32(current_replicas - added + deleted)
        if policy.type == PODS_POLICY:
            proposed = wrap_int32(period_start + policy.value)
        elif policy.type == PERCENT_POLICY:
            # Rounded up, or a small percentage could never add a replica.
            proposed = int32_from_float(ceil(float(period_start) * (1 + float(policy.value) / 100)))
        result = pick(result, proposed)
    return result


def calculate_scale_down_limit_with_behaviors(
    current_replicas: int,
    scale_up_events: Sequence[ScaleEvent],
    scale_down_events: Sequence[ScaleEvent],
    rules: HPAScalingRules,
    now: datetime,
) -> int:
    """calculateScaleDownLimitWithBehaviors: the fewest replicas the policies allow now."""
    if rules.select_policy == DISABLED_POLICY_SELECT:
        return current_replicas
    if rules.select_policy == MIN_POLICY_SELECT:
        result = INT32_MIN
        pick = max
    else:
        result = INT32_MAX
        pick = min
    proposed = 0
    for policy in rules.policies:
        added = replicas_change_per_period(policy.period_seconds, scale_up_events, now)
        deleted = replicas_change_per_period(policy.period_seconds, scale_down_events, now)
        period_start = wrap_int32(current_replicas - added + deleted)
        if policy.type == PODS_POLICY:
            proposed = wrap_int32(period_start - policy.value)
        elif policy.type == PERCENT_POLICY:
            proposed = int32_from_float(float(period_start) * (1 - float(policy.value) / 100))
        result = pick(result, proposed)
    return result


def convert_desired_replicas_with_behavior_rate(
    current_replicas: int,
    desired_replicas: int,
    min_replicas: int,
    max_replicas: int,
    behavior: HPABehavior,
    scale_up_events: Sequence[ScaleEvent],
    scale_down_events: Sequence[ScaleEvent],
    now: datetime,
) -> tuple[int, str, str, int | None]:
    """convertDesiredReplicasWithBehaviorRate: apply the policies' rate and min/max.

    Returns (replicas, reason, message, the policy limit that was computed if any).
    """
    if desired_replicas > current_replicas:
        limit = calculate_scale_up_limit_with_scaling_rules(
            current_replicas, scale_up_events, scale_down_events, behavior.scale_up, now
        )
        if limit < current_replicas:
            # Recent scale-ups used up the budget: no further scale-up for now.
            limit = current_replicas
        if max_replicas > limit:
            maximum_allowed = limit
            reason, message = SCALE_UP_LIMIT
        else:
            maximum_allowed = max_replicas
            reason, message = TOO_MANY_REPLICAS
        if desired_replicas > maximum_allowed:
            return maximum_allowed, reason, message, limit
        return (desired_replicas, *DESIRED_WITHIN_RANGE, limit)
    if desired_replicas < current_replicas:
        limit = calculate_scale_down_limit_with_behaviors(
            current_replicas, scale_up_events, scale_down_events, behavior.scale_down, now
        )
        if limit > current_replicas:
            # Recent scale-downs used up the budget: no further scale-down for now.
            limit = current_replicas
        if min_replicas < limit:
            minimum_allowed = limit
            reason, message = SCALE_DOWN_LIMIT
        else:
            minimum_allowed = min_replicas
            reason, message = TOO_FEW_REPLICAS
        if desired_replicas < minimum_allowed:
            return minimum_allowed, reason, message, limit
        return (desired_replicas, *DESIRED_WITHIN_RANGE, limit)
    return (desired_replicas, *DESIRED_WITHIN_RANGE, None)


def normalize_desired_replicas_with_behaviors(
    behavior: HPABehavior,
    recommendations: Sequence[TimestampedRecommendation],
    scale_up_events: Sequence[ScaleEvent],
    scale_down_events: Sequence[ScaleEvent],
    current_replicas: int,
    prenormalized: int,
    min_replicas: int,
    max_replicas: int,
    downscale_window_seconds: float,
    now: datetime,
) -> Normalization:
    """normalizeDesiredReplicasWithBehaviors: stabilize, then apply the policies.

    A scale-down rule without stabilizationWindowSeconds uses the controller's
    downscale stabilization window, as upstream fills it in before normalizing.
    """
    up_window = behavior.scale_up.stabilization_window_seconds or 0
    down_window = behavior.scale_down.stabilization_window_seconds
    if down_window is None:
        down_window = int(downscale_window_seconds)
    stabilized, reason, message, updated = stabilize_recommendation_with_behaviors(
        recommendations, prenormalized, current_replicas, up_window, down_window, now
    )
    able = (reason, message) if stabilized != prenormalized else READY_FOR_NEW_SCALE
    desired, limit_reason, limit_message, limit = convert_desired_replicas_with_behavior_rate(
        current_replicas,
        stabilized,
        min_replicas,
        max_replicas,
        behavior,
        scale_up_events,
        scale_down_events,
        now,
    )
    return Normalization(
        desired_replicas=desired,
        stabilized_recommendation=stabilized,
        able_to_scale=able,
        scaling_limited=(limit_reason, limit_message),
        limited=desired != stabilized,
        recommendations=updated,
        scale_up_window_seconds=up_window,
        scale_down_window_seconds=down_window,
        rate_limit=limit,
    )


def _longest_policy_period(rules: HPAScalingRules) -> int:
    longest = 0
    for policy in rules.policies:
        longest = max(longest, policy.period_seconds)
    return longest


def store_scale_event(
    behavior: HPABehavior | None,
    scale_up_events: Sequence[ScaleEvent],
    scale_down_events: Sequence[ScaleEvent],
    previous_replicas: int,
    new_replicas: int,
    now: datetime,
) -> tuple[tuple[ScaleEvent, ...], tuple[ScaleEvent, ...]]:
    """storeScaleEvent: remember a rescale, reusing a record older than every period.

    Without a behavior nothing is stored, since only policies read the events.
    """
    up = tuple(scale_up_events)
    down = tuple(scale_down_events)
    if behavior is None:
        return up, down
    if new_replicas > previous_replicas:
        return _stored(
            up, _longest_policy_period(behavior.scale_up), new_replicas - previous_replicas, now
        ), down
    return up, _stored(
        down, _longest_policy_period(behavior.scale_down), previous_replicas - new_replicas, now
    )


def _stored(
    events: tuple[ScaleEvent, ...], longest_period: int, change: int, now: datetime
) -> tuple[ScaleEvent, ...]:
    old_index: int | None = None
    for index, event in enumerate(events):
        if not _inside(event.timestamp, now, longest_period):
            old_index = index
    updated = list(events)
    entry = ScaleEvent(wrap_int32(change), now)
    if old_index is None:
        updated.append(entry)
    else:
        updated[old_index] = entry
    return tuple(updated)
