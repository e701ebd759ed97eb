"""An in-process Kubernetes API server stand-in (aiohttp) over a `ClusterState`.

Owns the HTTP face of the sandbox cluster, on the real server's paths and wire format:
discovery (`/api`, `/api/v1`, `/apis`, `/apis/<g>`, `/apis/<g>/<v>`, `/version`), the
resource routes (`/api/v1/namespaces/<ns>/pods/<name>/<subresource>`, the all-namespaces
collections, the legacy `/watch/` prefix), bearer-token authentication and authorization
with the real Forbidden wording, content negotiation (plain JSON, or
PartialObjectMetadata[List] when asked by `Accept: application/json;as=...;g=meta.k8s.io;
v=v1`, 406 when nothing acceptable is asked), list encoding from pre-serialised objects,
newline-delimited watch streams, Status errors for everything that fails (404 for
unknown paths, 405 for verbs a route lacks), and the aggregation layer: a group-version
registered as an APIService (`ClusterState.register_api_service`) is proxied to its
backend with the front-proxy headers (`X-Remote-User`, `X-Remote-Group`) and a client
certificate, as kube-aggregator does.

Also the runner (`run_apiserver`) and kubeconfig writing, so `kubectl` and
kubernetes-asyncio can talk to it. What each verb does is `adapter.sandbox.rest`'s;
storage is `adapter.sandbox.store`'s.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml
from aiohttp import web

from adapter.k8s import gostrings, status
from adapter.k8s.access import Attributes, UserInfo, forbidden_error
from adapter.k8s.resources import ResourceInfo
from adapter.k8s.selectors import LabelSelector, SelectorError
from adapter.sandbox import applying, openapi, printing, protobuf, rest
from adapter.sandbox.access import impersonate
from adapter.sandbox.certs import CertificateAuthority, load_chain
from adapter.sandbox.store import (
    VIRTUAL_RESOURCES,
    APIServiceBackend,
    AuditRecord,
    ClusterState,
    StoredObject,
    Watcher,
)

__all__ = ["ADMIN_TOKEN", "STATE_KEY", "RunningApiServer", "build_app", "run_apiserver"]

log = logging.getLogger(__name__)

ADMIN_TOKEN = "sandbox-admin-token"
"""The token of the kubeconfig `write_kubeconfig` writes by default (system:masters)."""

STATE_KEY = web.AppKey("cluster_state", ClusterState)
_STOPPING_KEY = web.AppKey("stopping", asyncio.Event)
_SESSION_KEY = web.AppKey("proxy_session", aiohttp.ClientSession)
_PROXY_TLS_KEY = web.AppKey("proxy_tls", dict[tuple[str, str], ssl.SSLContext])

_JSON = "application/json"
_META_GROUP = "meta.k8s.io"
_META_VERSIONS = ("v1", "v1beta1")
_SUPPORTED_MEDIA = "application/json, application/yaml, application/vnd.kubernetes.protobuf"
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_DEFAULT_WATCH_TIMEOUT = 1800.0
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "authorization",
    }
)


def _not_found() -> status.StatusError:
    """What the real server answers for a path it has no route for."""
    return status.StatusError(
        404, "NotFound", "the server could not find the requested resource", {}
    )


def _method_not_allowed() -> status.StatusError:
    return status.StatusError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        {},
    )


def _json_response(body: Any, code: int = 200) -> web.Response:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return web.Response(body=raw, status=code, content_type=_JSON)


def _error_response(err: status.StatusError) -> web.Response:
    return _json_response(err.to_status(), err.code or 500)


# -- request parsing -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """A resource request's parts (apiserver's RequestInfoFactory)."""

    verb: str
    group: str
    version: str
    resource: str
    subresource: str
    name: str
    namespace: str
    path: str


def parse_resource_path(method: str, path: str, query: Any) -> RequestInfo | None:
    """Split `/api/v1/...` or `/apis/<g>/<v>/...` into a RequestInfo; None when the
    path is not a resource path."""
    parts = [part for part in path.strip("/").split("/")]
    if not parts or parts == [""]:
        return None
    if parts[0] == "api" and len(parts) >= 3:
        group, version, rest_parts = "", parts[1], parts[2:]
    elif parts[0] == "apis" and len(parts) >= 4:
        group, version, rest_parts = parts[1], parts[2], parts[3:]
    else:
        return None
    watch = False
    if rest_parts and rest_parts[0] == "watch":
        watch = True
        rest_parts = rest_parts[1:]
    namespace = ""
    if rest_parts and rest_parts[0] == "namespaces" and len(rest_parts) > 1:
        namespace = rest_parts[1]
        if len(rest_parts) > 2 and rest_parts[2] not in _NAMESPACE_SUBRESOURCES:
            rest_parts = rest_parts[2:]
    if not rest_parts or not rest_parts[0]:
        return None
    resource = rest_parts[0]
    name = rest_parts[1] if len(rest_parts) > 1 else ""
    subresource = rest_parts[2] if len(rest_parts) > 2 else ""
    if len(rest_parts) > 3:
        return None
    if watch or str(query.get("watch", "")).lower() in ("true", "1"):
        verb = "watch"
    else:
        verb = {
            "GET": "get" if name else "list",
            "HEAD": "get" if name else "list",
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete" if name else "deletecollection",
        }.get(method, method.lower())
    return RequestInfo(verb, group, version, resource, subresource, name, namespace, path)


# -- content negotiation ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MediaChoice:
    """`as` is "" for plain objects, else PartialObjectMetadata[List]; `version` is the
    meta.k8s.io version asked for."""

    as_kind: str = ""
    version: str = "v1"


def negotiate(accept: str | None, *, table: bool = False) -> MediaChoice:
    """The first acceptable entry of an Accept header. Table is not offered (clients
    that ask for it always list application/json after it)."""
    if not accept:
        return MediaChoice()
    for entry in accept.split(","):
        fields = [item.strip() for item in entry.split(";")]
        media = fields[0].lower()
        params: dict[str, str] = {}
        for item in fields[1:]:
            key, _, value = item.partition("=")
            params[key.strip().lower()] = value.strip()
        if params.get("q") in ("0", "0.0"):
            continue
        if media not in (_JSON, "application/*", "*/*"):
            continue
        as_kind = params.get("as", "")
        if not as_kind:
            return MediaChoice()
        if (
            table
            and as_kind == "Table"
            and params.get("g") == _META_GROUP
            and params.get("v") in _META_VERSIONS
        ):
            return MediaChoice("Table", params["v"])
        if (
            as_kind in ("PartialObjectMetadata", "PartialObjectMetadataList")
            and params.get("g") == _META_GROUP
            and params.get("v") in _META_VERSIONS
        ):
            return MediaChoice(as_kind, params["v"])
    raise status.StatusError(
        406, "NotAcceptable", f"only the following media types are accepted: {_SUPPORTED_MEDIA}"
    )


# -- discovery documents ---------------------------------------------------------------


def _resource_list(state: ClusterState, group: str, version: str) -> dict[str, Any] | None:
    infos = [info for info in state.mapper if info.group == group and info.version == version]
    if not infos:
        return None
    resources: list[dict[str, Any]] = []
    for info in sorted(infos, key=lambda item: item.resource):
        resources.append(dict(info.to_api()))
        for sub in sorted(state.subresources.get(info.group_resource, frozenset())):
            entry: dict[str, Any] = {
                "name": f"{info.resource}/{sub}",
                "singularName": "",
                "namespaced": info.namespaced,
                "kind": info.kind,
                "verbs": ["create"] if sub == "token" else ["get", "patch", "update"],
            }
            if sub == "token":
                entry.update(group="authentication.k8s.io", version="v1", kind="TokenRequest")
            if sub == "scale":
                entry = {
                    "name": f"{info.resource}/scale",
                    "singularName": "",
                    "namespaced": info.namespaced,
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": ["get", "patch", "update"],
                }
            resources.append(entry)
    doc: dict[str, Any] = {
        "kind": "APIResourceList",
        "groupVersion": version,
        "resources": resources,
    }
    if group:
        doc = {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}",
            "resources": resources,
        }
    return doc


def _group_docs(state: ClusterState) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    seen: set[str] = set()
    for group, versions in state.mapper.group_versions():
        if not group:
            continue
        seen.add(group)
        groups.append(_group_doc(group, versions))
    aggregated: dict[str, list[APIServiceBackend]] = {}
    for backend in state.api_services.values():
        if backend.group not in seen:
            aggregated.setdefault(backend.group, []).append(backend)
    ordered = sorted(
        aggregated.items(),
        key=lambda item: (-max(b.group_priority_minimum for b in item[1]), item[0]),
    )
    for group, backends in ordered:
        backends.sort(key=lambda b: (-b.version_priority, b.version))
        groups.append(_group_doc(group, [b.version for b in backends]))
    return groups


def _openapi_v3(state: ClusterState, group_version_path: str) -> dict[str, Any]:
    """Just enough OpenAPI v3 for kubectl: the index, and per group-version the PATCH
    operations with their group-version-kind and the fieldValidation parameter, which
    is what kubectl checks before leaving validation to the server, and the schemas of
    `adapter.sandbox.openapi` for `kubectl explain`. The stand-in does not validate
    fields against them, so `fieldValidation=Strict` is accepted and not enforced (a
    documented difference)."""
    index: dict[str, Any] = {}
    for group, versions in state.mapper.group_versions():
        for version in versions:
            key = f"apis/{group}/{version}" if group else f"api/{version}"
            index[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={state.resource_version}"}
    if not group_version_path:
        return {"paths": index}
    parts = group_version_path.split("/")
    if parts[0] == "api" and len(parts) == 2:
        group, version = "", parts[1]
    elif parts[0] == "apis" and len(parts) == 3:
        group, version = parts[1], parts[2]
    else:
        raise _not_found()
    paths: dict[str, Any] = {}
    kinds = sorted(
        {info.kind for info in state.mapper if info.group == group and info.version == version}
    )
    for info in state.mapper:
        if info.group != group or info.version != version or "patch" not in info.verbs:
            continue
        prefix = info.path_prefix + ("/namespaces/{namespace}" if info.namespaced else "")
        paths[f"{prefix}/{info.resource}/{{name}}"] = {
            "patch": {
                "operationId": f"patch{info.kind}",
                "parameters": [
                    {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                    {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                    {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                ],
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {
                    "group": info.group,
                    "version": info.version,
                    "kind": info.kind,
                },
                "responses": {"200": {"description": "OK"}},
            }
        }
    if not paths:
        raise _not_found()
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": state.version_info["gitVersion"]},
        "paths": paths,
        "components": {"schemas": openapi.schemas(group, version, kinds)},
    }


def _group_doc(group: str, versions: Sequence[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


# -- the handler -----------------------------------------------------------------------


async def _dispatch(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    user: UserInfo | None = None
    try:
        user = state.authenticator.authenticate(request.headers.get("Authorization"))
        user = impersonate(
            state.authorizer,
            user,
            request.headers.get("Impersonate-User"),
            request.headers.getall("Impersonate-Group", []),
        )
        response = await _route(request, state, user)
    except status.StatusError as err:
        response = _error_response(err)
    except ConnectionResetError:
        raise
    except Exception as err:  # a bug in the stand-in: answer as the real server would
        log.exception("sandbox apiserver failed on %s %s", request.method, request.path)
        response = _error_response(status.internal_error(str(err)))
    if state.audit_log is not None:
        state.audit_log.append(
            AuditRecord(
                method=request.method,
                path=request.path,
                query=request.query_string,
                accept=request.headers.get("Accept", ""),
                user=user.name if user is not None else "",
                code=response.status,
            )
        )
    return response


async def _route(request: web.Request, state: ClusterState, user: UserInfo) -> web.StreamResponse:
    path = request.path
    trimmed = path.rstrip("/") or "/"
    if trimmed in ("/healthz", "/livez", "/readyz"):
        return web.Response(text="ok", content_type="text/plain")
    if trimmed == "/version":
        return _json_response(state.version_info)
    if trimmed == "/api":
        host = request.host
        return _json_response(
            {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
            }
        )
    if trimmed == "/apis":
        return _json_response(
            {"kind": "APIGroupList", "apiVersion": "v1", "groups": _group_docs(state)}
        )
    if trimmed == "/openapi/v3" or trimmed.startswith("/openapi/v3/"):
        return _json_response(_openapi_v3(state, trimmed[len("/openapi/v3/") :]))
    parts = trimmed.strip("/").split("/")
    if parts[0] == "apis" and len(parts) >= 3 and (parts[1], parts[2]) in state.api_services:
        return await _proxy(request, state.api_services[(parts[1], parts[2])], user)
    if trimmed == "/api/v1" or (parts[0] == "apis" and len(parts) == 3):
        group, version = ("", "v1") if parts[0] == "api" else (parts[1], parts[2])
        doc = _resource_list(state, group, version)
        if doc is None:
            raise _not_found()
        return _json_response(doc)
    if parts[0] == "apis" and len(parts) == 2:
        for doc in _group_docs(state):
            if doc["name"] == parts[1]:
                return _json_response({"kind": "APIGroup", "apiVersion": "v1", **doc})
        raise _not_found()
    info_req = parse_resource_path(request.method, trimmed, request.query)
    if info_req is None:
        raise _not_found()
    return await _resource_request(request, state, user, info_req)


def _selected_name(req: RequestInfo, query: Any) -> str:
    """The name a list or watch is authorized with: its `metadata.name=` field selector's
    (requestinfo.go does this, so resourceNames rules cover a single-object watch)."""
    if req.name or req.verb not in ("list", "watch"):
        return req.name
    names = [
        term.split("=", 1)[1].lstrip("=")
        for term in str(query.get("fieldSelector", "")).split(",")
        if term.startswith("metadata.name=")
    ]
    return names[0] if len(names) == 1 and "/" not in names[0] else ""


def _authorize(state: ClusterState, user: UserInfo, req: RequestInfo, query: Any = None) -> None:
    attributes = Attributes(
        user=user,
        verb=req.verb,
        resource_request=True,
        group=req.group,
        resource=req.resource,
        subresource=req.subresource,
        namespace=req.namespace,
        name=_selected_name(req, query or {}),
        path=req.path,
    )
    decision = state.authorizer.authorize(attributes)
    if not decision.allowed:
        raise forbidden_error(attributes, decision.reason)


async def _resource_request(
    request: web.Request, state: ClusterState, user: UserInfo, req: RequestInfo
) -> web.StreamResponse:
    info = state.mapper.for_version(req.group, req.version, req.resource)
    if info is None:
        raise _not_found()
    namespace = req.namespace if info.namespaced else ""
    if info.group_resource.resource == "namespaces" and not info.group:
        namespace = ""
    if req.namespace and not info.namespaced and info.resource != "namespaces":
        raise _not_found()
    if info.namespaced and not req.namespace and req.verb not in ("list", "watch"):
        raise _not_found()
    if (req.verb == "create" and req.name and req.subresource != "token") or (
        req.verb in ("update", "patch") and not req.name
    ):
        raise _method_not_allowed()
    if req.subresource:
        allowed_subs = state.subresources.get(info.group_resource, frozenset())
        if req.subresource not in allowed_subs:
            raise _not_found()
        allowed_verbs = ("create",) if req.subresource == "token" else ("get", "update", "patch")
        if req.verb not in allowed_verbs:
            raise _method_not_allowed()
    elif req.verb not in info.verbs:
        raise _method_not_allowed()
    _authorize(state, user, req, request.query)
    query = request.query
    if info.group_resource in VIRTUAL_RESOURCES:
        return await _virtual(request, state, user, info, namespace, req)
    verb = req.verb
    if req.subresource == "token":
        body = _json_body(request, await request.read())
        return _json_response(rest.create_token(state, namespace, req.name, body), 201)
    if req.subresource == "scale":
        if verb == "get":
            return _json_response(rest.get_scale(state, info, namespace, req.name))
        body = await request.read()
        if verb == "update":
            body = _json_body(request, body)
            return _json_response(rest.update_scale(state, info, namespace, req.name, body))
        return _json_response(
            rest.patch_scale(state, info, namespace, req.name, body, _content_type(request))
        )
    if query.get("dryRun") and verb not in ("create", "get", "list", "watch"):
        raise status.bad_request("dryRun is only supported for create by the sandbox API server")
    custom = rest.is_custom(state, info)
    if verb == "get":
        stored = state.stored(info.group_resource, namespace, req.name)
        if stored is None:
            raise status.not_found(info.group, info.resource, req.name)
        return _object_response(request, info, stored)
    if verb in ("list", "watch"):
        label_selector = _label_selector(query.get("labelSelector", ""))
        terms = rest.parse_field_selector(query.get("fieldSelector", ""))
        field_filter = rest.field_predicate(info, terms, custom=custom)
        if verb == "watch":
            if req.name:
                name_term = rest.FieldTerm("metadata.name", req.name, False)
                field_filter = rest.field_predicate(info, (*terms, name_term), custom=custom)
            return await _watch(
                request, state, info, namespace, label_selector, field_filter, custom
            )
        return _list_response(request, state, info, namespace, label_selector, field_filter, custom)
    negotiate(request.headers.get("Accept"))  # refuse before writing, as the real handlers do
    body = await request.read()
    if verb in ("create", "update"):
        body = _json_body(request, body)
    if verb == "create":
        stored = rest.create(state, info, namespace, body, dry_run=bool(query.get("dryRun")))
        return _object_response(request, info, stored, code=201)
    if verb == "update":
        stored = rest.update(state, info, namespace, req.name, body, req.subresource)
        return _object_response(request, info, stored)
    if verb == "patch" and _content_type(request) == applying.APPLY_PATCH and not req.subresource:
        stored, created = rest.server_side_apply(
            state,
            info,
            namespace,
            req.name,
            body,
            field_manager=query.get("fieldManager", ""),
            force=query.get("force", "").lower() == "true",
        )
        return _object_response(request, info, stored, code=201 if created else 200)
    if verb == "patch":
        stored = rest.patch(
            state, info, namespace, req.name, body, _content_type(request), req.subresource
        )
        return _object_response(request, info, stored)
    if verb == "delete":
        stored = rest.delete(state, info, namespace, req.name, body)
        return _object_response(request, info, stored)
    if verb == "deletecollection":
        label_selector = _label_selector(query.get("labelSelector", ""))
        terms = rest.parse_field_selector(query.get("fieldSelector", ""))
        field_filter = rest.field_predicate(info, terms, custom=custom)
        deleted: list[StoredObject] = []
        for stored in list(state.scan(info.group_resource, namespace)):
            if not label_selector.matches(stored.labels):
                continue
            if field_filter is not None and not field_filter(stored):
                continue
            deleted.append(state.remove(info, namespace, stored.name))
        return _json_response(
            _encode_list(info, deleted, state.resource_version, "", None, custom, MediaChoice())
        )
    raise _method_not_allowed()


def _json_body(request: web.Request, body: bytes) -> bytes:
    """A request body as JSON bytes: JSON as sent, YAML and Kubernetes protobuf (what
    kubectl's generators send) decoded. Other media types are a 415 worded as the real
    server's, naming what it accepts."""
    media = _content_type(request)
    if media in ("", _JSON) or not body:
        return body
    if media == protobuf.MEDIA_TYPE:
        try:
            return orjson.dumps(protobuf.decode(body))
        except protobuf.UnknownKind as err:
            raise status.StatusError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - {err}: accepted media "
                f"types for it include: {_JSON}, application/yaml",
            ) from err
        except protobuf.ProtobufError as err:
            raise status.bad_request(f"the object provided is unrecognized: {err}") from err
    if media == "application/yaml":
        try:
            return orjson.dumps(yaml.safe_load(body))
        except (yaml.YAMLError, TypeError) as err:
            raise status.bad_request(f"error converting YAML to JSON: {err}") from err
    raise status.StatusError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types "
        f"include: {_SUPPORTED_MEDIA}",
    )


