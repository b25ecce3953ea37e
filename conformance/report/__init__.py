"""The run's report. report.json is the single source (its JSON Schema: schemas/report/); summary.md,
report.html and junit.xml are views of it, written next to it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conformance.report.html import render_html
from conformance.report.junit import render_junit
from conformance.report.markdown import render_summary_md
from conformance.report.model import API_VERSIONS, OUTCOMES, build
from conformance.target.secrets import mask

VIEWS = {"summary.md": render_summary_md, "report.html": render_html, "junit.xml": render_junit}

__all__ = ["API_VERSIONS", "OUTCOMES", "VIEWS", "build", "write"]


def write(report: dict[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "report.json"
    path.write_text(mask(json.dumps(report, indent=2, default=str)) + "\n")
    # The views render the masked report: no view can show what report.json does not.
    masked = json.loads(path.read_text())
    for name, render in VIEWS.items():
        (directory / name).write_text(mask(render(masked)))
    return path
