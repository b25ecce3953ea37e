"""Release gating: the baseline truth table (against a real Langflow 1.13.0 and on its own), the
vacuous-run guard, --update-baseline and --compare."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from conformance.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, EXIT_VACUOUS, OptionError
from conformance.report.compare import compare
from conformance.report.gate import Baseline, evaluate, vacuous_reasons
from conformance.report.known import all_known, baseline_yaml, parse

from .conftest import REPO, Server, run_suite

# On 1.13.0 the first fails (docs/findings.md F1: /config answers anonymous requests), the second passes.
FAILING = "base.config.auth-required"
PASSING = "base.version.example"
# A MUST requirement every run skips (an event stream generated requests could hold open).
SKIPPED = "build.events.property-positive"


def baseline_file(tmp_path: Path, *entries: dict[str, Any]) -> Path:
    path = tmp_path / "baseline.yaml"
    path.write_text(json.dumps({"entries": list(entries)}))  # JSON is YAML
    return path


def requirement(rid: str, outcome: str, level: str = "MUST", version: str = "v1") -> dict[str, Any]:
    return {"id": rid, "outcome": outcome, "level": level, "api_version": version}


REPORT = {
    "requirements": [
        requirement("a.fails", "fail"),
        requirement("b.passes", "pass"),
        requirement("c.should-fails", "fail", level="SHOULD"),
        requirement("d.v2-fails", "fail", version="v2"),
    ]
}
TODAY = dt.date(2026, 12, 5)


def gate(tmp_path: Path, *entries: dict[str, Any], allow_stale: bool = False, versions=("v1", "v2")) -> dict:
    baseline = Baseline.load(baseline_file(tmp_path, *entries)) if entries else None
    report = json.loads(json.dumps(REPORT))
    return evaluate(report, baseline, versions, allow_stale, [], today=TODAY)


@pytest.mark.parametrize(
    ("entries", "allow_stale", "versions", "code", "why"),
    [
        ([], False, ("v1", "v2"), EXIT_FAILED, "new failure(s): a.fails, d.v2-fails"),
        ([{"id": "a.fails", "reason": "F1"}, {"id": "d.v2-fails", "reason": "F2"}], False, ("v1", "v2"), EXIT_OK, ""),
        ([{"id": "a.fails", "reason": "F1"}], False, ("v1",), EXIT_OK, ""),  # --gate v1: v2 does not gate
        ([{"id": "a.fails", "reason": "F1"}, {"id": "b.passes", "reason": "x"}], False, ("v1",), EXIT_FAILED, "stale"),
        ([{"id": "a.fails", "reason": "F1"}, {"id": "b.passes", "reason": "x"}], True, ("v1",), EXIT_OK, ""),
        ([{"id": "a.fails", "reason": "F1", "expires": "2026-12-04"}], False, ("v1",), EXIT_FAILED, "expiry"),
        ([{"id": "a.fails", "reason": "F1", "expires": "2026-12-05"}], False, ("v1",), EXIT_OK, ""),  # expires today
    ],
    ids=["new", "baselined", "gate-v1", "stale", "allow-stale", "expired", "expires-today"],
)
def test_truth_table(tmp_path: Path, entries, allow_stale, versions, code, why) -> None:
    result = gate(tmp_path, *entries, allow_stale=allow_stale, versions=versions)
    assert result["exit_code"] == code, result["reasons"]
    assert why in " ".join(result["reasons"])
    assert result["should_failures"] == ["c.should-fails"]  # SHOULD failures never gate


def test_a_bad_baseline_is_one_line_naming_the_problem(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match=r"entries/0: 'reason' is a required property"):
        Baseline.load(baseline_file(tmp_path, {"id": "a.fails"}))
    with pytest.raises(OptionError, match=r"entries/0/expires: 'soon' is not a 'date'"):
        Baseline.load(baseline_file(tmp_path, {"id": "a.fails", "reason": "x", "expires": "soon"}))
    with pytest.raises(OptionError, match="cannot read it"):
        Baseline.load(tmp_path / "missing.yaml")


def test_vacuous_reasons() -> None:
    report = {
        "requirements": [requirement("a.x", "skip") | {"reason": "needs a key"}, requirement("b.y", "pass")],
        "requests": 10,
        "ok_responses": 0,
        "contract": {"edition": "1.7"},
        "mode": "isolated",
    }
    reasons = vacuous_reasons(report, 30.0, expects=5, whole_suite=True)
    assert [r.split(" ")[0:2] for r in reasons] == [["1", "of"], ["no", "request"], ["only", "1"]]
    # skips the mode chose do not count; a selection (-k/-m) is not held to the edition's floor
    report["requirements"][0]["reason"] = "mode read-only: ..."
    report["ok_responses"] = 3
    assert vacuous_reasons(report, 30.0, expects=5, whole_suite=False) == []


def test_compare_marks_what_changed() -> None:
    before = {
        "run_id": "r1",
        "target": {"release": "1.7.3"},
        "requirements": [requirement("a.x", "pass"), requirement("b.y", "fail"), requirement("c.z", "pass")],
        "endpoints": {"a": {"outcome": "pass"}},
    }
    now = {
        "target": {"release": "1.13.0"},
        "requirements": [requirement("a.x", "fail"), requirement("b.y", "pass"), requirement("d.w", "pass")],
        "endpoints": {"a": {"outcome": "fail"}, "d": {"outcome": "pass"}},
    }
    c = compare(now, before, Path("prev/report.json"))
    assert (c["newly_failing"], c["newly_passing"], c["new_requirements"]) == (["a.x"], ["b.y"], ["d.w"])
    assert (c["new_endpoints"], c["no_longer_run"], c["release_changed"]) == (["d"], ["c.z"], True)
    assert [r.get("change") for r in now["requirements"]] == ["newly failing", "newly passing", "new"]


def test_the_committed_baseline_is_made_from_the_findings_of_1_13() -> None:
    assert (REPO / "ci" / "baseline.yaml").read_text() == baseline_yaml("1.13.0"), (
        "ci/baseline.yaml is out of date: python -m conformance.report.known 1.13.0 > ci/baseline.yaml"
    )
    committed, known = Baseline.load(REPO / "ci" / "baseline.yaml"), Baseline.known("1.13.0")
    assert set(committed.entries) == set(known.entries)
    assert {e.id for e in committed.entries.values() if e.may_pass} == {
        e.id for e in known.entries.values() if e.may_pass
    }


def test_known_deviations_are_parsed_with_their_qualifiers() -> None:
    found = {(k.id, k.release): k for k in all_known()}
    assert found[("projects.delete.example", "1.13.0")].may_pass == "intermittent, only with sqlite"
    assert found[("base.config.auth-required", "1.13.0")].may_pass is None
    assert found[("run.task-status.example", "1.1.1")].finding == "F2"
    with pytest.raises(ValueError, match="unknown qualifier"):
        parse("## F9. x\n\n**Requirement**: `a.b` on 1.0.0 (flaky)\n")
    # Post releases are releases too (1.0.19.post2 is the newest 1.0), alone or among others.
    posts = parse("## F3. y (1.0.19.post2)\n\n**Requirement**: `c.d` on 1.0.19.post2, 1.2.0 (intermittent)\n")
    assert [(k.release, k.title, k.may_pass) for k in posts] == [
        ("1.0.19.post2", "y", "intermittent"),
        ("1.2.0", "y", "intermittent"),
    ]


# Against a real Langflow ----------------------------------------------------------------------


def run_gate(tmp_path: Path, server: Server, *args: str, select: str = f"{FAILING} or {PASSING}"):
    assert server.api_key
    tmp_path.mkdir(parents=True, exist_ok=True)
    return run_suite(tmp_path, "--server", server.url, "--api-key", server.api_key, "-k", select, *args)


@pytest.mark.real_langflow
def test_baseline_truth_table_on_1_13(tmp_path: Path, langflow_113: Server) -> None:
    cases = [
        ("baselined failure", [{"id": FAILING, "reason": "F1"}], [], EXIT_OK),
        ("new failure", [{"id": "other.requirement", "reason": "x"}], [], EXIT_FAILED),
        ("stale", [{"id": FAILING, "reason": "F1"}, {"id": PASSING, "reason": "x"}], [], EXIT_FAILED),
        ("--allow-stale", [{"id": FAILING, "reason": "F1"}, {"id": PASSING, "reason": "x"}], ["--allow-stale"], 0),
        ("expired", [{"id": FAILING, "reason": "F1", "expires": "2026-01-01"}], [], EXIT_FAILED),
    ]
    for name, entries, extra, code in cases:
        case_dir = tmp_path / name.strip("-").replace(" ", "-")
        case_dir.mkdir()
        result = run_gate(case_dir, langflow_113, "--baseline", str(baseline_file(case_dir, *entries)), *extra)
        assert result.code == code, f"{name}: exit {result.code}\n{result.output[-2000:]}"
        report = result.report()
        assert report["gate"]["exit_code"] == code == report["exit_status"], name
        outcomes = {r["id"]: r["outcome"] for r in report["requirements"]}
        assert (outcomes[FAILING], outcomes[PASSING]) == ("fail", "pass"), name
        assert "gate         " + ("PASS" if code == 0 else "FAIL") in result.output, name


@pytest.mark.real_langflow
def test_update_baseline_then_gate_on_it(tmp_path: Path, langflow_113: Server) -> None:
    written = tmp_path / "known.yaml"
    first = run_gate(tmp_path / "a", langflow_113, "--update-baseline", str(written))
    assert first.code == EXIT_OK, first.output[-2000:]  # judged by the baseline it wrote
    assert [e.id for e in Baseline.load(written).entries.values()] == [FAILING]
    second = run_gate(tmp_path / "b", langflow_113, "--baseline", str(written))
    assert second.code == EXIT_OK, second.output[-2000:]
    assert second.report()["gate"]["baselined"] == [FAILING]


@pytest.mark.real_langflow
def test_vacuous_run_fails_with_the_reason(tmp_path: Path, langflow_113: Server) -> None:
    result = run_gate(tmp_path, langflow_113, select=f"{SKIPPED} or {PASSING}")
    assert result.code == EXIT_VACUOUS, result.output[-2000:]
    assert "vacuous run: 1 of 2 MUST requirements (50%) were skipped, more than --max-skip-share 30%" in result.output
    # the same selection passes when the operator allows that share
    allowed = run_gate(tmp_path / "allowed", langflow_113, "--max-skip-share", "60", select=f"{SKIPPED} or {PASSING}")
    assert allowed.code == EXIT_OK, allowed.output[-2000:]


@pytest.mark.real_langflow
def test_compare_with_a_previous_run(tmp_path: Path, langflow_113: Server) -> None:
    previous = run_gate(tmp_path / "a", langflow_113, select=PASSING)
    assert previous.code == EXIT_OK, previous.output[-2000:]
    path = sorted((tmp_path / "a" / "reports").glob("*/report.json"))[-1]
    result = run_gate(tmp_path / "b", langflow_113, "--compare", str(path))
    comparison = result.report()["comparison"]
    assert comparison["newly_failing"] == [FAILING] and comparison["new_requirements"] == []
    assert comparison["release_changed"] is False
    assert "newly failing 1" in result.output
    directory = tmp_path / "b" / "reports"
    views = {p.name: p.read_text() for p in sorted(directory.glob("*/*")) if p.suffix in (".md", ".html")}
    assert all("newly failing" in text.lower() for text in views.values()), list(views)


def test_bad_gate_inputs_exit_2_with_one_line(tmp_path: Path) -> None:
    for args, message in [
        (["--baseline", str(tmp_path / "none.yaml")], "--baseline"),
        (["--compare", str(tmp_path / "none.json")], "--compare"),
        (["--gate", "v3"], "--gate takes API versions"),
    ]:
        result = run_suite(tmp_path, "--server", "http://127.0.0.1:9", *args)
        assert result.code == EXIT_USAGE, result.output[-1000:]
        assert message in result.output


def test_report_schema_knows_every_requirement_kind() -> None:
    import json

    from conformance.requirements.derive import KINDS

    from .conftest import REPORT_SCHEMA

    schema = json.loads(REPORT_SCHEMA.read_text())
    kinds = schema["properties"]["requirements"]["items"]["properties"]["kind"]["enum"]
    assert set(kinds) == set(KINDS) - {"readonly"}  # readonly marks a subset; it is no kind of its own
