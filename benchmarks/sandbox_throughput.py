"""How fast the sandbox answers boto3: calls per second and latency, one client and several.

    .venv/bin/python benchmarks/sandbox_throughput.py [calls]

Prints figures; asserts nothing (speed targets live here, not in the test suite).
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3
from botocore.config import Config

from sandbox.server import running_sandbox

PARAMS = {
    "connectorProvisioningType": "LAMBDA",
    "connectorProvisioningConfig": {"lambda": {"lambdaArn": "arn:aws:lambda:us-east-1:111122223333:function:f"}},
}


def client(url: str):
    return boto3.client(
        "appflow",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def run(url: str, calls: int, threads: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        c = client(url)
        c.register_connector(connectorLabel=f"warm{uuid.uuid4().hex[:8]}", **PARAMS)  # connection set up
        mine = []
        for _ in range(n):
            start = time.perf_counter()
            c.register_connector(connectorLabel=f"c{uuid.uuid4().hex[:12]}", **PARAMS)
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=work, args=(calls // threads,)) for _ in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - started, latencies


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    with running_sandbox() as server:
        for threads in (1, 4):
            elapsed, latencies = run(server.url, calls, threads)
            quantiles = statistics.quantiles(latencies, n=100)
            print(
                f"{threads} client(s): {len(latencies)} calls in {elapsed:.2f} s "
                f"= {len(latencies) / elapsed:.0f} calls/s; "
                f"latency p50 {quantiles[49] * 1000:.1f} ms, p95 {quantiles[94] * 1000:.1f} ms"
            )


if __name__ == "__main__":
    main()
