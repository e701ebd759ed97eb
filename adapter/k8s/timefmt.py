"""Time and duration text as Kubernetes, Go and Prometheus write and read it.

Owns four formats the adapter speaks on the wire and on the command line:
`metav1.Time` (RFC 3339, seconds, always UTC "Z"), `metav1.MicroTime` (six fraction
digits, for Leases and Events), Go's `time.Duration` text (`1m30s`, `500ms`; flags such
as `--metrics-relist-interval` and log lines) and Prometheus's `model.Duration` text
(`5m`, `1d`, `1w`; rule config windows and query ranges). Clocks are not here: callers
pass the moments they mean, so the pure core stays testable.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone

from adapter.k8s.gostrings import quote as go_quote

__all__ = [
    "format_go_duration",
    "format_micro_time",
    "format_prometheus_duration",
    "format_time",
    "parse_go_duration",
    "parse_prometheus_duration",
    "parse_time",
]

_NS_PER_SECOND = 1_000_000_000
_INT64_MAX = (1 << 63) - 1
_INT64_MIN = -(1 << 63)


# --- metav1.Time / metav1.MicroTime ---------------------------------------------------


def _utc(moment: datetime) -> datetime:
    """The moment in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    """`metav1.Time` JSON text: UTC, whole seconds (truncated), "2026-11-22T10:00:00Z"."""
    t = _utc(moment)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"


def format_micro_time(moment: datetime) -> str:
    """`metav1.MicroTime` JSON text: UTC with exactly six fraction digits."""
    t = _utc(moment)
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
        f".{t.microsecond:06d}Z"
    )


_RFC3339_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)


def parse_time(text: str) -> datetime:
    """Read RFC 3339 as Go's `time.Parse(time.RFC3339, ...)` does; returns aware UTC.

    Accepts a fraction of any length (kept to the microsecond, truncated) and a "Z" or
    ±hh:mm offset; rejects lowercase "t"/"z", missing seconds and out-of-range fields.
    """
    match = _RFC3339_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"parsing time {go_quote(text)}: not an RFC 3339 timestamp")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = match.group(7) or ""
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    if match.group(8):
        zone = UTC
    else:
        offset_hours, offset_minutes = int(match.group(10)), int(match.group(11))
        if offset_hours > 24 or offset_minutes > 60:
            raise ValueError(f"parsing time {go_quote(text)}: time zone offset out of range")
        offset = timedelta(hours=offset_hours, minutes=offset_minutes)
        zone = timezone(-offset if match.group(9) == "-" else offset)
    if second >= 60:
        raise ValueError(f"parsing time {go_quote(text)}: second out of range")
    try:
        moment = datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
    except ValueError as error:
        raise ValueError(f"parsing time {go_quote(text)}: {error}") from error
    return moment.astimezone(UTC)


# --- Go time.Duration ----------------------------------------------------------------


def _nanoseconds(seconds: float) -> int:
    if isinstance(seconds, int):
        nanos = seconds * _NS_PER_SECOND
    else:
        if math.isnan(seconds) or math.isinf(seconds):
            raise ValueError(f"duration {seconds} is not a finite number of seconds")
        nanos = round(seconds * _NS_PER_SECOND)
    if not _INT64_MIN <= nanos <= _INT64_MAX:
        raise ValueError(f"duration {seconds}s does not fit in a Go time.Duration")
    return nanos


def _fraction(value: int, precision: int) -> tuple[str, int]:
    """Go's fmtFrac: ".5" style digits of value/10**precision without trailing zeros."""
    if precision == 0:
        return "", value
    whole, rest = divmod(value, 10**precision)
    if rest == 0:
        return "", whole
    return "." + f"{rest:0{precision}d}".rstrip("0"), whole


def format_go_duration(seconds: float) -> str:
    """Go's `time.Duration.String()`: "1h0m0s", "1m30s", "1.5s", "500ms", "0s".

    Seconds are rounded to the nearest nanosecond first (Go durations are integer
    nanoseconds), so 0.1 prints as "100ms" and not "99.999999ms".
    """
    nanos = _nanoseconds(seconds)
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    magnitude = abs(nanos)
    if magnitude < _NS_PER_SECOND:
        if magnitude < 1_000:
            unit, precision = "ns", 0
        elif magnitude < 1_000_000:
            unit, precision = "\u00b5s", 3
        else:
            unit, precision = "ms", 6
        digits, whole = _fraction(magnitude, precision)
        return f"{sign}{whole}{digits}{unit}"
    digits, whole_seconds = _fraction(magnitude, 9)
    text = f"{whole_seconds % 60}{digits}s"
    minutes = whole_seconds // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        hours = minutes // 60
        if hours:
            text = f"{hours}h{text}"
    return sign + text


_GO_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": _NS_PER_SECOND,
    "m": 60 * _NS_PER_SECOND,
    "h": 3600 * _NS_PER_SECOND,
}


def _time_quote(text: str) -> str:
    """The time package's own quoting: non-ASCII and control bytes as \\x escapes."""
    parts = ['"']
    for char in text:
        if char < " " or ord(char) >= 0x80:
            parts.extend(f"\\x{byte:02x}" for byte in char.encode("utf-8", "surrogatepass"))
        else:
            if char in '"\\':
                parts.append("\\")
            parts.append(char)
    parts.append('"')
    return "".join(parts)


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9"


