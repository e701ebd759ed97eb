"""What goes over the wire and what happens when the wire fails: verbs, parameters,
deadlines, headers, and every error class, through the fault proxy in front of the real
Prometheus.

Upstream references: `pkg/client/api.go` (`httpAPIClient.Do`: path join, GET query string
or POST form, status-code classes; `timeoutFromContext`: the sign bug fixed by PR #710),
`cmd/adapter/adapter.go` (`parseHeaderArgs`, bearer token file).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.faultproxy import Cut, Delay, FaultProxy, PassThrough, Reply
from support.prometheus import PrometheusProcess, free_port

from adapter.prometheus import (
    PrometheusClient,
    PrometheusConfigError,
    PrometheusError,
    PrometheusQueryError,
    PrometheusResponseError,
    PrometheusServerError,
    PrometheusSettings,
    PrometheusTimeout,
    PrometheusUnreachable,
    canonical_header_key,
    parse_header_flags,
)


def _client(proxy: FaultProxy, **settings: object) -> PrometheusClient:
    return PrometheusClient(PrometheusSettings(proxy.url, **settings))  # type: ignore[arg-type]


@pytest.fixture
async def client(fault_proxy: FaultProxy) -> AsyncIterator[PrometheusClient]:
    async with _client(fault_proxy) as c:
        yield c


# -- verbs and parameters --------------------------------------------------------------


async def test_get_sends_query_time_and_timeout_in_the_url(
    client: PrometheusClient, fault_proxy: FaultProxy, prometheus: PrometheusProcess
) -> None:
    await client.query("queue_depth", at=prometheus.now)
    (seen,) = fault_proxy.seen("/api/v1/query")
    assert seen.method == "GET"
    assert seen.form == ()
    assert seen.param("query") == "queue_depth"
    assert float(seen.param("time") or "nan") == prometheus.now
    # No deadline given: the settings' per-call timeout is what Prometheus is told.
    assert float(seen.param("timeout") or "nan") == 30.0


async def test_post_verb_sends_a_form(
    fault_proxy: FaultProxy, prometheus: PrometheusProcess
) -> None:
    async with _client(fault_proxy, verb="POST") as client:
        result = await client.query('queue_depth{queue="orders"}', at=prometheus.now)
    assert [s.value for s in result.samples] == [42.0]
    (seen,) = fault_proxy.seen("/api/v1/query")
    assert seen.method == "POST"
    assert seen.query == ()
    assert seen.param("query") == 'queue_depth{queue="orders"}'
    assert seen.param("timeout") is not None


async def test_long_query_goes_by_post_automatically(
    client: PrometheusClient, fault_proxy: FaultProxy, prometheus: PrometheusProcess
) -> None:
    # An HPA over thousands of pods: upstream sends this by GET and meets HTTP 414
    # (issue #668, crane #907). ~20,000 characters of pod names.
    names = "|".join(["web-1"] + [f"web-{i:05d}-abcdefgh" for i in range(1100)])
    promql = f'rate(http_requests_total{{namespace="shop",pod=~"{names}"}}[2m])'
    assert len(promql) > 20_000
    result = await client.query(promql, at=prometheus.now)
    assert [s.labels["pod"] for s in result.samples] == ["web-1"]
    (seen,) = fault_proxy.seen("/api/v1/query")
    assert seen.method == "POST"
    assert seen.param("query") == promql


async def test_short_query_stays_get_below_the_limit(
    fault_proxy: FaultProxy,
) -> None:
    async with _client(fault_proxy, max_get_url_length=400) as client:
        await client.query("queue_depth")
        await client.query("queue_depth" + " " * 400)
    assert [r.method for r in fault_proxy.seen("/api/v1/query")] == ["GET", "POST"]


async def test_plus_and_special_characters_survive_encoding(
    client: PrometheusClient, fault_proxy: FaultProxy, prometheus: PrometheusProcess
) -> None:
    # A "+" left unencoded in a query string would reach Prometheus as a space.
    result = await client.query('queue_depth{queue="orders"} + 1', at=prometheus.now)
    assert [s.value for s in result.samples] == [43.0]
    assert fault_proxy.requests[0].param("query") == 'queue_depth{queue="orders"} + 1'


async def test_base_url_path_is_joined_and_its_query_dropped(
    fault_proxy: FaultProxy,
) -> None:
    settings = PrometheusSettings(fault_proxy.url + "/prefix/?stale=1")
    async with PrometheusClient(settings) as client:
        # Prometheus itself serves no /prefix: the 404 proves where the call went.
        with pytest.raises(PrometheusResponseError) as caught:
            await client.query("up")
    (seen,) = fault_proxy.requests
    assert seen.path == "/prefix/api/v1/query"
    assert seen.param("stale") is None
    assert caught.value.status == 404
    assert caught.value.path == "/prefix/api/v1/query"
    assert "unexpected HTTP status 404" in str(caught.value)


# -- deadlines -------------------------------------------------------------------------


async def test_timeout_parameter_is_positive_and_from_the_deadline(
    client: PrometheusClient, fault_proxy: FaultProxy
) -> None:
    # Upstream PR #710: the timeout was computed as now - deadline (negative).
    deadline = asyncio.get_running_loop().time() + 5.0
    await client.query("queue_depth", deadline=deadline)
    timeout = float(fault_proxy.requests[0].param("timeout") or "nan")
    assert 0 < timeout <= 5.0


async def test_expired_deadline_fails_without_a_request(
    client: PrometheusClient, fault_proxy: FaultProxy
) -> None:
    deadline = asyncio.get_running_loop().time() - 0.001
    with pytest.raises(PrometheusTimeout) as caught:
        await client.query("queue_depth", deadline=deadline)
    assert isinstance(caught.value, TimeoutError)
    assert "deadline passed" in str(caught.value)
    with pytest.raises(PrometheusTimeout):
        async for _ in client.series("queue_depth", start=0, deadline=deadline):
            pass
    assert fault_proxy.requests == []


async def test_slow_answer_times_out_at_the_deadline(
    client: PrometheusClient, fault_proxy: FaultProxy
) -> None:
    fault_proxy.mode = Delay(30.0)
    deadline = asyncio.get_running_loop().time() + 0.3
    with pytest.raises(PrometheusTimeout) as caught:
        await client.query("queue_depth", deadline=deadline)
    assert isinstance(caught.value, TimeoutError)
    assert caught.value.path == "/api/v1/query"
    assert isinstance(caught.value.__cause__, TimeoutError)


async def test_slow_answer_times_out_at_the_settings_timeout(
    fault_proxy: FaultProxy,
) -> None:
    fault_proxy.mode = Delay(30.0)
    async with _client(fault_proxy, timeout=0.3) as client:
        with pytest.raises(PrometheusTimeout):
            await client.query("queue_depth")
    assert float(fault_proxy.requests[0].param("timeout") or "nan") == 0.3


async def test_delay_shorter_than_the_deadline_is_fine(
    client: PrometheusClient, fault_proxy: FaultProxy, prometheus: PrometheusProcess
) -> None:
    fault_proxy.mode = Delay(0.2)
    deadline = asyncio.get_running_loop().time() + 20.0
    result = await client.query('queue_depth{queue="orders"}', at=prometheus.now, deadline=deadline)
    assert [s.value for s in result.samples] == [42.0]


# -- error classes ---------------------------------------------------------------------

ERROR_ANSWERS = [
    # (fault, error class, status, errorType, text in the message)
    (Reply(503, "unavailable", "too many queries"), PrometheusServerError, 503, "unavailable",
     "too many queries"),
    (Reply(500, "internal", "disk on fire"), PrometheusServerError, 500, "internal",
     "disk on fire"),
    (Reply(502, body=b"<html>Bad Gateway</html>", content_type="text/html"),
     PrometheusServerError, 502, None, "Bad Gateway"),
    (Reply(503, "timeout", "query timed out in query execution"), PrometheusTimeout, 503,
     "timeout", "timed out"),
    (Reply(400, "bad_data", "invalid parameter"), PrometheusQueryError, 400, "bad_data",
     "invalid parameter"),
    (Reply(422, "execution", "many-to-many matching not allowed"), PrometheusQueryError, 422,
     "execution", "many-to-many"),
    (Reply(401, body=b"Unauthorized", content_type="text/plain"), PrometheusResponseError,
     401, None, "Prometheus refused the request: HTTP 401 Unauthorized"),
    (Reply(200, body=b"<html>login page</html>", content_type="text/html"),
     PrometheusResponseError, 200, None, "not JSON"),
    (Reply(200, body=b'{"status":"success","data":null}'), PrometheusResponseError, 200, None,
     "data: null"),
    (Reply(200, body=b'{"status":"success","data":{"resultType":"vector","result":[{"metric":'
                     b'{},"value":[1,"x"]}]}}'),
     PrometheusResponseError, 200, None, "not a number"),
]  # fmt: skip


@pytest.mark.parametrize(("fault", "error", "status", "error_type", "text"), ERROR_ANSWERS)
async def test_error_answers_are_classified(
    client: PrometheusClient,
    fault_proxy: FaultProxy,
    fault: Reply,
    error: type[PrometheusError],
    status: int | None,
    error_type: str | None,
    text: str,
) -> None:
    fault_proxy.mode = fault
    with pytest.raises(error) as caught:
        await client.query("queue_depth")
    assert type(caught.value) is error
    assert caught.value.status == status
    assert caught.value.error_type == error_type
    assert text in str(caught.value)
    assert str(caught.value).startswith("/api/v1/query: ")
    # Plain words: an upstream body is quoted text, never a Python bytes or list repr.
    assert "b'" not in str(caught.value) and 'b"' not in str(caught.value)


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (b"oops", 'HTTP 500: "oops"'),
        (b"", "HTTP 500: (empty body)"),
        (b"\xff\xfebad\n", 'HTTP 500: "\ufffd\ufffdbad"'),  # bad UTF-8 replaced, as Go's %q
    ],
)
async def test_upstream_body_is_shown_as_text(
    client: PrometheusClient, fault_proxy: FaultProxy, body: bytes, shown: str
) -> None:
    """Issue 8 part 9: a 500 with body `oops` used to read `b'oops'` in the error."""
    fault_proxy.mode = Reply(500, body=body, content_type="text/plain")
    with pytest.raises(PrometheusServerError) as caught:
        await client.query("queue_depth")
    assert str(caught.value) == f"/api/v1/query: {shown}"


@pytest.mark.parametrize(("fault", "error", "status", "error_type", "text"), ERROR_ANSWERS[:-1])
async def test_series_error_answers_are_classified(
    client: PrometheusClient,
    fault_proxy: FaultProxy,
    fault: Reply,
    error: type[PrometheusError],
    status: int | None,
    error_type: str | None,
    text: str,
) -> None:
    if b"data" in fault.payload() and fault.status == 200:
        # Series answers have a list as data; null is the failure upstream aborts on.
        fault = Reply(200, body=b'{"status":"success","data":null}')
        text = "data: null"
    elif fault.status == 200:
        text = "not a JSON object"
    fault_proxy.mode = fault
    with pytest.raises(error) as caught:
        async for _ in client.series("queue_depth", start=0):
            pass
    assert caught.value.status == status
    assert text in str(caught.value)
    assert str(caught.value).startswith("/api/v1/series: ")


async def test_server_error_recovers_when_the_fault_clears(
    client: PrometheusClient, fault_proxy: FaultProxy, prometheus: PrometheusProcess
) -> None:
    fault_proxy.mode = Reply(503)
    with pytest.raises(PrometheusServerError):
        await client.query("queue_depth")
    fault_proxy.mode = PassThrough()
    result = await client.query('queue_depth{queue="orders"}', at=prometheus.now)
    assert [s.value for s in result.samples] == [42.0]


async def test_cut_connection_is_unreachable(
    client: PrometheusClient, fault_proxy: FaultProxy
) -> None:
    fault_proxy.mode = Cut()
    with pytest.raises(PrometheusUnreachable) as caught:
        await client.query("queue_depth")
    assert isinstance(caught.value, ConnectionError)
    assert caught.value.status is None
    assert caught.value.__cause__ is not None
    assert caught.value.path == "/api/v1/query"


async def test_cut_in_the_middle_of_a_series_body_is_unreachable(
    client: PrometheusClient, fault_proxy: FaultProxy
) -> None:
    fault_proxy.mode = Cut(after_bytes=100)
    with pytest.raises(PrometheusUnreachable):
        async for _ in client.series('{__name__=~".+"}', start=0):
            pass


async def test_nothing_listening_is_unreachable() -> None:
    port = free_port()
    async with PrometheusClient(PrometheusSettings(f"http://127.0.0.1:{port}")) as client:
        with pytest.raises(PrometheusUnreachable) as caught:
            await client.query("up")
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert isinstance(caught.value.__cause__, OSError)


# -- headers and auth ------------------------------------------------------------------


async def test_custom_headers_and_bearer_token_arrive(
    fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cr3t-token\n")  # as written by `echo`: newline stripped
    headers = parse_header_flags(
        ["x-scope-orgid=tenant-a", "X-Scope-OrgID=tenant-b", "x-empty", "X-Eq=a=b"]
    )
    async with _client(fault_proxy, headers=headers, token_file=str(token_file)) as client:
        await client.query("queue_depth")
        async for _ in client.series("queue_depth", start=0):
            pass
    for seen in fault_proxy.requests:
        assert seen.header_values("X-Scope-Orgid") == ["tenant-a", "tenant-b"]
        assert seen.header_values("X-Empty") == [""]
        assert seen.header_values("X-Eq") == ["a=b"]
        assert seen.header_values("Authorization") == ["Bearer s3cr3t-token"]
    assert len(fault_proxy.requests) == 2


async def test_unreadable_token_file_fails_at_open(tmp_path: Path) -> None:
    settings = PrometheusSettings("http://127.0.0.1:9", token_file=str(tmp_path / "missing"))
    with pytest.raises(PrometheusConfigError, match="token file"):
        async with PrometheusClient(settings):
            pass


@pytest.mark.parametrize(
    ("key", "canonical"),
    [
        ("x-scope-orgid", "X-Scope-Orgid"),
        ("X-SCOPE-ORGID", "X-Scope-Orgid"),
        ("authorization", "Authorization"),
        ("x--double", "X--Double"),
        ("-leading", "-Leading"),
        ("x_underscore-y", "X_underscore-Y"),
        ("with space", "with space"),  # invalid token bytes: unchanged, as Go does
        ("ünï-code", "ünï-code"),
        ("", ""),
    ],
)
def test_canonical_header_key_matches_go(key: str, canonical: str) -> None:
    # Go: net/textproto CanonicalMIMEHeaderKey, used by http.Header.Add.
    assert canonical_header_key(key) == canonical


@pytest.mark.parametrize(
    ("flags", "pairs"),
    [
        (["a=b"], (("A", "b"),)),
        (["a"], (("A", ""),)),
        (["a=b=c"], (("A", "b=c"),)),
        (["a=1", "A=2"], (("A", "1"), ("A", "2"))),
        (["=v"], (("", "v"),)),
    ],
)
def test_header_flags_split_on_first_equals(
    flags: list[str], pairs: tuple[tuple[str, str], ...]
) -> None:
    # Upstream cmd/adapter/adapter.go parseHeaderArgs.
    assert parse_header_flags(flags) == pairs


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "http://p:9090", "verb": "PUT"}, "unsupported Prometheus HTTP verb"),
        ({"url": "localhost:9090"}, "invalid Prometheus URL"),
        ({"url": "http://p:9090", "timeout": 0}, "timeout must be positive"),
        ({"url": "http://p:9090", "client_cert_file": "c.pem"}, "together"),
    ],
)
def test_invalid_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(PrometheusConfigError, match=message):
        PrometheusSettings(**kwargs)  # type: ignore[arg-type]
