"""A real Prometheus for tests and benchmarks, holding exactly the series a test wrote.

Owns: the `SeriesData` builder (series with samples relative to an anchor time "now"),
writing it as OpenMetrics text, turning that into TSDB blocks with
`promtool tsdb create-blocks-from openmetrics`, and running `prometheus` (Debian's 2.42) on
a free loopback port over those blocks until the test is done. The pytest fixtures that
share one server per session, or start one per module, live in `tests/conftest.py`; the
fault-injecting proxy in front of it lives in `tests/support/faultproxy.py`.

Why backfilled blocks rather than scraping an exporter: blocks are written before the
server starts and loaded by it before `/-/ready` turns 200, so every sample is there from
the first query, with the exact timestamps and values the test chose - no scrape timing,
no waiting for a rate window to fill, and 1M series cost one `promtool` run instead of a
scrape loop. Points on it, checked on 2.42:

* Samples may lie in the future. Each series is written from `now - history` to
  `now + horizon` (default: 10 minutes back, 1 hour ahead, every 15 s), so an instant query
  at the wall-clock time sees fresh values (within the 5 m lookback) for the whole hour a
  test session may run, and `rate(x[2m])` at any of those times is the counter's rate.
  Tests that want exact values query at `process.now` (the dataset's anchor).
* Blocks are loaded from `--storage.tsdb.path` at startup; nothing overlaps the (empty)
  head, so no `--storage.tsdb.*` flag beyond the path is needed. The server has no scrape
  jobs, so the head never receives samples behind the blocks' max time (which would be
  rejected as out of bounds). Retention (15 d) is counted from the newest block, so the
  data never expires during a run.
* The default time range of blocks is 2 h, aligned: data crossing an aligned 2 h boundary
  becomes two blocks, which Prometheus queries as one.
* Series within a file may be interleaved across metric names, but each series' samples
  must be in time order (promtool appends them in file order); `SeriesData` guarantees it.

Cost, measured on this 2-core machine: the default data set (16 series x 281 samples)
writes, converts and starts in about 0.15 s. 100,000 series of 3 samples: 0.3 s to write,
1.5 s of promtool. 1,000,000 series of 3 samples (4 labels each): about 3.5 s to write the
378 MB file, 23-25 s of promtool (which peaks near 3 GiB RSS), 0.1 s of startup; a
`/api/v1/series` listing of all of them then streams in about 4 s.
"""

from __future__ import annotations

import asyncio
import base64
import math
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import orjson

__all__ = [
    "TEST_BASIC_AUTH",
    "BasicAuthUser",
    "DatasetContribution",
    "PrometheusProcess",
    "PrometheusStartError",
    "Series",
    "SeriesData",
    "TLSFiles",
    "build_default_dataset",
    "default_dataset",
    "promql_selector",
    "start_prometheus",
]

PROMETHEUS_BIN = os.environ.get("PROMETHEUS_BIN", "prometheus")
PROMTOOL_BIN = os.environ.get("PROMTOOL_BIN", "promtool")

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")


class PrometheusStartError(RuntimeError):
    """promtool or prometheus failed; the message carries the tail of their output."""


# -- the data a test controls -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Series:
    """One series: name, labels and (offset from the anchor in seconds, value) samples."""

    name: str
    labels: Mapping[str, str]
    samples: Sequence[tuple[float, float]]


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def promql_selector(name: str, labels: Mapping[str, str]) -> str:
    """A PromQL selector matching exactly this series (values escaped as Go strings)."""
    matchers = [f'__name__="{_escape_label_value(name)}"']
    matchers += [f'{k}="{_escape_label_value(v)}"' for k, v in sorted(labels.items())]
    return "{" + ",".join(matchers) + "}"


