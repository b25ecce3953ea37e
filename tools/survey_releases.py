"""Survey real Langflow releases: which documented endpoints each one serves, and what stops it starting.

For each release named on the command line, one at a time: install it (the embedded default's cached
virtualenv, dependencies as of its release date), start it with the embedded default's settings
(EMBEDDED_SETTINGS); when that start fails, keep its log, read the exception line, and start again with
each optional setting left out in turn, then with Langflow's defaults, to name the setting to blame.
On the first server that starts: read /api/v1/version, /health_check, an anonymous whoami, /api/v1/config
and /openapi.json, then decide for every catalog entry (all files, all editions) whether the release
serves it: listed in its OpenAPI document, or else answered by a route to the drift probe's harmless
request (conformance.requirements.drift). The documented endpoints the catalog lacks (section 2 of the docs survey,
marked **no**) are looked up in the OpenAPI document only. Writes docs/evidence/releases/<release>.yaml.

Run from the repository root (so that this worktree's conformance package and schemas are used):

    python -m tools.survey_releases 1.13.0 1.12.8 [...]        # survey, one YAML file per release
    python -m tools.survey_releases --summary 1.13.0 1.12.8    # print the tables from the YAML files

Starts real servers (30-90 s each, one at a time) and never leaves one running.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from packaging.version import Version

from conformance.contract import load_contract
from conformance.contract.catalog import build_endpoint
from conformance.errors import ProvisionError
from conformance.requirements.drift import OPENAPI_PATH, ServerDocument, probe, probe_request, shape
from conformance.target.install import (
    EXCLUDE_NEWER_AFTER_RELEASE,
    cache_dir,
    ensure_installed,
    release_date,
    uv_command,
)
from conformance.target.provision import EMBEDDED_SETTINGS, EmbeddedLangflow, StartFailed, provision
from tests.faults.mutation import api_key_for

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "evidence" / "releases"
DOCS_SURVEY = ROOT.parent / "shared" / "reference" / "langflow-docs-current.md"
UNKNOWN_ID = "00000000-0000-4000-8000-00000000d1f7"
DEFAULTS_WITH_LOGIN = {"LANGFLOW_AUTO_LOGIN": "false", "DO_NOT_TRACK": "true"}
# Each left out in turn when the embedded settings do not start a release: all but the login and telemetry.
OPTIONAL = tuple(name for name in EMBEDDED_SETTINGS if name not in DEFAULTS_WITH_LOGIN)
# Releases whose dependencies do not resolve as of their date, and the packages let through to a later
# date. 1.0.19.post2 needs litellm>=1.44, but PyPI no longer has litellm 1.14.5-1.53.0; 1.53.1 (2024-11-28)
# needs openai>=1.54. Today's dependencies (ensure_installed's fallback) do not start it.
ERA_OVERRIDES = {"1.0.19.post2": {"litellm": "2024-11-29T00:00:00Z", "openai": "2024-11-29T00:00:00Z"}}
SURVEY_CACHE = Path.home() / ".cache" / "langflow-conformance-survey"
CONFIG_VALUES = ("event_delivery", "webhook_auth_enable", "voice_mode_available")
_ROW = re.compile(r"^\|\s*\d+\s*\|\s*([A-Z]+)\s*\|\s*`([^`]+)`\s*\|\s*\*\*no\*\*")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_BOX = set("│╭╮╰╯─┃┏┓┗┛━═║╔╗╚╝┌┐└┘├┤┬┴┼ ")
_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)|[A-Za-z_][\w.]*\.[A-Z]\w*)(:\s|$)")


def say(message: str) -> None:
    print(f"survey: {message}", file=sys.stderr, flush=True)


# Start, and when it fails, find out why -------------------------------------------------------------


def meaningful_lines(log: str) -> list[str]:
    """The log without ANSI colours, blank lines and rich's traceback box drawing."""
    out = []
    for line in _ANSI.sub("", log).splitlines():
        text = line.strip()
        if text and not set(text) <= _BOX and text[0] not in _BOX and text[-1] not in "│┃║":
            out.append(text)
    return out


