"""A real VictoriaMetrics (Debian's `victoria-metrics`, single-node) for tests: a second
Prometheus-compatible backend holding exactly the series a test wrote.

Owns: starting it on a free loopback port over a fresh data directory, importing a
`SeriesData` through `/api/v1/import/prometheus` (exposition text with millisecond
timestamps), flushing it to search (`/internal/force_flush`) and checking a probe query
sees it, then stopping it. Why import rather than scrape: as for the Prometheus fixture
(`support.prometheus`), the test chooses every timestamp and value.

Flags: `-search.disableCache` so an answer computed before the import finished is never
served from cache; `-search.latencyOffset=0s` so samples up to "now" are visible (the
default hides the last 30 s, which the future-reaching data sets do not need but exact
checks would trip on).
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import orjson

from support.prometheus import SeriesData, free_port, promql_selector

__all__ = ["VICTORIA_METRICS_BIN", "VictoriaMetricsProcess"]

VICTORIA_METRICS_BIN = os.environ.get("VICTORIA_METRICS_BIN", "victoria-metrics")


class VictoriaMetricsStartError(RuntimeError):
    """The server did not start or did not take the data; carries its log's tail."""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


@dataclass
class VictoriaMetricsProcess:
    dataset: SeriesData
    workdir: Path
    ready_timeout: float = 60.0
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def now(self) -> float:
        return self.dataset.now

    @property
    def log_path(self) -> Path:
        return self.workdir / "victoria-metrics.log"

    def start(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            for attempt in range(3):
                self.port = free_port()
                self._spawn()
                try:
                    self._wait_healthy()
                    break
                except VictoriaMetricsStartError:
                    self._terminate()
                    if "address already in use" not in self.log_tail() or attempt == 2:
                        raise
            self._import()
        except BaseException:
            self._terminate()
            raise
        return self

    def stop(self) -> None:
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

    def get(self, path: str, params: list[tuple[str, str]] | None = None) -> tuple[int, bytes]:
        query = "?" + urllib.parse.urlencode(params) if params else ""
        try:
            with urllib.request.urlopen(self.url + path + query, timeout=30) as resp:
                return int(resp.status), bytes(resp.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), bytes(exc.read())

    def query_raw(self, promql: str, at: float) -> Any:
        status, body = self.get("/api/v1/query", [("query", promql), ("time", f"{at}")])
        if status != 200:
            raise AssertionError(f"query {promql!r}: HTTP {status}: {body[:300]!r}")
        return orjson.loads(body)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # internals

    def _spawn(self) -> None:
        args = [
            VICTORIA_METRICS_BIN,
            f"-storageDataPath={self.workdir / 'data'}",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            "-retentionPeriod=1y",
            "-search.disableCache",
            "-search.latencyOffset=0s",
            "-loggerLevel=WARN",
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def _wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise VictoriaMetricsStartError(
                    f"victoria-metrics exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                if self.get("/health")[0] == 200:
                    return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.05)
        raise VictoriaMetricsStartError(f"not healthy after {self.ready_timeout}s")

    def _exposition(self) -> tuple[bytes, tuple[str, dict[str, str], float, float] | None]:
        lines: list[str] = []
        probe = None
        for series in self.dataset:
            inner = ",".join(f'{k}="{_escape(v)}"' for k, v in series.labels.items())
            prefix = f"{series.name}{{{inner}}} " if inner else f"{series.name} "
            for offset, value in series.samples:
                at_ms = round((self.dataset.now + offset) * 1000)
                lines.append(f"{prefix}{_value(value)} {at_ms}")
            if series.samples and probe is None:
                offset, value = series.samples[len(series.samples) // 2]
                probe = (series.name, dict(series.labels), self.dataset.now + offset, value)
        return ("\n".join(lines) + "\n").encode(), probe

    def _import(self) -> None:
        body, probe = self._exposition()
        request = urllib.request.Request(
            self.url + "/api/v1/import/prometheus", data=body, method="POST"
        )
        with urllib.request.urlopen(request, timeout=60) as resp:
            if resp.status // 100 != 2:
                raise VictoriaMetricsStartError(f"import answered HTTP {resp.status}")
        self.get("/internal/force_flush")
        if probe is None:
            return
        name, labels, at, value = probe
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:  # flushed data turns searchable within a second
            result = self.query_raw(promql_selector(name, labels), at)["data"]["result"]
            if len(result) == 1 and float(result[0]["value"][1]) == value:
                return
            time.sleep(0.1)
        raise VictoriaMetricsStartError(
            f"imported data not queryable: {promql_selector(name, labels)}\n{self.log_tail()}"
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
