"""The property layer finds bugs: against a fake Langflow (tests/fake_langflow.py) it is green while
the fake is healthy, and each seeded bug trips the check it is meant to, within the default budget
and seed. Every check the layer enables has such a bug."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.requirements.generation import ENABLED_CHECKS
from conformance.run.options import DEFAULT_SEED

from .conftest import Result, run_suite
from .fake_langflow import API_KEY, BUGS, REQUIREMENTS, Fake, serving

SELECTION = " or ".join(REQUIREMENTS)


def run_property(tmp_path: Path, bugs: set[str], *extra: str) -> Result:
    tmp_path.mkdir(parents=True, exist_ok=True)
    with serving(bugs) as url:
        return run_suite(tmp_path, "--server", url, "--api-key", API_KEY, "-m", "property", "-k", SELECTION, *extra)


def outcomes(result: Result) -> dict[str, dict]:
    return {r["id"]: r for r in result.report()["requirements"]}


def test_every_enabled_check_has_a_seeded_bug() -> None:
    assert {check for _, check, _ in BUGS.values()} == set(ENABLED_CHECKS)


def test_the_healthy_fake_is_green(tmp_path: Path) -> None:
    result = run_property(tmp_path, set())
    assert result.code == 0, result.output[-3000:]
    found = outcomes(result)
    assert sorted(found) == REQUIREMENTS
    assert all(r["outcome"] == "pass" and r["property"]["sent"] > 0 for r in found.values()), found
    report = result.report()
    assert report["property"]["seed"] == int(DEFAULT_SEED)
    assert report["cleanup_failures"] == []
    assert f"seed {DEFAULT_SEED}" in result.output


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_each_seeded_bug_is_found(tmp_path: Path, bug: str) -> None:
    _, check, requirement = BUGS[bug]
    result = run_property(tmp_path, {bug})
    assert result.code == 1, result.output[-3000:]
    failed = outcomes(result)[requirement]
    assert failed["outcome"] == "fail", failed
    reproduce = {r["check"]: r for r in failed["reproduce"]}
    assert check in reproduce, failed["message"]
    # The reproduction: a curl command against the fake, the seed, and no secret.
    assert reproduce[check]["curl"].startswith("curl -X ")
    assert reproduce[check]["seed"] == int(DEFAULT_SEED)
    assert f"--seed {DEFAULT_SEED}" in failed["message"] and "curl -X" in failed["message"]
    assert f"[{check}]" in result.output and "Reproduce with" in result.output
    assert API_KEY not in result.output + result.files_text()


def test_the_seed_is_an_option_and_a_run_repeats_itself(tmp_path: Path) -> None:
    first = run_property(tmp_path / "a", set(), "--seed", "7", "--examples", "2")
    second = run_property(tmp_path / "b", set(), "--seed", "7", "--examples", "2")
    assert first.code == second.code == 0, first.output[-2000:]
    assert first.report()["property"] == {"seed": 7, "examples": 2, "time_per_requirement_s": 0.0}
    sent = {i: r["property"]["sent"] for i, r in outcomes(first).items()}
    assert sent == {i: r["property"]["sent"] for i, r in outcomes(second).items()}
    assert all(0 < n <= 2 for i, n in sent.items() if not i.endswith(".stateful")), sent


def test_a_time_budget_keeps_generating_batches(tmp_path: Path) -> None:
    result = run_property(tmp_path, {"ignores-pagination"}, "-k", "transactions", "--property-time", "2")
    assert result.code == 1, result.output[-2000:]
    failed = outcomes(result)["monitor.transactions-list.property-positive"]
    assert failed["property"]["batches"] > 1  # successive seeds until 2 s were spent


def test_deletes_a_busy_server_refused_are_reclaimed_at_the_end(tmp_path: Path) -> None:
    """Finding F15: 1.13.0 answers project deletes with 500 while another writer holds sqlite's lock.
    What the ledger's retries could not delete, the run finds again by its name prefix at the end."""
    fake = Fake(busy_deletes_s=9.0)  # longer than the ledger's retries (7 s), shorter than the reclaim's wait
    with serving(fake=fake) as url:
        result = run_suite(tmp_path, "--server", url, "--api-key", API_KEY, "-k", "projects.create.property-positive")
    assert "could not delete project" in result.output  # the ledger gave up on the first try...
    assert "cleanup: deleted project lfc-" in result.output  # ...the run's reclaim did not
    assert result.report()["cleanup_failures"] == []
    assert result.code == 0, result.output[-2000:]
    assert len(fake.deleted_projects) >= 1 and fake.projects == {}