def cause_of(log: str) -> dict[str, list[str]]:
    """The exception lines (Python's `Name: message`) and the last few meaningful lines of a failed start."""
    lines = meaningful_lines(log)
    exceptions = [line for line in lines if _EXCEPTION.match(line)]
    return {"exception_lines": list(dict.fromkeys(exceptions))[-4:], "last_lines": lines[-8:]}


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    return text


def attempt(release: str, label: str, settings: dict[str, str]) -> tuple[EmbeddedLangflow | None, dict[str, Any]]:
    """One start. A failed one is described by provision's cause line and the log's exception lines
    (provision keeps the log under its cache and names it in the message)."""
    started = time.monotonic()
    try:
        server = provision(release, progress=say, settings=settings)
    except ProvisionError as exc:
        record: dict[str, Any] = {"settings": label, "started": False, "seconds": round(time.monotonic() - started, 1)}
        record["error"] = str(exc)[:400]
        if isinstance(exc, StartFailed):
            record["cause"] = exc.cause
        found = re.search(r"log kept at (\S+\.log)", str(exc))
        if found and Path(found.group(1)).is_file():
            log = Path(found.group(1))
            record.update(cause_of(log.read_text(errors="replace")), log=str(log))
        return None, record
    return server, {"settings": label, "started": True, "seconds": round(time.monotonic() - started, 1)}


def candidates() -> list[tuple[str, dict[str, str]]]:
    """The embedded settings, then each optional one left out in turn, then Langflow's defaults (plus login)."""
    out = [("embedded", dict(EMBEDDED_SETTINGS))]
    for name in OPTIONAL:
        out.append((f"embedded without {name}", {k: v for k, v in EMBEDDED_SETTINGS.items() if k != name}))
    out.append(("defaults (LANGFLOW_AUTO_LOGIN=false, DO_NOT_TRACK=true)", dict(DEFAULTS_WITH_LOGIN)))
    return out


def stop(server: EmbeddedLangflow) -> None:
    server.stop()


# Reading a started server ---------------------------------------------------------------------------


def body_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:300]


def documented_not_in_catalog() -> list[tuple[str, str]]:
    """(METHOD, path) of every row of the docs survey's section 2 marked **no**."""
    text = DOCS_SURVEY.read_text()
    body = text.split("## 2.", 1)[1].split("\n## 3.", 1)[0]
    return [(m.group(1), m.group(2)) for line in body.splitlines() if (m := _ROW.match(line))]


def catching_route(described: str, document: ServerDocument | None) -> str | None:
    """The listed operation whose path template also matches the probe's last request, if any: its
    answer then says nothing about the probed route (1.2.0: DELETE /api/v2/files/batch is caught by
    DELETE /api/v2/files/{file_id}, which refuses "batch" as a UUID with 422)."""
    last = described.split("; ")[-1]
    method, rest = last.split(" ", 1)
    path = rest.split(" -> ", 1)[0]
    for (listed_method, _), (template, _) in (document.operations if document else {}).items():
        pattern = "^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(template)) + "$"
        if listed_method == method and re.match(pattern, path):
            return f"{listed_method} {template}"
    return None


def served_catalog(client: httpx.Client, document: ServerDocument | None) -> dict[str, dict[str, Any]]:
    served: dict[str, dict[str, Any]] = {}
    for group, raw, _ in load_contract().catalog.entries:
        endpoint = build_endpoint(group, raw)
        if endpoint.method == "WS":
            served[endpoint.id] = {"served": None, "how": "ws: not probed"}
            continue
        if document is not None and document.lists(endpoint):
            served[endpoint.id] = {"served": True, "how": "listed"}
            continue
        request = probe_request(endpoint, UNKNOWN_ID)
        if request is None:
            served[endpoint.id] = {"served": None, "how": "not probed: no request that cannot change data"}
            continue
        try:
            found = probe(client, request)
        except httpx.HTTPError as exc:
            served[endpoint.id] = {"served": None, "how": f"probe failed: {type(exc).__name__}: {exc}"}
            continue
        other = catching_route(found.described, document) if found.served else None
        if other:
            served[endpoint.id] = {"served": False, "how": f"{found.described}: answered by the listed {other}"}
            continue
        served[endpoint.id] = {"served": found.served, "how": found.described}
    return served


