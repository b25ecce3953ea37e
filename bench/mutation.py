"""Our suite next to schemathesis on Langflow's own /openapi.json: cost, false alarms and mutation score.

    python bench/mutation.py [--faults ID,ID] [--out FILE]         (tox -e bench-mutation)
    python bench/mutation.py --server URL --username U --password P --api-key K [--examples 3]
    python bench/mutation.py --from-json FILE                      (a file with url, username, password, api_key)

Against a healthy Langflow: without --server an embedded 1.13.0 started here (login rate limit off, not
timed); with it, a running server that must not rate-limit logins. One run at a time:

1. our suite, the whole default suite, once through the fault proxy with no fault (tests/faults);
2. our suite once more straight at the server, for its client-side overhead: the report's duration_s
   over its server_seconds (the sum of response times) at one worker (through the proxy the proxy's
   own latency would count as server time);
3. schemathesis on <proxy>/openapi.json, all operations, all default checks and phases,
   --max-examples N (our suite's example budget), a fixed --seed, --request-timeout = our suite's
   --timeout, JUnit and HAR reports; its requests are counted at the proxy;
4. per contract fault (tests/faults/faults.yaml, or --faults): our suite restricted to the fault
   (selection()) through the faulted proxy, detected when detected() names a requirement; and
   schemathesis restricted with --include-name to the server operations of the fault's endpoints
   (catalog path templates matched to the document's by shape: placeholders and a trailing slash
   ignored), once through a clean proxy and once through the faulted one: detected when an operation
   (a JUnit test case) fails with the fault and not without it.

Schemathesis runs, by default, as a throwaway non-superuser account made for each run and deleted
afterwards with everything it owns (and any user it signed up): its stateful phase chains ids from
list answers into PATCH and DELETE, and with the superuser's key that reaches the superuser itself
and every resource on a server others use. --schemathesis-superuser runs it with the given key
instead (on a disposable server only). It also runs with --generation-with-security-parameters false:
Langflow reads an x-api-key query parameter before the header, and schemathesis' generated query keys
make requests that carry the right header answer 403 (--schemathesis-defaults keeps them).

Prints a Markdown table (metric | langflow-conformance | schemathesis) and one row per fault; --out
writes the same data as JSON. Needs the repository on sys.path (tests.faults); the script adds it."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from conformance.run.matrix import suite_command, unset_settings  # noqa: E402
from conformance.run.options import DEFAULT_EXAMPLES, DEFAULT_SEED  # noqa: E402
from conformance.target.provision import provision  # noqa: E402
from tests.faults.mutation import (  # noqa: E402
    FAULTS_SETTINGS,
    Credentials,
    Run,
    api_key_for,
    api_key_of,
    detected,
    run_suite_via,
    selection,
)
from tests.faults.proxy import Exchange, Fault, Router, load_faults, proxying  # noqa: E402
from tests.snapshot import wait_for_mcp_setup  # noqa: E402

SUITE_TIMEOUT_S = 30  # our suite's default --timeout per HTTP request; schemathesis gets the same
SUITE_RUN_LIMIT_S = 1800
SCHEMATHESIS_RUN_LIMIT_S = 7200
FAILED = ("fail", "error")
SUITE_PREFIX = "lfc-"  # names our suite gives what it creates (conformance/run/ledger.py): never ours to delete


@dataclass(frozen=True)
class Target:
    url: str
    username: str
    password: str
    api_key: str

    @property
    def credentials(self) -> Credentials:
        return Credentials(self.username, self.password, self.api_key)


# Our suite -----------------------------------------------------------------------------------------


@dataclass
class Ours:
    run: Run
    wall_s: float  # measured here, around run_suite_via (pytest start-up and proxy included)


def ours_via_proxy(target: Target, fault: Fault | None, extra: list[str], release: str) -> Ours:
    args = [*selection(fault), *extra] if fault is not None else extra
    started = time.monotonic()
    run = run_suite_via(target.url, target.credentials, fault, *args, release=release)
    return Ours(run, time.monotonic() - started)


def ours_overhead(target: Target, extra: list[str]) -> dict[str, Any]:
    """The default suite straight at the server, one worker: report duration over server time."""
    with tempfile.TemporaryDirectory() as tmp:
        login = ["--username", target.username, f"--password={target.password}"]
        cmd = suite_command(tmp, "-q", "--server", target.url, *login, *extra)
        env = unset_settings()
        started = time.monotonic()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, env=env, timeout=SUITE_RUN_LIMIT_S)
        wall = time.monotonic() - started
        reports = list(Path(tmp).glob("*/report.json"))
        if not reports:
            sys.exit(f"bench: the overhead run wrote no report (exit {done.returncode}):\n{done.stdout[-3000:]}")
        report = json.loads(reports[0].read_text())
    server = float(report["server_seconds"])
    return {
        "exit": done.returncode,
        "wall_s": round(wall, 2),
        "duration_s": report["duration_s"],
        "server_seconds": server,
        "requests": report["requests"],
        "workers": report.get("workers", 0),
        "overhead": round(report["duration_s"] / server, 3) if server else None,
        "overhead_process": round(wall / server, 3) if server else None,
        # server_seconds stops at the response headers: bodies and streams read afterwards count as client time
        "slowest_requirements": [
            [r["id"], r.get("duration_s", 0.0)]
            for r in sorted(report["requirements"], key=lambda r: -r.get("duration_s", 0.0))[:10]
        ],
    }


# Schemathesis ---------------------------------------------------------------------------------------


@dataclass
class SmRun:
    code: int
    wall_s: float
    requests: int  # through the proxy, the /openapi.json fetch included
    operations: list[str]  # --include-name values; empty: every operation
    tests: int = 0  # JUnit test cases
    failing: dict[str, list[str]] = field(default_factory=dict)  # test case -> failure codes / error titles
    statuses: dict[str, list[int]] = field(default_factory=dict)  # failing test case -> statuses in its failures
    server_errors: dict[str, list[str]] = field(default_factory=dict)  # failing test case -> 5xx answers (a few)
    problem: str = ""  # no JUnit report: why (the tail of schemathesis' output)
    summary: str = ""  # schemathesis' own SUMMARY section


def _shape(path: str) -> str:
    """A path template with its placeholders unnamed and no trailing slash, to match catalog and document."""
    return re.sub(r"\{[^}]+\}", "{}", path).rstrip("/") or "/"


def document_operations(url: str) -> dict[tuple[str, str], list[str]]:
    """(METHOD, shape) -> the labels ("METHOD /path") schemathesis gives the server's operations."""
    response = httpx.get(f"{url}/openapi.json", timeout=60)
    response.raise_for_status()
    index: dict[tuple[str, str], list[str]] = {}
    for path, item in response.json().get("paths", {}).items():
        for method in item:
            if method in ("get", "put", "post", "delete", "options", "head", "patch", "trace"):
                index.setdefault((method.upper(), _shape(path)), []).append(f"{method.upper()} {path}")
    return index


