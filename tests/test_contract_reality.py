"""The contract against reality: every safe read the suite can make on real 1.13.0 and 1.7.3 either
validates, or is a real deviation written up in docs/findings.md (with the requirement id and release)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import REPO, Server, run_suite

pytestmark = pytest.mark.real_langflow
FINDINGS = REPO / "docs" / "findings.md"
# "**Requirement**: `base.config.auth-required` on 1.13.0, 1.7.3"
_LINE = re.compile(r"^\*\*Requirement\*\*: `([^`]+)` on ([0-9., ]+)$", re.M)


def written_up() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for requirement, releases in _LINE.findall(FINDINGS.read_text()):
        found.setdefault(requirement, set()).update(r.strip() for r in releases.split(",") if r.strip())
    return found


def check_reads(tmp_path: Path, server: Server, release: str) -> None:
    args = ["--server", server.url, "-m", "readonly", "--mode", "read-only"]
    if server.api_key:
        args += ["--api-key", server.api_key]
    result = run_suite(tmp_path, *args)
    assert result.code in (0, 1), result.output
    report = result.report()
    assert report["target"]["release"] == release
    assert not [r for r in report["requirements"] if r["outcome"] == "error"], "checker errors"
    ran = [r for r in report["requirements"] if r["outcome"] in ("pass", "fail")]
    assert len(ran) >= 5, "too few reads ran to say anything"
    known = written_up()
    unexplained = [
        f"{r['id']}: {r.get('message', '')}"
        for r in ran
        if r["outcome"] == "fail" and release not in known.get(r["id"], set())
    ]
    assert unexplained == [], "failures that docs/findings.md does not write up"
    stale = [
        rid
        for rid, releases in known.items()
        if release in releases and any(r["id"] == rid and r["outcome"] == "pass" for r in ran)
    ]
    assert stale == [], "findings that no longer happen"


def test_safe_reads_of_1_13(tmp_path: Path, langflow_113: Server) -> None:
    check_reads(tmp_path, langflow_113, "1.13.0")


def test_safe_reads_of_1_7(tmp_path: Path, langflow_173_default: Server) -> None:
    check_reads(tmp_path, langflow_173_default, "1.7.3")
