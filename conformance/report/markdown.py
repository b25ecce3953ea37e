"""summary.md: a view of report.json that fits a CI job summary ($GITHUB_STEP_SUMMARY): the verdict,
one table per API version (its groups), then the failures with their reproduction."""

from __future__ import annotations

from typing import Any

from conformance.report.model import failure_details, group_summary, identity, profile_rows, reproductions, warnings

MAX_SKIPS_LISTED = 200  # job summaries are capped at 1 MiB


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value}%"


def _group_table(version: str, groups: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        f"| {version} group | MUST conformance | pass | fail | error | SKIPPED | not applicable |",
        "|---|---|---|---|---|---|---|",
    ]
    for group, c in groups.items():
        lines.append(
            f"| {group} | {_pct(c['conformance_percent'])} | {c['pass']} | {c['fail']} | {c['error']} | "
            f"{c['skip']} | {c['not_applicable']} |"
        )
    return lines


def _failure(r: dict[str, Any]) -> list[str]:
    known = f"known deviation {r['known_deviation']['finding']}" if r.get("known_deviation") else None
    marks = "".join(f" `{m}`" for m in (r.get("change"), known, "baselined" if r.get("baselined") else None) if m)
    message = (r.get("message") or "").splitlines()[0] if r.get("message") else ""
    lines = [f"- **{r['id']}** ({r['level']}, {r['outcome']}){marks}: {message}"]
    lines += [f"  - {key}: {value}" for key, value in failure_details(r)]
    curls = reproductions(r)
    if curls:
        lines += ["  ```sh", *(f"  {c}" for c in curls), "  ```"]
    return lines


def render_summary_md(report: dict[str, Any]) -> str:
    t = report["target"]
    gate = report.get("gate")
    lines = [
        f"# Langflow conformance: {t.get('release', '?')} at {t['url']}",
        "",
        *(f"> **WARNING: {w}**\n" for w in warnings(report)),
        f"Contract edition {report['contract']['edition']} · mode {report['mode']} · seed "
        f"{report.get('property', {}).get('seed', '-')} · run {report['run_id']} · started {report['started_at']} · "
        f"{report['duration_s']:.1f} s · {report['requests']} requests · {identity(report)}",
        "",
    ]
    if gate:
        lines.append(
            f"**Gate: {gate['verdict'].upper()}** (exit {gate['exit_code']}, API versions "
            f"{', '.join(gate['gated_versions'])}"
            f"{', baseline ' + gate['baseline'] if gate['baseline'] else ''}; {len(gate['baselined'])} "
            f"baselined, {len(gate['should_failures'])} SHOULD failures)"
        )
        lines += [f"- {reason}" for reason in gate["reasons"]]
        lines.append("")
    lines += [
        "| API version | verdict | MUST conformance | pass | fail | error | SKIPPED | not applicable |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for version, s in report["summary"].items():
        if not s["total"]:
            continue
        verdict = "FAIL" if s["fail"] or s["error"] else "PASS"
        lines.append(
            f"| {version} | {verdict} | {_pct(s['conformance_percent'])} | {s['pass']} | {s['fail']} | {s['error']} | "
            f"**{s['skip']}** | {s['not_applicable']} |"
        )
    lines += [
        "",
        "| API version | endpoints | exercised | failed | SKIPPED | not applicable |",
        "|---|---|---|---|---|---|",
    ]
    for version, c in report.get("coverage", {}).items():
        lines.append(
            f"| {version} | {c['endpoints']} | {c['exercised']} | {c['failed']} | **{c['skipped']}** | "
            f"{c['not_applicable']} |"
        )
    hung = report.get("timeouts") or {}
    if hung.get("stalled"):
        lines += [
            "",
            f"**Timeouts**: the run waited {hung['waited_s']:.0f} s on requests that got no answer; these endpoints "
            f"hung, and their other requests failed at once: {', '.join(f'`{e}`' for e in hung['stalled'])}",
        ]
    profile = profile_rows(report)
    if profile:
        lines += [
            "",
            "## Deployment profile",
            "",
            "| feature | state | turned on by | how it was told |",
            "|---|---|---|---|",
        ]
        lines += [f"| {f} | {'**OFF**' if s == 'OFF' else s} | `{setting}` | {how} |" for f, s, setting, how in profile]
    if "comparison" in report:
        c = report["comparison"]
        prev = c["previous"]
        lines += [
            "",
            f"## Changes since {prev['run_id']} (Langflow {prev['release']})",
            "",
            *([f"- release changed: {prev['release']} -> {t.get('release')}"] if c["release_changed"] else []),
            f"- newly failing ({len(c['newly_failing'])}): {', '.join(c['newly_failing']) or 'none'}",
            f"- newly passing ({len(c['newly_passing'])}): {', '.join(c['newly_passing']) or 'none'}",
            f"- new endpoints ({len(c['new_endpoints'])}): {', '.join(c['new_endpoints']) or 'none'}",
        ]
    for version, groups in group_summary(report["requirements"]).items():
        if groups:
            lines += ["", f"## {version}", "", *_group_table(version, groups)]
    failed = [r for r in report["requirements"] if r["outcome"] in ("fail", "error")]
    if failed:
        lines += ["", f"## Failures ({len(failed)})", ""]
        for r in failed:
            lines += _failure(r)
    skipped = [r for r in report["requirements"] if r["outcome"] == "skip"]
    if skipped:
        lines += ["", f"<details><summary>SKIPPED ({len(skipped)})</summary>", ""]
        lines += [f"- {r['id']}: {r.get('reason', '')}" for r in skipped[:MAX_SKIPS_LISTED]]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"
