"""report.json's content: counts per API version, endpoint coverage, the requirements in order."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from .. import __version__

OUTCOMES = ("pass", "fail", "error", "skip", "not_applicable")
API_VERSIONS = ("v1", "v2", "unversioned")
REPORT_SCHEMA_VERSION = 1


def failure_details(r: dict[str, Any]) -> list[tuple[str, str]]:
    """What every view shows of a failure besides its message: expected, actual, the contract line."""
    return [(key, str(r[key])) for key in ("expected", "actual", "source") if r.get(key)]


def reproductions(r: dict[str, Any]) -> list[str]:
    """A failure's curl commands: the last request it sent, or per distinct property failure one, with its seed."""
    curls = [r["curl"]] if r.get("curl") else []
    return curls + [f"{x.get('curl')}  # [{x.get('check')}] seed {x.get('seed')}" for x in r.get("reproduce") or []]


def summarize(requirements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    per_version: dict[str, Counter[str]] = defaultdict(Counter)
    must_run: Counter[str] = Counter()
    must_pass: Counter[str] = Counter()
    for r in requirements:
        per_version[r["api_version"]][r["outcome"]] += 1
        if r["level"] == "MUST" and r["outcome"] in ("pass", "fail", "error"):
            must_run[r["api_version"]] += 1
            must_pass[r["api_version"]] += r["outcome"] == "pass"
    summary = {}
    for version in API_VERSIONS:
        counts = {o: per_version[version][o] for o in OUTCOMES}
        run = must_run[version]
        summary[version] = {
            **counts,
            "total": sum(counts.values()),
            "conformance_percent": round(100.0 * must_pass[version] / run, 1) if run else None,
        }
    return summary


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