def _content_type(request: web.Request) -> str:
    return request.headers.get("Content-Type", "").split(";")[0].strip().lower()


def _label_selector(text: str) -> LabelSelector:
    try:
        return LabelSelector.parse(text)
    except SelectorError as err:
        raise status.bad_request(str(err)) from err


def _object_response(
    request: web.Request, info: ResourceInfo, stored: StoredObject, code: int = 200
) -> web.Response:
    choice = negotiate(request.headers.get("Accept"), table=True)
    if choice.as_kind == "Table":
        return _json_response(
            printing.table(
                info.group_resource,
                [stored.obj],
                request.app[STATE_KEY].now(),
                {"resourceVersion": str(stored.rv)},
                f"{_META_GROUP}/{choice.version}",
            ),
            code,
        )
    if choice.as_kind == "PartialObjectMetadataList":
        raise status.StatusError(
            406,
            "NotAcceptable",
            "you requested PartialObjectMetadataList, but the requested object is not a list "
            f"(*{info.version}.{info.kind})",
        )
    if choice.as_kind == "PartialObjectMetadata":
        return _json_response(stored.metadata_bytes(f"{_META_GROUP}/{choice.version}"), code)
    return _json_response(stored.full_bytes(info.api_version), code)


def _encode_list(
    info: ResourceInfo,
    items: Sequence[StoredObject],
    rv: int,
    continue_token: str,
    remaining: int | None,
    custom: bool,
    choice: MediaChoice,
) -> bytes:
    """A list body assembled from the objects' cached bytes (no re-encoding)."""
    metadata: dict[str, Any] = {"resourceVersion": str(rv)}
    if choice.as_kind:
        meta_version = f"{_META_GROUP}/{choice.version}"
        if continue_token:
            metadata["continue"] = continue_token
        if remaining is not None:
            metadata["remainingItemCount"] = remaining
        head = orjson.dumps(
            {"kind": "PartialObjectMetadataList", "apiVersion": meta_version, "metadata": metadata}
        )
        encoded = b",".join(stored.metadata_bytes(meta_version) for stored in items)
        return head[:-1] + b',"items":[' + encoded + b"]}"
    if custom:
        # Unstructured lists: Go writes map keys sorted and always writes `continue`.
        metadata = {"continue": continue_token, "resourceVersion": str(rv)}
        if remaining is not None:
            metadata["remainingItemCount"] = remaining
        encoded = b",".join(
            stored.item_bytes(type_meta=True, api_version=info.api_version) for stored in items
        )
        return (
            b'{"apiVersion":'
            + orjson.dumps(info.api_version)
            + b',"items":['
            + encoded
            + b'],"kind":'
            + orjson.dumps(f"{info.kind}List")
            + b',"metadata":'
            + orjson.dumps(metadata)
            + b"}"
        )
    if continue_token:
        metadata["continue"] = continue_token
    if remaining is not None:
        metadata["remainingItemCount"] = remaining
    head = orjson.dumps(
        {"kind": f"{info.kind}List", "apiVersion": info.api_version, "metadata": metadata}
    )
    encoded = b",".join(
        stored.item_bytes(type_meta=False, api_version=info.api_version) for stored in items
    )
    return head[:-1] + b',"items":[' + encoded + b"]}"


