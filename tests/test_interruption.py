"""Interrupted runs against a real Langflow 1.13.0: Ctrl-C (SIGINT) while the run sets up, in the middle
of the suite and while it deletes what it made, and the server restarting under a running suite.
Each run ends promptly with a readable message, and afterwards at most one --sweep leaves the
server exactly as it was before the run."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from .conftest import Server, run_suite, sigint_as_a_terminal_sends_it, suite_command
from .faults.proxy import Exchange, proxying
from .snapshot import assert_untouched, snapshot

pytestmark = pytest.mark.real_langflow

# Resources of every kind, quickly; isolation's users would be skipped wholesale after a restart (exit 6).
SELECTION = ["-k", "([flows. or [projects. or [variables. or [files.) and not isolation"]


class Moment:
    """Tells the test when the run reached a point, and can hold the run's requests there a while."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.requests = 0
        self.slow_deletes = False


def _hook(scenario: str, moment: Moment):  # type: ignore[no-untyped-def]
    async def on_request(exchange: Exchange) -> None:
        moment.requests += 1
        if scenario == "setup" and exchange.endpoint == "api-keys.create" and not moment.reached.is_set():
            moment.reached.set()  # the run trades its login for a key of its own: SIGINT while it waits
            await asyncio.sleep(2)
        elif scenario in ("mid-suite", "server-restart") and moment.requests == 120:
            moment.reached.set()
        if moment.slow_deletes and exchange.method == "DELETE":
            await asyncio.sleep(0.3)  # teardown takes long enough to be interrupted in its middle

    return on_request


@pytest.mark.parametrize("scenario", ["setup", "mid-suite", "teardown", "server-restart"])
def test_after_an_interruption_one_sweep_restores_the_server(
    tmp_path: Path, langflow_113_faults: Server, scenario: str
) -> None:
    server = langflow_113_faults
    assert server.api_key
    before = snapshot(server.url, server.api_key)
    moment = Moment()
    login = ["--username", server.langflow.username, f"--password={server.langflow.password}"]
    with proxying(server.url, on_request=_hook(scenario, moment)) as proxy:
        cmd, env = suite_command(tmp_path, "--server", proxy.url, *login, *SELECTION)
        process = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=tmp_path,
            preexec_fn=sigint_as_a_terminal_sends_it,
        )
        lines: list[str] = []

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                if scenario == "teardown" and "cleanup: deleting" in line:
                    moment.slow_deletes = True
                    moment.reached.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        assert moment.reached.wait(180), "".join(lines)[-3000:]
        if scenario == "server-restart":
            server.langflow.restart()  # the run meets refused connections meanwhile
        else:
            time.sleep(0.5 if scenario == "teardown" else 0)
            os.kill(process.pid, signal.SIGINT)
        try:
            code = process.wait(timeout=180)
        finally:
            if process.poll() is None:
                process.kill()
        reader.join(timeout=10)
    output = "".join(lines)
    assert "INTERNALERROR" not in output, output[-3000:]
    if scenario == "server-restart":
        assert code == 1, output[-3000:]
    elif scenario == "teardown":  # the report is still written, the exit code says "interrupted"
        assert code == 2 and "cleanup interrupted:" in output and "--sweep" in output, output[-3000:]
        assert "Traceback" not in output, output[-3000:]
    else:
        assert code == 2 and "KeyboardInterrupt" in output, output[-3000:]  # pytest's own "interrupted"
    after = snapshot(server.url, server.api_key)
    if after != before:
        swept = run_suite(tmp_path / "sweep", "--server", server.url, "--api-key", server.api_key, "--sweep")
        assert swept.code == 0, swept.output[-2000:]
    assert_untouched(server.url, server.api_key, before)
