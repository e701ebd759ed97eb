"""Kubernetes label selectors: the `app=web,tier in (a,b)` text and its API object form.

Owns what apimachinery's `labels` package and the metav1 selector helpers do: the
selector grammar with its lexer quirks (`labels.Parse`), key and value validation with
the same error messages, matching a label set, the canonical text form
(`Selector.String()`), and the conversions to and from `metav1.LabelSelector`
(`LabelSelectorAsSelector`, `ParseToLabelSelector`). Turning requirements into PromQL
matchers is the rule engine's job (`adapter.rules`); listing objects by selector is
`adapter.cluster`'s.

Selectors are parsed per request and matched against thousands of objects, so parsing
is memoised by text (selectors are immutable values) and matching avoids allocation.
"""

from __future__ import annotations

import enum
import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

from adapter.k8s.gostrings import quote as go_quote

__all__ = [
    "LabelSelector",
    "LabelSelectorDict",
    "LabelSelectorRequirementDict",
    "Operator",
    "Requirement",
    "SelectorError",
    "is_qualified_name",
    "is_valid_label_value",
]


class SelectorError(ValueError):
    """A selector that apimachinery would refuse; the message is apimachinery's own."""


class Operator(enum.StrEnum):
    """`selection.Operator`: the values are the strings apimachinery uses."""

    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


class LabelSelectorRequirementDict(TypedDict):
    """`metav1.LabelSelectorRequirement` on the wire."""

    key: str
    operator: str
    values: NotRequired[list[str]]


class LabelSelectorDict(TypedDict, total=False):
    """`metav1.LabelSelector` on the wire; both fields are omitted when empty."""

    matchLabels: dict[str, str]
    matchExpressions: list[LabelSelectorRequirementDict]


# --- validation (k8s.io/apimachinery/pkg/api/validate/content) -------------------------

_LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_KEY_RE = re.compile(_LABEL_KEY_FMT)
_LABEL_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_LABEL_VALUE_FMT = f"({_LABEL_KEY_FMT})?"
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, "
    "'-', '_' or '.', and must start and end with an alphanumeric character"
)
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = f"{_DNS1123_LABEL_FMT}(\\.{_DNS1123_LABEL_FMT})*"
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN_FMT)
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character"
)
_NAME_MAX = 63
_SUBDOMAIN_MAX = 253
_SIMPLE_VALUE_RE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    """`RegexError`: the message, its examples and the regex, in upstream's punctuation."""
    if not examples:
        return f"{message} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


def _max_len_error(length: int) -> str:
    return f"must be no more than {length} bytes"


