"""What every benchmark shares: child processes, their CPU and memory, percentiles, reports.

Owns starting and stopping the processes a benchmark measures (each its own OS process,
so the figures are the process's and not the harness's), reading their CPU time and
memory from `/proc`, the CPU time of a child that has exited (`os.wait4` on its pid),
latency percentiles, the printed tables and the JSON files under `benchmarks/results/`.
What to measure is each benchmark module's.

Peak memory is always a process's own `VmHWM`, read from `/proc` (children that exit
print theirs last): `ru_maxrss` is no good here. `RUSAGE_CHILDREN` keeps the largest
child ever reaped (promtool's 3 GiB), and even a single child's `wait4` figure includes
the harness's own RSS at spawn time (exec folds the high-water mark of the address space
it replaces into the child's, and subprocess spawns through vfork).

The real Prometheus comes from the test machinery (`tests/support/prometheus.py`), put on
`sys.path` here rather than copied: one implementation of "backfill blocks and start".
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "benchmarks" / "results"
PYTHON = sys.executable
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1 << 20


class BenchmarkError(RuntimeError):
    """A benchmark could not measure what it set out to (a server failed to start, an
    answer was wrong); the message says which and where its log is."""


def use_test_support() -> None:
    """Make `tests/support` importable as `support` (it imports no pytest)."""
    tests = str(REPO / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)


@dataclass(frozen=True, slots=True)
class Options:
    """How the suite was asked to run."""

    quick: bool = False
    """Small sizes and short runs: a smoke test of the machinery, not figures to quote."""
    duration: float = 20.0
    """Seconds of each load run (after a warm-up of a tenth of it, at least 1 s)."""
    loadgen: str = "auto"
    """`wrk` (C, barely loads the machine), `python` (aiohttp, in its own process), or
    `auto`: wrk when installed."""
    keep_workdir: bool = False
    """Leave logs and data under the work directory for a post-mortem."""
    adapter_args: tuple[str, ...] = ()
    """Extra flags for `python -m adapter serve` (to try a setting; the default run
    measures the adapter as a user starts it)."""


# -- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far (`/proc/<pid>/stat`)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        text = stat.read()
    # The command name (field 2) may hold spaces and parentheses; fields after it are plain.
    fields = text.rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores, `/proc/stat`), to tell how
    much of a run's CPU went to processes other than the measured ones."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = stat.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def load_average() -> float:
    """The 1-minute load average: other work on this 2-core machine skews every figure."""
    return os.getloadavg()[0]


@dataclass(frozen=True, slots=True)
class Memory:
    rss: int
    """Resident set size now, bytes."""
    peak: int
    """Highest RSS since the process started (VmHWM), bytes."""


def memory(pid: int) -> Memory:
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024
    return Memory(values.get("VmRSS", 0), values.get("VmHWM", 0))


class ChildProcess:
    """A long-running server under measurement; output goes to `log`. Stopped by its own
    pid (SIGTERM, then SIGKILL after a grace period), never by name."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        log: Path,
        *,
        env: Mapping[str, str] | None = None,
        stdout_pipe: bool = False,
    ) -> None:
        self.name = name
        self.args = list(args)
        self.log = log
        self._env = dict(env) if env is not None else None
        self._stdout_pipe = stdout_pipe
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid

    @property
    def stdout(self) -> IO[bytes]:
        if self.process is None or self.process.stdout is None:
            raise RuntimeError(f"{self.name} has no stdout pipe")
        return self.process.stdout

    def start(self) -> Self:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        env = {**os.environ, **(self._env or {})}
        env.setdefault("PYTHONPATH", str(REPO))
        self.process = subprocess.Popen(
            self.args,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if self._stdout_pipe else self._log_file,
            stderr=self._log_file,
        )
        return self

    def read_line(self, timeout: float) -> str:
        """The next line the child prints on its stdout pipe (start-up handshakes)."""
        stream = self.stdout
        ready, _, _ = select.select([stream], [], [], timeout)
        if not ready:
            raise self.failure(f"printed nothing within {timeout:.0f}s")
        line = stream.readline().decode(errors="replace").strip()
        if not line:
            raise self.failure("closed its output")
        return line

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def failure(self, what: str) -> BenchmarkError:
        code = self.process.poll() if self.process is not None else None
        state = f"exited with {code}" if code is not None else "still running"
        return BenchmarkError(f"{self.name} {what} ({state}); log {self.log}:\n{self.log_tail()}")

    def stop(self, grace: float = 15.0) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=grace)
        if process is not None and process.stdout is not None:
            process.stdout.close()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True, slots=True)
