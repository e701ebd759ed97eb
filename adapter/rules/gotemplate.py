"""Go ``text/template`` semantics in pure Python, for prometheus-adapter's rule templates.

prometheus-adapter renders ``metricsQuery``, ``resources.template`` and the resource-rule
queries with Go's ``text/template`` (delimiters ``<<`` ``>>``). A config that works there
must render byte-for-byte the same here, so this module follows the Go implementation
(``text/template/parse/lex.go``, ``parse.go``, ``exec.go``, ``funcs.go``, and the parts of
``fmt`` the built-ins reach) rather than any Python templating idiom.

Owns: lexing (configurable delimiters, ``{{-``/``-}}`` trim markers, comments, Go literals),
parsing into an immutable tree (``if``/``else if``/``range``/``with``/``else with``/
``break``/``continue``/variables/``define``/``template``/``block``), executing that tree
against Python data standing in for Go values, the built-in functions, Go's ``fmt``
printing of values, and Go-shaped error messages. Parse once, execute many times: the
tree is built by :meth:`Template.parse` and :meth:`Template.execute` only walks it.

Leaves to callers: building the data (``adapter.rules.query`` builds prometheus-adapter's
``queryTemplateArgs``, ``adapter.rules.resources`` its ``schema.GroupResource``), checking
rendered output (an empty query is the caller's error), and deciding what a failure means.

Data model (Python value -> Go value):

* :class:`GoStruct` -> a struct: ``.Name`` of a missing field is an error
  ``can't evaluate field Name in type <type_name>``; lower-case names are unexported.
* ``dict``/``Mapping`` -> a map whose key type is ``string`` (unless the first key is not a
  ``str``) and whose element type is inferred from the values (``map[string]string`` when
  all are ``str`` or the map is empty). :class:`GoMap` states both types explicitly.
  As in Go with the default ``missingkey`` option, ``.key`` of an absent key yields "no
  value" (printed ``<no value>``) for every map type, while ``index`` of an absent key
  yields the zero value of the element type (``""`` for ``map[string]string``).
* ``list``/``tuple`` -> a slice; ``str`` -> string; ``int`` -> int; ``float`` -> float64;
  ``complex`` -> complex128; ``bool`` -> bool.
* ``None`` -> Go's "no value" (a nil interface): an action prints it as ``<no value>``,
  ``fmt`` (``print``, ``printf``, inside slices and maps) prints it as ``<nil>``.

Deviations, all outside what rule configs use: no methods, custom functions or ``call``
targets (data holds no functions, so ``call`` always fails as Go does for non-functions);
no unsigned integer type; ``\\x``/octal escapes that form invalid UTF-8 decode with
replacement characters; nested ``template`` calls stop at depth
:data:`MAX_TEMPLATE_DEPTH` rather than Go's 100000, parenthesized pipelines at depth 100
rather than Go's 10000; one execution stops after :data:`MAX_RANGE_ITERATIONS` `range`
iterations, where Go has no limit.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final, Protocol
from urllib.parse import quote_plus

from adapter.k8s import gostrings

__all__ = [
    "MAX_RANGE_ITERATIONS",
    "MAX_TEMPLATE_DEPTH",
    "GoMap",
    "GoStruct",
    "Template",
    "TemplateError",
    "TemplateExecError",
    "TemplateSyntaxError",
]


class TemplateError(ValueError):
    """A Go template could not be parsed or executed; the message is Go's."""


class TemplateSyntaxError(TemplateError):
    """Parsing failed, e.g. ``template: metrics-query:1: unexpected "}" in operand``."""


class TemplateExecError(TemplateError):
    """Execution failed, e.g. ``template: t:1:2: executing "t" at <.Foo>: can't evaluate
    field Foo in type naming.queryTemplateArgs``."""


MAX_TEMPLATE_DEPTH: Final = 100
MAX_RANGE_ITERATIONS: Final = 1_000_000
"""`range` iterations one execution may take, all loops together: `range 1000000000` is
valid Go (1.22+) and would run for minutes on every request. A query built from a
thousand pods' label values iterates a few thousand times."""
"""Nesting limit for ``{{template}}`` calls; Go allows 100000 but Python's stack does not."""


# ---------------------------------------------------------------------------------------
# Data model
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GoStruct:
    """A Go struct value: fields are looked up by name, absent ones are an error.

    ``type_name`` appears in error messages exactly as Go prints the type (prometheus-adapter
    passes ``naming.queryTemplateArgs`` and ``schema.GroupResource``). ``stringer``, when
    given, plays the part of a ``String() string`` method for printing, as
    ``schema.GroupResource`` has.
    """

    type_name: str
    fields: Mapping[str, object]
    stringer: Callable[[], str] | None = field(default=None, compare=False)


class _DeriveZero:
    """Marker for "derive the zero value from the element type"."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<zero of elem_type>"


_DERIVE_ZERO: Final = _DeriveZero()


@dataclass(frozen=True, slots=True)
class GoMap:
    """A Go map with explicit key and element types.

    Plain dicts infer their types; use this when the inference would be wrong, e.g. an
    empty ``map[string]interface {}`` whose ``index`` of a missing key must be "no value"
    rather than ``""``. ``zero`` overrides the value ``index`` returns for absent keys.
    """

    values: Mapping[object, object]
    key_type: str = "string"
    elem_type: str = "string"
    zero: object = _DERIVE_ZERO

    def zero_value(self) -> object:
        return _zero_for_type(self.elem_type) if self.zero is _DERIVE_ZERO else self.zero


def _zero_for_type(type_name: str) -> object:
    if type_name == "string":
        return ""
    if type_name == "bool":
        return False
    if type_name in _INT_TYPES:
        return 0
    if type_name in ("float64", "float32"):
        return 0.0
    if type_name in ("complex128", "complex64"):
        return 0j
    if type_name.startswith("[]"):
        return []
    if type_name.startswith("map["):
        return {}
    return None


_INT_TYPES: Final = frozenset(
    ("int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64")
)
_ANY_TYPES: Final = frozenset(("interface {}", "any"))


def _map_parts(value: object) -> tuple[Mapping[object, object], str] | None:
    """The mapping and its key type, or None when the value is not a map."""
    if type(value) is dict:
        return value, _dict_key_type(value)
    if type(value) is GoMap:
        return value.values, value.key_type
    if isinstance(value, Mapping):
        return value, _dict_key_type(value)
    return None


def _dict_key_type(m: Mapping[object, object]) -> str:
    for key in m:
        return "string" if type(key) is str else _type_name(key)
    return "string"


def _elem_type_of(values: Iterator[object] | Sequence[object]) -> str:
    names = {_type_name(v) for v in values}
    if len(names) == 1:
        (name,) = names
        if name != "<nil>":
            return name
    return "interface {}"


def _map_zero(value: object) -> object:
    if type(value) is GoMap:
        return value.zero_value()
    if isinstance(value, Mapping):
        if not value:
            return ""
        return _zero_for_type(_elem_type_of(iter(value.values())))
    return None


def _type_name(value: object) -> str:
    """Go's ``reflect.Type.String()`` for the Go type a Python value stands for."""
    if value is None:
        return "<nil>"
    t = type(value)
    if t is str:
        return "string"
    if t is bool:
        return "bool"
    if t is int:
        return "int"
    if t is float:
        return "float64"
    if t is complex:
        return "complex128"
    if isinstance(value, GoStruct):
        return value.type_name
    if isinstance(value, GoMap):
        return f"map[{value.key_type}]{value.elem_type}"
    if t is list or t is tuple:
        seq: Sequence[object] = value  # type: ignore[assignment]
        return "[]" + (_elem_type_of(seq) if seq else "interface {}")
    if isinstance(value, Mapping):
        elem = _elem_type_of(iter(value.values())) if value else "string"
        return f"map[{_dict_key_type(value)}]{elem}"
    return t.__name__


# ---------------------------------------------------------------------------------------
# Go literal syntax: quoting and unquoting
# ---------------------------------------------------------------------------------------


def _can_backquote(s: str) -> bool:
    return all(ch == "\t" or (ch != "`" and ch != "\ufeff" and ch.isprintable()) for ch in s)


def _rune_repr(ch: str) -> str:
    """Go's ``%#U``: ``U+0029 ')'``."""
    text = f"U+{ord(ch):04X}"
    return f"{text} '{ch}'" if ch.isprintable() else text


_SIMPLE_UNESCAPES: Final = {
    "a": 7,
    "b": 8,
    "f": 12,
    "n": 10,
    "r": 13,
    "t": 9,
    "v": 11,
    "\\": 92,
}
_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")


class _SyntaxErr(ValueError):
    """strconv's ErrSyntax."""

    def __init__(self) -> None:
        super().__init__("invalid syntax")


def _unquote_char(s: str, i: int, quote: str) -> tuple[int, bool, int]:
    """Decode one possibly escaped character at ``s[i]`` like ``strconv.UnquoteChar``.

    Returns the value, whether it is a raw byte (``\\x``, octal) rather than a rune, and
    the index after it.
    """
    ch = s[i]
    if ch == quote:
        raise _SyntaxErr()
    if ch != "\\":
        return ord(ch), False, i + 1
    if i + 1 >= len(s):
        raise _SyntaxErr()
    esc = s[i + 1]
    i += 2
    simple = _SIMPLE_UNESCAPES.get(esc)
    if simple is not None:
        return simple, False, i
    if esc in "xuU":
        width = {"x": 2, "u": 4, "U": 8}[esc]
        digits = s[i : i + width]
        if len(digits) < width or not _HEX_DIGITS.issuperset(digits):
            raise _SyntaxErr()
        value = int(digits, 16)
        if esc == "x":
            return value, True, i + width
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            raise _SyntaxErr()
        return value, False, i + width
    if "0" <= esc <= "7":
        digits = esc + s[i : i + 2]
        if len(digits) < 3 or not all("0" <= d <= "7" for d in digits):
            raise _SyntaxErr()
        value = int(digits, 8)
        if value > 255:
            raise _SyntaxErr()
        return value, True, i + 2
    if esc in "'\"" and esc == quote:
        return ord(esc), False, i
    raise _SyntaxErr()


def _unquote(quoted: str) -> str:
    """``strconv.Unquote`` for the interpreted and raw string literals the lexer emits."""
    if len(quoted) < 2 or quoted[0] != quoted[-1]:
        raise _SyntaxErr()
    body = quoted[1:-1]
    if quoted[0] == "`":
        if "`" in body:
            raise _SyntaxErr()
        return body.replace("\r", "")
    if quoted[0] != '"':
        raise _SyntaxErr()
    if "\\" not in body:
        if '"' in body or "\n" in body:
            raise _SyntaxErr()
        return body
    out = bytearray()
    i = 0
    while i < len(body):
        if body[i] == "\n":
            raise _SyntaxErr()
        value, is_byte, i = _unquote_char(body, i, '"')
        if is_byte:
            out.append(value)
        else:
            out += chr(value).encode("utf-8", "surrogatepass")
    return out.decode("utf-8", "replace")


