"""Tenant isolation on a real Langflow 1.13.0, run as a platform team would run it alone
(`-m isolation` with superuser credentials): an isolation requirement for every id-taking operation
and every listed resource kind the catalog and resources.yaml derive for the release, each run (none
skipped), only written-up failures, and the server left as it was — the throwaway owner and peer
users gone with everything they made."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.contract import contract_root, load_contract
from conformance.report.known import known_for
from conformance.requirements.derive import Context, requirements_for
from conformance.run.kinds import ResourceKinds

from .conftest import Server, run_suite
from .snapshot import assert_untouched, snapshot, wait_for_mcp_setup

pytestmark = pytest.mark.real_langflow
RELEASE = "1.13.0"


def test_isolation_alone_covers_every_kind_and_leaves_the_server_as_it_was(
    tmp_path: Path, langflow_113_faults: Server
) -> None:
    server = langflow_113_faults
    assert server.api_key
    wait_for_mcp_setup(server.url, server.api_key)
    before = snapshot(server.url, server.api_key)
    login = ["--username", server.langflow.username, f"--password={server.langflow.password}"]
    result = run_suite(tmp_path, "--server", server.url, *login, "-m", "isolation")
    assert result.code in (0, 1), result.output[-3000:]
    report = result.report()
    isolation = {r["id"]: r for r in report["requirements"] if r["kind"] == "isolation"}
    assert isolation
    # Each ran: the embedded server has every feature on, and the run made its two users.
    assert not [(i, r.get("reason")) for i, r in isolation.items() if r["outcome"] not in ("pass", "fail")]
    known = known_for(RELEASE)
    assert not [i for i, r in isolation.items() if r["outcome"] == "fail" and i not in known]
    # Every id-taking operation and listed kind the catalog and resources.yaml derive for the release.
    contract = load_contract().select(RELEASE)
    kinds = ResourceKinds.load(contract_root() / "resources.yaml")
    derived = Context(contract, "isolated", True, kinds, login=True, profile=report["target"]["profile"])
    expected = {r.id for r in requirements_for("isolation", derived)}
    assert set(isolation) == expected
    listed = {i.split(".")[1] for i in expected if i.endswith(".isolation-list")}
    assert listed == {"api_key", "file", "file_v1", "flow", "message", "project", "variable"}
    assert_untouched(server.url, server.api_key, before)
