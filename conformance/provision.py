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

from . import servers
from .errors import ProvisionError
from .secrets import SECRETS

Progress = Callable[[str], None]
START_TIMEOUT_S = 240.0
INSTALL_TIMEOUT_S = 1800.0
# Resolve dependencies as of a few days after the release: old releases break against today's
# packages (1.4.3 + a current elevenlabs fails at import, notes §12).
EXCLUDE_NEWER_AFTER_RELEASE = dt.timedelta(days=3)
PYPI_JSON = "https://pypi.org/pypi/langflow/json"  # the project document lists every release's files

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
    from .contract import load_contract

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

    def stop(self) -> None:
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
    with other defaults); `database_url` replaces the temporary sqlite file (the tests' PostgreSQL)."""
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
    # An optional feature may be what breaks this release's start (1.6.9's log buffer): find it.
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
    password = secrets.token_urlsafe(18)
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
        server.stop()
        raise
    return server
