"""Latency of API routes through the offline runtime, as ratios to /v1/health measured in the same run.

    .venv/bin/python bench/api_latency.py [--requests 200]

Starts its own runtime (fresh state in a temporary folder), warms every route, then times sequential requests.
The machine is noisy, so read the ratios to the baseline (a route that does no I/O), not the milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.conftest import start_platform, stop_platform


def timed(call: Callable[[], requests.Response], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code < 300, response.text
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    n = parser.parse_args().requests
    with tempfile.TemporaryDirectory() as tmp:
        platform = start_platform(Path(tmp) / "state", Path(tmp) / "runtime.log")
        try:
            s, url = platform.session(), platform.url
            s.post(f"{url}/v1/prompts", json={"name": "bench", "template": "Hi {{name}}, about {{topic}}."}, timeout=30)
            counter = iter(range(10**9))
            cases: dict[str, Callable[[], requests.Response]] = {
                "GET /v1/health (baseline)": lambda: s.get(f"{url}/v1/health", timeout=30),
                "GET /v1/whoami (authorizer)": lambda: s.get(f"{url}/v1/whoami", timeout=30),
                "GET /v1/prompts/{name}": lambda: s.get(f"{url}/v1/prompts/bench", timeout=30),
                "POST /v1/prompts/{name}/render": lambda: s.post(
                    f"{url}/v1/prompts/bench/render", json={"variables": {"name": "A", "topic": "B"}}, timeout=30
                ),
                "POST /v1/prompts (new version)": lambda: s.post(
                    f"{url}/v1/prompts",
                    json={"name": "bench-writes", "template": f"v{next(counter)} {{{{x}}}}"},
                    timeout=30,
                ),
            }
            for call in cases.values():
                timed(call, 10)  # warm: every worker started, every cache filled
            results = {name: timed(call, n) for name, call in cases.items()}
        finally:
            stop_platform(platform)
    base = statistics.median(next(iter(results.values())))
    print(f"{'route':34} {'p50 ms':>8} {'p95 ms':>8} {'p50 / baseline':>15}   ({n} sequential requests each)")
    for name, samples in results.items():
        p50, p95 = statistics.median(samples), statistics.quantiles(samples, n=20)[18]
        print(f"{name:34} {p50:8.2f} {p95:8.2f} {p50 / base:15.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