def _byte_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def is_qualified_name(value: str) -> list[str]:
    """`validation.IsQualifiedName` (a label key): the list of what is wrong, or []."""
    errors: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = value
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            if _byte_len(prefix) > _SUBDOMAIN_MAX:
                errors.append("prefix part " + _max_len_error(_SUBDOMAIN_MAX))
            if not _DNS1123_SUBDOMAIN_RE.fullmatch(prefix):
                errors.append(
                    "prefix part "
                    + _regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com")
                )
    else:
        return [
            "a valid label key "
            + _regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errors.append("name part must be non-empty")
    elif _byte_len(name) > _NAME_MAX:
        errors.append("name part " + _max_len_error(_NAME_MAX))
    if not _LABEL_KEY_RE.fullmatch(name):
        errors.append(
            "name part "
            + _regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
        )
    return errors


def is_valid_label_value(value: str) -> list[str]:
    """`validation.IsValidLabelValue`: the list of what is wrong, or []."""
    if not value or _SIMPLE_VALUE_RE.fullmatch(value):
        return []
    errors: list[str] = []
    if _byte_len(value) > _NAME_MAX:
        errors.append(_max_len_error(_NAME_MAX))
    if not _LABEL_VALUE_RE.fullmatch(value):
        errors.append(
            _regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345")
        )
    return errors


def _go_json(value: object) -> str:
    """A value as Go's encoding/json writes it (compact, HTML characters escaped)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _invalid(path: str, bad_value: str | list[str] | None, detail: str) -> str:
    """`field.Invalid(path, value, detail).Error()`."""
    shown = go_quote(bad_value) if isinstance(bad_value, str) else _go_json(bad_value)
    return f"{path}: Invalid value: {shown}: {detail}"


def _aggregate(messages: list[str]) -> str:
    """`utilerrors.NewAggregate(...).Error()`: one message, or [a, b] without repeats."""
    if len(messages) == 1:
        return messages[0]
    unique = list(dict.fromkeys(messages))
    if len(unique) == 1:
        return unique[0]
    return "[" + ", ".join(unique) + "]"


_INT64_RE = re.compile(r"[+-]?[0-9]+")
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


def _parse_int64(text: str) -> int | None:
    """`strconv.ParseInt(text, 10, 64)`, or None where Go reports an error."""
    if not _INT64_RE.fullmatch(text):
        return None
    number = int(text)
    return number if _INT64_MIN <= number <= _INT64_MAX else None


def _requirement_errors(
    key: str, operator: Operator, values: list[str] | None, key_path: str
) -> list[str]:
    """Every complaint `labels.NewRequirement` makes, in its order and words."""
    errors: list[str] = []
    key_errors = is_qualified_name(key)
    if key_errors:
        errors.append(_invalid(key_path, key, "; ".join(key_errors)))
    count = len(values) if values else 0
    if operator in (Operator.IN, Operator.NOT_IN):
        if count == 0:
            errors.append(
                _invalid("values", values, "for 'in', 'notin' operators, values set can't be empty")
            )
    elif operator in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS):
        if count != 1:
            errors.append(
                _invalid("values", values, "exact-match compatibility requires one single value")
            )
    elif operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
        if count != 0:
            errors.append(
                _invalid("values", values, "values set must be empty for exists and does not exist")
            )
    else:
        if count != 1:
            errors.append(
                _invalid(
                    "values", values, "for 'Gt', 'Lt' operators, exactly one value is required"
                )
            )
        for index, value in enumerate(values or ()):
            if _parse_int64(value) is None:
                errors.append(
                    _invalid(
                        f"values[{index}]",
                        value,
                        "for 'Gt', 'Lt' operators, the value must be an integer",
                    )
                )
    for index, value in enumerate(values or ()):
        value_errors = is_valid_label_value(value)
        if value_errors:
            errors.append(_invalid(f"values[{index}][{key}]", value, "; ".join(value_errors)))
    return errors


# --- requirements and selectors ---------------------------------------------------------

_SET_OPERATORS = frozenset({Operator.IN, Operator.NOT_IN})
_INFIX = {
    Operator.EQUALS: "=",
    Operator.DOUBLE_EQUALS: "==",
    Operator.NOT_EQUALS: "!=",
    Operator.IN: " in ",
    Operator.NOT_IN: " notin ",
    Operator.GREATER_THAN: ">",
    Operator.LESS_THAN: "<",
}


@dataclass(frozen=True, slots=True)
class Requirement:
    """One `key op values` term of a selector.

    `values` is sorted; parsing also drops duplicates (apimachinery collects parsed
    values in a set), while `from_api` keeps them as the object gave them, like
    upstream. Build validated requirements with `Requirement.new`; the plain
    constructor trusts its input, as a Go struct literal does.
    """

    key: str
    operator: Operator
    values: tuple[str, ...]
    _value_set: frozenset[str] = field(init=False, repr=False, compare=False)
    _bound: int | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_value_set", frozenset(self.values))
        bound = None
        if self.operator in (Operator.GREATER_THAN, Operator.LESS_THAN) and len(self.values) == 1:
            bound = _parse_int64(self.values[0])
        object.__setattr__(self, "_bound", bound)

    @classmethod
    def new(cls, key: str, operator: Operator, values: Iterable[str] = ()) -> Requirement:
        """`labels.NewRequirement`: validate key, operator arity and values."""
        listed = list(values)
        errors = _requirement_errors(key, operator, listed, "key")
        if errors:
            raise SelectorError(_aggregate(errors))
        return cls(key, operator, tuple(sorted(listed)))

    def matches(self, labels: Mapping[str, str]) -> bool:
        """`Requirement.Matches`: notin and != also match objects without the key."""
        operator = self.operator
        if operator is Operator.EXISTS:
            return self.key in labels
        if operator is Operator.DOES_NOT_EXIST:
            return self.key not in labels
        value = labels.get(self.key)
        if operator is Operator.NOT_IN or operator is Operator.NOT_EQUALS:
            return value is None or value not in self._value_set
        if value is None:
            return False
        if operator is Operator.GREATER_THAN or operator is Operator.LESS_THAN:
            bound = self._bound
            number = _parse_int64(value)
            if bound is None or number is None:
                return False
            return number > bound if operator is Operator.GREATER_THAN else number < bound
        return value in self._value_set

    def __str__(self) -> str:
        """`Requirement.String()`: `k=v`, `k in (a,b)`, `k`, `!k`, `k>1`."""
        operator = self.operator
        if operator is Operator.EXISTS:
            return self.key
        if operator is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        joined = ",".join(self.values)
        if operator in _SET_OPERATORS:
            return f"{self.key}{_INFIX[operator]}({joined})"
        return f"{self.key}{_INFIX[operator]}{joined}"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A conjunction of requirements, sorted by key as apimachinery sorts them.

    `matches_nothing` is `labels.Nothing()`, what a missing (null) API selector means;
    it matches no object and has no text form.
    """

    requirements: tuple[Requirement, ...]
    matches_nothing: bool = False

    @classmethod
    def parse(cls, text: str) -> LabelSelector:
        """`labels.Parse`: the full grammar, validation and error messages; "" selects all."""
        return _parse_cached(text)

    @classmethod
    def everything(cls) -> LabelSelector:
        return _EVERYTHING

    @classmethod
    def nothing(cls) -> LabelSelector:
        return _NOTHING

    @classmethod
    def from_api(cls, obj: Mapping[str, Any] | None) -> LabelSelector:
        """`metav1.LabelSelectorAsSelector`: null selects nothing, {} selects everything.

        matchLabels become `=` requirements (in key order, where Go's map order is
        random), matchExpressions map In/NotIn/Exists/DoesNotExist; the first invalid
        entry raises with upstream's message.
        """
        if obj is None:
            return _NOTHING
        match_labels = obj.get("matchLabels") or {}
        match_expressions = obj.get("matchExpressions") or []
        if not isinstance(match_labels, Mapping) or not isinstance(match_expressions, list):
            raise SelectorError("matchLabels must be a map and matchExpressions a list")
        if not match_labels and not match_expressions:
            return _EVERYTHING
        requirements: list[Requirement] = []
        for key in sorted(match_labels):
            value = match_labels[key]
            if not isinstance(value, str):
                raise SelectorError(f"matchLabels[{key}] must be a string")
            requirements.append(_checked(key, Operator.EQUALS, [value]))
        for expression in match_expressions:
            if not isinstance(expression, Mapping):
                raise SelectorError("matchExpressions entries must be objects")
            raw_operator = expression.get("operator", "")
            operator = _API_OPERATORS.get(raw_operator) if isinstance(raw_operator, str) else None
            if operator is None:
                raise SelectorError(
                    f"{go_quote(str(raw_operator))} is not a valid pod selector operator"
                )
            key = expression.get("key", "")
            values = expression.get("values")
            if not isinstance(key, str) or not (
                values is None
                or (isinstance(values, list) and all(isinstance(v, str) for v in values))
            ):
                raise SelectorError("matchExpressions entries need a string key and string values")
            requirements.append(_checked(key, operator, values or None))
        requirements.sort(key=_by_key)
        return cls(tuple(requirements))

    @classmethod
    def from_set(cls, labels: Mapping[str, str]) -> LabelSelector:
        """`labels.SelectorFromSet`: exact matches on every pair, not validated; {} is all."""
        if not labels:
            return _EVERYTHING
        return cls(
            tuple(Requirement(key, Operator.EQUALS, (labels[key],)) for key in sorted(labels))
        )

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.matches_nothing:
            return False
        # A plain loop: all() over a generator costs a third more per object here.
        for requirement in self.requirements:  # noqa: SIM110
            if not requirement.matches(labels):
                return False
        return True

    def is_empty(self) -> bool:
        """`Selector.Empty()`: true when it selects everything (never for nothing)."""
        return not self.requirements and not self.matches_nothing

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self.requirements)

    def to_api(self) -> dict[str, Any] | None:
        """`metav1.ParseToLabelSelector` of this selector, as the JSON object Go writes.

        `=`/`==` go to matchLabels (a later duplicate key wins, as in the Go map),
        set and existence operators to matchExpressions; empty parts are omitted, so
        the empty selector is {}. `!=`, `gt` and `lt` have no API form and raise with
        upstream's message. The nothing selector has no text and gives None (null).
        """
        if self.matches_nothing:
            return None
        match_labels: dict[str, str] = {}
        expressions: list[dict[str, Any]] = []
        for requirement in self.requirements:
            operator = requirement.operator
            if operator is Operator.EQUALS or operator is Operator.DOUBLE_EQUALS:
                match_labels[requirement.key] = requirement.values[0]
                continue
            api_operator = _OPERATOR_TO_API.get(operator)
            if api_operator is None:
                if operator in (Operator.GREATER_THAN, Operator.LESS_THAN):
                    raise SelectorError(
                        f"{go_quote(operator.value)} isn't supported in label selectors"
                    )
                raise SelectorError(
                    f"{go_quote(operator.value)} is not a valid label selector operator"
                )
            expression: dict[str, Any] = {"key": requirement.key, "operator": api_operator}
            values = sorted(set(requirement.values))
            if values:
                expression["values"] = values
            expressions.append(expression)
        result: dict[str, Any] = {}
        if match_labels:
            result["matchLabels"] = dict(sorted(match_labels.items()))
        if expressions:
            result["matchExpressions"] = expressions
        return result