def survey_server(server: EmbeddedLangflow, record: dict[str, Any]) -> None:
    anonymous = httpx.Client(base_url=server.url, timeout=60)
    version = anonymous.get("/api/v1/version")
    health = anonymous.get("/health_check")
    whoami = anonymous.get("/api/v1/users/whoami")
    key = api_key_for(server.url, server.username, server.password, key_name="lfc-survey")
    client = httpx.Client(base_url=server.url, timeout=60, headers={"x-api-key": key})
    secrets = [key, server.password]
    try:
        config = client.get("/api/v1/config")
        config_body = body_of(config)
        openapi = client.get(OPENAPI_PATH)
        document = ServerDocument(openapi.json()) if openapi.status_code == 200 else None
        operations = sorted(f"{m} {path}" for (m, _), (path, _) in (document.operations if document else {}).items())
        listed = {(m, shape(p).rstrip("/")) for m, p in (o.split(" ", 1) for o in operations)}
        record.update(
            version={"status": version.status_code, "body": body_of(version)},
            health_check={"status": health.status_code, "body": body_of(health)},
            anonymous_whoami={"status": whoami.status_code, "refused": whoami.status_code in (401, 403)},
            config={
                "status": config.status_code,
                "keys": sorted(config_body) if isinstance(config_body, dict) else None,
                "values": {k: config_body.get(k, "(absent)") for k in CONFIG_VALUES}
                if isinstance(config_body, dict)
                else None,
            },
            openapi={"status": openapi.status_code, "operation_count": len(operations), "operations": operations},
            served=served_catalog(client, document),
            new_documented={f"{m} {p}": (m, shape(p).rstrip("/")) in listed for m, p in documented_not_in_catalog()},
        )
    finally:
        client.close()
        anonymous.close()
    text = redact(json.dumps(record), secrets)  # nothing the server echoed may carry a credential into git
    record.clear()
    record.update(json.loads(text))


# One release ----------------------------------------------------------------------------------------


def install(release: str) -> dict[str, Any]:
    started = time.monotonic()
    venv = ensure_installed(release, progress=say)
    marker = json.loads((venv / ".complete").read_text())
    python = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    exclude_newer = str(marker.get("exclude_newer"))
    return {
        "python": python,
        "install": {
            "seconds": marker.get("seconds"),  # measured by ensure_installed when it installed the release
            "seconds_this_run": round(time.monotonic() - started, 1),  # ~0 when the cache had it
            "installed_at": marker.get("installed_at"),
            "exclude_newer": exclude_newer,
            "fell_back_to_todays_dependencies": exclude_newer.startswith("none"),
        },
    }


def start_and_survey(release: str, record: dict[str, Any]) -> list[dict[str, Any]]:
    """Start with each candidate until the embedded settings work, or every optional setting has been
    left out once (then Langflow's defaults, unless leaving one out was enough); survey the first server."""
    attempts: list[dict[str, Any]] = []
    surveyed = False
    for label, settings in candidates():
        if attempts and attempts[0]["started"]:
            break  # the embedded settings work: nothing to find out
        if label.startswith("defaults") and any(a["started"] for a in attempts[1:]):
            break  # leaving one setting out was enough: it is the one to blame
        say(f"{release}: starting with {label}")
        server, outcome = attempt(release, label, settings)
        attempts.append(outcome)
        if server is None:
            continue
        try:
            if not surveyed:
                outcome["settings_used"] = settings
                surveyed = True
                try:
                    survey_server(server, record)
                except (httpx.HTTPError, ValueError, KeyError) as exc:
                    record["survey_error"] = f"{type(exc).__name__}: {exc}"[:400]
        finally:
            stop(server)
    return attempts


