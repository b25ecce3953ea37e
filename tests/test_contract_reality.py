"""The contract against reality: every safe read the suite can make on real 1.13.0 and 1.7.3 either
validates, or is a real deviation written up in docs/findings.md (with the requirement id and release)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.report.known import all_known

from .conftest import REPO, Result, Server, record_figures, run_suite

pytestmark = pytest.mark.real_langflow


def written_up(may_pass: bool | None = None) -> dict[str, set[str]]:
    """Requirement id -> releases docs/findings.md names for it; `may_pass` True/False selects only the
    lines that may (intermittent, one database) or must show on every run."""
    found: dict[str, set[str]] = {}
    for k in all_known():
        if may_pass is not None and bool(k.may_pass) != may_pass:
            continue
        found.setdefault(k.id, set()).add(k.release)
    return found


def check_run(tmp_path: Path, server: Server, release: str, *extra: str) -> dict:
    """Run the suite; every failure must be a written-up finding, none may be stale, none an error."""
    args = ["--server", server.url, *extra]
    if server.api_key:
        args += ["--api-key", server.api_key]
    return check_result(run_suite(tmp_path, *args), release)


def check_result(result: Result, release: str, stale_too: bool = True) -> dict:
    """A finished run's report, after the checks every reality test makes (`stale_too`: no written-up
    finding passes; off where something in front of Langflow hides some)."""
    assert result.code in (0, 1), result.output[-3000:]
    report = result.report()
    assert report["target"]["release"] == release
    assert not [r for r in report["requirements"] if r["outcome"] == "error"], "checker errors"
    assert report["cleanup_failures"] == []
    ran = [r for r in report["requirements"] if r["outcome"] in ("pass", "fail")]
    assert len(ran) >= 5, "too few requirements ran to say anything"
    known = written_up()
    unexplained = [
        f"{r['id']}: {r.get('message', '')}"
        for r in ran
        if r["outcome"] == "fail" and release not in known.get(r["id"], set())
    ]
    assert unexplained == [], "failures that docs/findings.md does not write up"
    stale = [
        rid
        for rid, releases in written_up(may_pass=False).items()
        if release in releases and any(r["id"] == rid and r["outcome"] == "pass" for r in ran)
    ]
    assert not stale_too or stale == [], "findings that no longer happen"
    # Coverage: every catalog endpoint was exercised, or skipped / not applicable with reasons.
    for endpoint_id, e in report["endpoints"].items():
        assert e["outcome"] in ("pass", "fail") or e["reasons"], endpoint_id
    report["wall_s"] = result.seconds
    return report


def check_reads(tmp_path: Path, server: Server, release: str) -> None:
    check_run(tmp_path, server, release, "-m", "readonly", "--mode", "read-only")


def test_safe_reads_of_1_13(tmp_path: Path, langflow_113: Server) -> None:
    check_reads(tmp_path, langflow_113, "1.13.0")


def test_safe_reads_of_1_7(tmp_path: Path, langflow_173_default: Server) -> None:
    check_reads(tmp_path, langflow_173_default, "1.7.3")


def test_default_suite_on_1_13(tmp_path: Path, langflow_113: Server) -> None:
    # As the release-gate recipe runs it: the committed baseline holds 1.13.0's written-up failures.
    baseline = str(REPO / "ci" / "baseline.yaml")
    report = check_run(tmp_path, langflow_113, "1.13.0", "--baseline", baseline, "--allow-stale")
    assert report["exit_status"] == 0 and report["gate"]["verdict"] == "pass", report["gate"]["reasons"]
    kinds = {r["kind"] for r in report["requirements"] if r["outcome"] in ("pass", "fail")}
    assert kinds == {"example", "auth", "negative", "lifecycle", "stream", "property", "drift", "isolation"}
    # The echo flow ran: the run endpoints returned their input.
    assert {"run.run.example", "run.advanced.example", "run.responses.example"} <= {
        r["id"] for r in report["requirements"] if r["outcome"] == "pass"
    }
    # Speed is reported (the benchmark figures at the end of the session), never asserted.
    record_figures("default suite, fresh 1.13.0", report, report["wall_s"])


def test_default_suite_on_1_7_with_auto_login_and_webhook_auth_off(
    tmp_path: Path, langflow_173_default: Server
) -> None:
    report = check_run(tmp_path, langflow_173_default, "1.7.3")
    assert report["target"]["config"]["webhook_auth_enable"] is False
    assert report["target"]["auth"].endswith("(auto_login JWT)")
    assert any(r["id"] == "run.webhook.auth-switch" and r["outcome"] == "pass" for r in report["requirements"])
    record_figures("default suite, 1.7.3 with its default settings", report, report["wall_s"])


def test_default_suite_on_1_7_with_webhook_auth_on(tmp_path: Path, langflow_173_webhook_auth: Server) -> None:
    report = check_run(tmp_path, langflow_173_webhook_auth, "1.7.3")
    assert report["target"]["config"]["webhook_auth_enable"] is True
    assert any(r["id"] == "run.webhook.auth-switch" and r["outcome"] == "pass" for r in report["requirements"])