def _underscore_ok(s: str) -> bool:
    """Go's rule: underscores only between digits or after a base prefix."""
    saw = "^"
    i = 0
    if s[:1] in ("+", "-"):
        s = s[1:]
    is_hex = False
    if len(s) >= 2 and s[0] == "0" and s[1] in "bBoOxX":
        i = 2
        saw = "0"
        is_hex = s[1] in "xX"
    while i < len(s):
        c = s[i]
        if "0" <= c <= "9" or (is_hex and c in "abcdefABCDEF"):
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        else:
            if saw == "_":
                return False
            saw = "!"
        i += 1
    return saw != "_"


def _parse_go_int(text: str, *, signed: bool) -> int | None:
    """``strconv.ParseInt``/``ParseUint`` with base 0, limited to 64 bits."""
    s = text
    negative = False
    if s[:1] in ("+", "-"):
        if not signed:
            return None
        negative = s[0] == "-"
        s = s[1:]
    if not s:
        return None
    base = 10
    body = s
    if len(s) >= 2 and s[0] == "0":
        prefix = s[1].lower()
        if prefix in "xob":
            base = {"x": 16, "o": 8, "b": 2}[prefix]
            body = s[2:]
        else:
            base = 8
            body = s[1:]
    if "_" in s:
        if not _underscore_ok(s):
            return None
        body = body.replace("_", "")
    if not body or not _HEX_DIGITS.issuperset(body):
        return None
    try:
        value = int(body, base)
    except ValueError:
        return None
    if negative:
        value = -value
    if signed:
        return value if -(1 << 63) <= value < (1 << 63) else None
    return value if value < (1 << 64) else None


_DECIMAL_FLOAT: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _parse_go_float(text: str) -> float | None:
    """``strconv.ParseFloat``: decimal and hexadecimal (``0x1.8p3``) forms, finite only."""
    s = text
    if "_" in s:
        if not _underscore_ok(s):
            return None
        s = s.replace("_", "")
    unsigned = s.lstrip("+-")
    try:
        if unsigned[:2] in ("0x", "0X"):
            if "p" not in unsigned.lower():
                return None
            value = float.fromhex(s)
        elif _DECIMAL_FLOAT.fullmatch(s):
            value = float(s)
        else:
            return None
    except ValueError:
        return None
    return None if math.isinf(value) else value


def _fits_int64(f: float) -> bool:
    return f.is_integer() and -(2.0**63) <= f < 2.0**63


def _fits_uint64(f: float) -> bool:
    return f.is_integer() and 0 <= f < 2.0**64


# ---------------------------------------------------------------------------------------
# Lexer (text/template/parse/lex.go)
# ---------------------------------------------------------------------------------------


class _T(IntEnum):
    ERROR = 0
    BOOL = 1
    CHAR = 2
    CHAR_CONSTANT = 3
    COMPLEX = 4
    ASSIGN = 5
    DECLARE = 6
    EOF = 7
    FIELD = 8
    IDENTIFIER = 9
    LEFT_DELIM = 10
    LEFT_PAREN = 11
    NUMBER = 12
    PIPE = 13
    RAW_STRING = 14
    RIGHT_DELIM = 15
    RIGHT_PAREN = 16
    SPACE = 17
    STRING = 18
    TEXT = 19
    VARIABLE = 20
    KEYWORD = 21  # only delimits the keywords below
    BLOCK = 22
    BREAK = 23
    CONTINUE = 24
    DOT = 25
    DEFINE = 26
    ELSE = 27
    END = 28
    IF = 29
    NIL = 30
    RANGE = 31
    TEMPLATE = 32
    WITH = 33


_KEYWORDS: Final = {
    ".": _T.DOT,
    "block": _T.BLOCK,
    "break": _T.BREAK,
    "continue": _T.CONTINUE,
    "define": _T.DEFINE,
    "else": _T.ELSE,
    "end": _T.END,
    "if": _T.IF,
    "range": _T.RANGE,
    "nil": _T.NIL,
    "template": _T.TEMPLATE,
    "with": _T.WITH,
}

_SPACE_CHARS: Final = " \t\r\n"
_TERMINATORS: Final = frozenset(".,|:)(")


@dataclass(frozen=True, slots=True)
class _Token:
    typ: _T
    pos: int
    val: str
    line: int

    def __str__(self) -> str:
        if self.typ == _T.EOF:
            return "EOF"
        if self.typ == _T.ERROR:
            return self.val
        if self.typ > _T.KEYWORD:
            return f"<{self.val}>"
        if len(self.val.encode()) > 10:
            return gostrings.quote(self.val[:10]) + "..."
        return gostrings.quote(self.val)


@dataclass(frozen=True, slots=True)
class _Source:
    """The parsed text, shared by every tree parsed from it, for error locations."""

    text: str
    parse_name: str
    newlines: tuple[int, ...]

    @classmethod
    def of(cls, text: str, parse_name: str) -> _Source:
        return cls(text, parse_name, tuple(i for i, ch in enumerate(text) if ch == "\n"))

    def line(self, pos: int) -> int:
        return bisect.bisect_left(self.newlines, pos) + 1

    def location(self, pos: int) -> str:
        """``name:line:col`` with Go's byte column, counted from 0."""
        before = bisect.bisect_left(self.newlines, pos)
        start = self.newlines[before - 1] + 1 if before else 0
        column = len(self.text[start:pos].encode())
        return f"{self.parse_name}:{before + 1}:{column}"


def _is_alnum(ch: str) -> bool:
    return ch == "_" or ch.isalpha() or ch.isdecimal()


def _is_space(ch: str) -> bool:
    return ch != "" and ch in _SPACE_CHARS


def _has_left_trim(text: str, i: int) -> bool:
    return i + 1 < len(text) and text[i] == "-" and text[i + 1] in _SPACE_CHARS


def _has_right_trim(text: str, i: int) -> bool:
    return i + 1 < len(text) and text[i] in _SPACE_CHARS and text[i + 1] == "-"


class _LexState(Protocol):
    def __call__(self) -> _LexState | None: ...


class _Lexer:
    """Turns template text into tokens; the last token is EOF or ERROR."""

    def __init__(self, source: _Source, left: str, right: str) -> None:
        self.source = source
        self.text = source.text
        self.left = left
        self.right = right
        self.pos = 0
        self.start = 0
        self.width = 0
        self.paren_depth = 0
        self.tokens: list[_Token] = []

    def run(self) -> list[_Token]:
        state: _LexState | None = self.lex_text
        while state is not None:
            state = state()
        return self.tokens

    # -- primitives

    def next(self) -> str:
        if self.pos >= len(self.text):
            self.width = 0
            return ""
        ch = self.text[self.pos]
        self.width = 1
        self.pos += 1
        return ch

    def backup(self) -> None:
        self.pos -= self.width

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def accept(self, valid: str) -> bool:
        ch = self.next()
        if ch != "" and ch in valid:
            return True
        self.backup()
        return False

    def accept_run(self, valid: str) -> None:
        while self.accept(valid):
            pass

    def emit(self, typ: _T) -> None:
        start = self.start
        self.tokens.append(_Token(typ, start, self.text[start : self.pos], self.source.line(start)))
        self.start = self.pos

    def ignore(self) -> None:
        self.start = self.pos

    def error(self, message: str) -> None:
        self.tokens.append(_Token(_T.ERROR, self.start, message, self.source.line(self.start)))

    def at_right_delim(self) -> tuple[bool, bool]:
        if _has_right_trim(self.text, self.pos) and self.text.startswith(self.right, self.pos + 2):
            return True, True
        if self.text.startswith(self.right, self.pos):
            return True, False
        return False, False

    def at_terminator(self) -> bool:
        ch = self.peek()
        if ch == "" or ch in _SPACE_CHARS or ch in _TERMINATORS:
            return True
        return ch == self.right[0]

    # -- states

    def lex_text(self) -> _LexState | None:
        found = self.text.find(self.left, self.pos)
        if found >= 0:
            end = found
            if _has_left_trim(self.text, found + len(self.left)):
                preceding = self.text[self.start : found]
                end = self.start + len(preceding.rstrip(_SPACE_CHARS))
            if end > self.start:
                self.pos = end
                self.emit(_T.TEXT)
            self.pos = found
            self.ignore()
            return self.lex_left_delim
        self.pos = len(self.text)
        if self.pos > self.start:
            self.emit(_T.TEXT)
        self.emit(_T.EOF)
        return None

    def lex_left_delim(self) -> _LexState | None:
        self.pos += len(self.left)
        after_marker = 2 if _has_left_trim(self.text, self.pos) else 0
        if self.text.startswith("/*", self.pos + after_marker):
            self.pos += after_marker
            self.ignore()
            return self.lex_comment
        self.emit(_T.LEFT_DELIM)
        self.pos += after_marker
        self.ignore()
        self.paren_depth = 0
        return self.lex_inside_action

    def lex_comment(self) -> _LexState | None:
        self.pos += 2
        end = self.text.find("*/", self.pos)
        if end < 0:
            self.error("unclosed comment")
            return None
        self.pos = end + 2
        delim, trim = self.at_right_delim()
        if not delim:
            self.error("comment ends before closing delimiter")
            return None
        if trim:
            self.pos += 2
        self.pos += len(self.right)
        if trim:
            self._skip_leading_space()
        self.ignore()
        return self.lex_text

    def _skip_leading_space(self) -> None:
        rest = self.text[self.pos :]
        self.pos += len(rest) - len(rest.lstrip(_SPACE_CHARS))

    def lex_right_delim(self) -> _LexState | None:
        trim = _has_right_trim(self.text, self.pos)
        if trim:
            self.pos += 2
            self.ignore()
        self.pos += len(self.right)
        self.emit(_T.RIGHT_DELIM)
        if trim:
            self._skip_leading_space()
            self.ignore()
        return self.lex_text

    def lex_inside_action(self) -> _LexState | None:
        delim, _ = self.at_right_delim()
        if delim:
            if self.paren_depth == 0:
                return self.lex_right_delim
            self.error("unclosed left paren")
            return None
        ch = self.next()
        if ch == "":
            self.error("unclosed action")
            return None
        if ch in _SPACE_CHARS:
            self.backup()
            return self.lex_space
        if ch == "=":
            self.emit(_T.ASSIGN)
        elif ch == ":":
            if self.next() != "=":
                self.error("expected :=")
                return None
            self.emit(_T.DECLARE)
        elif ch == "|":
            self.emit(_T.PIPE)
        elif ch == '"':
            return self.lex_quote
        elif ch == "`":
            return self.lex_raw_quote
        elif ch == "$":
            return self.lex_variable
        elif ch == "'":
            return self.lex_char
        elif ch == "." and self.pos < len(self.text) and not "0" <= self.text[self.pos] <= "9":
            return self.lex_field
        elif ch in ".+-" or "0" <= ch <= "9":
            self.backup()
            return self.lex_number
        elif _is_alnum(ch):
            self.backup()
            return self.lex_identifier
        elif ch == "(":
            self.emit(_T.LEFT_PAREN)
            self.paren_depth += 1
        elif ch == ")":
            self.emit(_T.RIGHT_PAREN)
            self.paren_depth -= 1
            if self.paren_depth < 0:
                self.error(f"unexpected right paren {_rune_repr(ch)}")
                return None
        elif ch <= "\x7f" and ch.isprintable():
            self.emit(_T.CHAR)
        else:
            self.error(f"unrecognized character in action: {_rune_repr(ch)}")
            return None
        return self.lex_inside_action

    def lex_space(self) -> _LexState | None:
        count = 0
        while _is_space(self.peek()):
            self.next()
            count += 1
        # A space may belong to a trim-marked right delimiter (" -}}").
        if _has_right_trim(self.text, self.pos - 1) and self.text.startswith(
            self.right, self.pos + 1
        ):
            self.pos -= 1
            if count == 1:
                return self.lex_right_delim
        self.emit(_T.SPACE)
        return self.lex_inside_action

    def lex_identifier(self) -> _LexState | None:
        while True:
            ch = self.next()
            if ch != "" and _is_alnum(ch):
                continue
            self.backup()
            word = self.text[self.start : self.pos]
            if not self.at_terminator():
                self.error(f"bad character {_rune_repr(ch)}")
                return None
            keyword = _KEYWORDS.get(word)
            if keyword is not None:
                self.emit(keyword)
            elif word in ("true", "false"):
                self.emit(_T.BOOL)
            else:
                self.emit(_T.IDENTIFIER)
            return self.lex_inside_action

    def lex_field(self) -> _LexState | None:
        return self._lex_field_or_variable(_T.FIELD)

    def lex_variable(self) -> _LexState | None:
        if self.at_terminator():
            self.emit(_T.VARIABLE)
            return self.lex_inside_action
        return self._lex_field_or_variable(_T.VARIABLE)

    def _lex_field_or_variable(self, typ: _T) -> _LexState | None:
        if self.at_terminator():
            self.emit(_T.VARIABLE if typ == _T.VARIABLE else _T.DOT)
            return self.lex_inside_action
        while True:
            ch = self.next()
            if ch == "" or not _is_alnum(ch):
                self.backup()
                break
        if not self.at_terminator():
            self.error(f"bad character {_rune_repr(ch)}")
            return None
        self.emit(typ)
        return self.lex_inside_action

    def _lex_escaped(self, close: str, what: str) -> bool:
        while True:
            ch = self.next()
            if ch == "\\":
                ch = self.next()
                if ch not in ("", "\n"):
                    continue
            if ch in ("", "\n"):
                self.error(f"unterminated {what}")
                return False
            if ch == close:
                return True

    def lex_char(self) -> _LexState | None:
        if not self._lex_escaped("'", "character constant"):
            return None
        self.emit(_T.CHAR_CONSTANT)
        return self.lex_inside_action

    def lex_quote(self) -> _LexState | None:
        if not self._lex_escaped('"', "quoted string"):
            return None
        self.emit(_T.STRING)
        return self.lex_inside_action

    def lex_raw_quote(self) -> _LexState | None:
        end = self.text.find("`", self.pos)
        if end < 0:
            self.error("unterminated raw quoted string")
            return None
        self.pos = end + 1
        self.emit(_T.RAW_STRING)
        return self.lex_inside_action

    def lex_number(self) -> _LexState | None:
        if not self._scan_number():
            self.error(f"bad number syntax: {gostrings.quote(self.text[self.start : self.pos])}")
            return None
        if self.peek() in ("+", "-"):
            if not self._scan_number() or self.text[self.pos - 1] != "i":
                self.error(
                    f"bad number syntax: {gostrings.quote(self.text[self.start : self.pos])}"
                )
                return None
            self.emit(_T.COMPLEX)
        else:
            self.emit(_T.NUMBER)
        return self.lex_inside_action

    def _scan_number(self) -> bool:
        self.accept("+-")
        digits = "0123456789_"
        if self.accept("0"):
            if self.accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self.accept("oO"):
                digits = "01234567_"
            elif self.accept("bB"):
                digits = "01_"
        self.accept_run(digits)
        if self.accept("."):
            self.accept_run(digits)
        if len(digits) == 11 and self.accept("eE"):
            self.accept("+-")
            self.accept_run("0123456789_")
        if len(digits) == 23 and self.accept("pP"):
            self.accept("+-")
            self.accept_run("0123456789_")
        self.accept("i")
        ch = self.peek()
        if ch != "" and _is_alnum(ch):
            self.next()
            return False
        return True