def install_with_overrides(release: str) -> dict[str, Any]:
    """The release's dependencies as of its date, but for the packages in ERA_OVERRIDES, in the survey's own
    cache (the shared one keeps what ensure_installed made). Used when ensure_installed fell back to
    today's dependencies and the release cannot start on them."""
    venv = SURVEY_CACHE / "venvs" / release
    cutoff = (release_date(release) + EXCLUDE_NEWER_AFTER_RELEASE).strftime("%Y-%m-%dT%H:%M:%SZ")
    overrides = [f"{name}={date}" for name, date in ERA_OVERRIDES[release].items()]
    args = ["pip", "install", "-p", str(venv / "bin" / "python"), f"langflow=={release}", "--exclude-newer", cutoff]
    args += [arg for override in overrides for arg in ("--exclude-newer-package", override)]
    marker = venv / ".complete"
    if not marker.is_file():
        say(f"{release}: installing with dependencies as of {cutoff}, except {', '.join(overrides)}")
        started = time.monotonic()
        shutil.rmtree(venv, ignore_errors=True)
        uv = uv_command(say)
        subprocess.run([*uv, "venv", "-q", "-p", sys.executable, str(venv)], check=True)
        done = subprocess.run([*uv, *args], capture_output=True, text=True)
        if done.returncode != 0:
            return {"command": "uv " + " ".join(args), "failed": done.stderr.strip().splitlines()[-3:]}
        exclude_newer = f"{cutoff}, except {', '.join(overrides)}"
        seconds = round(time.monotonic() - started, 1)
        marker.write_text(json.dumps({"seconds": seconds, "exclude_newer": exclude_newer}))
    return {"command": "uv " + " ".join(args), **json.loads(marker.read_text()), "cache": str(SURVEY_CACHE)}


