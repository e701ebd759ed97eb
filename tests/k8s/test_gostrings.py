"""Go's strconv.Quote, QuoteToASCII and QuoteRune, as the package's one quoting function.

Expected outputs are what Go prints for the same strings: the examples in the strconv
package documentation (ExampleQuote, ExampleQuoteToASCII, ExampleQuoteRune) and the
cases of its quote tests (src/strconv/quote_test.go: control characters, invalid UTF-8,
non-printable runes, spaces other than U+0020). Kubernetes messages (`%q`) and template
output are compared byte for byte with Go's, so every branch is pinned here.
"""

from __future__ import annotations

import ast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapter.k8s import gostrings


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("web-0", '"web-0"'),
        ("", '""'),
        ('a"b', '"a\\"b"'),
        ("a\\b", '"a\\\\b"'),
        ("'", '"\'"'),  # a single quote needs no escape inside double quotes
        # ExampleQuote: a tab escaped, a smiley kept
        ('"Fran & Freddie\'s Diner\t☺"', '"\\"Fran & Freddie\'s Diner\\t☺\\""'),
        # the named control escapes, never raw bytes
        ("\a\b\f\r\n\t\v", '"\\a\\b\\f\\r\\n\\t\\v"'),
        ("a\nb", '"a\\nb"'),
        ("\x00", '"\\x00"'),
        ("\x04", '"\\x04"'),
        ("\x7f", '"\\x7f"'),
        # printable non-ASCII kept; non-printable escaped by width
        ("héllo", '"héllo"'),
        ("\u263a", '"☺"'),
        ("\u200b", '"\\u200b"'),  # zero-width space: a format character
        ("!\u00a0!\u2000!\u3000!", '"!\\u00a0!\\u2000!\\u3000!"'),  # spaces other than ' '
        ("\U0010ffff", '"\\U0010ffff"'),
        ("\U000e0001", '"\\U000e0001"'),
        # invalid UTF-8: Go prints each bad byte as \xNN; Python carries such bytes as
        # surrogateescape code points
        (b"abc\xffdef".decode("utf-8", "surrogateescape"), '"abc\\xffdef"'),
        (b"\x80".decode("utf-8", "surrogateescape"), '"\\x80"'),
        # a lone surrogate from elsewhere: the bytes Go would see, each invalid
        ("\ud800", '"\\xed\\xa0\\x80"'),
    ],
)
def test_quote_matches_go(text: str, quoted: str) -> None:
    assert gostrings.quote(text) == quoted


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        # ExampleQuoteToASCII
        ('"Fran & Freddie\'s Diner\t☺"', '"\\"Fran & Freddie\'s Diner\\t\\u263a\\""'),
        ("héllo", '"h\\u00e9llo"'),
        ("\U0001f600", '"\\U0001f600"'),
        ("plain", '"plain"'),
    ],
)
def test_quote_to_ascii_matches_go(text: str, quoted: str) -> None:
    assert gostrings.quote(text, ascii_only=True) == quoted


@pytest.mark.parametrize(
    ("char", "quoted", "ascii_only"),
    [
        ("☺", "'☺'", False),  # ExampleQuoteRune
        ("☺", "'\\u263a'", True),  # ExampleQuoteRuneToASCII
        ("'", "'\\''", False),
        ('"', "'\"'", False),
        ("\n", "'\\n'", False),
    ],
)
def test_quote_rune_matches_go(char: str, quoted: str, ascii_only: bool) -> None:
    assert gostrings.quote_rune(char, ascii_only=ascii_only) == quoted


@given(st.text())
def test_quoted_text_is_one_line_and_reads_back(text: str) -> None:
    """Whatever a client sends, the quoted form stays on one line (logs, Status
    messages) and, for valid text, Python reads it back as the same string, as Go's
    Unquote would."""
    quoted = gostrings.quote(text)
    assert "\n" not in quoted and "\r" not in quoted
    assert quoted.startswith('"') and quoted.endswith('"')
    if not any(0xD800 <= ord(char) <= 0xDFFF for char in text):
        assert _go_unquote(quoted) == text


def _go_unquote(quoted: str) -> str:
    """For valid text Go's escapes are a subset of a Python string literal's (\\xNN only
    appears below 0x20 and for 0x7f, where byte and code point agree)."""
    value = ast.literal_eval(quoted)
    assert isinstance(value, str)
    return value
