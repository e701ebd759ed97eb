"""One process doing what the adapter's discovery does, and nothing else: relists.

`python -m benchmarks.relist_probe --config C --prometheus-url URL [--relists N]` compiles
the config against the built-in REST mapping, then runs `Discovery.relist()` N times
(default 2: the second runs while the first registry is still held, as in a serving
adapter) and prints one JSON object: seconds (wall and CPU) per relist, series seen, shapes kept,
metrics registered, and the process' RSS and peak RSS (`VmHWM`) before the first relist
and after each; the last peak is the process's peak. The
client settings are the adapter's defaults (`PrometheusSettings(url=...)`), so a relist
that would time out in the adapter times out here too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from adapter.k8s.resources import RestMapper
from adapter.prometheus.client import PrometheusClient
from adapter.prometheus.settings import PrometheusSettings
from adapter.providers.discovery import Discovery
from adapter.rules.config import load_config
from adapter.rules.registry import RuleSet


def _rss() -> dict[str, int]:
    values: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024
    return {"rss": values.get("VmRSS", 0), "peak": values.get("VmHWM", 0)}


async def probe(config_path: str, url: str, relists: int, max_age: float) -> dict[str, Any]:
    rules = RuleSet(load_config(config_path), RestMapper.builtin())
    document: dict[str, Any] = {"before": _rss(), "relists": []}
    async with PrometheusClient(PrometheusSettings(url=url)) as prometheus:
        discovery = Discovery(rules, prometheus, interval=max_age, max_age=max_age)
        for _ in range(relists):
            started = time.monotonic()
            cpu = time.process_time()
            registry = await discovery.relist()
            document["relists"].append(
                {
                    "seconds": time.monotonic() - started,
                    "cpu_seconds": time.process_time() - cpu,
                    "series": registry.series_seen,
                    "shapes": registry.shapes_seen,
                    "custom_metrics": len(registry.custom),
                    "external_metrics": len(registry.external),
                    "after": _rss(),
                }
            )
    document["peak_rss_bytes"] = _rss()["peak"]
    return document


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True)
    parser.add_argument("--prometheus-url", required=True)
    parser.add_argument("--relists", type=int, default=2)
    parser.add_argument("--max-age", type=float, default=600.0, help="seconds (default 10m)")
    args = parser.parse_args()
    document = asyncio.run(probe(args.config, args.prometheus_url, args.relists, args.max_age))
    print(json.dumps(document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
