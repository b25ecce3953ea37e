"""The run's summary at the end of pytest's terminal output: per API version, coverage, timeouts,
features off, drift, comparison and the gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conformance.report.model import warnings as report_warnings


def write_summary(tr: Any, report: dict[str, Any], report_path: Path | None) -> None:
    tr.section("langflow conformance")
    for warning in report_warnings(report):
        tr.write_line(f"WARNING: {warning}", red=True, bold=True)
    tr.write_line(
        f"Langflow {report['target']['release']} at {report['target']['url']} · edition "
        f"{report['contract']['edition']} · mode {report['mode']} · {report['requests']} requests"
    )
    for version, s in report["summary"].items():
        if not s["total"]:
            continue
        percent = "n/a" if s["conformance_percent"] is None else f"{s['conformance_percent']}%"
        tr.write_line(
            f"  {version:<12} conformance {percent:>6}   passed {s['pass']}   failed {s['fail']}   "
            f"errors {s['error']}   SKIPPED {s['skip']}   not applicable {s['not_applicable']}",
            red=bool(s["fail"] or s["error"]),
            yellow=bool(s["skip"]) and not (s["fail"] or s["error"]),
        )
    for version, c in report.get("coverage", {}).items():
        if c["endpoints"]:
            tr.write_line(
                f"  {version:<12} endpoints {c['endpoints']}: exercised {c['exercised']} (failed {c['failed']})   "
                f"SKIPPED {c['skipped']}   not applicable {c['not_applicable']}",
                yellow=bool(c["skipped"]),
            )
    hung = report.get("timeouts") or {}
    if hung.get("stalled"):
        tr.write_line(
            f"  timeouts     waited {hung['waited_s']:.0f} s on requests that got no answer; endpoints that hung "
            f"(their other requests failed at once): {', '.join(hung['stalled'])}",
            red=True,
        )
    features = (report["target"].get("profile") or {}).get("features") or {}
    off = [f"{f} ({s['setting']})" for f, s in features.items() if s.get("on") is False]
    if off:
        tr.write_line(f"  features off on this deployment (their requirements skipped): {', '.join(off)}", yellow=True)
    if any(r["kind"] == "property" and r["outcome"] in ("pass", "fail") for r in report["requirements"]):
        p = report["property"]
        tr.write_line(f"  property     seed {p['seed']} (--seed), {p['examples']} generated requests per requirement")
    if "drift" in report:
        d = report["drift"]
        if "unknown_to_contract" not in d:
            tr.write_line(f"  drift        {d['openapi']}", yellow=True)
        else:
            unknown = sum(len(v) for v in d["unknown_to_contract"].values())
            tr.write_line(
                f"  drift        missing {len(d['documented_missing'])}   served but not listed "
                f"{len(d['documented_not_listed_but_served'])}   unknown to the contract {unknown} "
                f"in {len(d['unknown_to_contract'])} groups   type conflicts (warnings) {len(d['type_conflicts'])}",
                red=bool(d["documented_missing"]),
                yellow=bool(d["type_conflicts"]),
            )
    if "comparison" in report:
        c = report["comparison"]
        prev = c["previous"]
        tr.write_line(
            f"  compared     with {prev['run_id']} (Langflow {prev['release']}"
            f"{', release changed' if c['release_changed'] else ''}): newly failing {len(c['newly_failing'])}   "
            f"newly passing {len(c['newly_passing'])}   new endpoints {len(c['new_endpoints'])}",
            red=bool(c["newly_failing"]),
        )
    gate = report["gate"]
    baseline = f", baseline {gate['baseline']}" if gate["baseline"] else ""
    tr.write_line(
        f"  gate         {gate['verdict'].upper()} (exit {gate['exit_code']}; versions "
        f"{','.join(gate['gated_versions'])}{baseline}; baselined {len(gate['baselined'])}, "
        f"SHOULD failures {len(gate['should_failures'])})",
        red=gate["verdict"] == "fail",
        green=gate["verdict"] == "pass",
    )
    for reason in gate["reasons"]:
        tr.write_line(f"    {reason}", red=True)
    if "baseline_written" in report:
        b = report["baseline_written"]
        tr.write_line(f"  baseline     wrote {b['entries']} entries to {b['path']}")
    tr.write_line(f"report: {report_path} (and summary.md, report.html, junit.xml)")