# ---------------------------------------------------------------------------------------
# Execution state and helpers shared by the tree
# ---------------------------------------------------------------------------------------


class _Missing:
    """No final argument: the command is first in its pipeline."""

    __slots__ = ()


_MISSING: Final = _Missing()
_ABSENT: Final = object()


class _BreakLoop(Exception):
    pass


class _ContinueLoop(Exception):
    pass


class _FuncError(Exception):
    """A built-in function failed; reported as ``error calling NAME: MESSAGE``."""


@dataclass(frozen=True, slots=True)
class _Tree:
    name: str
    root: _ListNode
    source: _Source


class _State:
    """One execution: output, variable stack, and the node errors are reported at."""

    __slots__ = ("depth", "iterations", "node", "out", "tree", "trees", "vars")

    def __init__(
        self,
        trees: Mapping[str, _Tree],
        tree: _Tree,
        out: list[str],
        variables: list[list[object]],
        depth: int,
        iterations: list[int] | None = None,
    ) -> None:
        self.trees = trees
        self.tree = tree
        self.out = out
        self.vars = variables
        self.depth = depth
        self.iterations = iterations if iterations is not None else [0]
        """`range` iterations so far in this execution, shared with called templates."""
        self.node: _Node | None = None

    def error(self, message: str) -> TemplateExecError:
        name = self.tree.name
        node = self.node
        if node is None:
            return TemplateExecError(f"template: {name}: {message}")
        location = self.tree.source.location(node.pos)
        return TemplateExecError(
            f"template: {location}: executing {gostrings.quote(name)} at <{node}>: {message}"
        )


def _var_value(st: _State, name: str) -> object:
    for entry in reversed(st.vars):
        if entry[0] == name:
            return entry[1]
    raise st.error(f"undefined variable: {name}")


def _set_var(st: _State, name: str, value: object) -> None:
    for entry in reversed(st.vars):
        if entry[0] == name:
            entry[1] = value
            return
    raise st.error(f"undefined variable: {name}")


def _not_a_function(st: _State, args: Sequence[_Node] | None, final: object) -> None:
    if args is not None and (len(args) > 1 or final is not _MISSING):
        raise st.error(f"can't give argument to non-function {args[0]}")


def _truth(value: object) -> bool:
    """Go's ``isTrue``: the zero value of a type, nil and empty collections are false."""
    if value is None:
        return False
    t = type(value)
    if t is str or t is list or t is tuple or t is dict:
        return len(value) > 0  # type: ignore[arg-type]
    if t is bool:
        return value is True
    if t is int or t is float or t is complex:
        return value != 0
    if t is GoStruct:
        return True
    if t is GoMap:
        return len(value.values) > 0  # type: ignore[attr-defined]
    if isinstance(value, Mapping):
        return len(value) > 0
    return True


def _eval_field(
    st: _State, name: str, args: Sequence[_Node] | None, final: object, receiver: object
) -> object:
    """``.name`` on ``receiver``: a struct field or a map key (``evalField``)."""
    if receiver is None:
        return None  # missingkey=default: a chain through "no value" stays "no value"
    has_args = (args is not None and len(args) > 1) or final is not _MISSING
    if type(receiver) is GoStruct:
        value = receiver.fields.get(name, _ABSENT)
        if value is not _ABSENT:
            if not name[0].isupper():
                raise st.error(f"{name} is an unexported field of struct type {receiver.type_name}")
            if has_args:
                raise st.error(f"{name} has arguments but cannot be invoked as function")
            return value
    else:
        parts = _map_parts(receiver)
        if parts is not None and (parts[1] == "string" or parts[1] in _ANY_TYPES):
            if has_args:
                raise st.error(f"{name} is not a method but has arguments")
            return parts[0].get(name)
    raise st.error(f"can't evaluate field {name} in type {_type_name(receiver)}")


def _eval_field_chain(
    st: _State,
    receiver: object,
    ident: Sequence[str],
    args: Sequence[_Node] | None,
    final: object,
) -> object:
    last = len(ident) - 1
    for i in range(last):
        receiver = _eval_field(st, ident[i], None, _MISSING, receiver)
    return _eval_field(st, ident[last], args, final, receiver)


def _action_text(value: object) -> str:
    """What ``{{pipeline}}`` writes: ``fmt.Fprint`` of the value, or ``<no value>``."""
    if type(value) is str:
        return value
    if value is None:
        return "<no value>"
    return _format_arg(value, "v", _PLAIN, 0)


# ---------------------------------------------------------------------------------------
# Parse tree (text/template/parse/node.go) with its execution (exec.go)
# ---------------------------------------------------------------------------------------


class _Node:
    """Base of all tree nodes. ``pos`` is the character offset used for error locations."""

    __slots__ = ()
    pos: int

    def walk(self, st: _State, dot: object) -> None:
        raise NotImplementedError(type(self).__name__)

    def command(self, st: _State, dot: object, cmd: _CommandNode, final: object) -> object:
        """Evaluate as the first word of a command; ``final`` is the piped-in value."""
        raise NotImplementedError(type(self).__name__)

    def arg(self, st: _State, dot: object) -> object:
        """Evaluate as an argument to a function."""
        raise NotImplementedError(type(self).__name__)


@dataclass(frozen=True, slots=True)
class _ListNode(_Node):
    pos: int
    nodes: tuple[_Node, ...]

    def __str__(self) -> str:
        return "".join(str(n) for n in self.nodes)

    def walk(self, st: _State, dot: object) -> None:
        for node in self.nodes:
            node.walk(st, dot)


@dataclass(frozen=True, slots=True)
class _TextNode(_Node):
    pos: int
    text: str

    def __str__(self) -> str:
        return self.text

    def walk(self, st: _State, dot: object) -> None:
        st.out.append(self.text)


@dataclass(frozen=True, slots=True)
class _FieldNode(_Node):
    pos: int
    ident: tuple[str, ...]

    def __str__(self) -> str:
        return "".join("." + i for i in self.ident)

    def command(self, st: _State, dot: object, cmd: _CommandNode, final: object) -> object:
        st.node = self
        return _eval_field_chain(st, dot, self.ident, cmd.args, final)

    def arg(self, st: _State, dot: object) -> object:
        st.node = self
        return _eval_field_chain(st, dot, self.ident, (self,), _MISSING)


@dataclass(frozen=True, slots=True)
class _VariableNode(_Node):
    pos: int
    ident: tuple[str, ...]  # "$name" then field names

    def __str__(self) -> str:
        return ".".join(self.ident)

    def command(self, st: _State, dot: object, cmd: _CommandNode, final: object) -> object:
        return self._eval(st, cmd.args, final)

    def arg(self, st: _State, dot: object) -> object:
        st.node = self
        return self._eval(st, None, _MISSING)

    def _eval(self, st: _State, args: Sequence[_Node] | None, final: object) -> object:
        st.node = self
        value = _var_value(st, self.ident[0])
        if len(self.ident) == 1:
            _not_a_function(st, args, final)
            return value
        return _eval_field_chain(st, value, self.ident[1:], args, final)