def fault_operations(fault: Fault, router: Router, index: dict[tuple[str, str], list[str]]) -> list[str]:
    labels: list[str] = []
    for eid in fault.endpoints:
        endpoint = router.by_id[eid]
        for path in (endpoint.path, *endpoint.aliases):
            labels += [label for label in index.get((endpoint.method, _shape(path)), []) if label not in labels]
    return labels


def _junit(
    directory: Path,
) -> tuple[int, dict[str, list[str]], dict[str, list[int]], dict[str, list[str]]] | None:
    """Test cases (one per operation, one "Stateful tests"); for each failing one (a <failure> or an
    <error>) its failure codes (message "ST103, ST205") and the statuses its reproductions show."""
    files = list(directory.glob("junit*.xml"))
    if not files:
        return None
    tests, failing, statuses, errors = 0, {}, {}, {}
    for case in ET.parse(files[0]).getroot().iter("testcase"):
        tests += 1
        problems = [el for el in case if el.tag in ("failure", "error")]
        if problems:
            name = str(case.get("name"))
            kinds = set()
            for el in problems:
                message = (el.get("message") or el.get("type") or el.tag).splitlines()[0]
                kinds |= {k.strip()[:80] for k in message.split(",")} if el.tag == "failure" else {message[:80]}
            failing[name] = sorted(kinds)
            text = "\n".join(el.text or "" for el in problems)
            statuses[name] = sorted({int(code) for code in re.findall(r"^\[(\d{3})\] ", text, re.MULTILINE)})
            answers = re.findall(r"^(\[5\d\d\] [^\n]*)\n\s*\n\s*(\S[^\n]*)", text, re.MULTILINE)
            if answers:
                errors[name] = sorted({f"{head} {body.strip()}"[:160] for head, body in answers})[:3]
    return tests, failing, statuses, errors


