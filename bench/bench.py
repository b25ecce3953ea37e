"""Benchmark the default suite against a running Langflow: wall time, requests, server time and the
ratios that compare across machines (client overhead = run time / server time; requests per
requirement). Reports, never judges: machines differ by 2x from day to day.

    python bench/bench.py --server URL --api-key KEY [--repeat 3] [--out bench.json] [-- extra pytest args, e.g. -n 2]

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
from typing import Any

from conformance.report.model import figures
from conformance.run.matrix import suite_command, unset_settings

COLUMNS = (
    ("wall_s", "wall s", "8.1f"),
    ("server_s", "server s", "9.1f"),
    ("client_overhead", "overhead", "9.3f"),
    ("process_overhead", "process", "8.3f"),
    ("requests", "requests", "9d"),
    ("requests_per_requirement", "req/requirement", "16.2f"),
    ("mean_latency_ms", "latency ms", "11.1f"),
    ("failed", "failed", "7d"),
)


def run_once(server: str, credentials: list[str], extra: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = suite_command(tmp, "-q", "--server", server, *credentials, *extra)
        started = time.monotonic()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, env=unset_settings())
        wall = time.monotonic() - started
        reports = list(Path(tmp).glob("*/report.json"))
        if not reports:
            sys.exit(f"bench: the suite wrote no report (exit {done.returncode}):\n{done.stdout[-2000:]}")
        report = json.loads(reports[0].read_text())
    return {**figures(report, wall), "exit": done.returncode}


def table(runs: list[dict[str, Any]]) -> str:
    head = f"{'run':>4} " + " ".join(f"{title:>{int(fmt.split('.')[0].rstrip('df'))}}" for _, title, fmt in COLUMNS)
    rows = [head]
    for i, r in enumerate(runs, 1):
        rows.append(f"{i:>4} " + " ".join(format(r[key] if r[key] is not None else 0, fmt) for key, _, fmt in COLUMNS))
    return "\n".join(rows)


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def median(key: str) -> float:
        return round(statistics.median(r[key] for r in runs if r[key] is not None), 3)

    return {k: median(k) for k in ("wall_s", "client_overhead", "process_overhead", "requests_per_requirement")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server")
    parser.add_argument("--api-key", default=os.environ.get("LANGFLOW_API_KEY"))
    parser.add_argument("--langflow-version", default="1.13.0", help="embedded release when --server is absent")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument("extra", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args()
    embedded = None
    credentials: list[str] = []
    server = args.server
    if server is None:
        from conformance.target.provision import provision

        embedded = provision(args.langflow_version)
        server = embedded.url
        credentials = ["--username", embedded.username, f"--password={embedded.password}"]
    elif args.api_key:
        credentials = ["--api-key", args.api_key]
    try:
        runs = [run_once(server, credentials, args.extra) for _ in range(args.repeat)]
    finally:
        if embedded is not None:
            embedded.stop()
    print(table(runs))
    result = {"server": "embedded" if embedded else "given", "runs": runs, "median": summary(runs)}
    print("median:", ", ".join(f"{k} {v}" for k, v in result["median"].items()))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
