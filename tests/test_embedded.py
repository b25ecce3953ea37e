"""The embedded default's starts and stops: an optional feature that breaks a release's start is left
off (once found, remembered), a failed start keeps its log and says its cause in one line, and no
embedded server outlives its run, however the run ends.

The start-failure tests use a stand-in `langflow` executable in a cache of their own (a script that
fails the way 1.6.9 does with log retrieval on, else answers /health_check): they test this project's
handling of a start, not a Langflow; the matrix (README) shows it on real releases."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

import pytest

from conformance.errors import EXIT_TARGET
from conformance.run import session
from conformance.target import servers
from conformance.target.install import RECIPE
from conformance.target.provision import BASE_SETTINGS, StartFailed, provision

from .conftest import run_suite

# 1.6.9's failure, as its log shows it (rich traceback framing included).
FAILING_START = """\
echo '╭───────────────────── Traceback (most recent call last) ─────────────────────╮'
echo '│ /venv/lib/python3.11/site-packages/langflow/logging/logger.py:88 in buffer_writer │'
echo '╰──────────────────────────────────────────────────────────────────────────────╯'
echo 'TypeError: Object of type bytes is not JSON serializable'
exit 1
"""
SERVE = """\
port=""; while [ $# -gt 0 ]; do if [ "$1" = "--port" ]; then port="$2"; fi; shift; done
exec {python} -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("content-type", "application/json"); self.end_headers()
        self.wfile.write(b"{{\\"status\\": \\"ok\\"}}")
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
' "$port"
"""


def stand_in(cache: Path, release: str, fails_when: str | None) -> None:
    """A cached 'release' whose langflow fails to start while `fails_when` (a setting) is true."""
    venv = cache / "venvs" / release
    (venv / "bin").mkdir(parents=True)
    (venv / ".complete").write_text(json.dumps({"recipe": RECIPE}))
    guard = f'if [ "${{{fails_when}:-}}" = "true" ]; then\n{FAILING_START}fi\n' if fails_when else FAILING_START
    script = "#!/usr/bin/env bash\n" + guard + SERVE.format(python=sys.executable)
    (venv / "bin" / "langflow").write_text(script)
    (venv / "bin" / "langflow").chmod(0o755)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LANGFLOW_CONFORMANCE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


FEATURES = {"log-retrieval": {"LANGFLOW_ENABLE_LOG_RETRIEVAL": "true"}, "audit": {"LANGFLOW_AUDIT_ENABLED": "true"}}


def test_a_feature_that_breaks_the_start_is_left_off_and_remembered(cache: Path) -> None:
    stand_in(cache, "9.9.1", fails_when="LANGFLOW_ENABLE_LOG_RETRIEVAL")
    said: list[str] = []
    server = provision("9.9.1", progress=said.append, features=FEATURES)
    try:
        assert set(server.features_off) == {"log-retrieval"}
        assert "TypeError: Object of type bytes is not JSON serializable" in server.features_off["log-retrieval"]
        assert (
            server.settings["LANGFLOW_AUDIT_ENABLED"] == "true"
            and "LANGFLOW_ENABLE_LOG_RETRIEVAL" not in server.settings
        )
        assert any("runs without log-retrieval" in line for line in said), said
    finally:
        server.stop()
    said.clear()
    again = provision("9.9.1", progress=said.append, features=FEATURES)  # remembered: one start, not three
    try:
        assert set(again.features_off) == {"log-retrieval"} and not any("trying again" in s for s in said), said
    finally:
        again.stop()


def test_a_failed_start_keeps_its_log_and_says_the_cause_in_one_line(cache: Path) -> None:
    stand_in(cache, "9.9.2", fails_when=None)  # fails whatever the settings
    with pytest.raises(StartFailed) as failed:
        provision("9.9.2", progress=lambda _: None, settings=dict(BASE_SETTINGS))
    message = str(failed.value)
    assert message.startswith("Langflow 9.9.2 exited with code 1 while starting: TypeError: Object of type bytes")
    assert "\n" not in message and "│" not in message and "╭" not in message, message
    kept = Path(message.rsplit("log kept at ", 1)[1])
    assert kept.is_file() and "buffer_writer" in kept.read_text()
    assert not list(servers.registry_dir(cache).glob("*.json")), "a failed start stays registered"


def test_a_failed_embedded_start_exits_3_with_one_line(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    stand_in(cache, "9.9.3", fails_when=None)
    result = run_suite(
        tmp_path, "--langflow-version", "9.9.3", env={"LANGFLOW_CONFORMANCE_CACHE": str(cache)}, timeout=300
    )
    assert result.code == EXIT_TARGET, result.output[-2000:]
    exits = [line for line in result.output.splitlines() if line.startswith("Exit: ")]
    assert len(exits) == 1 and "TypeError: Object of type bytes" in exits[0] and "log kept at" in exits[0], exits
    assert "Traceback" not in result.output


def test_a_server_interrupted_before_it_was_handed_over_is_stopped(cache: Path) -> None:
    # CI saw it: a SIGTERM just after "is ready" landed before provision() returned the server. Here
    # it lands after the second start succeeded, while provision() still says what it left off.
    stand_in(cache, "9.9.5", fails_when="LANGFLOW_ENABLE_LOG_RETRIEVAL")
    said: list[str] = []

    def interrupted(line: str) -> None:
        said.append(line)
        if "runs without" in line:
            raise KeyboardInterrupt("signal 15")

    with pytest.raises(KeyboardInterrupt):
        provision("9.9.5", progress=interrupted, features=FEATURES)
    assert said[-1] == "stopping the embedded Langflow 9.9.5", said
    assert not list(servers.registry_dir(cache).glob("*.json")), "the started server is still running"


def test_a_run_stops_only_its_own_embedded_server(cache: Path) -> None:
    # A run inside a process that started other servers (the project's tests share theirs) leaves them.
    stand_in(cache, "9.9.6", fails_when="NEVER_SET")
    other = provision("9.9.6", progress=lambda _: None, settings=dict(BASE_SETTINGS))
    try:
        session.Run(settings=cast(Any, None), run_id="t", contract=cast(Any, None)).close()
        assert other.process is not None and other.process.poll() is None
    finally:
        other.stop()


def test_the_next_run_stops_a_server_an_earlier_run_left(cache: Path) -> None:
    # A 'server' whose run is gone: a process named like langflow, registered by an owner that has exited.
    orphan = subprocess.Popen(["bash", "-c", "exec -a langflow-stand-in sleep 300"], start_new_session=True)
    owner = subprocess.Popen([sys.executable, "-c", "pass"])
    owner.wait()
    workdir = cache / "workdir"
    workdir.mkdir(parents=True)
    entry = servers.register(cache, orphan.pid, "9.9.4", 1, workdir)
    entry.write_text(json.dumps({**json.loads(entry.read_text()), "owner": owner.pid}))
    said: list[str] = []
    try:
        assert servers.reap_orphans(cache, said.append) == 1
        assert orphan.wait(timeout=15) is not None and not workdir.exists() and not entry.exists()
        assert "left running" in said[0], said
    finally:
        if orphan.poll() is None:
            orphan.kill()


@pytest.mark.real_langflow
def test_a_killed_run_leaves_no_server(tmp_path: Path) -> None:
    """SIGKILL of the controller mid-run: its embedded Langflow goes with it (Linux PR_SET_PDEATHSIG)."""
    from conformance.run.matrix import suite_command, unset_settings

    command = suite_command(tmp_path / "reports", "--langflow-version", "1.13.0", "-m", "example")
    run = subprocess.Popen(
        command, cwd=tmp_path, env=unset_settings(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert run.stdout is not None
    pid = None
    for line in run.stdout:  # the server's pid is registered once it starts
        if "is ready after" in line:
            entries = [json.loads(p.read_text()) for p in servers.registry_dir(_cache()).glob("*.json")]
            pid = next(e["pid"] for e in entries if e["owner"] == run.pid)
            break
    assert pid is not None, "the embedded server never started"
    os.kill(run.pid, signal.SIGKILL)
    run.wait(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.5)
    assert not _alive(pid), "the killed run's Langflow is still running"
    servers.reap_orphans(_cache(), lambda _: None)  # the next run's housekeeping clears its entry


def _cache() -> Path:
    from conformance.target.provision import cache_dir

    return cache_dir()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


UV_REFUSAL = """\
error: No solution found when resolving dependencies
  cause: Because only litellm<=1.14.4 is available and langflow>=1.0.19.post2
         depends on litellm>=1.44.0, we can conclude that langflow>=1.0.19.post2
         cannot be used.
hint: `litellm` was filtered by `exclude-newer` to only include packages uploaded before 2024-10-28T20:08:17Z.
"""


def test_the_package_a_release_date_leaves_unsolvable_is_named() -> None:
    from conformance.target.install import _UNSOLVABLE

    assert {name for groups in _UNSOLVABLE.findall(UV_REFUSAL) for name in groups if name} == {"litellm"}


def test_the_release_s_own_langflow_base_is_pinned(cache: Path) -> None:
    from conformance.target.install import matching_base

    cache.mkdir(parents=True)
    bases = ["0.10.3", "0.11.0", "1.12.8", "1.13.0"]
    (cache / "uploads-langflow-base.json").write_text(json.dumps(dict.fromkeys(bases, "2026-07-23T00:00:00Z")))
    assert matching_base("1.10.3") == "0.10.3" and matching_base("1.12.8") == "1.12.8"
    assert matching_base("1.1.4.post1") is None  # an older numbering: resolved by date alone
