"""Group-resources and the REST mapping between resource names and API kinds.

Owns the pure half of what client-go's RESTMapper does: turning what a user wrote
(`pods`, `pod`, `Pod`, `deployments.apps`) into one canonical resource, from API
discovery documents or from the built-in table of Kubernetes' own resources (used when
no cluster is at hand, as `rules explain` is). Fetching discovery documents is
`adapter.cluster`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class GroupResource:
    """A resource within an API group; the core group is the empty string."""

    group: str
    resource: str

    @classmethod
    def parse(cls, text: str) -> GroupResource:
        """Split `resource.group` at the first dot, as apimachinery's ParseGroupResource."""
        resource, _, group = text.partition(".")
        return cls(group=group, resource=resource)

    def __str__(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource
