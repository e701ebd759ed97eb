"""PATCH bodies applied to stored objects: JSON merge patch, JSON patch, and strategic
merge patch approximated.

Owns the document arithmetic of a PATCH request (RFC 7386 and RFC 6902), pure and
independent of HTTP; which content type selects which, and the Status errors a bad
patch earns, are `adapter.sandbox.apiserver`'s.

Strategic merge patch is applied as a merge patch with its `$`-directives dropped. That
agrees with the real server for maps (labels, annotations, spec fields, replicas, the
status fields the HPA loop writes) and differs for lists that Kubernetes merges by key
(containers by name, conditions by type): here a list in the patch replaces the list.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

JSONValue = Any


class PatchError(ValueError):
    """A patch that does not apply (a failed `test`, a missing path)."""


class PatchFormatError(PatchError):
    """A patch body that is not a patch at all (wrong JSON shape, unknown op)."""


def merge_patch(target: JSONValue, patch: JSONValue) -> JSONValue:
    """RFC 7386: objects merge key by key, null deletes, anything else replaces."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result: dict[str, JSONValue] = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: JSONValue, patch: JSONValue) -> JSONValue:
    """Strategic merge patch without the schema: a merge patch minus `$` directives
    (`$patch`, `$retainKeys`, `$setElementOrder/...`, `$deleteFromPrimitiveList/...`)."""
    return merge_patch(target, _without_directives(patch))


def _without_directives(value: JSONValue) -> JSONValue:
    if isinstance(value, Mapping):
        return {
            key: _without_directives(item)
            for key, item in value.items()
            if not (isinstance(key, str) and key.startswith("$"))
        }
    if isinstance(value, list):
        return [_without_directives(item) for item in value]
    return value


def json_patch(target: JSONValue, operations: JSONValue) -> JSONValue:
    """RFC 6902 operations applied in order to a copy of the target."""
    if not isinstance(operations, list):
        raise PatchFormatError(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
        )
    document = copy.deepcopy(target)
    for operation in operations:
        if not isinstance(operation, Mapping):
            raise PatchFormatError("invalid JSON patch operation")
        op = operation.get("op")
        path = operation.get("path")
        if not isinstance(path, str):
            raise PatchFormatError(f"operation {op!r} missing path")
        if op == "add":
            document = _add(document, path, copy.deepcopy(_value(operation)))
        elif op == "remove":
            document, _ = _remove(document, path)
        elif op == "replace":
            document, _ = _remove(document, path)
            document = _add(document, path, copy.deepcopy(_value(operation)))
        elif op == "move":
            source = _from(operation)
            document, moved = _remove(document, source)
            document = _add(document, path, moved)
        elif op == "copy":
            document = _add(document, path, copy.deepcopy(_get(document, _from(operation))))
        elif op == "test":
            if _get(document, path) != _value(operation):
                raise PatchError(f"testing value {path} failed: test failed")
        else:
            raise PatchFormatError(f"Unexpected kind: {op}")
    return document


def _value(operation: Mapping[str, JSONValue]) -> JSONValue:
    if "value" not in operation:
        raise PatchFormatError(f"operation {operation.get('op')!r} missing value")
    return operation["value"]


def _from(operation: Mapping[str, JSONValue]) -> str:
    source = operation.get("from")
    if not isinstance(source, str):
        raise PatchFormatError(f"operation {operation.get('op')!r} missing from")
    return source


def _tokens(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _index(container: list[JSONValue], token: str, *, appending: bool) -> int:
    if appending and token == "-":
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError(f"invalid array index {token!r}")
    index = int(token)
    limit = len(container) if appending else len(container) - 1
    if index > limit:
        raise PatchError(f"array index {index} out of bounds")
    return index


def _parent(document: JSONValue, tokens: list[str], path: str) -> JSONValue:
    node = document
    for token in tokens[:-1]:
        if isinstance(node, dict):
            if token not in node:
                raise PatchError(f"missing path: {path}")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, appending=False)]
        else:
            raise PatchError(f"missing path: {path}")
    return node


def _get(document: JSONValue, path: str) -> JSONValue:
    tokens = _tokens(path)
    if not tokens:
        return document
    parent = _parent(document, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, appending=False)]
    raise PatchError(f"missing path: {path}")


def _add(document: JSONValue, path: str, value: JSONValue) -> JSONValue:
    tokens = _tokens(path)
    if not tokens:
        return value
    parent = _parent(document, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, appending=True), value)
    else:
        raise PatchError(f"missing path: {path}")
    return document


def _remove(document: JSONValue, path: str) -> tuple[JSONValue, JSONValue]:
    tokens = _tokens(path)
    if not tokens:
        return None, document
    parent = _parent(document, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return document, parent.pop(last)
    if isinstance(parent, list):
        return document, parent.pop(_index(parent, last, appending=False))
    raise PatchError(f"missing path: {path}")
