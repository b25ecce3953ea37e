"""End to end against real Langflow releases, each started the way the embedded default starts it."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from conformance.errors import EXIT_USAGE

from .conftest import Server, run_suite, sigint_as_a_terminal_sends_it, suite_command

pytestmark = pytest.mark.real_langflow


def assert_no_secret(result, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in result.output, "a secret reached the output"
        assert secret not in result.files_text(), "a secret reached the report directory"


def test_api_key_header_against_1_13(tmp_path: Path, langflow_113: Server) -> None:
    assert langflow_113.api_key
    # The header key on reads and writes; the whole suite with it is test_default_suite_on_1_13's.
    result = run_suite(
        tmp_path, "--server", langflow_113.url + "/", "--api-key", langflow_113.api_key, "-k", "[base. or [flows."
    )
    assert result.code in (0, 1), result.output
    report = result.report()
    assert report["target"]["release"] == "1.13.0"
    assert report["contract"]["edition"] == "1.12"
    assert report["target"]["auth"] == "api-key (header)"
    assert report["requests"] > 5
    executed = [r for r in report["requirements"] if r["outcome"] in ("pass", "fail")]
    assert executed, "no requirement ran"
    assert any(r["outcome"] == "pass" and r["id"] == "base.version.example" for r in executed)
    assert_no_secret(result, langflow_113.api_key)


def test_api_key_as_query_parameter(tmp_path: Path, langflow_113: Server) -> None:
    assert langflow_113.api_key
    result = run_suite(
        tmp_path,
        "--server",
        langflow_113.url,
        "--auth-in",
        "query",
        "-k",
        "[flows.",  # writes and reads enough to show the query key works (the header run takes the rest)
        env={"LANGFLOW_API_KEY": langflow_113.api_key},
    )
    assert result.code in (0, 1), result.output
    report = result.report()
    assert report["target"]["auth"] == "api-key (query)"
    assert any(r["id"] == "flows.flow.lifecycle" and r["outcome"] == "pass" for r in report["requirements"])
    assert_no_secret(result, langflow_113.api_key)


# Runs that log in go to the server without login rate limiting (5 logins a minute by default, then
# a 60 s Retry-After the client waits out): the same checks, a minute less of CI.
def test_username_and_password(tmp_path: Path, langflow_113_faults: Server) -> None:
    server = langflow_113_faults.langflow
    result = run_suite(
        tmp_path,
        "--server",
        server.url,
        "--username",
        server.username,
        "-k",
        "[base. or [users. or [api-keys. or [flows.",  # login, Bearer, the run's own key: not the whole suite
        env={"LANGFLOW_PASSWORD": server.password},
    )
    assert result.code in (0, 1), result.output
    report = result.report()
    # It logged in, then traded the login for a run-scoped key (/run takes only keys) and deleted it.
    assert report["target"]["auth"] == f"api-key (header), created for this run (login as {server.username})"
    assert report["cleanup_failures"] == []
    assert any(r["id"].endswith(".bearer") and r["outcome"] == "pass" for r in report["requirements"])
    assert_no_secret(result, server.password)


def test_wrong_key_exits_2(tmp_path: Path, langflow_113: Server) -> None:
    wrong = "sk-wrong-" + "x" * 40
    result = run_suite(tmp_path, "--server", langflow_113.url, "--api-key", wrong)
    assert result.code == EXIT_USAGE, result.output
    assert "rejected the credentials given with --api-key" in result.output
    assert " passed" not in result.output
    assert_no_secret(result, wrong)


def test_wrong_password_exits_2(tmp_path: Path, langflow_113_faults: Server) -> None:
    server = langflow_113_faults
    result = run_suite(tmp_path, "--server", server.url, "--username", "lfc-admin", "--password", "nope-nope")
    assert result.code == EXIT_USAGE, result.output
    assert "refused --username 'lfc-admin'" in result.output
    assert_no_secret(result, "nope-nope")


def test_1_7_3_with_auto_login_reads_without_credentials(tmp_path: Path, langflow_173_default: Server) -> None:
    # read-only: the AUTO_LOGIN JWT is used as is (an isolated run trades it for a run-scoped key)
    result = run_suite(tmp_path, "--server", langflow_173_default.url, "--mode", "read-only")
    assert result.code in (0, 1), result.output
    report = result.report()
    assert report["target"]["release"] == "1.7.3"
    assert report["target"]["anonymous_refused"] is True
    assert report["target"]["auth"] == "auto_login JWT"
    assert any(r["outcome"] == "pass" for r in report["requirements"])


def test_embedded_default_provisions_runs_and_stops_1_13(tmp_path: Path) -> None:
    # No --server: install (cached), start, run, stop; a few groups (the whole suite on a server started
    # the same way is test_default_suite_on_1_13's).
    result = run_suite(tmp_path, "-k", "[base. or [flows.")
    assert result.code in (0, 1), result.output
    report = result.report()
    assert report["target"]["release"] == "1.13.0"
    embedded = report["target"]["embedded"]
    assert embedded["release"] == "1.13.0"
    assert embedded["settings"]["LANGFLOW_ENABLE_LOG_RETRIEVAL"] == "true"
    assert "installing Langflow" in result.output or "starting Langflow 1.13.0" in result.output
    assert "stopping the embedded Langflow 1.13.0" in result.output
    port = embedded["port"]
    with socket.socket() as sock:  # the server is gone
        assert sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupting_the_embedded_run_stops_the_server(tmp_path: Path, signum: int) -> None:
    """Ctrl-C (or a cancelled CI job's SIGTERM) once the server is up: readable end, server stopped."""
    cmd, env = suite_command(tmp_path)
    process = subprocess.Popen(
        cmd,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=sigint_as_a_terminal_sends_it,
    )
    assert process.stdout is not None
    lines: list[str] = []
    port = None
    for line in process.stdout:
        lines.append(line)
        found = re.search(r"starting Langflow \S+ on http://127.0.0.1:(\d+)", line)
        port = int(found[1]) if found else port
        if "is ready after" in line:
            process.send_signal(signum)
            break
    output = "".join(lines) + process.stdout.read()
    code = process.wait(timeout=60)
    assert port is not None, output
    assert code == 2, output  # pytest's "interrupted"
    assert "stopping the embedded Langflow 1.13.0" in output, output
    assert "INTERNALERROR" not in output
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "the embedded server outlived the run"
