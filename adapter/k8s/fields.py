"""Field selectors (`fieldSelector=status.phase=Running`), as apimachinery's fields package.

Pure vocabulary shared by the metrics.k8s.io provider, which answers them, and the API
server stand-in, which filters lists with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


class FieldSelectorError(ValueError):
    """A `fieldSelector` that does not parse; worded as apimachinery's fields package."""


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """One term of a field selector: `field=value`, `field==value` or `field!=value`."""

    field: str
    value: str
    negated: bool = False

    def matches(self, fields: Mapping[str, str]) -> bool:
        # A field the object does not have reads as "", as fields.Set.Get gives it.
        return (fields.get(self.field, "") == self.value) != self.negated

    def __str__(self) -> str:
        return f"{self.field}{'!=' if self.negated else '='}{_escape_field_value(self.value)}"


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """A parsed `fieldSelector`: a conjunction of requirements; empty selects everything."""

    requirements: tuple[FieldRequirement, ...] = ()

    @classmethod
    def parse(cls, text: str) -> FieldSelector:
        """`fields.ParseSelector`: terms split at unescaped commas, the first unescaped
        `!=`, `==` or `=` splits field from value, and a backslash escapes a backslash,
        a comma or an equals sign in a value."""
        requirements: list[FieldRequirement] = []
        for part in _split_unescaped(text):
            if not part:
                continue
            for operator, negated in (("!=", True), ("==", False), ("=", False)):
                index = _find_unescaped(part, operator)
                if index >= 0:
                    value = _unescape_field_value(part[index + len(operator) :], text)
                    requirements.append(FieldRequirement(part[:index], value, negated))
                    break
            else:
                raise FieldSelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        return cls(tuple(requirements))

    def is_empty(self) -> bool:
        return not self.requirements

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(requirement.matches(fields) for requirement in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self.requirements)


def _split_unescaped(text: str) -> list[str]:
    parts: list[str] = []
    start = 0
    index = 0
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == ",":
            parts.append(text[start:index])
            start = index + 1
        index += 1
    parts.append(text[start:])
    return parts


def _find_unescaped(text: str, operator: str) -> int:
    index = 0
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text.startswith(operator, index):
            return index
        index += 1
    return -1


def _unescape_field_value(value: str, whole: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(value):
        char = value[index]
        if char == "\\":
            if index + 1 >= len(value) or value[index + 1] not in "\\,=":
                raise FieldSelectorError(
                    f"invalid field selector: invalid escape sequence in '{whole}'"
                )
            out.append(value[index + 1])
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _escape_field_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")
