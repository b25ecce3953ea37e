"""Benchmark the default suite against a running Langflow: wall time, requests, mean request latency.

    python bench/bench.py --server URL --api-key KEY [--repeat 3] [-- extra pytest args, e.g. -n 2]

Without --server it starts the embedded Langflow once (not timed) and benchmarks against it."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from conformance.matrix import suite_command, unset_settings


def run_once(server: str, credentials: list[str], extra: list[str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = suite_command(tmp, "-q", "--server", server, *credentials, *extra)
        started = time.monotonic()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, env=unset_settings())
        wall = time.monotonic() - started
        reports = list(Path(tmp).glob("*/report.json"))
        if not reports:
            sys.exit(f"bench: the suite wrote no report (exit {done.returncode}):\n{done.stdout[-2000:]}")
        report = json.loads(reports[0].read_text())
    requests = report["requests"]
    return {
        "wall_s": wall,
        "requests": requests,
        "mean_latency_ms": 1000 * report["server_seconds"] / requests if requests else 0.0,
        "server_s": report["server_seconds"],
        "failed": sum(r["outcome"] in ("fail", "error") for r in report["requirements"]),
        "exit": done.returncode,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server")
    parser.add_argument("--api-key", default=os.environ.get("LANGFLOW_API_KEY"))
    parser.add_argument("--langflow-version", default="1.13.0", help="embedded release when --server is absent")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("extra", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args()
    embedded = None
    credentials: list[str] = []
    server = args.server
    if server is None:
        from conformance.provision import provision

        embedded = provision(args.langflow_version)
        server = embedded.url
        credentials = ["--username", embedded.username, "--password", embedded.password]
    elif args.api_key:
        credentials = ["--api-key", args.api_key]
    try:
        runs = [run_once(server, credentials, args.extra) for _ in range(args.repeat)]
    finally:
        if embedded is not None:
            embedded.stop()
    print(f"{'run':>4} {'wall s':>8} {'requests':>9} {'mean latency ms':>16} {'client overhead':>16} {'failed':>7}")
    for i, r in enumerate(runs, 1):
        overhead = r["wall_s"] / r["server_s"] if r["server_s"] else float("nan")
        print(
            f"{i:>4} {r['wall_s']:>8.1f} {r['requests']:>9} {r['mean_latency_ms']:>16.1f} {overhead:>16.2f} "
            f"{r['failed']:>7}"
        )
    if len(runs) > 1:
        print(f"median wall {statistics.median(r['wall_s'] for r in runs):.1f} s")


if __name__ == "__main__":
    main()
