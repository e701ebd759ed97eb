"""PromQL series selectors (`seriesQuery`), parsed as Prometheus 2.x parses `match[]`.

A rule's `seriesQuery` goes to `/api/v1/series`, where Prometheus reads it with
`parser.ParseMetricSelector`: a vector selector and nothing else — a metric name, a
`{...}` list of label matchers, or both. A query Prometheus cannot parse used to be
found only at the first relist, where it failed every relist; reading it here at config
load lets `rules check` and `serve` name the file, the rule and the field instead.

The grammar follows Prometheus' lexer and generated parser (promql/parser/lex.go,
generated_parser.y): metric names `[a-zA-Z_:][a-zA-Z0-9_:]*` (PromQL keywords such
as `sum` or `offset` are names here, as Prometheus reads `match[]`); label names
`[a-zA-Z_][a-zA-Z0-9_]*`; operators `=`, `!=`, `=~`, `!~`; values
in double quotes, single quotes (both with Go's escapes: `\\a \\b \\f \\n \\r \\t \\v \\\\`,
the quote, octal `\\ooo`, `\\xhh`, `\\uhhhh`, `\\Uhhhhhhhh`) or backquotes (raw); an
optional trailing comma; whitespace and `#` comments between tokens. Then the checks
Prometheus makes after parsing: regex values compile as RE2 (Go's regexp), and at least
one matcher does not match the empty string ("vector selector must contain at least one
non-empty matcher"). Byte escapes that do not form UTF-8 (`\\xff`) are kept as Python's
surrogate escapes: Prometheus 2.42 accepts them, and no series value can equal them.
Every rule above is pinned against the real Prometheus in tests/rules/test_seriesselector.py.

`adapter.rules.seriesmatch` evaluates a parsed selector against label sets for
`rules explain --series`; this module only reads and writes the text.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Final

from adapter.k8s.gostrings import quote as go_quote
from adapter.rules import goregex

__all__ = ["LabelMatcher", "SeriesSelector", "SeriesSelectorError", "parse"]

OPERATORS: Final = ("=", "!=", "=~", "!~")

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_SIMPLE_ESCAPES: Final = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\",
}  # fmt: skip
_NUMERIC_ESCAPES: Final = {"x": (2, 16, 0xFF), "u": (4, 16, 0x10FFFF), "U": (8, 16, 0x10FFFF)}


class SeriesSelectorError(ValueError):
    """Text Prometheus would refuse as a series selector; says where and why."""

    def __init__(self, text: str, position: int, problem: str) -> None:
        self.text = text
        self.position = position
        self.problem = problem
        super().__init__(f"{problem} (at character {position + 1} of {text!r})")


@dataclass(frozen=True, slots=True)
class LabelMatcher:
    name: str
    op: str
    """One of `=`, `!=`, `=~`, `!~`."""
    value: str

    def __str__(self) -> str:
        return f"{self.name}{self.op}{go_quote(self.value)}"

    @property
    def is_regex(self) -> bool:
        return self.op in ("=~", "!~")

    def matches(self, value: str) -> bool:
        """Does a label with this value (absent reads as "") satisfy the matcher?"""
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        found = _anchored(self.value).fullmatch(value) is not None
        return found if self.op == "=~" else not found


@functools.lru_cache(maxsize=1024)
def _anchored(pattern: str) -> Any:
    """Prometheus anchors regex matchers at both ends: `^(?:pattern)$`."""
    return goregex.compile_go(f"^(?:{pattern})$")


@dataclass(frozen=True, slots=True)
class SeriesSelector:
    metric: str | None
    """The bare metric name before the braces, if any."""
    matchers: tuple[LabelMatcher, ...]
    """The label matchers inside the braces, in written order."""

    def __str__(self) -> str:
        body = "{" + ",".join(str(m) for m in self.matchers) + "}"
        if self.metric is None:
            return body
        return self.metric + (body if self.matchers else "")

    def all_matchers(self) -> tuple[LabelMatcher, ...]:
        """Every matcher Prometheus applies, the metric name as `__name__="..."`."""
        if self.metric is None:
            return self.matchers
        return (LabelMatcher("__name__", "=", self.metric), *self.matchers)

    def matches(self, labels: dict[str, str]) -> bool:
        return all(m.matches(labels.get(m.name, "")) for m in self.all_matchers())


def parse(text: str) -> SeriesSelector:
    """Read a series selector; raise SeriesSelectorError as Prometheus would refuse it."""
    return _Parser(text).selector()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def fail(self, problem: str, at: int | None = None) -> SeriesSelectorError:
        return SeriesSelectorError(self.text, self.at if at is None else at, problem)

    def skip_space(self) -> None:
        text = self.text
        while self.at < len(text):
            char = text[self.at]
            if char in " \t\r\n":
                self.at += 1
            elif char == "#":  # a comment runs to the end of the line
                end = text.find("\n", self.at)
                self.at = len(text) if end < 0 else end + 1
            else:
                return

    def peek(self) -> str:
        self.skip_space()
        return self.text[self.at] if self.at < len(self.text) else ""

    def selector(self) -> SeriesSelector:
        metric: str | None = None
        start = self.at
        if not self.peek():
            raise self.fail("empty: a series selector needs a metric name or {label matchers}")
        found = _METRIC_NAME.match(self.text, self.at)
        if found is not None:
            metric = found.group()
            self.at = found.end()
        matchers: tuple[LabelMatcher, ...] = ()
        if self.peek() == "{":
            matchers = self.braces()
        elif metric is None:
            raise self.fail(f"unexpected {self.peek()!r}: expected a metric name or '{{'")
        rest = self.peek()
        if rest:
            raise self.fail(f"unexpected {rest!r} after the selector (only a selector is allowed)")
        selector = SeriesSelector(metric, matchers)
        self.check(selector, start)
        return selector

    def braces(self) -> tuple[LabelMatcher, ...]:
        self.at += 1  # "{"
        matchers: list[LabelMatcher] = []
        while True:
            char = self.peek()
            if char == "}":
                self.at += 1
                return tuple(matchers)
            if not char:
                raise self.fail("unclosed '{': expected '}'")
            matchers.append(self.matcher())
            char = self.peek()
            if char == ",":
                self.at += 1
            elif char != "}":
                shown = repr(char) if char else "end of text"
                raise self.fail(f"unexpected {shown} in label matchers: expected ',' or '}}'")

    def matcher(self) -> LabelMatcher:
        found = _LABEL_NAME.match(self.text, self.at)
        if found is None:
            raise self.fail(f"unexpected {self.peek()!r}: expected a label name")
        name = found.group()
        self.at = found.end()
        self.skip_space()
        op = next((o for o in ("=~", "!~", "!=", "=") if self.text.startswith(o, self.at)), None)
        if op is None:
            raise self.fail(f"expected one of = != =~ !~ after label {name!r}")
        self.at += len(op)
        value = self.string()
        if op in ("=~", "!~"):
            try:
                goregex.compile_go(value)
                _anchored(value)
            except goregex.RegexError as err:
                raise self.fail(
                    f"invalid regular expression {value!r} for {name!r}: {err}"
                ) from err
        return LabelMatcher(name, op, value)

    def string(self) -> str:
        quote = self.peek()
        if quote not in ('"', "'", "`"):
            raise self.fail("expected a quoted label value")
        start = self.at
        self.at += 1
        text = self.text
        if quote == "`":
            end = text.find("`", self.at)
            if end < 0:
                raise self.fail("unterminated raw string", start)
            self.at = end + 1
            return text[start + 1 : end]
        out = bytearray()  # \xhh and \ooo are bytes, as in Go
        while True:
            if self.at >= len(text) or text[self.at] == "\n":
                raise self.fail("unterminated quoted string", start)
            char = text[self.at]
            self.at += 1
            if char == quote:
                return out.decode("utf-8", "surrogateescape")
            if char == "\\":
                out += self.escape(quote)
            else:
                out += char.encode("utf-8", "surrogatepass")

    def escape(self, quote: str) -> bytes:
        text = self.text
        if self.at >= len(text):
            raise self.fail("escape sequence not terminated")
        char = text[self.at]
        self.at += 1
        if char in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[char].encode()
        if char == quote:
            return quote.encode()
        if char in "01234567":
            digits, base, biggest = text[self.at - 1 : self.at + 2], 8, 0xFF
            self.at += 2
        elif char in _NUMERIC_ESCAPES:
            count, base, biggest = _NUMERIC_ESCAPES[char]
            digits = text[self.at : self.at + count]
            self.at += count
            if len(digits) < count:
                raise self.fail("escape sequence not terminated")
        else:
            raise self.fail(f"unknown escape sequence \\{char}", self.at - 2)
        allowed = "01234567" if base == 8 else "0123456789abcdefABCDEF"
        if len(digits) < (3 if base == 8 else 1) or any(d not in allowed for d in digits):
            raise self.fail(f"illegal character in escape sequence \\{char}{digits}")
        code = int(digits, base)
        if code > biggest or 0xD800 <= code < 0xE000:
            raise self.fail("escape sequence is an invalid Unicode code point")
        if char in "01234567x":
            return bytes((code,))
        return chr(code).encode("utf-8")

    def check(self, selector: SeriesSelector, start: int) -> None:
        if not any(not m.matches("") for m in selector.all_matchers()):
            raise self.fail("the selector must contain at least one non-empty matcher", start)
