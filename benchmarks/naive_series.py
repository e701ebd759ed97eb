"""The discovery baseline: fetch each whole `/api/v1/series` body, then `json.loads` it.

`python -m benchmarks.naive_series --config C --prometheus-url URL` does for each distinct
`seriesQuery` of the config what a straightforward client does (and what upstream's Go
client does in effect: read the body, decode every series into maps, hold them all), with
the standard library only, and prints one JSON object: seconds fetching (until the last
byte), seconds decoding, series, bytes, and its own peak RSS (`VmHWM`) at the end.
Deliberately nothing clever: it is the yardstick the streamed relist is compared with, in
the same run, against the same Prometheus.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.parse
import urllib.request
from typing import Any

import yaml

from benchmarks.common import memory


def series_queries(config_path: str) -> list[str]:
    """Distinct `seriesQuery` strings of `rules` and `externalRules`, in order (the
    config is read as plain YAML: this baseline uses nothing of the adapter)."""
    with open(config_path, encoding="utf-8") as f:
        document = yaml.safe_load(f) or {}
    seen: dict[str, None] = {}
    for section in ("rules", "externalRules"):
        for rule in document.get(section) or ():
            seen.setdefault(str(rule["seriesQuery"]), None)
    return list(seen)


def fetch_all(config_path: str, url: str, max_age: float) -> dict[str, Any]:
    held: list[Any] = []
    fetch_seconds = decode_seconds = 0.0
    size = 0
    for query in series_queries(config_path):
        params = urllib.parse.urlencode(
            [("match[]", query), ("start", f"{time.time() - max_age:.3f}")]
        )
        started = time.monotonic()
        with urllib.request.urlopen(f"{url}/api/v1/series?{params}", timeout=600) as response:
            body = response.read()
        fetched = time.monotonic()
        answer = json.loads(body)
        decode_seconds += time.monotonic() - fetched
        fetch_seconds += fetched - started
        size += len(body)
        del body
        held.append(answer["data"])
    return {
        "fetch_seconds": fetch_seconds,
        "decode_seconds": decode_seconds,
        "series": sum(len(data) for data in held),
        "bytes": size,
        "peak_rss_bytes": memory(os.getpid()).peak,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True)
    parser.add_argument("--prometheus-url", required=True)
    parser.add_argument("--max-age", type=float, default=600.0, help="seconds (default 10m)")
    args = parser.parse_args()
    print(json.dumps(fetch_all(args.config, args.prometheus_url, args.max_age)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