@dataclass(frozen=True, slots=True)
class _IdentifierNode(_Node):
    pos: int
    name: str

    def __str__(self) -> str:
        return self.name

    def command(self, st: _State, dot: object, cmd: _CommandNode, final: object) -> object:
        st.node = self
        return _eval_call(st, dot, self.name, cmd, cmd.args, final)

    def arg(self, st: _State, dot: object) -> object:
        st.node = self
        return _eval_call(st, dot, self.name, self, None, _MISSING)


@dataclass(frozen=True, slots=True)
class _DotNode(_Node):
    pos: int

    def __str__(self) -> str:
        return "."

    def command(self, st: _State, dot: object, cmd: _CommandNode, final: object) -> object:
        st.node = self
        _not_a_function(st, cmd.args, final)
        return dot

    def arg(self, st: _State, dot: object) -> object:
        st.node = self
        return dot


@dataclass(frozen=True, slots=True)
class _NilNode(_Node):
    pos: int

    def __str__(self) -> str:
        return "nil"

    def command(self, st: _State, dot: object, cmd: _CommandNode, final: object) -> object:
        st.node = self
        _not_a_function(st, cmd.args, final)
        raise st.error("nil is not a command")

    def arg(self, st: _State, dot: object) -> object:
        st.node = self
        return None


@dataclass(frozen=True, slots=True)
class _BoolNode(_Node):
    pos: int
    value: bool

    def __str__(self) -> str:
        return "true" if self.value else "false"

    def command(self, st: _State, dot: object, cmd: _CommandNode, final: object) -> object:
        st.node = self
        _not_a_function(st, cmd.args, final)
        return self.value

    def arg(self, st: _State, dot: object) -> object:
        st.node = self
        return self.value


@dataclass(frozen=True, slots=True)
class _StringNode(_Node):
    pos: int
    quoted: str
    text: str

    def __str__(self) -> str:
        return self.quoted

    def command(self, st: _State, dot: object, cmd: _CommandNode, final: object) -> object:
        st.node = self
        _not_a_function(st, cmd.args, final)
        return self.text

    def arg(self, st: _State, dot: object) -> object:
        st.node = self
        return self.text


@dataclass(frozen=True, slots=True)
class _NumberNode(_Node):
    """A numeric constant, held under every Go type that can represent it (node.go)."""

    pos: int
    text: str
    is_int: bool = False
    is_uint: bool = False
    is_float: bool = False
    is_complex: bool = False
    int_value: int = 0
    float_value: float = 0.0
    complex_value: complex = 0j

    def __str__(self) -> str:
        return self.text

    def command(self, st: _State, dot: object, cmd: _CommandNode, final: object) -> object:
        st.node = self
        _not_a_function(st, cmd.args, final)
        return self.ideal(st)

    def arg(self, st: _State, dot: object) -> object:
        st.node = self
        return self.ideal(st)

    def ideal(self, st: _State) -> object:
        """The value of an untyped constant with no context (``idealConstant``)."""
        st.node = self
        text = self.text
        if self.is_complex:
            return self.complex_value
        if (
            self.is_float
            and not (len(text) > 2 and text[0] == "0" and text[1] in "xX" and "p" not in text)
            and not text.startswith("'")
            and any(c in text for c in ".eEpP")
        ):
            return self.float_value
        if self.is_int:
            return self.int_value
        if self.is_uint:
            raise st.error(f"{text} overflows int")
        return None


@dataclass(frozen=True, slots=True)
class _CommandNode(_Node):
    pos: int
    args: tuple[_Node, ...]

    def __str__(self) -> str:
        return " ".join(f"({a})" if isinstance(a, _PipeNode) else str(a) for a in self.args)


@dataclass(frozen=True, slots=True)
class _PipeNode(_Node):
    pos: int
    is_assign: bool
    decl: tuple[_VariableNode, ...]
    cmds: tuple[_CommandNode, ...]

    def __str__(self) -> str:
        head = ", ".join(str(v) for v in self.decl) + " := " if self.decl else ""
        return head + " | ".join(str(c) for c in self.cmds)

    def eval(self, st: _State, dot: object) -> object:
        """Run the commands, each fed the previous result; declare or assign variables."""
        st.node = self
        value: object = _MISSING
        for cmd in self.cmds:
            value = cmd.args[0].command(st, dot, cmd, value)
        for var in self.decl:
            if self.is_assign:
                _set_var(st, var.ident[0], value)
            else:
                st.vars.append([var.ident[0], value])
        return value

    def command(self, st: _State, dot: object, cmd: _CommandNode, final: object) -> object:
        _not_a_function(st, cmd.args, final)
        return self.eval(st, dot)

    def arg(self, st: _State, dot: object) -> object:
        st.node = self
        return self.eval(st, dot)


@dataclass(frozen=True, slots=True)
class _ChainNode(_Node):
    """A term followed by field accesses: ``(pipeline).Field`` or ``func.Field``."""

    pos: int
    node: _Node
    fields: tuple[str, ...]

    def __str__(self) -> str:
        base = f"({self.node})" if isinstance(self.node, _PipeNode) else str(self.node)
        return base + "".join("." + f for f in self.fields)

    def command(self, st: _State, dot: object, cmd: _CommandNode, final: object) -> object:
        return self._eval(st, dot, cmd.args, final)

    def arg(self, st: _State, dot: object) -> object:
        st.node = self
        return self._eval(st, dot, None, _MISSING)

    def _eval(self, st: _State, dot: object, args: Sequence[_Node] | None, final: object) -> object:
        st.node = self
        if isinstance(self.node, _NilNode):
            raise st.error(f"indirection through explicit nil in {self}")
        receiver = self.node.arg(st, dot)
        return _eval_field_chain(st, receiver, self.fields, args, final)


@dataclass(frozen=True, slots=True)
class _ActionNode(_Node):
    pos: int
    pipe: _PipeNode
    fast_field: str | None  # the exported field name when the action is just ``.Name``

    def __str__(self) -> str:
        return f"{{{{{self.pipe}}}}}"

    def walk(self, st: _State, dot: object) -> None:
        st.node = self
        name = self.fast_field
        if name is not None and type(dot) is GoStruct:
            value = dot.fields.get(name, _ABSENT)
            if type(value) is str:
                st.out.append(value)
                return
        value = self.pipe.eval(st, dot)
        if not self.pipe.decl:  # declarations print nothing
            st.node = self
            st.out.append(_action_text(value))


@dataclass(frozen=True, slots=True)
class _BranchNode(_Node):
    """``if`` and ``with``: identical except that ``with`` moves dot."""

    pos: int
    keyword: str
    pipe: _PipeNode
    list: _ListNode
    else_list: _ListNode | None

    def __str__(self) -> str:
        text = f"{{{{{self.keyword} {self.pipe}}}}}{self.list}"
        if self.else_list is not None:
            text += f"{{{{else}}}}{self.else_list}"
        return text + "{{end}}"

    def walk(self, st: _State, dot: object) -> None:
        st.node = self
        mark = len(st.vars)
        try:
            value = self.pipe.eval(st, dot)
            if _truth(value):
                self.list.walk(st, value if self.keyword == "with" else dot)
            elif self.else_list is not None:
                self.else_list.walk(st, dot)
        finally:
            del st.vars[mark:]


@dataclass(frozen=True, slots=True)
class _RangeNode(_BranchNode):
    def walk(self, st: _State, dot: object) -> None:
        st.node = self
        outer_mark = len(st.vars)
        try:
            value = self.pipe.eval(st, dot)
            mark = len(st.vars)
            if self._iterate(st, mark, value):
                return
            if self.else_list is not None:
                self.else_list.walk(st, dot)
        except _BreakLoop:
            pass
        finally:
            del st.vars[outer_mark:]

    def _iterate(self, st: _State, mark: int, value: object) -> bool:
        """Run the body per element; False when there was nothing to iterate."""
        t = type(value)
        if t is list or t is tuple:
            seq: Sequence[object] = value  # type: ignore[assignment]
            for index, elem in enumerate(seq):
                self._one(st, mark, index, elem)
            return len(seq) > 0
        if t is int:
            count: int = value  # type: ignore[assignment]
            if len(self.pipe.decl) > 1:
                raise st.error(f"can't use {count} to iterate over more than one variable")
            for i in range(count):
                self._one(st, mark, None, i)
            return count > 0
        if value is None:
            return False
        parts = _map_parts(value)
        if parts is None:
            raise st.error(f"range can't iterate over {_action_text(value)}")
        mapping = parts[0]
        for key in _sorted_keys(mapping):
            self._one(st, mark, key, mapping[key])
        return len(mapping) > 0

    def _one(self, st: _State, mark: int, index: object, elem: object) -> None:
        st.iterations[0] += 1
        if st.iterations[0] > MAX_RANGE_ITERATIONS:
            raise st.error(f"range: more than {MAX_RANGE_ITERATIONS} iterations")
        decl = self.pipe.decl
        if decl:
            if self.pipe.is_assign:
                _set_var(st, decl[0].ident[0], index if len(decl) > 1 else elem)
                if len(decl) > 1:
                    _set_var(st, decl[1].ident[0], elem)
            else:
                st.vars[-1][1] = elem  # with two variables: the element is the second
                if len(decl) > 1:
                    st.vars[-2][1] = index
        try:
            self.list.walk(st, elem)
        except _ContinueLoop:
            pass
        finally:
            del st.vars[mark:]


@dataclass(frozen=True, slots=True)
class _TemplateNode(_Node):
    pos: int
    name: str
    pipe: _PipeNode | None

    def __str__(self) -> str:
        pipe = f" {self.pipe}" if self.pipe is not None else ""
        return f"{{{{template {gostrings.quote(self.name)}{pipe}}}}}"

    def walk(self, st: _State, dot: object) -> None:
        st.node = self
        tree = st.trees.get(self.name)
        if tree is None:
            raise st.error(f"template {gostrings.quote(self.name)} not defined")
        if st.depth >= MAX_TEMPLATE_DEPTH:
            raise st.error(f"exceeded maximum template depth ({MAX_TEMPLATE_DEPTH})")
        new_dot = self.pipe.eval(st, dot) if self.pipe is not None else None
        # No dynamic scoping: the called template sees only $.
        called = _State(st.trees, tree, st.out, [["$", new_dot]], st.depth + 1, st.iterations)
        tree.root.walk(called, new_dot)


@dataclass(frozen=True, slots=True)
class _BreakNode(_Node):
    pos: int

    def __str__(self) -> str:
        return "{{break}}"

    def walk(self, st: _State, dot: object) -> None:
        raise _BreakLoop


@dataclass(frozen=True, slots=True)
class _ContinueNode(_Node):
    pos: int

    def __str__(self) -> str:
        return "{{continue}}"

    def walk(self, st: _State, dot: object) -> None:
        raise _ContinueLoop


@dataclass(frozen=True, slots=True)
class _EndNode(_Node):
    """``{{end}}``; only seen by the parser."""

    pos: int

    def __str__(self) -> str:
        return "{{end}}"


