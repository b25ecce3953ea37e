"""The embedded default: install a Langflow release into a cached virtualenv and run it on loopback."""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ProvisionError
from .secrets import SECRETS

Progress = Callable[[str], None]
START_TIMEOUT_S = 240.0
INSTALL_TIMEOUT_S = 1800.0
# Resolve dependencies as of a few days after the release: old releases break against today's
# packages (1.4.3 + a current elevenlabs fails at import, notes §12).
EXCLUDE_NEWER_AFTER_RELEASE = dt.timedelta(days=3)
PYPI_JSON = "https://pypi.org/pypi/langflow/json"  # the project document lists every release's files

# What the embedded server is started with, recorded in the report: every documented feature
# reachable, so that no skip is caused by our own server's configuration (DESIGN.md).
EMBEDDED_SETTINGS = {
    "LANGFLOW_AUTO_LOGIN": "false",
    "LANGFLOW_ENABLE_LOG_RETRIEVAL": "true",
    "LANGFLOW_LOG_RETRIEVER_BUFFER_SIZE": "10000",
    "LANGFLOW_NEW_USER_IS_ACTIVE": "true",
    "DO_NOT_TRACK": "true",
}


def stderr_progress(message: str) -> None:
    print(f"langflow-conformance: {message}", file=sys.__stderr__, flush=True)


def cache_dir() -> Path:
    if os.environ.get("LANGFLOW_CONFORMANCE_CACHE"):
        return Path(os.environ["LANGFLOW_CONFORMANCE_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "langflow-conformance"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One installer per release at a time (matrix runs and parallel CI jobs share the cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def release_date(version: str) -> dt.datetime:
    """Upload time of the release on PyPI, cached beside the virtualenvs."""
    cache = cache_dir() / "release-dates.json"
    known = json.loads(cache.read_text()) if cache.is_file() else {}
    if version not in known:
        try:
            with urllib.request.urlopen(PYPI_JSON, timeout=30) as response:
                releases = json.load(response).get("releases", {})
        except urllib.error.HTTPError as exc:
            raise ProvisionError(f"PyPI answered {exc.code} for the Langflow project; try again later") from None
        except (urllib.error.URLError, TimeoutError) as exc:
            raise ProvisionError(
                f"cannot reach PyPI to look up Langflow {version} ({exc}); "
                "give --server to test a running Langflow instead"
            ) from None
        files = releases.get(version)
        if not files:
            raise ProvisionError(f"Langflow {version} is not a release on PyPI; pick another --langflow-version")
        known[version] = min(f["upload_time_iso_8601"] for f in files)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known, indent=1, sort_keys=True))
    return dt.datetime.fromisoformat(known[version].replace("Z", "+00:00"))


def uv_command(progress: Progress) -> list[str]:
    found = shutil.which("uv")
    if found:
        return [found]
    probe = subprocess.run([sys.executable, "-m", "uv", "--version"], capture_output=True)
    if probe.returncode != 0:
        progress("uv is missing: installing it with pip")
        done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "uv"], capture_output=True, text=True)
        if done.returncode != 0:
            raise ProvisionError(f"pip could not install uv: {done.stderr.strip().splitlines()[-1:]}")
    return [sys.executable, "-m", "uv"]


