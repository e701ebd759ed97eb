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
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from adapter.server import documents, responses
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
    groups = [api.group for api in request.app[SERVED_APIS]]
    return responses.json_response(
        request, documents.api_group_list(groups, server_address(request))
    )


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


async def _openapi_v2(request: web.Request) -> web.StreamResponse:
    responses.require_read(request)
    info = request.app[VERSION]
    return responses.json_response(
        request, documents.openapi_v2("metrics-adapter", info.git_version)
    )


async def _openapi_v3(request: web.Request) -> web.StreamResponse:
    """The OpenAPI v3 root lists per-group-version documents; we publish none."""
    responses.require_read(request)
    return responses.json_response(request, {"paths": {}})