class SeriesData:
    """The series a Prometheus under test will hold, anchored at `now`.

    Build with `add` (explicit samples), `gauge`, `counter`, or `extend` (a lazily
    evaluated generator, for data sets too big to keep as objects). Offsets are seconds
    relative to `now`; the default window is `[-history, +horizon]` every `step` s."""

    def __init__(
        self,
        *,
        now: float | None = None,
        step: float = 15.0,
        history: float = 600.0,
        horizon: float = 3600.0,
    ) -> None:
        self.now = float(int(time.time())) if now is None else now
        """Anchor time, unix seconds (whole seconds by default, so timestamps are exact)."""
        self.step = step
        self.history = history
        self.horizon = horizon
        self._series: list[Series] = []
        self._identities: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        self._lazy: list[Callable[[], Iterable[Series]]] = []

    # builders

    def add(
        self, name: str, labels: Mapping[str, str], samples: Iterable[tuple[float, float]]
    ) -> Self:
        """A series with explicit `(offset_seconds, value)` samples (sorted here)."""
        if not _METRIC_NAME.match(name):
            raise ValueError(f"invalid metric name {name!r}")
        for key in labels:
            if not _LABEL_NAME.match(key) or key == "__name__":
                raise ValueError(f"invalid label name {key!r} on {name}")
        identity = (name, tuple(sorted(labels.items())))
        if identity in self._identities:
            raise ValueError(f"series {promql_selector(name, labels)} added twice")
        self._identities.add(identity)
        ordered = sorted(samples, key=lambda s: s[0])
        offsets = [offset for offset, _ in ordered]
        if len(set(offsets)) != len(offsets):
            raise ValueError(f"duplicate timestamps in {promql_selector(name, labels)}")
        self._series.append(Series(name, dict(labels), ordered))
        return self

    def offsets(self, *, step: float | None = None, history: float | None = None) -> list[float]:
        """The default sample offsets: `-history` to `+horizon` inclusive, every `step`."""
        step = self.step if step is None else step
        history = self.history if history is None else history
        count = int((history + self.horizon) // step)
        return [-history + i * step for i in range(count + 1)]

    def gauge(
        self,
        name: str,
        labels: Mapping[str, str],
        value: float,
        *,
        step: float | None = None,
        history: float | None = None,
    ) -> Self:
        """A constant `value` over the whole window: any instant query in it sees `value`."""
        return self.add(
            name, labels, ((o, value) for o in self.offsets(step=step, history=history))
        )

    def counter(
        self,
        name: str,
        labels: Mapping[str, str],
        rate_per_second: float,
        *,
        duration: float | None = None,
        step: float | None = None,
        start_value: float = 0.0,
    ) -> Self:
        """A counter growing by `rate_per_second` from `now - duration` (default
        `history`) to `now + horizon`: `rate(x[2m])` at any time in the window after
        the first two minutes is `rate_per_second` (up to float rounding)."""
        history = self.history if duration is None else duration
        return self.add(
            name,
            labels,
            (
                (o, start_value + rate_per_second * (o + history))
                for o in self.offsets(step=step, history=history)
            ),
        )

    def extend(self, generate: Callable[[], Iterable[Series]]) -> Self:
        """Series produced by `generate()` only while writing: nothing is kept in memory,
        so millions of series cost nothing until `write_openmetrics`. Not checked for
        duplicates; samples of each series must already be in time order."""
        self._lazy.append(generate)
        return self

    def merge(self, other: SeriesData) -> Self:
        """All series of `other` (offsets are kept, re-anchored at this `now`)."""
        for s in other._series:
            self.add(s.name, s.labels, s.samples)
        self._lazy.extend(other._lazy)
        return self

    # reading

    def __iter__(self) -> Iterator[Series]:
        yield from self._series
        for generate in self._lazy:
            yield from generate()

    def write_openmetrics(self, path: Path) -> WrittenData:
        """Write every series as OpenMetrics text; return what was written."""
        written = WrittenData()
        now = self.now
        with open(path, "w", encoding="utf-8", buffering=1 << 20) as out:
            for series in self:
                if not series.samples:
                    continue
                inner = ",".join(
                    f'{k}="{_escape_label_value(v)}"' for k, v in series.labels.items()
                )
                prefix = f"{series.name}{{{inner}}} " if inner else f"{series.name} "
                out.write(
                    "".join(
                        f"{prefix}{_format_value(v)} {now + o:.3f}\n" for o, v in series.samples
                    )
                )
                written.note(series, now)
            out.write("# EOF\n")
        return written


@dataclass(slots=True)
class WrittenData:
    """Counts and two probe samples, to check the server really holds the data."""

    series: int = 0
    samples: int = 0
    first: tuple[str, Mapping[str, str], float, float] | None = None
    last: tuple[str, Mapping[str, str], float, float] | None = None

    def note(self, series: Series, now: float) -> None:
        self.series += 1
        self.samples += len(series.samples)
        offset, value = series.samples[-1]
        probe = (series.name, series.labels, now + offset, value)
        if self.first is None:
            self.first = probe
        self.last = probe


# -- the default dataset and its registry -------------------------------------------------

DatasetContribution = Callable[[SeriesData], None]
_CONTRIBUTIONS: dict[str, DatasetContribution] = {}


def default_dataset(contribution: DatasetContribution) -> DatasetContribution:
    """Register series for the session-wide Prometheus (the `prometheus` fixture).

    Use as a decorator in a test module; it runs when the session server is first
    needed, after collection, so every collected module's series are in. Keep to your
    own metric names or a `namespace` of your own: the shared server is one data set."""
    key = f"{contribution.__module__}.{contribution.__qualname__}"
    _CONTRIBUTIONS[key] = contribution
    return contribution


def build_default_dataset(now: float | None = None) -> SeriesData:
    """The shared data set: the base series below plus every registered contribution."""
    data = SeriesData(now=now)
    for contribution in _CONTRIBUTIONS.values():
        contribution(data)
    return data


TRICKY_LABEL_VALUES: tuple[str, ...] = (
    'quote"inside',
    "brace}{inside",
    "back\\slash",
    'all\\"}{,:[]',
    "ünïcødé-日本語-😀",
    "new\nline",
    "",
)
"""Label values of the `tricky_labels` series (`case` label = position): what a naive
series parser gets wrong."""


@default_dataset
def _base_series(data: SeriesData) -> None:
    """The documented base of the shared data set (all times relative to `data.now`):

    * `http_requests_total{namespace="shop", service="web", pod="web-N"}` for N = 1..3,
      counters at N req/s (`rate(...[2m])` = N).
    * `queue_depth{namespace="shop", queue="orders"}` gauge 42;
      `queue_depth{namespace="shop", queue="billing"}` gauge 7.
    * `special_values{case="nan"|"pos_inf"|"neg_inf"|"negative"}` gauges NaN, +Inf, -Inf,
      -2.5.
    * `tricky_labels{case="<i>", value=TRICKY_LABEL_VALUES[i]}` gauge i, for series
      parsing (quotes, braces, backslashes, unicode, newline, empty value - which
      Prometheus treats as the label being absent).
    """
    for n in (1, 2, 3):
        data.counter(
            "http_requests_total",
            {"namespace": "shop", "service": "web", "pod": f"web-{n}"},
            rate_per_second=float(n),
        )
    data.gauge("queue_depth", {"namespace": "shop", "queue": "orders"}, 42.0)
    data.gauge("queue_depth", {"namespace": "shop", "queue": "billing"}, 7.0)
    for case, value in (
        ("nan", math.nan),
        ("pos_inf", math.inf),
        ("neg_inf", -math.inf),
        ("negative", -2.5),
    ):
        data.gauge("special_values", {"case": case}, value)
    for i, tricky in enumerate(TRICKY_LABEL_VALUES):
        labels = {"case": str(i), "value": tricky} if tricky else {"case": str(i)}
        data.gauge("tricky_labels", labels, float(i))


# -- running the server -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TLSFiles:
    """Serve HTTPS: server cert/key, and when `client_ca` is set require client certs
    signed by it. `client_cert`/`client_key` are what the fixture itself presents while
    polling for readiness."""

    cert: Path
    key: Path
    client_ca: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None


@dataclass(frozen=True, slots=True)
class BasicAuthUser:
    """Require HTTP basic auth (`basic_auth_users` of `--web.config.file`) for this user.
    Prometheus stores bcrypt hashes only; the fixture sends `password` while polling."""

    username: str
    password: str
    bcrypt_hash: str


TEST_BASIC_AUTH = BasicAuthUser(
    username="adapter",
    password="s3cret-pass",
    # `htpasswd -nbB -C 4 adapter s3cret-pass`: cost 4 keeps each check sub-millisecond.
    bcrypt_hash="$2y$04$ncg2koZ9WaUZu8kOPHPesuDHhZS9caj4eXgsNV//YsmkM/sMOUJTG",
)
"""A user whose hash is fixed so no bcrypt library is needed to start the server."""


def free_port() -> int:
    """A currently free loopback TCP port (the tiny race with other binders is retried)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PrometheusProcess:
    """A `prometheus` process over a directory of blocks; start/stop or use as a (async)
    context manager. `url` is the base URL to give the client."""

    dataset: SeriesData
    workdir: Path
    tls: TLSFiles | None = None
    extra_args: Sequence[str] = ()
    ready_timeout: float = 120.0
    basic_auth: BasicAuthUser | None = None
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    written: WrittenData = field(default_factory=WrittenData)
    promtool_seconds: float = 0.0
    startup_seconds: float = 0.0

    @property
    def now(self) -> float:
        """The dataset's anchor: query at this time for exact values."""
        return self.dataset.now

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "prometheus.log"

    # lifecycle

    def start(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        data_dir = self.workdir / "data"
        if data_dir.exists():
            shutil.rmtree(data_dir)
        openmetrics = self.workdir / "series.om"
        self.written = self.dataset.write_openmetrics(openmetrics)
        started = time.monotonic()
        if self.written.series:
            self._promtool(openmetrics, data_dir)
        else:
            data_dir.mkdir()
        self.promtool_seconds = time.monotonic() - started
        openmetrics.unlink()
        config = self.workdir / "prometheus.yml"
        config.write_text("global:\n  evaluation_interval: 1h\n")
        started = time.monotonic()
        try:
            for attempt in range(3):
                self.port = free_port()
                self._spawn(config, data_dir)
                try:
                    self._wait_ready()
                    break
                except PrometheusStartError:
                    log = self.log_tail()
                    self._terminate()
                    if "address already in use" not in log or attempt == 2:
                        raise
            self._verify()
        except BaseException:
            self._terminate()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        """Stop the server and drop its blocks (big data sets fill /tmp otherwise); the
        log stays in `workdir` for post-mortems."""
        self._terminate()
        shutil.rmtree(self.workdir / "data", ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # queries for the fixture's own checks and for tests that want raw answers

    def get(self, path: str, params: Sequence[tuple[str, str]] = ()) -> tuple[int, bytes]:
        """A plain GET against the server, bypassing the client under test."""
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        request = urllib.request.Request(url)
        if self.basic_auth is not None:
            pair = f"{self.basic_auth.username}:{self.basic_auth.password}".encode()
            request.add_header("Authorization", "Basic " + base64.b64encode(pair).decode())
        try:
            with urllib.request.urlopen(request, timeout=30, context=self._ssl_context()) as resp:
                return int(resp.status), bytes(resp.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), bytes(exc.read())

    def query_raw(self, promql: str, at: float | None = None) -> Any:
        """`/api/v1/query` answer as parsed JSON (stdlib path, for cross-checks)."""
        status, body = self.get(
            "/api/v1/query", [("query", promql), ("time", f"{self.now if at is None else at}")]
        )
        if status != 200:
            raise AssertionError(f"query {promql!r}: HTTP {status}: {body[:300]!r}")
        return orjson.loads(body)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # internals

    def _promtool(self, openmetrics: Path, data_dir: Path) -> None:
        result = subprocess.run(
            [PROMTOOL_BIN, "tsdb", "create-blocks-from", "openmetrics", "--quiet",
             str(openmetrics), str(data_dir)],
            capture_output=True,
            check=False,
        )  # fmt: skip
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode(errors="replace")[-3000:]
            raise PrometheusStartError(f"promtool failed ({result.returncode}):\n{output}")

    def _spawn(self, config: Path, data_dir: Path) -> None:
        args = [
            PROMETHEUS_BIN,
            f"--config.file={config}",
            f"--storage.tsdb.path={data_dir}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        if self.tls is not None or self.basic_auth is not None:
            args.append(f"--web.config.file={self._web_config()}")
        args.extend(self.extra_args)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def _web_config(self) -> Path:
        config: dict[str, Any] = {}
        if self.tls is not None:
            tls: dict[str, str] = {
                "cert_file": str(self.tls.cert),
                "key_file": str(self.tls.key),
            }
            if self.tls.client_ca is not None:
                tls["client_auth_type"] = "RequireAndVerifyClientCert"
                tls["client_ca_file"] = str(self.tls.client_ca)
            config["tls_server_config"] = tls
        if self.basic_auth is not None:
            config["basic_auth_users"] = {self.basic_auth.username: self.basic_auth.bcrypt_hash}
        path = self.workdir / "web-config.yml"
        # JSON is YAML: no YAML writer needed.
        path.write_bytes(orjson.dumps(config))
        return path

    def _ssl_context(self) -> ssl.SSLContext | None:
        if self.tls is None:
            return None
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if self.tls.client_cert is not None:
            context.load_cert_chain(self.tls.client_cert, self.tls.client_key)
        return context

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PrometheusStartError(
                    f"prometheus exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                status, _ = self.get("/-/ready")
                if status == 200:
                    return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.05)
        raise PrometheusStartError(
            f"prometheus not ready after {self.ready_timeout}s:\n{self.log_tail()}"
        )

    def _verify(self) -> None:
        """The first and last series written answer with their last sample: the blocks
        are loaded and cover the whole file."""
        for probe in (self.written.first, self.written.last):
            if probe is None:
                continue
            name, labels, at, value = probe
            answer = self.query_raw(promql_selector(name, labels), at=at)
            result = answer["data"]["result"]
            got = float(result[0]["value"][1]) if len(result) == 1 else None
            if got is None or not (got == value or (math.isnan(got) and math.isnan(value))):
                raise PrometheusStartError(
                    f"data not queryable: {promql_selector(name, labels)} at {at} gave "
                    f"{result!r}, want {_format_value(value)}\n{self.log_tail()}"
                )

    def _terminate(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def start_prometheus(
    dataset: SeriesData,
    tmp_path: Path,
    *,
    tls: TLSFiles | None = None,
    extra_args: Sequence[str] = (),
    ready_timeout: float = 120.0,
    basic_auth: BasicAuthUser | None = None,
) -> PrometheusProcess:
    """A Prometheus over `dataset`, working in `tmp_path`; started by `with`/`async with`
    (or `.start()`), stopped (SIGTERM, then SIGKILL after 15 s) on exit."""
    return PrometheusProcess(
        dataset=dataset,
        workdir=tmp_path,
        tls=tls,
        extra_args=tuple(extra_args),
        ready_timeout=ready_timeout,
        basic_auth=basic_auth,
    )
