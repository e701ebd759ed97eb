"""The access log's URI bound (`adapter.server.accesslog.bounded_uri`), for any URI a
client can send: short ones are kept whole, long ones keep their head and say exactly
how much was cut, and the result never exceeds the bound by more than the marker."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from adapter.server.accesslog import MAX_LOGGED_URI, bounded_uri


@given(st.text(max_size=200), st.integers(min_value=1, max_value=100))
def test_bounded_uri_keeps_the_head_and_counts_the_cut(uri: str, limit: int) -> None:
    logged = bounded_uri(uri, limit)
    if len(uri) <= limit:
        assert logged == uri
        return
    assert logged.startswith(uri[:limit])
    marker = logged[limit:]
    match = re.fullmatch(r"\.\.\.\((\d+) more characters\)", marker)
    assert match is not None, marker
    assert int(match.group(1)) == len(uri) - limit


def test_default_bound_is_4KiB() -> None:
    assert bounded_uri("/" + "x" * (MAX_LOGGED_URI - 1)) == "/" + "x" * (MAX_LOGGED_URI - 1)
    assert bounded_uri("/" * (MAX_LOGGED_URI + 10)).endswith("...(10 more characters)")
