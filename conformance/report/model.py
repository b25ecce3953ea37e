"""report.json's content: counts per API version, endpoint coverage, the requirements in order."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from conformance import __version__

OUTCOMES = ("pass", "fail", "error", "skip", "not_applicable")
API_VERSIONS = ("v1", "v2", "unversioned")
REPORT_SCHEMA_VERSION = 1


def failure_details(r: dict[str, Any]) -> list[tuple[str, str]]:
    """What every view shows of a failure besides its message: a known deviation it is, expected,
    actual, the contract line."""
    known = [("known", r["known_deviation"]["label"])] if r.get("known_deviation") else []
    return known + [(key, str(r[key])) for key in ("expected", "actual", "source") if r.get(key)]


def reproductions(r: dict[str, Any]) -> list[str]:
    """A failure's curl commands: the last request it sent, or per distinct property failure one, with its seed."""
    curls = [r["curl"]] if r.get("curl") else []
    return curls + [f"{x.get('curl')}  # [{x.get('check')}] seed {x.get('seed')}" for x in r.get("reproduce") or []]


def _counts(requirements: list[dict[str, Any]]) -> dict[str, Any]:
    """Outcome counts and MUST conformance (MUST passed / MUST run) of some requirements."""
    outcomes = Counter(r["outcome"] for r in requirements)
    must_run = [r for r in requirements if r["level"] == "MUST" and r["outcome"] in ("pass", "fail", "error")]
    must_pass = sum(r["outcome"] == "pass" for r in must_run)
    counts = {o: outcomes[o] for o in OUTCOMES}
    return {
        **counts,
        "total": sum(counts.values()),
        "conformance_percent": round(100.0 * must_pass / len(must_run), 1) if must_run else None,
    }


def summarize(requirements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {v: _counts([r for r in requirements if r["api_version"] == v]) for v in API_VERSIONS}


def group_summary(requirements: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """summarize() one level down: per API version, per endpoint group (summary.md, the matrix)."""
    by_group: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in requirements:
        by_group[(r["api_version"], r["group"])].append(r)
    out: dict[str, dict[str, dict[str, Any]]] = {v: {} for v in API_VERSIONS}
    for (version, group), reqs in sorted(by_group.items()):
        out[version][group] = _counts(reqs)
    return out


def coverage(requirements: list[dict[str, Any]], endpoints: list[Any]) -> dict[str, dict[str, Any]]:
    """Per catalog endpoint: exercised (some requirement sent its request and passed or failed),
    or skipped / not applicable with the reasons, so no endpoint goes silently unchecked."""
    by_endpoint: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in requirements:
        by_endpoint[r["endpoint"]].append(r)
    out: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        reqs = by_endpoint.get(e.id, [])
        outcomes = {r["outcome"] for r in reqs}
        if outcomes & {"fail", "error"}:
            outcome = "fail"
        elif "pass" in outcomes:
            outcome = "pass"
        elif reqs and outcomes == {"not_applicable"}:
            outcome = "not_applicable"
        else:
            outcome = "skip"
        reasons = sorted({r.get("reason", "") for r in reqs if r["outcome"] in ("skip", "not_applicable")} - {""})
        if not reqs:
            reasons = [_unexercised(e)]
        out[e.id] = {
            "api_version": e.api_version,
            "group": e.group,
            "operation": e.operation,
            "outcome": outcome,
            "requirements": {r["id"]: r["outcome"] for r in reqs},
            **({"reasons": reasons} if outcome in ("skip", "not_applicable") else {}),
        }
    return out


def _unexercised(e: Any) -> str:
    """Why a catalog endpoint has no requirement at all: say what is missing."""
    if e.safety == "needs-external-service":
        return f"needs an external service ({e.summary or e.operation})"
    if e.method == "WS":
        return "WebSocket endpoint: not exercised (voice mode needs an OpenAI or ElevenLabs key)"
    return "no documented request to send: the catalog entry has no example"


def coverage_summary(endpoints: dict[str, dict[str, Any]]) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter[str]] = {v: Counter() for v in API_VERSIONS}
    for e in endpoints.values():
        counts[e["api_version"]][e["outcome"]] += 1
    return {
        v: {
            "endpoints": sum(c.values()),
            "exercised": c["pass"] + c["fail"],
            "failed": c["fail"],
            "skipped": c["skip"],
            "not_applicable": c["not_applicable"],
        }
        for v, c in counts.items()
    }


def build(header: dict[str, Any], requirements: list[dict[str, Any]], endpoints: list[Any] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    for r in requirements:
        first = (r.get("sources") or [{}])[0]
        r["source"] = f"{first.get('document', '?')} § {first.get('section', '?')}" if first else "no source"
    ordered = sorted(requirements, key=lambda r: (API_VERSIONS.index(r["api_version"]), r["group"], r["id"]))
    endpoint_coverage = coverage(ordered, list(endpoints))
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "tool": {"name": "langflow-conformance", "version": __version__},
        **header,
        "summary": summarize(ordered),
        "coverage": coverage_summary(endpoint_coverage),
        "requirements": ordered,
        "endpoints": endpoint_coverage,
    }


def figures(report: dict[str, Any], wall_s: float | None = None) -> dict[str, Any]:
    """A run's speed as the benchmark reports it: times, requests, and ratios that stay comparable
    between machines (client overhead: the run's time over the server's; requests per requirement)."""
    outcomes = Counter(r["outcome"] for r in report["requirements"])
    ran = outcomes["pass"] + outcomes["fail"] + outcomes["error"]
    requests, server_s, duration = report["requests"], report["server_seconds"], report["duration_s"]
    wall = duration if wall_s is None else wall_s
    return {
        "release": report["target"]["release"],
        "wall_s": round(wall, 1),
        "duration_s": duration,
        "server_s": round(server_s, 1),
        "requests": requests,
        "requirements_run": ran,
        "passed": outcomes["pass"],
        "failed": outcomes["fail"] + outcomes["error"],
        "known_deviations": sum("known_deviation" in r for r in report["requirements"]),
        "skipped": outcomes["skip"],
        "not_applicable": outcomes["not_applicable"],
        "client_overhead": round(duration / server_s, 3) if server_s else None,
        "process_overhead": round(wall / server_s, 3) if server_s else None,
        "requests_per_requirement": round(requests / ran, 2) if ran else None,
        "mean_latency_ms": round(1000 * server_s / requests, 1) if requests else None,
        "workers": report.get("workers", 0),
    }


def warnings(report: dict[str, Any]) -> list[str]:
    """What every view shows above all else: settings that weaken what the verdict proves."""
    out = []
    if (report.get("connection") or {}).get("insecure"):
        out.append(
            "TLS verification was OFF (--insecure): the server's certificate was not checked; anyone between "
            "this run and the server could have answered instead"
        )
    return out


def identity(report: dict[str, Any]) -> str:
    """Which tool and which contract judged: two reports with the same line used the same contract."""
    tool, contract = report.get("tool") or {}, report.get("contract") or {}
    digest = str(contract.get("digest", ""))[:12] or "?"
    return f"{tool.get('name', 'langflow-conformance')} {tool.get('version', '?')}, contract {digest}"


def profile_rows(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The deployment profile as (feature, on/off/unknown, the setting that turns it on, how decided)."""
    features = ((report.get("target") or {}).get("profile") or {}).get("features") or {}
    rows = []
    for feature_id, state in sorted(features.items()):
        on = {True: "on", False: "OFF", None: "unknown"}[state.get("on")]
        rows.append(
            (f"{feature_id} ({state.get('summary', '')})", on, str(state.get("setting", "")), str(state["how"]))
        )
    return rows