def _signed_up_users(directory: Path) -> list[str]:
    """Ids of the users schemathesis created through POST /api/v1/users/ (unauthenticated sign-up)."""
    ids = []
    for har in directory.glob("har*.json"):
        for entry in json.loads(har.read_text()).get("log", {}).get("entries", []):
            request, response = entry.get("request", {}), entry.get("response", {})
            path = urlsplit(request.get("url", "")).path.rstrip("/")
            if request.get("method") == "POST" and path == "/api/v1/users" and 200 <= response.get("status", 0) < 300:
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    user_id = json.loads(response.get("content", {}).get("text", ""))["id"]
                    ids.append(str(user_id))
    return ids


@dataclass(frozen=True)
class SmConfig:
    examples: int
    seed: int
    release: str
    superuser: bool  # run as the given key, not a throwaway account
    options: tuple[str, ...]  # more `schemathesis run` options


# Langflow reads an x-api-key query parameter before the header: schemathesis' generated values for the
# documented "API key query" scheme turn requests that carry the right header into 403s ("Authentication
# failed: N operations returned only 401/403 responses"). Its own remedy, unless --schemathesis-defaults.
NO_GENERATED_KEYS = ("--generation-with-security-parameters", "false")


def run_schemathesis(
    target: Target, account: Account, fault: Fault | None, operations: list[str], config: SmConfig
) -> SmRun:
    requests = 0

    def count(ex: Exchange) -> None:
        nonlocal requests
        requests += 1

    with (
        tempfile.TemporaryDirectory() as tmp,
        proxying(target.url, fault, account.api_key, config.release, on_request=count) as proxy,
    ):
        reports = Path(tmp) / "reports"
        cmd = [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{proxy.url}/openapi.json",
            "--max-examples",
            str(config.examples),
            "--seed",
            str(config.seed),
            "-H",
            f"x-api-key: {account.api_key}",
            "--request-timeout",
            str(SUITE_TIMEOUT_S),
            "--report",
            "junit,har",
            "--report-dir",
            str(reports),
            "--no-color",
            *config.options,
        ]
        for label in operations:  # one filter each, ORed; --include-path with --include-method is ORed too
            cmd += ["--include-name", label]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEMATHESIS_")}
        started = time.monotonic()
        try:  # cwd: no schemathesis.toml, and its example database goes with the temporary directory
            done = subprocess.run(
                cmd, capture_output=True, text=True, cwd=tmp, env=env, timeout=SCHEMATHESIS_RUN_LIMIT_S
            )
            code, output = done.returncode, done.stdout + done.stderr
        except subprocess.TimeoutExpired as exc:
            code, output = -1, f"schemathesis ran over {SCHEMATHESIS_RUN_LIMIT_S} s: {exc}"
        wall = time.monotonic() - started
        result = SmRun(code, round(wall, 2), requests, operations)
        lines = [line for line in output.splitlines() if line.strip()]
        start = next((i for i, line in enumerate(lines) if " SUMMARY " in line), max(0, len(lines) - 8))
        result.summary = "\n".join(lines[start:])
        junit = _junit(reports)
        if junit is None:
            result.problem = output[-2000:]
        else:
            result.tests, result.failing, result.statuses, result.server_errors = junit
        account.signed_up += _signed_up_users(reports)
    return result


# The account schemathesis runs as -------------------------------------------------------------------