def parse_go_duration(text: str) -> float:
    """Go's `time.ParseDuration`, in seconds: "1m30s", "1.5h", "-300ms", "0".

    Errors carry Go's messages ("time: invalid duration ...", "time: missing unit in
    duration ...", "time: unknown unit ... in duration ...").
    """
    original = text
    rest = text
    negative = False
    if rest and rest[0] in "+-":
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return 0.0
    invalid = f"time: invalid duration {_time_quote(original)}"
    if not rest:
        raise ValueError(invalid)
    total = 0
    limit = 1 << 63
    while rest:
        if not (rest[0] == "." or _is_digit(rest[0])):
            raise ValueError(invalid)
        i = 0
        whole = 0
        while i < len(rest) and _is_digit(rest[i]):
            if whole > limit // 10:
                raise ValueError(invalid)
            whole = whole * 10 + ord(rest[i]) - 48
            if whole > limit:
                raise ValueError(invalid)
            i += 1
        had_whole = i > 0
        rest = rest[i:]
        fraction = 0
        scale = 1.0
        had_fraction = False
        if rest and rest[0] == ".":
            rest = rest[1:]
            i = 0
            overflow = False
            while i < len(rest) and _is_digit(rest[i]):
                if not overflow:
                    if fraction > _INT64_MAX // 10:
                        overflow = True
                    else:
                        candidate = fraction * 10 + ord(rest[i]) - 48
                        if candidate > limit:
                            overflow = True
                        else:
                            fraction = candidate
                            scale *= 10
                i += 1
            had_fraction = i > 0
            rest = rest[i:]
        if not had_whole and not had_fraction:
            raise ValueError(invalid)
        i = 0
        while i < len(rest) and not (rest[i] == "." or _is_digit(rest[i])):
            i += 1
        if i == 0:
            raise ValueError(f"time: missing unit in duration {_time_quote(original)}")
        unit_text = rest[:i]
        rest = rest[i:]
        unit = _GO_UNITS.get(unit_text)
        if unit is None:
            raise ValueError(
                f"time: unknown unit {_time_quote(unit_text)} in duration {_time_quote(original)}"
            )
        if whole > limit // unit:
            raise ValueError(invalid)
        whole *= unit
        if fraction > 0:
            # Go adds the fraction through float64 arithmetic; so does this.
            whole += int(float(fraction) * (float(unit) / scale))
            if whole > limit:
                raise ValueError(invalid)
        total += whole
        if total > limit:
            raise ValueError(invalid)
    if negative:
        return -total / _NS_PER_SECOND
    if total > _INT64_MAX:
        raise ValueError(invalid)
    return total / _NS_PER_SECOND


# --- Prometheus model.Duration -------------------------------------------------------

_MS = 1_000_000  # nanoseconds
_PROMETHEUS_UNITS: dict[str, tuple[int, int]] = {
    # unit -> (position, nanoseconds); units must appear in decreasing size
    "y": (1, 365 * 24 * 3600 * _NS_PER_SECOND),
    "w": (2, 7 * 24 * 3600 * _NS_PER_SECOND),
    "d": (3, 24 * 3600 * _NS_PER_SECOND),
    "h": (4, 3600 * _NS_PER_SECOND),
    "m": (5, 60 * _NS_PER_SECOND),
    "s": (6, _NS_PER_SECOND),
    "ms": (7, _MS),
}


def parse_prometheus_duration(text: str) -> float:
    """Prometheus's `model.ParseDuration`, in seconds: "5m", "1h30m", "1d", "100ms", "0".

    Whole numbers only, units from largest to smallest, each at most once, no sign;
    a year is 365 days and a week 7 days. Errors carry Prometheus's messages.
    """
    if text == "0":
        return 0.0
    if text == "":
        raise ValueError("empty duration string")
    invalid = f"not a valid duration string: {go_quote(text)}"
    rest = text
    total = 0
    last_position = 0
    while rest:
        if not _is_digit(rest[0]):
            raise ValueError(invalid)
        i = 0
        while i < len(rest) and _is_digit(rest[i]):
            i += 1
        number = int(rest[:i])
        if number >= 1 << 64:
            raise ValueError(invalid)
        rest = rest[i:]
        i = 0
        while i < len(rest) and not _is_digit(rest[i]):
            i += 1
        if i == 0:
            raise ValueError(invalid)
        unit_text = rest[:i]
        rest = rest[i:]
        unit = _PROMETHEUS_UNITS.get(unit_text)
        if unit is None:
            raise ValueError(f"unknown unit {go_quote(unit_text)} in duration {go_quote(text)}")
        position, nanos = unit
        if position <= last_position:
            raise ValueError(invalid)
        last_position = position
        if number > (1 << 63) // nanos:
            raise ValueError("duration out of range")
        total += number * nanos
        if total > _INT64_MAX:
            raise ValueError("duration out of range")
    return total / _NS_PER_SECOND


def format_prometheus_duration(seconds: float) -> str:
    """Prometheus's `model.Duration.String()`: "5m", "1h30m", "90d", "1w", "0s".

    Millisecond resolution (finer parts are dropped, as upstream truncates); years and
    weeks are used only when they divide the whole duration.
    """
    nanos = _nanoseconds(seconds)
    millis = abs(nanos) // _MS
    if millis == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    parts: list[str] = []
    for unit, multiple, exact in (
        ("y", 365 * 24 * 3600 * 1000, True),
        ("w", 7 * 24 * 3600 * 1000, True),
        ("d", 24 * 3600 * 1000, False),
        ("h", 3600 * 1000, False),
        ("m", 60 * 1000, False),
        ("s", 1000, False),
        ("ms", 1, False),
    ):
        if exact and millis % multiple:
            continue
        count = millis // multiple
        if count:
            parts.append(f"{count}{unit}")
            millis -= count * multiple
    return sign + "".join(parts)
