"""junit.xml: a view of report.json for CI systems that read JUnit (one suite per API version)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from conformance.report.model import API_VERSIONS, failure_details, identity, profile_rows, reproductions, warnings


def _details(r: dict[str, Any]) -> str:
    lines = [r.get("message", ""), *(f"{key}: {value}" for key, value in failure_details(r))]
    lines += [f"reproduce: {curl}" for curl in reproductions(r)]
    return "\n".join(lines)


def render_junit(report: dict[str, Any]) -> str:
    suites = ET.Element("testsuites", name=f"langflow-conformance {report['target'].get('release', '?')}")
    by_version: dict[str, list[dict[str, Any]]] = {v: [] for v in API_VERSIONS}
    for r in report["requirements"]:
        by_version[r["api_version"]].append(r)
    for version, reqs in by_version.items():
        s = report["summary"][version]
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=version,
            tests=str(len(reqs)),
            failures=str(s["fail"]),
            errors=str(s["error"]),
            skipped=str(s["skip"] + s["not_applicable"]),
            time=f"{sum(r.get('duration_s', 0.0) for r in reqs):.3f}",
            timestamp=report["started_at"],
        )
        props = ET.SubElement(suite, "properties")
        for name, value in (
            ("target", report["target"]["url"]),
            ("release", report["target"].get("release", "")),
            ("edition", report["contract"]["edition"]),
            ("mode", report["mode"]),
            ("seed", str(report.get("property", {}).get("seed", ""))),
            ("conformance_percent", str(s["conformance_percent"])),
            ("tool", identity(report)),
            *(("warning", w) for w in warnings(report)),
            *((f"feature {f}", f"{state} ({setting})") for f, state, setting, _ in profile_rows(report)),
        ):
            ET.SubElement(props, "property", name=name, value=value)
        for r in reqs:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{version}.{r['group']}.{r['endpoint']}",
                name=f"{r['id']} [{r['level']}]",
                time=f"{r.get('duration_s', 0.0):.3f}",
            )
            first = (r.get("message") or "").splitlines()[0][:300] if r.get("message") else ""
            if r["outcome"] == "fail":
                ET.SubElement(case, "failure", message=first, type=r["level"]).text = _details(r)
            elif r["outcome"] == "error":
                ET.SubElement(case, "error", message=first, type="checker error").text = _details(r)
            elif r["outcome"] == "skip":
                ET.SubElement(case, "skipped", message=r.get("reason", ""))
            elif r["outcome"] == "not_applicable":
                ET.SubElement(case, "skipped", message=f"not applicable: {r.get('reason', '')}")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