@dataclass
class Account:
    api_key: str
    user_id: str | None = None  # None: the given superuser key, nothing to delete
    signed_up: list[str] = field(default_factory=list)


def _items(body: Any) -> list[Any]:
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        return next((v for v in body.values() if isinstance(v, list)), [])
    return []


@contextlib.contextmanager
def sandbox(target: Target, superuser: bool) -> Iterator[Account]:
    """A fresh non-superuser with an API key of its own; afterwards everything it owns is deleted, then
    the user, then the users it signed up. With `superuser`: the given key, nothing made or deleted."""
    admin = httpx.Client(base_url=target.url, headers={"x-api-key": target.api_key}, timeout=60)
    if superuser:
        given = Account(target.api_key)
        try:
            yield given
        finally:
            _delete_users(admin, given.signed_up)
            admin.close()
        return
    name, password = f"lfcbench-{secrets.token_hex(4)}", secrets.token_urlsafe(18) + "aA1!"
    created = admin.post("/api/v1/users/", json={"username": name, "password": password})
    created.raise_for_status()
    user_id = str(created.json()["id"])
    account: Account | None = None
    try:
        admin.patch(f"/api/v1/users/{user_id}", json={"is_active": True}).raise_for_status()
        account = Account(api_key_for(target.url, name, password, key_name="lfc-bench"), user_id)
        yield account
    finally:
        _delete_account(admin, target, user_id, account)
        admin.close()


def _delete_account(admin: httpx.Client, target: Target, user_id: str, account: Account | None) -> None:
    """Best effort through the account's own key (what it made may have any name), then the users."""
    try:
        # Its stateful phase may have deactivated the account (PATCH /users/{own id}): active again to clean up.
        admin.patch(f"/api/v1/users/{user_id}", json={"is_active": True})
        if account is not None:
            _delete_owned(target, user_id, account.api_key)
    except Exception as exc:  # the users are deleted whatever happened here
        progress(f"cleaning up the throwaway account: {type(exc).__name__}: {exc}")
    _delete_users(admin, [user_id, *(account.signed_up if account else [])])


def _delete_owned(target: Target, user_id: str, api_key: str) -> None:
    with httpx.Client(base_url=target.url, headers={"x-api-key": api_key}, timeout=60) as own:

        def delete(*parts: Any) -> None:
            path = "/".join(quote(str(part), safe="") for part in parts)
            with contextlib.suppress(Exception):  # what stays (its default project) goes with the user
                own.delete("/" + path)

        def listed(path: str, **params: Any) -> list[dict[str, Any]]:
            with contextlib.suppress(Exception):
                response = own.get(path, params=params)
                if response.status_code == 200:
                    return [item for item in _items(response.json()) if isinstance(item, dict)]
            return []

        for flow in listed("/api/v1/flows/", get_all=True, remove_example_flows=True):
            if flow.get("user_id") == user_id and "id" in flow:
                delete("api", "v1", "flows", flow["id"])
        for kind in ("projects", "variables"):
            for item in listed(f"/api/v1/{kind}/"):
                if item.get("is_owner", True) and "id" in item:
                    delete("api", "v1", kind, item["id"])
        for item in listed("/api/v1/connections"):
            if "id" in item:
                delete("api", "v1", "connections", item["id"])
        for item in listed("/api/v2/mcp/servers"):  # names as generated: control characters and all
            if "name" in item:
                delete("api", "v2", "mcp", "servers", item["name"])
        delete("api", "v2", "files")  # every file of this account


def _delete_users(admin: httpx.Client, users: list[str]) -> None:
    """Never a superuser, never one of our suite's users; 1.13.0 deletes in the background (202)."""
    doomed = []
    for uid in users:
        try:
            response = admin.get(f"/api/v1/users/{quote(uid, safe='')}")
            if response.status_code != 200:
                continue
            user = response.json()
            if user.get("is_superuser") or str(user.get("username", "")).startswith(SUITE_PREFIX):
                continue
            admin.delete(f"/api/v1/users/{quote(uid, safe='')}")
            doomed.append(uid)
        except Exception as exc:
            progress(f"could not delete user {uid}: {type(exc).__name__}: {exc}")
    deadline = time.monotonic() + 60
    while doomed and time.monotonic() < deadline:
        doomed = [uid for uid in doomed if admin.get(f"/api/v1/users/{quote(uid, safe='')}").status_code == 200]
        if doomed:
            time.sleep(1)
    if doomed:
        progress(f"users still there a minute after their deletion: {', '.join(doomed)}")


