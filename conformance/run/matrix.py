"""--matrix / repeated --server: the suite against several targets, each in its own pytest process
(several at a time), then one combined report: target x API version x group, conformance %."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from conformance.report.matrix_views import render_matrix_html, render_matrix_md
from conformance.report.model import group_summary
from conformance.run.ledger import new_run_id
from conformance.run.options import OPTIONS, Settings
from conformance.target.provision import stderr_progress
from conformance.target.secrets import mask

# Options a target gets from the matrix itself, never passed through.
OWN = {"--server", "--api-key", "--langflow-version", "--matrix", "--matrix-jobs", "--report-dir", "--compare"}
# Credentials go to a target through its environment, never its command line (ps shows argv).
BY_ENVIRONMENT = {"--token", "--username", "--password", "--header", "--peer-api-key"}
NOT_FOR_MATRIX = {"--sweep", "--dump-contract", "--update-baseline"}
HEARTBEAT_S = 30.0
STOP_GRACE_S = 90.0  # a target tears down its ledger and its embedded Langflow after Ctrl-C


@dataclass
class Target:
    label: str
    args: list[str]
    env: dict[str, str]
    kind: str  # "embedded" or "server"
    process: subprocess.Popen[bytes] | None = None
    exit_code: int | None = None
    wall_s: float = 0.0
    directory: Path = field(default_factory=Path)


def _labels(servers: tuple[str, ...]) -> list[str]:
    labels = [urlsplit(u).netloc + urlsplit(u).path.rstrip("/") for u in servers]
    return [f"{i + 1}-{label}" if labels.count(label) > 1 else label for i, label in enumerate(labels)]


def targets(settings: Settings) -> list[Target]:
    base_env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LANGFLOW_SERVER_URL", "LANGFLOW_API_KEY")
        and k not in {o.env for o in OPTIONS if o.flag in OWN | NOT_FOR_MATRIX}
    }
    for opt in OPTIONS:
        value = getattr(settings, opt.dest.removeprefix("lfc_"), None)
        if opt.flag == "--header":  # one per line: a header value may hold commas
            value = "\n".join(f"{name}: {v}" for name, v in settings.connection.headers)
        if opt.flag in BY_ENVIRONMENT and value and settings.sources.get(opt.flag) == "command line":
            base_env[opt.env] = str(value)
    if settings.matrix:
        return [
            Target(release, ["--langflow-version", release], dict(base_env), "embedded") for release in settings.matrix
        ]
    keys = settings.api_keys
    out = []
    for i, (url, label) in enumerate(zip(settings.servers, _labels(settings.servers), strict=True)):
        env = dict(base_env, LANGFLOW_SERVER_URL=url)
        if keys:
            env["LANGFLOW_API_KEY"] = keys[i] if len(keys) > 1 else keys[0]
        out.append(Target(label, [], env, "server"))
    return out


def passed_through(settings: Settings, config: pytest.Config) -> list[str]:
    """The invocation's own choices (mode, seed, baseline, -m, -k, -n...) for every target."""
    args = []
    for opt in OPTIONS:
        if opt.flag in OWN | BY_ENVIRONMENT | NOT_FOR_MATRIX or settings.sources.get(opt.flag) != "command line":
            continue
        value = config.getoption(opt.dest)
        args += [opt.flag] if opt.flag_only else [opt.flag, str(value)]
    if config.option.markexpr:
        args += ["-m", config.option.markexpr]
    if config.option.keyword:
        args += ["-k", config.option.keyword]
    workers = getattr(config.option, "numprocesses", None)
    if workers:
        args += ["-n", str(workers)]
    return args


def suite_command(report_dir: Path | str, *args: str) -> list[str]:
    """The suite in a child process, as the matrix runs each target (the project's tests and
    benchmarks run it so too): the langflow-conformance command, with its own pytest configuration."""
    return [sys.executable, "-m", "conformance.cli", "--report-dir", str(report_dir), *args]


