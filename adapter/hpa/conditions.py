"""HPA status conditions: setting them as upstream does, and upstream's words for them.

Owns `setCondition`/`removeCondition` of kube-controller-manager's HPA controller: a
condition keeps its place in the list, is appended when new, and gets a fresh
`lastTransitionTime` only when its status changes. The reasons and message templates
below are upstream's byte for byte, because `kubectl describe hpa` output, alerts and
runbooks match on them. Which condition is set when is `adapter.hpa.sync`'s business.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from adapter.hpa.model import HPACondition

__all__ = [
    "MSG_FAILED_GET_SCALE",
    "MSG_FAILED_UPDATE_SCALE",
    "MSG_INVALID_SELECTOR_MISSING",
    "MSG_NOT_SCALED_TO_ZERO",
    "MSG_SCALED_TO_ZERO",
    "MSG_SCALING_DISABLED",
    "MSG_SUCCEEDED_GET_SCALE",
    "MSG_SUCCEEDED_RESCALE",
    "MSG_UNABLE_TO_COMPUTE",
    "MSG_VALID_METRIC_FOUND",
    "remove_condition",
    "set_condition",
]

CONDITION_TRUE = "True"
CONDITION_FALSE = "False"

MSG_SUCCEEDED_GET_SCALE = "the HPA controller was able to get the target's current scale"
MSG_FAILED_GET_SCALE = "the HPA controller was unable to get the target's current scale: {}"
MSG_SCALING_DISABLED = "scaling is disabled since the replica count of the target is zero"
MSG_INVALID_SELECTOR_MISSING = "the HPA target's scale is missing a selector"
MSG_VALID_METRIC_FOUND = "the HPA was able to successfully calculate a replica count from {}"
MSG_UNABLE_TO_COMPUTE = "the HPA was unable to compute the replica count: {}"
MSG_SUCCEEDED_RESCALE = "the HPA controller was able to update the target scale to {}"
MSG_FAILED_UPDATE_SCALE = "the HPA controller was unable to update the target scale: {}"
MSG_SCALED_TO_ZERO = "the HPA controller scaled the workload to zero"
MSG_NOT_SCALED_TO_ZERO = "the HPA controller did not scale the workload to zero"


def set_condition(
    conditions: Sequence[HPACondition],
    condition_type: str,
    status: str,
    reason: str,
    message: str,
    now: datetime,
) -> tuple[HPACondition, ...]:
    """setConditionInList: update in place, or append; stamp `now` on a status change."""
    updated = list(conditions)
    for index, existing in enumerate(updated):
        if existing.type == condition_type:
            if existing.status == status:
                if existing.reason == reason and existing.message == message:
                    # Unchanged: the same value (a sync sets several such every time).
                    return tuple(updated)
                transition = existing.last_transition_time
            else:
                transition = now
            updated[index] = HPACondition(condition_type, status, reason, message, transition)
            return tuple(updated)
    updated.append(HPACondition(condition_type, status, reason, message, now))
    return tuple(updated)


def remove_condition(
    conditions: Sequence[HPACondition], condition_type: str
) -> tuple[HPACondition, ...]:
    return tuple(c for c in conditions if c.type != condition_type)
