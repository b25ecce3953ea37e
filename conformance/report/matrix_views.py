"""Views of matrix.json: Markdown (a CI job summary) and one self-contained HTML page."""

from __future__ import annotations

import html
from typing import Any

from conformance.report.model import API_VERSIONS


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value}%"


def _cell(target: dict[str, Any], version: str) -> str:
    s = (target.get("versions") or {}).get(version)
    if not s or not s["total"]:
        return "-"
    if s["total"] == s["not_applicable"]:
        return "not in this edition"
    skipped = f", {s['skip']} skipped" if s["skip"] else ""
    return f"{_pct(s['conformance_percent'])} ({s['fail'] + s['error']} failed{skipped})"


def _group_rows(matrix: dict[str, Any]) -> list[tuple[str, str]]:
    rows = {(v, g) for t in matrix["targets"] for v, groups in (t.get("groups") or {}).items() for g in groups}
    return sorted(rows, key=lambda vg: (API_VERSIONS.index(vg[0]), vg[1]))


def _group_pct(target: dict[str, Any], version: str, group: str) -> float | None:
    return ((target.get("groups") or {}).get(version, {}).get(group) or {}).get("conformance_percent")


def _group_cell(target: dict[str, Any], version: str, group: str) -> str:
    g = (target.get("groups") or {}).get(version, {}).get(group)
    if g is None:
        return "-"
    if g["conformance_percent"] is None:
        return "n/a" if not (g["skip"]) else f"n/a ({g['skip']} skipped)"
    return _pct(g["conformance_percent"])


def render_matrix_md(matrix: dict[str, Any]) -> str:
    targets = matrix["targets"]
    lines = [
        f"# Langflow conformance matrix: {len(targets)} targets, {matrix['duration_s']:.0f} s, "
        f"exit {matrix['exit_code']}",
        "",
        "| target | release | edition | gate | exit | " + " | ".join(API_VERSIONS) + " | wall s |",
        "|---|---|---|---|---|" + "---|" * len(API_VERSIONS) + "---|",
    ]
    for t in targets:
        if t.get("report") is None:
            error = t.get("error", "")
            lines.append(f"| {t['label']} | - | - | error | {t['exit_code']} | {error} |||{t['wall_s']} |")
            continue
        cells = " | ".join(_cell(t, v) for v in API_VERSIONS)
        lines.append(
            f"| {t['label']} | {t['release']} | {t['edition']} | {(t['gate'] or '?').upper()} | {t['exit_code']} | "
            f"{cells} | {t['wall_s']} |"
        )
    lines += [
        "",
        "## MUST conformance per group",
        "",
        "| API version | group | " + " | ".join(t["label"] for t in targets) + " |",
        "|---|---|" + "---|" * len(targets),
    ]
    for version, group in _group_rows(matrix):
        lines.append(f"| {version} | {group} | " + " | ".join(_group_cell(t, version, group) for t in targets) + " |")
    return "\n".join(lines) + "\n"


_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1b1f24}
table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left}
th{background:#f6f8fa}.pass{background:#dafbe1}.fail{background:#ffebe9}.na{color:#6e7781}
.lowpct{background:#fff8c5}
"""


def _pct_class(value: float | None) -> str:
    if value is None:
        return "na"
    return "pass" if value == 100.0 else "lowpct" if value >= 90.0 else "fail"


def render_matrix_html(matrix: dict[str, Any]) -> str:
    e = html.escape
    targets = matrix["targets"]
    head = "".join(f"<th>{e(v)}</th>" for v in API_VERSIONS)
    rows = []
    for t in targets:
        if t.get("report") is None:
            rows.append(
                f'<tr class="fail"><td>{e(t["label"])}</td><td colspan="{4 + len(API_VERSIONS)}">'
                f'exit {t["exit_code"]}: {e(t.get("error", ""))} (<a href="{e(t["log"])}">output</a>)</td></tr>'
            )
            continue
        cells = "".join(
            f'<td class="{_pct_class((t["versions"].get(v) or {}).get("conformance_percent"))}">{e(_cell(t, v))}</td>'
            for v in API_VERSIONS
        )
        report_html = t["report"].rsplit("/", 1)[0] + "/report.html"
        rows.append(
            f'<tr><td><a href="{e(report_html)}">{e(t["label"])}</a></td><td>{e(str(t["release"]))}</td>'
            f'<td>{e(t["edition"])}</td><td class="{"pass" if t["gate"] == "pass" else "fail"}">'
            f"{e((t['gate'] or '?').upper())}</td><td>{t['exit_code']}</td>{cells}<td>{t['wall_s']}</td></tr>"
        )
    group_head = "".join(f"<th>{e(t['label'])}</th>" for t in targets)
    group_rows = []
    for version, group in _group_rows(matrix):
        cells = "".join(
            f'<td class="{_pct_class(_group_pct(t, version, group))}">{e(_group_cell(t, version, group))}</td>'
            for t in targets
        )
        group_rows.append(f"<tr><td>{e(version)}</td><td>{e(group)}</td>{cells}</tr>")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Langflow conformance matrix</title><style>{_STYLE}</style></head><body>"
        f"<h1>Langflow conformance matrix</h1><p>{len(targets)} targets · started {e(matrix['started_at'])} · "
        f"{matrix['duration_s']:.0f} s · {matrix['jobs']} at a time · exit {matrix['exit_code']}</p>"
        f'<table id="targets"><tr><th>target</th><th>release</th><th>edition</th><th>gate</th><th>exit</th>{head}'
        f"<th>wall s</th></tr>{''.join(rows)}</table>"
        f'<h2>MUST conformance per group</h2><table id="groups"><tr><th>API version</th><th>group</th>{group_head}'
        f"</tr>{''.join(group_rows)}</table></body></html>\n"
    )