def _run_with_progress(cmd: list[str], log: Path, progress: Progress, what: str, timeout: float) -> None:
    started = time.monotonic()
    with open(log, "a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        stop = threading.Event()

        def tick() -> None:
            while not stop.wait(15):
                progress(f"{what}: {time.monotonic() - started:.0f} s so far (log: {log})")

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            raise ProvisionError(f"{what} took longer than {timeout:.0f} s; see {log}") from None
        except BaseException:
            process.kill()
            raise
        finally:
            stop.set()
    if code != 0:
        tail = log.read_text().strip().splitlines()[-1:] or ["(no output)"]
        raise ProvisionError(f"{what} failed ({tail[0][:200]}); full log: {log}")


def ensure_installed(version: str, progress: Progress = stderr_progress) -> Path:
    """The release's virtualenv, installed on first use and reused afterwards."""
    venv = cache_dir() / "venvs" / version
    marker = venv / ".complete"
    if marker.is_file():
        return venv
    with _locked(cache_dir() / "venvs" / f"{version}.lock"):
        if marker.is_file():
            return venv
        exclude_newer = (release_date(version) + EXCLUDE_NEWER_AFTER_RELEASE).strftime("%Y-%m-%dT%H:%M:%SZ")
        uv = uv_command(progress)
        if venv.exists():
            shutil.rmtree(venv)  # a half-finished earlier install
        log = cache_dir() / "venvs" / f"{version}.install.log"
        log.write_text("")
        progress(
            f"installing Langflow {version} into {venv} (dependencies as of {exclude_newer}; "
            "about 30-80 s with a warm uv cache, a few minutes cold)"
        )
        started = time.monotonic()
        _run_with_progress(
            [*uv, "venv", "-q", "-p", sys.executable, str(venv)],
            log,
            progress,
            f"creating the virtualenv for Langflow {version}",
            120,
        )
        install = [*uv, "pip", "install", "-p", str(venv / "bin" / "python"), f"langflow=={version}"]
        try:
            _run_with_progress(
                [*install, "--exclude-newer", exclude_newer],
                log,
                progress,
                f"installing Langflow {version}",
                INSTALL_TIMEOUT_S,
            )
        except ProvisionError:
            # Some packages' old releases lack upload times on the index (1.1.1's litellm pin resolves
            # to nothing as of its release date): fall back to today's resolution and say so.
            if "No solution found" not in log.read_text():
                raise
            progress(
                f"dependencies of Langflow {version} do not resolve as of {exclude_newer}; "
                "installing with today's versions instead"
            )
            exclude_newer = "none (fallback: did not resolve as of the release date)"
            _run_with_progress(install, log, progress, f"installing Langflow {version}", INSTALL_TIMEOUT_S)
        marker.write_text(
            json.dumps(
                {
                    "installed_at": dt.datetime.now(dt.UTC).isoformat(),
                    "seconds": round(time.monotonic() - started, 1),
                    "exclude_newer": exclude_newer,
                }
            )
        )
        progress(f"installed Langflow {version} in {time.monotonic() - started:.0f} s")
    return venv


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
    database_url: str | None = None  # None: a sqlite file in workdir

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "langflow.log"

    def describe(self) -> dict[str, object]:
        return {"release": self.version, "venv": str(self.venv), "port": self.port, "settings": self.settings}

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
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir, start_new_session=True
            )
        next_note = 15.0
        while True:
            elapsed = time.monotonic() - started
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace").strip().splitlines()[-3:]
                raise ProvisionError(
                    f"Langflow {self.version} exited with code {self.process.returncode} "
                    f"while starting: {' | '.join(tail)[:300]}; log: {self.log}"
                )
            if self._healthy(health_path):
                progress(f"Langflow {self.version} is ready after {elapsed:.0f} s")
                return
            if elapsed > START_TIMEOUT_S:
                self.stop()
                raise ProvisionError(
                    f"Langflow {self.version} did not answer {health_path} within "
                    f"{START_TIMEOUT_S:.0f} s; log: {self.log}"
                )
            if elapsed > next_note:
                progress(f"waiting for Langflow {self.version} to answer {health_path}: {elapsed:.0f} s")
                next_note += 15.0
            time.sleep(1.0)

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

    def stop(self) -> None:
        self._stop_process()
        if os.environ.get("LANGFLOW_CONFORMANCE_KEEP_SERVER_DIR") != "1":
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _stop_process(self) -> None:
        _RUNNING[:] = [s for s in _RUNNING if s is not self]
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def provision(
    version: str,
    progress: Progress = stderr_progress,
    settings: dict[str, str] | None = None,
    database_url: str | None = None,
) -> EmbeddedLangflow:
    """Install (or reuse) the release and start it with a temporary database and fresh superuser.

    `settings` replaces EMBEDDED_SETTINGS (the project's tests start servers with other defaults);
    `database_url` replaces the temporary sqlite file (the tests' PostgreSQL deployment)."""
    venv = ensure_installed(version, progress)
    password = secrets.token_urlsafe(18)
    SECRETS.add(password)
    server = EmbeddedLangflow(
        version=version,
        venv=venv,
        workdir=Path(tempfile.mkdtemp(prefix=f"langflow-conformance-{version}-")),
        port=free_port(),
        username="lfc-admin",
        password=password,
        settings=dict(EMBEDDED_SETTINGS if settings is None else settings),
        database_url=database_url,
    )
    try:
        server.start(progress)
    except BaseException:
        server.stop()
        raise
    return server
