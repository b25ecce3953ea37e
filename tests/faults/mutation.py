"""Mutation runs: the suite against a real Langflow through the fault proxy, once clean and once per
fault; a fault is detected when its run fails a requirement of its groups that the clean run passes.
Used by tests/test_mutation.py and bench/mutation.py."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from conformance.contract.loader import contract_root
from conformance.errors import EXIT_TARGET
from conformance.run.kinds import ResourceKinds
from conformance.run.matrix import suite_command, unset_settings
from conformance.target.provision import EMBEDDED_SETTINGS, EmbeddedLangflow
from conformance.target.secrets import SHAPES

from .proxy import Fault, proxying

# The embedded default's settings with login rate limiting off (LANGFLOW_RATE_LIMIT_ENABLED, 5 logins a
# minute by default): every mutation run logs in, to exercise the login and Bearer requirements too.
FAULTS_SETTINGS = {**EMBEDDED_SETTINGS, "LANGFLOW_RATE_LIMIT_ENABLED": "false"}


def bearer_token(url: str, username: str, password: str) -> str:
    """An access token from /api/v1/login."""
    login = httpx.post(f"{url}/api/v1/login", data={"username": username, "password": password}, timeout=60)
    login.raise_for_status()
    return str(login.json()["access_token"])


def api_key_for(url: str, username: str, password: str, key_name: str = "lfc-tests") -> str:
    """A new API key of that user (tests and benchmarks hold it)."""
    headers = {"Authorization": f"Bearer {bearer_token(url, username, password)}"}
    created = httpx.post(f"{url}/api/v1/api_key/", json={"name": key_name}, headers=headers, timeout=60)
    created.raise_for_status()
    return str(created.json()["api_key"])


def api_key_of(server: EmbeddedLangflow) -> str:
    """A superuser API key for a server the project started."""
    return api_key_for(server.url, server.username, server.password)


def text_under(directory: Path) -> str:
    """Every file under a report directory, as text: what the secret searches read."""
    return "".join(p.read_text(errors="replace") for p in directory.rglob("*") if p.is_file())


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    api_key: str

    def secrets(self) -> dict[str, str]:
        return {"API key": self.api_key, "password": self.password}

    def options(self, fault: Fault | None) -> list[str]:
        return self.as_("api-key" if fault is not None and fault.run_with == "api-key" else "login")

    def as_(self, auth: str, token: str = "") -> list[str]:
        """The suite's options to authenticate by `login`, `api-key` or `token` (that Bearer token)."""
        return {
            "login": ["--username", self.username, f"--password={self.password}"],
            "api-key": ["--api-key", self.api_key],
            "token": ["--token", token],
        }[auth]


@dataclass
class Run:
    code: int
    outcomes: dict[str, str]  # requirement id -> outcome
    groups: dict[str, str]  # requirement id -> endpoint group
    messages: dict[str, str]  # requirement id -> failure message
    cleanup_failures: list[str]
    files_text: str  # every file the run wrote under its report directory
    output: str
    wall_s: float
    requests: int

    def unexplained(self, known: set[str]) -> set[str]:
        """Requirements that failed although no finding explains them."""
        return {r for r, o in self.outcomes.items() if o in ("fail", "error")} - known

    def unanswered(self, requirement: str) -> bool:
        """Its failure names a request the server left unanswered past the run's --timeout (httpx's
        ReadTimeout and the like; a generated request's "no answer: ReadTimeout"), or one not sent
        because earlier ones went unanswered."""
        message = self.messages.get(requirement, "")
        return "Timeout" in message or "went unanswered" in message

    def leaks(self, secrets: dict[str, str]) -> list[str]:
        """Secrets seen in stdout/stderr or any file under the report directory (junit.xml included):
        the given ones by value, and anything shaped like an API key or a JWT — what the server issued
        the run (login and refresh tokens, its own API key) — by shape."""
        text = self.output + self.files_text
        found = [name for name, value in secrets.items() if value and value in text]
        return found + [f"a {m[:6]}... shaped secret" for p in SHAPES for m in p.findall(text)]


def selection(fault: Fault) -> list[str]:
    """`-k`: the requirements of the fault's endpoints (their isolation ones among them), the isolation
    requirement of each kind one of them lists (`<group>.<kind>.isolation-list`), and the lifecycles
    and state machines of their groups (a delete that does not delete shows in the lifecycle, not in
    the delete's own example)."""
    groups = sorted({e.split(".")[0] for e in fault.endpoints})
    own = [f"[{e}." for e in fault.endpoints]
    kinds = ResourceKinds.load(contract_root() / "resources.yaml").kinds.values()
    lists = [
        f"[{alt['endpoint'].split('.')[0]}.{kind.name}.isolation-list]"
        for kind in kinds
        for alt in kind.alternatives("list")
        if alt["endpoint"] in fault.endpoints
    ]
    flows = [f"([{g}. and (lifecycle or stateful))" for g in groups]
    return ["-k", " or ".join(own + lists + flows)]


def _wait_until_answering(upstream: str, within_s: float = 120.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{upstream}/api/v1/version", timeout=10).status_code < 500:  # it answers
                return
        except httpx.HTTPError:
            pass
        time.sleep(2)


def run_suite_via(
    upstream: str,
    credentials: Credentials,
    fault: Fault | None,
    *args: str,
    release: str = "1.13.0",
    cwd: Path | None = None,
    auth: list[str] | None = None,
) -> Run:
    """Log in with username and password, so the login and Bearer requirements run too; the proxy
    holds the API key (auth-not-enforced adds it)."""
    with (
        tempfile.TemporaryDirectory(dir=cwd) as tmp,
        proxying(upstream, fault, credentials.api_key, release) as proxy,
    ):
        login = auth if auth is not None else credentials.options(fault)
        cmd = suite_command(tmp, "-q", "--server", proxy.url, *login, *args)
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, env=unset_settings(), timeout=900)
        if done.returncode == EXIT_TARGET and not list(Path(tmp).glob("*/report.json")):
            # 1.13.0 on SQLite sometimes stalls past the discovery's timeout (a lock a background job
            # holds, F35's kind): once it answers again, the run gets a second start.
            _wait_until_answering(upstream)
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, env=unset_settings(), timeout=900)
        reports = list(Path(tmp).glob("*/report.json"))
        output = done.stdout + done.stderr
        if not reports:
            raise AssertionError(f"the run wrote no report (exit {done.returncode}):\n{output[-3000:]}")
        report = json.loads(reports[0].read_text())
        files_text = text_under(Path(tmp))
    requirements = report["requirements"]
    return Run(
        code=done.returncode,
        outcomes={r["id"]: r["outcome"] for r in requirements},
        groups={r["id"]: r["group"] for r in requirements},
        messages={r["id"]: r.get("message", "") for r in requirements},
        cleanup_failures=report["cleanup_failures"],
        files_text=files_text,
        output=output,
        wall_s=report["duration_s"],
        requests=report["requests"],
    )


def detected(clean: Run, faulty: Run, fault: Fault) -> list[str]:
    """Requirements of the fault's groups that pass clean and fail (or error) with the fault."""
    groups = {e.split(".")[0] for e in fault.endpoints}
    return sorted(
        rid
        for rid, outcome in faulty.outcomes.items()
        if outcome in ("fail", "error") and clean.outcomes.get(rid) == "pass" and faulty.groups[rid] in groups
    )
