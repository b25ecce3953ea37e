"""The views of report.json: report.html rendered in headless Chromium (screenshot, counts, filters),
junit.xml and summary.md; all from a real report of a run against Langflow 1.13.0 (tests/data)."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conformance.report import VIEWS, write
from conformance.report.html import render_html
from conformance.report.junit import render_junit
from conformance.report.markdown import render_summary_md

from .conftest import REPO, assert_valid_report

SAMPLE = REPO / "tests" / "data" / "report-1.13.0.json"
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def report() -> dict:
    return json.loads(SAMPLE.read_text())


def test_the_sample_is_a_valid_report_with_failures_and_skips(report: dict) -> None:
    assert_valid_report(report)
    outcomes = {r["outcome"] for r in report["requirements"]}
    assert {"pass", "fail", "skip"} <= outcomes


def chromium(tmp_path: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run installs it)")
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    done = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"chromium exited {done.returncode}: {done.stderr[-1500:]}"
    return done


def test_report_html_renders_in_chromium_with_the_reports_counts(tmp_path: Path, report: dict) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(report))
    shot = tmp_path / "report.png"
    chromium(tmp_path, page.as_uri(), "--window-size=1280,1600", f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000, "the screenshot is (nearly) blank"
    dom = chromium(tmp_path, page.as_uri() + "#version=v1&outcome=fail", "--virtual-time-budget=2000", "--dump-dom")
    text = dom.stdout
    for version, s in report["summary"].items():
        if not s["total"]:
            continue
        for outcome in ("pass", "fail", "error", "skip", "not_applicable"):
            shown = re.search(rf'id="count-{version}-{outcome}">(\d+)<', text)
            assert shown and int(shown.group(1)) == s[outcome], (version, outcome)
        verdict = "FAIL" if s["fail"] or s["error"] else "PASS"
        assert re.search(rf'class="card {verdict}" id="card-{version}"', text), version
    # The hash's filter was applied by the page's script: only v1 failures are visible.
    rows = re.findall(r'<tr class="req[^"]*"([^>]*)>', text)
    visible = [r for r in rows if "hidden" not in r]
    wanted = [r for r in report["requirements"] if r["api_version"] == "v1" and r["outcome"] == "fail"]
    assert len(rows) == len(report["requirements"])
    assert len(visible) == len(wanted) > 0
    assert all('data-outcome="fail"' in r and 'data-version="v1"' in r for r in visible)
    assert re.search(rf'id="shown-count">{len(wanted)}<', text)


def test_report_html_is_self_contained_and_escaped(report: dict) -> None:
    hostile = copy.deepcopy(report)
    failing = next(r for r in hostile["requirements"] if r["outcome"] == "fail")
    failing["message"] = "<script>alert('x')</script>"
    page = render_html(hostile)
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "the page loads something from a network"
    assert page.count("<script>") == 1  # the page's own filter script


def test_junit_xml_has_a_suite_per_api_version(report: dict) -> None:
    root = ET.fromstring(render_junit(report))
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"v1", "v2", "unversioned"}
    for version, s in report["summary"].items():
        suite = suites[version]
        assert int(suite.get("failures")) == s["fail"] == len(suite.findall("testcase/failure"))
        assert int(suite.get("tests")) == s["total"]
    failure = root.find(".//failure")
    assert failure is not None and "source:" in (failure.text or "")


def test_summary_md_has_a_table_per_api_version_and_reproductions(report: dict) -> None:
    md = render_summary_md(report)
    for version, s in report["summary"].items():
        if s["total"]:
            assert f"| {version} group | MUST conformance |" in md
    failed = [r for r in report["requirements"] if r["outcome"] == "fail"]
    assert f"## Failures ({len(failed)})" in md
    assert md.count("```sh") == sum(bool(r.get("curl") or r.get("reproduce")) for r in failed)
    assert len(md.encode()) < 1024 * 1024  # GitHub's job summary limit


def test_write_produces_every_view_and_masks_secrets(tmp_path: Path, report: dict) -> None:
    from conformance.target.secrets import SECRETS

    secret = "sk-views-test-" + "secret-value-0123456789"  # split: no key-shaped literal in the repository
    SECRETS.add(secret)
    leaky = copy.deepcopy(report)
    leaky["requirements"][0]["message"] = f"the key {secret} leaked"
    write(leaky, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"report.json", *VIEWS}
    assert not [p.name for p in tmp_path.iterdir() if secret in p.read_text()]