_EVERYTHING = LabelSelector(())
_NOTHING = LabelSelector((), matches_nothing=True)
_API_OPERATORS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}
_OPERATOR_TO_API = {
    Operator.IN: "In",
    Operator.NOT_IN: "NotIn",
    Operator.EXISTS: "Exists",
    Operator.DOES_NOT_EXIST: "DoesNotExist",
}


def _by_key(requirement: Requirement) -> str:
    return requirement.key


def _checked(key: str, operator: Operator, values: list[str] | None) -> Requirement:
    errors = _requirement_errors(key, operator, values, "key")
    if errors:
        raise SelectorError(_aggregate(errors))
    return Requirement(key, operator, tuple(sorted(values or ())))


# --- the parser (labels.Parse) ------------------------------------------------------------


class _Token(enum.Enum):
    ERROR = enum.auto()
    END = enum.auto()
    CLOSE_PAREN = enum.auto()
    COMMA = enum.auto()
    NOT = enum.auto()
    DOUBLE_EQUALS = enum.auto()
    EQUALS = enum.auto()
    GREATER = enum.auto()
    IDENTIFIER = enum.auto()
    IN = enum.auto()
    LESS = enum.auto()
    NOT_EQUALS = enum.auto()
    NOT_IN = enum.auto()
    OPEN_PAREN = enum.auto()


