"""HTTP responses as the Kubernetes apiserver writes them: JSON documents, Status errors,
plain-text health answers, and the headers every response carries.

Owns content negotiation as far as this server needs it (JSON only; `?pretty` and the
browser/curl user-agent rule of the apiserver's `isPrettyPrint`) and the mapping of
HTTP methods to Kubernetes verbs used in MethodNotSupported errors. Document shapes are
`adapter.server.documents`'; Status bodies are `adapter.k8s.status`'.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from adapter.documents import metrics as metric_documents
from adapter.k8s import status

JSON_CONTENT_TYPE: Final = "application/json"
TEXT_CONTENT_TYPE: Final = "text/plain; charset=utf-8"

COMMON_HEADERS: Final[Mapping[str, str]] = {
    # genericfilters.WithCacheControl: discovery and metrics must not be cached by proxies.
    "Cache-Control": "no-cache, private",
    "X-Content-Type-Options": "nosniff",
}

_PRETTY_USER_AGENTS: Final = ("curl", "Wget", "Mozilla/5.0")
_GO_TRUE: Final = frozenset({"1", "t", "T", "TRUE", "true", "True"})

READ_METHODS: Final = frozenset({"GET", "HEAD"})

_VERBS: Final[Mapping[str, str]] = {
    "POST": "create",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}


def is_pretty(request: web.BaseRequest) -> bool:
    """The apiserver's rule: a non-empty `pretty` parameter decides (Go ParseBool; anything
    unparseable is false); otherwise curl, Wget and browsers get indented output."""
    value = request.query.get("pretty", "")
    if value:
        return value in _GO_TRUE
    user_agent = request.headers.get("User-Agent", "")
    return user_agent.startswith(_PRETTY_USER_AGENTS)


def json_response(
    request: web.BaseRequest, document: Mapping[str, Any], *, status_code: int = 200
) -> web.Response:
    body = metric_documents.encode(document, pretty=is_pretty(request))
    return web.Response(
        status=status_code, body=body, content_type=JSON_CONTENT_TYPE, headers=COMMON_HEADERS
    )


def status_response(request: web.BaseRequest, error: status.StatusError) -> web.Response:
    """A metav1.Status body with the HTTP code it names."""
    document = metric_documents.status_document(error)
    code = document.get("code") or error.code
    return json_response(request, document, status_code=int(code))


def text_response(text: str, *, status_code: int = 200) -> web.Response:
    return web.Response(
        status=status_code,
        text=text,
        content_type="text/plain",
        charset="utf-8",
        headers=COMMON_HEADERS,
    )


def require_read(request: web.BaseRequest) -> None:
    """Non-resource paths (discovery, health, version) answer GET and HEAD only."""
    if request.method not in READ_METHODS:
        raise method_not_allowed()


def verb_for(method: str) -> str:
    """The Kubernetes verb a non-read HTTP method asks for (create, update, patch, delete)."""
    return _VERBS.get(method.upper(), method.lower())


NOT_FOUND_MESSAGE: Final = "the server could not find the requested resource"


def not_found() -> status.StatusError:
    """What the apiserver's notfoundhandler writes for a path nothing serves (no details)."""
    return status.StatusError(404, "NotFound", NOT_FOUND_MESSAGE, None)


def method_not_allowed() -> status.StatusError:
    """405 for paths that are not metric resources (discovery, health, version).

    Worded as apimachinery's NewGenericServerResponse words a 405.
    """
    return status.StatusError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        None,
    )
