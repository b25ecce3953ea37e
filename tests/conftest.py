"""Fixtures for the project's own tests: real Langflow servers, started the way the embedded default
starts them, and a helper that runs the conformance suite in a subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conformance.report import VIEWS
from conformance.report.model import figures
from conformance.run import matrix
from conformance.target.provision import EMBEDDED_SETTINGS, EmbeddedLangflow, provision, terminate_like_interrupt

from .deployments import stack
from .deployments.gateway import Gateway
from .deployments.stack import ProductionLike
from .faults.mutation import FAULTS_SETTINGS, api_key_of, text_under
from .snapshot import wait_for_mcp_setup

REPO = Path(__file__).resolve().parents[1]
REPORT_SCHEMA = REPO / "schemas" / "report" / "report.schema.json"


def assert_valid_report(report: dict) -> None:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(
        json.loads(REPORT_SCHEMA.read_text()), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator.iter_errors(report)]
    assert errors == [], "report.json does not match schemas/report/report.schema.json"


def pytest_configure(config: pytest.Config) -> None:
    terminate_like_interrupt()  # a cancelled CI job still stops the servers the tests started
    config.addinivalue_line("markers", "real_langflow: starts a real Langflow release (slow: 40-90 s per release)")


# Measured against a 1.13.0 that has served nothing else yet: a server the other tests filled with
# hundreds of flows and messages answers lists more slowly, which is not what the figures are about.
RUN_FIRST = ("test_default_suite_on_1_13",)
BENCH_FILE = REPO / "reports" / "bench-ci.json"
_FIGURES: list[dict] = []


def record_figures(what: str, report: dict, wall_s: float) -> None:
    """Benchmark figures of a suite run the tests made anyway: printed and written at the end of the
    session (BENCH_FILE), so every CI run records them; no test fails on them."""
    _FIGURES.append({"run": what, **figures(report, wall_s)})


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _FIGURES:
        return
    BENCH_FILE.parent.mkdir(exist_ok=True)
    BENCH_FILE.write_text(json.dumps(_FIGURES, indent=2) + "\n")
    terminalreporter.section("benchmark figures (reported, not judged)")
    for f in _FIGURES:
        terminalreporter.write_line(
            f"{f['run']}: wall {f['wall_s']} s, server {f['server_s']} s, client overhead {f['client_overhead']} "
            f"(process {f['process_overhead']}), {f['requests']} requests, "
            f"{f['requests_per_requirement']} per requirement, mean latency {f['mean_latency_ms']} ms; requirements "
            f"passed {f['passed']}, failed {f['failed']} (known deviations {f['known_deviations']}), skipped "
            f"{f['skipped']}, not applicable {f['not_applicable']}"
        )
    terminalreporter.write_line(f"written to {BENCH_FILE}")


@pytest.hookimpl(trylast=True)  # after -k/-m deselection: start only what the selected tests use
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: getattr(item, "originalname", item.name) not in RUN_FIRST)
    parallel = hasattr(config, "workerinput") or bool(getattr(config.option, "numprocesses", None))
    if not parallel and not config.option.collectonly:
        AHEAD.start(_first_uses(items))


LOG_LINES_ON_FAILURE = 25
LOG_NOTEWORTHY = re.compile(r"\[(warning|error|critical)|Traceback|locked", re.IGNORECASE)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test on a real server carries that server's last warnings and errors: the server's
    directory is gone when CI's output is read, and a wedged server explains many failures at once."""
    report = yield
    if report.failed and call.when == "call":
        for name, value in getattr(item, "funcargs", {}).items():
            langflow = getattr(value, "langflow", None)
            if isinstance(langflow, EmbeddedLangflow) and langflow.log.exists():
                lines = ANSI.sub("", langflow.log.read_text(errors="replace")).splitlines()
                worth = [line[:300] for line in lines if LOG_NOTEWORTHY.search(line)][-LOG_LINES_ON_FAILURE:]
                title = f"{name}: Langflow {langflow.version}'s last warnings and errors ({langflow.log})"
                report.sections.append((title, "\n".join(worth) or "(none)"))
    return report


@dataclass
class Server:
    """A running real Langflow and the credentials the tests may use against it."""

    langflow: EmbeddedLangflow
    api_key: str | None

    @property
    def url(self) -> str:
        return self.langflow.url


def _server(langflow: EmbeddedLangflow, api_key: bool = True) -> Server:
    return Server(langflow, api_key_of(langflow) if api_key else None)


def _faults_server() -> Server:
    server = _server(provision("1.13.0", settings=FAULTS_SETTINGS))
    assert server.api_key is not None
    wait_for_mcp_setup(server.url, server.api_key)
    return server


# The real servers of the session, by fixture: each is a context manager, entered once and left at
# the end of the session.
STARTERS: dict[str, Callable[[], AbstractContextManager[Any]]] = {
    # AUTO_LOGIN off, a superuser and an API key (the embedded default's setup)
    "langflow_113": lambda: _stopping(lambda: _server(provision("1.13.0"))),
    # for runs through the fault proxy and interruptions (one is restarted), login rate limiting off
    "langflow_113_faults": lambda: _stopping(_faults_server),
    # 1.7.3 with its default settings: AUTO_LOGIN on, API key required (1.6+ defaults)
    "langflow_173_default": lambda: _stopping(
        lambda: _server(provision("1.7.3", settings={"DO_NOT_TRACK": "true"}), api_key=False)
    ),
    # 1.7.3 set up like the embedded default, plus LANGFLOW_WEBHOOK_AUTH_ENABLE=true
    "langflow_173_webhook_auth": lambda: _stopping(
        lambda: _server(provision("1.7.3", settings={**EMBEDDED_SETTINGS, "LANGFLOW_WEBHOOK_AUTH_ENABLE": "true"}))
    ),
    # 1.13.0 on PostgreSQL with Langflow's default settings, behind nginx terminating TLS with a
    # private CA under a path prefix (tests/deployments/)
    "production_like": stack.production_like,
}


