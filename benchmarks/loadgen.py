"""Closed-loop load: N clients each sending the same request back to back for a while.

Owns driving load and reporting latency percentiles and throughput, through one of two
tools, always in a process of its own so its CPU is not the measured server's:

* `wrk` (Debian's package, installed by `make bench`): written in C, it costs the 2-core
  machine least, so the server under test gets the most of it. A generated Lua script sets
  the method and body and prints the summary as JSON (microsecond latencies).
* this module's own aiohttp client (`python -m benchmarks.loadgen ...`), when wrk is
  missing: same closed loop, same JSON, more CPU of its own.

Both keep connections alive (as the HPA controller's client does) and count any answer
other than 2xx as an error. Which URL to load is the benchmark's business.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import json
import resource
import shutil
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import PYTHON, REPO, BenchmarkError, percentile

__all__ = ["LoadFigures", "LoadRequest", "choose_tool", "run_load"]

_WRK_MARK = "WRK_JSON "


VARIANT = "@VARIANT@"
"""Placeholder in a request's URL or body for the variant number (see `variants`)."""


@dataclass(frozen=True, slots=True)
class LoadRequest:
    url: str
    method: str = "GET"
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    variants: int = 0
    """When positive, `VARIANT` in the URL or body is replaced by 0..variants-1 in turn,
    each client starting elsewhere in the cycle: with many more variants than clients,
    requests in flight at the same time differ, so a server cannot share one answer
    among them (coalescing identical work is then not what is measured)."""

    def concrete(self, index: int) -> tuple[str, bytes]:
        """The URL and body of variant `index` (the request itself when not variable)."""
        number = str(index % self.variants) if self.variants else "0"
        return self.url.replace(VARIANT, number), self.body.replace(
            VARIANT.encode(), number.encode()
        )


@dataclass(frozen=True, slots=True)
class LoadFigures:
    """One load run. Latencies in seconds."""

    tool: str
    concurrency: int
    seconds: float
    requests: int
    errors: int
    throughput: float
    """Completed requests per second."""
    p50: float
    p90: float
    p99: float
    mean: float
    max: float
    bytes_per_request: float
    cpu_seconds: float = 0.0
    """CPU the load generator itself used (it shares the machine with the servers)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "concurrency": self.concurrency,
            "seconds": self.seconds,
            "requests": self.requests,
            "errors": self.errors,
            "throughput": self.throughput,
            "latency_seconds": {
                "p50": self.p50,
                "p90": self.p90,
                "p99": self.p99,
                "mean": self.mean,
                "max": self.max,
            },
            "bytes_per_request": self.bytes_per_request,
            "loadgen_cpu_seconds": self.cpu_seconds,
        }


def choose_tool(asked: str) -> str:
    if asked == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    if asked == "wrk" and not shutil.which("wrk"):
        raise BenchmarkError("wrk is not installed: run `make bench`, or use --loadgen python")
    return asked


def run_load(
    request: LoadRequest, *, concurrency: int, duration: float, tool: str, workdir: Path
) -> LoadFigures:
    before = _children_cpu()
    if tool == "wrk":
        figures = _run_wrk(request, concurrency, duration, workdir)
    else:
        figures = _run_python(request, concurrency, duration, workdir)
    return dataclasses.replace(figures, cpu_seconds=_children_cpu() - before)


def _children_cpu() -> float:
    """CPU of every child reaped so far (a sum, unlike ru_maxrss): the delta across one
    `subprocess.run` is that child's."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# -- wrk ----------------------------------------------------------------------------------

_WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"mean":%.1f,"max":%d}\\n',
    MARK, summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, latency.max))
end
"""


def _lua_string(text: str) -> str:
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


_WRK_VARIANTS = """
local threads_seen = 0
setup = function(thread)
  thread:set("counter", threads_seen * math.floor(VARIANTS / 2))
  threads_seen = threads_seen + 1
end
local function fill(parts, i)
  if parts == nil then return nil end
  return table.concat(parts, i)
end
request = function()
  counter = (counter + 1) % VARIANTS
  local i = tostring(counter)
  return wrk.format(nil, fill(PATH_PARTS, i), nil, fill(BODY_PARTS, i))