def _int_param(query: Any, name: str) -> int:
    raw = query.get(name, "")
    if not raw:
        return 0
    try:
        return int(raw)
    except ValueError as err:
        raise status.bad_request(
            f"invalid {name}: strconv.ParseInt: parsing {gostrings.quote(raw)}: invalid syntax"
        ) from err


def _list_response(
    request: web.Request,
    state: ClusterState,
    info: ResourceInfo,
    namespace: str,
    label_selector: LabelSelector,
    field_filter: Callable[[StoredObject], bool] | None,
    custom: bool,
) -> web.Response:
    choice = negotiate(request.headers.get("Accept"), table=True)
    if choice.as_kind == "PartialObjectMetadata":
        raise status.StatusError(
            406,
            "NotAcceptable",
            "you requested PartialObjectMetadata, but the requested object is a list "
            f"(*{info.version}.{info.kind}List)",
        )
    query = request.query
    page = rest.list_page(
        state,
        info,
        namespace,
        label_selector=label_selector,
        field_filter=field_filter,
        limit=max(_int_param(query, "limit"), 0),
        continue_token=query.get("continue", ""),
        resource_version=query.get("resourceVersion", ""),
        resource_version_match=query.get("resourceVersionMatch", ""),
    )
    if choice.as_kind == "Table":
        list_meta: dict[str, Any] = {"resourceVersion": str(page.resource_version)}
        if page.continue_token:
            list_meta["continue"] = page.continue_token
        return _json_response(
            printing.table(
                info.group_resource,
                [stored.obj for stored in page.items],
                state.now(),
                list_meta,
                f"{_META_GROUP}/{choice.version}",
            )
        )
    return _json_response(
        _encode_list(
            info,
            page.items,
            page.resource_version,
            page.continue_token,
            page.remaining,
            custom,
            choice,
        )
    )


