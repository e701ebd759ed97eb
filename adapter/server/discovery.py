"""Discovery and server-information paths: `/apis`, `/apis/<group>`,
`/apis/<group>/<version>`, `/version`, `/openapi/v2`, `/openapi/v3`.

Owns the routes and handlers; the document shapes are `adapter.server.documents`', the
list of groups and their resources come from each served API (`state.ServedAPI`). A
group whose provider is disabled is not in `SERVED_APIS`, so it is neither listed nor
routed: its paths are 404 like any unknown path.

Deliberate difference: custom-metrics-apiserver's `/apis/custom.metrics.k8s.io` lists
only the preferred version (v1beta2) although it serves v1beta1 too. We list every
served version, preferred first, as a generic apiserver's InstallAPIGroup does. In a
cluster the aggregator builds these documents from APIService objects, so this only
shows when the adapter is asked directly.

`/apis` also answers the aggregated discovery form (`apidiscovery.k8s.io/v2` or v2beta1
APIGroupDiscoveryList) when the Accept header asks for it, as kube-apiserver's
aggregator and kubectl do first; negotiation and the document are
`adapter.server.aggregated`'s.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from adapter.documents import metrics as metric_documents
from adapter.server import aggregated, documents, openapi, responses
from adapter.server.state import SERVED_APIS, VERSION, ServedAPI


def add_routes(router: web.UrlDispatcher, served: tuple[ServedAPI, ...]) -> None:
    for path in ("/apis", "/apis/"):
        router.add_route("*", path, _group_list)
    for api in served:
        for path in (f"/apis/{api.group.name}", f"/apis/{api.group.name}/"):
            router.add_route("*", path, _group_handler(api))
        for version in api.group.versions:
            base = f"/apis/{api.group.name}/{version}"
            for path in (base, base + "/"):
                router.add_route("*", path, _resource_list_handler(api, version))
    router.add_route("*", "/version", _version)
    router.add_route("*", "/version/", _version)
    router.add_route("*", "/openapi/v2", _openapi_v2)
    router.add_route("*", "/openapi/v3", _openapi_v3)
    router.add_route("*", "/openapi/v3/", _openapi_v3)
    router.add_route("*", "/openapi/v3/apis/{group}/{version}", _openapi_v3_document)


def server_address(request: web.BaseRequest) -> str:
    """The address this connection reached, `host:port`: what the generic apiserver
    advertises as its ExternalAddress in `/apis`."""
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        host, port = str(sockname[0]), int(sockname[1])
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return request.host


async def _group_list(request: web.Request) -> web.StreamResponse:
    responses.require_read(request)
    served = request.app[SERVED_APIS]
    negotiated = aggregated.negotiate(request.headers.get("Accept", ""))
    if negotiated.version is not None:
        return _aggregated(request, served, negotiated)
    groups = [api.group for api in served]
    return responses.json_response(
        request, documents.api_group_list(groups, server_address(request))
    )


def _aggregated(
    request: web.Request, served: tuple[ServedAPI, ...], negotiated: aggregated.Negotiated
) -> web.StreamResponse:
    """The APIGroupDiscoveryList, with the headers aggregated/etag.go sets: an ETag (304
    when If-None-Match carries it), `Vary: Accept` (the same URL answers two documents)
    and `Cache-Control: public`."""
    assert negotiated.version is not None
    items = [
        aggregated.group_discovery(
            api.group, {version: api.resources(version) for version in api.group.versions}
        )
        for api in served
    ]
    document = aggregated.discovery_list(negotiated.version, items)
    body = metric_documents.encode(document, pretty=responses.is_pretty(request))
    headers = {
        **responses.COMMON_HEADERS,
        "Cache-Control": "public",
        "Vary": "Accept",
        "ETag": aggregated.etag(body),
        "Content-Type": negotiated.content_type,
    }
    if request.headers.get("If-None-Match") == headers["ETag"]:
        del headers["Content-Type"]
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, headers=headers)


def _group_handler(api: ServedAPI) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        responses.require_read(request)
        return responses.json_response(request, documents.api_group(api.group, typed=True))

    return handle


def _resource_list_handler(api: ServedAPI, version: str) -> Handler:
    group_version = f"{api.group.name}/{version}"

    async def handle(request: web.Request) -> web.StreamResponse:
        responses.require_read(request)
        document = documents.api_resource_list(group_version, api.resources(version))
        return responses.json_response(request, document)

    return handle


async def _version(request: web.Request) -> web.StreamResponse:
    responses.require_read(request)
    return responses.json_response(request, request.app[VERSION].to_json())


_TITLE = "metrics-adapter"


def _served_groups(request: web.Request) -> list[str]:
    return [api.group.name for api in request.app[SERVED_APIS]]


async def _openapi_v2(request: web.Request) -> web.StreamResponse:
    responses.require_read(request)
    info = request.app[VERSION]
    document = openapi.swagger(_served_groups(request), _TITLE, info.git_version)
    return responses.json_response(request, document)


def _v3_document(request: web.Request, group: str, version: str) -> dict[str, object]:
    info = request.app[VERSION]
    return openapi.v3_document(group, version, _TITLE, info.git_version)


async def _openapi_v3(request: web.Request) -> web.StreamResponse:
    """The index: one entry per served group-version, its URL carrying the document's
    hash so clients (kubectl's cache) refetch only what changed."""
    responses.require_read(request)

    def hash_of(group: str, version: str) -> str:
        body = metric_documents.encode(_v3_document(request, group, version), pretty=False)
        return aggregated.etag(body).strip('"')

    return responses.json_response(request, openapi.v3_index(_served_groups(request), hash_of))


async def _openapi_v3_document(request: web.Request) -> web.StreamResponse:
    responses.require_read(request)
    group, version = request.match_info["group"], request.match_info["version"]
    if (group, version) not in openapi.group_versions(_served_groups(request)):
        raise responses.not_found()
    return responses.json_response(request, _v3_document(request, group, version))