def survey(release: str) -> dict[str, Any]:
    record: dict[str, Any] = {"release": release, "surveyed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    try:
        record.update(install(release))
    except ProvisionError as exc:
        record["install"] = {"failed": str(exc)}
        return record
    attempts = start_and_survey(release, record)
    start: dict[str, Any] = {}
    if (
        not any(a["started"] for a in attempts)
        and record["install"]["fell_back_to_todays_dependencies"]
        and release in ERA_OVERRIDES
    ):
        workaround = install_with_overrides(release)
        start.update(attempts_on_todays_dependencies=attempts, workaround=workaround)
        if "failed" not in workaround:
            os.environ["LANGFLOW_CONFORMANCE_CACHE"] = workaround["cache"]
            try:
                attempts = start_and_survey(release, record)
            finally:
                os.environ.pop("LANGFLOW_CONFORMANCE_CACHE")
    embedded_failed = not attempts[0]["started"]
    record["start"] = {
        "started_with": next((a["settings"] for a in attempts if a["started"]), None),
        "seconds": next((a["seconds"] for a in attempts if a["started"]), None),
        "to_blame": [a["settings"].removeprefix("embedded without ") for a in attempts[1:] if a["started"]]
        if embedded_failed
        else [],
        **start,
        "attempts": attempts,
    }
    # surveyed/attempt results first, then the long lists, for a reader of the file
    order = ["release", "surveyed_at", "python", "install", "start", "version", "health_check", "anonymous_whoami"]
    order += ["config", "survey_error", "openapi", "served", "new_documented"]
    return {k: record[k] for k in order if k in record}


# Summary --------------------------------------------------------------------------------------------


def summary(releases: list[str]) -> str:
    records = [yaml.safe_load((OUT / f"{r}.yaml").read_text()) for r in releases if (OUT / f"{r}.yaml").is_file()]
    records.sort(key=lambda r: Version(r["release"]))
    lines = [
        "| release | python | installed s | fallback | started with | start s | openapi ops | served | not served |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        served = r.get("served") or {}
        yes = sum(1 for v in served.values() if v["served"] is True)
        no = sum(1 for v in served.values() if v["served"] is False)
        inst, start = r.get("install", {}), r.get("start", {})
        lines.append(
            f"| {r['release']} | {r.get('python', '')} | {inst.get('seconds')} | "
            f"{'yes' if inst.get('fell_back_to_todays_dependencies') else 'no'} | {start.get('started_with')} | "
            f"{start.get('seconds')} | {(r.get('openapi') or {}).get('operation_count')} | {yes} | {no} |"
        )
    lines.append("\nStart failures:")
    for r in records:
        start = r.get("start") or {}
        for phase in ("attempts_on_todays_dependencies", "attempts"):
            where = " on today's dependencies" if phase != "attempts" else ""
            for a in start.get(phase, []):
                if not a["started"]:
                    cause = a.get("exception_lines") or a.get("last_lines", [])[-2:] or [a["error"]]
                    said = f"- {r['release']}{where} with {a['settings']} ({a['seconds']} s)"
                    lines.append(f"{said}: {' / '.join(cause)}")
    ids = list(dict.fromkeys(i for r in records for i in (r.get("served") or {})))
    by_all, ranges, regressions = [], [], []
    for endpoint_id in ids:
        marks = [((r.get("served") or {}).get(endpoint_id) or {}).get("served") for r in records]
        where = [r["release"] for r, m in zip(records, marks, strict=True) if m is True]
        if all(m is True for m in marks):
            by_all.append(endpoint_id)
            continue
        span = f"{where[0]} .. {where[-1]}" if where else "none"
        unknown = [r["release"] for r, m in zip(records, marks, strict=True) if m is None]
        refused = [r["release"] for r, m in zip(records, marks, strict=True) if m is False]
        notes = [f"not served by {', '.join(refused)}"] if refused else []
        notes += [f"not probed in {', '.join(unknown)}"] if unknown else []
        ranges.append(f"- {endpoint_id}: {span}" + (f" ({'; '.join(notes)})" if notes else ""))
        first = marks.index(True) if True in marks else len(marks)
        gaps = [r["release"] for r, m in zip(records[first:], marks[first:], strict=True) if m is False]
        if gaps:
            regressions.append(f"- {endpoint_id}: served from {where[0]}, not by {', '.join(gaps)}")
    lines.append(f"\nServed by all {len(records)}: {', '.join(by_all)}")
    lines += ["\nOthers (first .. last release serving it):", *ranges]
    lines += ["\nServed, then not by a later release:", *(regressions or ["- none"])]
    lines.append("\nCatalog applicability (edition, since, until) against what the releases serve:")
    contract = load_contract()
    for group, raw, _ in contract.catalog.entries:
        endpoint = build_endpoint(group, raw)
        early, missing = [], []
        for r in records:
            mark = ((r.get("served") or {}).get(endpoint.id) or {}).get("served")
            edition = contract.editions.for_release(r["release"]).id
            applies = endpoint.not_applicable_reason(r["release"], edition) is None
            if mark is True and not applies and Version(r["release"]) < Version(endpoint.since or "0"):
                early.append(r["release"])
            if mark is False and applies:
                missing.append(r["release"])
        if early or missing:
            found = [f"served before its since {endpoint.since} by {', '.join(early)}"] if early else []
            found += [f"applies to but not served by {', '.join(missing)}"] if missing else []
            lines.append(f"- {endpoint.id}: {'; '.join(found)}")
    lines.append("\nDocumented, not in the catalog: releases whose OpenAPI document lists it")
    started = [r for r in records if r.get("new_documented")]
    for operation in dict.fromkeys(o for r in started for o in r["new_documented"]):
        listing = [r["release"] for r in started if r["new_documented"].get(operation)]
        lines.append(f"- {operation}: {', '.join(listing) or 'none'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("releases", nargs="+")
    parser.add_argument("--summary", action="store_true", help="print tables from the written files, start nothing")
    args = parser.parse_args(argv)
    if args.summary:
        print(summary(args.releases))
        return 0
    os.environ.pop("PYTHONPATH", None)  # this repository's packages must not reach Langflow's interpreter
    OUT.mkdir(parents=True, exist_ok=True)
    say(f"cache: {cache_dir()}")
    for release in args.releases:
        record = survey(release)
        (OUT / f"{release}.yaml").write_text(yaml.safe_dump(record, sort_keys=False, allow_unicode=True, width=200))
        started_with = record.get("start", {}).get("started_with")
        say(f"{release}: written {OUT / f'{release}.yaml'} (started with {started_with})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
