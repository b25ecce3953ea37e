"""A throwaway PostgreSQL cluster from Debian's packages, on loopback, owned by an unprivileged user,
and the database driver Langflow needs for it."""

from __future__ import annotations

import atexit
import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from conformance.target.install import stderr_progress, uv_command
from conformance.target.provision import free_port
from conformance.target.secrets import SECRETS, mask

from . import APT_COMMAND, Service

SYSTEM_USER = "postgres"  # created by Debian's postgresql-common; PostgreSQL refuses to run as root


def binaries() -> Path:
    """Debian's newest PostgreSQL bin directory (/usr/lib/postgresql/<major>/bin)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0
    )
    if not found:
        raise RuntimeError(f"PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); run: {APT_COMMAND}")
    return found[-1].parent


def ensure_driver(venv: Path) -> None:
    """Langflow's `postgresql` extra in the release's virtualenv, installed once: its async engine uses
    psycopg 3 (`postgresql+psycopg`), its migration lock and version check SQLAlchemy's default sync
    driver, psycopg2. Resolved as of the same date as the release itself (the venv's .complete marker)."""
    python = venv / "bin" / "python"
    if subprocess.run([str(python), "-c", "import psycopg, psycopg2"], capture_output=True).returncode == 0:
        return
    marker = json.loads((venv / ".complete").read_text())
    exclude_newer = str(marker.get("exclude_newer", ""))
    pin = ["--exclude-newer", exclude_newer] if re.match(r"\d{4}-\d\d-\d\dT", exclude_newer) else []
    extra = f"langflow[postgresql]=={venv.name}"
    cmd = [*uv_command(stderr_progress), "pip", "install", "-q", "-p", str(python), extra, *pin]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"installing langflow[postgresql] into {venv} failed: {done.stderr.strip()[-500:]}")


class Postgres(Service):
    """`with Postgres() as pg:` a cluster on 127.0.0.1:pg.port with database and password user
    `langflow`; `pg.url` is Langflow's LANGFLOW_DATABASE_URL. The socket stays in the cluster's
    directory; stop() removes everything, also after a start that failed half-way."""

    def __init__(self, database: str = "langflow", user: str = "langflow") -> None:
        self.database = database
        self.user = user
        self.password = secrets.token_urlsafe(18)
        SECRETS.add(self.password)
        self.port = 0
        self.directory: Path | None = None

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *cmd: str | Path, stdin: str | None = None, timeout: float = 120) -> str:
        assert self.directory is not None
        as_owner = ["runuser", "-u", SYSTEM_USER, "--"] if os.geteuid() == 0 else []
        done = subprocess.run(
            [*as_owner, *map(str, cmd)],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=self.directory,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{Path(cmd[0]).name} failed ({done.returncode}): {mask(done.stderr.strip()[-500:])}")
        return done.stdout

    def psql(self, sql: str, database: str | None = None) -> str:
        """Run SQL as the cluster's superuser over the private unix socket; unaligned, tuples only."""
        assert self.directory is not None
        return self._run(
            binaries() / "psql",
            *("-h", self.directory, "-p", str(self.port), "-U", "postgres", "-d", database or "postgres"),
            *("-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-"),
            stdin=sql,
        )

    def start(self) -> None:
        bin_dir = binaries()
        self.directory = Path(tempfile.mkdtemp(prefix="lfc-postgres-"))
        atexit.register(self.stop)
        try:
            if os.geteuid() == 0:
                shutil.chown(self.directory, SYSTEM_USER, SYSTEM_USER)
            data = self.directory / "data"
            # Local socket: trust (only the owner can enter the directory); TCP: password only.
            self._run(
                bin_dir / "initdb",
                *("-D", data, "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync"),
                *("--auth-local=trust", "--auth-host=scram-sha-256"),
            )
            self.port = free_port()
            options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory}"
            log = self.directory / "postgres.log"
            self._run(bin_dir / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "-o", options, "start")
            self.psql(
                f"CREATE ROLE {self.user} LOGIN PASSWORD '{scram_verifier(self.password)}';\n"
                f"CREATE DATABASE {self.database} OWNER {self.user};\n"
            )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        atexit.unregister(self.stop)
        directory, data = self.directory, self.directory and self.directory / "data"
        if directory is None or data is None:
            return
        pid_file = data / "postmaster.pid"
        if pid_file.exists():
            try:
                self._run(binaries() / "pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "30", "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                _kill_postmaster(pid_file)
        self.directory = None
        shutil.rmtree(directory, ignore_errors=True)


def scram_verifier(password: str) -> str:
    """The password as PostgreSQL stores it (RFC 5803): the server, its logs and its error messages
    never see the password itself."""
    salt, iterations = os.urandom(16), 4096
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored_key = hashlib.sha256(hmac.digest(salted, b"Client Key", "sha256")).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    b64 = [base64.b64encode(value).decode() for value in (salt, stored_key, server_key)]
    return f"SCRAM-SHA-256${iterations}:{b64[0]}${b64[1]}:{b64[2]}"


def _kill_postmaster(pid_file: Path) -> None:
    """pg_ctl could not stop it: an immediate shutdown (SIGQUIT), then SIGKILL."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int(pid_file.read_text().splitlines()[0])
        for sig in (signal.SIGQUIT, signal.SIGKILL):
            os.kill(pid, sig)
            for _ in range(50):
                time.sleep(0.1)
                os.kill(pid, 0)  # raises once the process is gone
