"""Streamed `/api/v1/series`: the same label sets as decoding the whole body at once, from
the real Prometheus and from bodies cut at every byte.

Upstream (`pkg/client/api.go`, `queryClient.Series`) sends `match[]` and `start` and decodes
the whole body; discovery (`pkg/custom-provider/series_registry.go`) aborts the relist when
the call fails, `status` is error, or `data` is null. We must produce exactly what that
whole-body decoding produces, without holding the body (issue #221).
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing

import pytest
from support.faultproxy import FaultProxy
from support.prometheus import (
    TRICKY_LABEL_VALUES,
    PrometheusProcess,
    Series,
    SeriesData,
    default_dataset,
)

from adapter.prometheus import PrometheusClient, PrometheusSettings
from adapter.prometheus.series import SeriesDecodeError, SeriesEnvelope, SeriesStreamDecoder


@default_dataset
def _old_series(data: SeriesData) -> None:
    """`series_test_old{age="old"}`: samples only from -20 to -15 minutes, to pin `start`."""
    data.add("series_test_old", {"age": "old"}, [(-1200.0, 1.0), (-900.0, 1.0)])


@pytest.fixture
async def client(prometheus: PrometheusProcess) -> AsyncIterator[PrometheusClient]:
    async with PrometheusClient(PrometheusSettings(prometheus.url)) as c:
        yield c


async def _collect(
    client: PrometheusClient, match: str, start: float, end: float | None = None
) -> tuple[list[dict[str, str]], int]:
    got: list[dict[str, str]] = []
    batches = 0
    async for batch in client.series(match, start=start, end=end):
        got.extend(batch)
        batches += 1
    return got, batches


def _raw_series(prometheus: PrometheusProcess, match: str, start: float) -> list[dict[str, str]]:
    status, body = prometheus.get("/api/v1/series", [("match[]", match), ("start", str(start))])
    assert status == 200
    data: list[dict[str, str]] = json.loads(body)["data"]
    return data


@pytest.mark.parametrize("match", ["tricky_labels", '{__name__=~".+"}', "no_such_metric"])
async def test_streamed_equals_whole_body_decoding(
    client: PrometheusClient, prometheus: PrometheusProcess, match: str
) -> None:
    start = prometheus.now - 60
    got, _ = await _collect(client, match, start)
    assert got == _raw_series(prometheus, match, start)


async def test_tricky_label_values_round_trip(
    client: PrometheusClient, prometheus: PrometheusProcess
) -> None:
    got, _ = await _collect(client, "tricky_labels", prometheus.now - 60)
    values = {s["case"]: s.get("value") for s in got}
    expected = {str(i): (v or None) for i, v in enumerate(TRICKY_LABEL_VALUES)}
    assert values == expected


async def test_start_bounds_the_listing(
    client: PrometheusClient, prometheus: PrometheusProcess, fault_proxy: FaultProxy
) -> None:
    recent, _ = await _collect(client, "series_test_old", prometheus.now - 60)
    assert recent == []
    older, _ = await _collect(client, "series_test_old", prometheus.now - 1000)
    assert older == [{"__name__": "series_test_old", "age": "old"}]
    windowed, _ = await _collect(
        client, "series_test_old", prometheus.now - 2000, end=prometheus.now - 1500
    )
    assert windowed == []
    async with PrometheusClient(PrometheusSettings(fault_proxy.url)) as proxied:
        await _collect(proxied, "series_test_old", prometheus.now - 1000)
    (seen,) = fault_proxy.seen("/api/v1/series")
    assert seen.params("match[]") == ["series_test_old"]
    assert float(seen.param("start") or "nan") == prometheus.now - 1000
    assert seen.param("end") is None  # upstream's discovery sends no end


async def test_post_verb_for_series(fault_proxy: FaultProxy, prometheus: PrometheusProcess) -> None:
    async with PrometheusClient(PrometheusSettings(fault_proxy.url, verb="POST")) as client:
        got, _ = await _collect(client, "queue_depth", prometheus.now - 60)
    assert {s["queue"] for s in got} == {"orders", "billing"}
    (seen,) = fault_proxy.requests
    assert seen.method == "POST"
    assert seen.form and seen.params("match[]") == ["queue_depth"]


async def test_stopping_early_releases_the_connection(
    client: PrometheusClient, prometheus: PrometheusProcess
) -> None:
    async with aclosing(client.series('{__name__=~".+"}', start=prometheus.now - 60)) as stream:
        async for batch in stream:
            assert batch
            break
    # The session is still usable afterwards.
    result = await client.query('queue_depth{queue="orders"}', at=prometheus.now)
    assert [s.value for s in result.samples] == [42.0]


# -- many series: several batches --------------------------------------------------------

MANY = 20_000


def _many_series() -> Iterator[Series]:
    for i in range(MANY):
        labels = {"namespace": f"ns-{i % 7}", "pod": f'pod-{i:05d}-ü"}}{{'}
        yield Series("many_series_total", labels, [(-30.0, float(i)), (0.0, float(i + 1))])


@pytest.fixture(scope="module")
def many_prometheus(prometheus_factory: Callable[..., PrometheusProcess]) -> PrometheusProcess:
    return prometheus_factory(SeriesData(horizon=0).extend(_many_series))


async def test_many_series_arrive_in_several_batches(many_prometheus: PrometheusProcess) -> None:
    async with PrometheusClient(PrometheusSettings(many_prometheus.url)) as client:
        got, batches = await _collect(client, "many_series_total", many_prometheus.now - 60)
    assert batches > 1
    assert len(got) == MANY
    assert got == _raw_series(many_prometheus, "many_series_total", many_prometheus.now - 60)


# -- the decoder on bodies cut anywhere ---------------------------------------------------

TRICKY_BODY = json.dumps(
    {
        "status": "success",
        "data": [
            {"__name__": "a", "v": 'x"}{\\ é 😀 日本'},
            {"__name__": "b", "w": "}", "x": "]"},
            {},
            {"__name__": "c", "v": "\u0000\t\n"},
        ],
        "warnings": ["w}1", 'w"]2'],
    },
    ensure_ascii=False,
).encode()


def _decode(chunks: list[bytes], min_batch: int = 1) -> tuple[list[dict[str, str]], SeriesEnvelope]:
    decoder = SeriesStreamDecoder(min_batch_bytes=min_batch)
    out: list[dict[str, str]] = []
    for chunk in chunks:
        for batch in decoder.feed(chunk):
            out.extend(batch)
    tail, envelope = decoder.finish()
    for batch in tail:
        out.extend(batch)
    return out, envelope


@pytest.mark.parametrize("min_batch", [1, 7, 1 << 18])
def test_decoder_any_two_way_split(min_batch: int) -> None:
    # Every cut position, including inside multi-byte UTF-8 characters and escapes.
    expected = json.loads(TRICKY_BODY)
    for cut in range(len(TRICKY_BODY) + 1):
        got, envelope = _decode([TRICKY_BODY[:cut], TRICKY_BODY[cut:]], min_batch)
        assert got == expected["data"], cut
        assert envelope.warnings == expected["warnings"]


def test_decoder_byte_by_byte() -> None:
    got, _ = _decode([TRICKY_BODY[i : i + 1] for i in range(len(TRICKY_BODY))])
    assert got == json.loads(TRICKY_BODY)["data"]


@pytest.mark.parametrize(
    ("body", "data", "status", "data_null"),
    [
        (b'{"status":"success","data":[]}', [], "success", False),
        (b'{"data":[{"a":"b"}],"status":"success"}', [{"a": "b"}], "success", False),
        (
            b'{\n  "status" : "success" ,\n  "data" : [ { "a" : "b" } ,\n { } ]\n}\n',
            [{"a": "b"}, {}],
            "success",
            False,
        ),
        (b'{"status":"success","data":null}', [], "success", True),
        (
            b'{"status":"error","errorType":"bad_data","error":"x \\"data\\": ["}',
            [],
            "error",
            False,
        ),
        (b'{"status":"success","extra":{"k":[1,{"x":"}"}]},"data":[]}', [], "success", False),
    ],
)
def test_decoder_envelope_shapes(
    body: bytes, data: list[dict[str, str]], status: str, data_null: bool
) -> None:
    for cut in range(len(body) + 1):
        got, envelope = _decode([body[:cut], body[cut:]])
        assert got == data
        assert envelope.status == status
        assert envelope.data_null is data_null


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty body"),
        (b"<html>502</html>", "not a JSON object"),
        (b'{"status":"success","data":[{"a":"b"}', "ended before"),
        (b'{"status":"success","data":[{"a":1}]}', "flat object of strings"),
        (b'{"status":"success","data":[{"a":{"b":"c"}}]}', "flat object of strings"),
        (b'{"status":"success","data":["a"]}', "not an object"),
        (b'{"status":"success","data":{"a":"b"}}', "not a list"),
        (b'{"status":"success","data":[{"a":"b"}]} trailing', "trailing bytes"),
        (b'{"status":"success","data":[{"a":"b"},]}', "not an object"),
    ],
)
def test_decoder_rejects_malformed_bodies(body: bytes, message: str) -> None:
    with pytest.raises(SeriesDecodeError, match=message):
        _decode([body])


# -- scale ---------------------------------------------------------------------------------


def _rss_mib() -> float:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.slow
async def test_a_quarter_million_series_stream_in_little_memory(
    prometheus_factory: Callable[..., PrometheusProcess],
) -> None:
    """Scale runs belong to benchmarks/discovery.py (1M series: 49 MiB peak streamed vs
    944 MiB for the whole body); here enough series that loading the answer whole would
    add about 240 MiB, so a regression to it fails the bound below."""
    count = 250_000
    samples = [(-60.0, 1.0), (-30.0, 2.0), (0.0, 3.0)]

    def generate() -> Iterator[Series]:
        for i in range(count):
            labels = {
                "namespace": f"ns-{i % 100}",
                "pod": f"web-{i:07d}-abcde",
                "container": "app",
                "job": "kubelet",
            }
            yield Series("container_cpu_usage_seconds_total", labels, samples)

    process = prometheus_factory(SeriesData(horizon=0).extend(generate))
    before = _rss_mib()
    peak = before
    seen = 0
    names: set[str] = set()
    started = time.monotonic()
    settings = PrometheusSettings(process.url, timeout=300)
    async with PrometheusClient(settings) as client:
        async for batch in client.series('{__name__=~"container_.*"}', start=process.now - 120):
            seen += len(batch)
            names.update(s["__name__"] for s in batch)
            peak = max(peak, _rss_mib())
    elapsed = time.monotonic() - started
    print(
        f"\n{count} series: promtool {process.promtool_seconds:.1f}s, startup "
        f"{process.startup_seconds:.1f}s, streamed in {elapsed:.1f}s, rss {before:.0f} -> "
        f"peak {peak:.0f} MiB (maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10})"
    )
    assert seen == count
    assert names == {"container_cpu_usage_seconds_total"}
    # What streaming adds to the process, whatever else the test session holds.
    assert peak - before < 100
