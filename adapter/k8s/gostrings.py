"""Go's `strconv.Quote`: how Kubernetes and Go's templates print a string in a message.

Owns the one quoting function of the package. Kubernetes error messages (`%q` in
`fmt.Errorf`), selector and duration parse errors, and the `printf "%q"` of a Go
template all print strings this way, and users compare those messages byte for byte with
what kube-apiserver, client-go and prometheus-adapter print. Unquoting Go literals is
the template lexer's business (`adapter.rules.gotemplate`), since only it reads them.

Python strings that came from bytes which were not UTF-8 carry those bytes as lone
surrogates (`surrogateescape`, U+DC80-U+DCFF); Go sees the same bytes as invalid UTF-8
and prints each one as `\\xNN`, so that is what comes out. Any other lone surrogate is
printed as the bytes Go would see for it (its CESU-8 form), each invalid, each `\\xNN`.
"""

from __future__ import annotations

from typing import Final

__all__ = ["quote", "quote_rune"]

_NAMED_ESCAPES: Final = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def _escape(char: str, delimiter: str, ascii_only: bool) -> str:
    if char == delimiter or char == "\\":
        return "\\" + char
    point = ord(char)
    if (point < 0x80 or not ascii_only) and char.isprintable():
        return char
    named = _NAMED_ESCAPES.get(char)
    if named is not None:
        return named
    if point < 0x20 or point == 0x7F:
        return f"\\x{point:02x}"
    if 0xDC80 <= point <= 0xDCFF:
        return f"\\x{point - 0xDC00:02x}"
    if 0xD800 <= point <= 0xDFFF:
        return "".join(f"\\x{byte:02x}" for byte in char.encode("utf-8", "surrogatepass"))
    if point < 0x10000:
        return f"\\u{point:04x}"
    return f"\\U{point:08x}"


def quote(text: str, *, ascii_only: bool = False) -> str:
    """`strconv.Quote(text)`, or `strconv.QuoteToASCII` with `ascii_only`: double quotes,
    Go's escapes, printable runes kept as they are."""
    plain = text.isprintable() and '"' not in text and "\\" not in text
    if plain and (text.isascii() or not ascii_only):
        return f'"{text}"'
    return '"' + "".join(_escape(char, '"', ascii_only) for char in text) + '"'


def quote_rune(char: str, *, ascii_only: bool = False) -> str:
    """`strconv.QuoteRune` (or `QuoteRuneToASCII`): one character in single quotes."""
    return "'" + _escape(char, "'", ascii_only) + "'"