@dataclass(frozen=True, slots=True)
class _ElseNode(_Node):
    """``{{else}}``; only seen by the parser."""

    pos: int

    def __str__(self) -> str:
        return "{{else}}"


def _iter_nodes(node: _Node | None) -> Iterator[_Node]:
    if node is None:
        return
    yield node
    if isinstance(node, _ListNode):
        for child in node.nodes:
            yield from _iter_nodes(child)
    elif isinstance(node, _ActionNode):
        yield from _iter_nodes(node.pipe)
    elif isinstance(node, _PipeNode):
        yield from node.decl
        for cmd in node.cmds:
            yield from _iter_nodes(cmd)
    elif isinstance(node, _CommandNode):
        for child in node.args:
            yield from _iter_nodes(child)
    elif isinstance(node, _ChainNode):
        yield from _iter_nodes(node.node)
    elif isinstance(node, _BranchNode):
        yield from _iter_nodes(node.pipe)
        yield from _iter_nodes(node.list)
        yield from _iter_nodes(node.else_list)
    elif isinstance(node, _TemplateNode):
        yield from _iter_nodes(node.pipe)


def _is_empty_tree(node: _Node) -> bool:
    """Only whitespace text: a definition that may be replaced (``IsEmptyTree``)."""
    if isinstance(node, _ListNode):
        return all(_is_empty_tree(n) for n in node.nodes)
    if isinstance(node, _TextNode):
        return not node.text.strip()
    return False


# ---------------------------------------------------------------------------------------
# Parser (text/template/parse/parse.go)
# ---------------------------------------------------------------------------------------

_BUILTIN_NAMES: Final = frozenset(
    (
        "and",
        "call",
        "html",
        "index",
        "slice",
        "js",
        "len",
        "not",
        "or",
        "print",
        "printf",
        "println",
        "urlquery",
        "eq",
        "ge",
        "gt",
        "le",
        "lt",
        "ne",
    )
)
_OPERAND_START: Final = frozenset(
    (
        _T.BOOL,
        _T.CHAR_CONSTANT,
        _T.COMPLEX,
        _T.DOT,
        _T.FIELD,
        _T.IDENTIFIER,
        _T.NUMBER,
        _T.NIL,
        _T.RAW_STRING,
        _T.STRING,
        _T.VARIABLE,
        _T.LEFT_PAREN,
    )
)
_MAX_PAREN_DEPTH: Final = 100
"""Nesting limit for parenthesized pipelines; Go allows 10000, Python's stack does not."""


class _Parser:
    def __init__(self, source: _Source, left: str, right: str) -> None:
        self.source = source
        self.tokens = _Lexer(source, left, right).run()
        self.index = 0
        self.latest = 0  # furthest token read; Go reports errors at its line
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.action_line = 0
        self.paren_depth = 0
        self.trees: dict[str, _ListNode] = {}

    # -- token stream

    def _next(self) -> _Token:
        i = min(self.index, len(self.tokens) - 1)
        self.index = i + 1
        self.latest = max(self.latest, i)
        return self.tokens[i]

    def _backup(self) -> None:
        self.index -= 1

    def _peek(self) -> _Token:
        token = self._next()
        self._backup()
        return token

    def _next_non_space(self) -> _Token:
        token = self._next()
        while token.typ == _T.SPACE:
            token = self._next()
        return token

    def _peek_non_space(self) -> _Token:
        token = self._next_non_space()
        self._backup()
        return token

    # -- errors

    def _error(self, message: str) -> TemplateSyntaxError:
        line = self.tokens[self.latest].line
        return TemplateSyntaxError(f"template: {self.source.parse_name}:{line}: {message}")

    def _unexpected(self, token: _Token, context: str) -> TemplateSyntaxError:
        if token.typ == _T.ERROR:
            extra = ""
            if self.action_line and self.action_line != token.line:
                extra = f" in action started at {self.source.parse_name}:{self.action_line}"
                if token.val.endswith(" action"):
                    extra = extra[len(" in action") :]
            return self._error(f"{token.val}{extra}")
        return self._error(f"unexpected {token} in {context}")

    def _expect(self, typ: _T, context: str) -> _Token:
        token = self._next_non_space()
        if token.typ != typ:
            raise self._unexpected(token, context)
        return token

    # -- top level

    def parse(self, name: str) -> dict[str, _ListNode]:
        start = self._peek().pos
        nodes: list[_Node] = []
        while self._peek().typ != _T.EOF:
            if self._peek().typ == _T.LEFT_DELIM:
                mark = self.index
                self._next()
                if self._next_non_space().typ == _T.DEFINE:
                    self._parse_definition()
                    continue
                self.index = mark
            node = self._text_or_action()
            if isinstance(node, _EndNode | _ElseNode):
                raise self._error(f"unexpected {node}")
            nodes.append(node)
        self._add(name, _ListNode(start, tuple(nodes)))
        return self.trees

    def _add(self, name: str, root: _ListNode) -> None:
        existing = self.trees.get(name)
        if existing is None or _is_empty_tree(existing):
            self.trees[name] = root
        elif not _is_empty_tree(root):
            raise self._error(f"template: multiple definition of template {gostrings.quote(name)}")

    def _nested_tree(self) -> tuple[_ListNode, _Node]:
        """Parse a definition body with fresh variables, as Go's new Tree does."""
        saved = (self.vars, self.range_depth, self.action_line)
        self.vars, self.range_depth, self.action_line = ["$"], 0, 0
        try:
            return self._item_list()
        finally:
            self.vars, self.range_depth, self.action_line = saved

    def _parse_definition(self) -> None:
        context = "define clause"
        token = self._next_non_space()
        if token.typ not in (_T.STRING, _T.RAW_STRING):
            raise self._unexpected(token, context)
        name = self._unquote(token.val)
        self._expect(_T.RIGHT_DELIM, context)
        root, end = self._nested_tree()
        if not isinstance(end, _EndNode):
            raise self._error(f"unexpected {end} in {context}")
        self._add(name, root)

    def _item_list(self) -> tuple[_ListNode, _Node]:
        start = self._peek_non_space().pos
        nodes: list[_Node] = []
        while self._peek_non_space().typ != _T.EOF:
            node = self._text_or_action()
            if isinstance(node, _EndNode | _ElseNode):
                return _ListNode(start, tuple(nodes)), node
            nodes.append(node)
        raise self._error("unexpected EOF")

    def _text_or_action(self) -> _Node:
        token = self._next_non_space()
        if token.typ == _T.TEXT:
            return _TextNode(token.pos, token.val)
        if token.typ == _T.LEFT_DELIM:
            self.action_line = token.line
            try:
                return self._action()
            finally:
                self.action_line = 0
        raise self._unexpected(token, "input")

    def _action(self) -> _Node:
        token = self._next_non_space()
        typ = token.typ
        if typ == _T.BLOCK:
            return self._block_control()
        if typ in (_T.BREAK, _T.CONTINUE):
            return self._loop_control(token)
        if typ == _T.ELSE:
            return self._else_control()
        if typ == _T.END:
            return _EndNode(self._expect(_T.RIGHT_DELIM, "end").pos)
        if typ in (_T.IF, _T.WITH, _T.RANGE):
            return self._branch(token.val)
        if typ == _T.TEMPLATE:
            return self._template_control()
        self._backup()
        pos = self._peek().pos
        pipe = self._pipeline("command", _T.RIGHT_DELIM)
        return _ActionNode(pos, pipe, _fast_field(pipe))

    def _loop_control(self, keyword: _Token) -> _Node:
        context = f"{{{{{keyword.val}}}}}"
        token = self._next_non_space()
        if token.typ != _T.RIGHT_DELIM:
            raise self._unexpected(token, context)
        if self.range_depth == 0:
            raise self._error(f"{context} outside {{{{range}}}}")
        if keyword.typ == _T.BREAK:
            return _BreakNode(keyword.pos)
        return _ContinueNode(keyword.pos)

    def _else_control(self) -> _Node:
        peek = self._peek_non_space()
        if peek.typ in (_T.IF, _T.WITH):
            # "else if" / "else with": leave the keyword for _branch to chain.
            return _ElseNode(peek.pos)
        return _ElseNode(self._expect(_T.RIGHT_DELIM, "else").pos)

    def _branch(self, keyword: str) -> _Node:
        nvars = len(self.vars)
        try:
            pipe = self._pipeline(keyword, _T.RIGHT_DELIM)
            if keyword == "range":
                self.range_depth += 1
            body, nxt = self._item_list()
            if keyword == "range":
                self.range_depth -= 1
            else_list: _ListNode | None = None
            if isinstance(nxt, _ElseNode):
                follow = self._peek().typ
                if (keyword, follow) in (("if", _T.IF), ("with", _T.WITH)):
                    # {{if a}}x{{else if b}}y{{end}} == {{if a}}x{{else}}{{if b}}y{{end}}{{end}}
                    self._next()
                    else_list = _ListNode(nxt.pos, (self._branch(keyword),))
                else:
                    else_list, end = self._item_list()
                    if not isinstance(end, _EndNode):
                        raise self._error(f"expected end; found {end}")
        finally:
            del self.vars[nvars:]
        node_type = _RangeNode if keyword == "range" else _BranchNode
        return node_type(pipe.pos, keyword, pipe, body, else_list)

    def _template_name(self, token: _Token, context: str) -> str:
        if token.typ not in (_T.STRING, _T.RAW_STRING):
            raise self._unexpected(token, context)
        return self._unquote(token.val)

    def _template_control(self) -> _Node:
        context = "template clause"
        token = self._next_non_space()
        name = self._template_name(token, context)
        pipe = None
        if self._next_non_space().typ != _T.RIGHT_DELIM:
            self._backup()
            pipe = self._pipeline(context, _T.RIGHT_DELIM)
        return _TemplateNode(token.pos, name, pipe)

    def _block_control(self) -> _Node:
        context = "block clause"
        token = self._next_non_space()
        name = self._template_name(token, context)
        pipe = self._pipeline(context, _T.RIGHT_DELIM)
        root, end = self._nested_tree()
        if not isinstance(end, _EndNode):
            raise self._error(f"unexpected {end} in {context}")
        self._add(name, root)
        return _TemplateNode(token.pos, name, pipe)

    def _pipeline(self, context: str, end: _T) -> _PipeNode:
        pos = self._peek_non_space().pos
        decl: list[_VariableNode] = []
        is_assign = False
        while self._peek_non_space().typ == _T.VARIABLE:
            mark = self.index
            var = self._next()
            nxt = self._peek_non_space()
            if nxt.typ in (_T.ASSIGN, _T.DECLARE):
                is_assign = nxt.typ == _T.ASSIGN
                self._next_non_space()
                decl.append(_VariableNode(var.pos, (var.val,)))
                self.vars.append(var.val)
                break
            if nxt.typ == _T.CHAR and nxt.val == ",":
                self._next_non_space()
                decl.append(_VariableNode(var.pos, (var.val,)))
                self.vars.append(var.val)
                if context == "range" and len(decl) < 2:
                    if self._peek_non_space().typ in (_T.VARIABLE, _T.RIGHT_DELIM, _T.RIGHT_PAREN):
                        continue  # the second variable of a range
                    raise self._error("range can only initialize variables")
                raise self._error(f"too many declarations in {context}")
            self.index = mark  # the variable is an operand, not a declaration
            break
        cmds: list[_CommandNode] = []
        while True:
            token = self._next_non_space()
            if token.typ == end:
                self._check_pipeline(cmds, context)
                return _PipeNode(pos, is_assign, tuple(decl), tuple(cmds))
            if token.typ in _OPERAND_START:
                self._backup()
                cmds.append(self._command())
            else:
                raise self._unexpected(token, context)

    def _check_pipeline(self, cmds: list[_CommandNode], context: str) -> None:
        if not cmds:
            raise self._error(f"missing value for {context}")
        for stage, cmd in enumerate(cmds[1:], start=2):
            if isinstance(cmd.args[0], _BoolNode | _DotNode | _NilNode | _NumberNode | _StringNode):
                raise self._error(f"non executable command in pipeline stage {stage}")

    def _command(self) -> _CommandNode:
        pos = self._peek_non_space().pos
        args: list[_Node] = []
        while True:
            self._peek_non_space()
            operand = self._operand()
            if operand is not None:
                args.append(operand)
            token = self._next()
            if token.typ == _T.SPACE:
                continue
            if token.typ in (_T.RIGHT_DELIM, _T.RIGHT_PAREN):
                self._backup()
            elif token.typ != _T.PIPE:
                raise self._unexpected(token, "operand")
            break
        if not args:
            raise self._error("empty command")
        return _CommandNode(pos, tuple(args))

    def _operand(self) -> _Node | None:
        node = self._term()
        if node is None or self._peek().typ != _T.FIELD:
            return node
        pos = self._peek().pos
        fields: list[str] = []
        while self._peek().typ == _T.FIELD:
            fields.append(self._next().val[1:])
        if isinstance(node, _FieldNode):
            return _FieldNode(pos, (*node.ident, *fields))
        if isinstance(node, _VariableNode):
            return _VariableNode(pos, (*node.ident, *fields))
        if isinstance(node, _BoolNode | _StringNode | _NumberNode | _NilNode | _DotNode):
            raise self._error(f"unexpected . after term {gostrings.quote(str(node))}")
        return _ChainNode(pos, node, tuple(fields))

    def _term(self) -> _Node | None:
        token = self._next_non_space()
        typ = token.typ
        if typ == _T.IDENTIFIER:
            if token.val not in _BUILTIN_NAMES:
                raise self._error(f"function {gostrings.quote(token.val)} not defined")
            return _IdentifierNode(token.pos, token.val)
        if typ == _T.DOT:
            return _DotNode(token.pos)
        if typ == _T.NIL:
            return _NilNode(token.pos)
        if typ == _T.VARIABLE:
            if token.val not in self.vars:
                raise self._error(f"undefined variable {gostrings.quote(token.val)}")
            return _VariableNode(token.pos, (token.val,))
        if typ == _T.FIELD:
            return _FieldNode(token.pos, (token.val[1:],))
        if typ == _T.BOOL:
            return _BoolNode(token.pos, token.val == "true")
        if typ in (_T.CHAR_CONSTANT, _T.COMPLEX, _T.NUMBER):
            try:
                return _parse_number(token)
            except ValueError as err:
                raise self._error(str(err)) from err
        if typ == _T.LEFT_PAREN:
            if self.paren_depth >= _MAX_PAREN_DEPTH:
                raise self._error("max expression depth exceeded")
            self.paren_depth += 1
            try:
                return self._pipeline("parenthesized pipeline", _T.RIGHT_PAREN)
            finally:
                self.paren_depth -= 1
        if typ in (_T.STRING, _T.RAW_STRING):
            return _StringNode(token.pos, token.val, self._unquote(token.val))
        self._backup()
        return None

    def _unquote(self, quoted: str) -> str:
        try:
            return _unquote(quoted)
        except ValueError as err:
            raise self._error(str(err)) from err


