"""Server-side apply (`kubectl apply --server-side`) for the stand-in, simplified.

Owns what the stand-in does with a PATCH of type `application/apply-patch+yaml`: the
applied configuration is merged onto the live object (maps field by field, lists of
objects with a `name` key item by item, other lists and scalars replaced), the fields
the configuration sets are recorded as the manager's in `metadata.managedFields`
(operation Apply, FieldsV1 in the `f:<field>` / `k:{"name":...}` / `.` notation of
sigs.k8s.io/structured-merge-diff), fields the same manager applied before and left out
now are removed unless another manager also owns them, and a field another manager
applied with a different value is a 409 Conflict worded as the real one ("Apply failed
with 1 conflict: conflict with \"<manager>\" using <apiVersion>: .spec.replicas") unless
`force=true`, which takes the field over.

Deliberately simpler than the real thing: list keys are `name` only (the schemas' other
list-map keys, as `containerPort`, are treated as atomic lists), and only apply
operations are tracked - creates, updates and patches record no managedFields of their
own, so they never conflict with an apply.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import orjson

from adapter.k8s import gostrings, status

JSONObject = dict[str, Any]
Path = tuple[str, ...]

APPLY_PATCH = "application/apply-patch+yaml"
_SKIPPED_TOP = ("apiVersion", "kind", "status")
_SKIPPED_META = ("name", "namespace", "uid", "resourceVersion", "managedFields")


def _keyed(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(item, Mapping) and "name" in item for item in items)


def _item_key(item: Mapping[str, Any]) -> str:
    return "k:" + orjson.dumps({"name": item["name"]}).decode()


def fields_v1(config: Mapping[str, Any]) -> JSONObject:
    """The FieldsV1 set of the fields `config` sets."""

    def walk(value: Mapping[str, Any]) -> JSONObject:
        out: JSONObject = {}
        for key, child in value.items():
            name = f"f:{key}"
            if isinstance(child, Mapping) and child:
                out[name] = walk(child)
            elif isinstance(child, list) and _keyed(child):
                out[name] = {_item_key(item): {".": {}, **walk(item)} for item in child}
            else:
                out[name] = {}
        return out

    top = {k: v for k, v in config.items() if k not in _SKIPPED_TOP}
    metadata = {
        k: v for k, v in (top.pop("metadata", None) or {}).items() if k not in _SKIPPED_META
    }
    result = walk(top)
    if metadata:
        result = {"f:metadata": walk(metadata), **result}
    return result


def leaf_paths(fields: Mapping[str, Any], prefix: Path = ()) -> set[Path]:
    """Every path the set names: leaves, and list items (their `.` entry)."""
    paths: set[Path] = set()
    for key, child in fields.items():
        if key == ".":
            paths.add(prefix)
            continue
        path = (*prefix, key)
        if isinstance(child, Mapping) and child:
            paths |= leaf_paths(child, path)
        else:
            paths.add(path)
    return paths


def _lookup(obj: Any, path: Path) -> tuple[bool, Any]:
    node = obj
    for part in path:
        if part.startswith("f:") and isinstance(node, Mapping):
            if part[2:] not in node:
                return False, None
            node = node[part[2:]]
        elif part.startswith("k:") and isinstance(node, list):
            name = orjson.loads(part[2:])["name"]
            matches = [
                item for item in node if isinstance(item, Mapping) and item.get("name") == name
            ]
            if not matches:
                return False, None
            node = matches[0]
        else:
            return False, None
    return True, node


def _remove(obj: Any, path: Path) -> None:
    if not path:
        return
    found, parent = _lookup(obj, path[:-1])
    if not found:
        return
    last = path[-1]
    if last.startswith("f:") and isinstance(parent, dict):
        parent.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(parent, list):
        name = orjson.loads(last[2:])["name"]
        parent[:] = [i for i in parent if not (isinstance(i, Mapping) and i.get("name") == name)]


def _merge(live: Any, config: Any) -> Any:
    if isinstance(live, dict) and isinstance(config, Mapping):
        merged = dict(live)
        for key, value in config.items():
            merged[key] = _merge(live.get(key), value) if key in live else copy.deepcopy(value)
        return merged
    if isinstance(live, list) and isinstance(config, list) and _keyed(config) and _keyed(live):
        by_name = {item["name"]: item for item in live}
        merged_list = [
            _merge(by_name.get(item["name"]), item)
            if item["name"] in by_name
            else copy.deepcopy(item)
            for item in config
        ]
        applied = {item["name"] for item in config}
        return merged_list + [item for item in live if item["name"] not in applied]
    return copy.deepcopy(config)


def _dotted(path: Path) -> str:
    parts: list[str] = []
    for part in path:
        if part.startswith("f:"):
            parts.append("." + part[2:])
        elif part.startswith("k:"):
            parts.append("[name=" + gostrings.quote(orjson.loads(part[2:])["name"]) + "]")
    return "".join(parts)


def conflict_error(
    group: str, resource: str, name: str, conflicts: list[tuple[str, str, Path]]
) -> status.StatusError:
    """409 as the field manager words it: one line per conflicting field."""
    count = len(conflicts)
    if count == 1:
        manager, api_version, path = conflicts[0]
        message = (
            f"Apply failed with 1 conflict: conflict with {gostrings.quote(manager)} using "
            f"{api_version}: {_dotted(path)}"
        )
    else:
        lines = [f"Apply failed with {count} conflicts: "]
        by_manager: dict[tuple[str, str], list[Path]] = {}
        for manager, api_version, path in conflicts:
            by_manager.setdefault((manager, api_version), []).append(path)
        for (manager, api_version), paths in by_manager.items():
            lines.append(f"conflicts with {gostrings.quote(manager)} using {api_version}:")
            lines.extend(f"- {_dotted(path)}" for path in paths)
        message = "\n".join(lines)
    details: JSONObject = {
        "name": name,
        "kind": resource,
        "causes": [
            {
                "reason": "FieldManagerConflict",
                "message": f"conflict with {gostrings.quote(manager)} using {api_version}",
                "field": _dotted(path),
            }
            for manager, api_version, path in conflicts
        ],
    }
    if group:
        details["group"] = group
    return status.StatusError(409, "Conflict", message, details)


def apply(
    live: JSONObject | None,
    config: JSONObject,
    *,
    manager: str,
    api_version: str,
    now: str,
    force: bool,
    group: str,
    resource: str,
) -> JSONObject:
    """The object after applying `config` as `manager` (a new object when `live` is
    None), managedFields updated; 409 on conflicts unless `force`."""
    applied_fields = fields_v1(config)
    applied_paths = leaf_paths(applied_fields)
    base: JSONObject = copy.deepcopy(live) if live is not None else {}
    entries = list((base.get("metadata") or {}).get("managedFields") or [])
    mine = [e for e in entries if e.get("manager") == manager and e.get("operation") == "Apply"]
    others = [e for e in entries if e not in mine]
    conflicts: list[tuple[str, str, Path]] = []
    if live is not None:
        for entry in others:
            shared = leaf_paths(entry.get("fieldsV1") or {}) & applied_paths
            # a list item's own entry (`.`) names the item, not a value to compare
            for path in sorted(p for p in shared if p and not p[-1].startswith("k:")):
                found_live, live_value = _lookup(live, path)
                found_new, new_value = _lookup(config, path)
                if found_live and found_new and live_value != new_value:
                    conflicts.append(
                        (str(entry.get("manager", "")), str(entry.get("apiVersion", "")), path)
                    )
    if conflicts and not force:
        raise conflict_error(group, resource, str(config["metadata"].get("name", "")), conflicts)
    taken = {path for _, _, path in conflicts}
    kept_others: list[JSONObject] = []
    for entry in others:
        fields = entry.get("fieldsV1") or {}
        if taken and leaf_paths(fields) & taken:
            remaining = leaf_paths(fields) - taken
            if not remaining:
                continue
            entry = {**entry, "fieldsV1": _fields_from_paths(remaining)}
        kept_others.append(entry)
    owned_by_others = (
        set().union(*(leaf_paths(e.get("fieldsV1") or {}) for e in kept_others))
        if kept_others
        else set()
    )
    previous = set().union(*(leaf_paths(e.get("fieldsV1") or {}) for e in mine)) if mine else set()
    for path in sorted(previous - applied_paths - owned_by_others, key=len, reverse=True):
        _remove(base, path)
    merged: JSONObject = _merge(base, {k: v for k, v in config.items() if k != "metadata"})
    metadata = dict(base.get("metadata") or {})
    config_meta = config.get("metadata") or {}
    for key, value in config_meta.items():
        if key in ("labels", "annotations") and isinstance(value, Mapping):
            metadata[key] = {**(metadata.get(key) or {}), **value}
        elif key not in ("managedFields", "resourceVersion", "uid"):
            metadata[key] = copy.deepcopy(value)
    own: JSONObject = {
        "manager": manager,
        "operation": "Apply",
        "apiVersion": api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": applied_fields,
    }
    metadata["managedFields"] = [*kept_others, own]
    merged["metadata"] = metadata
    merged["apiVersion"] = config.get("apiVersion", api_version)
    merged["kind"] = config.get("kind", merged.get("kind"))
    return merged


def _fields_from_paths(paths: set[Path]) -> JSONObject:
    out: JSONObject = {}
    for path in paths:
        node = out
        for part in path:
            node = node.setdefault(part, {})
    return out