def schemathesis_in_sandbox(target: Target, fault: Fault | None, operations: list[str], config: SmConfig) -> SmRun:
    with sandbox(target, config.superuser) as account:
        return run_schemathesis(target, account, fault, operations, config)


# Report ------------------------------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _share(hits: int, total: int) -> str:
    return f"{hits}/{total} ({100 * hits / total:.0f} %)" if total else "n/a"


def render(data: dict[str, Any]) -> str:
    ours, sm, faults = data["ours"], data["schemathesis"], data["faults"]
    over = data["ours_overhead"]
    baseline_note = f" ({ours['clean_failures_in_baseline']} written up in ci/baseline.yaml)"
    ours_hits = sum(bool(f["ours_detected_by"]) for f in faults)
    sm_hits = sum(f["schemathesis_detected"] for f in faults)
    sm_fine = sum(bool(f["schemathesis_new_failures"]) for f in faults)
    unreachable = sum(not f["schemathesis_operations"] for f in faults)
    statuses = sm["clean"]["statuses"]
    auth_only = sum(bool(v) and set(v) <= {401, 403} for v in statuses.values())
    tally = Counter(code for kinds in sm["clean"]["failing"].values() for code in kinds)
    codes = ", ".join(f"{code} {n}" for code, n in tally.most_common())
    rows = [
        ["clean run: wall time", f"{ours['clean_wall_s']:.1f} s", f"{sm['clean']['wall_s']:.1f} s"],
        ["clean run: requests", str(ours["clean_requests"]), f"{sm['clean']['requests']} (counted at the proxy)"],
        [
            "clean run: failures (false alarms unless written up)",
            f"{len(ours['clean_failures'])} requirements{baseline_note}",
            f"{len(sm['clean']['failing'])} of {sm['clean']['tests']} JUnit test cases (one per operation and "
            f"one for the stateful phase); {auth_only} of them show only 401/403 answers",
        ],
        ["  schemathesis failure codes in the clean run (test cases)", "", codes or "-"],
        [
            "mutation score, contract faults",
            _share(ours_hits, len(faults)),
            _share(sm_hits, len(faults)) + " (an operation failing with the fault, not without)",
        ],
        ["  faults on endpoints absent from /openapi.json", "n/a", str(unreachable)],
        ["  score counting a new failure code on an already failing operation", "n/a", _share(sm_fine, len(faults))],
        [
            "client overhead at 1 worker (duration_s / server_seconds)",
            f"{over['overhead']} ({over['duration_s']:.1f} s / {over['server_seconds']:.1f} s; "
            f"whole process {over['overhead_process']}) goal <= 1.15",
            "n/a",
        ],
    ]
    fault_rows = [
        [
            f["id"],
            f["group"],
            ", ".join(f["ours_detected_by"][:2]) or "MISSED",
            ("yes" if f["schemathesis_detected"] else "no")
            + ("" if f["schemathesis_operations"] else " (not in /openapi.json)"),
            "; ".join(f"{op}: {', '.join(kinds)}" for op, kinds in f["schemathesis_new_failures"].items()) or "-",
            f"{f['ours_wall_s']:.1f}",
            "-" if f["schemathesis_clean"] is None else f"{f['schemathesis_clean']['wall_s']:.1f}",
            "-" if f["schemathesis_fault"] is None else f"{f['schemathesis_fault']['wall_s']:.1f}",
        ]
        for f in faults
    ]
    return "\n\n".join(
        [
            f"# langflow-conformance vs schemathesis on Langflow {data['release']} at {data['server']}",
            f"Examples per operation / requirement: {data['examples']}; seed {data['seed']}; schemathesis "
            f"{data['schemathesis_version']} as {sm['account']}, extra options: {' '.join(sm['options']) or 'none'}; "
            "schemathesis per fault: a clean and a faulted run, both restricted to the fault's operations "
            "(not derived from the full clean run).",
            _table(["metric", "langflow-conformance", "schemathesis"], rows),
            _table(
                [
                    "fault",
                    "group",
                    "ours: detected by (first 2)",
                    "schemathesis detected",
                    "schemathesis: failures new with the fault",
                    "ours s",
                    "sm clean s",
                    "sm fault s",
                ],
                fault_rows,
            ),
            f"Total {data['total_s']:.0f} s.",
        ]
    )