def _fast_field(pipe: _PipeNode) -> str | None:
    if pipe.decl or len(pipe.cmds) != 1 or len(pipe.cmds[0].args) != 1:
        return None
    node = pipe.cmds[0].args[0]
    if isinstance(node, _FieldNode) and len(node.ident) == 1 and node.ident[0][0].isupper():
        return node.ident[0]
    return None


def _parse_number(token: _Token) -> _NumberNode:
    """``newNumber``: every Go type the constant fits, or Go's complaint as ValueError."""
    text = token.val
    pos = token.pos
    if token.typ == _T.CHAR_CONSTANT:
        value, _, end = _unquote_char(text, 1, "'")
        if text[end:] != "'":
            raise ValueError(f"malformed character constant: {text}")
        return _NumberNode(pos, text, True, True, True, False, value, float(value))
    if token.typ == _T.COMPLEX:
        try:
            return _complex_node(pos, text, complex(text.replace("_", "").replace("i", "j")))
        except ValueError:
            raise ValueError(f"illegal number syntax: {gostrings.quote(text)}") from None
    if text.endswith("i"):
        imag = _parse_go_float(text[:-1])
        if imag is not None:
            return _complex_node(pos, text, complex(0, imag))
    unsigned = _parse_go_int(text, signed=False)
    signed = _parse_go_int(text, signed=True)
    is_uint = unsigned is not None
    is_int = signed is not None
    if signed == 0:
        is_uint, unsigned = True, 0  # "-0"
    is_float = False
    float_value = 0.0
    if signed is not None:
        is_float, float_value = True, float(signed)
    elif unsigned is not None:
        is_float, float_value = True, float(unsigned)
    else:
        parsed = _parse_go_float(text)
        if parsed is not None:
            if not any(c in text for c in ".eEpP"):
                raise ValueError(f"integer overflow: {gostrings.quote(text)}")
            is_float, float_value = True, parsed
            if _fits_int64(parsed):
                is_int, signed = True, int(parsed)
            if _fits_uint64(parsed):
                is_uint = True
    if not (is_int or is_uint or is_float):
        raise ValueError(f"illegal number syntax: {gostrings.quote(text)}")
    return _NumberNode(pos, text, is_int, is_uint, is_float, False, signed or 0, float_value)


def _complex_node(pos: int, text: str, value: complex) -> _NumberNode:
    is_float = value.imag == 0
    real = value.real
    is_int = is_float and _fits_int64(real)
    is_uint = is_float and _fits_uint64(real)
    return _NumberNode(
        pos, text, is_int, is_uint, is_float, True, int(real) if is_int else 0, real, value
    )


# ---------------------------------------------------------------------------------------
# Built-in functions (funcs.go)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Builtin:
    num_in: int  # Go's parameter count, the variadic one included
    variadic: bool
    impl: Callable[[list[object]], object] | None  # None: evaluated specially


_INVALID, _BOOL, _COMPLEX, _INT, _FLOAT, _STRING = range(6)


def _basic_kind(value: object) -> int:
    t = type(value)
    if t is bool:
        return _BOOL
    if t is int:
        return _INT
    if t is float:
        return _FLOAT
    if t is str:
        return _STRING
    if t is complex:
        return _COMPLEX
    return _INVALID


def _go_kind(value: object) -> str:
    if value is None:
        return "invalid"
    if type(value) in (list, tuple):
        return "slice"
    if type(value) is GoStruct:
        return "struct"
    return "map" if _map_parts(value) is not None else type(value).__name__


def _fn_eq(args: list[object]) -> object:
    first = args[0]
    if len(args) == 1:
        raise _FuncError("missing argument for comparison")
    k1 = _basic_kind(first)
    for other in args[1:]:
        k2 = _basic_kind(other)
        if k1 != k2:
            if first is not None and other is not None:
                raise _FuncError(
                    "incompatible types for comparison: "
                    f"{_type_name(first)} and {_type_name(other)}"
                )
            truth = False
        elif k1 != _INVALID:
            truth = first == other
        else:
            if first is not None and other is not None and _go_kind(first) != _go_kind(other):
                raise _FuncError(
                    f"non-comparable types {_action_text(first)}: {_type_name(first)}, "
                    f"{_type_name(other)}: {_action_text(other)}"
                )
            if first is None or other is None:
                truth = first is None and other is None
            elif type(other) is GoStruct:
                truth = first == other
            else:
                raise _FuncError(f"non-comparable type {_action_text(other)}: {_type_name(other)}")
        if truth:
            return True
    return False


def _fn_ne(args: list[object]) -> object:
    return not _fn_eq(args)


def _fn_lt(args: list[object]) -> object:
    a, b = args
    k1 = _basic_kind(a)
    k2 = _basic_kind(b)
    if k1 == _INVALID or k2 == _INVALID:
        raise _FuncError("invalid type for comparison")
    if k1 != k2:
        raise _FuncError(f"incompatible types for comparison: {_type_name(a)} and {_type_name(b)}")
    if k1 in (_BOOL, _COMPLEX):
        raise _FuncError("invalid type for comparison")
    return a < b  # type: ignore[operator]


def _fn_le(args: list[object]) -> object:
    return bool(_fn_lt(args)) or bool(_fn_eq(args))


def _fn_gt(args: list[object]) -> object:
    return not _fn_le(args)


def _fn_ge(args: list[object]) -> object:
    return not _fn_lt(args)


def _fn_not(args: list[object]) -> object:
    return not _truth(args[0])


def _fn_len(args: list[object]) -> object:
    item = args[0]
    t = type(item)
    if t is str:
        text: str = item  # type: ignore[assignment]
        return len(text) if text.isascii() else len(text.encode())
    if t is list or t is tuple:
        return len(item)  # type: ignore[arg-type]
    parts = _map_parts(item)
    if parts is not None:
        return len(parts[0])
    if item is None:
        raise _FuncError("reflect: call of reflect.Value.Type on zero Value")
    raise _FuncError(f"len of type {_type_name(item)}")


def _index_arg(index: object, cap: int) -> int:
    if type(index) is int:
        x: int = index
        if x < 0 or x > cap:
            raise _FuncError(f"index out of range: {x}")
        return x
    if index is None:
        raise _FuncError("cannot index slice/array with nil")
    raise _FuncError(f"cannot index slice/array with type {_type_name(index)}")


def _map_key(index: object, key_type: str) -> object:
    """``prepareArg``: the index converted to the map's key type, or why it cannot be."""
    if key_type in _ANY_TYPES:
        return index
    if index is None:
        raise _FuncError(f"value is nil; should be of type {key_type}")
    name = _type_name(index)
    if name == key_type or (name == "int" and key_type in _INT_TYPES):
        return index
    raise _FuncError(f"value has type {name}; should be {key_type}")


def _fn_index(args: list[object]) -> object:
    item = args[0]
    if item is None:
        raise _FuncError("index of untyped nil")
    for index in args[1:]:
        if item is None:
            raise _FuncError("index of nil pointer")
        t = type(item)
        if t is str:
            data: bytes = item.encode()  # type: ignore[attr-defined]
            x = _index_arg(index, len(data))
            if x == len(data):
                raise _FuncError("reflect: string index out of range")
            item = data[x]
        elif t is list or t is tuple:
            seq: Sequence[object] = item  # type: ignore[assignment]
            x = _index_arg(index, len(seq))
            if x == len(seq):
                raise _FuncError("reflect: slice index out of range")
            item = seq[x]
        else:
            parts = _map_parts(item)
            if parts is None:
                raise _FuncError(f"can't index item of type {_type_name(item)}")
            found = parts[0].get(_map_key(index, parts[1]), _ABSENT)
            item = _map_zero(item) if found is _ABSENT else found
    return item


