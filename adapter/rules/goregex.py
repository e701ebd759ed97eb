"""Regular expressions as Go's `regexp` package reads them, for rule configs.

prometheus-adapter compiles `name.matches` and `seriesFilters` with Go's RE2 and names
metrics with `Regexp.Expand`. We compile with google-re2 (the same engine and syntax) and
re-implement the expansion rules here, so `name.as` templates expand as they do in Go —
except for one deliberate fix described at `expand`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import re2

_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


class RegexError(ValueError):
    """A pattern RE2 does not accept; the message is RE2's own."""


def compile_go(pattern: str) -> Any:
    """Compile with RE2 semantics; raise RegexError with RE2's reason."""
    try:
        return re2.compile(pattern)
    except re2.error as err:
        raise RegexError(str(err) or "invalid pattern") from err


@dataclass(frozen=True, slots=True)
class ExpandReference:
    """One `$name` / `${name}` reference found in an expansion template."""

    text: str
    """The reference as written, e.g. `$1_per_second` or `${1}`."""
    name: str
    braced: bool


def references(template: str) -> list[ExpandReference]:
    """The references in a Go expansion template, in order (`$$` is a literal `$`)."""
    found: list[ExpandReference] = []
    pos = 0
    while True:
        dollar = template.find("$", pos)
        if dollar < 0 or dollar + 1 >= len(template):
            return found
        if template[dollar + 1] == "$":
            pos = dollar + 2
            continue
        parsed = _extract(template, dollar + 1)
        if parsed is None:
            pos = dollar + 1
            continue
        name, end, braced = parsed
        found.append(ExpandReference(template[dollar:end], name, braced))
        pos = end


def _extract(template: str, start: int) -> tuple[str, int, bool] | None:
    """Go's rule: a name is a non-empty run of letters, digits and underscores, taken greedily."""
    braced = template[start] == "{"
    pos = start + 1 if braced else start
    end = pos
    while end < len(template) and (template[end] in _NAME_CHARS or template[end].isalpha()):
        end += 1
    if end == pos:
        return None
    name = template[pos:end]
    if braced:
        if end >= len(template) or template[end] != "}":
            return None
        end += 1
    return name, end, braced


def group_index(regex: Any, name: str) -> int | None:
    """The submatch a reference names, as Go resolves it; None when Go would expand to ""."""
    if name.isdigit():
        # Go parses the number and gives up above 1e8; an index out of range expands to "".
        if len(name) > 9:
            return None
        index = int(name)
        return index if index <= regex.groups else None
    index_by_name: dict[str, int] = regex.groupindex
    return index_by_name.get(name)


def _resolve(regex: Any, name: str, *, lenient: bool) -> tuple[int | None, str]:
    """The group a reference names and any text to keep after it.

    Go reads `$1_per_second` as a group named `1_per_second`, which never exists, so the
    metric name silently becomes empty. Leniently, when the greedy name resolves to nothing
    and starts with digits that do name a group, that group is used and the rest of the
    name is kept as text.
    """
    index = group_index(regex, name)
    if index is not None or not lenient:
        return index, ""
    digits = len(name) - len(name.lstrip("0123456789"))
    if digits and digits < len(name):
        index = group_index(regex, name[:digits])
        if index is not None:
            return index, name[digits:]
    return None, ""


def expand(
    regex: Any, template: str, subject: str, match: Any, *, go_compatible: bool = False
) -> str:
    """Expand `template` against `match` the way Go's `Regexp.ExpandString` does.

    With `go_compatible=False` (what the adapter uses) a `$1_per_second` reference expands
    as `${1}_per_second`; see `_resolve`. `rules check` warns about every
    template where the two readings differ.
    """
    out: list[str] = []
    pos = 0
    while True:
        dollar = template.find("$", pos)
        if dollar < 0:
            out.append(template[pos:])
            return "".join(out)
        out.append(template[pos:dollar])
        if dollar + 1 < len(template) and template[dollar + 1] == "$":
            out.append("$")
            pos = dollar + 2
            continue
        parsed = _extract(template, dollar + 1) if dollar + 1 < len(template) else None
        if parsed is None:
            out.append("$")
            pos = dollar + 1
            continue
        name, end, braced = parsed
        pos = end
        index, suffix = _resolve(regex, name, lenient=not (go_compatible or braced))
        if index is not None:
            value = match.group(index)
            if value is not None:
                out.append(value)
        out.append(suffix)