# Main ----------------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", help="URL of a running Langflow")
    parser.add_argument("--username")
    parser.add_argument("--password")
    parser.add_argument("--api-key", help="the superuser's API key")
    parser.add_argument("--from-json", type=Path, help="a file with url, username, password, api_key")
    parser.add_argument("--release", default="1.13.0", help="the server's release (the proxy's catalog)")
    parser.add_argument("--faults", help="comma-separated contract fault ids (default: every contract fault)")
    parser.add_argument("--examples", type=int, default=int(DEFAULT_EXAMPLES), help="examples per requirement/op")
    parser.add_argument("--seed", type=int, default=int(DEFAULT_SEED), help="schemathesis --seed")
    parser.add_argument(
        "--schemathesis-superuser",
        action="store_true",
        help="run schemathesis with the given key, not a throwaway account (disposable servers only)",
    )
    parser.add_argument(
        "--schemathesis-defaults",
        action="store_true",
        help="let schemathesis generate x-api-key query values too (its default; Langflow then answers 403)",
    )
    parser.add_argument("--out", type=Path, help="write the data as JSON here")
    return parser.parse_args()


def target_from(args: argparse.Namespace) -> Target:
    given: dict[str, Any] = json.loads(args.from_json.read_text()) if args.from_json else {}
    values = {
        "url": args.server or given.get("url"),
        "username": args.username or given.get("username"),
        "password": args.password or given.get("password"),
        "api_key": args.api_key or given.get("api_key"),
    }
    missing = [k for k, v in values.items() if not v]
    if missing:
        sys.exit(f"bench: missing {', '.join(missing)} (--server/--username/--password/--api-key or --from-json)")
    return Target(str(values["url"]).rstrip("/"), *(str(values[k]) for k in ("username", "password", "api_key")))


def chosen_faults(ids: str | None) -> list[Fault]:
    contract = [f for f in load_faults() if f.kind == "contract"]
    if not ids:
        return contract
    by_id = {f.id: f for f in contract}
    wanted = [i.strip() for i in ids.split(",") if i.strip()]
    unknown = [i for i in wanted if i not in by_id]
    if unknown:
        sys.exit(f"bench: not contract faults: {', '.join(unknown)} (see tests/faults/faults.yaml)")
    return [by_id[i] for i in wanted]


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def main() -> None:
    args = parse_args()
    if args.server or args.from_json:
        bench(args, target_from(args))
        return
    progress(f"no --server: starting an embedded Langflow {args.release} (not timed)")
    embedded = provision(args.release, settings=FAULTS_SETTINGS)
    try:
        key = api_key_of(embedded)
        wait_for_mcp_setup(embedded.url, key)
        bench(args, Target(embedded.url, embedded.username, embedded.password, key))
    finally:
        embedded.stop()


