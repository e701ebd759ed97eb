"""`/healthz`, `/livez`, `/readyz`: the apiserver's health endpoints, in its text format.

Owns the checks and their answers. Liveness is `ping` only: the process answers, so it
is alive (a slow or failing Prometheus must not get the adapter restarted). Readiness
adds `metric-discovery` (the readiness callable given to `create_app`: false until the
first discovery has run), `prometheus` (fails while every call to Prometheus has failed
for a while; see `adapter.prometheus.outcomes` and the threshold in `adapter.serving`)
and `shutdown` (fails once SIGTERM arrived, so endpoints drain before the listener
closes).

Format, as k8s.io/apiserver `pkg/server/healthz/healthz.go` writes it (handleRootHealth,
adaptCheckToHandler): success is `ok`, or with `?verbose` one `[+]<check> ok` line per
check and `<endpoint> check passed`; failure is a 500 listing every check, a failed one
as `[-]<check> failed: reason withheld`, and ending `<endpoint> check failed`. The
reason is withheld because these paths answer anyone (`--authorization-always-allow-
paths`); it goes to the log, and `/<endpoint>/<check>` (which needs authorization, as
upstream) answers `internal server error: <reason>`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler

from adapter.server import responses
from adapter.server.state import BACKEND_HEALTH, LIFECYCLE, READINESS

log = logging.getLogger(__name__)

NOT_READY_REASON: Final = "the first metric discovery has not completed"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    run: Callable[[web.Application], str | None]
    """None when healthy, else the reason."""


def _ping(app: web.Application) -> str | None:
    return None


def _discovery(app: web.Application) -> str | None:
    try:
        answer = app[READINESS]()
    except Exception as err:  # a broken readiness callable means not ready, never a crash
        log.exception("readiness check raised")
        return f"readiness check raised {type(err).__name__}: {err}"
    if answer is True:
        return None
    if isinstance(answer, str) and answer:
        return answer
    return NOT_READY_REASON


def _prometheus(app: web.Application) -> str | None:
    return app[BACKEND_HEALTH]()


def _shutdown(app: web.Application) -> str | None:
    return "process is shutting down" if app[LIFECYCLE].shutting_down else None


LIVENESS: Final = (Check("ping", _ping),)
READINESS_CHECKS: Final = (
    Check("ping", _ping),
    Check("metric-discovery", _discovery),
    Check("prometheus", _prometheus),
    Check("shutdown", _shutdown),
)
ENDPOINTS: Final[dict[str, Sequence[Check]]] = {
    "healthz": LIVENESS,
    "livez": LIVENESS,
    "readyz": READINESS_CHECKS,
}


def _run_all(app: web.Application, endpoint: str, verbose: bool) -> web.Response:
    lines: list[str] = []
    failed: list[str] = []
    reasons: list[str] = []
    for check in ENDPOINTS[endpoint]:
        reason = check.run(app)
        if reason is None:
            lines.append(f"[+]{check.name} ok\n")
        else:
            lines.append(f"[-]{check.name} failed: reason withheld\n")
            failed.append(check.name)
            reasons.append(f"[-]{check.name} failed: {reason}")
    if failed:
        log.info("%s check failed: %s: %s", endpoint, ",".join(failed), "; ".join(reasons))
        # http.Error appends a newline to the message.
        return responses.text_response(
            "".join(lines) + f"{endpoint} check failed\n", status_code=500
        )
    if not verbose:
        return responses.text_response("ok")
    return responses.text_response("".join(lines) + f"{endpoint} check passed\n")


def _run_one(app: web.Application, endpoint: str, name: str) -> web.Response:
    for check in ENDPOINTS[endpoint]:
        if check.name == name:
            reason = check.run(app)
            if reason is None:
                return responses.text_response("ok")
            return responses.text_response(f"internal server error: {reason}\n", status_code=500)
    raise responses.not_found()


def add_routes(router: web.UrlDispatcher) -> None:
    for endpoint in ENDPOINTS:
        router.add_route("*", f"/{endpoint}", _all_handler(endpoint))
        router.add_route("*", f"/{endpoint}/{{check}}", _one_handler(endpoint))


def _all_handler(endpoint: str) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        responses.require_read(request)
        return _run_all(request.app, endpoint, "verbose" in request.query)

    return handle


def _one_handler(endpoint: str) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        responses.require_read(request)
        return _run_one(request.app, endpoint, request.match_info["check"])

    return handle