def unset_settings() -> dict[str, str]:
    """This environment without LANGFLOW_* and PYTEST_* variables, which would reach a child unasked."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("LANGFLOW_", "PYTEST_"))}


def _start(target: Target, common: list[str], directory: Path) -> None:
    target.directory = directory / target.label.replace("/", "_").replace(":", "_")
    target.directory.mkdir(parents=True, exist_ok=True)
    command = suite_command(target.directory, "-q", *target.args, *common)
    log = (target.directory / "output.log").open("wb")
    target.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=target.env)
    log.close()


def _finish(target: Target, started: float) -> None:
    assert target.process is not None
    target.exit_code = target.process.wait()
    target.wall_s = round(time.monotonic() - started, 1)


def _stop_all(running: list[Target]) -> None:
    """Ctrl-C: every target gets SIGINT (it cleans up its ledger and stops its Langflow), then time to do it."""
    for t in running:
        if t.process is not None and t.process.poll() is None:
            t.process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_GRACE_S
    for t in running:
        if t.process is None:
            continue
        try:
            t.process.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            t.process.kill()


def _report_of(target: Target) -> dict[str, Any] | None:
    reports = sorted(target.directory.glob("*/report.json"))
    return json.loads(reports[-1].read_text()) if reports else None


def _error_line(target: Target) -> str:
    """Why a target has no report: its own one-line Exit message."""
    log = (target.directory / "output.log").read_text(errors="replace").splitlines()
    exits = [line for line in log if "Exit:" in line or "Error" in line]
    return mask((exits or log or ["no output"])[-1].strip())[:300]


def summarize_target(target: Target, directory: Path) -> dict[str, Any]:
    report = _report_of(target)
    entry: dict[str, Any] = {
        "label": target.label,
        "kind": target.kind,
        "exit_code": target.exit_code,
        "wall_s": target.wall_s,
        "log": str((target.directory / "output.log").relative_to(directory)),
    }
    if report is None:
        return {**entry, "report": None, "error": _error_line(target)}
    report_path = sorted(target.directory.glob("*/report.json"))[-1]
    return {
        **entry,
        "report": str(report_path.relative_to(directory)),
        "url": report["target"]["url"],
        "release": report["target"].get("release"),
        "edition": report["contract"]["edition"],
        "mode": report["mode"],
        "requests": report["requests"],
        "gate": report.get("gate", {}).get("verdict"),
        "versions": report["summary"],
        "groups": group_summary(report["requirements"]),
    }


def _progress(targets: list[Target], running: list[Target], started: float) -> None:
    names = ", ".join(t.label for t in running)
    done = sum(t.exit_code is not None for t in targets)
    stderr_progress(f"matrix: {done}/{len(targets)} done; running {names} ({time.monotonic() - started:.0f} s)")


def run_matrix(settings: Settings, config: pytest.Config) -> int:
    """Run every target, write matrix.json/.md/.html; exit 0 when every target exits 0, else the
    highest target exit code."""
    all_targets = targets(settings)
    common = passed_through(settings, config)
    directory = settings.report_dir / f"matrix-{new_run_id()}"
    directory.mkdir(parents=True, exist_ok=True)
    began, began_at = time.monotonic(), dt.datetime.now(dt.UTC)
    stderr_progress(
        f"matrix: {len(all_targets)} targets, {settings.matrix_jobs} at a time; each one's output in "
        f"{directory}/<target>/output.log"
    )
    pending, running = list(all_targets), []
    started_at: dict[str, float] = {}
    with ThreadPoolExecutor(max_workers=settings.matrix_jobs) as pool:
        futures: dict[Future[None], Target] = {}
        try:
            while pending or futures:
                while pending and len(futures) < settings.matrix_jobs:
                    t = pending.pop(0)
                    _start(t, common, directory)
                    started_at[t.label] = time.monotonic()
                    running.append(t)
                    futures[pool.submit(_finish, t, started_at[t.label])] = t
                    stderr_progress(f"matrix: started {t.label}")
                done, _ = wait(futures, timeout=HEARTBEAT_S, return_when=FIRST_COMPLETED)
                if not done:
                    _progress(all_targets, [futures[f] for f in futures], began)
                for f in done:
                    t = futures.pop(f)
                    f.result()
                    stderr_progress(f"matrix: {t.label} finished in {t.wall_s:.0f} s with exit {t.exit_code}")
        except KeyboardInterrupt:
            stderr_progress("matrix: interrupted; stopping every target (each one cleans up what it made)")
            _stop_all(running)
            raise
    exit_code = max((t.exit_code or 0) for t in all_targets)
    matrix = {
        "schema_version": 1,
        "kind": "matrix",
        "started_at": began_at.isoformat(),
        "duration_s": round(time.monotonic() - began, 1),
        "jobs": settings.matrix_jobs,
        "arguments": mask(" ".join(common)),
        "exit_code": exit_code,
        "targets": [summarize_target(t, directory) for t in all_targets],
    }
    (directory / "matrix.json").write_text(mask(json.dumps(matrix, indent=2)) + "\n")
    (directory / "matrix.md").write_text(mask(render_matrix_md(matrix)))
    (directory / "matrix.html").write_text(mask(render_matrix_html(matrix)))
    print(render_matrix_md(matrix), file=sys.__stdout__, flush=True)
    stderr_progress(f"matrix: wrote {directory}/matrix.json, matrix.md, matrix.html in {matrix['duration_s']:.0f} s")
    return exit_code