end
"""


def _lua_parts(text: str) -> str:
    return "{" + ", ".join(_lua_string(part) for part in text.split(VARIANT)) + "}"


def _wrk_script(request: LoadRequest) -> str:
    lines = [f"MARK = {_lua_string(_WRK_MARK)}", f'wrk.method = "{request.method}"']
    if request.body:
        lines.append(f"wrk.body = {_lua_string(request.body.decode('ascii'))}")
    for key, value in request.headers.items():
        lines.append(f"wrk.headers[ {_lua_string(key)} ] = {_lua_string(value)}")
    if request.variants:
        split = urllib.parse.urlsplit(request.url)
        path = split.path + (f"?{split.query}" if split.query else "")
        lines.append(f"VARIANTS = {request.variants}")
        lines.append(f"PATH_PARTS = {_lua_parts(path)}")
        body = request.body.decode("ascii")
        lines.append(f"BODY_PARTS = {_lua_parts(body) if body else 'nil'}")
        lines.append(_WRK_VARIANTS)
    return "\n".join(lines) + _WRK_DONE


def _run_wrk(request: LoadRequest, concurrency: int, duration: float, workdir: Path) -> LoadFigures:
    digest = hashlib.sha256(f"{request.method} {request.url}".encode() + request.body)
    script = workdir / f"wrk-{digest.hexdigest()[:12]}.lua"
    script.write_text(_wrk_script(request))
    threads = min(concurrency, 2)
    args = [
        "wrk", f"-t{threads}", f"-c{concurrency}", f"-d{max(round(duration), 1)}s",
        "--timeout", "30s", "-s", str(script), request.concrete(0)[0],
    ]  # fmt: skip
    result = subprocess.run(args, capture_output=True, check=False, timeout=duration + 120)
    output = result.stdout.decode(errors="replace")
    line = next((ln for ln in output.splitlines() if ln.startswith(_WRK_MARK)), None)
    if result.returncode != 0 or line is None:
        raise BenchmarkError(
            f"wrk failed ({result.returncode}): {output[-2000:]}"
            f"{result.stderr.decode(errors='replace')[-2000:]}"
        )
    raw = json.loads(line[len(_WRK_MARK) :])
    seconds = raw["duration_us"] / 1e6
    requests = int(raw["requests"])
    errors = sum(int(raw[key]) for key in ("connect", "read", "write", "status", "timeout"))
    return LoadFigures(
        tool="wrk",
        concurrency=concurrency,
        seconds=seconds,
        requests=requests,
        errors=errors,
        throughput=requests / seconds if seconds else 0.0,
        p50=raw["p50"] / 1e6,
        p90=raw["p90"] / 1e6,
        p99=raw["p99"] / 1e6,
        mean=raw["mean"] / 1e6,
        max=raw["max"] / 1e6,
        bytes_per_request=raw["bytes"] / requests if requests else 0.0,
    )


# -- the aiohttp fallback -------------------------------------------------------------------


def _run_python(
    request: LoadRequest, concurrency: int, duration: float, workdir: Path
) -> LoadFigures:
    body_file = workdir / "loadgen-body"
    body_file.write_bytes(request.body)
    args = [
        PYTHON, "-m", "benchmarks.loadgen", "--url", request.url, "--method", request.method,
        "--concurrency", str(concurrency), "--duration", str(duration),
        "--body-file", str(body_file), "--variants", str(request.variants),
    ]  # fmt: skip
    for key, value in request.headers.items():
        args += ["--header", f"{key}:{value}"]
    result = subprocess.run(
        args, capture_output=True, check=False, timeout=duration + 120, cwd=REPO
    )
    if result.returncode != 0:
        raise BenchmarkError(
            f"loadgen failed ({result.returncode}): {result.stderr.decode(errors='replace')}"
        )
    raw = json.loads(result.stdout)
    return LoadFigures(tool="python", concurrency=concurrency, **raw)


async def _drive(request: LoadRequest, concurrency: int, duration: float) -> dict[str, Any]:
    import aiohttp
    from yarl import URL

    latencies: list[float] = []
    errors = 0
    received = 0
    connector = aiohttp.TCPConnector(ssl=False, limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        stop_at = started + duration

        async def client(start: int) -> None:
            nonlocal errors, received
            index = start
            while time.perf_counter() < stop_at:
                index += 1
                url, body = request.concrete(index)
                sent = time.perf_counter()
                try:
                    async with session.request(
                        request.method,
                        URL(url, encoded=True),
                        data=body or None,
                        headers=dict(request.headers),
                    ) as response:
                        payload = await response.read()
                        ok = 200 <= response.status < 300
                except (aiohttp.ClientError, TimeoutError):
                    ok, payload = False, b""
                latencies.append(time.perf_counter() - sent)
                received += len(payload)
                if not ok:
                    errors += 1

        spread = max(request.variants // concurrency, 1)
        await asyncio.gather(*(client(i * spread) for i in range(concurrency)))
        seconds = time.perf_counter() - started
    count = len(latencies)
    return {
        "seconds": seconds,
        "requests": count,
        "errors": errors,
        "throughput": count / seconds if seconds else 0.0,
        "p50": percentile(latencies, 50),
        "p90": percentile(latencies, 90),
        "p99": percentile(latencies, 99),
        "mean": sum(latencies) / count if count else float("nan"),
        "max": max(latencies, default=float("nan")),
        "bytes_per_request": received / count if count else 0.0,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="closed-loop HTTP load (wrk stand-in)")
    parser.add_argument("--url", required=True)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body-file")
    parser.add_argument("--header", action="append", default=[], metavar="KEY:VALUE")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--variants", type=int, default=0)
    args = parser.parse_args(argv)
    request = LoadRequest(
        url=args.url,
        method=args.method,
        body=Path(args.body_file).read_bytes() if args.body_file else b"",
        headers=dict(item.split(":", 1) for item in args.header),
        variants=args.variants,
    )
    figures = asyncio.run(_drive(request, args.concurrency, args.duration))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
