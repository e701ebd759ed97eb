"""Incremental decoding of `/api/v1/series` bodies: label sets in batches as bytes arrive.

Discovery lists every series matching each rule's `seriesQuery`; on big clusters that is a
body of hundreds of megabytes (upstream issue #221: 3 GiB adapters holding whole answers).
This module never holds more than the bytes of one chunk plus one unfinished series: it is
fed chunks and hands back lists of label dicts as soon as they are complete. It is pure (no
I/O, no event loop); `client.PrometheusClient.series` feeds it from the HTTP body and turns
the envelope (`status`, `errorType`, `data: null`) into errors.

How: the envelope's members are walked one by one with a tiny tokenizer, so key order and
whitespace are free, as from Thanos, Mimir or VictoriaMetrics. Inside the `data` array each
series is a flat object of strings. For speed, the bytes up to the last `}` in the buffer
are handed to orjson as one array; that parse can only succeed when the cut falls right
after a complete object (a cut inside a string leaves an unterminated string), so success
proves the batch. When it fails - a `}` inside a label value, the end of the array in the
buffer - a compiled regex finds the run of complete objects instead. All work is on bytes,
so a multi-byte UTF-8 character split across chunks is only decoded once whole.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any, cast

import orjson

from adapter.prometheus.errors import body_text, json_text

__all__ = ["SeriesDecodeError", "SeriesEnvelope", "SeriesStreamDecoder"]


class SeriesDecodeError(ValueError):
    """The body is not a well-formed series answer (malformed, truncated, wrong shapes)."""


_WS = rb"[ \t\r\n]*+"
_STR = rb'"(?:[^"\\]++|\\.)*+"'
_MEMBER = _STR + _WS + rb":" + _WS + _STR
_OBJ = rb"\{%(ws)s(?:%(member)s(?:%(ws)s,%(ws)s%(member)s)*+)?+%(ws)s\}" % {
    b"ws": _WS,
    b"member": _MEMBER,
}
_RUN = re.compile(_OBJ + rb"(?:" + _WS + rb"," + _WS + _OBJ + rb")*+", re.DOTALL)
_WS_RE = re.compile(_WS)
_STR_RE = re.compile(_STR, re.DOTALL)
# A string, an unterminated string (lone quote: need more bytes), or a bracket.
_TOKEN_RE = re.compile(_STR + rb'|"|[\[\]{}]', re.DOTALL)
_SCALAR_RE = re.compile(rb"[^,}\] \t\r\n]*")

# One series object larger than this is not a label set; stop before buffering a whole
# malformed body.
MAX_PENDING_BYTES = 16 << 20


class _State(enum.Enum):
    START = enum.auto()  # before the envelope's "{"
    FIRST_MEMBER = enum.auto()  # after the envelope's "{" -- a member name or "}"
    MEMBER = enum.auto()  # after "," -- a member name
    VALUE = enum.auto()  # before the value of member `_key`
    AFTER_MEMBER = enum.auto()  # before "," or "}"
    FIRST_ITEM = enum.auto()  # after "data": [ -- a series or "]"
    ITEM = enum.auto()  # after "," in the data array -- a series
    AFTER_ITEM = enum.auto()  # before "," or "]" in the data array
    DONE = enum.auto()  # after the envelope's "}"


@dataclass(slots=True)
class SeriesEnvelope:
    """What the body said around the series themselves."""

    status: str | None = None
    error_type: str | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    data_null: bool = False
    """`"data": null`; upstream treats it as a failed listing."""
    data_seen: bool = False
    series_count: int = 0


class _NeedMore(Exception):
    """Internal: the buffer ends inside a token."""


class SeriesStreamDecoder:
    """Feed body chunks, get back batches of label sets; `finish()` at end of body."""

    def __init__(self, *, min_batch_bytes: int = 1 << 18) -> None:
        self._buf = b""
        self._pos = 0
        self._state = _State.START
        self._key = ""
        self._min_batch = min_batch_bytes
        self.envelope = SeriesEnvelope()

    def feed(self, chunk: bytes) -> list[list[dict[str, str]]]:
        """Take the next bytes of the body; return the batches they completed.

        Bytes are gathered until `min_batch_bytes` are pending, so each batch is big
        enough for the per-batch cost (one orjson call) to vanish."""
        self._buf = self._buf[self._pos :] + chunk if self._pos else self._buf + chunk
        self._pos = 0
        if len(self._buf) < self._min_batch:
            return []
        return self._run(final=False)

    def finish(self) -> tuple[list[list[dict[str, str]]], SeriesEnvelope]:
        """Declare the body complete: the last batches and the envelope.

        Raises `SeriesDecodeError` when the body stopped before its JSON object was
        complete. The caller must still check `envelope.status` and `data_null`."""
        batches = self._run(final=True)
        if self._state is not _State.DONE:
            if not self._buf:
                raise SeriesDecodeError("malformed series response: empty body")
            raise SeriesDecodeError(self._where("body ended before the JSON object was complete"))
        return batches, self.envelope

    # -- internals -------------------------------------------------------------------

    def _where(self, what: str) -> str:
        snippet = self._buf[self._pos : self._pos + 60]
        return f"malformed series response: {what} (at {body_text(bytes(snippet))})"

    def _skip_ws(self) -> int:
        m = _WS_RE.match(self._buf, self._pos)
        assert m is not None  # the pattern matches the empty string
        self._pos = m.end()
        return self._pos

    def _run(self, *, final: bool) -> list[list[dict[str, str]]]:
        batches: list[list[dict[str, str]]] = []
        try:
            while self._skip_ws() < len(self._buf):
                self._step(batches, final=final)
        except _NeedMore:
            if len(self._buf) - self._pos > MAX_PENDING_BYTES:
                raise SeriesDecodeError(
                    self._where(f"more than {MAX_PENDING_BYTES} bytes without a complete value")
                ) from None
        return batches

    def _step(self, batches: list[list[dict[str, str]]], *, final: bool) -> None:
        """Consume one token (or one run of series) at `_pos`, which is not whitespace."""
        buf, pos = self._buf, self._pos
        char = buf[pos : pos + 1]
        state = self._state
        if state is _State.START:
            if char != b"{":
                raise SeriesDecodeError(self._where("body is not a JSON object"))
            self._pos += 1
            self._state = _State.FIRST_MEMBER
        elif state is _State.MEMBER or state is _State.FIRST_MEMBER:
            if char == b"}" and state is _State.FIRST_MEMBER:
                self._pos += 1
                self._state = _State.DONE
                return
            m = _STR_RE.match(buf, pos)
            if m is None:
                if char != b'"':
                    raise SeriesDecodeError(self._where("expected a member name"))
                raise _NeedMore
            colon = _WS_RE.match(buf, m.end())
            assert colon is not None
            if colon.end() >= len(buf):
                raise _NeedMore
            if buf[colon.end() : colon.end() + 1] != b":":
                raise SeriesDecodeError(self._where("expected ':' after a member name"))
            self._key = cast(str, orjson.loads(m.group()))
            self._pos = colon.end() + 1
            self._state = _State.VALUE
        elif state is _State.VALUE:
            if self._key == "data":
                self._data_value(char)
            else:
                self._other_value(final=final)
        elif state is _State.AFTER_MEMBER:
            if char == b",":
                self._pos += 1
                self._state = _State.MEMBER
            elif char == b"}":
                self._pos += 1
                self._state = _State.DONE
            else:
                raise SeriesDecodeError(self._where("expected ',' or '}' after a member"))
        elif state is _State.FIRST_ITEM or state is _State.ITEM:
            if char == b"]" and state is _State.FIRST_ITEM:
                self._pos += 1
                self._state = _State.AFTER_MEMBER
                return
            if char != b"{":
                raise SeriesDecodeError(self._where("series entry is not an object"))
            end, batch = self._objects(pos, final=final)
            self._pos = end
            self.envelope.series_count += len(batch)
            batches.append(batch)
            self._state = _State.AFTER_ITEM
        elif state is _State.AFTER_ITEM:
            if char == b",":
                self._pos += 1
                self._state = _State.ITEM
            elif char == b"]":
                self._pos += 1
                self._state = _State.AFTER_MEMBER
            else:
                raise SeriesDecodeError(self._where("expected ',' or ']' after a series"))
        else:
            raise SeriesDecodeError(self._where("trailing bytes after the JSON object"))

    def _data_value(self, char: bytes) -> None:
        buf, pos = self._buf, self._pos
        self.envelope.data_seen = True
        if char == b"[":
            self._pos += 1
            self._state = _State.FIRST_ITEM
        elif char == b"n":
            if len(buf) - pos < 4:
                raise _NeedMore
            if buf[pos : pos + 4] != b"null":
                raise SeriesDecodeError(self._where("data is neither a list nor null"))
            self._pos += 4
            self.envelope.data_null = True
            self._state = _State.AFTER_MEMBER
        else:
            raise SeriesDecodeError(self._where("data is not a list of series"))

    def _objects(self, pos: int, *, final: bool) -> tuple[int, list[dict[str, str]]]:
        """The run of complete series objects starting at `pos`: end offset and decoded."""
        buf = self._buf
        last = buf.rfind(b"}", pos)
        if last < 0:
            raise _NeedMore
        try:
            decoded = orjson.loads(b"[" + buf[pos : last + 1] + b"]")
            end = last + 1
        except orjson.JSONDecodeError:
            m = _RUN.match(buf, pos)
            if m is None:
                if final:
                    raise SeriesDecodeError(
                        self._where("series entry is not a complete flat object of strings")
                    ) from None
                raise _NeedMore from None
            end = m.end()
            decoded = orjson.loads(b"[" + buf[pos:end] + b"]")
        return end, self._check_series(cast(list[Any], decoded))

    def _check_series(self, decoded: list[Any]) -> list[dict[str, str]]:
        for item in decoded:
            if type(item) is not dict or not all(
                type(v) is str for v in cast(dict[str, Any], item).values()
            ):
                raise SeriesDecodeError(
                    self._where(f"series entry is not a flat object of strings: {item!r:.200}")
                )
        return cast(list[dict[str, str]], decoded)

    def _other_value(self, *, final: bool) -> None:
        """Decode a non-`data` member's value and keep what the envelope needs."""
        buf, pos = self._buf, self._pos
        end = _value_end(buf, pos, final=final)
        if end is None:
            raise _NeedMore
        try:
            value = orjson.loads(buf[pos:end])
        except orjson.JSONDecodeError as exc:
            raise SeriesDecodeError(
                self._where(f"bad value for {json_text(self._key)}: {exc}")
            ) from exc
        self._pos = end
        self._state = _State.AFTER_MEMBER
        env, key = self.envelope, self._key
        if key == "status" and isinstance(value, str):
            env.status = value
        elif key == "errorType" and isinstance(value, str):
            env.error_type = value
        elif key == "error" and isinstance(value, str):
            env.error = value
        elif key == "warnings" and isinstance(value, list):
            env.warnings.extend(str(w) for w in value)


def _value_end(buf: bytes, pos: int, *, final: bool) -> int | None:
    """End offset of the JSON value at `pos`, or None if the buffer ends inside it."""
    char = buf[pos : pos + 1]
    if char == b'"':
        m = _STR_RE.match(buf, pos)
        return None if m is None else m.end()
    if char in (b"[", b"{"):
        depth = 0
        for m in _TOKEN_RE.finditer(buf, pos):
            tok = m.group()
            if tok == b'"':
                return None
            if tok[:1] == b'"':
                continue
            depth += 1 if tok in (b"[", b"{") else -1
            if depth == 0:
                return m.end()
        return None
    m = _SCALAR_RE.match(buf, pos)
    assert m is not None
    if m.end() >= len(buf) and not final:
        return None
    return m.end()
