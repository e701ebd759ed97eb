"""What the sandbox's kubelet measures, read from Linux's /proc, and the text it exports.

Owns reading a process's CPU time and resident memory (`/proc/<pid>/stat`, `statm`) and
the host's CPU times and memory (`/proc/stat`, `/proc/meminfo`), and writing them in the
Prometheus text format under the names and labels of the real exporters: cAdvisor's
`container_cpu_usage_seconds_total` and `container_memory_working_set_bytes` with
`container`, `namespace`, `pod` (as the kubelet's `/metrics/cadvisor` has them), and
node-exporter's `node_cpu_seconds_total{cpu,mode}`, `node_memory_MemTotal_bytes` and
`node_memory_MemAvailable_bytes`, which config/default.yaml's resource rules read.

cAdvisor reads cgroups; a sandbox pod is one process tree without a cgroup of its own, so
the process's own counters stand in: CPU is user + system time of the process and its
reaped children, the working set is its resident set. Only the series the default rules
read are written; the pod-level (`container=""`) and pause (`POD`) series are not, since
those rules filter them out anyway.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ContainerSample",
    "ProcessUsage",
    "cadvisor_text",
    "node_exporter_text",
    "process_usage",
]

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_PROC = Path("/proc")
_NODE_CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


@dataclass(frozen=True, slots=True)
class ProcessUsage:
    cpu_seconds: float
    """User + system CPU time of the process and its waited-for children."""
    rss_bytes: int


def process_usage(pid: int) -> ProcessUsage | None:
    """None when the process is gone (its numbers are then unknown, not zero)."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
        statm = (_PROC / str(pid) / "statm").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    rss_pages = int(statm.split()[1])
    return ProcessUsage((utime + stime + cutime + cstime) / _CLOCK_TICKS, rss_pages * _PAGE_SIZE)


@dataclass(frozen=True, slots=True)
class ContainerSample:
    namespace: str
    pod: str
    container: str
    image: str
    pid: int
    usage: ProcessUsage


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in pairs) + "}"


def cadvisor_text(samples: Iterable[ContainerSample]) -> str:
    """The kubelet's /metrics/cadvisor for these containers."""
    cpu: list[str] = []
    memory: list[str] = []
    for sample in samples:
        labels = _labels(
            (
                ("container", sample.container),
                ("id", f"/kubepods/pod-{sample.pod}/{sample.container}-{sample.pid}"),
                ("image", sample.image),
                ("name", f"{sample.container}-{sample.pid}"),
                ("namespace", sample.namespace),
                ("pod", sample.pod),
            )
        )
        cpu.append(f"container_cpu_usage_seconds_total{labels} {sample.usage.cpu_seconds!r}")
        memory.append(f"container_memory_working_set_bytes{labels} {sample.usage.rss_bytes}")
    return "\n".join(
        [
            "# HELP container_cpu_usage_seconds_total Cumulative cpu time consumed in seconds.",
            "# TYPE container_cpu_usage_seconds_total counter",
            *cpu,
            "# HELP container_memory_working_set_bytes Current working set in bytes.",
            "# TYPE container_memory_working_set_bytes gauge",
            *memory,
            "",
        ]
    )


def node_exporter_text() -> str:
    """node-exporter's CPU and memory series for this host."""
    lines = [
        "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.",
        "# TYPE node_cpu_seconds_total counter",
    ]
    for row in (_PROC / "stat").read_text().splitlines():
        name, _, rest = row.partition(" ")
        if not name.startswith("cpu") or name == "cpu":
            continue
        values = rest.split()
        for mode, ticks in zip(_NODE_CPU_MODES, values, strict=False):
            labels = _labels((("cpu", name[3:]), ("mode", mode)))
            lines.append(f"node_cpu_seconds_total{labels} {int(ticks) / _CLOCK_TICKS!r}")
    meminfo: dict[str, int] = {}
    for row in (_PROC / "meminfo").read_text().splitlines():
        key, _, rest = row.partition(":")
        parts = rest.split()
        if parts:
            meminfo[key] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    for key in ("MemTotal", "MemAvailable"):
        if key in meminfo:
            lines.append(f"# HELP node_memory_{key}_bytes Memory information field {key}_bytes.")
            lines.append(f"# TYPE node_memory_{key}_bytes gauge")
            lines.append(f"node_memory_{key}_bytes {meminfo[key]}")
    lines.append("")
    return "\n".join(lines)


def host_memory_bytes() -> int:
    for row in (_PROC / "meminfo").read_text().splitlines():
        if row.startswith("MemTotal:"):
            return int(row.split()[1]) * 1024
    raise OSError("no MemTotal in /proc/meminfo")