async def _watch(
    request: web.Request,
    state: ClusterState,
    info: ResourceInfo,
    namespace: str,
    label_selector: LabelSelector,
    field_filter: Callable[[StoredObject], bool] | None,
    custom: bool,
) -> web.StreamResponse:
    """A watch stream: one JSON event per line until timeoutSeconds, the client leaving,
    or the server stopping. An unusable resourceVersion is an ERROR event (HTTP 200).
    A watch that asks for Table (`kubectl get -w`) gets each event's object as a Table
    of one row, columns included, as the real server transforms watch events."""
    choice = negotiate(request.headers.get("Accept"), table=True)
    if choice.as_kind == "PartialObjectMetadataList":
        raise status.StatusError(
            406,
            "NotAcceptable",
            "you requested PartialObjectMetadataList, but the requested object is not a list "
            "(*watch.Event)",
        )
    query = request.query
    timeout = float(_int_param(query, "timeoutSeconds") or _DEFAULT_WATCH_TIMEOUT)
    rv_text = query.get("resourceVersion", "")
    send_initial = query.get("sendInitialEvents", "").lower() == "true"
    bookmarks = query.get("allowWatchBookmarks", "").lower() == "true"
    since: int | None = None
    if rv_text not in ("", "0") and not send_initial:
        try:
            since = int(rv_text)
        except ValueError as err:
            raise status.bad_request(f"invalid resource version: {rv_text}") from err

    def predicate(stored: StoredObject) -> bool:
        if not label_selector.matches(stored.labels):
            return False
        return field_filter is None or field_filter(stored)

    response = web.StreamResponse(status=200, headers={"Content-Type": _JSON})
    response.enable_chunked_encoding()
    meta_version = f"{_META_GROUP}/{choice.version}" if choice.as_kind else ""
    as_table = choice.as_kind == "Table"

    def encode(event_type: str, stored: StoredObject) -> bytes:
        if as_table:
            body = orjson.dumps(
                printing.table(
                    info.group_resource,
                    [stored.obj],
                    state.now(),
                    {"resourceVersion": str(stored.rv)},
                    meta_version,
                )
            )
        elif meta_version:
            body = stored.metadata_bytes(meta_version)
        else:
            body = stored.full_bytes(info.api_version)
        return b'{"type":"' + event_type.encode() + b'","object":' + body + b"}\n"

    try:
        watcher, initial = state.watch(info.group_resource, namespace, predicate, since)
    except status.StatusError as err:
        await response.prepare(request)
        await response.write(b'{"type":"ERROR","object":' + orjson.dumps(err.to_status()) + b"}\n")
        await response.write_eof()
        return response
    stopping = request.app[_STOPPING_KEY]
    await response.prepare(request)
    try:
        for event_type, stored in initial:
            await response.write(encode(event_type, stored))
        if send_initial and bookmarks:
            bookmark_kind = "Table" if as_table else "PartialObjectMetadata"
            bookmark = {
                "kind": bookmark_kind if meta_version else info.kind,
                "apiVersion": meta_version or info.api_version,
                "metadata": {
                    "resourceVersion": str(state.resource_version),
                    "creationTimestamp": None,
                    "annotations": {"k8s.io/initial-events-end": "true"},
                },
            }
            await response.write(b'{"type":"BOOKMARK","object":' + orjson.dumps(bookmark) + b"}\n")
        await _pump(response, watcher, stopping, timeout, encode)
    except (ConnectionResetError, aiohttp.ClientConnectionResetError):
        pass
    finally:
        watcher.close()
    with contextlib.suppress(ConnectionResetError, aiohttp.ClientConnectionResetError):
        await response.write_eof()
    return response


