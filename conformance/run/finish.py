"""The end of a run: report.json's header, known deviations marked, the comparison, the baseline and
the gate's verdict (the exit code), the report written."""

from __future__ import annotations

import time
from typing import Any

import pytest

from conformance.contract import SelectedContract
from conformance.report import build as build_report
from conformance.report import write as write_report
from conformance.report.compare import compare
from conformance.report.gate import Baseline, evaluate, vacuous_reasons, write_baseline
from conformance.report.known import KNOWN, known_for
from conformance.run.session import Run
from conformance.target.secrets import mask


def finish(
    run: Run,
    session: pytest.Session,
    exitstatus: int,
    cleanup_failures: list[str],
    drift_section: dict[str, Any] | None,
) -> None:
    """The report: its header, requirement outcomes, known deviations, comparison and gate; written."""
    workers = run.worker_stats
    header = {
        "run_id": run.run_id,
        "target": {k: v for k, v in run.target.to_dict().items()},
        "contract": {
            "edition": run.selected.edition.id,
            "edition_source": run.edition_source,
            "documents": _documents(run.selected),
            "editions_used": run.selected.editions_used(),
            "digest": run.contract.digest,
        },
        "connection": run.settings.connection.describe(run.target.url),
        "mode": run.settings.mode,
        "started_at": run.started.isoformat(),
        "duration_s": round(time.monotonic() - run.started_monotonic, 2),
        "requests": run.stats.requests + sum(w["requests"] for w in workers),
        "server_seconds": round(run.stats.server_seconds + sum(w["server_seconds"] for w in workers), 3),
        "ok_responses": run.stats.ok_responses + sum(w["ok_responses"] for w in workers),
        "workers": len(workers),
        "timeouts": _timeouts(run, workers),
        "exit_status": int(exitstatus),
        "cleanup_failures": [mask(f) for f in cleanup_failures],
        "property": {
            "seed": run.settings.seed,
            "examples": run.settings.examples,
            "time_per_requirement_s": run.settings.property_time,
        },
        **({"drift": drift_section} if drift_section is not None else {}),
    }
    run.report = build_report(header, list(run.results.values()), run.selected.endpoints)
    gate(run, session)
    run.report_path = write_report(run.report, run.settings.report_dir / run.run_id)


def _documents(selected: SelectedContract) -> list[str]:
    """The documents of every edition that judged some endpoint of this run."""
    documents: list[str] = []
    for edition_id in selected.editions_used():
        edition = selected.contract.editions.get(edition_id)
        documents += [d for d in (edition.documents if edition else ()) if d not in documents]
    return documents


def _timeouts(run: Run, workers: list[dict[str, Any]]) -> dict[str, Any]:
    """How long the run waited on requests that timed out, and the endpoints that hung."""
    stalled = dict(run.stats.stalled)
    for w in workers:
        for endpoint, seconds in (w.get("stalled") or {}).items():
            stalled[endpoint] = max(seconds, stalled.get(endpoint, 0.0))
    waited = run.stats.waited_s + sum(w.get("waited_s", 0.0) for w in workers)
    return {"waited_s": round(waited, 1), "stalled": {k: round(v, 1) for k, v in sorted(stalled.items())}}


def mark_known_deviations(report: dict[str, Any]) -> None:
    """Every view says which failures are deviations docs/findings.md writes up for this release."""
    known = known_for(report["target"]["release"])
    for r in report["requirements"]:
        if r["outcome"] in ("fail", "error") and r["id"] in known:
            k = known[r["id"]]
            r["known_deviation"] = {"finding": k.finding, "label": k.label}


def gate(run: Run, session: pytest.Session) -> None:
    """Comparison, baseline and gate sections; the gate's verdict becomes the exit code unless pytest
    itself ended the run otherwise (interrupted, usage error, nothing collected)."""
    report, settings = run.report, run.settings
    assert report is not None and run.selected is not None
    mark_known_deviations(report)
    if str(settings.baseline) == KNOWN:
        run.baseline = Baseline.known(run.selected.release)
    if run.previous is not None and settings.compare is not None:
        report["comparison"] = compare(report, run.previous, settings.compare)
    baseline = run.baseline
    if settings.update_baseline is not None:
        failing = [r for r in report["requirements"] if r["outcome"] in ("fail", "error")]
        written = write_baseline(settings.update_baseline, failing, run.baseline)
        report["baseline_written"] = {"path": str(settings.update_baseline), "entries": written}
        if baseline is None:  # the run is judged by the baseline it just wrote
            baseline = Baseline.load(settings.update_baseline, "--update-baseline")
    expects = run.selected.edition.expects.get(settings.mode)
    vacuous = vacuous_reasons(report, settings.max_skip_share, expects, whole_suite=not run.selected_part)
    report["gate"] = evaluate(report, baseline, settings.gate, settings.allow_stale, vacuous)
    report["gate"]["whole_suite"] = not run.selected_part
    if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        session.exitstatus = report["gate"]["exit_code"]
    report["exit_status"] = int(session.exitstatus)
