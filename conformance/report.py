"""The run's report: report.json is the single source; summary.md is a view of it."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from . import __version__
from .secrets import mask

OUTCOMES = ("pass", "fail", "error", "skip", "not_applicable")
API_VERSIONS = ("v1", "v2", "unversioned")
REPORT_SCHEMA_VERSION = 1


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


def build(header: dict[str, Any], requirements: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(requirements, key=lambda r: (API_VERSIONS.index(r["api_version"]), r["group"], r["id"]))
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "tool": {"name": "langflow-conformance", "version": __version__},
        **header,
        "summary": summarize(ordered),
        "requirements": ordered,
    }


def render_summary_md(report: dict[str, Any]) -> str:
    t = report["target"]
    lines = [
        f"# Langflow conformance: {t.get('release', '?')} at {t['url']}",
        "",
        f"Contract edition {report['contract']['edition']} · mode {report['mode']} · "
        f"run {report['run_id']} · {report['duration_s']:.1f} s · {report['requests']} requests",
        "",
        "| API version | conformance (MUST) | pass | fail | error | skip | not applicable |",
        "|---|---|---|---|---|---|---|",
    ]
    for version, s in report["summary"].items():
        percent = "n/a" if s["conformance_percent"] is None else f"{s['conformance_percent']}%"
        lines.append(
            f"| {version} | {percent} | {s['pass']} | {s['fail']} | {s['error']} | {s['skip']} | "
            f"{s['not_applicable']} |"
        )
    failed = [r for r in report["requirements"] if r["outcome"] in ("fail", "error")]
    if failed:
        lines += ["", "## Failures", ""]
        for r in failed:
            lines.append(f"- **{r['id']}** ({r['level']}, {r['outcome']}): {r.get('message', '')}")
    skipped = [r for r in report["requirements"] if r["outcome"] == "skip"]
    if skipped:
        lines += ["", f"## Skipped ({len(skipped)})", ""]
        lines += [f"- {r['id']}: {r.get('reason', '')}" for r in skipped]
    return "\n".join(lines) + "\n"


def write(report: dict[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "report.json"
    path.write_text(mask(json.dumps(report, indent=2, default=str)) + "\n")
    (directory / "summary.md").write_text(mask(render_summary_md(report)))
    return path