async def _pump(
    response: web.StreamResponse,
    watcher: Watcher,
    stopping: asyncio.Event,
    timeout: float,
    encode: Callable[[str, StoredObject], bytes],
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    stop_task = asyncio.ensure_future(stopping.wait())
    try:
        while not stopping.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            get_task = asyncio.ensure_future(watcher.queue.get())
            done, _ = await asyncio.wait(
                {get_task, stop_task}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            if get_task not in done:
                get_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await get_task
                continue
            event_type, stored = get_task.result()
            await response.write(encode(event_type, stored))
    finally:
        stop_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stop_task


async def _virtual(
    request: web.Request,
    state: ClusterState,
    user: UserInfo,
    info: ResourceInfo,
    namespace: str,
    req: RequestInfo,
) -> web.Response:
    if req.verb == "list":
        return _json_response(
            {
                "kind": f"{info.kind}List",
                "apiVersion": info.api_version,
                "metadata": {},
                "items": [],
            }
        )
    if req.verb == "get":
        raise status.not_found(info.group, info.resource, req.name)
    body = _json_body(request, await request.read())
    if info.resource == "bindings":
        return _json_response(rest.bind_pod(state, namespace, "", body), 201)
    return _json_response(rest.review(state, info, namespace, body, user), 201)


# -- aggregation -----------------------------------------------------------------------


async def _proxy(
    request: web.Request, backend: APIServiceBackend, user: UserInfo
) -> web.StreamResponse:
    """Forward to an aggregated API server as kube-aggregator does: the caller's
    identity in X-Remote-User / X-Remote-Group, the aggregator's own client certificate
    on the TLS connection, the response streamed back unchanged."""
    session = request.app.get(_SESSION_KEY)
    if session is None:
        raise status.service_unavailable("the aggregation proxy is not running")
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
    headers = [(k, v) for k, v in headers if not k.lower().startswith("x-remote-")]
    headers.append(("X-Remote-User", user.name))
    headers.extend(("X-Remote-Group", group) for group in user.groups)
    url = backend.url.rstrip("/") + request.rel_url.raw_path_qs
    ssl_context = _proxy_tls(request.app, backend) if url.startswith("https://") else True
    body = await request.read()
    try:
        async with session.request(
            request.method, url, headers=headers, data=body or None, ssl=ssl_context
        ) as upstream:
            response = web.StreamResponse(status=upstream.status)
            for key, value in upstream.headers.items():
                if key.lower() not in _HOP_BY_HOP:
                    response.headers.add(key, value)
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response
    except aiohttp.ClientError as err:
        raise status.service_unavailable(f"error trying to reach service: {err}") from err


def _proxy_tls(app: web.Application, backend: APIServiceBackend) -> ssl.SSLContext:
    """TLS towards a backend: its CA bundle (or no verification when the APIService says
    insecureSkipTLSVerify), presenting the front-proxy client certificate."""
    contexts = app[_PROXY_TLS_KEY]
    key = (backend.group, backend.version)
    context = contexts.get(key)
    if context is None:
        context = ssl.create_default_context(
            cadata=backend.ca_bundle.decode("ascii") if backend.ca_bundle else None
        )
        if backend.insecure_skip_tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        front = app[STATE_KEY].front_proxy_client
        if front is not None:
            load_chain(context, front.cert_pem, front.key_pem)
        contexts[key] = context
    return context


# -- application and runner ------------------------------------------------------------


def build_app(state: ClusterState) -> web.Application:
    """The aiohttp application; `run_apiserver` serves it, tests may wrap it."""
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[STATE_KEY] = state
    app[_STOPPING_KEY] = asyncio.Event()
    app[_PROXY_TLS_KEY] = {}
    app.router.add_route("*", "/{tail:.*}", _dispatch)

    async def proxy_session(app: web.Application) -> AsyncIterator[None]:
        session = aiohttp.ClientSession(trust_env=False, auto_decompress=False)
        app[_SESSION_KEY] = session
        yield
        await session.close()

    async def stop_watches(app: web.Application) -> None:
        app[_STOPPING_KEY].set()

    app.cleanup_ctx.append(proxy_session)
    app.on_shutdown.append(stop_watches)
    return app


@dataclass(slots=True)
class RunningApiServer:
    """A started stand-in: where it listens and how to reach it."""

    state: ClusterState
    host: str
    port: int
    url: str
    ca_pem: bytes | None = None
    admin_token: str = ADMIN_TOKEN

    def write_kubeconfig(
        self,
        path: str | Path,
        *,
        token: str | None = None,
        namespace: str = "default",
        context: str = "sandbox",
    ) -> Path:
        """A kubeconfig for kubectl and kubernetes-asyncio: this server, its CA when TLS
        is on, and a bearer token (the admin's unless another is given; "" for none)."""
        user: dict[str, Any] = {}
        chosen = self.admin_token if token is None else token
        if chosen:
            user["token"] = chosen
        cluster: dict[str, Any] = {"server": self.url}
        if self.ca_pem is not None:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem).decode("ascii")
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": cluster}],
            "users": [{"name": f"{context}-user", "user": user}],
            "contexts": [
                {
                    "name": context,
                    "context": {
                        "cluster": context,
                        "user": f"{context}-user",
                        "namespace": namespace,
                    },
                }
            ],
            "current-context": context,
            "preferences": {},
        }
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(config, sort_keys=False))
        target.chmod(0o600)
        return target


