"""Errors a person can act on: one line, the documented exit code, no tests run, within 10 s."""

from __future__ import annotations

import http.server
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.errors import EXIT_TARGET, EXIT_USAGE
from conformance.run.options import OPTIONS

from .conftest import run_suite


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NotLangflow(http.server.BaseHTTPRequestHandler):
    """An ordinary web server: a home page and 404 for everything else."""

    def do_GET(self) -> None:
        body = b"<html>hello</html>" if self.path == "/" else b"<html>not found</html>"
        self.send_response(200 if self.path in ("/", "/health_check") else 404)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def not_langflow() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotLangflow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def assert_one_line_error(output: str, *needles: str) -> None:
    assert "Traceback" not in output and "INTERNALERROR" not in output, output
    lines = [line for line in output.splitlines() if line.startswith("Exit: ")]
    assert len(lines) == 1, output
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not re.search(r"\b\d+ (passed|failed)\b", output), output  # no test ran


def test_closed_port_exits_3(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    # The timeout guards against a hang (discovery gives up after 8 s); it is not a speed test.
    result = run_suite(tmp_path, "--server", url, "--api-key", "sk-test-not-used-0000000000000", timeout=60)
    assert result.code == EXIT_TARGET, result.output
    assert_one_line_error(result.output, f"cannot reach Langflow at {url}", "--server")
    assert "sk-test-not-used" not in result.output


def test_a_server_that_is_not_langflow_exits_3(tmp_path: Path, not_langflow: str) -> None:
    result = run_suite(tmp_path, "--server", not_langflow + "/")
    assert result.code == EXIT_TARGET, result.output
    assert_one_line_error(result.output, f"{not_langflow} does not look like Langflow", "/api/v1/version", "404")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--server", "http://127.0.0.1:9", "--mode", "yolo"], "--mode must be one of"),
        (["--server", "http://127.0.0.1:9", "--timeout", "-1"], "--timeout"),
        (["--server", "not a url"], "is not an http(s) URL"),
        (["--api-key", "sk-x"], "--api-key needs --server"),
    ],
)
def test_bad_option_values_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    result = run_suite(tmp_path, *args)
    assert result.code == EXIT_USAGE, result.output
    assert_one_line_error(result.output, needle)


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    result = run_suite(tmp_path, "--server", "http://127.0.0.1:9", env={"LANGFLOW_CONFORMANCE_MODE": "prod"})
    assert result.code == EXIT_USAGE
    assert_one_line_error(result.output, "$LANGFLOW_CONFORMANCE_MODE")


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "pytest", "--pyargs", "conformance.suite", "--help"],
        [sys.executable, "-m", "conformance.cli", "--help"],
    ],
    ids=["pytest", "langflow-conformance"],
)
def test_help_lists_every_option_with_its_variable(tmp_path: Path, command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    flat = " ".join(done.stdout.split())
    for opt in OPTIONS:
        assert opt.flag in flat and opt.env in flat, opt.flag
    if "conformance.cli" in command:  # the tool's own options come first, then pytest's
        assert flat.index("--server") < flat.index("--capture")


def test_help_of_another_project_is_untouched(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pytest", "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0 and "--server" not in done.stdout and "langflow" not in done.stdout.lower()