_LITERAL_TOKENS = {
    ")": _Token.CLOSE_PAREN,
    ",": _Token.COMMA,
    "!": _Token.NOT,
    "==": _Token.DOUBLE_EQUALS,
    "=": _Token.EQUALS,
    ">": _Token.GREATER,
    "in": _Token.IN,
    "<": _Token.LESS,
    "!=": _Token.NOT_EQUALS,
    "notin": _Token.NOT_IN,
    "(": _Token.OPEN_PAREN,
}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt"
_TOKEN_OPERATORS = {
    _Token.IN: Operator.IN,
    _Token.EQUALS: Operator.EQUALS,
    _Token.DOUBLE_EQUALS: Operator.DOUBLE_EQUALS,
    _Token.GREATER: Operator.GREATER_THAN,
    _Token.LESS: Operator.LESS_THAN,
    _Token.NOT_IN: Operator.NOT_IN,
    _Token.NOT_EQUALS: Operator.NOT_EQUALS,
}


def _lex(text: str) -> list[tuple[_Token, str]]:
    """Tokenise like apimachinery's Lexer, NUL-as-end-of-input quirk included.

    Go reads a NUL byte as end of input: where a token starts it ends the scan, after
    an operator or inside an identifier it is swallowed and only ends that token.
    Operators take the longest run of symbols that is a token.
    """
    items: list[tuple[_Token, str]] = []
    pos = 0
    end = len(text)
    while True:
        while pos < end and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= end or text[pos] == "\0":
            items.append((_Token.END, ""))
            return items
        char = text[pos]
        if char in _SPECIAL:
            buffer = ""
            found: tuple[_Token, str] | None = None
            while pos < end:
                char = text[pos]
                if char == "\0":
                    pos += 1
                    break
                if char not in _SPECIAL:
                    break
                token = _LITERAL_TOKENS.get(buffer + char)
                if token is not None:
                    buffer += char
                    found = (token, buffer)
                elif found is not None:
                    break
                else:
                    buffer += char
                pos += 1
            if found is None:
                items.append((_Token.ERROR, f"error expected: keyword found '{buffer}'"))
            else:
                items.append(found)
            continue
        start = pos
        while pos < end and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
            if text[pos] == "\0":
                break
            pos += 1
        word = text[start:pos]
        if pos < end and text[pos] == "\0":
            pos += 1
        items.append((_LITERAL_TOKENS.get(word, _Token.IDENTIFIER), word))