def _fn_slice(args: list[object]) -> object:
    item = args[0]
    indexes = args[1:]
    if item is None:
        raise _FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise _FuncError(f"too many slice indexes: {len(indexes)}")
    t = type(item)
    if t is str:
        if len(indexes) == 3:
            raise _FuncError("cannot 3-index slice a string")
        text: str = item  # type: ignore[assignment]
        length = len(text) if text.isascii() else len(text.encode())
    elif t is list or t is tuple:
        length = len(item)  # type: ignore[arg-type]
    else:
        raise _FuncError(f"can't slice item of type {_type_name(item)}")
    bounds = [0, length, length]
    for i, index in enumerate(indexes):
        bounds[i] = _index_arg(index, length)
    if bounds[0] > bounds[1]:
        raise _FuncError(f"invalid slice index: {bounds[0]} > {bounds[1]}")
    if len(indexes) == 3 and bounds[1] > bounds[2]:
        raise _FuncError(f"invalid slice index: {bounds[1]} > {bounds[2]}")
    if t is str:
        text = item  # type: ignore[assignment]
        if text.isascii():
            return text[bounds[0] : bounds[1]]
        return text.encode()[bounds[0] : bounds[1]].decode("utf-8", "replace")
    return list(item[bounds[0] : bounds[1]])  # type: ignore[index]


def _eval_args(args: list[object]) -> str:
    """The text ``html``, ``js`` and ``urlquery`` escape (``evalArgs``)."""
    if len(args) == 1 and type(args[0]) is str:
        return args[0]
    return _sprint(["<no value>" if a is None else a for a in args])


def _html_escape(text: str) -> str:
    if not any(c in text for c in "'\"&<>\0"):
        return text
    return (
        text.replace("&", "&amp;")
        .replace("'", "&#39;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("\0", "\ufffd")
    )


_JS_ESCAPES: Final = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "<": "\\u003C",
    ">": "\\u003E",
    "&": "\\u0026",
    "=": "\\u003D",
}


def _js_escape(text: str) -> str:
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        escaped = _JS_ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif code < 0x20:
            out.append(f"\\u00{code:02X}")
        elif code < 0x80 or ch.isprintable():
            out.append(ch)
        else:
            out.append(f"\\u{code:04X}")
    return "".join(out)


_BUILTINS: Final[Mapping[str, _Builtin]] = {
    "and": _Builtin(2, True, None),
    "or": _Builtin(2, True, None),
    "call": _Builtin(2, True, None),
    "not": _Builtin(1, False, _fn_not),
    "len": _Builtin(1, False, _fn_len),
    "index": _Builtin(2, True, _fn_index),
    "slice": _Builtin(2, True, _fn_slice),
    "print": _Builtin(1, True, lambda a: _sprint(a)),
    "printf": _Builtin(2, True, lambda a: _sprintf(a[0], a[1:])),  # type: ignore[arg-type]
    "println": _Builtin(1, True, lambda a: _sprintln(a)),
    "html": _Builtin(1, True, lambda a: _html_escape(_eval_args(a))),
    "js": _Builtin(1, True, lambda a: _js_escape(_eval_args(a))),
    "urlquery": _Builtin(1, True, lambda a: quote_plus(_eval_args(a), safe="")),
    "eq": _Builtin(2, True, _fn_eq),
    "ne": _Builtin(2, False, _fn_ne),
    "lt": _Builtin(2, False, _fn_lt),
    "le": _Builtin(2, False, _fn_le),
    "gt": _Builtin(2, False, _fn_gt),
    "ge": _Builtin(2, False, _fn_ge),
}


def _string_arg(st: _State, dot: object, node: _Node) -> str:
    """An argument for a ``string`` parameter (printf's format), checked as Go does."""
    st.node = node
    if isinstance(node, _StringNode):
        return node.text
    if isinstance(node, _NilNode):
        raise st.error("cannot assign nil to string")
    if isinstance(node, _BoolNode | _NumberNode):
        raise st.error(f"expected string; found {node}")
    return _check_string(st, node.arg(st, dot))


def _check_string(st: _State, value: object) -> str:
    if value is None:
        raise st.error("invalid value; expected string")
    if type(value) is not str:
        raise st.error(f"wrong type for value; expected string; got {_type_name(value)}")
    return value


def _eval_call(
    st: _State,
    dot: object,
    name: str,
    node: _Node,
    args: Sequence[_Node] | None,
    final: object,
) -> object:
    """Call a built-in (``evalCall``): arity check, then the arguments, then the function."""
    spec = _BUILTINS[name]
    arg_nodes = args[1:] if args is not None else ()
    count = len(arg_nodes) + (final is not _MISSING)
    if spec.variadic:
        if count < spec.num_in - 1:
            raise st.error(
                f"wrong number of args for {name}: want at least {spec.num_in - 1} "
                f"got {len(arg_nodes)}"
            )
    elif count != spec.num_in:
        raise st.error(f"wrong number of args for {name}: want {spec.num_in} got {count}")
    if name in ("and", "or"):
        # Short-circuit: stop at the first argument that settles the answer.
        want = name == "or"
        value: object = None
        for arg_node in arg_nodes:
            value = arg_node.arg(st, dot)
            if _truth(value) == want:
                return value
        return final if final is not _MISSING else value
    values: list[object]
    if name == "printf":
        if arg_nodes:
            values = [_string_arg(st, dot, arg_nodes[0])]
            values.extend(a.arg(st, dot) for a in arg_nodes[1:])
            if final is not _MISSING:
                values.append(final)
        else:
            values = [_check_string(st, final)]
    else:
        values = [a.arg(st, dot) for a in arg_nodes]
        if final is not _MISSING:
            values.append(final)
    try:
        if spec.impl is None:  # call: the data model holds no functions to call
            callee = str(arg_nodes[0]) if arg_nodes else ""
            if values[0] is None:
                raise _FuncError("call of nil")
            raise _FuncError(f"non-function {callee} of type {_type_name(values[0])}")
        return spec.impl(values)
    except _FuncError as err:
        st.node = node
        raise st.error(f"error calling {name}: {err}") from err


# ---------------------------------------------------------------------------------------
# fmt: Sprint, Sprintln, Sprintf and the %v of every value
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Flags:
    plus: bool = False
    minus: bool = False
    sharp: bool = False
    space: bool = False
    zero: bool = False
    plus_v: bool = False
    sharp_v: bool = False
    wid: int | None = None
    prec: int | None = None


_PLAIN: Final = _Flags()


def _pad(f: _Flags, text: str, *, zeros: bool = True) -> str:
    if not f.wid:
        return text
    n = f.wid - len(text)
    if n <= 0:
        return text
    if f.minus:
        return text + " " * n
    return ("0" if zeros and f.zero else " ") * n + text


def _sorted_keys(m: Mapping[object, object]) -> list[object]:
    """Map keys in ``fmtsort`` order: numbers and strings ascending, false before true."""
    keys = list(m)
    try:
        keys.sort()
    except TypeError:
        keys.sort(key=lambda k: (type(k).__name__, repr(k)))
    return keys


