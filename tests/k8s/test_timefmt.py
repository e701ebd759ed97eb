"""Time and duration text: metav1.Time/MicroTime, Go time.Duration, Prometheus durations.

Pins apimachinery `pkg/apis/meta/v1/time.go` and `micro_time.go` (MarshalJSON), Go's
`time.Duration.String` / `time.ParseDuration` (the Go cases were checked against the
Go 1.19 standard library) and prometheus/common `model/time.go` (`ParseDuration`,
`Duration.String`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from adapter.k8s.timefmt import (
    format_go_duration,
    format_micro_time,
    format_prometheus_duration,
    format_time,
    parse_go_duration,
    parse_prometheus_duration,
    parse_time,
)

MOMENT = datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC)


def test_format_time_is_utc_whole_seconds() -> None:
    """metav1.Time.MarshalJSON: t.UTC() in RFC 3339, fraction dropped (not rounded)."""
    assert format_time(MOMENT) == "2026-11-22T10:00:00Z"
    plus_two = MOMENT.astimezone(timezone(timedelta(hours=2)))
    assert format_time(plus_two) == "2026-11-22T10:00:00Z"
    assert format_time(datetime(2026, 1, 2, 3, 4, 5, 999999)) == "2026-01-02T03:04:05Z"
    assert format_time(datetime(5, 1, 1, tzinfo=UTC)) == "0005-01-01T00:00:00Z"


def test_format_micro_time_has_six_digits() -> None:
    """metav1.MicroTime: layout 2006-01-02T15:04:05.000000Z07:00 in UTC."""
    assert format_micro_time(MOMENT) == "2026-11-22T10:00:00.123456Z"
    assert format_micro_time(MOMENT.replace(microsecond=0)) == "2026-11-22T10:00:00.000000Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22T10:00:00Z", datetime(2026, 11, 22, 10, tzinfo=UTC)),
        ("2026-11-22T10:00:00.123456789Z", datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-22T10:00:00,5Z", datetime(2026, 11, 22, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-22T10:00:00+02:00", datetime(2026, 11, 22, 8, tzinfo=UTC)),
        ("2024-02-29T23:59:59-05:30", datetime(2024, 3, 1, 5, 29, 59, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
    ],
)
def test_parse_time(text: str, expected: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-22t10:00:00Z",
        "2026-11-22T10:00:00z",
        "2026-02-30T10:00:00Z",
        "2026-11-22T24:00:00Z",
        "2026-11-22T10:00:60Z",
        "2026-11-22T10:00Z",
        "2026-11-22 10:00:00Z",
        "2026-11-22T10:00:00",
        "",
        "yesterday",
    ],
)
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="parsing time"):
        parse_time(text)


def test_parse_time_round_trips_format() -> None:
    assert format_time(parse_time("2026-11-22T10:00:00+01:00")) == "2026-11-22T09:00:00Z"
    assert format_micro_time(parse_time(format_micro_time(MOMENT))) == format_micro_time(MOMENT)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.0, "0s"),
        (1e-9, "1ns"),
        (1.5e-6, "1.5\u00b5s"),
        (0.0005, "500\u00b5s"),
        (0.5, "500ms"),
        (0.1, "100ms"),
        (1.5, "1.5s"),
        (30, "30s"),
        (90, "1m30s"),
        (300, "5m0s"),
        (3600, "1h0m0s"),
        (3601.000000005, "1h0m1.000000005s"),
        (72 * 3600 + 180.5, "72h3m0.5s"),
        (-1.5, "-1.5s"),
        (-0.000001, "-1\u00b5s"),
    ],
)
def test_format_go_duration(seconds: float, text: str) -> None:
    assert format_go_duration(seconds) == text


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("-0", 0.0),
        ("+0", 0.0),
        ("1m30s", 90.0),
        ("1.5h", 5400.0),
        ("300ms", 0.3),
        ("-1.5h", -5400.0),
        ("1h2m3s4ms5us6ns", 3723.004005006),
        ("1\u00b5s", 1e-6),
        ("1\u03bcs", 1e-6),
        (".5s", 0.5),
        ("5.s", 5.0),
        ("5m0s", 300.0),
        ("0.333333333333h", 1199.999999998),
        ("9223372036854775807ns", 9223372036.854775807),
        ("-9223372036854775808ns", -9223372036.854775808),
    ],
)
def test_parse_go_duration(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds, rel=1e-15, abs=1e-12)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("1", 'time: missing unit in duration "1"'),
        ("1x", 'time: unknown unit "x" in duration "1x"'),
        ("1hh", 'time: unknown unit "hh" in duration "1hh"'),
        ("1s ", 'time: unknown unit "s " in duration "1s "'),
        (" 1s", 'time: invalid duration " 1s"'),
        (".s", 'time: invalid duration ".s"'),
        ("--1s", 'time: invalid duration "--1s"'),
        ("1e3s", 'time: unknown unit "e" in duration "1e3s"'),
        ("9223372036854775808ns", 'time: invalid duration "9223372036854775808ns"'),
        ("3\x00s", 'time: unknown unit "\\x00s" in duration "3\\x00s"'),
        ("1é", 'time: unknown unit "\\xc3\\xa9" in duration "1\\xc3\\xa9"'),
    ],
)
def test_parse_go_duration_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_go_duration(text)
    assert str(caught.value) == message


@pytest.mark.parametrize("seconds", [0.001, 1.5, 90, 300, 3600, 86400 * 3 + 7.25])
def test_go_duration_round_trip(seconds: float) -> None:
    assert parse_go_duration(format_go_duration(seconds)) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1d", 86400.0),
        ("1w", 7 * 86400.0),
        ("1y", 365 * 86400.0),
        ("100ms", 0.1),
        ("2y3w4d5h6m7s8ms", (2 * 365 + 3 * 7 + 4) * 86400 + 5 * 3600 + 6 * 60 + 7.008),
        ("90s", 90.0),
        ("0s", 0.0),
    ],
)
def test_parse_prometheus_duration(text: str, seconds: float) -> None:
    assert parse_prometheus_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty duration string"),
        ("1.5h", 'unknown unit "." in duration "1.5h"'),
        ("-5m", 'not a valid duration string: "-5m"'),
        ("m", 'not a valid duration string: "m"'),
        ("5", 'not a valid duration string: "5"'),
        ("30s5m", 'not a valid duration string: "30s5m"'),
        ("5m5m", 'not a valid duration string: "5m5m"'),
        ("5M", 'unknown unit "M" in duration "5M"'),
        ("1us", 'unknown unit "us" in duration "1us"'),
        (" 5m", 'not a valid duration string: " 5m"'),
        ("300y", "duration out of range"),
        ("18446744073709551616s", 'not a valid duration string: "18446744073709551616s"'),
    ],
)
def test_parse_prometheus_duration_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_prometheus_duration(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.0004, "0s"),  # millisecond resolution, truncated
        (300, "5m"),
        (5400, "1h30m"),
        (90, "1m30s"),
        (0.1, "100ms"),
        (86400, "1d"),
        (7 * 86400, "1w"),
        (90 * 86400, "90d"),  # weeks only when they divide the whole: 90d, not 12w6d
        (365 * 86400, "1y"),
        (366 * 86400, "366d"),
        (14 * 86400, "2w"),
        (86400 + 1.5, "1d1s500ms"),
    ],
)
def test_format_prometheus_duration(seconds: float, text: str) -> None:
    assert format_prometheus_duration(seconds) == text
    assert parse_prometheus_duration(text) == pytest.approx(int(seconds * 1000) / 1000)