def bench(args: argparse.Namespace, target: Target) -> None:
    faults = chosen_faults(args.faults)
    extra = [] if args.examples == int(DEFAULT_EXAMPLES) else ["--examples", str(args.examples)]
    router = Router(args.release)
    index = document_operations(target.url)
    started = time.monotonic()

    options = () if args.schemathesis_defaults else NO_GENERATED_KEYS
    config = SmConfig(args.examples, args.seed, args.release, args.schemathesis_superuser, options)

    def sm(fault: Fault | None, operations: list[str]) -> SmRun:
        return schemathesis_in_sandbox(target, fault, operations, config)

    progress("our suite, clean, through the proxy")
    clean = ours_via_proxy(target, None, extra, args.release)
    progress(f"  {clean.wall_s:.1f} s, {clean.run.requests} requests, exit {clean.run.code}")
    if clean.run.code not in (0, 1):
        sys.exit(f"bench: the clean run ended with exit {clean.run.code}:\n{clean.run.output[-3000:]}")
    progress("our suite, clean, straight at the server (overhead)")
    overhead = ours_overhead(target, extra)
    progress(f"  {overhead['wall_s']:.1f} s, overhead {overhead['overhead']}")
    progress("schemathesis, clean, every operation")
    sm_clean = sm(None, [])
    progress(f"  {sm_clean.wall_s:.1f} s, {sm_clean.requests} requests, exit {sm_clean.code}")
    if sm_clean.problem:
        sys.exit(f"bench: schemathesis wrote no JUnit report (exit {sm_clean.code}):\n{sm_clean.problem}")

    rows = []
    for fault in faults:
        progress(f"fault {fault.id}: our suite")
        ours = ours_via_proxy(target, fault, extra, args.release)
        found = detected(clean.run, ours.run, fault)
        operations = fault_operations(fault, router, index)
        sm_base = sm_fault = None
        new_ops: list[str] = []
        new_kinds: dict[str, list[str]] = {}
        if operations:
            progress(f"fault {fault.id}: schemathesis on {', '.join(operations)}, clean then faulted")
            sm_base, sm_fault = sm(None, operations), sm(fault, operations)
            new_ops = sorted(set(sm_fault.failing) - set(sm_base.failing))
            for op, kinds in sm_fault.failing.items():
                added = sorted(set(kinds) - set(sm_base.failing.get(op, [])))
                if added:
                    new_kinds[op] = added
        progress(
            f"  ours {'detected' if found else 'MISSED'} ({ours.wall_s:.1f} s); schemathesis "
            + (
                f"{'detected' if new_ops else 'missed'} ({sm_base.wall_s:.1f} s + {sm_fault.wall_s:.1f} s)"
                if sm_base and sm_fault
                else "has no operation for it"
            )
        )
        rows.append(
            {
                "id": fault.id,
                "group": fault.group,
                "what": fault.what,
                "endpoints": list(fault.endpoints),
                "ours_detected_by": found,
                "ours_wall_s": round(ours.wall_s, 2),
                "ours_requests": ours.run.requests,
                "ours_cleanup_failures": ours.run.cleanup_failures,
                "schemathesis_operations": operations,
                "schemathesis_detected": bool(new_ops),
                "schemathesis_new_failing_operations": new_ops,
                "schemathesis_new_failures": new_kinds,
                "schemathesis_clean": asdict(sm_base) if sm_base else None,
                "schemathesis_fault": asdict(sm_fault) if sm_fault else None,
            }
        )

    known: set[str] = set()
    baseline = REPO / "ci" / "baseline.yaml"
    if baseline.exists():
        known = {e["id"] for e in (yaml.safe_load(baseline.read_text()) or {}).get("entries", [])}
    clean_failures = sorted(r for r, o in clean.run.outcomes.items() if o in FAILED)
    data = {
        "server": target.url,
        "release": args.release,
        "examples": args.examples,
        "seed": args.seed,
        "schemathesis_version": version("schemathesis"),
        "ours": {
            "clean_wall_s": round(clean.wall_s, 2),
            "clean_report_duration_s": clean.run.wall_s,
            "clean_requests": clean.run.requests,
            "clean_exit": clean.run.code,
            "clean_failures": clean_failures,
            "clean_failures_in_baseline": sum(r in known for r in clean_failures),
            "clean_cleanup_failures": clean.run.cleanup_failures,
        },
        "ours_overhead": overhead,
        "schemathesis": {
            "account": "the given key (superuser)" if args.schemathesis_superuser else "a throwaway non-superuser",
            "options": list(options),
            "clean": asdict(sm_clean),
        },
        "faults": rows,
        "total_s": round(time.monotonic() - started, 1),
    }
    print(render(data))
    if args.out:
        args.out.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