def _shortest_digits(x: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of ``x > 0`` and the decimal point position."""
    text = repr(x)
    exponent = 0
    if "e" in text:
        text, exp_text = text.split("e")
        exponent = int(exp_text)
    whole, _, frac = text.partition(".")
    digits = whole + frac
    point = len(whole) + exponent
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0") or "0"
    return digits, point


def _fmt_float(x: float, verb: str, f: _Flags) -> str:
    """Go's ``fmtFloat`` for the verbs v, g, G, e, E, f, F."""
    negative = math.copysign(1.0, x) < 0
    if math.isnan(x):
        body = "NaN"
        sign = "+" if f.plus else " " if f.space else ""
        return _pad(f, sign + body, zeros=False)
    if math.isinf(x):
        sign = "-" if negative else " " if f.space and not f.plus else "+"
        return _pad(f, sign + "Inf", zeros=False)
    ax = abs(x)
    prec = f.prec
    if verb in "vgG":
        if prec is None:
            body = _go_g_shortest(ax, verb == "G")
        else:
            body = format(ax, f".{prec}{'G' if verb == 'G' else 'g'}")
    else:
        body = format(ax, f".{6 if prec is None else prec}{verb}")
    sign = "-" if negative else "+"
    if f.space and sign == "+" and not f.plus:
        sign = " "
    if f.plus or sign != "+":
        if f.zero and not f.minus and f.wid and f.wid > len(body) + 1:
            return sign + "0" * (f.wid - len(body) - 1) + body
        return _pad(f, sign + body)
    return _pad(f, body)


def _go_g_shortest(x: float, upper: bool) -> str:
    """``strconv.FormatFloat(x, 'g', -1, 64)`` for ``x >= 0``: %e once the exponent is
    below -4 or at least 6 (so ``1e+06``, ``123456``), else %f, always with the shortest
    round-trip digits."""
    if x == 0:
        return "0"
    digits, point = _shortest_digits(x)
    exp = point - 1
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        sign = "-" if exp < 0 else "+"
        return f"{mantissa}{'E' if upper else 'e'}{sign}{abs(exp):02d}"
    if point <= 0:
        return "0." + "0" * (-point) + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


def _fmt_integer(v: int, verb: str, f: _Flags) -> str:
    if verb == "c":
        return _pad(f, _rune_text(v))
    if verb == "q":
        ch = _rune_text(v)
        if f.sharp and _can_backquote(ch):
            return _pad(f, f"`{ch}`")
        return _pad(f, gostrings.quote_rune(ch, ascii_only=f.plus))
    if verb == "U":
        text = f"U+{v:0{max(f.prec or 0, 4)}X}" if v >= 0 else f"U+-{-v:04X}"
        if f.sharp and 0 <= v <= 0x10FFFF and chr(v).isprintable():
            text += f" '{chr(v)}'"
        return _pad(f, text, zeros=False)
    base_spec = {"d": "d", "v": "d", "b": "b", "o": "o", "O": "o", "x": "x", "X": "X"}[verb]
    negative = v < 0
    digits = format(-v if negative else v, base_spec)
    if f.prec is not None:
        if f.prec == 0 and v == 0:
            return _pad(f, "", zeros=False)
        digits = digits.rjust(f.prec, "0")
    elif f.zero and not f.minus and f.wid:
        width = f.wid - (1 if negative or f.plus or f.space else 0)
        digits = digits.rjust(width, "0")
    prefix = ""
    if f.sharp:
        if verb == "b":
            prefix = "0b"
        elif verb == "o" and not digits.startswith("0"):
            prefix = "0"
        elif verb in "xX":
            prefix = "0" + verb
    if verb == "O":
        prefix = "0o"
    sign = "-" if negative else "+" if f.plus else " " if f.space else ""
    return _pad(f, sign + prefix + digits, zeros=False)


def _rune_text(v: int) -> str:
    if 0 <= v <= 0x10FFFF and not 0xD800 <= v <= 0xDFFF:
        return chr(v)
    return "\ufffd"


def _fmt_string(s: str, verb: str, f: _Flags) -> str:
    if verb == "s" or (verb == "v" and not f.sharp_v):
        return _pad(f, s if f.prec is None else s[: f.prec])
    if verb in "xX":
        data = s.encode()
        if f.prec is not None:
            data = data[: f.prec]
        parts: list[str] = []
        for i, byte in enumerate(data):
            if f.space and i > 0:
                parts.append(" ")
            if f.sharp and (f.space or i == 0):
                parts.append("0" + verb)
            parts.append(format(byte, "02x" if verb == "x" else "02X"))
        return _pad(f, "".join(parts))
    # q, or v with #
    if f.prec is not None:
        s = s[: f.prec]
    if f.sharp and _can_backquote(s):
        return _pad(f, f"`{s}`")
    return _pad(f, gostrings.quote(s, ascii_only=f.plus))


def _bad_verb(arg: object, verb: str, f: _Flags) -> str:
    if arg is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({_type_name(arg)}={_format_arg(arg, 'v', f, 0)})"


def _format_arg(arg: object, verb: str, f: _Flags, depth: int) -> str:
    """One operand of a ``fmt`` call (``printArg``/``printValue``)."""
    if arg is None:
        if depth > 0:
            return "interface {}(nil)" if f.sharp_v else "<nil>"
        if verb in "vT":
            return _pad(f, "<nil>")
        return _bad_verb(arg, verb, f)
    if verb == "T":
        return _pad(f, _type_name(arg))
    t = type(arg)
    if t is str:
        if verb in "vsxXq":
            return _fmt_string(arg, verb, f)  # type: ignore[arg-type]
        return _bad_verb(arg, verb, f)
    if t is bool:
        if verb in "tv":
            return _pad(f, "true" if arg else "false")
        return _bad_verb(arg, verb, f)
    if t is int:
        if verb in "bcdoOqxXUv":
            return _fmt_integer(arg, verb, f)  # type: ignore[arg-type]
        return _bad_verb(arg, verb, f)
    if t is float:
        if verb in "vgGeEfF":
            return _fmt_float(arg, verb, f)  # type: ignore[arg-type]
        return _bad_verb(arg, verb, f)
    if t is complex:
        if verb in "vgGeEfF":
            c: complex = arg  # type: ignore[assignment]
            imag_flags = _Flags(
                True, f.minus, f.sharp, f.space, f.zero, f.plus_v, f.sharp_v, f.wid, f.prec
            )
            return f"({_fmt_float(c.real, verb, f)}{_fmt_float(c.imag, verb, imag_flags)}i)"
        return _bad_verb(arg, verb, f)
    if t is GoStruct:
        return _fmt_struct(arg, verb, f, depth)  # type: ignore[arg-type]
    if t is list or t is tuple:
        seq: Sequence[object] = arg  # type: ignore[assignment]
        items = [_format_arg(e, verb, f, depth + 1) for e in seq]
        if f.sharp_v:
            return _type_name(arg) + "{" + ", ".join(items) + "}"
        return "[" + " ".join(items) + "]"
    parts = _map_parts(arg)
    if parts is not None:
        mapping = parts[0]
        pairs = [
            _format_arg(k, verb, f, depth + 1) + ":" + _format_arg(mapping[k], verb, f, depth + 1)
            for k in _sorted_keys(mapping)
        ]
        if f.sharp_v:
            return _type_name(arg) + "{" + ", ".join(pairs) + "}"
        return "map[" + " ".join(pairs) + "]"
    return _pad(f, str(arg))


def _fmt_struct(v: GoStruct, verb: str, f: _Flags, depth: int) -> str:
    if v.stringer is not None and not f.sharp_v and verb in "vsxXq":
        return _fmt_string(v.stringer(), verb, f)
    named = f.plus_v or f.sharp_v
    items = [
        (f"{name}:" if named else "") + _format_arg(value, verb, f, depth + 1)
        for name, value in v.fields.items()
    ]
    if f.sharp_v:
        return v.type_name + "{" + ", ".join(items) + "}"
    return "{" + " ".join(items) + "}"


def _sprint(args: Sequence[object]) -> str:
    """``fmt.Sprint``: a space between operands when neither is a string."""
    out: list[str] = []
    previous_string = False
    for i, arg in enumerate(args):
        is_string = type(arg) is str
        if i > 0 and not is_string and not previous_string:
            out.append(" ")
        out.append(arg if is_string else _format_arg(arg, "v", _PLAIN, 0))  # type: ignore[arg-type]
        previous_string = is_string
    return "".join(out)


def _sprintln(args: Sequence[object]) -> str:
    return " ".join(_format_arg(a, "v", _PLAIN, 0) for a in args) + "\n"


_TOO_LARGE: Final = 1_000_000


def _parse_num(fmt: str, i: int, end: int) -> tuple[int, bool, int]:
    num = 0
    found = False
    while i < end and "0" <= fmt[i] <= "9":
        if num > _TOO_LARGE:
            return 0, False, end
        num = num * 10 + ord(fmt[i]) - 48
        found = True
        i += 1
    return num, found, i


def _arg_number(fmt: str, i: int, argnum: int, nargs: int) -> tuple[int, int, bool, bool]:
    """An explicit ``[n]`` argument index: (argnum, next i, found, good)."""
    if i >= len(fmt) or fmt[i] != "[":
        return argnum, i, False, True
    close = fmt.find("]", i + 1)
    if close < 0 or close - i < 2:
        return argnum, i + 1, False, False
    index, ok, after = _parse_num(fmt, i + 1, close)
    if not ok or after != close:
        return argnum, close + 1, False, False
    if 1 <= index <= nargs:
        return index - 1, close + 1, True, True
    return argnum, close + 1, True, False


def _int_from_arg(args: Sequence[object], argnum: int) -> tuple[int | None, int]:
    if argnum >= len(args):
        return None, argnum
    value = args[argnum]
    if type(value) is not int or abs(value) > _TOO_LARGE:
        return None, argnum + 1
    return value, argnum + 1


def _sprintf(fmt: str, args: Sequence[object]) -> str:
    """``fmt.Sprintf`` with Go's flags, width, precision, ``[n]`` indexes and complaints
    (``%!d(string=x)``, ``%!d(MISSING)``, ``%!(EXTRA ...)``)."""
    out: list[str] = []
    end = len(fmt)
    nargs = len(args)
    argnum = 0
    reordered = False
    i = 0
    while i < end:
        percent = fmt.find("%", i)
        if percent < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:percent])
        i = percent + 1
        plus = minus = sharp = space = zero = False
        while i < end:
            c = fmt[i]
            if c == "#":
                sharp = True
            elif c == "0":
                zero = not minus
            elif c == "+":
                plus = True
            elif c == "-":
                minus, zero = True, False
            elif c == " ":
                space = True
            else:
                break
            i += 1
        good = True
        argnum, i, after_index, ok = _arg_number(fmt, i, argnum, nargs)
        reordered = reordered or after_index or not ok
        good = good and ok
        wid: int | None = None
        if i < end and fmt[i] == "*":
            i += 1
            wid, argnum = _int_from_arg(args, argnum)
            if wid is None:
                out.append("%!(BADWIDTH)")
            elif wid < 0:
                wid, minus, zero = -wid, True, False
            after_index = False
        else:
            number, found, i = _parse_num(fmt, i, end)
            if found:
                wid = number
                if after_index:
                    good = False
        prec: int | None = None
        if i < end and fmt[i] == ".":
            i += 1
            if after_index:
                good = False
            argnum, i, after_index, ok = _arg_number(fmt, i, argnum, nargs)
            reordered = reordered or after_index or not ok
            good = good and ok
            if i < end and fmt[i] == "*":
                i += 1
                prec, argnum = _int_from_arg(args, argnum)
                if prec is not None and prec < 0:
                    prec = None
                if prec is None:
                    out.append("%!(BADPREC)")
                after_index = False
            else:
                prec, _, i = _parse_num(fmt, i, end)
        if not after_index:
            argnum, i, after_index, ok = _arg_number(fmt, i, argnum, nargs)
            reordered = reordered or after_index or not ok
            good = good and ok
        if i >= end:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if not good:
            out.append(f"%!{verb}(BADINDEX)")
            continue
        if argnum >= nargs:
            out.append(f"%!{verb}(MISSING)")
            continue
        plus_v = sharp_v = False
        if verb == "v":
            sharp_v, sharp = sharp, False
            plus_v, plus = plus, False
        flags = _Flags(plus, minus, sharp, space, zero, plus_v, sharp_v, wid, prec)
        out.append(_format_arg(args[argnum], verb, flags, 0))
        argnum += 1
    if not reordered and argnum < nargs:
        extra = ", ".join(
            "<nil>" if a is None else f"{_type_name(a)}={_format_arg(a, 'v', _PLAIN, 0)}"
            for a in args[argnum:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------


class Template:
    """A parsed Go template and the templates it defines; execute it as often as needed."""

    __slots__ = ("_main", "_trees", "name")

    def __init__(self, name: str, trees: Mapping[str, _Tree]) -> None:
        self.name = name
        self._trees = trees
        self._main = trees[name]

    @classmethod
    def parse(
        cls,
        text: str,
        *,
        name: str = "",
        left_delim: str = "{{",
        right_delim: str = "}}",
    ) -> Template:
        """Parse ``text`` like ``template.New(name).Delims(left, right).Parse(text)``.

        Empty delimiters mean the defaults, as in Go. Raises TemplateSyntaxError.
        """
        source = _Source.of(text, name)
        parser = _Parser(source, left_delim or "{{", right_delim or "}}")
        try:
            roots = parser.parse(name)
        except RecursionError as err:
            raise TemplateSyntaxError(f"template: {name}: nesting too deep to parse") from err
        trees = {tree_name: _Tree(tree_name, root, source) for tree_name, root in roots.items()}
        return cls(name, trees)

    def execute(self, data: object) -> str:
        """Render the template with ``data`` as dot and ``$``. Raises TemplateExecError."""
        tree = self._main
        out: list[str] = []
        st = _State(self._trees, tree, out, [["$", data]], 0)
        try:
            tree.root.walk(st, data)
        except RecursionError as err:
            raise st.error("exceeded maximum template depth (Python stack)") from err
        return "".join(out)

    def references_field(self, field_name: str) -> bool:
        """Whether any action names ``.field_name`` (as ``.X.field_name``, ``$v.field_name``
        or ``(pipe).field_name`` too). prometheus-adapter rejects a ``resources.template``
        that never mentions ``.Resource``."""
        for tree in self._trees.values():
            for node in _iter_nodes(tree.root):
                if isinstance(node, _FieldNode) and field_name in node.ident:
                    return True
                if isinstance(node, _VariableNode) and field_name in node.ident[1:]:
                    return True
                if isinstance(node, _ChainNode) and field_name in node.fields:
                    return True
        return False

    def __repr__(self) -> str:
        return f"Template(name={self.name!r})"
