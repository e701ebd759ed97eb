"""What the caller may do: delegated authorization by SubjectAccessReview, and the
middleware that runs authentication and authorization before every handler.

Owns the generic apiserver's delegating authorizer: members of the always-allowed groups
(`system:masters`, which kube-apiserver allows anyway) and the always-allowed paths
(`--authorization-always-allow-paths`, default the health endpoints) pass without a
review; everything else becomes one SubjectAccessReview whose answer is cached, allowed
for `--authorization-webhook-cache-authorized-ttl`, refused for
`--authorization-webhook-cache-unauthorized-ttl`, so the HPA controller asking for the
same metric every 15 seconds costs the API server one review per TTL. A refusal is 403
worded as kube-apiserver words it (`adapter.k8s.access.forbidden_error`); a review that
cannot be made is 500 and is not cached. Who the caller is comes from
`adapter.server.authn`; turning a path into attributes from `adapter.k8s.access`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from adapter.cluster.connection import ClusterError
from adapter.cluster.reviews import AccessDecision
from adapter.k8s import access, status
from adapter.k8s.access import Attributes, UserInfo
from adapter.server.authn import Authenticator
from adapter.settings import AuthorizationSettings

__all__ = ["Authorizer", "PathRuleError", "check_paths", "middleware"]

log = logging.getLogger(__name__)

AccessReviewer = Callable[[Attributes], Awaitable[AccessDecision]]

CACHE_SIZE: Final = 4096


class PathRuleError(ValueError):
    """An always-allow path with a `*` anywhere but at its end."""


def check_paths(paths: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """path.NewAuthorizer: exact paths and prefixes (a trailing `*`), leading `/` dropped."""
    exact: list[str] = []
    prefixes: list[str] = []
    for path in paths:
        trimmed = path.removeprefix("/")
        if "*" in trimmed[:-1]:
            raise PathRuleError(f"only trailing * allowed in {path!r}".replace("'", '"'))
        if trimmed.endswith("*"):
            prefixes.append(trimmed[:-1])
        else:
            exact.append(trimmed)
    return tuple(exact), tuple(prefixes)


class Authorizer:
    """Allows or refuses one request's attributes (see the module docstring)."""

    def __init__(
        self,
        settings: AuthorizationSettings,
        review: AccessReviewer,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._review = review
        self._clock = clock
        self._groups = frozenset(settings.always_allow_groups)
        self._exact, self._prefixes = check_paths(settings.always_allow_paths)
        self._cache: dict[Attributes, tuple[float, AccessDecision]] = {}
        self._allowed: dict[tuple[UserInfo, str, str], float] = {}
        self.reviews = 0
        """SubjectAccessReviews sent (for tests and benchmarks)."""

    def _always_allowed(self, attributes: Attributes) -> bool:
        if self._groups.intersection(attributes.user.groups):
            return True
        path = attributes.path.removeprefix("/")
        return path in self._exact or any(path.startswith(p) for p in self._prefixes)

    async def authorize_request(self, user: UserInfo, request: web.BaseRequest) -> None:
        """`authorize` for a request; an allowed (user, method, path) seen within the
        allow TTL skips parsing it into attributes again (the HPA controller repeats
        the same few requests)."""
        key = (user, request.method, request.raw_path)
        allowed_until = self._allowed.get(key)
        if allowed_until is not None and allowed_until > self._clock():
            return
        attributes = access.request_attributes(user, request.method, request.path, request.query)
        until = await self.authorize(attributes)
        if len(self._allowed) >= CACHE_SIZE:
            self._allowed.pop(next(iter(self._allowed)))
        self._allowed[key] = until

    async def authorize(self, attributes: Attributes) -> float:
        """Return (until when the answer holds) when allowed; raise the StatusError to
        answer otherwise."""
        if self._always_allowed(attributes):
            return float("inf")
        key = (
            dataclasses.replace(attributes, path="") if attributes.resource_request else attributes
        )
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            until, decision = cached
        else:
            self.reviews += 1
            try:
                decision = await self._review(attributes)
            except ClusterError as err:
                log.warning("SubjectAccessReview failed: %s", str(err) or type(err).__name__)
                raise status.internal_error(
                    "unable to ask the Kubernetes API server whether the request is allowed"
                ) from err
            ttl = (
                self.settings.allow_cache_ttl if decision.allowed else self.settings.deny_cache_ttl
            )
            if len(self._cache) >= CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            until = now + ttl
            self._cache[key] = (until, decision)
        if not decision.allowed:
            log.debug("Forbidden %s: %s", attributes.path, decision.reason)
            raise access.forbidden_error(attributes, decision.reason)
        return until


def middleware(authenticator: Authenticator, authorizer: Authorizer) -> Middleware:
    """filters.WithAuthentication then filters.WithAuthorization, for `create_app`."""

    @web.middleware
    async def delegated_access(request: web.Request, handler: Handler) -> web.StreamResponse:
        user = await authenticator.authenticate(request)
        await authorizer.authorize_request(user, request)
        return await handler(request)

    return delegated_access