class _Parser:
    """Recursive descent over the scanned tokens, in the order apimachinery checks."""

    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.position = 0

    def lookahead(self, values: bool) -> tuple[_Token, str]:
        token, literal = self.items[self.position]
        if values and token in (_Token.IN, _Token.NOT_IN):
            token = _Token.IDENTIFIER
        return token, literal

    def consume(self, values: bool) -> tuple[_Token, str]:
        result = self.lookahead(values)
        self.position += 1
        return result

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            token, literal = self.lookahead(True)
            if token in (_Token.IDENTIFIER, _Token.NOT):
                try:
                    requirements.append(self.requirement())
                except SelectorError as error:
                    raise SelectorError(f"unable to parse requirement: {error}") from None
                token, literal = self.consume(True)
                if token is _Token.END:
                    return requirements
                if token is _Token.COMMA:
                    next_token, next_literal = self.lookahead(True)
                    if next_token not in (_Token.IDENTIFIER, _Token.NOT):
                        raise SelectorError(
                            f"found '{next_literal}', expected: identifier after ','"
                        )
                    continue
                raise SelectorError(f"found '{literal}', expected: ',' or 'end of string'")
            if token is _Token.END:
                return requirements
            raise SelectorError(f"found '{literal}', expected: !, identifier, or 'end of string'")

    def requirement(self) -> Requirement:
        key, operator = self.key_and_inferred_operator()
        if operator is not None:
            return _checked(key, operator, [])
        operator = self.operator()
        values = self.value_set() if operator in _SET_OPERATORS else self.exact_value()
        return _checked(key, operator, sorted(values))

    def key_and_inferred_operator(self) -> tuple[str, Operator | None]:
        operator: Operator | None = None
        token, literal = self.consume(True)
        if token is _Token.NOT:
            operator = Operator.DOES_NOT_EXIST
            token, literal = self.consume(True)
        if token is not _Token.IDENTIFIER:
            raise SelectorError(f"found '{literal}', expected: identifier")
        key_errors = is_qualified_name(literal)
        if key_errors:
            raise SelectorError(_invalid("<nil>", literal, "; ".join(key_errors)))
        following, _ = self.lookahead(True)
        if following in (_Token.END, _Token.COMMA) and operator is None:
            operator = Operator.EXISTS
        return literal, operator

    def operator(self) -> Operator:
        token, literal = self.consume(False)
        operator = _TOKEN_OPERATORS.get(token)
        if operator is None:
            raise SelectorError(f"found '{literal}', expected: {_BINARY_OPERATORS}")
        return operator

    def value_set(self) -> set[str]:
        token, literal = self.consume(True)
        if token is not _Token.OPEN_PAREN:
            raise SelectorError(f"found '{literal}' expected: '('")
        token, literal = self.lookahead(True)
        if token in (_Token.IDENTIFIER, _Token.COMMA):
            values = self.identifiers()
            closing, _ = self.consume(True)
            if closing is not _Token.CLOSE_PAREN:
                raise SelectorError(f"found '{literal}', expected: ')'")
            return values
        if token is _Token.CLOSE_PAREN:
            self.consume(True)
            return {""}
        raise SelectorError(f"found '{literal}', expected: ',', ')' or identifier")

    def identifiers(self) -> set[str]:
        values: set[str] = set()
        while True:
            token, literal = self.consume(True)
            if token is _Token.IDENTIFIER:
                values.add(literal)
                next_token, next_literal = self.lookahead(True)
                if next_token is _Token.COMMA:
                    continue
                if next_token is _Token.CLOSE_PAREN:
                    return values
                raise SelectorError(f"found '{next_literal}', expected: ',' or ')'")
            if token is _Token.COMMA:
                if not values:
                    values.add("")
                next_token, _ = self.lookahead(True)
                if next_token is _Token.CLOSE_PAREN:
                    values.add("")
                    return values
                if next_token is _Token.COMMA:
                    self.consume(True)
                    values.add("")
                continue
            raise SelectorError(f"found '{literal}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        token, _ = self.lookahead(True)
        if token in (_Token.END, _Token.COMMA):
            return {""}
        token, literal = self.consume(True)
        if token is _Token.IDENTIFIER:
            return {literal}
        raise SelectorError(f"found '{literal}', expected: identifier")


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str) -> LabelSelector:
    if not text:
        return _EVERYTHING
    requirements = _Parser(text).parse()
    if not requirements:
        return _EVERYTHING
    requirements.sort(key=_by_key)
    return LabelSelector(tuple(requirements))
