"""The suite's power to find faults: a real Langflow 1.13.0 behind the fault proxy (tests/faults), the
suite run once clean and once per contract fault; every fault must fail a requirement the clean run
passes (mutation score 100 %). A fault the suite cannot see is a missing requirement: add it to the
contract, do not drop the fault. Whatever fails, no run prints or writes a secret (Run.leaks)."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from conformance.contract import load_contract

from .conftest import REPO, Server, run_suite
from .faults.mutation import Credentials, Run, detected, run_suite_via, selection
from .faults.proxy import (
    HEADER_ACTIONS,
    REQUEST_ACTIONS,
    RESET,
    RESPONSE_ACTIONS,
    TENANCY_ACTIONS,
    Fault,
    load_faults,
)
from .snapshot import assert_untouched, snapshot

CONTRACT_FAULTS = [f for f in load_faults() if f.kind == "contract"]
PARALLEL_RUNS = 2  # two suites at once through two proxies: the server has the cores to spare


def test_faults_are_many_and_cover_every_endpoint_group() -> None:
    assert len(CONTRACT_FAULTS) >= 25
    groups = {e.group for e in load_contract().select("1.13.0").endpoints}
    assert {f.group for f in CONTRACT_FAULTS} >= groups, groups - {f.group for f in CONTRACT_FAULTS}


def test_every_fault_names_catalog_endpoints_and_a_known_action() -> None:
    endpoints = {e.id for e in load_contract().select("1.13.0").endpoints}
    actions = {*REQUEST_ACTIONS, *HEADER_ACTIONS, *RESPONSE_ACTIONS, RESET}
    for fault in load_faults():
        assert set(fault.endpoints) <= endpoints, fault.id
        assert fault.action in actions, fault.id
        assert fault.run_with in ("login", "api-key"), fault.id


@pytest.mark.real_langflow
def test_every_contract_fault_fails_a_requirement_the_clean_run_passes(
    tmp_path: Path, langflow_113_faults: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    server = langflow_113_faults
    assert server.api_key
    before = snapshot(server.url, server.api_key)
    credentials = Credentials(server.langflow.username, server.langflow.password, server.api_key)
    started = time.monotonic()
    clean = run_suite_via(server.url, credentials, None, cwd=tmp_path)
    assert clean.code in (0, 1), clean.output[-3000:]
    # The proxy is transparent: the clean run fails only where 1.13.0 itself deviates (ci/baseline.yaml).
    known = {e["id"] for e in yaml.safe_load((REPO / "ci" / "baseline.yaml").read_text())["entries"]}
    unexplained = clean.unexplained(known)
    # A request left unanswered past the run's --timeout is no answer the proxy changed (a loaded 1.13.0 on
    # SQLite stalls now and then, on a create for one; F37). Such a requirement is said here and, not passing
    # clean, credits no fault (detected() counts only clean passes); an answer that differs still fails.
    unanswered = sorted(r for r in unexplained if clean.unanswered(r))
    if unanswered:
        with capsys.disabled():
            print(
                "\nclean run, unanswered (not counted): " + "; ".join(f"{r}: {clean.messages[r]}" for r in unanswered)
            )
    answered = unexplained - set(unanswered)
    assert not answered, "the clean run through the proxy fails where a direct run does not: " + "; ".join(
        f"{r}: {clean.messages[r][:300]}" for r in sorted(answered)
    )
    assert not clean.leaks(credentials.secrets()), clean.leaks(credentials.secrets())

    def one(fault: Fault) -> tuple[Fault, Run, list[str]]:
        run = run_suite_via(server.url, credentials, fault, *selection(fault), cwd=tmp_path)
        return fault, run, detected(clean, run, fault)

    with ThreadPoolExecutor(PARALLEL_RUNS) as pool:
        results = list(pool.map(one, CONTRACT_FAULTS))
    missed = [f"{fault.id} ({fault.what})" for fault, _, found in results if not found]
    # A tenancy fault is seen by an isolation requirement, not only by what it breaks on the way.
    missed += [
        f"{fault.id} (no isolation requirement failed: {', '.join(found[:3])})"
        for fault, _, found in results
        if found and fault.action in TENANCY_ACTIONS and not any(".isolation-" in r for r in found)
    ]
    with capsys.disabled():
        print(f"\nmutation score {len(results) - len(missed)}/{len(results)} in {time.monotonic() - started:.0f} s")
        for fault, run, found in results:
            print(f"  {fault.id:38} {run.wall_s:5.1f} s  {', '.join(found[:3]) or 'MISSED'}")
        print("  faults per group:", dict(sorted(Counter(f.group for f in CONTRACT_FAULTS).items())))
    assert not missed, f"faults the suite did not see: {missed}"
    leaks = {fault.id: run.leaks(credentials.secrets()) for fault, run, _ in results}
    leaked = {k: v for k, v in leaks.items() if v}
    assert not leaked, f"secrets in the runs' output or report files: {leaked}"
    # Some faults made the run's own deletes no-ops: one --sweep leaves the server as it was.
    swept = run_suite(tmp_path / "sweep", "--server", server.url, "--api-key", server.api_key, "--sweep")
    assert swept.code == 0, swept.output[-2000:]
    assert_untouched(server.url, server.api_key, before)
