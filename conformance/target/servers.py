"""Embedded servers outside one run's lifetime: a registry of the servers runs start (so the next run
stops any that a killed run left behind), the logs kept from failed starts, and the one line of a log
that says why a start failed."""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import json
import os
import re
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

PR_SET_PDEATHSIG = 1
# Rich tracebacks frame each line in box-drawing characters; a reader wants the words.
_FRAME = re.compile(r"[│┃║╭╮╰╯─━═┏┓┗┛┌┐└┘├┤┬┴┼╔╗╚╝|]+")
_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)|[A-Za-z_][\w.]*Error):\s*\S")


def registry_dir(cache: Path) -> Path:
    return cache / "running"


def die_with_parent() -> None:
    """In the server's process (preexec_fn): Linux sends it SIGTERM when the run that started it
    dies, even by SIGKILL. The registry catches what this cannot (other systems, thread starts)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def may_die_with_parent() -> bool:
    # The signal follows the *thread* that started the server: only the main thread lives as long as the run.
    return sys.platform.startswith("linux") and threading.current_thread() is threading.main_thread()


def register(cache: Path, pid: int, version: str, port: int, workdir: Path) -> Path:
    entry = registry_dir(cache) / f"{pid}.json"
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_text(
        json.dumps(
            {
                "pid": pid,
                "owner": os.getpid(),
                "version": version,
                "port": port,
                "workdir": str(workdir),
                "started_at": dt.datetime.now(dt.UTC).isoformat(),
            }
        )
    )
    return entry


def unregister(cache: Path, pid: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        (registry_dir(cache) / f"{pid}.json").unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_langflow(pid: int) -> bool:
    """The pid may have been reused since: only a process running langflow is ours to stop."""
    try:
        return b"langflow" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return _alive(pid)  # no /proc (not Linux): trust the registry


def stop_group(pid: int, grace_s: float = 20.0) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def reap_orphans(cache: Path, progress: Callable[[str], None]) -> int:
    """Stop every registered server whose run has ended without stopping it (SIGKILL, a CI timeout)."""
    stopped = 0
    for entry in sorted(registry_dir(cache).glob("*.json")):
        try:
            data = json.loads(entry.read_text())
        except (OSError, ValueError):
            entry.unlink(missing_ok=True)
            continue
        if _alive(int(data["owner"])):
            continue  # its run is still going (a matrix, a parallel CI job)
        if _alive(int(data["pid"])) and _is_langflow(int(data["pid"])):
            stop_group(int(data["pid"]), grace_s=10.0)
            stopped += 1
            progress(
                f"stopped the embedded Langflow {data['version']} (pid {data['pid']}, port {data['port']}) that an "
                f"earlier run (pid {data['owner']}) left running"
            )
        shutil.rmtree(data["workdir"], ignore_errors=True)
        entry.unlink(missing_ok=True)
    return stopped


def keep_log(cache: Path, log: Path, version: str) -> Path | None:
    """Copy a failed start's log out of the server's temporary directory, which is removed."""
    if not log.is_file():
        return None
    kept = cache / "logs" / f"langflow-{version}-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}.log"
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(log, kept)
    return kept


def cause_line(text: str) -> str:
    """The line of a log that says why the process ended: the last exception line, without rich's
    framing; else the last line with words in it."""
    lines = [" ".join(_FRAME.sub(" ", line).split()) for line in text.splitlines()]
    lines = [line for line in lines if re.search(r"[A-Za-z]{3}", line)]
    for line in reversed(lines):
        if _EXCEPTION.match(line):
            return line[:300]
    return (lines[-1] if lines else "(the log is empty)")[:300]