@contextmanager
def _stopping(start: Callable[[], Server]) -> Iterator[Server]:
    server = start()
    try:
        yield server
    finally:
        server.langflow.stop()


class Ahead:
    """Servers the collected tests need, started in the background as soon as collection is done, two
    at a time, in the order the tests first use them: a 30-90 s start overlaps other tests instead of
    holding up the first test that needs the server. Started from threads that live until the end of
    the session (a server's parent-death signal follows the thread that started it)."""

    def __init__(self) -> None:
        self.pool: ThreadPoolExecutor | None = None
        self.entered: dict[str, Future[Any]] = {}
        self.managers: dict[str, AbstractContextManager[Any]] = {}

    def start(self, names: list[str]) -> None:
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="server-ahead")
        for name in names:
            manager = self.managers[name] = STARTERS[name]()
            self.entered[name] = self.pool.submit(manager.__enter__)

    def get(self, name: str) -> Any:
        if name not in self.entered:  # not foreseen (xdist, or a fixture used indirectly): start it now
            self.managers[name] = STARTERS[name]()
            done: Future[Any] = Future()
            done.set_result(self.managers[name].__enter__())
            self.entered[name] = done
        return self.entered[name].result()

    def stop(self) -> None:
        """Everything started, whether a test used it or not, then the threads."""
        for name in reversed(list(self.entered)):
            future = self.entered.pop(name)
            if not future.cancel() and future.exception() is None:
                self.managers[name].__exit__(None, None, None)
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


AHEAD = Ahead()


def _first_uses(items: list[pytest.Item]) -> list[str]:
    names: list[str] = []
    for item in items:
        for name in getattr(item, "fixturenames", ()):
            wanted = "production_like" if name == "bearer_gateway" else name
            if wanted in STARTERS and wanted not in names:
                names.append(wanted)
    return names


def pytest_sessionfinish(session: pytest.Session) -> None:
    AHEAD.stop()


@pytest.fixture(scope="session")
def langflow_113() -> Server:
    return AHEAD.get("langflow_113")  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def langflow_113_faults() -> Server:
    return AHEAD.get("langflow_113_faults")  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def langflow_173_default() -> Server:
    return AHEAD.get("langflow_173_default")  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def langflow_173_webhook_auth() -> Server:
    return AHEAD.get("langflow_173_webhook_auth")  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def production_like() -> ProductionLike:
    return AHEAD.get("production_like")  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def bearer_gateway(production_like: ProductionLike) -> Iterator[Gateway]:
    """A Bearer-token gateway (`gateway.url`, `gateway.token`) in front of production_like's Langflow:
    one Langflow serves both, so the deployment tests never run two at once."""
    with Gateway(production_like.direct_url, production_like.api_key) as gateway:
        yield gateway


@dataclass
class Installed:
    """The package as a user installs it: the wheel built from this checkout, in a fresh virtualenv
    outside the repository (by the GitHub Action's own install step, ci/action/install.sh)."""

    venv: Path
    wheel: Path

    def run(
        self, cwd: Path, *command: str, env: dict[str, str] | None = None, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        environment = matrix.unset_settings() | {"PATH": f"{self.venv / 'bin'}:{os.environ['PATH']}"} | (env or {})
        environment.pop("VIRTUAL_ENV", None)
        return subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    runner = tmp_path_factory.mktemp("runner")
    path_file = runner / "github_path"
    done = subprocess.run(
        ["bash", str(REPO / "ci" / "action" / "install.sh")],
        env={**os.environ, "RUNNER_TEMP": str(runner), "GITHUB_PATH": str(path_file), "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    venv = Path(path_file.read_text().strip()).parent
    wheels = sorted((runner / "langflow-conformance" / "dist").glob("*.whl"))
    assert wheels and venv.is_dir()
    return Installed(venv, wheels[-1])


@dataclass
class Result:
    code: int
    output: str
    seconds: float
    report_dir: Path

    def report(self) -> dict:
        """The run's report.json, validated against its JSON Schema, with every view written beside it."""
        reports = sorted(self.report_dir.glob("*/report.json"))
        assert reports, f"no report written under {self.report_dir}; output:\n{self.output[-3000:]}"
        report = json.loads(reports[-1].read_text())
        assert_valid_report(report)
        for view in VIEWS:
            assert (reports[-1].parent / view).stat().st_size > 0, view
        return report

    def files_text(self) -> str:
        return text_under(self.report_dir)


def sigint_as_a_terminal_sends_it() -> None:
    """preexec_fn of a run a test interrupts: a CI started in the background (`cmd &`) ignores SIGINT, and
    children inherit that, so Python in the child would never raise KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def suite_command(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """`pytest --pyargs conformance.suite ARGS` with reports under tmp_path, and a clean environment."""
    return matrix.suite_command(tmp_path / "reports", *args), matrix.unset_settings() | (env or {})


def run_suite(tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600) -> Result:
    """Run the suite in a subprocess, from a directory outside the repository."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    cmd, full_env = suite_command(tmp_path, *args, env=env)
    report_dir = tmp_path / "reports"
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=tmp_path, env=full_env, capture_output=True, text=True, timeout=timeout)
    return Result(done.returncode, done.stdout + done.stderr, time.monotonic() - started, report_dir)
