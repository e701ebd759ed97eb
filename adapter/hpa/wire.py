"""Reading raw Kubernetes JSON with errors that name the field.

Owns the one thing every reader of snapshot input needs: fetching a member of decoded
JSON/YAML with its expected JSON type checked, and failing with a `WireError` that
carries the dotted path (`hpa.spec.metrics[0].resource.target`) the way the API server
names fields. Interpreting the values is left to `adapter.hpa.defaults`,
`adapter.hpa.snapshot` and `adapter.hpa.sources`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from adapter.k8s.quantity import Quantity, QuantityError
from adapter.k8s.timefmt import parse_time

__all__ = [
    "WireError",
    "as_map",
    "child",
    "index",
    "items",
    "opt_bool",
    "opt_int",
    "opt_int32",
    "opt_list",
    "opt_map",
    "opt_quantity",
    "opt_str",
    "opt_string_map",
    "opt_time",
    "req_int",
    "req_str",
]

T = TypeVar("T")


class WireError(ValueError):
    """Raw input that does not decode into the expected Kubernetes type."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.detail = message


def child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def index(path: str, position: int) -> str:
    return f"{path}[{position}]"


_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    bool: "a boolean",
    dict: "an object",
    list: "a list",
}


def _typed(obj: Mapping[str, Any], key: str, path: str, kind: type[T]) -> T | None:
    value = obj.get(key)
    if value is None:
        return None
    if kind is int and isinstance(value, bool):
        raise WireError(child(path, key), f"must be {_TYPE_NAMES[int]}, not {value!r}")
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)  # type: ignore[return-value]
    if not isinstance(value, kind):
        raise WireError(child(path, key), f"must be {_TYPE_NAMES[kind]}, not {value!r}")
    return value


def opt_str(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    return _typed(obj, key, path, str)


def req_str(obj: Mapping[str, Any], key: str, path: str) -> str:
    value = opt_str(obj, key, path)
    if value is None:
        raise WireError(child(path, key), "Required value")
    return value


INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def _ranged(obj: Mapping[str, Any], key: str, path: str, bits: int) -> int | None:
    """An integer the API declares with `bits` bits: the API server's JSON decoder
    refuses a number outside that range before validation ever sees it ("cannot
    unmarshal number ... of type int32"), so a snapshot holding one is invalid too."""
    value = _typed(obj, key, path, int)
    if value is None:
        return None
    low, high = (INT32_MIN, INT32_MAX) if bits == 32 else (INT64_MIN, INT64_MAX)
    if not low <= value <= high:
        raise WireError(
            child(path, key), f"Invalid value: {value}: must fit in int{bits} ({low} to {high})"
        )
    return value


def opt_int(obj: Mapping[str, Any], key: str, path: str) -> int | None:
    """An int64 field."""
    return _ranged(obj, key, path, 64)


def opt_int32(obj: Mapping[str, Any], key: str, path: str) -> int | None:
    """An int32 field: replica counts, seconds and percentages in autoscaling/v2
    (k8s.io/api autoscaling/v2 types.go declares them int32)."""
    return _ranged(obj, key, path, 32)


def req_int(obj: Mapping[str, Any], key: str, path: str) -> int:
    value = opt_int(obj, key, path)
    if value is None:
        raise WireError(child(path, key), "Required value")
    return value


def opt_bool(obj: Mapping[str, Any], key: str, path: str) -> bool | None:
    return _typed(obj, key, path, bool)


def opt_map(obj: Mapping[str, Any], key: str, path: str) -> dict[str, Any] | None:
    return _typed(obj, key, path, dict)


def opt_list(obj: Mapping[str, Any], key: str, path: str) -> list[Any] | None:
    return _typed(obj, key, path, list)


def opt_string_map(obj: Mapping[str, Any], key: str, path: str) -> dict[str, str] | None:
    """A map[string]string such as labels; YAML scalars must already be strings."""
    value = opt_map(obj, key, path)
    if value is None:
        return None
    for name, item in value.items():
        if not isinstance(name, str) or not isinstance(item, str):
            raise WireError(child(child(path, key), str(name)), f"must be a string, not {item!r}")
    return value


def as_map(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WireError(path, f"must be an object, not {value!r}")
    return value


def opt_quantity(obj: Mapping[str, Any], key: str, path: str) -> Quantity | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise WireError(child(path, key), f"must be a quantity, not {value!r}")
    text = str(value) if not isinstance(value, float) else repr(value)
    try:
        return Quantity.parse(text)
    except QuantityError as err:
        raise WireError(child(path, key), f"Invalid value: {text!r}: {err.reason}") from err


def opt_time(obj: Mapping[str, Any], key: str, path: str) -> datetime | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise WireError(child(path, key), f"must be an RFC 3339 time, not {value!r}")
    try:
        return parse_time(value)
    except ValueError as err:
        raise WireError(child(path, key), f"must be an RFC 3339 time: {err}") from err


def items(value: Sequence[Any] | None) -> Sequence[Any]:
    return value if value is not None else ()