class Finished:
    """A short-lived child that ran to its end: its output and what it cost."""

    returncode: int
    stdout: bytes
    wall_seconds: float
    cpu_seconds: float
    """User plus system CPU of this child alone (`os.wait4` on its pid)."""


def run_to_end(args: Sequence[str], log: Path, *, timeout: float = 1800.0) -> Finished:
    """Run a child to completion; stdout is returned, stderr goes to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ}
    env.setdefault("PYTHONPATH", str(REPO))
    with open(log, "ab") as err:
        started = time.monotonic()
        process = subprocess.Popen(
            list(args), cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=err,
        )  # fmt: skip
        assert process.stdout is not None
        # The output is small (a JSON line); read it all, then reap this very child with
        # wait4 so its CPU times are its own. A child that overruns is killed by pid.
        deadline = started + timeout
        chunks: list[bytes] = []
        os.set_blocking(process.stdout.fileno(), False)
        while True:
            try:
                chunk = process.stdout.read()
            except BlockingIOError:
                chunk = None
            if chunk:
                chunks.append(chunk)
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                _, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.02)
        wall = time.monotonic() - started
        os.set_blocking(process.stdout.fileno(), True)
        chunks.append(process.stdout.read())
        process.stdout.close()
        process.returncode = os.waitstatus_to_exitcode(status)
    return Finished(
        returncode=process.returncode,
        stdout=b"".join(chunks),
        wall_seconds=wall,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
    )


# -- HTTP checks (the harness's own, not the measured path) ---------------------------------


def insecure_context() -> ssl.SSLContext:
    """The servers under test use throw-away self-signed certificates."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def http_request(
    url: str,
    *,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers=dict(headers or {}))
    context = insecure_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as err:
        return int(err.code), bytes(err.read())


def wait_until(
    ready: Callable[[], bool], *, timeout: float, child: ChildProcess, what: str
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise child.failure(f"stopped before {what}")
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise child.failure(f"not {what} after {timeout:.0f}s")


# -- figures --------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class Target:
    """One goal from the issue: `figure` must be at most (or at least) `limit`."""

    figure: str
    value: float
    limit: float
    unit: str
    at_least: bool = False

    @property
    def met(self) -> bool:
        return self.value >= self.limit if self.at_least else self.value <= self.limit

    def describe(self) -> str:
        sign = ">=" if self.at_least else "<="
        verdict = "met" if self.met else "MISSED"
        return (
            f"{self.figure}: {format_number(self.value)} {self.unit} "
            f"(target {sign} {format_number(self.limit)} {self.unit}) {verdict}"
        )


@dataclass(slots=True)
class Result:
    """What one benchmark hands back: tables to print, targets, and a JSON document."""

    name: str
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "targets": [{**asdict(t), "met": t.met} for t in self.targets],
            **self.data,
        }


@dataclass(frozen=True, slots=True)
class Table:
    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]

    def render(self) -> str:
        widths = [len(h) for h in self.headers]
        for row in self.rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

        def line(cells: Iterable[str]) -> str:
            parts = []
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True)):
                parts.append(cell.ljust(width) if i == 0 else cell.rjust(width))
            return "  ".join(parts).rstrip()

        rule = "  ".join("-" * w for w in widths)
        body = [line(self.headers), rule, *(line(row) for row in self.rows)]
        return f"{self.title}\n" + "\n".join(body)


def format_number(value: float | None, digits: int = 3) -> str:
    """Three significant digits, no exponent for the ranges benchmarks produce."""
    if value is None:
        return "-"
    if value != value:  # NaN
        return "nan"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 10 ** (digits - 1):
        return f"{value:,.0f}"
    decimals = digits - 1 - int(f"{magnitude:e}".split("e")[1])
    return f"{value:.{max(decimals, 0)}f}"


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else format_number(seconds * 1000.0)


def mib(size: float | None) -> str:
    return "-" if size is None else format_number(size / MIB)


def write_result(result: Result) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{result.name}.json"
    path.write_text(json.dumps(result.document(), indent=2, sort_keys=False) + "\n")
    return path
