"""The embedded default: install a Langflow release into a cached virtualenv and run it on loopback."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from conformance.errors import ProvisionError
from conformance.target import servers
from conformance.target.install import Progress, cache_dir, ensure_installed, stderr_progress
from conformance.target.secrets import SECRETS

START_TIMEOUT_S = 240.0

# What the embedded server is always started with; on top, each optional feature's settings
# (schemas/features.yaml `embedded`) switch every documented feature on, so that no skip is caused by
# our own server's configuration (DESIGN.md). Both are recorded in the report.
BASE_SETTINGS = {
    "LANGFLOW_AUTO_LOGIN": "false",
    "LANGFLOW_NEW_USER_IS_ACTIVE": "true",
    "DO_NOT_TRACK": "true",
}


def feature_settings() -> dict[str, dict[str, str]]:
    """Feature id -> the settings that switch it on, from the contract."""
    from conformance.contract import load_contract

    return {f.id: f.embedded for f in load_contract().features if f.embedded}


def embedded_settings() -> dict[str, str]:
    """The embedded default's settings: the base and every feature switched on."""
    merged = dict(BASE_SETTINGS)
    for settings in feature_settings().values():
        merged.update(settings)
    return merged


def __getattr__(name: str) -> dict[str, str]:
    # EMBEDDED_SETTINGS, read from the contract when first asked for (tests build on it).
    if name == "EMBEDDED_SETTINGS":
        return embedded_settings()
    raise AttributeError(name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_RUNNING: list[EmbeddedLangflow] = []


@atexit.register
def _stop_all() -> None:
    """Last resort: whatever ends the interpreter, no embedded server outlives it."""
    for server in list(_RUNNING):
        server.stop()


def terminate_like_interrupt() -> None:
    """Make SIGTERM (a CI job cancelled, `kill`) unwind like Ctrl-C, so teardown and the ledger run."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


@dataclass
class EmbeddedLangflow:
    version: str
    venv: Path
    workdir: Path
    port: int
    username: str
    password: str
    process: subprocess.Popen[bytes] | None = None
    settings: dict[str, str] = field(default_factory=dict)
    features_off: dict[str, str] = field(default_factory=dict)  # feature -> why the server runs without it
    database_url: str | None = None  # None: a sqlite file in workdir

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "langflow.log"

    def describe(self) -> dict[str, object]:
        return {
            "release": self.version,
            "venv": str(self.venv),
            "port": self.port,
            "settings": self.settings,
            "features_off": self.features_off,
        }

    def start(self, progress: Progress = stderr_progress, health_path: str = "/health_check") -> None:
        env = {
            **os.environ,
            **self.settings,
            "LANGFLOW_CONFIG_DIR": str(self.workdir / "config"),
            "LANGFLOW_DATABASE_URL": self.database_url or f"sqlite:///{self.workdir / 'langflow.db'}",
            "LANGFLOW_SUPERUSER": self.username,
            "LANGFLOW_SUPERUSER_PASSWORD": self.password,
        }
        # The run's own credentials must not leak into the server it starts.
        for name in (
            "LANGFLOW_SERVER_URL",
            "LANGFLOW_API_KEY",
            "LANGFLOW_TOKEN",
            "LANGFLOW_USERNAME",
            "LANGFLOW_PASSWORD",
        ):
            env.pop(name, None)
        cmd = [
            str(self.venv / "bin" / "langflow"),
            "run",
            "--backend-only",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        progress(f"starting Langflow {self.version} on {self.url} (usually 30-60 s)")
        started = time.monotonic()
        _RUNNING.append(self)
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                cmd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,
                preexec_fn=servers.die_with_parent if servers.may_die_with_parent() else None,
            )
        servers.register(cache_dir(), self.process.pid, self.version, self.port, self.workdir)
        next_note = 15.0
        while True:
            elapsed = time.monotonic() - started
            if self.process.poll() is not None:
                code = self.process.returncode
                raise StartFailed(self, f"exited with code {code} while starting", self._cause())
            if self._healthy(health_path):
                progress(f"Langflow {self.version} is ready after {elapsed:.0f} s")
                return
            if elapsed > START_TIMEOUT_S:
                raise StartFailed(self, f"did not answer {health_path} within {START_TIMEOUT_S:.0f} s", self._cause())
            if elapsed > next_note:
                progress(f"waiting for Langflow {self.version} to answer {health_path}: {elapsed:.0f} s")
                next_note += 15.0
            time.sleep(1.0)

    def _cause(self) -> str:
        return servers.cause_line(self.log.read_text(errors="replace")) if self.log.is_file() else "(no log)"

    def _healthy(self, health_path: str) -> bool:
        try:
            with urllib.request.urlopen(self.url + health_path, timeout=2) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def restart(self, progress: Progress = stderr_progress) -> None:
        """Stop the server and start it again on the same port and database (an upgrade or a crash
        looks like this to a client)."""
        self._stop_process()
        self.start(progress)

    def stop(self, progress: Progress = stderr_progress) -> None:
        # Said here, not by callers: a Ctrl-C may land anywhere between "ready" and the run's hold on it.
        if self.process is not None and self.process.poll() is None:
            progress(f"stopping the embedded Langflow {self.version}")
        self._stop_process()
        if os.environ.get("LANGFLOW_CONFORMANCE_KEEP_SERVER_DIR") != "1":
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _stop_process(self) -> None:
        _RUNNING[:] = [s for s in _RUNNING if s is not self]
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        # Workers the server forked may outlive it in its process group: none survives the run.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        servers.unregister(cache_dir(), process.pid)


class StartFailed(ProvisionError):
    """A start that failed: one line with the cause, the log kept where the message says."""

    def __init__(self, server: EmbeddedLangflow, what: str, cause: str) -> None:
        self.cause, self.exited = cause, what.startswith("exited")
        kept = servers.keep_log(cache_dir(), server.log, server.version)
        where = f"log kept at {kept}" if kept else "no log was written"
        super().__init__(f"Langflow {server.version} {what}: {cause}; {where}")


def provision(
    version: str,
    progress: Progress = stderr_progress,
    settings: dict[str, str] | None = None,
    features: dict[str, dict[str, str]] | None = None,
    database_url: str | None = None,
) -> EmbeddedLangflow:
    """Install (or reuse) the release and start it with a temporary database and fresh superuser.

    By default it starts with BASE_SETTINGS and every optional feature switched on; a feature whose
    settings stop this release from starting is left off (said in one line, remembered per release,
    recorded in `features_off`). `settings` replaces all that (the project's tests start servers
    with other defaults); `database_url` replaces the temporary sqlite file (the tests' PostgreSQL).

    Interrupted (a SIGTERM just after "ready"), it stops what it started before the caller holds it."""
    before = list(_RUNNING)
    try:
        return _provision(version, progress, settings, features, database_url)
    except BaseException:
        for server in [s for s in _RUNNING if all(s is not b for b in before)]:
            server.stop(progress)
        raise


def _provision(
    version: str,
    progress: Progress,
    settings: dict[str, str] | None,
    features: dict[str, dict[str, str]] | None,
    database_url: str | None,
) -> EmbeddedLangflow:
    venv = ensure_installed(version, progress)
    servers.reap_orphans(cache_dir(), progress)
    if settings is not None:
        return _start(version, venv, dict(settings), {}, progress, database_url)
    wanted = feature_settings() if features is None else features
    known = _known_breakers(version)
    off = {f: reason for f, reason in known.items() if f in wanted}
    try:
        return _start(version, venv, _settings(wanted, off), off, progress, database_url)
    except StartFailed as failed:
        if not failed.exited or len(off) == len(wanted):
            raise
        first = failed
    # An optional feature may be what breaks this release's start (1.6.9's log buffer). Only if the
    # release starts with none of them is it worth finding which.
    progress(f"Langflow {version} did not start ({first.cause}); trying again with no optional feature on")
    try:
        trial = _start(version, venv, _settings(wanted, dict.fromkeys(wanted, "")), {}, progress, database_url)
        trial.stop(progress=lambda _: None)
    except StartFailed:
        raise first from None
    for feature in [f for f in wanted if f not in off]:
        progress(f"Langflow {version} did not start ({first.cause}); trying again without {feature}")
        try:
            server = _start(version, venv, _settings(wanted, {**off, feature: ""}), {}, progress, database_url)
        except StartFailed:
            continue
        reason = f"the embedded Langflow {version} does not start with it ({first.cause})"
        server.features_off = {**off, feature: reason}
        _remember_breaker(version, feature, reason)
        progress(f"Langflow {version} runs without {feature}: it does not start with {feature} on")
        return server
    raise first


def _settings(wanted: dict[str, dict[str, str]], off: dict[str, str]) -> dict[str, str]:
    merged = dict(BASE_SETTINGS)
    for feature, values in wanted.items():
        if feature not in off:
            merged.update(values)
    return merged


def _breakers_file(version: str) -> Path:
    return cache_dir() / "venvs" / f"{version}.features-off.json"


def _known_breakers(version: str) -> dict[str, str]:
    try:
        return dict(json.loads(_breakers_file(version).read_text()))
    except (OSError, ValueError):
        return {}


def _remember_breaker(version: str, feature: str, reason: str) -> None:
    path = _breakers_file(version)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**_known_breakers(version), feature: reason}, indent=1))


def _start(
    version: str,
    venv: Path,
    settings: dict[str, str],
    off: dict[str, str],
    progress: Progress,
    database_url: str | None = None,
) -> EmbeddedLangflow:
    password = "lfc" + secrets.token_urlsafe(18)  # never a leading "-": it is passed on command lines
    SECRETS.add(password)
    server = EmbeddedLangflow(
        version=version,
        venv=venv,
        workdir=Path(tempfile.mkdtemp(prefix=f"langflow-conformance-{version}-")),
        port=free_port(),
        username="lfc-admin",
        password=password,
        settings=settings,
        features_off=dict(off),
        database_url=database_url,
    )
    try:
        server.start(progress)
    except BaseException:
        server.stop(progress)
        raise
    return server