def _publish_authentication_config(state: ClusterState, ca_pem: bytes, front_ca: bytes) -> None:
    """kube-system/extension-apiserver-authentication, which aggregated API servers read
    to trust the front proxy (as kube-apiserver publishes it)."""
    state.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "extension-apiserver-authentication", "namespace": "kube-system"},
            "data": {
                "client-ca-file": ca_pem.decode("ascii"),
                "requestheader-client-ca-file": front_ca.decode("ascii"),
                "requestheader-allowed-names": '["front-proxy-client"]',
                "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]',
                "requestheader-group-headers": '["X-Remote-Group"]',
                "requestheader-username-headers": '["X-Remote-User"]',
            },
        }
    )


@asynccontextmanager
async def run_apiserver(
    state: ClusterState,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: bool = False,
    *,
    admin_token: str = ADMIN_TOKEN,
) -> AsyncIterator[RunningApiServer]:
    """Serve the cluster until the block exits. `port=0` picks a free port. With TLS a
    throw-away CA signs the serving certificate (its PEM is `server.ca_pem`) and a
    front-proxy client certificate is minted for aggregated API servers."""
    state.authenticator.add_token(admin_token, "sandbox-admin", ["system:masters"])
    ssl_context: ssl.SSLContext | None = None
    ca_pem: bytes | None = None
    if tls:
        authority = CertificateAuthority("sandbox-apiserver-ca")
        serving = authority.issue_server([host, "localhost", "kubernetes.default.svc"])
        ssl_context = serving.server_context()
        ca_pem = authority.cert_pem
        front_authority = CertificateAuthority("sandbox-front-proxy-ca")
        front = front_authority.issue_client("front-proxy-client")
        state.front_proxy_client = front
        _publish_authentication_config(state, ca_pem, front_authority.cert_pem)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    bound_port = sock.getsockname()[1]
    app = build_app(state)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0, access_log=None)
    await runner.setup()
    site = web.SockSite(runner, sock, ssl_context=ssl_context)
    try:
        await site.start()
        scheme = "https" if tls else "http"
        shown = f"[{host}]" if ":" in host else host
        yield RunningApiServer(
            state=state,
            host=host,
            port=bound_port,
            url=f"{scheme}://{shown}:{bound_port}",
            ca_pem=ca_pem,
            admin_token=admin_token,
        )
    finally:
        await runner.cleanup()
        sock.close()
